# SPDX-License-Identifier: GPL-3.0-or-later
"""A tiny synthetic body model with the structure of the licensed SMPL / SMPL-X files (bpy-free).

A stick figure on the SMPL-22 rest joints: a 6-vertex ring around every joint (the joint's J_regressor row
averages it, so regressed joints equal the stick joints on the template) and 3 rings along every bone,
skinned between the bone's two joints (rows sum to 1). Extra joints (SMPL hands: 24 joints; SMPL-X: 55)
hang off the wrists/head so their weights must be merged into SMPL-22 ancestors.
"""
from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import numpy as np

from motionlcm_core.motion.skeleton import PARENTS


def _smpl_rest():
    """``blender_addon/smpl_rest.py`` (bpy-free) loaded without importing the bpy add-on package."""
    path = Path(__file__).resolve().parents[3] / "blender_addon" / "smpl_rest.py"
    spec = importlib.util.spec_from_file_location("_tiny_body_smpl_rest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

RING = 6
#: SMPL-X joints 22..54: jaw, eyes (under the head), then 15 finger joints per hand in chains of 3.
SMPLX_EXTRA_PARENTS = (15, 15, 15) + sum(((20, 25 + 3 * k, 26 + 3 * k) for k in range(5)), ()) \
    + sum(((21, 40 + 3 * k, 41 + 3 * k) for k in range(5)), ())


def skeleton(kind: str) -> tuple[np.ndarray, list[int]]:
    """Rest joints [J, 3] (model frame, centred like SMPL: pelvis near the origin) and parents [J]."""
    joints = _smpl_rest().rest_joints() - np.array([0.0, 1.0, 0.0])
    extra = {"smpl": (20, 21), "smplx": SMPLX_EXTRA_PARENTS}[kind]
    parents = list(PARENTS) + list(extra)
    pts = list(joints)
    rng = np.random.default_rng(7)
    for j, p in enumerate(extra, start=22):
        pts.append(pts[p] + np.array([0.04 * np.sign(pts[p][0] + 1e-9), 0.0, 0.0]) + rng.normal(0, 0.01, 3))
    return np.array(pts), parents


def _ring(center: np.ndarray, radius: float) -> np.ndarray:
    a = np.linspace(0.0, 2 * np.pi, RING, endpoint=False)
    return center + radius * np.stack([np.cos(a), np.sin(a), 0.5 * np.sin(2 * a)], axis=1)


def build(kind: str = "smpl", num_betas: int = 10, seed: int = 0) -> dict:
    """Model fields (``v_template``, ``shapedirs``, ``posedirs``, ``J_regressor``, ``weights``,
    ``kintree_table``, ``f``) of a tiny synthetic model."""
    joints, parents = skeleton(kind)
    n_j = len(joints)
    verts, weights, faces, jreg_rows = [], [], [], []
    for j in range(n_j):
        jreg_rows.append(list(range(len(verts), len(verts) + RING)))
        verts.extend(_ring(joints[j], 0.03))
        weights.extend([{j: 1.0}] * RING)
    for j in range(1, n_j):
        p, prev = parents[j], jreg_rows[parents[j]]
        for t in (0.25, 0.5, 0.75):
            start = len(verts)
            verts.extend(_ring(joints[p] + t * (joints[j] - joints[p]), 0.04))
            weights.extend([{p: 1.0 - t, j: t}] * RING)
            cur = list(range(start, start + RING))
            faces.extend(_strip(prev, cur))
            prev = cur
        faces.extend(_strip(prev, jreg_rows[j]))
    n_v = len(verts)
    w = np.zeros((n_v, n_j))
    for i, row in enumerate(weights):
        for j, val in row.items():
            w[i, j] += val
    jreg = np.zeros((n_j, n_v))
    for j, idx in enumerate(jreg_rows):
        jreg[j, idx] = 1.0 / RING
    rng = np.random.default_rng(seed)
    return {"v_template": np.array(verts), "shapedirs": rng.normal(0, 0.01, (n_v, 3, num_betas)),
            "posedirs": rng.normal(0, 0.001, (n_v, 3, 9 * (n_j - 1))), "J_regressor": jreg, "weights": w,
            "kintree_table": np.array([[2**32 - 1] + parents[1:], list(range(n_j))], dtype=np.int64),
            "f": np.array(faces, dtype=np.int64)}


def _strip(a: list[int], b: list[int]) -> list[tuple[int, int, int]]:
    """Triangles joining two rings of equal size."""
    out = []
    for k in range(RING):
        k1 = (k + 1) % RING
        out += [(a[k], a[k1], b[k]), (a[k1], b[k1], b[k])]
    return out


def write_tiny_body(path: Path, kind: str = "smpl", **kw) -> Path:
    """Write the tiny model as ``.npz`` (or as a numpy/scipy-only ``.pkl`` when the suffix is .pkl)."""
    data = build(kind, **kw)
    path = Path(path)
    if path.suffix == ".pkl":
        import scipy.sparse
        data = dict(data, J_regressor=scipy.sparse.csc_matrix(data["J_regressor"]))
        path.write_bytes(pickle.dumps(data, protocol=2))
    else:
        np.savez(path, **data)
    return path


class _Evil:
    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        import os
        return (os.system, (f"touch {self.marker}",))


def write_malicious_pkl(path: Path, marker: Path) -> Path:
    """A model-looking pickle whose ``f`` field runs ``touch marker`` when unpickled by plain pickle."""
    data = dict(build("smpl"), f=_Evil(marker))
    Path(path).write_bytes(pickle.dumps(data, protocol=2))
    return Path(path)
