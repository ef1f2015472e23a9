"""Packed sequences (models/packing.py): only real frames are computed, outputs equal the padded batch."""
from __future__ import annotations

import dataclasses
import functools

import pytest
import torch

from motionlcm_core.config import TransformerConfig, VAEConfig, v2_config
from motionlcm_core.models import MotionVAE, TrajectoryEncoder, packing
from motionlcm_core.models.packing import Packing, encoder_layer, self_attention

TINY_TR = TransformerConfig(hidden_dim=16, ff_size=32, num_layers=3, num_heads=2)


def _vae(cfg: VAEConfig, seed: int = 0) -> MotionVAE:
    torch.manual_seed(seed)
    return MotionVAE(cfg).eval()


def _mask(lengths: list[int], frames: int | None = None) -> torch.Tensor:
    """``(B, T)`` bool, True for the first ``lengths[b]`` frames."""
    frames = frames or max(lengths)
    return torch.arange(frames)[None] < torch.tensor(lengths)[:, None]


def _tiny_vae(dropout: float = 0.1) -> MotionVAE:
    cfg = dataclasses.replace(VAEConfig(), latent_tokens=2, latent_dim=8,
                              transformer=dataclasses.replace(TINY_TR, dropout=dropout))
    return _vae(cfg)


def test_pack_unpack_round_trip():
    mask = torch.tensor([[1, 1, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0]], dtype=torch.bool)
    p = Packing.from_mask(mask)
    x = torch.arange(12.0).reshape(3, 4, 1)
    assert p.lengths == (2, 2, 0) and p.starts == [0, 2, 4]
    assert p.pack(x).flatten().tolist() == [0.0, 1.0, 5.0, 7.0]
    assert torch.equal(p.unpack(p.pack(x)), x * mask[..., None])
    with pytest.raises(ValueError, match="bool"):
        Packing.from_mask(mask.float())


def test_self_attention_per_clip_equals_one_masked_call():
    """The CPU form (a call per clip) and the GPU form (one call, padded layout, key mask) agree."""
    attn = torch.nn.MultiheadAttention(16, 2, batch_first=True).eval()
    mask = _mask([5, 1, 3])
    p = Packing.from_mask(mask)
    assert torch.equal(p.valid_mask(torch.device("cpu")), mask)
    x = torch.randn(p.index.numel(), 16, generator=torch.Generator().manual_seed(7))
    with torch.inference_mode():
        a = self_attention(attn, x, p, per_clip=True)
        b = self_attention(attn, x, p, per_clip=False)
        ref = attn(*(3 * [p.unpack(x)]), key_padding_mask=~mask, need_weights=False)[0]
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    torch.testing.assert_close(a, p.pack(ref), atol=1e-6, rtol=0)


