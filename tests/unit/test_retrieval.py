"""Retrieval-augmented sampling (motionlcm_core.retrieval): the bank, the lookup and generate(retrieval=)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from motionlcm_core import MotionLCMPipeline
from motionlcm_core.io.checkpoints import load_weights, save_weights
from motionlcm_core.retrieval import BANK_LENGTHS, BANK_MIN_FRAMES, MotionBank, RetrievalConfig, build_bank
from tests.unit.test_pipeline import emb, tiny_config


class _Encoder:
    """Stands in for the sentence encoder: a fixed random unit vector per distinct caption."""

    def __init__(self, dim: int = 384) -> None:
        self.dim, self.cache = dim, {}

    def encode(self, texts):
        rows = []
        for t in texts:
            if t not in self.cache:
                g = torch.Generator().manual_seed(len(self.cache) + 1)
                self.cache[t] = torch.nn.functional.normalize(torch.randn(self.dim, generator=g), dim=0)
            rows.append(self.cache[t])
        return torch.stack(rows)[:, None]


@pytest.fixture(scope="module")
def pipe():
    return MotionLCMPipeline.from_config(tiny_config(), device="cpu", seed=0)


def _bank(n_windows: int = 3, latent=(8, 16)) -> MotionBank:
    """Windows 0..n-1 (window k filled with the value k, long enough for every bank length but the last for
    window 0), one caption each, caption k's embedding = basis vector k."""
    text = torch.eye(n_windows, 384)
    latents = torch.stack([torch.full((len(BANK_LENGTHS), *latent), float(k)) for k in range(n_windows)])
    latents[0, -1] = float("nan")
    frames = torch.tensor([BANK_LENGTHS[-2]] + [BANK_LENGTHS[-1]] * (n_windows - 1))
    return MotionBank(text, torch.arange(n_windows), frames, latents)


def test_lookup_picks_the_nearest_caption_scoring_short_windows_down():
    bank = _bank()
    query = torch.eye(3, 384)[[2]][:, None]
    got, picked = bank.retrieve(query, [60], seed=0, cfg=RetrievalConfig(top_k=1))
    assert picked == [2] and torch.all(got == 2.0)
    # window 0 (160 frames) is 18 % too short for 196: it is scored down by short_penalty × 0.18, and when
    # picked its longest crop's latents are used
    got, picked = bank.retrieve(torch.eye(3, 384)[[0]][:, None], [196], seed=0, cfg=RetrievalConfig(top_k=1))
    assert picked == [0] and torch.all(got == 0.0)
    near_both = torch.nn.functional.normalize(torch.eye(3, 384)[0] + 0.9 * torch.eye(3, 384)[1], dim=0)[None, None]
    assert bank.retrieve(near_both, [196], seed=0, cfg=RetrievalConfig(top_k=1))[1] == [1]
    assert bank.retrieve(near_both, [196], seed=0, cfg=RetrievalConfig(top_k=1, short_penalty=0.0))[1] == [0]
    assert bank.retrieve(near_both, [160], seed=0, cfg=RetrievalConfig(top_k=1))[1] == [0]
    # top_k: the seed picks among the nearest, reproducibly
    uniform = RetrievalConfig(top_k=3, temperature=0.0)
    draws = {tuple(bank.retrieve(torch.eye(3, 384)[[1]][:, None], [60], seed=s, cfg=uniform)[1]) for s in range(20)}
    assert len(draws) > 1
    assert bank.retrieve(query, [60], seed=5, cfg=RetrievalConfig(top_k=3))[1] == \
        bank.retrieve(query, [60], seed=5, cfg=RetrievalConfig(top_k=3))[1]


def test_bank_round_trips_through_the_model_file(tmp_path, pipe):
    bank = _bank()
    parts = {"vae": pipe.vae.state_dict(), "denoiser": pipe.denoiser.state_dict(),
             "stats": {"mean": torch.from_numpy(pipe.stats.mean.copy()), "std": torch.from_numpy(pipe.stats.std.copy())},
             "bank": bank.state_dict()}
    path = save_weights(tmp_path / "m.safetensors", parts, pipe.cfg, training={"note": "test"}, dtype=torch.float16)
    _, loaded, _ = load_weights(path)
    again = MotionBank.from_state_dict(loaded["bank"])
    assert torch.equal(again.window, bank.window) and torch.equal(torch.isnan(again.latents), torch.isnan(bank.latents))
    model = MotionLCMPipeline.from_pretrained(path, device="cpu")
    assert model.bank is not None and len(model.bank) == 3


