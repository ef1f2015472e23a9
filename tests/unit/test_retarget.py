"""Acceptance tests of issue 3 (retargeting) over real CMU clips from ../shared/data."""
from __future__ import annotations


import numpy as np
import pytest

from motionlcm_core.motion.skeleton import JOINT_NAMES
from motionlcm_core.retarget import (BoneMap, cleanup_feet, foot_sliding, pose_world_matrices, retarget,
                                     rig_positions_to_joints)
from motionlcm_core.retarget.inverse import MODEL_TO_ARMATURE
from motionlcm_core.retarget.rotations import twist_angle_about_y
from motionlcm_core.retarget.solve import AIM_CHILD, fit_rest_offsets
from tests.unit import rigs
from tests.unit.conftest import val_clips

CLIPS = ("cmu_07_03", "cmu_127_01", "aclstm_indian_13")


@pytest.fixture(scope="module")
def clips() -> dict[str, np.ndarray]:
    out = val_clips(CLIPS, 100)
    assert set(out) == set(CLIPS), f"missing val clips: {set(CLIPS) - set(out)}"
    return out


def direction_errors(rig, bm, anim, joints, per_bone: bool = False):
    """(max angle error deg over mapped bones, max frame-to-frame twist change deg); with ``per_bone`` also
    the twist change ``[T-1]`` (deg) per mapped SMPL joint name."""
    w = pose_world_matrices(rig, anim)
    worst = 0.0
    for j, name in enumerate(JOINT_NAMES):
        c = AIM_CHILD[j]
        if name not in bm.bones or c < 0:
            continue
        k = rig.index[bm[name]]
        child = bm.bones.get(JOINT_NAMES[c])
        v = w[:, rig.index[child], :3, 3] - w[:, k, :3, 3] if child else w[:, k, :3, 1]
        ref = (joints[:, c] - joints[:, j]) @ MODEL_TO_ARMATURE.T
        cos = np.sum(v * ref, -1) / np.linalg.norm(v, axis=-1) / np.linalg.norm(ref, axis=-1)
        worst = max(worst, float(np.degrees(np.arccos(np.clip(cos, -1, 1))).max()))
    per = {}
    for j, b in bm.bones.items():
        r = w[:, rig.index[b], :3, :3]
        per[j] = np.degrees(np.abs(twist_angle_about_y(np.swapaxes(r[:-1], -1, -2) @ r[1:])))
    twist = max(float(v.max()) for v in per.values())
    return (worst, twist, per) if per_bone else (worst, twist)


@pytest.mark.parametrize("rig_name", ["smpl_tpose", "mixamo_apose_cm", "rigify_split3"])
def test_fk_reproduces_directions(clips, rig_name):
    rig, bm = {
        "smpl_tpose": lambda: (rigs.smpl_tpose_rig(), BoneMap.preset("smplx")),
        "mixamo_apose_cm": lambda: (rigs.mixamo_apose_rig(unit=100.0), BoneMap.preset("mixamo")),
        "rigify_split3": lambda: (rigs.rigify_deform_rig(3), rigs.rigify_bone_map(3)),
    }[rig_name]()
    for cid, joints in clips.items():
        anim = retarget(joints, rig, bm, foot_cleanup=False)
        err, twist = direction_errors(rig, bm, anim, joints)
        print(f"{rig_name} {cid}: max angle error {err:.2e} deg, max twist change {twist:.1f} deg/frame")
        assert err < 1.0
        assert twist < 45.0, f"twist flip on {cid}"


def test_round_trip_smpl_rig(clips):
    for cid, joints in clips.items():
        rig, bm = rigs.smpl_tpose_rig(fit_rest_offsets(joints)), BoneMap.preset("smplx")
        anim = retarget(joints, rig, bm, foot_cleanup=False)
        w = pose_world_matrices(rig, anim)
        back, mask = rig_positions_to_joints({b: w[:, rig.index[b], :3, 3] for b in bm.bones.values()},
                                             rig, bm, scale=anim.scale)
        err = np.linalg.norm(back - joints, axis=-1)
        print(f"round trip {cid}: mean {err.mean() * 1e3:.2f} mm, max {err.max() * 1e3:.2f} mm")
        assert mask.all() and err.mean() < 5e-3
        assert np.abs(back[:, 0] - joints[:, 0]).max() < 1e-6     # the pelvis is exact


def test_root_translation_and_in_place(clips):
    joints = clips["cmu_07_03"]
    rig, bm = rigs.mixamo_apose_rig(unit=100.0), BoneMap.preset("mixamo")
    full = retarget(joints, rig, bm, foot_cleanup=False)
    w = pose_world_matrices(rig, full)[:, rig.index["mixamorig:Hips"], :3, 3]
    expect = joints[:, 0] @ MODEL_TO_ARMATURE.T * full.scale
    assert np.abs(w - expect).max() < 1e-6 and 100 < full.scale < 140     # cm rig, walks along -Y
    assert w[-1, 1] - w[0, 1] < -50.0
    still = retarget(joints, rig, bm, root_motion="in_place", foot_cleanup=False)
    ws = pose_world_matrices(rig, still)[:, rig.index["mixamorig:Hips"], :3, 3]
    assert np.abs(ws[:, :2] - ws[0, :2]).max() < 1e-6 and np.allclose(ws[:, 2], w[:, 2])


def test_foot_sliding_lower_after_cleanup(clips):
    for cid, joints in clips.items():
        before, after = foot_sliding(joints), foot_sliding(cleanup_feet(joints))
        pops = np.abs(np.diff(cleanup_feet(joints), axis=0)).max() - np.abs(np.diff(joints, axis=0)).max()
        print(f"foot sliding {cid}: {before:.3f} -> {after:.3f} m/s; extra max step {pops * 1e3:.1f} mm")
        assert after < before or before < 0.005
        assert pops < 0.03


def test_partial_rigs_work(clips):
    joints = clips["cmu_07_03"][:20]
    drop = ("left_foot", "right_foot", "left_collar", "right_collar", "head")
    rig = rigs.smpl_tpose_rig(drop=drop)
    bm = BoneMap.detect(rig)
    assert set(bm.unmapped) == set(drop)
    err, _ = direction_errors(rig, bm, retarget(joints, rig, bm, foot_cleanup=False), joints)
    assert err < 1.0
    anim = retarget(joints, rigs.mixamo_apose_rig(), BoneMap.detect(rigs.mixamo_apose_rig()))
    assert "mixamorig:LeftHandIndex1" not in anim.rotations and "mixamorig:Spine" in anim.rotations


@pytest.mark.parametrize("bad, match", [
    (np.full((5, 22, 3), np.nan), "NaN"), (np.zeros((5, 21, 3)), r"\[T, 22, 3\]"), (np.zeros((5, 22)), "shape")])
def test_bad_joints(bad, match):
    with pytest.raises(ValueError, match=match):
        retarget(bad, rigs.smpl_tpose_rig(), BoneMap.preset("smplx"))


def test_rig_missing_legs_names_them(clips):
    rig = rigs.smpl_tpose_rig(drop=("left_knee", "left_ankle", "left_foot"))
    with pytest.raises(ValueError, match="left_knee"):
        retarget(clips["cmu_07_03"][:5], rig, BoneMap.detect(rig))


def test_zero_length_bone_rejected():
    rig = rigs.smpl_tpose_rig()
    with pytest.raises(ValueError, match="zero-length"):
        type(rig)(rig.names, rig.parents, rig.rest_matrices, np.where(np.arange(22) == 4, 0.0, rig.lengths))
