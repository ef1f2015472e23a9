"""Exact pass: pinned joints meet their targets to well under 1 mm, corrected smoothly over nearby frames.

Applied to generated joints ``(B, T, 22, 3)`` (metres, model frame) before retargeting. Design:

1. **Displacement field.** For every pinned joint the residual ``target − joint`` at its pinned frames is
   interpolated over time: pins closer than ``2·window`` frames are joined by a monotone cubic (PCHIP
   tangents, no overshoot); at the ends of a run the correction fades to zero over ``window`` frames with
   a smoothstep. The field equals the residual exactly at pinned frames and has a continuous velocity,
   so no pops. Pins on the first or last frame simply have a one-sided fade.
2. **Pelvis pins** translate the whole skeleton by the pelvis field: every bone length is kept.
   With ``keep_feet`` the feet that were on the floor are re-planted by leg IK, so the translation does
   not add foot skating.
3. **Other pins**, shallow joints first: the pinned joint is moved to ``joint + field`` by analytic
   two-bone IK over the two bones above it (e.g. shoulder→elbow→wrist), keeping the elbow/knee on its
   side; a foot pin moves the ankle by leg IK and the foot follows. When the parent is itself pinned, or
   the grandparent is the pelvis, only the last bone turns. Descendants follow by translation, so **every
   bone length is kept**. Targets out of reach leave a residual, which is reported.

4. **Body assist.** What a limb cannot reach (e.g. a foot below a straight leg, a head pin above the
   neck's reach) is taken up by shifting the whole body towards it, at most ``max_assist`` metres per
   frame, with a field that is zero on pelvis-pinned frames (feet re-planted); the limbs are solved again.
5. **Torso lean.** A hand or head pin still out of reach (typically with the pelvis pinned on the same
   frame) leans the upper body rigidly about spine1 until the limb's root is within reach, at most
   ``max_lean_deg``, spread over the same window; bone lengths are kept.

Several joints on one frame are handled in depth order, repeated for ``sweeps`` Gauss–Seidel sweeps.
Pins still not met (beyond the assist, or conflicting: hands pinned further apart than the arms span)
keep their residual, which is reported.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionlcm_core.control.field import displacement_field
from motionlcm_core.control.targets import as_numpy, check_pins_within, per_axis
from motionlcm_core.geometry import one_bone_ik, rotvec_matrix, two_bone_ik, unit
from motionlcm_core.motion.skeleton import NUM_JOINTS, PARENTS

__all__ = ["ExactConfig", "ExactOutput", "apply_exact"]

#: A foot pin is met by moving its ankle (leg IK); the foot keeps its offset from the ankle.
_CARRIED_BY: dict[int, int] = {10: 7, 11: 8}
_DEPTH = [0] * NUM_JOINTS
for _j in range(1, NUM_JOINTS):
    _DEPTH[_j] = _DEPTH[PARENTS[_j]] + 1
_CHILDREN = [[c for c in range(NUM_JOINTS) if PARENTS[c] == j] for j in range(NUM_JOINTS)]


def _subtree(j: int) -> list[int]:
    out, stack = [], [j]
    while stack:
        k = stack.pop()
        out.append(k)
        stack.extend(_CHILDREN[k])
    return out


_SUBTREE = [_subtree(j) for j in range(NUM_JOINTS)]


@dataclass(frozen=True)
class ExactConfig:
    """``window`` frames (20 fps) over which a correction fades; ``tolerance`` metres for early exit;
    ``max_assist`` metres the whole body may shift towards a pin its limb cannot reach (0 = never)."""

    window: int = 18
    keep_feet: bool = True
    max_assist: float = 0.25
    max_lean_deg: float = 40.0
    contact_height: float = 0.05
    sweeps: int = 4
    tolerance: float = 1e-5

    def __post_init__(self) -> None:
        if self.window < 1 or self.sweeps < 1:
            raise ValueError(f"window and sweeps must be >= 1, got {self.window}, {self.sweeps}")
        if not (self.contact_height > 0 and self.tolerance > 0 and self.max_assist >= 0):
            raise ValueError("contact_height and tolerance must be > 0 and max_assist >= 0 (metres)")


@dataclass
class ExactOutput:
    """``joints (B, T, 22, 3)`` float32; ``residual (B, T, 22)`` metres at pins (0 elsewhere)."""

    joints: np.ndarray
    residual: np.ndarray

    @property
    def max_residual(self) -> float:
        return float(self.residual.max()) if self.residual.size else 0.0


# ----------------------------------------------------------------------------- inverse kinematics
def _move_subtree(joints: np.ndarray, root: int, delta: np.ndarray, skip: int | None = None) -> None:
    """Translate ``root`` and its descendants (except ``skip``'s subtree) by ``delta (N, 3)`` in place."""
    skipped = set(_SUBTREE[skip]) if skip is not None else set()
    idx = [k for k in _SUBTREE[root] if k not in skipped]
    joints[:, idx] += delta[:, None]


def _chain_end(j: int, pinned: np.ndarray) -> int:
    """The joint IK places for a pin on ``j``: the ankle for a foot pin (unless the ankle is pinned too)."""
    carrier = _CARRIED_BY.get(j)
    return carrier if carrier is not None and not pinned[carrier] else j


def _reach(joints: np.ndarray, j: int, target: np.ndarray, end: int, one_bone: bool) -> None:
    """Move joint ``j`` of ``joints (N, 22, 3)`` to ``target (N, 3)`` in place by placing ``end`` (``j`` or
    the ankle carrying a foot) with one- or two-bone IK; descendants follow by translation."""
    goal = target - (joints[:, j] - joints[:, end])
    p = PARENTS[end]
    g = PARENTS[p] if p > 0 else -1
    if one_bone or g <= 0:
        new_end = one_bone_ik(joints[:, p], joints[:, end], goal)
    else:
        a, b, c = joints[:, g], joints[:, p], joints[:, end]
        new_p, new_end = two_bone_ik(a, b, goal, np.linalg.norm(b - a, axis=-1), np.linalg.norm(c - b, axis=-1))
        _move_subtree(joints, p, new_p - joints[:, p], skip=end)
    _move_subtree(joints, end, new_end - joints[:, end])


# ----------------------------------------------------------------------------- the pass
def _field_for(joints: np.ndarray, targets: np.ndarray, frames: np.ndarray, j: int, window: int) -> np.ndarray:
    return displacement_field(frames, targets[frames, j] - joints[frames, j], len(joints), window)


def _foot_shift(foot_height: np.ndarray, shift: np.ndarray, cfg: ExactConfig) -> np.ndarray:
    """Shift ``(T, 3)`` a foot takes when the pelvis moves by ``shift (T, 3)``: in each floor-contact phase of
    ``foot_height (T,)`` the horizontal shift of the phase's middle frame (a planted foot stays put), blended
    smoothly into the pelvis shift in the air; the foot's height is never shifted (the legs absorb it)."""
    from scipy import ndimage
    contact = foot_height < cfg.contact_height
    out = shift.copy()
    out[:, 1] = 0.0
    if not contact.any():
        return out
    labels, count = ndimage.label(contact)
    middle = np.round(ndimage.mean(np.arange(len(contact)), labels, np.arange(1, count + 1))).astype(int)
    nearest = ndimage.distance_transform_edt(~contact, return_distances=False, return_indices=True)[0]
    held = out[middle][labels[nearest] - 1]                       # (T, 3) the nearest phase's planted shift
    kernel = np.hanning(9)[1:-1]
    weight = np.clip(np.convolve(contact.astype(np.float64), kernel / kernel.sum(), mode="same"), 0.0, 1.0)
    return weight[:, None] * held + (1.0 - weight[:, None]) * out


def _replant_feet(joints: np.ndarray, before: np.ndarray, shift: np.ndarray, cfg: ExactConfig) -> None:
    """After a pelvis ``shift (T, 3)``, move each foot of ``joints`` to ``before`` + its :func:`_foot_shift`
    with leg IK, in place (as close as the leg reaches)."""
    for foot in (10, 11):
        undo = shift - _foot_shift(before[:, foot, 1], shift, cfg)
        rows = np.nonzero(np.abs(undo).sum(-1) > 1e-9)[0]
        if len(rows):
            sub = joints[rows]
            _reach(sub, foot, sub[:, foot] - undo[rows], end=_CARRIED_BY[foot], one_bone=False)
            joints[rows] = sub


def _shift_body(joints: np.ndarray, shift: np.ndarray, cfg: ExactConfig) -> None:
    """Translate the whole skeleton by ``shift (T, 3)`` in place, re-planting feet on the floor."""
    before = joints.copy()
    joints += shift[:, None]
    if cfg.keep_feet:
        _replant_feet(joints, before, shift, cfg)


def _goal(joints: np.ndarray, targets: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Targets ``(T, 22, 3)`` with each free axis (``axes`` False) following the joint as it is now."""
    return np.where(axes, targets, joints)


def _limb_sweep(joints: np.ndarray, targets: np.ndarray, axes: np.ndarray, cfg: ExactConfig) -> None:
    """One Gauss–Seidel sweep over the non-pelvis pinned joints, shallow joints first."""
    pins = axes.any(-1)
    for j in sorted((j for j in range(1, NUM_JOINTS) if pins[:, j].any()), key=lambda j: _DEPTH[j]):
        frames = np.nonzero(pins[:, j])[0]
        field = _field_for(joints, _goal(joints, targets, axes), frames, j, cfg.window)
        rows = np.nonzero(np.linalg.norm(field, axis=-1) > 1e-9)[0]
        if not len(rows):
            continue
        any_pins = pins[frames].any(axis=0)
        end = _chain_end(j, any_pins)
        sub = joints[rows]
        _reach(sub, j, sub[:, j] + field[rows], end=end, one_bone=bool(any_pins[PARENTS[end]]))
        joints[rows] = sub


def _assist_shift(joints: np.ndarray, targets: np.ndarray, axes: np.ndarray, cfg: ExactConfig) -> np.ndarray | None:
    """Body shift ``(T, 3)`` towards pins the limbs could not reach: per frame the mean residual, each
    clamped to ``max_assist`` m, zero on pelvis-pinned frames. None when nothing is left to do."""
    pins = axes.any(-1)
    residual = np.where(axes, targets - joints, 0.0)
    residual[:, 0] = 0.0
    dist = np.linalg.norm(residual, axis=-1, keepdims=True)
    residual *= np.minimum(1.0, cfg.max_assist / np.maximum(dist, 1e-12))
    count = (dist[..., 0] > cfg.tolerance).sum(axis=1)
    frames = np.nonzero((count > 0) & ~pins[:, 0])[0]
    if not len(frames) or cfg.max_assist == 0:
        return None
    values = residual[frames].sum(axis=1) / count[frames, None]
    keys = np.union1d(frames, np.nonzero(pins[:, 0])[0])
    full = np.zeros((len(joints), 3))
    full[frames] = values
    return displacement_field(keys, full[keys], len(joints), cfg.window)


_UPPER = [k for k in _SUBTREE[3] if k != 3]


def _torso_lean(joints: np.ndarray, targets: np.ndarray, pins: np.ndarray, cfg: ExactConfig) -> np.ndarray | None:
    """Lean the upper body (rigidly, about spine1) towards upper-body pins still out of reach, in place:
    each at most ``max_lean_deg``, averaged per frame, spread smoothly over ``window``. Returns the
    rotation vectors ``(T, 3)``, or None when nothing was to do. Bone lengths are kept."""
    upper = [j for j in _UPPER if pins[:, j].any()]
    if not upper or cfg.max_lean_deg <= 0:
        return None
    pivot = joints[:, 3]
    total, count = np.zeros((len(joints), 3)), np.zeros(len(joints))
    for j in upper:
        rows = np.nonzero(pins[:, j] & (np.linalg.norm(targets[:, j] - joints[:, j], axis=-1) > cfg.tolerance))[0]
        if not len(rows):
            continue
        # the limb's root (shoulder for a wrist, else the parent) must come within reach of the target
        root = PARENTS[PARENTS[j]] if j in (20, 21) else PARENTS[j]
        chain = [j, PARENTS[j]] if root != PARENTS[j] else [j]
        reach = sum(np.linalg.norm(joints[rows, k] - joints[rows, PARENTS[k]], axis=-1) for k in chain)
        to_target = np.linalg.norm(targets[rows, j] - joints[rows, root], axis=-1)
        excess = to_target - 0.999 * reach
        v, w = joints[rows, root] - pivot[rows], targets[rows, j] - pivot[rows]
        axis = np.cross(unit(v), unit(w))
        full = np.arctan2(np.linalg.norm(axis, axis=-1), np.einsum("ij,ij->i", unit(v), unit(w)))
        need = excess / np.maximum(np.linalg.norm(v, axis=-1), 1e-6)
        angle = np.clip(np.minimum(need, full), 0.0, np.radians(cfg.max_lean_deg))
        total[rows] += unit(axis) * angle[:, None]
        count[rows] += 1
    frames = np.nonzero(count)[0]
    if not len(frames):
        return None
    keys = np.union1d(frames, np.nonzero(pins[:, _UPPER].any(axis=1))[0])
    full = np.zeros((len(joints), 3))
    full[frames] = total[frames] / count[frames, None]
    lean = displacement_field(keys, full[keys], len(joints), cfg.window)
    rows = np.nonzero(np.linalg.norm(lean, axis=-1) > 1e-9)[0]
    rel = joints[rows][:, _UPPER] - pivot[rows, None]
    joints[np.ix_(rows, _UPPER)] = pivot[rows, None] + np.einsum("rij,rkj->rki", rotvec_matrix(lean[rows]), rel)
    return lean


def _solve_clip(joints: np.ndarray, targets: np.ndarray, axes: np.ndarray, cfg: ExactConfig) -> np.ndarray:
    """Exact pass on one clip, in place: ``joints, targets (T, 22, 3)`` float64, ``axes (T, 22, 3)`` bool (the
    pinned axes; a free axis is left to the motion)."""
    root_frames = np.nonzero(axes[:, 0].any(-1))[0]
    if len(root_frames):
        _shift_body(joints, _field_for(joints, _goal(joints, targets, axes), root_frames, 0, cfg.window), cfg)
    for sweep in range(cfg.sweeps):
        _limb_sweep(joints, targets, axes, cfg)
        if _clip_residual(joints, targets, axes).max(initial=0.0) < cfg.tolerance:
            break
        shift = _assist_shift(joints, targets, axes, cfg) if sweep < cfg.sweeps - 1 else None
        if shift is not None:
            _shift_body(joints, shift, cfg)
        if sweep < cfg.sweeps - 1:
            _torso_lean(joints, targets, axes.all(-1), cfg)          # only pins that fix every axis lean it
    return _clip_residual(joints, targets, axes)


def _clip_residual(joints: np.ndarray, targets: np.ndarray, axes: np.ndarray) -> np.ndarray:
    return np.where(axes.any(-1), np.linalg.norm((joints - targets) * axes, axis=-1), 0.0)


def _checked(joints, positions, mask, lengths) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    J, P, M = as_numpy(joints, "joints"), as_numpy(positions, "positions"), as_numpy(mask, "mask")
    if J.ndim != 4 or J.shape[2:] != (NUM_JOINTS, 3):
        raise ValueError(f"joints must be (B, T, 22, 3), got {J.shape}")
    B, T = J.shape[:2]
    if P.shape[0] != B or P.ndim != 4 or P.shape[1] > T or P.shape[2:] != (NUM_JOINTS, 3):
        raise ValueError(f"positions must be (B={B}, T<={T}, 22, 3), got {P.shape}")
    if M.shape not in (P.shape[:3], P.shape) or M.dtype != bool:
        raise ValueError(f"mask must be bool (B, T, 22) = {P.shape[:3]} or per axis {P.shape}, got {M.dtype} {M.shape}")
    M = per_axis(M)
    lengths = [T] * B if lengths is None else [int(n) for n in lengths]
    if len(lengths) != B or any(not 1 <= n <= T for n in lengths):
        raise ValueError(f"lengths must be {B} frame counts in [1, {T}], got {lengths}")
    check_pins_within(M, lengths)
    for b, n in enumerate(lengths):
        if not np.isfinite(P[b][M[b]]).all() or not np.isfinite(J[b, :n]).all():
            raise ValueError(f"sample {b}: pinned positions and joints must be finite")
    return J, P, M, lengths


def apply_exact(joints, positions, mask, lengths=None, cfg: ExactConfig = ExactConfig()) -> ExactOutput:
    """Meet pins exactly. ``joints (B, T, 22, 3)``, ``positions (B, T', 22, 3)`` metres (model frame),
    ``mask (B, T', 22)`` bool with ``T' <= T`` (or per axis ``(B, T', 22, 3)``: a free axis is left to the
    motion); numpy or torch. Frames past ``lengths[b]`` are untouched.

    Returns float32 joints and the residual ``(B, T, 22)`` metres at pins (non-zero only where a target is
    out of the skeleton's reach or pins conflict)."""
    J, P, M, lengths = _checked(joints, positions, mask, lengths)
    out = J.astype(np.float32, copy=True)
    residual = np.zeros(J.shape[:3], dtype=np.float32)
    for b, n in enumerate(lengths):
        pins = np.zeros((n, NUM_JOINTS, 3), dtype=bool)
        pins[: min(n, M.shape[1])] = M[b, :n]
        if not pins.any():
            continue
        targets = np.zeros((n, NUM_JOINTS, 3))
        targets[: min(n, P.shape[1])] = P[b, :n]
        clip = J[b, :n].astype(np.float64)
        residual[b, :n] = _solve_clip(clip, targets, pins, cfg)
        out[b, :n] = clip
    return ExactOutput(joints=out, residual=residual)


