# SPDX-License-Identifier: GPL-3.0-or-later
"""SMPL / SMPL-H / SMPL-X body model files → shaped rest mesh, joints and SMPL-22 skinning weights (numpy).

The model files are licensed by the Max Planck Institute (MPI) and never shipped; the user supplies them.
Fields used (the structure ``smplx`` 0.1.28 reads): ``v_template`` [V, 3], ``shapedirs`` [V, 3, B],
``J_regressor`` [J, V] (dense or ``scipy.sparse``), ``weights`` [V, J], ``kintree_table`` [2, J] (row 0 =
parents), ``f`` [F, 3]. ``posedirs`` is not used (Blender's Armature modifier does plain linear blend
skinning, no pose correctives). SMPL has J = 24, SMPL-H 52, SMPL-X 55; the first 22 joints are SMPL-22 in
every family, and the weights of the others (hands, fingers, jaw, eyes) are merged into their nearest
SMPL-22 ancestor (wrists, head).

Loading is safe: ``.npz`` is read with ``allow_pickle=False``; ``.pkl`` goes through a restricted unpickler
that only builds numpy arrays and ``scipy.sparse`` matrices and refuses anything else (chumpy objects in the
official SMPL 1.0 pickles included: :data:`CONVERT_COMMAND` converts those to ``.npz`` once).
All geometry here is in the model frame: metres, Y up, facing +Z, left +X.
"""
from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motionlcm_core.motion.skeleton import NUM_JOINTS, PARENTS

#: Shape coefficients kept (the panel's betas 0-9; SMPL-X's later directions, incl. expressions, are dropped).
MAX_BETAS = 10
REQUIRED_KEYS: tuple[str, ...] = ("v_template", "shapedirs", "J_regressor", "weights", "kintree_table", "f")
#: One-line conversion of an official pickle to a safe ``.npz`` (run once, in a Python with chumpy installed).
CONVERT_COMMAND = ("python -c \"import pickle,sys,numpy as np; d=pickle.load(open(sys.argv[1],'rb'),"
                   "encoding='latin1'); np.savez(sys.argv[2],**{k:(d[k].toarray() if hasattr(d[k],'toarray') "
                   "else np.asarray(d[k])) for k in ('v_template','shapedirs','posedirs','J_regressor',"
                   "'weights','kintree_table','f')})\" SMPL_NEUTRAL.pkl SMPL_NEUTRAL.npz")
