"""Exemplar residuals: the retrieved training motion's own detail, added back after the VAE.

The embedded VAE (8 × 16 latent for up to 196 frames) smooths fast, small motions away: the reconstruction
of a real kick, wave or cartwheel no longer passes as one. With retrieval the sampler starts from the latent
``z_r`` of a real window ``x`` and ends at ``z_s``; the VAE's error on that window, ``x − D(z_r)``, is known
exactly, so the output is

    joints = D(z_s) + (x − D(z_r))          (in joint space, metres)

— the model's motion with the detail the decoder lost on its exemplar put back. Where the student keeps the
exemplar (``z_s ≈ z_r``) the result is the real motion; where it changes it, the change is the model's.

:class:`ExemplarStore` holds the real windows' joints for this: every train clip as its features would
recover them (the canonical HumanML3D skeleton), stored compactly — per frame the root's ground position and
half-yaw in fp32 and the 22 joints relative to the root's ground position in fp16 (< 0.5 mm error) — so a
crop starting anywhere is rebuilt exactly as :func:`~motionlcm_core.motion.humanml3d.recover_joints` of that
crop's features would give it. Mirrored windows use the mirror of the original window's residual.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .motion.humanml3d import FEATURE_DIM, recover_joints
from .motion.quaternion import qrot, yaw_quat

__all__ = ["Exemplar", "ExemplarStore", "canonical_crop", "decode_with_exemplars", "facing_half_yaw"]


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
        if not 0 <= start and start + n <= int(self.frames[clip]) and n >= 1:
            raise ValueError(f"crop {start}:{start + n} outside clip {clip} of {int(self.frames[clip])} frames")
        sl = slice(int(self.offsets[clip]) + start, int(self.offsets[clip]) + start + n)
        root = self.root_xz[sl].astype(np.float64)
        world = self.local[sl].astype(np.float64)
        world[..., 0] += (root[:, 0] - root[0, 0])[:, None]
        world[..., 2] += (root[:, 1] - root[0, 1])[:, None]
        turn = yaw_quat(torch.tensor(float(self.half_yaw[sl][0]), dtype=torch.float64))
        return qrot(turn, torch.from_numpy(world)).float().numpy()


@dataclass(frozen=True)
class Exemplar:
    """A retrieved window for one clip: the latent the sampler starts from ``start (L, D)``, the latent
    ``ref (L, D)`` whose decoding the residual subtracts, the real joints ``real (F, 22, 3)`` that ``ref``
    encodes, and whether the residual is mirrored (a mirrored window's residual is its original's, mirrored)."""

    start: torch.Tensor
    ref: torch.Tensor
    real: np.ndarray
    mirrored: bool

    @classmethod
    def encoded(cls, joints: np.ndarray, mirrored: bool, encode) -> "Exemplar":
        """The exemplar of real ``joints (F + 1, 22, 3)`` (mirrored first if ``mirrored``), encoded now:
        ``encode(feats (F, 263)) -> latent``; its real joints are what its features recover."""
        from .motion.humanml3d import features_from_joints, mirror_joints
        feats = features_from_joints(mirror_joints(joints) if mirrored else joints)
        latent = encode(feats)
        return cls(latent, latent, recover_joints(feats), False)


def facing_half_yaw(joints: np.ndarray) -> float:
    """Half of the yaw (rad) that turns the facing of ``joints (22, 3)`` (across-vector of hips and
    shoulders × up) onto +Z, in :func:`~motionlcm_core.motion.quaternion.yaw_quat`'s convention."""
    across = (joints[1] - joints[2]) + (joints[16] - joints[17])          # left hip − right hip + shoulders
    forward = np.array([-across[2], 0.0, across[0]])                      # across × up
    heading = np.arctan2(forward[0], forward[2])                          # 0 when facing +Z
    return float(-heading / 2.0)


def canonical_crop(joints: np.ndarray, start: int, n: int) -> np.ndarray:
    """``joints (T, 22, 3)`` frames ``start : start + n`` moved so the first frame's pelvis is over the origin
    and faces +Z (the data's canonical frame; heights kept)."""
    out = np.array(joints[start:start + n], dtype=np.float64)
    out[..., 0] -= out[0, 0, 0]
    out[..., 2] -= out[0, 0, 2]
    turn = yaw_quat(torch.tensor(facing_half_yaw(out[0]), dtype=torch.float64))
    return qrot(turn, torch.from_numpy(out)).float().numpy()


@torch.no_grad()
def decode_with_exemplars(vae, stats, latents: torch.Tensor, lengths: list[int],
                          refs: list[Exemplar | None],
                          floor: bool) -> tuple[torch.Tensor, np.ndarray, list[float]]:
    """Decode ``latents (B, L, D)`` to ``feats (B, T, 263)`` and ``joints (B, T, 22, 3)`` (T = max length),
    adding each clip's exemplar residual (module docstring); ``refs[b]`` None: plain decoding at
    ``lengths[b]``. A clip with an exemplar
    is decoded at ``L_b >= lengths[b]`` (the length its exemplar latent was encoded at) and its centre
    ``lengths[b]`` frames are kept, re-centred and turned to face +Z. ``floor``: lower each clip so its lowest
    joint is at y = 0. Returns also the floor shifts (m)."""
    from .motion.humanml3d import lower_heights, mirror_joints

    B = len(lengths)
    full = [ref.real.shape[0] if ref is not None and ref.real.shape[0] >= n else n for ref, n in zip(refs, lengths)]
    T = max(full)
    mask = torch.arange(T)[None] < torch.tensor(full)[:, None]                       # (B, T)
    dtype = next(vae.parameters()).dtype
    dev = latents.device
    feats_full = stats.denormalize(vae.decode(latents, mask.to(dev)).float()).cpu()    # (B, T, 263)
    joints_full = recover_joints(feats_full).numpy()
    used = [b for b in range(B) if refs[b] is not None and refs[b].real.shape[0] == full[b]]
    if used:
        z_ref = torch.stack([refs[b].ref for b in used]).to(dev, dtype)
        ref_feats = stats.denormalize(vae.decode(z_ref, mask[used].to(dev)).float()).cpu()
        ref_joints = recover_joints(ref_feats).numpy()
        for k, b in enumerate(used):
            n = full[b]
            residual = refs[b].real - ref_joints[k, :n]
            joints_full[b, :n] += mirror_joints(residual) if refs[b].mirrored else residual
    n_max = max(lengths)
    feats = torch.zeros(B, n_max, feats_full.shape[-1])
    joints = np.zeros((B, n_max, 22, 3), dtype=np.float32)
    shifts = []
    for b, n in enumerate(lengths):
        start = (full[b] - n) // 2
        clip = canonical_crop(joints_full[b], start, n) if b in used else joints_full[b, :n]
        f = feats_full[b, start:start + n]
        shift = float(clip[..., 1].min()) if floor else 0.0
        clip[..., 1] -= shift
        joints[b, :n] = clip
        feats[b, :n] = lower_heights(f, torch.tensor(shift)) if floor else f
        shifts.append(shift)
    return feats, joints, shifts
