"""Exemplar residuals: the retrieved training motion's own detail, added back after the VAE.

The embedded VAE (8 × 16 latent for up to 196 frames) smooths fast, small motions away: the reconstruction
of a real kick, wave or cartwheel no longer passes as one. With retrieval the sampler starts from the latent
``z_r`` of a real window ``x`` and ends at ``z_s``; the VAE's error on that window, ``x − D(z_r)``, is known
exactly, so the output is

    features = D(z_s) + (x − D(z_r))        (on the 67 recovery channels: root motion, root height, RIC)

— the model's motion with the detail the decoder lost on its exemplar put back. Where the student keeps the
exemplar (``z_s ≈ z_r``) the result is the real motion; where it changes it, the change is the model's. The
recovery channels hold the root's motion in its own facing frame and the joints relative to the root, so the
residual follows the generated body wherever it turns; joints are recovered from the sum as always.

:class:`ExemplarStore` holds the real windows for this: every train clip as its features recover it (the
canonical HumanML3D skeleton), stored compactly — per frame the root's ground position and half-yaw in fp32
and the 22 joints relative to the root's ground position in fp16 (< 0.5 mm error) — so the recovery channels
of a crop starting anywhere are rebuilt from it. Mirrored windows use the mirror of the original window's
residual.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .motion.humanml3d import FEATURE_DIM, floor_height, lower_heights, recover_joints
from .motion.quaternion import qrot, yaw_quat

__all__ = ["Exemplar", "ExemplarStore", "decode_with_exemplars", "mirror_channels"]


@dataclass
class ExemplarStore:
    """Per clip ``c``: frames ``offsets[c] : offsets[c] + frames[c]`` of ``root_xz (F, 2)`` (m),
    ``half_yaw (F,)`` (rad, the recovery's root half-angle) and ``local (F, 22, 3)`` (m, joints minus the
    root's ground position; y absolute)."""

    offsets: np.ndarray
    frames: np.ndarray
    root_xz: np.ndarray
    half_yaw: np.ndarray
    local: np.ndarray

    def __post_init__(self) -> None:
        total = int(self.frames.sum()) if len(self.frames) else 0
        if (self.root_xz.shape != (total, 2) or self.half_yaw.shape != (total,)
                or self.local.shape != (total, 22, 3) or self.offsets.shape != self.frames.shape):
            raise ValueError("exemplar store: offsets/frames (C,), root_xz (F, 2), half_yaw (F,), local (F, 22, 3) "
                             f"with F = sum(frames) expected, got {self.root_xz.shape}, {self.half_yaw.shape}, "
                             f"{self.local.shape}, {self.offsets.shape}, {self.frames.shape}")

    @classmethod
    def from_feats(cls, feats: list[np.ndarray]) -> "ExemplarStore":
        """The store of clips given as de-normalised features ``(T_c, 263)`` each."""
        roots, yaws, locals_ = [], [], []
        for f in feats:
            if f.ndim != 2 or f.shape[1] != FEATURE_DIM:
                raise ValueError(f"clip features must be (T, {FEATURE_DIM}), got {f.shape}")
            joints = recover_joints(np.ascontiguousarray(f, dtype=np.float32))
            rot_vel = f[:, 0].astype(np.float64)
            yaws.append(np.concatenate([[0.0], np.cumsum(rot_vel[:-1])]).astype(np.float32))
            roots.append(joints[:, 0, [0, 2]].astype(np.float32))
            loc = joints.copy()
            loc[..., 0] -= joints[:, :1, 0]
            loc[..., 2] -= joints[:, :1, 2]
            locals_.append(loc.astype(np.float16))
        frames = np.array([len(f) for f in feats], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(frames)[:-1]]).astype(np.int64) if len(frames) else frames
        return cls(offsets, frames, np.concatenate(roots), np.concatenate(yaws), np.concatenate(locals_))

    # ------------------------------------------------------------------ storage
    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"ex_offsets": torch.from_numpy(self.offsets), "ex_frames": torch.from_numpy(self.frames),
                "ex_root_xz": torch.from_numpy(self.root_xz), "ex_half_yaw": torch.from_numpy(self.half_yaw),
                "ex_local": torch.from_numpy(self.local.astype(np.float16))}

    @classmethod
    def from_state_dict(cls, sd: dict[str, torch.Tensor]) -> "ExemplarStore | None":
        keys = ("ex_offsets", "ex_frames", "ex_root_xz", "ex_half_yaw", "ex_local")
        if not all(k in sd for k in keys):
            return None
        return cls(sd["ex_offsets"].long().numpy(), sd["ex_frames"].long().numpy(),
                   sd["ex_root_xz"].float().numpy(), sd["ex_half_yaw"].float().numpy(),
                   sd["ex_local"].to(torch.float16).numpy())

    # ------------------------------------------------------------------ crops
    def crop(self, clip: int, start: int, n: int) -> np.ndarray:
        """``(n, 22, 3)`` joints of feature frames ``start : start + n`` of clip ``clip``, in the frame their
        recovery would give (pelvis over the origin at the first frame, root half-yaw 0 there)."""
        sl = self._slice(clip, start, n)
        root = self.root_xz[sl].astype(np.float64)
        world = self.local[sl].astype(np.float64)
        world[..., 0] += (root[:, 0] - root[0, 0])[:, None]
        world[..., 2] += (root[:, 1] - root[0, 1])[:, None]
        turn = yaw_quat(torch.tensor(float(self.half_yaw[sl][0]), dtype=torch.float64))
        return qrot(turn, torch.from_numpy(world)).float().numpy()

    def channels(self, clip: int, start: int, n: int) -> np.ndarray:
        """``(n, 67)`` recovery channels (root rotation and linear velocity, root height, RIC) of feature frames
        ``start : start + n`` of clip ``clip``: :func:`~motionlcm_core.motion.humanml3d.recover_joints` of them
        gives :meth:`crop`. The last frame's velocities (which the recovery does not use) repeat the one before."""
        sl = self._slice(clip, start, n)
        end = min(sl.stop + 1, int(self.offsets[clip] + self.frames[clip]))
        yaw = torch.from_numpy(self.half_yaw[sl.start:end].astype(np.float64))
        root = np.zeros((end - sl.start, 3))
        root[:, [0, 2]] = self.root_xz[sl.start:end]
        out = np.zeros((n, 67))
        if end - sl.start > 1:
            step = torch.from_numpy(root[1:] - root[:-1])
            vel = qrot(yaw_quat(yaw[1:]), step).numpy()[:, [0, 2]]             # in the facing frame of t + 1
            rot = np.diff(yaw.numpy())
            k = min(n, len(rot))
            out[:k, 0], out[:k, 1:3] = rot[:k], vel[:k]
            out[k:, 0], out[k:, 1:3] = rot[k - 1], vel[k - 1]
        local = torch.from_numpy(self.local[sl].astype(np.float64))
        out[:, 3] = local[:, 0, 1].numpy()
        out[:, 4:67] = qrot(yaw_quat(yaw[:n])[:, None], local[:, 1:]).numpy().reshape(n, 63)
        return out.astype(np.float32)

    def _slice(self, clip: int, start: int, n: int) -> slice:
        if not (0 <= start and start + n <= int(self.frames[clip]) and n >= 1):
            raise ValueError(f"crop {start}:{start + n} outside clip {clip} of {int(self.frames[clip])} frames")
        return slice(int(self.offsets[clip]) + start, int(self.offsets[clip]) + start + n)