def test_generate_starts_from_the_retrieved_motion(pipe):
    """With a bank, the student starts from the retrieved latent noised to start_t: a bank whose latents are
    the model's own sample makes the output follow it; retrieval=False ignores the bank."""
    pipe.bank = None
    plain = pipe.generate(text_embeddings=emb(1), lengths=40, seed=3)
    assert plain.report["retrieval"] is None
    with pytest.raises(ValueError, match="motion bank"):
        pipe.generate(text_embeddings=emb(1), lengths=40, retrieval=True)
    pipe.bank = _bank(latent=(pipe.cfg.denoiser.latent_tokens, pipe.cfg.denoiser.latent_dim))
    try:
        one = RetrievalConfig(top_k=1)
        a = pipe.generate(text_embeddings=torch.eye(3, 384)[[1]], lengths=40, seed=3, retrieval=one)
        b = pipe.generate(text_embeddings=torch.eye(3, 384)[[1]], lengths=40, seed=3, retrieval=one)
        off = pipe.generate(text_embeddings=torch.eye(3, 384)[[1]], lengths=40, seed=3, retrieval=False)
        assert a.report["retrieval"]["bank_entries"] == [1]
        np.testing.assert_array_equal(a.joints, b.joints)                  # same seed, same motion
        assert not np.allclose(a.feats, off.feats)
        assert off.report["retrieval"] is None
        near = pipe.generate(text_embeddings=torch.eye(3, 384)[[1]], lengths=40, seed=3,
                             retrieval=RetrievalConfig(top_k=1, start_t=1), body=False)  # barely noised
        shape = (1, pipe.cfg.denoiser.latent_tokens, pipe.cfg.denoiser.latent_dim)
        with torch.no_grad():
            decoded = pipe.vae.decode(torch.full(shape, 1.0), torch.ones(1, 40, dtype=torch.bool))
        decoded = pipe.stats.denormalize(decoded)
        from motionlcm_core.motion import floor_height, lower_heights
        decoded = lower_heights(decoded, floor_height(decoded))
        np.testing.assert_allclose(near.feats[0], decoded[0].numpy(), atol=0.05 * float(np.abs(near.feats).max()))
        with pytest.raises(ValueError, match="retrieval"):
            pipe.generate(text_embeddings=emb(1), lengths=40, retrieval="yes")
        with pytest.raises(ValueError, match="without pins"):
            pipe.generate(text_embeddings=emb(1), lengths=40, retrieval=True, teacher=True)
    finally:
        pipe.bank = None


def test_build_bank_holds_every_window_and_its_mirror(pipe):
    from motionlcm_core.data.dataset import ClipRecord
    from motionlcm_core.data.text import CaptionLine
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(130, 263)).astype(np.float32)
    clip = ClipRecord("c", feats, (CaptionLine("a person turns left"), CaptionLine("walks", 0.0, 3.5),
                                   CaptionLine("one second", 0.0, 1.0), CaptionLine("too short", 0.0, 0.9)),
                      feats_mirror=feats[:, ::-1].copy())
    enc = _Encoder()
    bank = build_bank(pipe.vae, pipe.stats, enc, [clip])
    assert len(bank) == 6 and bank.latents.shape[0] == 6              # 3 windows x (original, mirror)
    assert "a person turns right" in enc.cache                          # the mirror's caption swaps sides
    assert "too short" not in enc.cache                                 # under BANK_MIN_FRAMES
    whole = int(bank.window[0])
    usable = torch.isfinite(bank.latents[whole]).all(dim=(1, 2))
    assert usable.tolist() == [n <= 130 for n in BANK_LENGTHS]
    # the 1 s window has no latents: drawn only where its exemplar can be encoded (the bank has a store)
    second = [i for i, c in enumerate(bank.captions) if c == "one second"]
    assert bank.frames[bank.window[second[0]]] == BANK_MIN_FRAMES
    assert not torch.isfinite(bank.latents[bank.window[second[0]]]).any()
    query = bank.text[second[0]][None, None]
    no_exemplar = RetrievalConfig(top_k=1, exemplar=False, short_penalty=0.0)
    assert bank.choose(query, [40], 0, no_exemplar)[0].caption not in second
    assert bank.choose(query, [40], 0, RetrievalConfig(top_k=1, short_penalty=0.0))[0].caption in second
    with pytest.raises(ValueError):
        RetrievalConfig(start_t=0)
    with pytest.raises(ValueError, match="renoise"):
        RetrievalConfig(renoise="same")


def test_words_the_embedding_blurs_steer_the_lookup():
    """Hybrid score: two captions equally near in embedding, the one holding the prompt's words wins; stems
    join word forms (waves / waving / wave); function words do not count; the caption texts round-trip."""
    from motionlcm_core.retrieval import content_words, word_overlap
    assert content_words("A person waves hello") == content_words("waving hello") == {"wav", "hello"}
    assert content_words("someone kicks the ball") == {"kick", "ball"}
    text = torch.nn.functional.normalize(torch.ones(2, 384), dim=-1)
    latents = torch.stack([torch.full((len(BANK_LENGTHS), 2, 4), float(k)) for k in range(2)])
    bank = MotionBank(text, torch.arange(2), torch.tensor([196, 196]), latents, None,
                      ["a man walks forward", "a man does a cartwheel"])
    query = text[:1, None]
    one = RetrievalConfig(top_k=1)
    assert bank.retrieve(query, [60], 0, one, ["a gymnast turns a cartwheel"])[1] == [1]
    assert bank.retrieve(query, [60], 0, one, ["someone walks ahead"])[1] == [0]
    assert word_overlap("the a of", [frozenset({"walk"})]).tolist() == [0.0]
    again = MotionBank.from_state_dict(bank.state_dict())
    assert again.captions == bank.captions