#: Globals a model pickle may reference: numpy array/dtype reconstruction, scipy.sparse matrices and
#: ``_codecs.encode`` (str → bytes, how protocol 2 stores bytes).
_SAFE_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    [(m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray") for n in ("_reconstruct", "scalar")]
    + [("numpy", "ndarray"), ("numpy", "dtype"), ("copyreg", "_reconstructor"), ("copy_reg", "_reconstructor"),
       ("builtins", "object"), ("__builtin__", "object"), ("_codecs", "encode")]
    + [(m, f"{k}_matrix") for k in ("csc", "csr", "coo")
       for m in ("scipy.sparse", f"scipy.sparse.{k}", f"scipy.sparse._{k}")])


@dataclass(frozen=True)
class BodyModel:
    """A loaded body model (model frame, metres). ``kind`` is ``"smpl"``, ``"smplh"`` or ``"smplx"``."""

    v_template: np.ndarray  # [V, 3] float64
    shapedirs: np.ndarray  # [V, 3, B] float64, B <= MAX_BETAS
    j_regressor: np.ndarray  # [J, V] float64 (dense)
    weights: np.ndarray  # [V, J] float64
    parents: np.ndarray  # [J] int64, -1 for the root
    faces: np.ndarray  # [F, 3] int64
    kind: str

    @property
    def num_betas(self) -> int:
        return int(self.shapedirs.shape[2])


@dataclass(frozen=True)
class BodyRest:
    """Shaped rest pose, lifted so the lowest vertex is on the floor (y = 0); model frame, metres."""

    vertices: np.ndarray  # [V, 3]
    joints: np.ndarray  # [22, 3] SMPL-22 rest joints (T-pose)
    lift: float  # metres added to y (= -min y of the unlifted vertices)


class _ModelUnpickler(pickle.Unpickler):
    """Unpickler that resolves only :data:`_SAFE_GLOBALS`; anything else raises ``UnpicklingError``."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _SAFE_GLOBALS:
            raise pickle.UnpicklingError(f"{module}.{name}")
        if module == "copy_reg":
            module = "copyreg"
        elif module == "__builtin__":
            module = "builtins"
        return super().find_class(module, name)


def _read_pickle(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            data = _ModelUnpickler(fh, encoding="latin1").load()
    except pickle.UnpicklingError as exc:
        raise ValueError(f"refused to load {path.name}: the pickle references {exc}, which is not a numpy or "
                         f"scipy.sparse type (arbitrary objects are never unpickled). If this is the official "
                         f"file, convert it once to .npz and select the .npz: {CONVERT_COMMAND}") from None
    except (EOFError, OSError, ImportError, AttributeError, TypeError, IndexError) as exc:
        raise ValueError(f"cannot read body model {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} is not an SMPL model file (a pickled dict is expected)")
    return data


def _read_npz(path: Path) -> dict:
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path.name} is not an .npz archive (an SMPL/SMPL-X model .npz file is expected)")
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"cannot read body model {path}: {exc} (an SMPL/SMPL-X .npz file is expected)") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"{path.name} holds a single array, not an SMPL/SMPL-X model (.npz archive of arrays)")
    with npz:
        out = {}
        for key in REQUIRED_KEYS:
            if key in npz.files:
                try:
                    out[key] = npz[key]
                except ValueError as exc:  # object array: would need pickle
                    raise ValueError(f"{path.name}: field {key!r} is a pickled object array ({exc}); "
                                     f"re-save it as a numeric array") from None
        return out


def _dense(a: object) -> np.ndarray:
    return np.asarray(a.toarray() if hasattr(a, "toarray") else a, dtype=np.float64)


def load_body_model(path: str | Path) -> BodyModel:
    """Load and validate an SMPL/SMPL-H/SMPL-X model file (``.npz``, or ``.pkl`` via a restricted unpickler).

    Raises ``ValueError`` naming the problem (missing file, unknown format, missing field, bad shape).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"body model file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".pkl"):
        raise ValueError(f"{path.name}: body model files are .npz (preferred) or .pkl")
    data = _read_npz(path) if suffix == ".npz" else _read_pickle(path)
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise ValueError(f"{path.name} is not an SMPL/SMPL-X model: missing field(s) {', '.join(missing)}")
    try:
        return _validated(data, path.name)
    except (TypeError, AttributeError) as exc:
        raise ValueError(f"{path.name}: a model field has the wrong type ({exc})") from None


def _validated(data: dict, name: str) -> BodyModel:
    v = np.asarray(data["v_template"], dtype=np.float64)
    shapedirs = np.asarray(data["shapedirs"])
    if shapedirs.ndim == 2:
        shapedirs = shapedirs[:, :, None]
    shapedirs = np.array(shapedirs[:, :, :MAX_BETAS], dtype=np.float64)  # copy: frees SMPL-X's 400 directions
    jreg, weights = _dense(data["J_regressor"]), _dense(data["weights"])
    parents = np.asarray(data["kintree_table"]).astype(np.int64)[0].copy() if np.ndim(data["kintree_table"]) == 2 \
        else np.zeros(0, dtype=np.int64)
    faces = np.asarray(data["f"]).astype(np.int64)
    n_v, n_j = v.shape[0], jreg.shape[0]
    checks = [(v.ndim == 2 and v.shape[1] == 3, f"v_template must be [V, 3], got {v.shape}"),
              (shapedirs.shape[:2] == (n_v, 3), f"shapedirs must be [V={n_v}, 3, B], got {shapedirs.shape}"),
              (jreg.shape == (n_j, n_v) and n_j >= NUM_JOINTS,
               f"J_regressor must be [J>=22, V={n_v}], got {jreg.shape}"),
              (weights.shape == (n_v, n_j), f"weights must be [V={n_v}, J={n_j}], got {weights.shape}"),
              (parents.shape == (n_j,), f"kintree_table must be [2, J={n_j}]"),
              (faces.ndim == 2 and faces.shape[1] == 3 and len(faces) > 0, f"f must be [F, 3], got {faces.shape}"),
              (faces.size == 0 or (faces.min() >= 0 and faces.max() < n_v), "f indexes vertices that do not exist")]
    for ok, msg in checks:
        if not ok:
            raise ValueError(f"{name}: {msg}")
    parents[0] = -1
    if tuple(int(p) for p in parents[:NUM_JOINTS]) != PARENTS:
        raise ValueError(f"{name}: the first 22 joints do not follow the SMPL kinematic tree")
    if np.any(weights.sum(axis=1) <= 0.0):
        raise ValueError(f"{name}: some vertices have no skinning weight")
    kind = {24: "smpl", 52: "smplh", 55: "smplx"}.get(n_j, f"smpl-like ({n_j} joints)")
    return BodyModel(v, shapedirs, jreg, weights, parents, faces, kind)


def shaped_vertices(model: BodyModel, betas: np.ndarray) -> np.ndarray:
    """Rest vertices [V, 3] = ``v_template + shapedirs[:, :, :n] · betas[:n]`` with n = min(len(betas), B)."""
    betas = np.asarray(betas, dtype=np.float64).reshape(-1)
    n = min(len(betas), model.num_betas)
    return model.v_template + model.shapedirs[:, :, :n] @ betas[:n]


def shape_rest(model: BodyModel, betas: np.ndarray) -> BodyRest:
    """Shaped rest vertices and SMPL-22 joints (``J_regressor @ vertices``), lifted onto the floor y = 0."""
    verts = shaped_vertices(model, betas)
    joints = model.j_regressor[:NUM_JOINTS] @ verts
    lift = -float(verts[:, 1].min())
    offset = np.array([0.0, lift, 0.0])
    return BodyRest(verts + offset, joints + offset, lift)


def body22_weights(model: BodyModel) -> np.ndarray:
    """Skinning weights [V, 22]: every joint beyond the first 22 adds into its nearest SMPL-22 ancestor;
    rows are renormalised to sum to 1."""
    target = np.arange(len(model.parents))
    for j in range(NUM_JOINTS, len(model.parents)):
        a = j
        while a >= NUM_JOINTS:
            a = int(model.parents[a])
            if a < 0:
                raise ValueError(f"joint {j} has no SMPL-22 ancestor")
        target[j] = a
    merged = np.zeros((model.weights.shape[0], NUM_JOINTS))
    np.add.at(merged.T, target, model.weights.T)
    return merged / merged.sum(axis=1, keepdims=True)

