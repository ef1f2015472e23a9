"""Training stages on tiny configs and a tiny copy of real clips: losses, resume, bad data, CLI."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from motionlcm_core.data import collate_motion
from motionlcm_core.io.checkpoints import load_weights
from motionlcm_core.models import MotionVAE
from motionlcm_core.training.distill_lcm import DistillLCMConfig
from motionlcm_core.training.distill_lcm import main as lcd_main
from motionlcm_core.training.config import TrainConfig
from motionlcm_core.training.datasets import dataset, feature_stats
from motionlcm_core.training.distributed import Dist
from motionlcm_core.training.loop import train
from motionlcm_core.training.objectives import vae_objective
from motionlcm_core.training.train_controlnet import TrainControlNetConfig
from motionlcm_core.training.train_controlnet import main as controlnet_main
from motionlcm_core.training.train_denoiser import TrainDenoiserConfig
from motionlcm_core.training.train_denoiser import main as teacher_main
from motionlcm_core.training.train_vae import TrainVAEConfig
from motionlcm_core.training.train_vae import main as vae_main

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("MOTIONLCM_DATA_DIR", REPO.parent / "shared" / "data"))
TINY = dict(hidden_dim=16, ff_size=32, num_layers=3, num_heads=2, dropout=0.0, batch_size=4, threads=1,
            log_every=2, device="cpu")


class HashedWordsEncoder:
    """A small real sentence encoder (hashed bag of words, unit norm) so tests need no 90 MB model."""

    name = "hashed-words-32"
    dim = 32

    def encode(self, texts: list[str]) -> torch.Tensor:
        out = torch.zeros(len(texts), self.dim)
        for i, text in enumerate(texts):
            for word in text.lower().split() or ["<empty>"]:
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        return torch.nn.functional.normalize(out, dim=-1)[:, None]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """8 real training clips (60–150 frames) + a NaN clip, a 30-frame clip and a clip without text."""
    if not (DATA / "joints_train.npz").is_file():
        pytest.skip(f"data not found at {DATA}")
    root = tmp_path_factory.mktemp("data")
    (root / "texts").mkdir()
    with np.load(DATA / "joints_train.npz") as src:
        joints, ids, lengths, offsets = src["joints"], src["ids"], src["lengths"], src["offsets"]
    good = [i for i in range(len(ids)) if 60 <= lengths[i] <= 150][:8]
    clips = [(str(ids[i]), joints[offsets[i]:offsets[i] + lengths[i]]) for i in good]
    clips += [("bad_nan", np.full_like(clips[0][1], np.nan)), ("bad_short", clips[0][1][:30]),
              ("bad_notext", clips[1][1])]
    for clip_id, _ in clips[:-1]:
        src_text = DATA / "texts" / f"{clip_id}.txt"
        text = src_text.read_text() if src_text.is_file() else "a person walks forward\n"
        (root / "texts" / f"{clip_id}.txt").write_text(text)
    arrays = {"joints": np.concatenate([c for _, c in clips]).astype(np.float32),
              "ids": np.array([c for c, _ in clips]), "lengths": np.array([len(c) for _, c in clips]),
              "offsets": np.cumsum([0] + [len(c) for _, c in clips[:-1]])}
    for split in ("train", "val"):
        np.savez(root / f"joints_{split}.npz", **arrays)
    return root


@pytest.fixture(scope="module", autouse=True)
def _cache(tmp_path_factory):
    """Feature and text caches go to a temporary folder, not the repository's runs/cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOTIONLCM_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


