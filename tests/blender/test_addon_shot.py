# SPDX-License-Identifier: GPL-3.0-or-later
"""Shot tools in Blender (issue 17): the hips follow a curve (and an edited curve on Regenerate), a loop is
one cyclic action whose last frame is its first, a timeline is one action; Mixamo-like and Rigify-like rigs."""
import pytest

from harness import requires_bpy, scenario_once


@pytest.fixture
def flow(bpy_version, tmp_path_factory):
    return scenario_once("shot_flow", bpy_version, tmp_path_factory, timeout=600)


@requires_bpy
@pytest.mark.parametrize("kind", ["mixamo", "rigify"])
def test_hips_follow_the_curve(flow, kind):
    r = flow[kind]["path"]
    print(kind, r)
    for case in ("first", "edited"):
        assert r[case]["max_err_m"] < 0.05 and r[case]["hips_height_range_m"] > 0.0
    assert r["first"]["end"] != pytest.approx(r["edited"]["end"], abs=0.1)      # Regenerate followed the edit
    assert r["edited"]["end"] == pytest.approx(r["edited"]["curve_end"], abs=0.05)


@requires_bpy
@pytest.mark.parametrize("kind", ["mixamo", "rigify"])
def test_loop_is_cyclic_and_closed(flow, kind):
    r = flow[kind]["loop"]
    print(kind, r)
    assert r["cyclic"] and r["curves"] > 0
    assert r["pose_gap_m"] < 0.01 and r["hips_drift_m"] < 0.01


@requires_bpy
@pytest.mark.parametrize("kind", ["mixamo", "rigify"])
def test_timeline_is_one_action(flow, kind):
    r = flow[kind]["timeline"]
    assert r["new_actions"] == 1 and r["segments"] == 3 and r["segment_starts"] == [0, 40, 80]
    assert r["last_key"] == 1 + round(129 * 1.5) and r["prompt"] == "a person walks forward"
    # Regenerate segment: same action, the middle changes, frames far from its seams keep their pose (the joints
    # exactly; on the rig a planted foot whose contact runs on into the new segment may move by millimetres)
    assert r["redo_same_action"] and r["redo_recipe"] == 1
    assert r["redo_middle_change_m"] > 0.01 and r["redo_far_change_m"] < 0.01
    assert "durations of segments [1] changed" in r["redo_changed_durations"]
    # optionally one NLA strip per segment: three strips on one track, end to end, the action's parts in order
    strips = r["strips"]
    assert [s[0].split(":")[0] for s in strips] == ["1", "2", "3"] and not r["active_after_strips"]
    assert [s[1] for s in strips] == [1, 61, 121] and strips[-1][2] == 1 + round(129 * 1.5)
    assert all(a[2] == b[1] for a, b in zip(strips, strips[1:]))


@requires_bpy
def test_bad_shot_input_is_refused_before_work(flow):
    assert "pick the path curve" in flow["no_curve"]
    assert "cannot be combined" in flow["loop_with_pins"]
