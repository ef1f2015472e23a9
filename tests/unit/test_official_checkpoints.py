"""Official checkpoint layout: full V1/V2 key/shape sets, strict loading, refusals."""
from __future__ import annotations

import dataclasses
import json
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from motionlcm_core import MotionLCMPipeline, PinPassConfig
from motionlcm_core.config import v1_config, v2_config
from motionlcm_core.models import LatentDenoiser, MotionControlNet, MotionVAE, TrajectoryEncoder
from tests.golden_paths import golden_root, small_cases

MANIFESTS = golden_root() / "manifests"


def _manifest(name):
    path = MANIFESTS / name
    if not path.is_file():
        pytest.skip(f"{name} not available")
    return {k: tuple(v["shape"]) for k, v in json.loads(path.read_text())["keys"].items()}


def _shapes(prefix, module):
    return {f"{prefix}.{k}": tuple(v.shape) for k, v in module.state_dict().items()}


@pytest.mark.parametrize("version,ckpt", [("v2", "ckpt_motionlcm_control_s.json"), ("v2", "ckpt_mld_humanml.json"),
                                          ("v2", "ckpt_motionlcm_humanml.json"), ("v1", "ckpt_motionlcm_humanml_v1.json"),
                                          ("v1", "ckpt_motionlcm_control_t_v1.json")])
def test_full_config_matches_official_layout(version, ckpt):
    expected = {k: v for k, v in _manifest(ckpt).items() if not k.startswith("t2m_")}
    cfg = (v2_config if version == "v2" else v1_config)(control=any(k.startswith("controlnet.") for k in expected))
    if "denoiser.time_embedding.cond_proj.weight" not in expected:
        cfg = dataclasses.replace(cfg, denoiser=dataclasses.replace(cfg.denoiser, time_cond_proj_dim=None))
    got = {**_shapes("vae", MotionVAE(cfg.vae))}
    if any(k.startswith("denoiser.") for k in expected):
        den = LatentDenoiser(cfg.denoiser)
        got.update(_shapes("denoiser", den))
        if cfg.controlnet:
            got.update(_shapes("controlnet", MotionControlNet.from_denoiser(den, cfg.controlnet)))
            got.update(_shapes("traj_encoder", TrajectoryEncoder(cfg.traj_encoder)))
    assert got == expected


def _official_file(tmp_path, case_dir, extra=None):
    sd = load_file(str(case_dir / "weights.safetensors"))
    sd["t2m_moveencoder.main.0.weight"] = torch.zeros(4, 4)  # evaluator copies are accepted and ignored
    sd.update(extra or {})
    path = tmp_path / "motionlcm_control.ckpt"
    torch.save({"state_dict": sd}, path)
    cfg = json.loads((case_dir / "config.json").read_text())
    return path, cfg["overrides"], ("v1" if "configs_v1" in cfg["base_config_file"] else "v2")


@pytest.mark.parametrize("case_dir", small_cases(), ids=lambda p: p.name)
def test_official_layout_file_loads_and_generates(tmp_path, case_dir):
    path, overrides, version = _official_file(tmp_path, case_dir)
    pipe = MotionLCMPipeline.from_official_checkpoint(path, version=version, device="cpu", arch_overrides=overrides)
    assert pipe.has_controlnet and not pipe.has_teacher
    inputs = np.load(case_dir / "inputs.npz")
    gold = np.load(case_dir / "lcm_sampling.npz")
    lengths = inputs["lengths"].tolist()
    # the reference sampler has no floor rule (a vertical shift of each clip; see generate's ``floor``)
    res = pipe.generate(text_embeddings=inputs["text_emb"][:, 0], lengths=lengths, num_steps=1,
                        init_noise=torch.from_numpy(inputs["init_noise"]), passes=PinPassConfig(floor=False), body=False)
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(res.joints[b, :n], gold["lcm1_final_joints"][b, :n], atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="text encoder|sentence-t5"):
        pipe.generate(["a person walks"], lengths=40)


def test_wrong_version_names_keys(tmp_path):
    cases = [c for c in small_cases() if c.name.endswith("v2")]
    if not cases:
        pytest.skip("no v2 golden case")
    path, overrides, _ = _official_file(tmp_path, cases[0])
    with pytest.raises(ValueError, match=r"missing|unexpected|shape"):
        MotionLCMPipeline.from_official_checkpoint(path, version="v1", device="cpu", arch_overrides=overrides)


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.ckpt"
    with open(path, "wb") as f:
        pickle.dump({"state_dict": {"vae.x": _Evil()}}, f)
    with pytest.raises(ValueError, match="refused"):
        MotionLCMPipeline.from_official_checkpoint(path, device="cpu")


def test_non_motionlcm_checkpoint_is_refused(tmp_path):
    path = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"encoder.weight": torch.zeros(2)}}, path)
    with pytest.raises(ValueError):
        MotionLCMPipeline.from_official_checkpoint(path, device="cpu")
    torch.save({"state_dict": {"vae.skel_embedding.weight": torch.zeros(2)}}, path)
    with pytest.raises(ValueError, match="no VAE \\+ denoiser"):
        MotionLCMPipeline.from_official_checkpoint(path, device="cpu")