def _history(out_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (out_dir / "history.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def vae_file(tiny_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vae")
    cfg = TrainVAEConfig(out_dir=str(out), data_dir=str(tiny_data), steps=30, lr=2e-3, warmup_steps=2,
                         latent_tokens=2, latent_dim=8, eval_batches=1, **TINY)
    vae_main(cfg)
    return out


def test_vae_stage_learns_and_counts_bad_clips(vae_file):
    hist = _history(vae_file)
    first, last = np.mean([h["loss"] for h in hist[:2]]), np.mean([h["loss"] for h in hist[-2:]])
    assert np.isfinite(last) and last < 0.8 * first
    log = (vae_file / "train.log").read_text()
    assert "nan_or_inf: 1" in log and "too_short: 1" in log and "missing_text: 1" in log
    cfg, parts, info = load_weights(vae_file / "model.safetensors")
    assert set(parts) == {"vae", "stats"} and cfg.vae.latent_tokens == 2
    assert info["training"]["vae"]["steps"] == 30 and info["training"]["vae"]["val_mpjpe_mm"] > 0
    assert 0 <= info["training"]["vae"]["val_motion_ratio"] < 5


def test_vae_decoder_fine_tune_keeps_the_latent_space(vae_file, tiny_data, tmp_path):
    """decoder_only continues a VAE file: the encoder (and so every stage trained on its latents) stays
    bit-identical, the decoder learns (with the bone-length loss logged), the file's statistics are kept."""
    init = vae_file / "model.safetensors"
    cfg = TrainVAEConfig(out_dir=str(tmp_path), data_dir=str(tiny_data), steps=6, lr=1e-3, warmup_steps=1,
                         latent_tokens=2, latent_dim=8, eval_batches=1, warm_start=str(init), decoder_only=True,
                         bone_weight=1.0, **TINY)
    vae_main(cfg)
    _, before, _ = load_weights(init)
    _, after, info = load_weights(tmp_path / "model.safetensors")
    enc = [k for k in before["vae"] if k.split(".")[0] in ("skel_embedding", "global_motion_token",
                                                            "query_pos_encoder", "encoder", "latent_pre")]
    dec = [k for k in before["vae"] if k.split(".")[0] in ("latent_post", "query_pos_decoder", "decoder", "final_layer")]
    assert enc and dec and len(enc) + len(dec) == len(before["vae"])
    assert all(torch.equal(before["vae"][k], after["vae"][k]) for k in enc)
    assert any(not torch.equal(before["vae"][k], after["vae"][k]) for k in dec)
    assert all(torch.equal(before["stats"][k], after["stats"][k]) for k in before["stats"])
    assert "bones" in _history(tmp_path)[-1] and info["training"]["vae"]["continues"]["steps"] == 30
    with pytest.raises(ValueError, match="warm-start"):
        TrainVAEConfig(decoder_only=True)


def _tiny_vae_run(tiny_data: Path, out: Path, steps: int, interrupt_at: int | None = None) -> MotionVAE:
    cfg = TrainConfig(out_dir=str(out), data_dir=str(tiny_data), steps=steps, lr=1e-3, warmup_steps=2,
                      batch_size=4, save_every=100, log_every=2)
    from motionlcm_core.config import TransformerConfig, VAEConfig
    stats = feature_stats(cfg)
    data = dataset(cfg, stats)
    torch.manual_seed(0)
    vae = MotionVAE(VAEConfig(latent_tokens=2, latent_dim=8, transformer=TransformerConfig(16, 32, 3, 2, 0.1)))
    calls = []

    def step(batch, gen):
        calls.append(1)
        if interrupt_at is not None and len(calls) > interrupt_at:
            raise KeyboardInterrupt
        return vae_objective(vae, batch.feats, batch.mask, stats, generator=gen)

    train(cfg, data, {"vae": vae}, [{"params": list(vae.parameters())}], step, dist=Dist())
    return vae


def test_resume_after_interrupt_continues_exactly(tiny_data, tmp_path):
    straight = _tiny_vae_run(tiny_data, tmp_path / "a", steps=6)
    with pytest.raises(KeyboardInterrupt):
        _tiny_vae_run(tiny_data, tmp_path / "b", steps=6, interrupt_at=3)
    assert torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["step"] == 3
    resumed = _tiny_vae_run(tiny_data, tmp_path / "b", steps=6)
    for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
    # each run logs to its own folder only (one process, several runs: the embedded chain)
    assert str(tmp_path / "b") not in (tmp_path / "a" / "train.log").read_text()
    assert "resumed" in (tmp_path / "b" / "train.log").read_text()
    # a checkpoint that would need arbitrary unpickling is refused, with the way out in the message
    payload = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    payload["skipped"] = Path("x")          # any non-tensor, non-plain object
    torch.save(payload, tmp_path / "b" / "checkpoint.pt")
    with pytest.raises(ValueError, match="no-resume"):
        _tiny_vae_run(tiny_data, tmp_path / "b", steps=7)


def test_nonfinite_loss_is_skipped_not_fatal(tiny_data, tmp_path):
    cfg = TrainConfig(out_dir=str(tmp_path), data_dir=str(tiny_data), steps=4, batch_size=4, log_every=1)
    data = dataset(cfg, feature_stats(cfg))
    weight = torch.nn.Parameter(torch.ones(3))
    calls = []

    def step(batch, gen):
        calls.append(1)
        scale = float("nan") if len(calls) == 2 else 1.0
        return {"loss": (weight ** 2).sum() * scale}

    result = train(cfg, data, {"w": torch.nn.ParameterList([weight])}, [{"params": [weight]}], step, dist=Dist())
    assert result.step == 4 and result.skipped == {"nonfinite_loss": 1}
    assert torch.isfinite(weight).all() and weight.detach().abs().max() < 1.0
    assert "nonfinite_loss" in (tmp_path / "train.log").read_text()


def test_time_limit_plans_the_step_count_and_the_schedule_ends_there(tiny_data, tmp_path):
    """With ``time_limit_min`` the loop times some steps, plans how many fit, ends the cosine there (LR → 0)
    and stops; a re-run resumes into the same plan instead of training on to ``steps``."""
    import time as _time
    cfg = TrainConfig(out_dir=str(tmp_path), data_dir=str(tiny_data), steps=100_000, batch_size=4, lr=1e-2,
                      warmup_steps=5, log_every=1, save_every=10_000, time_limit_min=1.5 / 60)
    data = dataset(cfg, feature_stats(cfg))
    weight = torch.nn.Parameter(torch.ones(3))
    lrs = []

    def run():
        opt_lrs = []

        def step(batch, gen):
            _time.sleep(0.02)                   # ~50 steps/s: about 75 fit in 1.5 s
            return {"loss": (weight ** 2).sum()}

        def after():
            opt_lrs.append(1)

        result = train(cfg, data, {"w": torch.nn.ParameterList([weight])}, [{"params": [weight]}], step,
                       dist=Dist(), after_step=after)
        lrs.append(len(opt_lrs))
        return result

    first = run()
    payload = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    planned = payload["planned_steps"]
    assert 50 < planned < 100_000 and first.step == planned
    assert payload["scheduler"]["_last_lr"][0] == pytest.approx(0.0, abs=1e-6)   # the schedule ended
    assert "time limit: planned" in (tmp_path / "train.log").read_text()
    again = run()
    assert again.step == planned and lrs[-1] == 0             # no step beyond the plan
    with pytest.raises(ValueError, match="time_limit_min"):
        TrainConfig(time_limit_min=-1)


def test_teacher_lcd_controlnet_chain(vae_file, tiny_data, tmp_path):
    enc = HashedWordsEncoder()
    common = dict(data_dir=str(tiny_data), steps=4, warmup_steps=1, batch_size=4, threads=1, log_every=2,
                  device="cpu")
    arch = dict(hidden_dim=16, ff_size=32, num_layers=3, num_heads=2)
    teacher_main(TrainDenoiserConfig(out_dir=str(tmp_path / "t"), init=str(vae_file / "model.safetensors"),
                                     time_dim=16, w_cond_dim=8, **arch, **common), encoder=enc)
    lcd_main(DistillLCMConfig(out_dir=str(tmp_path / "l"), init=str(tmp_path / "t" / "model.safetensors"),
                              **common), encoder=enc)
    controlnet_main(TrainControlNetConfig(out_dir=str(tmp_path / "c"), init=str(tmp_path / "l" / "model.safetensors"),
                                          embed_dim=8, **arch, **common), encoder=enc)
    for stage in ("t", "l", "c"):
        assert all(np.isfinite(h["loss"]) for h in _history(tmp_path / stage))
    cfg, parts, info = load_weights(tmp_path / "c" / "model.safetensors")
    assert set(parts) == {"vae", "teacher", "denoiser", "controlnet", "traj_encoder", "stats"}
    assert cfg.has_teacher and cfg.denoiser.time_cond_proj_dim == 8 and cfg.text_encoder == enc.name
    assert cfg.controlnet.embed_dim == 8 and cfg.traj_encoder.latent_tokens == 2
    assert parts["stats"]["control_std"].shape == (22, 3) and set(info["training"]) == {"vae", "teacher", "lcd",
                                                                                      "controlnet"}
    # the student moved away from the teacher (cond_proj learned from zero)
    assert parts["denoiser"]["time_embedding.cond_proj.weight"].abs().sum() > 0
    # a second phase: warm start from that ControlNet, pelvis-heavy joints, only self-generated motions
    controlnet_main(TrainControlNetConfig(out_dir=str(tmp_path / "c2"), init=str(tmp_path / "l" / "model.safetensors"),
                                          warm_start=str(tmp_path / "c" / "model.safetensors"), synthetic_ratio=1.0,
                                          joint_weights="3,1,1,1,1,1", lcm_grid=1, w_range=(2.0, 3.0), embed_dim=8, **arch,
                                          **dict(common, steps=2, lr=1e-12)), encoder=enc)
    cfg2, parts2, info2 = load_weights(tmp_path / "c2" / "model.safetensors")
    # pinned sampling starts where each ControlNet was trained: the spec's grid keeps 799, t=999 only → 999
    assert cfg.scheduler.control_timesteps == {} and cfg2.scheduler.control_timesteps[1] == (999,)
    assert all(np.isfinite(h["loss"]) for h in _history(tmp_path / "c2"))
    for key in ("control_mean", "control_std"):      # the warm start's control statistics are kept
        assert torch.equal(parts2["stats"][key], parts["stats"][key])
    for key, value in parts["controlnet"].items():   # started from its weights (lr ~0: still there)
        assert torch.allclose(parts2["controlnet"][key], value, atol=1e-6), key
    assert info2["training"]["controlnet"]["config"]["synthetic_ratio"] == 1.0
    assert info2["training"]["controlnet"]["config"]["w_range"] == [2.0, 3.0]
    assert info2["training"]["controlnet"]["continues"] == info["training"]["controlnet"]   # both runs recorded
    from motionlcm_core.training.embedded import recorded_commands
    commands = recorded_commands(info2["training"])          # every run, rebuilt from its recorded config
    assert [c.split()[3] for c in commands] == ["vae", "teacher", "lcd", "controlnet", "controlnet"]
    assert "--warm-start" in commands[-1] and "--warm-start" not in commands[-2]
    # LCD continued from that file's student: it starts from its weights and records the run it continues
    lcd_main(DistillLCMConfig(out_dir=str(tmp_path / "l2"), init=str(tmp_path / "c" / "model.safetensors"),
                              warm_start=str(tmp_path / "c" / "model.safetensors"), **dict(common, steps=2, lr=1e-12)),
             encoder=enc)
    _, parts3, info3 = load_weights(tmp_path / "l2" / "model.safetensors")
    for key, value in parts["denoiser"].items():
        assert torch.allclose(parts3["denoiser"][key], value, atol=1e-6), key
    assert info3["training"]["lcd"]["steps"] == 2 and info3["training"]["lcd"]["continues"] == info["training"]["lcd"]
    with pytest.raises(ValueError, match="denoiser"):
        lcd_main(DistillLCMConfig(out_dir=str(tmp_path / "l3"), init=str(tmp_path / "t" / "model.safetensors"),
                                  warm_start=str(tmp_path / "t" / "model.safetensors"), **common), encoder=enc)
    # the teacher continued on floored crops: starts from that teacher, records the run it continues
    teacher_main(TrainDenoiserConfig(out_dir=str(tmp_path / "t2"), init=str(tmp_path / "c" / "model.safetensors"),
                                     warm_start=str(tmp_path / "c" / "model.safetensors"), floor_crops=True,
                                     time_dim=16, w_cond_dim=8, **arch, **dict(common, steps=2, lr=1e-12)),
                 encoder=enc)
    _, parts4, info4 = load_weights(tmp_path / "t2" / "model.safetensors")
    for key, value in parts["teacher"].items():
        assert torch.allclose(parts4["teacher"][key], value, atol=1e-6), key
    assert info4["training"]["teacher"]["continues"] == info["training"]["teacher"]
    assert info4["training"]["teacher"]["config"]["floor_crops"] is True
    commands = recorded_commands(info4["training"])
    assert [c.split()[3] for c in commands] == ["vae", "teacher", "teacher", "lcd", "controlnet"]
    assert "--floor-crops" in commands[2] and "--warm-start" in commands[2] and "--floor-crops" not in commands[1]
    with pytest.raises(ValueError, match="other sizes"):
        teacher_main(TrainDenoiserConfig(out_dir=str(tmp_path / "t3"), init=str(tmp_path / "c" / "model.safetensors"),
                                         warm_start=str(tmp_path / "c" / "model.safetensors"), time_dim=32,
                                         w_cond_dim=8, **arch, **common), encoder=enc)


def test_self_generated_batches_are_decoded_student_samples(vae_file, tiny_data):
    from motionlcm_core.config import DenoiserConfig, SchedulerConfig, TransformerConfig
    from motionlcm_core.models import LatentDenoiser
    from motionlcm_core.motion import recover_joints
    from motionlcm_core.schedulers import LCMScheduler
    from motionlcm_core.training.text_stage import open_text_stage
    from motionlcm_core.training.train_controlnet import self_generated

    cfg = TrainControlNetConfig(data_dir=str(tiny_data), init=str(vae_file / "model.safetensors"), **TINY)
    ctx = open_text_stage(cfg, cfg.init, "controlnet", torch.device("cpu"), encoder=HashedWordsEncoder())
    lat = ctx.weights.config.vae
    torch.manual_seed(0)
    denoiser = LatentDenoiser(DenoiserConfig(latent_dim=lat.latent_dim, latent_tokens=lat.latent_tokens,
                                             text_dim=32, time_dim=16, time_cond_proj_dim=8,
                                             transformer=TransformerConfig(hidden_dim=16, ff_size=32, num_layers=3,
                                                                           num_heads=2))).eval()
    batch = collate_motion([ctx.data[i] for i in range(4)])
    gen = torch.Generator().manual_seed(0)
    z = ctx.encode_latents(batch, gen)
    joints = recover_joints(ctx.stats.denormalize(batch.feats))
    text = ctx.table.lookup(batch.captions, torch.device("cpu"))
    sched = LCMScheduler(SchedulerConfig())
    assert self_generated(ctx, denoiser, sched, z, joints, text, batch.mask, 0.0, gen)[0] is z
    z1, j1 = self_generated(ctx, denoiser, sched, z, joints, text, batch.mask, 1.0, gen)
    assert not torch.allclose(z1, z) and z1.shape == z.shape and j1.shape == joints.shape
    with torch.no_grad():   # every row: its hints are exactly what the decoder makes of its latent
        assert torch.allclose(j1, recover_joints(ctx.stats.denormalize(ctx.vae.decode(z1, batch.mask))), atol=1e-5)


def test_lcd_refuses_a_vae_only_file(vae_file, tiny_data, tmp_path):
    with pytest.raises(ValueError, match="teacher"):
        lcd_main(DistillLCMConfig(out_dir=str(tmp_path), init=str(vae_file / "model.safetensors"),
                                  data_dir=str(tiny_data), steps=1), encoder=HashedWordsEncoder())


def test_two_processes_under_torchrun_agree_on_the_time_plan(tiny_data, tmp_path):
    """DDP without code changes: two CPU processes (gloo) train the VAE stage on a time budget; each plans
    from its own speed, both take the smaller plan (they must stop at the same step) and rank 0 writes."""
    import subprocess
    import sys
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "motionlcm_core.training", "vae", "--out-dir", str(out), "--data-dir", str(tiny_data),
           "--steps", "100000", "--time-limit-min", "0.1", "--warmup-steps", "2", "--save-every", "100000",
           "--batch-size", "2", "--threads", "1", "--log-every", "5", "--device", "cpu", "--hidden-dim", "16",
           "--ff-size", "32", "--num-layers", "3", "--num-heads", "2", "--dropout", "0", "--latent-tokens", "2",
           "--latent-dim", "8", "--eval-batches", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    log = (out / "train.log").read_text()
    assert "batch 2×2" in log and "time limit: planned" in log
    planned = torch.load(out / "checkpoint.pt", weights_only=True)["planned_steps"]
    _, parts, info = load_weights(out / "model.safetensors")
    assert info["training"]["vae"]["steps"] == planned > 10
    assert all(torch.isfinite(v).all() for v in parts["vae"].values())
