"""BVH export (SMPL-22 skeleton) and import (SMPL-style or CMU-style names) of joint positions.

``write_bvh`` fits a T-pose skeleton to the clip (``fit_rest_offsets``), solves per-joint rotations with the
retarget solver and writes centimetres, Y up, ZYX Euler channels. ``read_bvh`` runs forward kinematics and
returns SMPL-22 joints in the model frame (Y up, metres; units detected from the leg length).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from motionlcm_core.motion.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS
from motionlcm_core.retarget.mapping import name_key
from motionlcm_core.retarget.rotations import euler_to_matrix, matrix_to_euler_zyx
from motionlcm_core.retarget.solve import fit_rest_offsets, offsets_to_positions, solve_deltas

_CM = 100.0
#: CMU (cgspeed) BVH joint heads -> SMPL-22 (same rules as the shared data set's ASF conversion).
CMU_JOINTS: dict[str, str | tuple[str, str, float]] = {
    "pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": ("Spine1", "Neck1", 0.5), "neck": "Neck1",
    "head": "Head", **{f"{s}_{j}": f"{S}{n}" for s, S in (("left", "Left"), ("right", "Right")) for j, n in (
        ("hip", "UpLeg"), ("knee", "Leg"), ("ankle", "Foot"), ("foot", "ToeBase"), ("shoulder", "Arm"),
        ("elbow", "ForeArm"), ("wrist", "Hand"))},
    "left_collar": ("Spine1", "LeftArm", 0.45), "right_collar": ("Spine1", "RightArm", 0.45),
}
_UNITS = (1.0, 0.01, 0.0254, 0.001)


def write_bvh(path: str | Path, joints: np.ndarray, fps: float = 20.0) -> None:
    """Write joints ``[T, 22, 3]`` (model frame, metres) as an SMPL-22 BVH in centimetres."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3) or not np.isfinite(joints).all():
        raise ValueError(f"joints must be finite [T, 22, 3] (model frame, metres), got {joints.shape}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    offsets = fit_rest_offsets(joints)
    deltas = solve_deltas(joints, offsets_to_positions(offsets))          # [T, 22, 3, 3]
    local = deltas.copy()
    local[:, 1:] = np.swapaxes(deltas[:, list(PARENTS[1:])], -1, -2) @ deltas[:, 1:]
    euler = matrix_to_euler_zyx(local)                                     # [T, 22, 3]
    lines = ["HIERARCHY"] + _hierarchy(0, offsets * _CM, 0)
    lines += ["MOTION", f"Frames: {joints.shape[0]}", f"Frame Time: {1.0 / fps:.8f}"]
    order = _dfs_order(0)
    for t in range(joints.shape[0]):
        vals = list(joints[t, 0] * _CM) + [v for j in order for v in euler[t, j]]
        lines.append(" ".join(f"{v:.6f}" for v in vals))
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_bvh(path: str | Path, scale: float | None = None) -> tuple[np.ndarray, float]:
    """Read a BVH (SMPL-style or CMU-style names) -> (joints ``[T, 22, 3]`` Y up metres, fps).

    ``scale`` (file unit -> metres) is detected from the leg length when ``None`` (m, cm, inch or mm).
    """
    names, parents, offsets, channels, motion, frame_time = _parse(Path(path).read_text(encoding="utf-8"))
    pos = _forward_kinematics(parents, offsets, channels, motion)         # [T, J, 3] file units
    joints = _to_smpl(names, pos)
    if scale is None:
        leg = np.median(np.linalg.norm(joints[:, 4] - joints[:, 1], axis=-1)
                        + np.linalg.norm(joints[:, 7] - joints[:, 4], axis=-1))
        scale = min(_UNITS, key=lambda u: abs(np.log(max(leg * u, 1e-9) / 0.85)))
    return joints * scale, 1.0 / frame_time


def _hierarchy(j: int, offsets: np.ndarray, depth: int) -> list[str]:
    pad = "  " * depth
    head = "ROOT" if j == 0 else "JOINT"
    chans = "CHANNELS 6 Xposition Yposition Zposition" if j == 0 else "CHANNELS 3"
    out = [f"{pad}{head} {JOINT_NAMES[j]}", pad + "{", f"{pad}  OFFSET {' '.join(f'{v:.6f}' for v in offsets[j])}",
           f"{pad}  {chans} Zrotation Yrotation Xrotation"]
    kids = [c for c in range(NUM_JOINTS) if PARENTS[c] == j]
    for c in kids:
        out += _hierarchy(c, offsets, depth + 1)
    if not kids:
        end = 0.3 * offsets[j]
        out += [f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET {' '.join(f'{v:.6f}' for v in end)}", pad + "  }"]
    return out + [pad + "}"]


def _dfs_order(j: int) -> list[int]:
    out = [j]
    for c in range(NUM_JOINTS):
        if PARENTS[c] == j:
            out += _dfs_order(c)
    return out


def _parse(text: str) -> tuple[list[str], list[int], np.ndarray, list[list[str]], np.ndarray, float]:
    tok = text.split()
    if not tok or tok[0].upper() != "HIERARCHY" or "MOTION" not in tok:
        raise ValueError("Not a BVH file: expected HIERARCHY ... MOTION sections")
    names, parents, offsets, channels, stack, i = [], [], [], [], [], 1
    while tok[i] != "MOTION":
        w = tok[i]
        if w in ("ROOT", "JOINT"):
            names.append(tok[i + 1])
            parents.append(stack[-1] if stack else -1)
            i += 2
        elif w == "End":
            names.append(None)
            parents.append(stack[-1])
            i += 2
        elif w == "{":
            stack.append(len(names) - 1)
            i += 1
        elif w == "}":
            stack.pop()
            i += 1
        elif w == "OFFSET":
            offsets.append([float(x) for x in tok[i + 1:i + 4]])
            channels.append([])
            i += 4
        elif w == "CHANNELS":
            n = int(tok[i + 1])
            channels[-1] = tok[i + 2:i + 2 + n]
            i += 2 + n
        else:
            raise ValueError(f"Unexpected token {w!r} in BVH hierarchy")
    n_frames, frame_time = int(tok[i + 2]), float(tok[i + 5])
    n_ch = sum(len(c) for c in channels)
    values = np.array(tok[i + 6:i + 6 + n_frames * n_ch], dtype=np.float64)
    if values.size != n_frames * n_ch:
        raise ValueError(f"BVH motion has {values.size} values, expected {n_frames} frames x {n_ch} channels")
    return names, parents, np.array(offsets), channels, values.reshape(n_frames, n_ch), frame_time


def _forward_kinematics(parents: list[int], offsets: np.ndarray, channels: list[list[str]],
                        motion: np.ndarray) -> np.ndarray:
    t, n = motion.shape[0], len(parents)
    pos, rot = np.zeros((t, n, 3)), np.zeros((t, n, 3, 3))
    col = 0
    for j in range(n):
        ch = channels[j]
        vals = motion[:, col:col + len(ch)]
        col += len(ch)
        rot_ch = [(c[0].upper(), k) for k, c in enumerate(ch) if c.lower().endswith("rotation")]
        local_r = euler_to_matrix(vals[:, [k for _, k in rot_ch]], "".join(a for a, _ in rot_ch)) if len(rot_ch) == 3 \
            else np.broadcast_to(np.eye(3), (t, 3, 3))
        local_t = offsets[j] + np.stack([vals[:, ch.index(f"{a}position")] if f"{a}position" in ch else np.zeros(t)
                                         for a in "XYZ"], -1)
        p = parents[j]
        pos[:, j] = local_t if p < 0 else pos[:, p] + np.einsum("tij,tj->ti", rot[:, p], local_t)
        rot[:, j] = local_r if p < 0 else rot[:, p] @ local_r
    return pos


def _to_smpl(names: list[str | None], pos: np.ndarray) -> np.ndarray:
    keys = {name_key(n): k for k, n in enumerate(names) if n}
    smpl = {j: keys.get(name_key(j)) for j in JOINT_NAMES}
    if all(v is not None for v in smpl.values()):
        return pos[:, [smpl[j] for j in JOINT_NAMES]]
    out = np.zeros((pos.shape[0], NUM_JOINTS, 3))
    missing = []
    for j, spec in CMU_JOINTS.items():
        a, b, w = (spec, spec, 0.0) if isinstance(spec, str) else spec
        if name_key(a) not in keys or name_key(b) not in keys:
            missing.append(f"{j}<-{spec}")
            continue
        out[:, JOINT_NAMES.index(j)] = (1 - w) * pos[:, keys[name_key(a)]] + w * pos[:, keys[name_key(b)]]
    if missing:
        raise ValueError(f"BVH joints not recognised as SMPL-22 or CMU names; missing: {missing[:6]}")
    return out
