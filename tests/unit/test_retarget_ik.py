"""Pin IK after retargeting (issue 6, `animate_rig`): pins met on rigs whose proportions differ from the model's."""
from __future__ import annotations


import numpy as np
import pytest

from motionlcm_core.motion.skeleton import JOINT_NAMES
from motionlcm_core.retarget import (BoneMap, model_to_armature, pose_world_matrices, retarget,
                                     rig_positions_to_joints)
from motionlcm_core.retarget.animate import animate_rig
from motionlcm_core.retarget.ik import PinnedAnimation, solve_pins
from motionlcm_core.retarget.inverse import SMPL_REFERENCE_LEG_LENGTH
from tests.unit import rigs
from tests.unit.conftest import load_val_clip

RIGS = {"mixamo_apose_cm": lambda: (rigs.mixamo_apose_rig(unit=100.0), BoneMap.preset("mixamo")),
        "rigify_split3": lambda: (rigs.rigify_deform_rig(3), rigs.rigify_bone_map(3))}
#: (frame, SMPL joint, offset in metres from the clip's own joint position)
PINS = ((15, 21, (0.05, 0.08, 0.0)), (30, 20, (0.0, 0.05, 0.0)), (35, 8, (0.0, 0.0, 0.0)),
        (50, 10, (0.03, 0.0, 0.03)), (20, 0, (0.0, 0.02, 0.0)), (55, 21, (0.0, 0.05, 0.0)))


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return load_val_clip("cmu_07_03", 100)


