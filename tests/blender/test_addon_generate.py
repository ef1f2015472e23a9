# SPDX-License-Identifier: GPL-3.0-or-later
"""Generate through the real worker thread and pipeline (tiny random-weights checkpoint written by the test).

Tolerances: evaluated world heads vs numpy FK of the retargeted joints < 1e-5 (world units);
pins on the hips and right hand of the Mixamo-like rig within 1 cm in world space at their frames (met by
the pin IK after retargeting).
"""
import pytest

from harness import requires_bpy, scenario_once


@pytest.fixture
def flow(bpy_version, tmp_path_factory):
    return scenario_once("generate_flow", bpy_version, tmp_path_factory, timeout=300)


@requires_bpy
@pytest.mark.parametrize("kind", ["smpl", "mixamo", "rigify"])
def test_generate_onto_rig(flow, kind):
    r = flow[kind]
    print(kind, r)
    assert r["fk_err"] < 1e-5
    assert r["frames"] == 50 and r["keys_last_frame"] == 1 + round(49 * 1.5)   # 2.5 s, 20 fps → 30 fps


@requires_bpy
def test_regenerate_in_place(flow):
    r = flow["regenerate"]
    assert r == {"same_action": True, "same_slot": True, "keys_changed": True, "seed_changed": True,
                 "other_untouched": True, "history": 1, "restored_equal": True}


@requires_bpy
def test_variations(flow):
    assert [n.rsplit(" ", 1)[1] for n in flow["variations"]] == ["v1", "v2"]


@requires_bpy
def test_pins_met(flow):
    """Issue 6: pins on the right hand and hips of a Mixamo-like rig are met within 1 cm in world space."""
    r = flow["pins"]
    print("pin distances (m, world):", r)
    assert r["n_pins"] == 4 and r["recipe_pins"] == 4
    for key in ("Hips@16", "Hips@31", "RightHand@16", "RightHand@31"):
        assert r[key] < 0.01, (key, r[key])
    assert r["pin_error_model"]["final"] < 0.01
    assert "out of reach" not in r["status"]
    assert r["default_passes"]["exact"] is True and r["default_passes"]["refine_strength"] == pytest.approx(0.15)
    assert r["off_passes"] == {"refine_steps": 0, "exact": False}
    assert r["off_recipe"]["refine"] is None and r["off_recipe"]["exact"] is None
    assert r["tuned_passes"]["refine_strength"] == pytest.approx(0.3) and 1 <= r["tuned_passes"]["refine_steps"] <= 5
    assert r["unreachable_residual_m"] > 1.0 and "A pin is out of reach" in r["unreachable_status"]