def mirror_channels(channels: np.ndarray) -> np.ndarray:
    """Left/right mirror of recovery channels ``(..., 67)``: turns and sideways velocity change sign, RIC
    joints swap sides with x negated (:func:`~motionlcm_core.motion.humanml3d.mirror_joints` in this form)."""
    from .motion.skeleton import MIRROR_PERMUTATION
    out = np.array(channels, dtype=np.float32, copy=True)
    out[..., 0] *= -1
    out[..., 1] *= -1
    ric = out[..., 4:67].reshape(out.shape[:-1] + (21, 3))
    ric = ric[..., [MIRROR_PERMUTATION[j] - 1 for j in range(1, 22)], :].copy()
    ric[..., 0] *= -1
    out[..., 4:67] = ric.reshape(out.shape[:-1] + (63,))
    return out


@dataclass(frozen=True)
class Exemplar:
    """A retrieved window for one clip: the latent the sampler starts from ``start (L, D)``, the latent
    ``ref (L, D)`` whose decoding the residual subtracts, the recovery channels ``real (F, 67)`` of the real
    motion ``ref`` encodes, and whether the residual is mirrored (a mirrored window's residual is its
    original's, mirrored)."""

    start: torch.Tensor
    ref: torch.Tensor
    real: np.ndarray
    mirrored: bool

    def support(self, n: int) -> np.ndarray:
        """``(n,)`` heights of the raised surfaces (steps, a stool) the real motion stands on in its centre
        ``n`` frames — the frames its clip keeps (:func:`decode_with_exemplars`); NaN where none
        (:func:`~motionlcm_core.motion.body.support_heights`). Mirroring keeps heights."""
        from .motion.body import support_heights
        start = max(0, (self.real.shape[0] - n) // 2)
        full = np.zeros((min(n, self.real.shape[0]), FEATURE_DIM), np.float32)
        full[:, :67] = self.real[start:start + n]
        return support_heights(recover_joints(full))

    @classmethod
    def encoded(cls, joints: np.ndarray, mirrored: bool, encode) -> "Exemplar":
        """The exemplar of real ``joints (F + 1, 22, 3)`` (mirrored first if ``mirrored``), encoded now:
        ``encode(feats (F, 263)) -> latent``."""
        feats = cls.features(joints, mirrored)
        return cls.from_features(feats, encode(feats))

    @staticmethod
    def features(joints: np.ndarray, mirrored: bool) -> np.ndarray:
        """``(F, 263)`` features of real ``joints (F + 1, 22, 3)``, mirrored first if ``mirrored``."""
        return Exemplar.features_many([joints], [mirrored])[0]

    @staticmethod
    def features_many(joints: Sequence[np.ndarray], mirrored: Sequence[bool]) -> list[np.ndarray]:
        """:meth:`features` of several crops, their inverse kinematics solved together."""
        from .motion.humanml3d import features_from_joints_many, mirror_joints
        return features_from_joints_many([mirror_joints(j) if m else j for j, m in zip(joints, mirrored)],
                                         retarget=False)

    @classmethod
    def from_features(cls, feats: np.ndarray, latent: torch.Tensor) -> "Exemplar":
        """The exemplar of real features ``feats (F, 263)`` whose encoding is ``latent``."""
        return cls(latent, latent, feats[:, :67].copy(), False)


@torch.no_grad()
def decode_with_exemplars(vae, stats, latents: torch.Tensor, lengths: list[int], refs: list[Exemplar | None],
                          floor: bool) -> tuple[torch.Tensor, np.ndarray, list[float]]:
    """Decode ``latents (B, L, D)`` to ``feats (B, T, 263)`` and ``joints (B, T, 22, 3)`` (T = max length),
    adding each clip's exemplar residual (module docstring) to the recovery channels — root motion in the
    root's own facing frame and joints relative to the root — so the residual follows the generated body
    wherever it turns. ``refs[b]`` None: plain decoding at ``lengths[b]``. A clip with an exemplar is decoded
    at ``L_b >= lengths[b]`` (the length its exemplar latent was encoded at) and its centre ``lengths[b]``
    frames are kept (recovered from their own start: over the origin, facing +Z). ``floor``: lower each clip
    so its lowest joint is at y = 0. Returns also the floor shifts (m)."""
    B = len(lengths)
    full = [ref.real.shape[0] if ref is not None and ref.real.shape[0] >= n else n for ref, n in zip(refs, lengths)]
    T = max(full)
    mask = torch.arange(T)[None] < torch.tensor(full)[:, None]                       # (B, T)
    dev = latents.device
    used = [b for b in range(B) if refs[b] is not None and refs[b].real.shape[0] == full[b]]
    z_ref = [refs[b].ref.to(dev, latents.dtype) for b in used]                      # one decoder pass for both
    both = stats.denormalize(vae.decode(torch.cat([latents, *[z[None] for z in z_ref]]),
                                        torch.cat([mask, mask[used]]).to(dev)).float()).cpu()
    feats_full, ref_feats = both[:B].clone(), both[B:].numpy()                       # (B, T, 263), (U, T, 263)
    for k, b in enumerate(used):
        n = full[b]
        residual = refs[b].real - ref_feats[k, :n, :67]
        feats_full[b, :n, :67] += torch.from_numpy(mirror_channels(residual) if refs[b].mirrored else residual)
    n_max = max(lengths)
    feats = torch.zeros(B, n_max, feats_full.shape[-1])
    joints = np.zeros((B, n_max, 22, 3), dtype=np.float32)
    shifts = []
    for b, n in enumerate(lengths):
        start = (full[b] - n) // 2
        f = feats_full[b, start:start + n]
        shift = floor_height(f) if floor else torch.tensor(0.0)
        f = lower_heights(f, shift) if floor else f
        feats[b, :n] = f
        joints[b, :n] = recover_joints(f).numpy()
        shifts.append(float(shift))
    return feats, joints, shifts
