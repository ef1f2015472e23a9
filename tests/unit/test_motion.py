"""Unit tests of the motion representation: quaternions, 263-d features, recovery, mirroring, statistics."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from motionlcm_core.motion import (
    FEATURE_DIM, FEATURE_GROUPS, FOOT_CONTACT, LEFT_CHAIN, PARENTS, RIC, RIGHT_CHAIN, ROT6D, ControlStats,
    FeatureStats, compute_control_stats, compute_feature_stats, default_target_offsets, features_from_joints,
    humanml3d_control_stats, humanml3d_stats, mirror_joints, recover_joints,
)
from motionlcm_core.motion.quaternion import (
    qbetween, qbetween_np, qmul, qmul_np, qrot, qrot_np, quat_to_cont6d_np, quat_to_matrix_np,
)


def _rest_pose(scale: float = 1.0) -> np.ndarray:
    """Rest pose (22, 3) of the target skeleton, facing +Z, feet at y=0."""
    offsets = default_target_offsets().astype(np.float64) * scale
    pose = np.zeros((22, 3))
    for j in range(1, 22):
        pose[j] = pose[PARENTS[j]] + offsets[j]
    pose[:, 1] -= pose[:, 1].min()
    return pose


def _yaw(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return points @ rot.T


def _clip(frames: int = 30, scale: float = 1.0, seed: int = 0) -> np.ndarray:
    """A turning, walking, bobbing clip (T, 22, 3) float32 with a swinging left arm."""
    rng = np.random.default_rng(seed)
    pose = _rest_pose(scale)
    out = []
    for t in range(frames):
        p = pose.copy()
        swing = 0.4 * np.sin(0.3 * t)  # left shoulder chain swings about the x axis
        arm = p[[16, 18, 20]] - p[13]
        c, s = np.cos(swing), np.sin(swing)
        p[[16, 18, 20]] = p[13] + arm @ np.array([[1, 0, 0], [0, c, -s], [0, s, c]]).T
        p = _yaw(p, 0.03 * t) + np.array([0.02 * t, 0.05 * np.sin(0.5 * t), 0.04 * t])
        out.append(p + rng.normal(scale=1e-4, size=p.shape))
    return np.stack(out).astype(np.float32)


def _bone_lengths(joints: np.ndarray) -> np.ndarray:
    return np.linalg.norm(joints[..., 1:, :] - joints[..., list(PARENTS[1:]), :], axis=-1)


# ------------------------------------------------------------------------------------------ quaternions
def test_qbetween_rotates_u_onto_v_numpy_and_torch_agree() -> None:
    rng = np.random.default_rng(1)
    u, v = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    q = qbetween_np(u, v)
    rotated = qrot_np(q, u)
    np.testing.assert_allclose(rotated / np.linalg.norm(rotated, axis=-1, keepdims=True),
                               v / np.linalg.norm(v, axis=-1, keepdims=True), atol=1e-10)
    np.testing.assert_allclose(qbetween(torch.from_numpy(u), torch.from_numpy(v)).numpy(), q, atol=1e-12)
    q2 = qbetween_np(v, u)
    np.testing.assert_allclose(qmul_np(q, q2), qmul(torch.from_numpy(q), torch.from_numpy(q2)).numpy(), atol=1e-12)
    np.testing.assert_allclose(qrot_np(qmul_np(q2, q), u), u, atol=1e-10)   # rotate there and back


def test_quat_to_matrix_matches_qrot_and_cont6d_is_two_columns() -> None:
    rng = np.random.default_rng(2)
    q = rng.normal(size=(4, 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    m = quat_to_matrix_np(q)
    v = rng.normal(size=(4, 3))
    np.testing.assert_allclose(np.einsum("nij,nj->ni", m, v), qrot_np(q, v), atol=1e-10)
    np.testing.assert_allclose(m @ m.transpose(0, 2, 1), np.broadcast_to(np.eye(3), (4, 3, 3)), atol=1e-10)
    np.testing.assert_array_equal(quat_to_cont6d_np(q), np.concatenate([m[..., 0], m[..., 1]], -1))
    np.testing.assert_allclose(qrot(torch.from_numpy(q), torch.from_numpy(v)).numpy(), qrot_np(q, v), atol=1e-12)


# ------------------------------------------------------------------------------------------- features
def test_features_shape_dtype_and_contacts() -> None:
    feats = features_from_joints(_clip(20))
    assert feats.shape == (19, FEATURE_DIM) and feats.dtype == np.float32
    assert set(np.unique(feats[:, FOOT_CONTACT])) <= {0.0, 1.0}
    assert np.isfinite(feats).all()


def test_features_invariant_to_yaw_and_translation() -> None:
    clip = _clip(24)
    moved = (_yaw(clip.astype(np.float64), 1.1) + np.array([3.0, 0.7, -2.0])).astype(np.float32)
    a, b = features_from_joints(clip), features_from_joints(moved)
    np.testing.assert_allclose(a[:, :FOOT_CONTACT.start], b[:, :FOOT_CONTACT.start], atol=2e-4)


def test_features_of_joints_on_the_target_skeleton_need_no_retarget() -> None:
    """``retarget=False`` (exemplar crops, already on the skeleton) gives the same features; on another skeleton
    it keeps that skeleton's proportions, so the retarget step is what the default does."""
    on_skeleton = recover_joints(features_from_joints(_clip(30, scale=1.3)))
    np.testing.assert_allclose(features_from_joints(on_skeleton, retarget=False), features_from_joints(on_skeleton),
                               atol=2e-3)
    larger = _clip(30, scale=1.3)
    assert np.abs(features_from_joints(larger, retarget=False) - features_from_joints(larger)).max() > 0.05


