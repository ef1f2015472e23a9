"""Pipeline API on a tiny random model: shapes, determinism, input validation, weights round trip."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from motionlcm_core import Control, MotionLCMPipeline, PinPassConfig
from motionlcm_core.config import (ModelConfig, SchedulerConfig, TransformerConfig, control_timesteps_for,
                                   model_config_from_json, to_json, v1_config, v2_config)
from motionlcm_core.io.checkpoints import save_weights

TINY_TR = TransformerConfig(hidden_dim=16, ff_size=32, num_layers=3, num_heads=2)


def tiny_config(control: bool = True) -> ModelConfig:
    cfg = v2_config(control=control)
    lat = dict(latent_tokens=2, latent_dim=8, transformer=TINY_TR)
    return dataclasses.replace(
        cfg, vae=dataclasses.replace(cfg.vae, **lat),
        denoiser=dataclasses.replace(cfg.denoiser, **lat, text_dim=384, time_dim=32, time_cond_proj_dim=16),
        controlnet=cfg.controlnet and dataclasses.replace(cfg.controlnet, embed_dim=16),
        traj_encoder=cfg.traj_encoder and dataclasses.replace(cfg.traj_encoder, **lat),
        text_encoder="all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def pipe():
    return MotionLCMPipeline.from_config(tiny_config(), device="cpu", seed=0)


def emb(b=2, d=384, seed=0):
    return torch.nn.functional.normalize(torch.randn(b, d, generator=torch.Generator().manual_seed(seed)), dim=-1)


def test_shapes_and_determinism(pipe):
    a = pipe.generate(text_embeddings=emb(), lengths=[40, 24], seed=7, num_steps=2)
    b = pipe.generate(text_embeddings=emb(), lengths=[40, 24], seed=7, num_steps=2)
    c = pipe.generate(text_embeddings=emb(), lengths=[40, 24], seed=8, num_steps=2)
    assert a.joints.shape == (2, 40, 22, 3) and a.joints.dtype == np.float32
    assert a.feats.shape == (2, 40, 263) and a.lengths == [40, 24] and a.fps == 20
    np.testing.assert_array_equal(a.joints, b.joints)
    assert np.abs(a.joints - c.joints).max() > 1e-4
    assert np.all(a.joints[1, 24:] == 0) and a.clip(1).shape == (24, 22, 3)
    assert {"text", "sampling", "decode", "joints", "total"} <= set(a.timings)


def test_seconds_and_teacher(pipe):
    r = pipe.generate(text_embeddings=emb(1), seconds=2.0, seed=0, teacher=True)
    assert r.lengths == [40] and r.report["teacher"] and np.isfinite(r.joints).all()


def test_prompts_through_embedded_encoder(pipe):
    r = pipe.generate(["a person walks forward"], lengths=20, seed=0)
    assert r.joints.shape == (1, 20, 22, 3)


def test_prompts_are_read_as_the_captions_word_them(pipe):
    """An idiom is encoded as its plain wording ("backs up" → "walks backward"): the same motion as that wording,
    seed for seed; the report keeps the prompt as given and says how it was read."""
    idiom = pipe.generate(["a person backs up"], lengths=20, seed=3)
    plain = pipe.generate(["a person walks backward"], lengths=20, seed=3)
    assert idiom.report["prompts"] == ["a person backs up"]
    assert idiom.report["read_as"] == ["a person walks backward"]
    np.testing.assert_array_equal(idiom.joints, plain.joints)
    other = pipe.generate(["a person walks up"], lengths=20, seed=3)
    assert np.abs(other.joints - plain.joints).max() > 0


def test_control_changes_motion(pipe):
    pos = np.zeros((40, 22, 3), np.float32)
    pos[:, 0] = [0.0, 0.9, 1.0]
    mask = np.zeros((40, 22), bool)
    mask[::8, 0] = True
    free = pipe.generate(text_embeddings=emb(1), lengths=40, seed=1)
    ctrl = pipe.generate(text_embeddings=emb(1), lengths=40, seed=1, control=Control(pos, mask))
    assert ctrl.report["controlled"] and ctrl.joints.shape == free.joints.shape
    assert ctrl.report["floor_shift_m"] is None             # pins fix the heights: no floor shift
    with pytest.raises(ValueError, match="pinned joints"):
        pipe.generate(text_embeddings=emb(1), lengths=40, control=Control(pos, mask), passes=PinPassConfig(floor=True))


def test_clips_are_put_on_their_floor(pipe):
    """Without pins each clip's lowest joint ends on y = 0 (the training data's floor rule), by a vertical
    shift of the whole clip and nothing else; ``floor=False`` keeps the model's own heights."""
    own = pipe.generate(text_embeddings=emb(2), lengths=[40, 24], seed=3, passes=PinPassConfig(floor=False), body=False)
    out = pipe.generate(text_embeddings=emb(2), lengths=[40, 24], seed=3, body=False)
    assert own.report["floor_shift_m"] is None
    shifts = out.report["floor_shift_m"]
    for b in range(2):
        a, f = own.clip(b), out.clip(b)
        assert abs(a[..., 1].min()) > 0.01                      # the random model floats or sinks
        assert f[..., 1].min() == pytest.approx(0.0, abs=1e-5)
        assert shifts[b] == pytest.approx(float(a[..., 1].min()), abs=1e-5)
        np.testing.assert_allclose(f[..., [0, 2]], a[..., [0, 2]], atol=1e-5)
        np.testing.assert_allclose(f[..., 1], a[..., 1] - shifts[b], atol=1e-5)
    assert np.all(out.joints[1, 24:] == 0)                    # padding stays zero


