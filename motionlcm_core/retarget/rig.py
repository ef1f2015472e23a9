"""Armature description (`Rig`), its animation (`RigAnimation`) and numpy forward kinematics.

Conventions are Blender's ``Bone.matrix_local``: armature space, Z up, metres (or whatever unit the
armature uses, e.g. centimetres for raw Mixamo FBX), the bone's local Y axis points head -> tail, the
character faces -Y with its left side at +X.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from motionlcm_core.retarget.rotations import quat_to_matrix


@dataclass(frozen=True)
class Rig:
    """A humanoid armature in its rest pose.

    Args:
        names: bone names, ``N`` unique strings.
        parents: parent index per bone ``[N]`` (-1 for a root).
        rest_matrices: ``[N, 4, 4]`` armature-space rest matrices (``matrix_local``); the rotation part
            must be orthonormal, the translation is the bone's head.
        lengths: ``[N]`` bone lengths (head -> tail along local Y), > 0.
    """

    names: list[str]
    parents: np.ndarray
    rest_matrices: np.ndarray
    lengths: np.ndarray
    index: dict[str, int] = field(init=False, repr=False, compare=False)
    order: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = list(self.names)
        n = len(names)
        parents = np.asarray(self.parents, dtype=np.int64).reshape(-1)
        rest = np.asarray(self.rest_matrices, dtype=np.float64)
        lengths = np.asarray(self.lengths, dtype=np.float64).reshape(-1)
        _validate(names, parents, rest, lengths)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "parents", parents)
        object.__setattr__(self, "rest_matrices", rest)
        object.__setattr__(self, "lengths", lengths)
        object.__setattr__(self, "index", {nm: i for i, nm in enumerate(names)})
        object.__setattr__(self, "order", _topological_order(parents, n))

    @property
    def heads(self) -> np.ndarray:
        """Rest head positions ``[N, 3]`` (armature space)."""
        return self.rest_matrices[:, :3, 3]

    @property
    def tails(self) -> np.ndarray:
        """Rest tail positions ``[N, 3]``: head + length * local Y axis."""
        return self.heads + self.rest_matrices[:, :3, 1] * self.lengths[:, None]

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class RigAnimation:
    """Retargeted animation in Blender's pose-bone convention.

    ``pose = parent_pose @ parent_rest^-1 @ rest @ T(location) @ R(quaternion)``.

    Attributes:
        root_bone: the bone carrying translation.
        root_translation: ``[T, 3]`` pose ``location`` of ``root_bone`` (its rest frame, armature units).
        rotations: bone name -> ``[T, 4]`` pose quaternions (w, x, y, z), sign-continuous over time.
        scale: model metres -> armature units factor used (see ``motionlcm_core.retarget`` docstring).
        fps: frames per second of the animation.
    """

    root_bone: str
    root_translation: np.ndarray
    rotations: dict[str, np.ndarray]
    scale: float = 1.0
    fps: float = 20.0

    @property
    def num_frames(self) -> int:
        return int(self.root_translation.shape[0])


def pose_world_matrices(rig: Rig, anim: RigAnimation) -> np.ndarray:
    """Forward kinematics: armature-space pose matrices ``[T, N, 4, 4]``.

    Bones absent from ``anim.rotations`` keep their rest rotation relative to their parent; only
    ``anim.root_bone`` is translated.
    """
    t = anim.num_frames
    rest = rig.rest_matrices
    rest_inv = np.linalg.inv(rest)
    out = np.empty((t, len(rig), 4, 4))
    for k in rig.order:
        local = np.broadcast_to(np.eye(4), (t, 4, 4)).copy()
        name = rig.names[k]
        if name in anim.rotations:
            local[:, :3, :3] = quat_to_matrix(np.asarray(anim.rotations[name], dtype=np.float64))
        if name == anim.root_bone:
            local[:, :3, 3] = anim.root_translation
        p = rig.parents[k]
        base = rest[k] if p < 0 else out[:, p] @ (rest_inv[p] @ rest[k])
        out[:, k] = base @ local
    return out


def _validate(names: list[str], parents: np.ndarray, rest: np.ndarray, lengths: np.ndarray) -> None:
    n = len(names)
    if n == 0:
        raise ValueError("Rig has no bones; read the armature's bones before building a Rig.")
    if len(set(names)) != n:
        dup = sorted({x for x in names if names.count(x) > 1})
        raise ValueError(f"Rig bone names must be unique; duplicated: {dup}")
    if parents.shape != (n,) or rest.shape != (n, 4, 4) or lengths.shape != (n,):
        raise ValueError(
            f"Rig expects parents [N], rest_matrices [N,4,4], lengths [N] with N={n} names; got parents "
            f"{parents.shape}, rest_matrices {rest.shape}, lengths {lengths.shape}")
    if np.any((parents < -1) | (parents >= n)) or np.any(parents == np.arange(n)):
        raise ValueError("Rig parents must be -1 (root) or the index of another bone.")
    if not (np.all(np.isfinite(rest)) and np.all(np.isfinite(lengths))):
        raise ValueError("Rig rest_matrices / lengths contain NaN or inf.")
    bad = [names[i] for i in np.flatnonzero(lengths <= 1e-8)]
    if bad:
        raise ValueError(f"Rig has zero-length bones (Blender cannot have these; check the import): {bad}")
    r = rest[:, :3, :3]
    err = np.abs(np.swapaxes(r, -1, -2) @ r - np.eye(3)).max(axis=(-1, -2))
    bad = [names[i] for i in np.flatnonzero((err > 1e-3) | (np.linalg.det(r) < 0))]
    if bad:
        raise ValueError(f"Rig rest_matrices must be rotations (orthonormal, det +1, no scale); not for: {bad}")


def _topological_order(parents: np.ndarray, n: int) -> np.ndarray:
    depth = np.zeros(n, dtype=np.int64)
    for i in range(n):
        j, d = i, 0
        while parents[j] >= 0:
            j, d = parents[j], d + 1
            if d > n:
                raise ValueError("Rig parents contain a cycle.")
        depth[i] = d
    return np.argsort(depth, kind="stable")