def test_round_trip_retargets_to_target_skeleton_and_canonicalises() -> None:
    clip = _clip(30, scale=1.3)          # a larger person: bones must come out at the target lengths
    joints = recover_joints(features_from_joints(clip))
    target = np.linalg.norm(default_target_offsets()[1:], axis=-1)
    np.testing.assert_allclose(_bone_lengths(joints), np.broadcast_to(target, (29, 21)), atol=1e-4)
    np.testing.assert_allclose(joints[0, 0, [0, 2]], 0.0, atol=1e-6)               # frame-0 root at origin
    across = (joints[0, 2] - joints[0, 1] + joints[0, 17] - joints[0, 16])[[0, 2]]  # facing +Z => across = -X
    np.testing.assert_allclose(across / np.linalg.norm(across), [-1, 0], atol=1e-6)
    assert joints[..., 1].min() >= -1e-6


def test_three_frame_clip_uses_vector_axis() -> None:
    # Official code crosses along axis 0 when T == 3 (bare torch.cross); we cross along the vector axis, so a
    # 3-frame clip gives the same rows as a longer one (no yaw, so the smoothed forward does not depend on T).
    pose = _yaw(_rest_pose(), 0.7)
    clip = np.stack([pose + [0.03 * t, 0.01 * t, 0.05 * t] for t in range(6)]).astype(np.float32)
    short, long = features_from_joints(clip[:3]), features_from_joints(clip)
    np.testing.assert_allclose(short[:, :FOOT_CONTACT.start], long[:2, :FOOT_CONTACT.start], atol=1e-5)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((10, 21, 3), np.float32), "shape"),
    (np.zeros((10, 22), np.float32), "shape"),
    (_clip(1), "at least 2 frames"),
    (np.where(np.arange(3)[None, None] == 1, np.nan, _clip(5)).astype(np.float32), "NaN"),
    (np.zeros((5, 22, 3), np.float32), "zero-length bone"),
    ([[0.0] * 3] * 22, "numpy array"),
])
def test_features_bad_input(bad: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        features_from_joints(bad)


def test_features_bad_options() -> None:
    with pytest.raises(ValueError, match="feet_threshold"):
        features_from_joints(_clip(4), feet_threshold=0.0)
    with pytest.raises(ValueError, match="tgt_offsets"):
        features_from_joints(_clip(4), tgt_offsets=np.zeros((21, 3)))


# -------------------------------------------------------------------------------------------- recover
def test_recover_torch_batched_matches_numpy_and_follows_dtype() -> None:
    feats = np.stack([features_from_joints(_clip(16, seed=s)) for s in range(2)])          # (2, 15, 263)
    ref = np.stack([recover_joints(f) for f in feats])
    out = recover_joints(torch.from_numpy(feats))
    assert isinstance(out, torch.Tensor) and out.shape == (2, 15, 22, 3) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-6)
    out64 = recover_joints(torch.from_numpy(feats).double())
    assert out64.dtype == torch.float64
    np.testing.assert_allclose(out64.numpy(), ref, atol=1e-5)


def test_recover_is_differentiable_through_root_and_ric_only() -> None:
    feats = torch.from_numpy(features_from_joints(_clip(12))).requires_grad_(True)
    recover_joints(feats).square().sum().backward()
    grad = feats.grad
    assert torch.isfinite(grad).all()
    assert grad[:, RIC].abs().sum() > 0 and grad[:-1, 0:3].abs().sum() > 0 and grad[:, 3].abs().sum() > 0
    assert grad[:, ROT6D.start:].abs().sum() == 0      # rotations, velocities and contacts are unused


@pytest.mark.parametrize("bad", [np.zeros((10, 262), np.float32), np.zeros(263, np.float32),
                                 torch.zeros(2, 0, 263), torch.zeros(3, 263, dtype=torch.long)])
