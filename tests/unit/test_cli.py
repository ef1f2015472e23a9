"""The ``motionlcm`` command line on a tiny weights file: BVH and NPZ outputs, errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from motionlcm_core import MotionLCMPipeline
from motionlcm_core.cli import main
from motionlcm_core.io.bvh import read_bvh
from motionlcm_core.io.checkpoints import save_weights
from tests.unit.test_pipeline import tiny_config


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    pipe = MotionLCMPipeline.from_config(tiny_config(), device="cpu", seed=0)
    path = tmp_path_factory.mktemp("w") / "tiny.safetensors"
    save_weights(path, {"vae": pipe.vae.state_dict(), "denoiser": pipe.denoiser.state_dict(),
                        "controlnet": pipe.controlnet.state_dict(), "traj_encoder": pipe.traj_encoder.state_dict()},
                 pipe.cfg, training={"untrained": True})
    return path


def test_generate_bvh(tmp_path, weights, capsys):
    out = tmp_path / "walk.bvh"
    rc = main(["generate", "a person walks forward", "--seconds", "2", "--seed", "0", "--model", str(weights),
               "--out", str(out)])
    assert rc == 0
    captured = capsys.readouterr()
    assert "UNTRAINED" in captured.err and "wrote" in captured.out
    joints, fps = read_bvh(out)
    assert joints.shape == (40, 22, 3) and fps == pytest.approx(20)


def test_generate_npz_matches_api(tmp_path, weights):
    out = tmp_path / "walk.npz"
    assert main(["generate", "a person walks", "--seconds", "2", "--seed", "5", "--steps", "2",
                 "--model", str(weights), "--out", str(out)]) == 0
    data = np.load(out)
    settings = json.loads(str(data["settings"]))
    assert data["joints"].shape == (40, 22, 3) and data["feats"].shape == (40, 263)
    assert settings["seed"] == 5 and settings["num_steps"] == 2
    ref = MotionLCMPipeline.from_pretrained(weights, device="cpu").generate(
        ["a person walks"], seconds=2, seed=5, num_steps=2)
    np.testing.assert_allclose(data["joints"], ref.clip(0), atol=1e-5)
    assert data["joints"][..., 1].min() == pytest.approx(0.0, abs=1e-5) and settings["floor_shift_m"] is not None
    raw, own = tmp_path / "raw.npz", tmp_path / "own.npz"
    for path, flags in ((raw, ["--raw-body"]), (own, ["--raw-body", "--no-floor"])):
        assert main(["generate", "a person walks", "--seconds", "2", "--seed", "5", "--steps", "2", *flags,
                     "--model", str(weights), "--out", str(path)]) == 0
    raw_joints = np.load(raw)["joints"]
    np.testing.assert_allclose(np.load(own)["joints"][..., 1] - settings["floor_shift_m"][0], raw_joints[..., 1],
                               atol=1e-5)
    assert json.loads(str(np.load(raw)["settings"]))["body"] is None
    bones = np.linalg.norm(data["joints"][:, 4] - data["joints"][:, 1], axis=-1)   # the body: rigid bones
    assert np.ptp(bones) < 1e-5 and not np.allclose(raw_joints, data["joints"])


def test_cli_errors(tmp_path, weights, capsys):
    assert main(["generate", "", "--model", str(weights), "--out", str(tmp_path / "a.bvh")]) == 2
    assert "non-empty" in capsys.readouterr().err
    assert main(["generate", "walk", "--model", str(weights), "--out", str(tmp_path / "a.txt")]) == 2
    assert main(["generate", "walk", "--seconds", "60", "--model", str(weights), "--out",
                 str(tmp_path / "a.bvh")]) == 2
    assert "Longer shots" in capsys.readouterr().err


def test_generate_with_pins(tmp_path, weights):
    out = tmp_path / "pinned.npz"
    assert main(["generate", "a person walks", "--seconds", "2", "--seed", "1", "--model", str(weights),
                 "--pin", "pelvis@10=0.2,0.9,0.5", "--pin", "right_wrist@30=-0.3,1.4,0.8", "--out", str(out)]) == 0
    joints = np.load(out)["joints"]
    assert np.linalg.norm(joints[10, 0] - [0.2, 0.9, 0.5]) < 1e-3
    assert np.linalg.norm(joints[30, 21] - [-0.3, 1.4, 0.8]) < 1e-2


def test_bad_pin(tmp_path, weights, capsys):
    assert main(["generate", "walk", "--seconds", "2", "--model", str(weights), "--pin", "elbow@3=1,2,3",
                 "--out", str(tmp_path / "a.npz")]) == 2
    assert "JOINT@FRAME" in capsys.readouterr().err


def test_eval_probes_runs_the_shared_suite_on_a_model(tmp_path, weights, monkeypatch):
    """``motionlcm eval --probes`` machinery on the tiny model: the suite's own tests judge its clips (an
    untrained model passes none) and the report names every run; a missing suite is a clear error."""
    from motionlcm_core.eval import probes as probe_eval
    try:
        suite = probe_eval.load_probe_suite()
    except FileNotFoundError:
        pytest.skip("../shared/probes is not here")
    pipe = MotionLCMPipeline.from_pretrained(weights, device="cpu")
    names = ["walk_forward", "jump_in_place"]
    raw = probe_eval.ProbeRun("raw", probe_eval.run_model(suite, pipe, seeds=(0, 1), names=names, body=False))
    held = probe_eval.ProbeRun("body", probe_eval.run_model(suite, pipe, seeds=(0, 1), names=names))
    text, record = probe_eval.report(suite, [raw, held], model="tiny")
    assert "| raw | 0/2 |" in text and "| body |" in text and "## body" in text
    assert [r["label"] for r in record["runs"]] == ["raw", "body"]
    assert record["runs"][1]["implausible_by_measure"].get("bone_cv", 0) == 0   # the body pass: rigid bones
    assert record["runs"][0]["implausible_by_measure"].get("bone_cv", 0) > 0     # the random model stretches
    monkeypatch.setenv("MOTIONLCM_PROBES_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="MOTIONLCM_PROBES_DIR"):
        probe_eval.load_probe_suite()
