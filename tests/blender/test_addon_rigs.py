# SPDX-License-Identifier: GPL-3.0-or-later
"""Real mocap → retarget → resample 20→30 fps → keys on SMPL, Mixamo-like (cm, A-pose) and Rigify-like rigs.

Tolerances: evaluated world heads equal numpy FK of the written animation within 1e-5 (world units);
pelvis equals the model pelvis within 1 mm; mean bone-direction error vs the model skeleton < 15 deg
(bone lengths differ between rigs, so positions of other joints differ by design and are reported).
"""
import pytest

from harness import requires_bpy, scenario_once


@pytest.fixture
def rigs(bpy_version, tmp_path_factory):
    return scenario_once("apply_rigs", bpy_version, tmp_path_factory)


@requires_bpy
@pytest.mark.parametrize("kind", ["smpl", "mixamo", "rigify"])
def test_evaluated_pose_matches_retarget(rigs, kind):
    r = rigs[kind]
    print(kind, {k: v for k, v in r.items() if isinstance(v, float)})
    assert r["fk_err"] < 1e-5
    assert r["pelvis_dist_max_m"] < 1e-3
    assert r["dir_err_mean_deg"] < 15.0


@requires_bpy
@pytest.mark.parametrize("kind", ["smpl", "mixamo", "rigify"])
def test_bake_to_nla_and_reload_keep_pose(rigs, kind):
    r = rigs[kind]
    assert r["nla_err"] < 1e-6, "NLA strip must play back the same pose as the active action"
    assert r["reload_err"] == 0.0
    assert r["tracks"] == [f"mocap on {kind}"] and r["active_action"] is None
