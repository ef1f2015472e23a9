"""HumanML3D 263-d goldens: official ``process_file`` features and ``recover_from_ric`` joints.

Every ``<golden_dir>/humanml3d/*.npz`` is a case (clip names and counts are not hard-coded).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from motionlcm_core.motion import FOOT_CONTACT, features_from_joints, humanml3d_control_stats, humanml3d_stats, \
    recover_joints
from tests.golden.conftest import resolve_golden_dir

TOL = dict(atol=1e-5, rtol=0)
CASES = sorted((resolve_golden_dir() / "humanml3d").glob("*.npz"))


@pytest.fixture(params=CASES, ids=[p.stem for p in CASES])
def case(request: pytest.FixtureRequest) -> dict[str, np.ndarray]:
    with np.load(request.param) as data:
        return {k: data[k] for k in data.files}


def _need(case: dict[str, np.ndarray], *keys: str) -> None:
    missing = [k for k in keys if k not in case]
    if missing:
        pytest.skip(f"case has no {missing}")


def test_cases_discovered(golden_dir: Path) -> None:
    assert CASES, f"no *.npz under {golden_dir / 'humanml3d'}"


def test_features_from_joints(case: dict[str, np.ndarray]) -> None:
    _need(case, "input_joints", "features")
    feats = features_from_joints(case["input_joints"], tgt_offsets=case.get("tgt_offsets"))
    expected = case["features"]
    assert feats.shape == expected.shape and feats.dtype == np.float32
    np.testing.assert_array_equal(feats[:, FOOT_CONTACT], expected[:, FOOT_CONTACT])
    np.testing.assert_allclose(feats, expected, **TOL)


def test_recover_joints_numpy(case: dict[str, np.ndarray]) -> None:
    _need(case, "features", "recover_from_ric")
    np.testing.assert_allclose(recover_joints(case["features"]), case["recover_from_ric"], **TOL)
    if "recover_from_ric_notebook" in case:
        np.testing.assert_allclose(recover_joints(case["features"]), case["recover_from_ric_notebook"], **TOL)


def test_recover_joints_torch_batched(case: dict[str, np.ndarray]) -> None:
    _need(case, "features", "recover_from_ric")
    feats = torch.from_numpy(case["features"])[None].repeat(2, 1, 1)     # (2, T, 263)
    joints = recover_joints(feats)
    assert joints.shape == (2,) + case["recover_from_ric"].shape and joints.dtype == torch.float32
    for b in range(2):
        np.testing.assert_allclose(joints[b].numpy(), case["recover_from_ric"], **TOL)


def test_normalized_features(case: dict[str, np.ndarray]) -> None:
    _need(case, "features", "normalized_features")
    stats = humanml3d_stats()
    np.testing.assert_allclose(stats.normalize(case["features"]), case["normalized_features"], atol=1e-5, rtol=1e-6)
    np.testing.assert_allclose(stats.denormalize(case["normalized_features"]), case["features"], **TOL)


@pytest.mark.parametrize("names, getter", [(("Mean.npy", "Std.npy"), humanml3d_stats),
                                           (("Mean_raw.npy", "Std_raw.npy"), humanml3d_control_stats)])
def test_shipped_stats_equal_golden(golden_dir: Path, names: tuple[str, str], getter) -> None:
    paths = [golden_dir / "humanml3d" / n for n in names]
    if not all(p.is_file() for p in paths):
        pytest.skip(f"{names} not in the golden set")
    stats = getter()
    np.testing.assert_array_equal(stats.mean, np.load(paths[0]))
    np.testing.assert_array_equal(stats.std, np.load(paths[1]))
