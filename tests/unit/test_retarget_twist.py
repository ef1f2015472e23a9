"""No twist flips on fast motion (issue 3): limb twist stays continuous on the shared ballet/dance clips."""
from __future__ import annotations


import numpy as np
import pytest

from motionlcm_core.motion.skeleton import JOINT_NAMES, PARENTS
from motionlcm_core.retarget import BoneMap, retarget
from motionlcm_core.retarget.solve import AIM_CHILD, twist_toward_bend
from tests.unit import rigs
from tests.unit.test_retarget import direction_errors
from tests.unit.conftest import val_clips

#: Fast val clips: ballet leaps 05_17 (165 deg twist jumps before the fix) and 05_03 (50 deg), 131_08 (51 deg).
FAST_CLIPS = ("cmu_05_17", "cmu_05_03", "cmu_131_08")
#: 60 deg/frame = 1200 deg/s at 20 fps, above real limb twist rates in dance; flips were 130-180 deg/frame.
MAX_TWIST_DEG = 60.0
#: Frames where the input bone, its parent or its child turns faster than this are mocap glitches
#: (a foot flipping 160 deg in 50 ms); there the bone's own swing is ill-defined and excluded (0.15%).
GLITCH_TURN_DEG = 45.0


@pytest.fixture(scope="module")
def fast_clips() -> dict[str, np.ndarray]:
    return val_clips(FAST_CLIPS)


def calm_frames(joints: np.ndarray, name: str) -> np.ndarray:
    """Mask ``[T-1]`` of steps t -> t+1 where the bone, its parent and its aim child turn < GLITCH_TURN_DEG."""
    j = JOINT_NAMES.index(name)
    ok = np.ones(len(joints) - 1, dtype=bool)
    for k in {j, PARENTS[j], AIM_CHILD[j]} - {-1}:
        if AIM_CHILD[k] < 0:
            continue
        d = joints[:, AIM_CHILD[k]] - joints[:, k]
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        ok &= np.degrees(np.arccos(np.clip(np.sum(d[1:] * d[:-1], -1), -1, 1))) < GLITCH_TURN_DEG
    return ok


@pytest.mark.parametrize("rig_name", ["smpl_tpose", "mixamo_apose_cm"])
def test_no_twist_flips_on_fast_clips(fast_clips, rig_name):
    rig, bm = {"smpl_tpose": (rigs.smpl_tpose_rig(), BoneMap.preset("smplx")),
               "mixamo_apose_cm": (rigs.mixamo_apose_rig(unit=100.0), BoneMap.preset("mixamo"))}[rig_name]
    assert "cmu_05_17" in fast_clips
    for cid, joints in fast_clips.items():
        anim = retarget(joints, rig, bm, foot_cleanup=False)
        err, _, twist = direction_errors(rig, bm, anim, joints, per_bone=True)
        calm = np.concatenate([v[calm_frames(joints, name)] for name, v in twist.items()])
        print(f"{rig_name} {cid}: dir err {err:.1e} deg, twist/frame max {calm.max():.1f} "
              f"p99 {np.percentile(calm, 99):.1f} deg (calm frames {calm.size}/{sum(map(len, twist.values()))})")
        assert err < 1.0
        assert calm.max() < MAX_TWIST_DEG, f"twist flip on {cid}"


def test_twist_toward_bend_is_continuous_and_drops_glitches():
    phi = np.linspace(-3 * np.pi, 3 * np.pi, 400)            # the bend plane spins 3 turns, wrapped
    target = twist_toward_bend(np.angle(np.exp(1j * phi)), np.ones(400))
    assert np.abs(np.diff(target)).max() < 3 * (phi[1] - phi[0])   # no jump where phi wraps at +-pi
    assert np.abs(target).max() < np.pi * 0.75
    steady = np.full(30, 0.4)
    steady[[10, 20, 21]] = -2.0                                # one- and two-frame apex glitches
    np.testing.assert_allclose(twist_toward_bend(steady, np.ones(30)), 0.4)