def make_pins(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pos, mask = np.zeros_like(joints), np.zeros(joints.shape[:2], dtype=bool)
    for f, j, off in PINS:
        pos[f, j], mask[f, j] = joints[f, j] + off, True
    return pos, mask


def heads(rig, bm, anim) -> np.ndarray:
    """Armature-space heads ``[T, 22, 3]`` of the mapped bones (NaN where unmapped)."""
    w = pose_world_matrices(rig, anim)
    out = np.full((anim.num_frames, 22, 3), np.nan)
    for j, b in bm.bones.items():
        out[:, JOINT_NAMES.index(j)] = w[:, rig.index[b], :3, 3]
    return out


@pytest.mark.parametrize("rig_name", list(RIGS))
def test_pins_met_on_other_proportions(clip, rig_name):
    rig, bm = RIGS[rig_name]()
    pos, mask = make_pins(clip)
    kw = dict(foot_cleanup=False, smpl_leg=SMPL_REFERENCE_LEG_LENGTH)
    plain = retarget(clip, rig, bm, **kw)
    pinned = animate_rig(clip, rig, bm, pins=(pos, mask), **kw)
    assert isinstance(pinned, PinnedAnimation)
    target = model_to_armature(pos, pinned.scale)
    before = np.linalg.norm(heads(rig, bm, plain) - target, axis=-1)[mask] / plain.scale
    after = np.linalg.norm(heads(rig, bm, pinned) - target, axis=-1)[mask] / pinned.scale
    print(f"{rig_name}: pin error without IK {np.round(before * 100, 1)} cm, with IK max {after.max() * 1e3:.2e} mm")
    assert before.max() > 0.03                     # the proportions really differ
    assert after.max() < 1e-3
    assert pinned.max_residual / pinned.scale < 1e-3
    for q in pinned.rotations.values():
        assert np.allclose(np.linalg.norm(q, axis=-1), 1.0) and (np.sum(q[1:] * q[:-1], -1) > 0).all()


@pytest.mark.parametrize("rig_name", list(RIGS))
def test_no_pops_and_untouched_far_away(clip, rig_name):
    rig, bm = RIGS[rig_name]()
    pos, mask = make_pins(clip)
    kw = dict(foot_cleanup=False, smpl_leg=SMPL_REFERENCE_LEG_LENGTH)
    plain, pinned = retarget(clip, rig, bm, **kw), animate_rig(clip, rig, bm, pins=(pos, mask), **kw)
    h0, h1 = heads(rig, bm, plain) / plain.scale, heads(rig, bm, pinned) / plain.scale
    for j in (0, 8, 10, 20, 21):
        acc0 = np.linalg.norm(np.diff(h0[:, j], 2, axis=0), axis=-1).max()
        acc1 = np.linalg.norm(np.diff(h1[:, j], 2, axis=0), axis=-1).max()
        print(f"{rig_name} {JOINT_NAMES[j]}: max |accel| {acc0 * 100:.2f} -> {acc1 * 100:.2f} cm/frame^2")
        assert acc1 < acc0 + 0.01                  # smooth window: at most 1 cm/frame^2 more than the motion
        corr = np.linalg.norm(np.diff(h1[:, j] - h0[:, j], 2, axis=0), axis=-1).max()
        assert corr < 0.01, f"the correction itself jerks {corr * 100:.2f} cm/frame^2"
    # frames further than the window (0.6 s = 12 frames) from any pin keep their rotations exactly
    far = np.ones(len(clip), dtype=bool)
    for f, _, _ in PINS:
        far[max(0, f - 12):f + 13] = False
    assert far.any()
    for b, q in plain.rotations.items():
        assert np.allclose(pinned.rotations[b][far], q[far], atol=1e-12), b
    # bone lengths between mapped joints are those of the rig
    for a, c in ((17, 19), (19, 21), (2, 5), (5, 8)):
        d1 = np.linalg.norm(h1[:, c] - h1[:, a], axis=-1)
        assert np.ptp(d1) < 1e-9


def test_rig_pins_round_trip_exactly(clip):
    """A pin set on the rig (armature space -> rig_positions_to_joints) lands where it was put."""
    rig, bm = RIGS["mixamo_apose_cm"]()
    posed = retarget(clip[::-1].copy(), rig, bm, foot_cleanup=False, smpl_leg=SMPL_REFERENCE_LEG_LENGTH)
    h = heads(rig, bm, posed)
    frames, bones = [10, 40], [bm["right_wrist"], bm["pelvis"], bm["left_foot"]]
    pos, mask = np.zeros_like(clip), np.zeros(clip.shape[:2], dtype=bool)
    for f in frames:
        idx = [JOINT_NAMES.index(j) for j in ("right_wrist", "pelvis", "left_foot")]
        joints, jm = rig_positions_to_joints({b: h[f, k] for b, k in zip(bones, idx)}, rig, bm)
        pos[f], mask[f] = joints, jm
    anim = animate_rig(clip, rig, bm, foot_cleanup=True, smpl_leg=SMPL_REFERENCE_LEG_LENGTH, pins=(pos, mask))
    got = heads(rig, bm, anim)
    err = np.linalg.norm(got - h, axis=-1)[mask]                       # centimetre units
    print(f"rig pins round trip: max {err.max():.2e} cm")
    assert err.max() < 1e-6


def test_unreachable_pin_reports_residual(clip):
    rig, bm = RIGS["mixamo_apose_cm"]()
    pos, mask = np.zeros_like(clip), np.zeros(clip.shape[:2], dtype=bool)
    pos[25, 21], mask[25, 21] = clip[25, 21] + [-1.5, 0.0, 0.0], True       # 1.5 m beyond the hand
    anim = animate_rig(clip, rig, bm, foot_cleanup=False, smpl_leg=SMPL_REFERENCE_LEG_LENGTH, pins=(pos, mask))
    residual = anim.pin_residual[25, 21] / anim.scale
    print(f"unreachable pin residual {residual:.3f} m")
    assert 0.5 < residual < 1.5 and np.isfinite(anim.root_translation).all()
    assert anim.pin_residual[~mask].max() == 0.0


def test_bad_pins_refused(clip):
    rig, bm = RIGS["mixamo_apose_cm"]()
    with pytest.raises(ValueError, match=r"positions \[T, 22, 3\]"):
        animate_rig(clip, rig, bm, pins=(clip[:5], np.ones((5, 22), bool)))
    no_arm = BoneMap({j: b for j, b in bm.bones.items() if j != "right_elbow"})
    pos, mask = np.zeros_like(clip), np.zeros(clip.shape[:2], dtype=bool)
    mask[3, 21] = True
    with pytest.raises(ValueError, match="right_elbow"):
        animate_rig(clip, rig, no_arm, pins=(pos, mask))
    anim = retarget(clip, rig, bm)
    with pytest.raises(ValueError, match="NaN"):
        solve_pins(rig, bm, anim, np.full_like(clip, np.nan), mask)


def test_torso_leans_when_the_arm_is_short(clip):
    """A hand pin 3 cm beyond the rig's arm reach is met by leaning the torso (hips stay put)."""
    rig, bm = RIGS["mixamo_apose_cm"]()
    pos, mask = np.zeros_like(clip), np.zeros(clip.shape[:2], dtype=bool)
    pos[15, 21], mask[15, 21] = clip[15, 21] + [0.08, 0.0, 0.0], True
    kw = dict(foot_cleanup=False, smpl_leg=SMPL_REFERENCE_LEG_LENGTH)
    plain, anim = retarget(clip, rig, bm, **kw), animate_rig(clip, rig, bm, pins=(pos, mask), **kw)
    print(f"out-of-reach hand pin residual {anim.max_residual / anim.scale * 1e3:.2e} mm")
    assert anim.max_residual / anim.scale < 1e-3
    assert np.allclose(heads(rig, bm, anim)[:, 0], heads(rig, bm, plain)[:, 0])