def test_the_body_holds_together_by_default(pipe):
    """Default: rigid bones at the data skeleton's lengths, feet on the floor, a report per clip; the raw
    decoded joints (body=False) of the random model stretch. Pins: no grounding, so the pins' heights stay."""
    from motionlcm_core.motion.body import BodyConfig, bone_lengths, skeleton_lengths
    raw = pipe.generate(text_embeddings=emb(2), lengths=[40, 24], seed=3, body=False)
    out = pipe.generate(text_embeddings=emb(2), lengths=[40, 24], seed=3)
    assert raw.report["body"] is None and len(out.report["body"]) == 2
    for b in range(2):
        lengths = bone_lengths(out.clip(b))
        np.testing.assert_allclose(lengths, np.broadcast_to(skeleton_lengths()[1:], lengths.shape), atol=1e-5)
        assert np.ptp(bone_lengths(raw.clip(b)), axis=0).max() > 0.01
        assert out.clip(b)[..., 1].min() >= -1e-5
    assert np.all(out.joints[1, 24:] == 0)
    np.testing.assert_array_equal(out.feats, raw.feats)          # features stay the model's
    with pytest.raises(ValueError, match="body"):
        pipe.generate(text_embeddings=emb(1), lengths=40, body="yes")
    loose = pipe.generate(text_embeddings=emb(1), lengths=40, seed=3, body=BodyConfig(rigid=False, planted=False))
    assert "bone_change_max_m" not in loose.report["body"][0]


@pytest.mark.parametrize("kwargs,match", [
    (dict(prompts=[""]), "non-empty"),
    (dict(prompts=["   "]), "non-empty"),
    (dict(prompts=None), "prompts"),
    (dict(lengths=400), "outside the model's range.*Longer shots"),
    (dict(lengths=3), "outside"),
    (dict(num_steps=3), "num_steps"),
    (dict(guidance_scale=float("nan")), "guidance_scale"),
    (dict(seconds=float("inf"), lengths=None), "seconds"),
    (dict(seconds=2.0), "not both"),
    (dict(passes={"floor": "yes"}), "passes must be a PinPassConfig"),
])
def test_bad_requests(pipe, kwargs, match):
    base = dict(text_embeddings=emb(1), lengths=40)
    if "prompts" in kwargs:
        base.pop("text_embeddings")
    with pytest.raises(ValueError, match=match):
        pipe.generate(**{**base, **kwargs})


