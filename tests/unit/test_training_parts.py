"""Training parts without a training run: config CLI, schedules, samplers, hints, export metadata."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from motionlcm_core.data import StepBatchSampler
from motionlcm_core.models import MotionVAE
from motionlcm_core.motion import ControlStats
from motionlcm_core.training.cli import parse_config
from motionlcm_core.training.distill_lcm import DistillLCMConfig
from motionlcm_core.training.ema import EMA
from motionlcm_core.training.objectives import control_timesteps
from motionlcm_core.training.schedule import cosine_with_warmup
from motionlcm_core.training.train_controlnet import TrainControlNetConfig, random_hints
from motionlcm_core.training.train_vae import TrainVAEConfig, init_positional_tables


def test_random_hints_control_one_joint_at_some_frames():
    gen = torch.Generator().manual_seed(0)
    joints = torch.randn(3, 10, 22, 3)
    stats = ControlStats(np.zeros((22, 3), np.float32), np.full((22, 3), 2.0, np.float32))
    hint, mask = random_hints(joints, [10, 6, 2], (0, 15), stats, gen)
    for b, length in enumerate([10, 6, 2]):
        joints_used = mask[b].any(dim=(0, 2)).nonzero().flatten().tolist()
        assert len(joints_used) == 1 and joints_used[0] in (0, 15)
        frames = mask[b].any(dim=(1, 2)).nonzero().flatten()
        assert 1 <= len(frames) <= max(length - 1, 1) and frames.max() < length
    assert torch.allclose(hint[mask], (joints / 2.0)[mask]) and (hint[~mask] == 0).all()
    # draw weights: joint 15 never, joint 0 always
    _, mask = random_hints(joints, [10, 6, 2], (0, 15), stats, gen, torch.tensor([1.0, 0.0]))
    assert mask[..., 0, :].any(dim=(1, 2)).all() and not mask[..., 15, :].any()


def test_joint_weights_validated():
    assert torch.allclose(TrainControlNetConfig(joint_weights="5,1,1,1,1,1").weights()[0], torch.tensor(0.5))
    assert torch.allclose(TrainControlNetConfig().weights(), torch.full((6,), 1 / 6))
    for bad in ("1,1", "a,b,c,d,e,f", "0,0,0,0,0,0", "-1,1,1,1,1,1"):
        with pytest.raises(ValueError, match="joint_weights"):
            TrainControlNetConfig(joint_weights=bad)
    with pytest.raises(ValueError, match="synthetic_ratio"):
        TrainControlNetConfig(synthetic_ratio=1.5)


def test_vae_positional_tables_start_as_sinusoids_on_request():
    from motionlcm_core.config import TransformerConfig, VAEConfig

    torch.manual_seed(0)
    vae = MotionVAE(VAEConfig(latent_tokens=2, latent_dim=8, transformer=TransformerConfig(
        hidden_dim=16, ff_size=32, num_layers=3, num_heads=2, max_len=64)))
    before = vae.query_pos_decoder.pe.detach().clone()
    init_positional_tables(vae, "uniform")            # spec: U[0,1) as built, untouched
    assert torch.equal(vae.query_pos_decoder.pe, before) and 0 <= before.min() and before.max() < 1
    init_positional_tables(vae, "sine")
    for table in (vae.query_pos_encoder.pe, vae.query_pos_decoder.pe):
        pe = table.detach()[:, 0]                     # (max_len, H)
        assert pe.shape == (64, 16) and pe.abs().max() <= 1.0
        assert torch.allclose(pe[0, :8], torch.zeros(8)) and torch.allclose(pe[0, 8:], torch.ones(8))
        near, far = (pe[1:] - pe[:-1]).norm(dim=-1).mean(), (pe[32:] - pe[:32]).norm(dim=-1).mean()
        assert near < 0.5 * far                       # neighbouring frames start alike, unlike U[0,1)
        assert table.requires_grad                    # still learned
    with pytest.raises(ValueError, match="pe_init"):
        TrainVAEConfig(pe_init="random")


def test_control_timesteps_on_the_lcm_grid():
    gen = torch.Generator().manual_seed(0)
    assert set(control_timesteps(400, 1000, 10, gen).tolist()) == set(range(99, 1000, 100))   # spec (V2)
    assert set(control_timesteps(50, 1000, 1, gen).tolist()) == {999}                         # 1-step sampler's
    t = control_timesteps(400, 1000, None, gen)
    assert t.min() >= 0 and t.max() <= 999 and len(set(t.tolist())) > 100
    with pytest.raises(ValueError, match="lcm_grid"):
        TrainControlNetConfig(lcm_grid=0)


def test_batch_sampler_is_a_function_of_step_and_shards_ranks():
    a = StepBatchSampler(20, 4, seed=1, start_step=0)
    b = StepBatchSampler(20, 4, seed=1, start_step=7)
    assert next(iter(b)) == a.batch_at(7) and a.batch_at(7) == StepBatchSampler(20, 4, seed=1).batch_at(7)
    assert a.batch_at(5) != a.batch_at(0) and {e for e, _ in a.batch_at(5)} == {1}
    r0, r1 = StepBatchSampler(20, 4, 1, rank=0, world=2), StepBatchSampler(20, 4, 1, rank=1, world=2)
    assert not {i for _, i in r0.batch_at(0) + r0.batch_at(1)} & {i for _, i in r1.batch_at(0) + r1.batch_at(1)}
    with pytest.raises(ValueError, match="batch"):
        StepBatchSampler(5, 8, seed=1)


def test_cosine_schedule_and_ema():
    f = cosine_with_warmup(10, 110)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0) and f(60) == pytest.approx(0.5)
    assert f(110) == pytest.approx(0.0)
    net = torch.nn.Linear(2, 2)
    ema = EMA(net, 0.95)
    before = ema.module.weight.detach().clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update(net)
    assert torch.allclose(ema.module.weight, before + 0.05)
    ema.train()
    assert not ema.module.training
    with pytest.raises(ValueError, match="decay"):
        EMA(net, 1.0)


def test_cli_is_generated_from_the_config_fields():
    cfg = parse_config(DistillLCMConfig, ["--steps", "7", "--w-range", "4", "9", "--no-resume", "--init", "x"])
    assert cfg.steps == 7 and cfg.w_range == (4.0, 9.0) and cfg.resume is False and cfg.init == "x"
    vae = parse_config(TrainVAEConfig, ["--latent-tokens", "8", "--dropout", "0"])
    assert vae.latent_tokens == 8 and vae.dropout == 0.0 and vae.lr == 2e-4
    with pytest.raises(ValueError, match="steps"):
        parse_config(TrainVAEConfig, ["--steps", "0"])
    with pytest.raises(ValueError, match="control_joints"):
        TrainControlNetConfig(control_joints="0,99")


def test_embedded_chain_commands_parse_back_to_the_same_configs(tmp_path):
    import shlex
    from motionlcm_core.training.__main__ import STAGES as CLI_STAGES
    from motionlcm_core.training.embedded import EmbeddedConfig, command_line, stage_configs
    configs = stage_configs(EmbeddedConfig(run_dir=str(tmp_path)))
    assert list(configs) == ["vae", "teacher", "lcd", "controlnet"]
    assert all(cfg.floor_crops for cfg in configs.values())     # the chain trains on floored crops
    for stage, cfg in configs.items():
        argv = shlex.split(command_line(stage, cfg))[3:]
        assert argv[0] == stage and stage in CLI_STAGES
        assert parse_config(type(cfg), argv[1:]) == cfg
    with pytest.raises(ValueError, match="unknown stages"):
        EmbeddedConfig(stages="vae,distill")
    configs = stage_configs(EmbeddedConfig(run_dir=str(tmp_path), vae_lr=1e-3, controlnet_synthetic_ratio=0.5,
                                           controlnet_joint_weights="5,1,1,1,1,1"))
    assert configs["vae"].lr == 1e-3 and configs["controlnet"].synthetic_ratio == 0.5
    narrow = stage_configs(EmbeddedConfig(run_dir=str(tmp_path), guidance_w_range=(2.0, 10.0)))
    assert narrow["lcd"].w_range == narrow["controlnet"].w_range == (2.0, 10.0)
    with pytest.raises(ValueError, match="w_range"):
        TrainControlNetConfig(w_range=(0.0, 1.0))
    assert configs["controlnet"].weights()[0] == 0.5


def test_guidance_written_at_export():
    from motionlcm_core.config import v2_config
    from motionlcm_core.training.embedded import EmbeddedConfig, with_guidance
    cfg = v2_config()
    assert with_guidance(cfg, 0) is cfg and with_guidance(cfg, 0, 0) is cfg     # 0: the V2 table
    tuned = with_guidance(cfg, 14)
    assert tuned.scheduler.cfg_step_map == {1: 14.0, 2: 12.5, 4: 13.5}
    assert tuned.scheduler.lcm_timesteps == cfg.scheduler.lcm_timesteps
    assert with_guidance(cfg, 6, 6).scheduler.cfg_step_map == {1: 6.0, 2: 6.0, 4: 6.0}
    with pytest.raises(ValueError, match="one_step_guidance"):
        EmbeddedConfig(one_step_guidance=0.5)
    with pytest.raises(ValueError, match="multi_step_guidance"):
        EmbeddedConfig(multi_step_guidance=0.5)