def test_v2_decoder_packed_equals_padded():
    """V2-size decoder, mixed lengths: packed real frames equal the masked padded batch within 1e-5."""
    vae = _vae(v2_config().vae)
    lengths = [40, 73, 90, 41, 96, 40]
    mask = _mask(lengths, 100)
    z = torch.randn(len(lengths), 16, 32, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        packed = vae.decode(z, mask)
        padded = vae.decode(z, mask, packed=False)
    assert packed.shape == padded.shape == (6, 100, 263)
    torch.testing.assert_close(packed, padded, atol=1e-5, rtol=0)
    assert not packed[~mask].any()


@pytest.mark.parametrize("per_clip", [True, False])
def test_packed_decode_equals_each_clip_alone(monkeypatch, per_clip):
    """A clip decodes the same packed beside others as alone at its own length (no padding at all), with
    either form of the packed self-attention."""
    monkeypatch.setattr(packing, "self_attention", functools.partial(packing.self_attention, per_clip=per_clip))
    vae = _tiny_vae()
    lengths = [30, 7, 19]
    z = torch.randn(3, 2, 8, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        packed = vae.decode(z, _mask(lengths))
        for b, n in enumerate(lengths):
            alone = vae.decode(z[b:b + 1], torch.ones(1, n, dtype=torch.bool))
            torch.testing.assert_close(packed[b, :n], alone[0], atol=1e-5, rtol=0)


def test_encoders_packed_equal_padded():
    vae = _tiny_vae()
    lengths = [30, 12, 21]
    mask = _mask(lengths)
    feats = torch.randn(3, 30, 263, generator=torch.Generator().manual_seed(3)) * mask[..., None]
    eps = torch.zeros(3, 2, 8)
    traj = TrajectoryEncoder(dataclasses.replace(v2_config(control=True).traj_encoder, latent_tokens=2,
                                                 latent_dim=8, transformer=TINY_TR)).eval()
    hmask = torch.zeros(3, 30, 22, 3, dtype=torch.bool)
    hmask[0, ::7, 0] = True
    hmask[1, 5, 21] = True          # one pinned frame; sample 2 has none
    hint = torch.randn(3, 30, 22, 3, generator=torch.Generator().manual_seed(4)) * hmask
    with torch.inference_mode():
        torch.testing.assert_close(vae.encode(feats, mask, noise=eps).mu,
                                   vae.encode(feats, mask, noise=eps, packed=False).mu, atol=1e-5, rtol=0)
        torch.testing.assert_close(traj(hint, hmask), traj(hint, hmask, packed=False), atol=1e-5, rtol=0)


def test_training_gradients_packed_equal_padded():
    """Training mode (dropout 0 so both draw nothing): same loss and parameter gradients."""
    vae = _tiny_vae(dropout=0.0).train()
    lengths = [25, 9, 17, 25]
    mask = _mask(lengths)
    feats = torch.randn(4, 25, 263, generator=torch.Generator().manual_seed(5)) * mask[..., None]
    eps = torch.randn(4, 2, 8, generator=torch.Generator().manual_seed(6))
    grads, losses = [], []
    for packed in (True, False):
        vae.zero_grad()
        enc = vae.encode(feats, mask, noise=eps, packed=packed)
        rec = vae.decode(enc.latents, mask, packed=packed)
        loss = ((rec - feats) ** 2)[mask].mean() + 1e-3 * enc.mu.pow(2).mean()
        loss.backward()
        losses.append(loss.detach())
        grads.append({k: p.grad.clone() for k, p in vae.named_parameters() if p.grad is not None})
    torch.testing.assert_close(losses[0], losses[1], atol=1e-6, rtol=1e-6)
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 20
    for k in grads[0]:
        torch.testing.assert_close(grads[0][k], grads[1][k], atol=1e-5, rtol=1e-4, msg=k)


def test_dropout_still_applies_when_packed():
    vae = _tiny_vae(dropout=0.5).train()
    mask = _mask([10, 4])
    z = torch.randn(2, 2, 8)
    torch.manual_seed(0)
    a = vae.decode(z, mask)
    b = vae.decode(z, mask)
    assert not torch.allclose(a, b)
    assert not a[~mask].any()


def test_empty_clip_decodes_to_zeros():
    vae = _tiny_vae()
    with torch.inference_mode():
        out = vae.decode(torch.randn(2, 2, 8), torch.tensor([[True, True, False], [False, False, False]]))
    assert torch.isfinite(out).all() and not out[1].any()


def test_decode_refuses_a_bad_mask():
    vae = _tiny_vae()
    with pytest.raises(ValueError, match="mask must be bool"):
        vae.decode(torch.randn(2, 2, 8), torch.ones(2, 5))
    with pytest.raises(ValueError, match="B = 2"):
        vae.decode(torch.randn(2, 2, 8), torch.ones(3, 5, dtype=torch.bool))


def test_packed_layer_refuses_pre_norm():
    layer = torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=True, norm_first=True)
    p = Packing.from_mask(torch.ones(1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="packed=False"):
        encoder_layer(layer, torch.randn(3, 16), p)