def test_bad_control(pipe):
    pos = np.zeros((40, 22, 3), np.float32)
    mask = np.zeros((40, 22), bool)
    mask[5, 20] = True
    pos[5, 20] = np.nan
    with pytest.raises(ValueError, match="left_wrist at frame 5.*NaN"):
        pipe.generate(text_embeddings=emb(1), lengths=40, control=Control(pos, mask))
    with pytest.raises(ValueError, match=r"\(B=1, T, 22, 3\)"):
        pipe.generate(text_embeddings=emb(1), lengths=40, control=Control(np.zeros((40, 21, 3)), mask))
    with pytest.raises(ValueError, match="only 40"):
        pipe.generate(text_embeddings=emb(1), lengths=40,
                      control=Control(np.zeros((60, 22, 3)), np.zeros((60, 22), bool)))


def test_control_needs_controlnet():
    p = MotionLCMPipeline.from_config(tiny_config(control=False), device="cpu")
    with pytest.raises(ValueError, match="ControlNet"):
        p.generate(text_embeddings=emb(1), lengths=40,
                   control=Control(np.zeros((40, 22, 3)), np.ones((40, 22), bool)))


def test_bad_text_embeddings(pipe):
    with pytest.raises(ValueError, match=r"\(B, 384\)"):
        pipe.generate(text_embeddings=torch.zeros(1, 768), lengths=40)


def test_control_timesteps_for_the_trained_grid():
    sched = SchedulerConfig()
    assert control_timesteps_for(sched, 10) == {}            # the spec's grid holds every V2 timestep
    assert control_timesteps_for(sched, 1) == {1: (999,), 2: (999, 299), 4: (999, 399, 299, 299)}
    assert control_timesteps_for(v1_config().scheduler, 1) == {}   # V1 already starts at 999
    for bad in (0, 3, 1.5):
        with pytest.raises(ValueError, match="lcm_grid"):
            control_timesteps_for(sched, bad)


def test_pinned_sampling_runs_at_the_control_timesteps():
    """A ControlNet trained only at t = 999 samples there; the same model without pins keeps 799."""
    from motionlcm_core.sampling import SamplingTrace, lcm_sample

    cfg = tiny_config()
    cfg = dataclasses.replace(cfg, scheduler=dataclasses.replace(
        cfg.scheduler, control_timesteps=control_timesteps_for(cfg.scheduler, 1)))
    p = MotionLCMPipeline.from_config(cfg, device="cpu", seed=0)
    z = torch.randn(1, 2, 8)
    text = emb(1)[:, None]
    traj = p.traj_encoder(torch.zeros(1, 40, 22, 3), torch.zeros(1, 40, 22, 3, dtype=torch.bool))
    for steps, free_ts, pinned_ts in ((1, (799,), (999,)), (2, (699, 299), (999, 299))):
        free, pinned = SamplingTrace(), SamplingTrace()
        with torch.no_grad():
            lcm_sample(p.denoiser, p.lcm_scheduler, z, text, num_steps=steps, trace=free)
            lcm_sample(p.denoiser, p.lcm_scheduler, z, text, num_steps=steps, trace=pinned,
                       controlnet=p.controlnet, traj_latent=traj)
        assert free.timesteps == free_ts and pinned.timesteps == pinned_ts
    assert model_config_from_json(to_json(cfg)) == cfg


def test_predicted_noise_re_noises_with_what_the_step_read(pipe):
    """``predicted_noise``: a later step's input is the denoised latent re-noised with the noise the step read in
    its own input, so sampling needs no draw (any generator gives the same result; fresh draws do not), and a
    second step at the same timestep gets back the very input of the first, and so the same result."""
    from motionlcm_core.sampling import SamplingTrace, lcm_sample
    p = pipe
    z, text = torch.randn(2, 2, 8), emb(2)[:, None]
    with torch.no_grad():
        def run(seed, predicted, timesteps, trace=None):
            return lcm_sample(p.denoiser, p.lcm_scheduler, z, text, num_steps=4, timesteps=timesteps, trace=trace,
                              generator=torch.Generator().manual_seed(seed), predicted_noise=predicted)
        steps = (299, 59, 39, 19)
        torch.testing.assert_close(run(0, True, steps), run(1, True, steps))
        assert not torch.allclose(run(0, False, steps), run(1, False, steps))
        torch.testing.assert_close(run(0, True, (59, 59)), run(0, True, (59,)), atol=1e-5, rtol=1e-5)
        trace = SamplingTrace()
        run(0, True, (299, 59), trace)
        a = p.lcm_scheduler.schedule.alpha(299, z)
        read = (z - a.sqrt() * trace.denoised[0]) / (1 - a).sqrt()
        torch.testing.assert_close(trace.injected_noise[0], read)


