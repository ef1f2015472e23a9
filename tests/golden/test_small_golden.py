"""Small-config goldens of the official implementation: modules, LCM/ControlNet sampling, DDIM teacher.

Cases are discovered under ``$MOTIONLCM_GOLDEN_DIR/small/*``; each model is built from its config.json."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from motionlcm_core.config import ModelConfig
from motionlcm_core.io.official import config_from_official, split_prefixes
from motionlcm_core.models import LatentDenoiser, MotionControlNet, MotionVAE, TrajectoryEncoder, guidance_embedding
from motionlcm_core.models.embeddings import timestep_sinusoid
from motionlcm_core.sampling import SamplingTrace, ddim_cfg_sample, lcm_sample
from motionlcm_core.schedulers import DDIMScheduler, LCMScheduler
from tests.golden_paths import small_cases

CASES = small_cases()
pytestmark = pytest.mark.skipif(not CASES, reason="no golden small cases found (set MOTIONLCM_GOLDEN_DIR)")
MODULE_TOL = dict(atol=1e-5, rtol=1e-4)
SAMPLE_TOL = dict(atol=1e-4, rtol=1e-4)


class Case:
    def __init__(self, folder):
        self.folder = folder
        self.cfg: ModelConfig = config_from_official(json.loads((folder / "config.json").read_text())["resolved_model_cfg"])
        parts = split_prefixes(load_file(str(folder / "weights.safetensors")))
        self.vae = self._load(MotionVAE(self.cfg.vae), parts["vae"])
        self.lcm = self._load(LatentDenoiser(self.cfg.denoiser), parts["denoiser"])
        mld_cfg = dataclasses.replace(self.cfg.denoiser, time_cond_proj_dim=None)
        mld_sd = {k: v for k, v in parts["denoiser"].items() if k != "time_embedding.cond_proj.weight"}
        self.mld = self._load(LatentDenoiser(mld_cfg), mld_sd)
        self.controlnet = self._load(MotionControlNet(self.cfg.denoiser, self.cfg.controlnet), parts["controlnet"])
        self.traj = self._load(TrajectoryEncoder(self.cfg.traj_encoder), parts["traj_encoder"])
        self.lcm_sched = LCMScheduler(self.cfg.scheduler)
        self.inputs = self.npz("inputs")

    @staticmethod
    def _load(module, sd):
        module.load_state_dict(sd, strict=True)
        return module.eval()

    def npz(self, name):
        path = self.folder / f"{name}.npz"
        if not path.is_file():
            pytest.skip(f"{path.name} not in this case")
        return {k: v for k, v in np.load(path, allow_pickle=False).items()}

    def t(self, key, src=None):
        return torch.from_numpy(np.asarray((src or self.inputs)[key]))


@pytest.fixture(scope="module", params=CASES, ids=[c.name for c in CASES])
def case(request):
    torch.manual_seed(0)
    with torch.no_grad():
        yield Case(request.param)


def close(actual, expected, **tol):
    np.testing.assert_allclose(actual.detach().cpu().numpy() if torch.is_tensor(actual) else actual,
                               expected, **(tol or MODULE_TOL))


@torch.no_grad()
def test_vae_encode_decode(case):
    g = case.npz("vae")
    motion, mask = case.t("motion"), case.t("mask")
    L_first = lambda x: x.permute(1, 0, 2)  # noqa: E731  official [L, B, D]
    enc = case.vae.encode(motion, mask, noise=L_first(torch.from_numpy(g["enc_eps"])))
    close(L_first(enc.mu), g["enc_mu"])
    close(L_first(enc.std), g["enc_std"])
    close(enc.latents, g["enc_latent"])
    close(case.vae.decode(torch.from_numpy(g["enc_latent"]), mask), g["dec_from_latent"])
    close(case.vae.decode(enc.mu, mask), g["dec_from_mu"])
    dec = case.vae.decode(case.t("init_noise"), mask)
    close(dec, g["dec_from_init_noise"])
    assert torch.all(dec[~mask] == 0)


@torch.no_grad()
def test_vae_joints(case):
    from motionlcm_core.motion import recover_joints
    g = case.npz("vae")
    feats = torch.from_numpy(g["dec_from_mu"]) * case.t("std") + case.t("mean")
    close(recover_joints(feats), g["joints_from_dec_mu"])


@torch.no_grad()
def test_denoiser_forwards(case):
    g = case.npz("denoiser")
    x, text = torch.from_numpy(g["sample"]), case.t("text_emb")
    w_emb = guidance_embedding(torch.from_numpy(g["w"]), case.cfg.denoiser.time_cond_proj_dim)
    close(w_emb, g["w_embedding"], atol=1e-6, rtol=0)
    t_batch = torch.from_numpy(g["t_batch"])
    close(timestep_sinusoid(t_batch, case.cfg.denoiser.time_dim), g["time_proj_t_batch"], atol=1e-6, rtol=0)
    close(case.lcm.time_embedding(timestep_sinusoid(t_batch, case.cfg.denoiser.time_dim)), g["time_emb_t_batch_nocond"])
    close(case.lcm.time_embedding(timestep_sinusoid(t_batch, case.cfg.denoiser.time_dim), w_emb),
          g["time_emb_t_batch_wcond"])
    close(case.lcm.emb_proj(text).permute(1, 0, 2), g["emb_proj_out"])
    t_scalar = int(g["t_scalar"])
    close(case.mld(x, t_scalar, text), g["out_t_scalar_nocond"])
    close(case.lcm(x, t_scalar, text, w_emb), g["out_t_scalar_wcond"])
    close(case.mld(x, t_batch, text), g["out_t_batch_nocond"])
    close(case.lcm(x, t_batch, text, w_emb), g["out_t_batch_wcond"])


@torch.no_grad()
def test_denoiser_cfg(case):
    g = case.npz("denoiser")
    x, text, uncond = torch.from_numpy(g["sample"]), case.t("text_emb"), case.t("uncond_emb")
    t = int(g["t_scalar"])
    eps_text = case.mld(x, t, text)
    eps_uncond = case.mld(x, t, uncond.expand(x.shape[0], -1, -1))
    close(eps_text, g["cfg_out_text"])
    close(eps_uncond, g["cfg_out_uncond"])
    close(eps_uncond + 7.5 * (eps_text - eps_uncond), g["cfg_out_guided_7_5"], atol=5e-5, rtol=1e-4)


def _decode_joints(case, latents):
    from motionlcm_core.motion import recover_joints
    mask = case.t("mask")
    feats = case.vae.decode(latents, mask)
    joints = recover_joints(feats * case.t("std") + case.t("mean"))
    return feats, joints


@torch.no_grad()
@pytest.mark.parametrize("steps", [1, 2, 4])
def test_lcm_sampling(case, steps):
    g = case.npz("lcm_sampling")
    p = f"lcm{steps}_"
    assert case.lcm_sched.timesteps(steps) == tuple(g[p + "timesteps"].tolist())
    assert case.lcm_sched.guidance_scale(steps) == pytest.approx(float(g[p + "guidance_scale"]))
    for i, t in enumerate(g[p + "timesteps"].tolist()):
        c_skip, c_out = case.lcm_sched.scalings(t)
        close(c_skip, g[p + "c_skip"][i], atol=1e-7, rtol=0)
        close(c_out, g[p + "c_out"][i], atol=1e-7, rtol=0)
        close(case.lcm_sched.schedule.alphas_cumprod[t], g[p + "alpha_prod_t"][i], atol=1e-7, rtol=0)
    noises = list(torch.from_numpy(g[p + "injected_noise"]))
    trace = SamplingTrace()
    latents = lcm_sample(case.lcm, case.lcm_sched, case.t("init_noise"), case.t("text_emb"),
                         num_steps=steps, noises=noises, trace=trace)
    close(torch.stack(trace.model_outputs), g[p + "model_output"], **SAMPLE_TOL)
    close(torch.stack(trace.denoised), g[p + "denoised"], **SAMPLE_TOL)
    close(latents, g[p + "final_latent"], **SAMPLE_TOL)
    feats, joints = _decode_joints(case, latents)
    close(feats, g[p + "final_feats"], **SAMPLE_TOL)
    close(joints, g[p + "final_joints"], **SAMPLE_TOL)


@torch.no_grad()
def test_controlnet_residuals(case):
    g = case.npz("controlnet")
    kind = str(g["hint_used"])
    hint, hmask = case.t(f"hint_{kind}"), case.t(f"hint_mask_{kind}").bool()
    np.testing.assert_array_equal(hmask.reshape(*hmask.shape[:2], -1).any(-1).numpy(), g["traj_mask"])
    cond = case.traj(hint, hmask)
    close(cond, g["controlnet_cond"])
    w_emb = torch.from_numpy(g["w_embedding"])
    x, text = case.t("init_noise"), case.t("text_emb")
    residuals = case.controlnet(x, 799, text, w_emb, cond)
    close(torch.stack(residuals).permute(0, 2, 1, 3), g["residuals"])
    close(case.lcm(x, 799, text, w_emb, residuals), g["denoiser_out_with_residuals"])
    close(case.lcm(x, 799, text, w_emb), g["denoiser_out_without_residuals"])


@torch.no_grad()
@pytest.mark.parametrize("steps", [1, 2, 4])
def test_controlled_sampling(case, steps):
    g = case.npz("controlnet")
    kind = str(g["hint_used"])
    cond = case.traj(case.t(f"hint_{kind}"), case.t(f"hint_mask_{kind}").bool())
    p = f"ctrl{steps}_"
    trace = SamplingTrace()
    latents = lcm_sample(case.lcm, case.lcm_sched, case.t("init_noise"), case.t("text_emb"), num_steps=steps,
                         guidance_scale=float(g[p + "guidance_scale"]),
                         noises=list(torch.from_numpy(g[p + "injected_noise"])),
                         controlnet=case.controlnet, traj_latent=cond, trace=trace)
    close(torch.stack(trace.model_outputs), g[p + "model_output"], **SAMPLE_TOL)
    close(latents, g[p + "final_latent"], **SAMPLE_TOL)
    close(_decode_joints(case, latents)[1], g[p + "final_joints"], **SAMPLE_TOL)


@torch.no_grad()
def test_mld_ddim_cfg(case):
    g = case.npz("mld_ddim_cfg")
    sched = DDIMScheduler(case.cfg.scheduler)
    assert sched.timesteps(50) == tuple(g["timesteps"].tolist())
    trace = SamplingTrace()
    latents = ddim_cfg_sample(case.mld, sched, case.t("init_noise"), case.t("text_emb"), case.t("uncond_emb"),
                              guidance_scale=7.5, num_steps=50, trace=trace)
    tol = dict(atol=5e-4, rtol=1e-3)
    close(torch.stack(trace.model_outputs), g["guided_model_output"], **tol)
    close(torch.stack(trace.denoised), g["latents_per_step"], **tol)
    close(latents, g["final_latent"], **tol)
    close(case.vae.decode(latents, case.t("mask")), g["final_feats"], **tol)
