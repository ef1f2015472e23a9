"""Quaternion helpers, numpy and torch, in the (w, x, y, z) convention.

All functions act on the last axis and broadcast over leading axes. The numpy versions keep the
floating dtype of their inputs (the HumanML3D feature code feeds them float32, as the official
pipeline does); the torch versions are differentiable and follow the tensor's device and dtype.

The arithmetic order matches the HumanML3D reference (Hamilton product, ``v + 2 (w (u x v) + u x (u x v))``
rotation, ``qbetween = normalise([|u||v| + u.v, u x v])``); with the numpy versions running on torch kernels,
float32 HumanML3D features come out bit-identical to the official ones (checked on the goldens).
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "qmul_np", "qinv_np", "qrot_np", "qbetween_np", "quat_to_matrix_np", "quat_to_cont6d_np",
    "qmul", "qinv", "qrot", "qbetween", "quat_to_matrix", "quat_to_cont6d", "yaw_quat",
]


# ----------------------------------------------------------------------------------------- numpy
# The numpy versions run the torch kernels below on CPU tensors that share memory with the arrays, exactly
# as the HumanML3D reference does (its ``*_np`` helpers round-trip through torch); this makes our float32
# features bit-identical to the official ones instead of merely close (numpy and torch round differently).
def _to_torch(*arrays: np.ndarray) -> tuple[torch.Tensor, ...]:
    arrays = tuple(np.asarray(a) for a in arrays)
    dtype = np.result_type(*arrays, np.float32)
    shape = np.broadcast_shapes(*(np.shape(a)[:-1] for a in arrays))
    out = []
    for a in arrays:
        a = np.broadcast_to(np.asarray(a, dtype=dtype), shape + np.shape(a)[-1:])
        if not (a.flags.c_contiguous and a.flags.writeable):
            a = np.array(a, dtype=dtype, order="C")
        out.append(torch.from_numpy(a))
    return tuple(out)


def qmul_np(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Hamilton product ``q * r`` of quaternions (..., 4); applying the result = apply r, then q."""
    return qmul(*_to_torch(q, r)).numpy()


def qinv_np(q: np.ndarray) -> np.ndarray:
    """Conjugate (= inverse for unit quaternions) of q (..., 4)."""
    return qinv(*_to_torch(q)).numpy()


def qrot_np(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v (..., 3) by unit quaternions q (..., 4); leading axes broadcast."""
    return qrot(*_to_torch(q, v)).numpy()


def qbetween_np(v0: np.ndarray, v1: np.ndarray) -> np.ndarray:
    """Unit quaternion (..., 4) rotating direction v0 (..., 3) onto v1 (..., 3) (shortest arc, w >= 0)."""
    return qbetween(*_to_torch(v0, v1)).numpy()


def quat_to_matrix_np(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) of quaternions (..., 4) (need not be unit: scaled by 2/|q|^2)."""
    return quat_to_matrix(*_to_torch(q)).numpy()


def quat_to_cont6d_np(q: np.ndarray) -> np.ndarray:
    """Continuous 6-D rotation (..., 6) = first two matrix **columns** concatenated."""
    return quat_to_cont6d(*_to_torch(q)).numpy()


# ----------------------------------------------------------------------------------------- torch
def qmul(q: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Hamilton product ``q * r`` of quaternions (..., 4) (differentiable)."""
    q0, q1, q2, q3 = q.unbind(-1)
    r0, r1, r2, r3 = r.unbind(-1)
    w = r0 * q0 - r1 * q1 - r2 * q2 - r3 * q3
    x = r0 * q1 + r1 * q0 - r2 * q3 + r3 * q2
    y = r0 * q2 + r1 * q3 + r2 * q0 - r3 * q1
    z = r0 * q3 - r1 * q2 + r2 * q1 + r3 * q0
    return torch.stack((w, x, y, z), dim=-1)


def qinv(q: torch.Tensor) -> torch.Tensor:
    """Conjugate of q (..., 4)."""
    return torch.cat([q[..., :1], -q[..., 1:]], dim=-1)


def qrot(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate vectors v (..., 3) by unit quaternions q (..., 4); leading axes broadcast."""
    shape = torch.Size(np.broadcast_shapes(tuple(q.shape[:-1]), tuple(v.shape[:-1])))   # torch's imports sympy
    q = q.expand(shape + (4,))
    v = v.expand(shape + (3,))
    qvec = q[..., 1:]
    uv = torch.linalg.cross(qvec, v, dim=-1)
    uuv = torch.linalg.cross(qvec, uv, dim=-1)
    return v + 2 * (q[..., :1] * uv + uuv)


def qbetween(v0: torch.Tensor, v1: torch.Tensor) -> torch.Tensor:
    """Unit quaternion (..., 4) rotating v0 (..., 3) onto v1 (..., 3).

    Crosses along the last axis (the official code's bare ``torch.cross`` picks the first axis of size 3,
    which differs only for inputs whose leading axis has length 3).
    """
    v0, v1 = torch.broadcast_tensors(v0, v1)
    v = torch.linalg.cross(v0, v1, dim=-1)
    w = torch.sqrt((v0**2).sum(-1, keepdim=True) * (v1**2).sum(-1, keepdim=True)) + (v0 * v1).sum(-1, keepdim=True)
    q = torch.cat([w, v], dim=-1)
    return q / torch.norm(q, dim=-1, keepdim=True)


def quat_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """Rotation matrices (..., 3, 3) of quaternions (..., 4) (differentiable)."""
    r, i, j, k = q.unbind(-1)
    two_s = 2.0 / (q * q).sum(-1)
    m = torch.stack(
        (1 - two_s * (j * j + k * k), two_s * (i * j - k * r), two_s * (i * k + j * r),
         two_s * (i * j + k * r), 1 - two_s * (i * i + k * k), two_s * (j * k - i * r),
         two_s * (i * k - j * r), two_s * (j * k + i * r), 1 - two_s * (i * i + j * j)),
        dim=-1,
    )
    return m.reshape(q.shape[:-1] + (3, 3))


def quat_to_cont6d(q: torch.Tensor) -> torch.Tensor:
    """Continuous 6-D rotation (..., 6) = first two matrix columns concatenated (differentiable)."""
    m = quat_to_matrix(q)
    return torch.cat([m[..., 0], m[..., 1]], dim=-1)


def yaw_quat(half_angle: torch.Tensor) -> torch.Tensor:
    """Quaternion (..., 4) ``(cos a, 0, sin a, 0)`` for half-angles a (...,) in radians (rotation 2a about +Y)."""
    zero = torch.zeros_like(half_angle)
    return torch.stack((torch.cos(half_angle), zero, torch.sin(half_angle), zero), dim=-1)