@pytest.mark.parametrize("cfg", [v2_config(control=True), v1_config(control=True), tiny_config()])
def test_config_json_round_trip(cfg):
    assert model_config_from_json(to_json(cfg)) == cfg


def test_weights_round_trip(tmp_path, pipe):
    path = save_weights(tmp_path / "m.safetensors",
                        {"vae": pipe.vae.state_dict(), "denoiser": pipe.denoiser.state_dict(),
                         "teacher": pipe.teacher.state_dict(), "controlnet": pipe.controlnet.state_dict(),
                         "traj_encoder": pipe.traj_encoder.state_dict(),
                         "stats": {"mean": torch.from_numpy(pipe.stats.mean.copy()),
                                   "std": torch.from_numpy(pipe.stats.std.copy())}},
                        pipe.cfg, training={"steps": 1})
    loaded = MotionLCMPipeline.from_pretrained(path, device="cpu")
    assert loaded.cfg == pipe.cfg and loaded.has_controlnet and loaded.has_teacher and loaded.trained
    a = pipe.generate(text_embeddings=emb(1), lengths=40, seed=3)
    b = loaded.generate(text_embeddings=emb(1), lengths=40, seed=3)
    np.testing.assert_allclose(a.joints, b.joints, atol=1e-6)


def test_not_our_file(tmp_path):
    from safetensors.torch import save_file
    save_file({"x": torch.zeros(1)}, str(tmp_path / "x.safetensors"))
    with pytest.raises(ValueError, match="not a MotionLCM-for-Blender weights file"):
        MotionLCMPipeline.from_pretrained(tmp_path / "x.safetensors", device="cpu")


def test_bf16_path_close(pipe):
    p16 = MotionLCMPipeline.from_config(tiny_config(), device="cpu", seed=0, dtype="bf16")
    a = pipe.generate(text_embeddings=emb(1), lengths=40, seed=2)
    b = p16.generate(text_embeddings=emb(1), lengths=40, seed=2)
    assert np.isfinite(b.joints).all()
    assert np.abs(a.joints - b.joints).max() < 0.5


def test_device_choice():
    from motionlcm_core.device import resolve_device, resolve_dtype
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(ValueError):
        resolve_device("tpu")
    with pytest.raises(ValueError, match="fp16"):
        resolve_dtype(torch.device("cpu"), "fp16")


def test_vae_unmasked_fast_path_equals_masked(pipe):
    """A full-length sample decodes/encodes the same alone (no mask) and beside a padded one (masked)."""
    vae = pipe.vae
    z = torch.randn(2, 2, 8, generator=torch.Generator().manual_seed(0))
    full = torch.ones(1, 30, dtype=torch.bool)
    mixed = torch.stack([torch.ones(30, dtype=torch.bool), torch.arange(30) < 17])
    with torch.no_grad():
        alone = vae.decode(z[:1], full)
        batched = vae.decode(z, mixed)
        np.testing.assert_allclose(alone[0].numpy(), batched[0].numpy(), atol=1e-5)
        feats = torch.randn(2, 30, 263, generator=torch.Generator().manual_seed(1)) * mixed[..., None]
        eps = torch.zeros(2, 2, 8)
        a = vae.encode(feats[:1], full, noise=eps[:1]).mu
        b = vae.encode(feats, mixed, noise=eps).mu
        np.testing.assert_allclose(a[0].numpy(), b[0].numpy(), atol=1e-5)
