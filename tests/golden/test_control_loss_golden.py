"""Golden checks of the ControlNet training objective and the control-loss reductions."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from motionlcm_core.motion import ControlStats, FeatureStats
from motionlcm_core.schedulers import NoiseSchedule
from motionlcm_core.training.losses import control_loss, noise_regularizer
from motionlcm_core.training.objectives import ControlLossConfig, Draws, controlnet_objective
from tests.golden.test_small_golden import CASES, Case, close

pytestmark = pytest.mark.skipif(not CASES, reason="no golden small cases found (set MOTIONLCM_GOLDEN_DIR)")


@pytest.fixture(scope="module", params=CASES, ids=[c.name for c in CASES])
def case(request):
    return Case(request.param)


@pytest.mark.parametrize("reduction", ["sum", "sum_mask", "mask"])
@pytest.mark.parametrize("loss_fn", ["l1", "l1_smooth", "l2"])
def test_control_loss_unit(case, reduction, loss_fn):
    g = case.npz("control_loss_unit")
    src, tgt, mask = (torch.from_numpy(g[k]) for k in ("src", "tgt", "mask"))
    got = control_loss(src, tgt, mask, reduction=reduction, loss_fn=loss_fn)
    assert float(got) == pytest.approx(float(g[f"{reduction}__{loss_fn}"]), rel=1e-5)


def test_noise_regularizer(case):
    g = case.npz("control_loss_unit")
    close(noise_regularizer(torch.from_numpy(g["dno_noise_in"])), g["dno_noise_regularize_1d"], atol=1e-8, rtol=1e-5)


def _loss_files(case):
    return sorted(p.stem for p in case.folder.glob("control_*_loss.npz"))


def test_controlnet_objective(case):
    files = _loss_files(case)
    if not files:
        pytest.skip("no control loss goldens")
    stats = FeatureStats(mean=case.inputs["mean"], std=case.inputs["std"])
    cstats = ControlStats(mean=case.inputs["raw_mean"], std=case.inputs["raw_std"])
    schedule = NoiseSchedule(case.cfg.scheduler)
    for name in files:
        g = case.npz(name)
        s = json.loads(str(g["settings_json"]))
        cfg = ControlLossConfig(use_3d=s["use_3d"], reduction=s["vaeloss_type"], loss_fn=s["control_loss_func"],
                                cond_ratio=s["cond_ratio"])
        draws = Draws(noise=torch.from_numpy(g["noise"]), timesteps=torch.from_numpy(g["timesteps"]),
                      w=torch.from_numpy(g["w"]))
        with torch.no_grad():
            out = controlnet_objective(case.vae, case.lcm, case.controlnet, case.traj, schedule, torch.from_numpy(g["z"]),
                                       case.t("text_emb"), case.t("mask"), torch.from_numpy(g["hint"]),
                                       torch.from_numpy(g["hint_mask"]).bool(), stats, cstats, cfg, draws=draws)
        close(out["x0"], g["sample_pred"], atol=1e-4, rtol=1e-4)
        close(out["joints"], g["joints_rst"], atol=1e-4, rtol=1e-4)
        m = torch.from_numpy(g["loss_mask"])
        close(out["target"] * m, g["loss_tgt"] * g["loss_mask"], atol=1e-5, rtol=1e-5)
        for ours, theirs in (("diff", "loss_diff_loss"), ("cond", "loss_cond_loss"), ("loss", "loss_loss")):
            assert float(out[ours]) == pytest.approx(float(g[theirs]), rel=1e-5), (name, ours)
