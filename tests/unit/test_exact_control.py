"""Pins met exactly: displacement field, exact pass (IK, reach, smoothness), pose continuation, latent
refinement and the ``generate`` options, on a real CMU walk (golden folder) and a tiny random model."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from motionlcm_core import Control, MotionLCMPipeline
from motionlcm_core.control import ExactConfig, apply_exact, continue_from_pose, displacement_field, pin_errors
from motionlcm_core.control.passes import PinPassConfig
from motionlcm_core.motion import FACE_JOINTS, PARENTS
from motionlcm_core.control.passes import RefineConfig
from motionlcm_core.control.refine import refine_latents
from tests.golden_paths import golden_root
from tests.unit.test_pipeline import emb, tiny_config

WALK_FILE = golden_root() / "humanml3d" / "cmu_walk.npz"
needs_walk = pytest.mark.skipif(not WALK_FILE.is_file(), reason=f"{WALK_FILE} not found (MOTIONLCM_GOLDEN_DIR)")


@pytest.fixture(scope="module")
def walk() -> np.ndarray:
    """A real CMU walk in the model frame, ``(165, 22, 3)`` metres."""
    return np.load(WALK_FILE)["recover_from_ric"].astype(np.float32)


@pytest.fixture(scope="module")
def pipe():
    return MotionLCMPipeline.from_config(tiny_config(), device="cpu", seed=0)


def bones(j: np.ndarray) -> np.ndarray:
    return np.linalg.norm(j[..., 1:, :] - j[..., list(PARENTS[1:]), :], axis=-1)


def jerk(j: np.ndarray) -> float:
    """Largest change of per-frame velocity (m/frame²) over all joints."""
    return float(np.abs(np.diff(j, n=2, axis=-3)).max())


# ----------------------------------------------------------------------------- displacement field
def test_field_hits_values_and_fades():
    frames = np.array([0, 5, 9, 60, 99])
    values = np.random.default_rng(0).normal(size=(5, 3))
    f = displacement_field(frames, values, 100, window=10)
    np.testing.assert_allclose(f[frames], values, atol=1e-12)
    assert np.all(f[20:50] == 0) and np.all(f[71:89] == 0)          # far from pins: untouched
    step = np.abs(np.diff(f, axis=0)).max()
    assert step < 2.0 * np.abs(values).max() / 10 * 1.6            # fades over ~window frames, no jump


def test_field_single_pin_is_smooth_bump():
    f = displacement_field(np.array([30]), np.array([[0.2, 0.0, -0.1]]), 60, window=8)
    assert np.allclose(f[30], [0.2, 0.0, -0.1]) and np.all(f[:22] == 0) and np.all(f[39:] == 0)
    v = np.diff(f[:, 0])
    assert abs(v[29]) < 0.02 and abs(v[30]) < 0.02                  # zero-ish velocity at the pin: no kink


# ----------------------------------------------------------------------------- exact pass
def _pins(walk: np.ndarray, rng: np.random.Generator):
    T = len(walk)
    pos, mask = walk.copy()[None], np.zeros((1, T, 22), bool)
    frames = rng.choice(np.r_[0:66, 75:T], 30, replace=False)
    mask[0, frames, 0] = True
    pos[0, frames, 0] += rng.normal(scale=0.08, size=(30, 3)).astype(np.float32)
    for t, j in [(0, 21), (T - 1, 20), (70, 21), (70, 20), (70, 15), (70, 11), (100, 10), (120, 7)]:
        mask[0, t, j] = True
        pos[0, t, j] += rng.normal(scale=0.04, size=3).astype(np.float32)
    return pos, mask


@needs_walk
def test_exact_meets_pins_keeps_bones_and_is_smooth(walk):
    pos, mask = _pins(walk, np.random.default_rng(1))
    out = apply_exact(walk[None], pos, mask)
    err = pin_errors(out.joints, pos, mask)[mask]
    assert err.max() < 1e-3 and out.max_residual < 1e-3            # first/last frame, 5 joints on frame 70
    np.testing.assert_allclose(bones(out.joints[0]), bones(walk), atol=1e-5)
    assert jerk(out.joints[0]) < jerk(walk) + 0.03                   # no pops


@needs_walk
def test_exact_reports_unreachable_and_keeps_others(walk):
    T = len(walk)
    pos, mask = walk.copy()[None], np.zeros((1, T, 22), bool)
    mask[0, 50, [0, 21]] = True
    pos[0, 50, 0] += [0.05, 0.0, 0.05]
    pos[0, 50, 21] += [0.0, 1.5, 0.0]                                # 1.5 m above the hand: out of reach
    out = apply_exact(walk[None], pos, mask)
    shoulder_to_target = np.linalg.norm(pos[0, 50, 21] - out.joints[0, 50, 17])
    arm = bones(out.joints[0, 50])[[18, 20]].sum()                   # right elbow and wrist bones
    assert out.residual[0, 50, 0] < 1e-6
    assert out.residual[0, 50, 21] == pytest.approx(shoulder_to_target - arm, abs=1e-4)
    assert out.max_residual > 0.5


@needs_walk
def test_exact_pelvis_shift_keeps_planted_feet(walk):
    """A pelvis pin moves the body; the right foot planted around the pin keeps still on the floor: it takes
    one shift for its whole contact phase and keeps its height, instead of sliding with the body."""
    T, foot, pin = len(walk), 11, 66
    contact = walk[:, foot, 1] < 0.05
    lo = pin - np.argmin(contact[pin::-1]) + 1                       # the contact phase around the pin
    hi = pin + np.argmin(contact[pin:])
    assert contact[lo:hi].all() and hi - lo >= 8
    pos, mask = walk.copy()[None], np.zeros((1, T, 22), bool)
    mask[0, pin, 0] = True
    pos[0, pin, 0] += [0.12, -0.03, 0.10]
    kept = apply_exact(walk[None], pos, mask).joints[0]
    moved = apply_exact(walk[None], pos, mask, cfg=ExactConfig(keep_feet=False)).joints[0]

    def slide(j: np.ndarray) -> float:                               # metres the planted foot travels (x, z)
        return float(np.linalg.norm(j[lo:hi, foot, [0, 2]] - j[lo, foot, [0, 2]], axis=-1).max())

    assert np.allclose(kept[pin, 0], pos[0, pin, 0], atol=1e-6)
    assert slide(kept) < slide(walk) + 2e-3 and slide(moved) > slide(walk) + 0.02
    # …and it is planted where the moved body can reach it, not left behind at its old place
    shift = pos[0, pin, 0, [0, 2]] - walk[pin, 0, [0, 2]]
    planted = kept[(lo + hi) // 2, foot, [0, 2]] - walk[(lo + hi) // 2, foot, [0, 2]]
    assert np.linalg.norm(planted - shift) < 0.5 * np.linalg.norm(shift)
    np.testing.assert_allclose(kept[lo:hi, foot, 1], walk[lo:hi, foot, 1], atol=1e-4)
    np.testing.assert_allclose(bones(kept), bones(walk), atol=1e-5)


def test_exact_leaves_padding_and_refuses_bad_input():
    joints = np.random.default_rng(0).normal(size=(2, 20, 22, 3)).astype(np.float32)
    pos, mask = np.zeros((2, 20, 22, 3), np.float32), np.zeros((2, 20, 22), bool)
    mask[1, 5, 0] = True
    out = apply_exact(torch.from_numpy(joints), pos, mask, lengths=[20, 10])
    assert np.array_equal(out.joints[0], joints[0]) and np.array_equal(out.joints[1, 10:], joints[1, 10:])
    assert np.abs(out.joints[1, 5, 0]).max() < 1e-6
    mask[1, 15, 0] = True
    with pytest.raises(ValueError, match="frame 15 but is only 10 frames"):
        apply_exact(joints, pos, mask, lengths=[20, 10])
    with pytest.raises(ValueError, match="mask must be bool"):
        apply_exact(joints, pos, mask.astype(np.float32))
    with pytest.raises(ValueError, match="joints must be"):
        apply_exact(joints[0], pos, mask)
    with pytest.raises(ValueError, match="window"):
        ExactConfig(window=0)


# ----------------------------------------------------------------------------- continue from a pose
@needs_walk
def test_continue_from_pose_canonical_and_round_trip(walk):
    angle = 0.7
    rot = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
    prev = walk[-3:] @ rot.T + np.array([2.0, 0.0, -1.0])           # somewhere else in the scene, turned
    cont = continue_from_pose(prev, 60)
    first = np.asarray(cont.control.positions[0])
    r_hip, l_hip, r_sho, l_sho = FACE_JOINTS
    across = first[r_hip] - first[l_hip] + first[r_sho] - first[l_sho]
    forward = np.cross([0, 1, 0], across)
    assert abs(first[0, 0]) < 1e-6 and abs(first[0, 2]) < 1e-6 and abs(forward[0]) < 1e-6 < forward[2]
    assert cont.control.mask[:3].all() and not cont.control.mask[3:].any()
    new_clip = np.random.default_rng(0).normal(scale=0.3, size=(1, 60, 22, 3)).astype(np.float32)
    new_clip[0] = walk[:60] + first[0] - walk[0, 0]                  # a motion that does not continue yet
    out = apply_exact(new_clip, cont.control.positions[None], cont.control.mask[None])
    np.testing.assert_allclose(cont.to_source(out.joints[0, :3]), prev, atol=1e-4)
    with pytest.raises(ValueError, match="K < num_frames"):
        continue_from_pose(prev, 3)
    with pytest.raises(ValueError, match="joints must be"):
        continue_from_pose(prev, 60, joints=(0, 30))


# ----------------------------------------------------------------------------- refinement + generate
def _pelvis_pins(T: int, every: int = 8):
    pos = np.zeros((T, 22, 3), np.float32)
    pos[:, 0] = np.stack([np.zeros(T), np.full(T, 0.9), np.linspace(0, 1.5, T)], axis=-1)
    mask = np.zeros((T, 22), bool)
    mask[::every, 0] = True
    return pos, mask


def test_refine_lowers_pin_error_inside_inference_mode(pipe):
    T = 40
    pos, mask = _pelvis_pins(T)
    latents = torch.randn(2, 2, 8, generator=torch.Generator().manual_seed(0))
    frame_mask = torch.tensor([[True] * T, [True] * 32 + [False] * 8])
    pins = torch.from_numpy(mask)[None].repeat(2, 1, 1)
    pins[1, 32:] = False
    with torch.inference_mode():
        out = refine_latents(pipe.vae, pipe.stats, latents, frame_mask, torch.from_numpy(pos)[None].expand(2, -1, -1, -1),
                             pins, RefineConfig(steps=4, lr=0.3, tolerance=0))
    assert out.steps_run == 4 and out.errors[-1] < 0.9 * out.errors[0]
    assert torch.all(out.feats[1, 32:] == 0)
    assert out.joints.shape == (2, T, 22, 3) and out.feats.shape == (2, T, 263) and not out.latents.requires_grad
    with pytest.raises(ValueError, match="steps"):
        RefineConfig(steps=-1)
    with pytest.raises(ValueError, match="lr"):
        RefineConfig(lr=float("nan"))


def test_generate_with_pins_meets_them_by_default(pipe):
    pos, mask = _pelvis_pins(40)
    mask[[0, 39], 20] = True                                         # hand pins on the first and last frame
    free = pipe.generate(text_embeddings=emb(1), lengths=40, seed=3)
    pos[[0, 39], 20] = free.joints[0, [0, 39], 20] + 0.01
    r = pipe.generate(text_embeddings=emb(1), lengths=40, seed=3, control=Control(pos, mask))
    assert r.report["pin_residual_max_m"] < 1e-3 and pin_errors(r.joints, pos[None], mask[None]).max() < 1e-3
    assert {"refine", "exact"} <= set(r.timings) and r.report["refine_steps"] > 0
    off = pipe.generate(text_embeddings=emb(1), lengths=40, seed=3, control=Control(pos, mask),
                        passes=PinPassConfig(refine=None, exact=None))
    assert "refine" not in off.timings and "exact" not in off.timings
    assert off.report["pin_residual_max_m"] > 0.05


@pytest.mark.parametrize("make,match", [
    (lambda: dict(passes="yes"), "passes must be a PinPassConfig"),
    (lambda: dict(passes=PinPassConfig(refine=RefineConfig(steps=-2))), "steps"),
    (lambda: dict(passes=PinPassConfig(refine=RefineConfig(lr=0.0))), "strength|lr"),
    (lambda: dict(passes=PinPassConfig(exact="yes")), "exact must be"),
    (lambda: dict(passes=PinPassConfig(floor=True), control=Control(*_pelvis_pins(40))), "floor=True"),
])
def test_generate_refuses_bad_pass_options(pipe, make, match):
    with pytest.raises(ValueError, match=match):
        pipe.generate(text_embeddings=emb(1), lengths=40, seed=0, **make())


def test_generate_refuses_pin_past_a_shorter_clip(pipe):
    pos, mask = _pelvis_pins(40)
    with pytest.raises(ValueError, match="only 30 frames"):
        pipe.generate(text_embeddings=emb(2), lengths=[40, 30], seed=0, control=Control(pos, mask))


def test_torso_lean_reaches_a_hand_pin_beyond_the_arm_with_pelvis_pinned():
    """Pelvis pinned on the same frame: the upper body leans (rigidly) so the hand still gets there."""
    from motionlcm_core.motion.skeleton import PARENTS
    rng = np.random.default_rng(0)
    offsets = np.array([[0, 0, 0], [0.1, -0.05, 0], [-0.1, -0.05, 0], [0, 0.1, 0], [0, -0.4, 0], [0, -0.4, 0],
                        [0, 0.13, 0], [0, -0.4, 0], [0, -0.4, 0], [0, 0.05, 0], [0, -0.05, 0.12],
                        [0, -0.05, 0.12], [0, 0.2, 0], [0.08, 0.12, 0], [-0.08, 0.12, 0], [0, 0.1, 0],
                        [0.1, 0, 0], [-0.1, 0, 0], [0.26, 0, 0], [-0.26, 0, 0], [0.25, 0, 0], [-0.25, 0, 0]])
    pose = np.zeros((22, 3))
    for j in range(1, 22):
        pose[j] = pose[PARENTS[j]] + offsets[j]
    pose += [0, 0.95, 0]
    joints = np.repeat(pose[None], 40, axis=0) + rng.normal(0, 1e-3, (40, 1, 3))
    targets, mask = np.zeros_like(joints), np.zeros((40, 22), bool)
    targets[20, 0], mask[20, 0] = joints[20, 0], True
    shoulder = joints[20, 17]
    targets[20, 21] = shoulder + [-0.2, -0.15, 0.55]   # 0.6 m from the shoulder: the arm (0.51 m) is too short
    mask[20, 21] = True
    out = apply_exact(joints[None], targets[None], mask[None])
    assert out.max_residual < 1e-3
    lengths = lambda j: np.linalg.norm(j[:, 1:] - j[:, list(PARENTS[1:])], axis=-1)  # noqa: E731
    np.testing.assert_allclose(lengths(out.joints[0]), lengths(joints), atol=1e-5)
    no_lean = apply_exact(joints[None], targets[None], mask[None], cfg=ExactConfig(max_lean_deg=0.0))
    assert no_lean.max_residual > 0.05