def test_recover_bad_input(bad: object) -> None:
    with pytest.raises(ValueError):
        recover_joints(bad)


def test_recover_rejects_nan_numpy() -> None:
    feats = np.zeros((4, 263), np.float32)
    feats[1, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        recover_joints(feats)


# ---------------------------------------------------------------------------------------------- mirror
def test_mirror_twice_is_identity_and_swaps_sides() -> None:
    clip = _clip(6)
    mirrored = mirror_joints(clip)
    np.testing.assert_array_equal(mirror_joints(mirrored), clip)
    np.testing.assert_array_equal(mirrored[:, list(LEFT_CHAIN), 0], -clip[:, list(RIGHT_CHAIN), 0])
    np.testing.assert_array_equal(mirrored[:, 0, 1:], clip[:, 0, 1:])
    np.testing.assert_allclose(_bone_lengths(mirrored).sum(-1), _bone_lengths(clip).sum(-1), rtol=1e-6)
    with pytest.raises(ValueError):
        mirror_joints(np.zeros((4, 21, 3)))


# -------------------------------------------------------------------------------------------- statistics
def test_feature_stats_round_trip_numpy_and_torch() -> None:
    stats = humanml3d_stats()
    x = np.random.default_rng(3).normal(size=(2, 7, FEATURE_DIM)).astype(np.float32)
    np.testing.assert_allclose(stats.denormalize(stats.normalize(x)), x, atol=1e-5)
    xt = torch.from_numpy(x).double()
    yt = stats.normalize(xt)
    assert yt.dtype == torch.float64 and yt.device == xt.device
    np.testing.assert_allclose(yt.numpy(), stats.normalize(x), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(stats.denormalize(yt), xt)
    with pytest.raises(ValueError, match="trailing shape"):
        stats.normalize(np.zeros((3, 262)))


def test_control_stats_round_trip_and_values() -> None:
    stats = humanml3d_control_stats()
    np.testing.assert_allclose(stats.mean[0], [0.0004, 0.9386, 0.3145], atol=1e-4)   # spec §1.5 pelvis
    joints = torch.randn(2, 5, 22, 3)
    torch.testing.assert_close(stats.denormalize(stats.normalize(joints)), joints, atol=1e-5, rtol=1e-5)


def test_stats_are_immutable_and_validated() -> None:
    stats = humanml3d_stats()
    with pytest.raises(ValueError):
        stats.mean[0] = 1.0
    with pytest.raises(ValueError, match="shape"):
        FeatureStats(np.zeros(262), np.ones(262))
    with pytest.raises(ValueError, match="> 0"):
        ControlStats(np.zeros((22, 3)), np.zeros((22, 3)))


def test_compute_feature_stats_group_averages_std() -> None:
    clips = [features_from_joints(_clip(20, seed=s)) for s in range(3)]
    stats = compute_feature_stats(clips)
    data = np.concatenate(clips).astype(np.float64)
    np.testing.assert_allclose(stats.mean, data.mean(0), rtol=1e-6, atol=1e-7)
    for group in FEATURE_GROUPS:
        np.testing.assert_allclose(stats.std[group], data.std(0)[group].mean(), rtol=1e-6)
    with pytest.raises(ValueError, match="NaN"):
        compute_feature_stats([np.full((3, FEATURE_DIM), np.nan)])
    with pytest.raises(ValueError, match="at least one"):
        compute_feature_stats([])


def test_compute_control_stats() -> None:
    clips = [_clip(10, seed=s) for s in range(2)]
    stats = compute_control_stats(clips)
    data = np.concatenate(clips).astype(np.float64)
    np.testing.assert_allclose(stats.std, data.std(0), rtol=1e-6)
    with pytest.raises(ValueError, match="constant"):
        compute_control_stats([np.repeat(_clip(1), 4, axis=0)])


def test_features_of_several_clips_at_once_are_each_clips_own():
    """The batched features (one inverse-kinematics pass over all frames) equal the one-clip features, clip by
    clip, for clips of different lengths, retargeted or not."""
    from motionlcm_core.motion.humanml3d import features_from_joints_many
    clips = [_clip(20), _clip(7, scale=1.2), _clip(33)]
    for retarget in (True, False):
        many = features_from_joints_many(clips, retarget=retarget)
        assert [f.shape for f in many] == [(19, 263), (6, 263), (32, 263)]
        for f, clip in zip(many, clips):
            np.testing.assert_array_equal(f, features_from_joints(clip, retarget=retarget))
    assert features_from_joints_many([]) == []
    with pytest.raises(ValueError, match="at least 2 frames"):
        features_from_joints_many([_clip(20), _clip(20)[:1]])
