"""Packed sequences: run transformer layers on the valid tokens only, no padding.

A padded batch ``x (B, S, H)`` with ``valid (B, S)`` (True = real token) becomes ``packed (N, H)``,
N = valid.sum(), sample after sample, positions kept in order. Frame-wise work (projections, feed-forward,
LayerNorm) then runs once on the N real tokens; self-attention runs per sample on its own tokens, unmasked,
so torch's fused attention kernel is used. Real tokens give the same outputs as the masked padded
computation: a key-padding mask already makes them independent of the padding (padded tokens are never
keys), and no layer mixes positions otherwise.

The layer functions read the parameters of torch's own ``nn.TransformerEncoderLayer`` /
``nn.TransformerDecoderLayer`` (post-norm, batch-first), so module and state-dict layouts are unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Packing:
    """Where each sample's valid tokens sit: ``index (N,)`` = b·S + s of every packed token, ``lengths``
    = valid tokens per sample (the packed rows of sample b are ``starts[b] : starts[b] + lengths[b]``)."""

    index: torch.Tensor
    lengths: tuple[int, ...]
    batch: int
    seq: int

    @classmethod
    def from_mask(cls, valid: torch.Tensor) -> "Packing":
        """``valid (B, S)`` bool, True = real token."""
        if valid.dtype != torch.bool or valid.dim() != 2:
            raise ValueError(f"valid must be a bool (B, S) mask, got {valid.dtype} {tuple(valid.shape)}")
        B, S = valid.shape
        index = valid.reshape(-1).nonzero().squeeze(1)
        return cls(index=index, lengths=tuple(int(n) for n in valid.sum(1).tolist()), batch=B, seq=S)

    @property
    def starts(self) -> list[int]:
        out, s = [], 0
        for n in self.lengths:
            out.append(s)
            s += n
        return out

    def valid_mask(self, device: torch.device) -> torch.Tensor:
        """``(B, S)`` bool, True = real token (the mask this packing was made from)."""
        mask = torch.zeros(self.batch * self.seq, dtype=torch.bool, device=device)
        return mask.index_fill(0, self.index.to(device), True).reshape(self.batch, self.seq)

    def pack(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, S, ...)`` → ``(N, ...)``."""
        return x.reshape(self.batch * self.seq, *x.shape[2:]).index_select(0, self.index)

    def unpack(self, x: torch.Tensor) -> torch.Tensor:
        """``x (N, ...)`` → ``(B, S, ...)`` with zeros at padded tokens (differentiable)."""
        out = x.new_zeros(self.batch * self.seq, *x.shape[1:]).index_copy(0, self.index, x)
        return out.reshape(self.batch, self.seq, *x.shape[1:])


def _heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """``(..., n, H)`` → ``(..., heads, n, H/heads)``."""
    *lead, n, H = x.shape
    return x.reshape(*lead, n, num_heads, H // num_heads).transpose(-3, -2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    """``(..., heads, n, d)`` → ``(..., n, heads·d)``."""
    x = x.transpose(-3, -2)
    return x.reshape(*x.shape[:-2], -1)


def _check_attention(attn: nn.MultiheadAttention) -> None:
    if not (attn.batch_first and attn._qkv_same_embed_dim and attn.in_proj_bias is not None
            and attn.bias_k is None and not attn.add_zero_attn):
        raise ValueError("packed layers need batch-first attention with a packed in-projection and bias "
                         "(the layout of every MotionLCM network); call with packed=False")


def self_attention(attn: nn.MultiheadAttention, x: torch.Tensor, packing: Packing, *,
                   per_clip: bool | None = None) -> torch.Tensor:
    """Self-attention of ``packed (N, H)`` within each sample → ``(N, H)``.

    ``per_clip`` (default on the CPU): one unmasked fused call per sample, no padding at all (fastest on
    the CPU). Otherwise (default elsewhere) one call on the samples laid out padded with a key mask, which
    spares a GPU B kernel launches per layer; the projections stay packed either way."""
    _check_attention(attn)
    q, k, v = F.linear(x, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
    p = attn.dropout if attn.training else 0.0
    if per_clip is None:
        per_clip = x.device.type == "cpu"
    if per_clip:
        outs = []
        for s, n in zip(packing.starts, packing.lengths):
            if n:
                heads = [_heads(t[s:s + n], attn.num_heads) for t in (q, k, v)]
                outs.append(_merge(F.scaled_dot_product_attention(*heads, dropout_p=p)))
        out = torch.cat(outs) if outs else x[:0]
    else:
        heads = [_heads(packing.unpack(t), attn.num_heads) for t in (q, k, v)]
        keys = packing.valid_mask(x.device)[:, None, None, :]
        out = packing.pack(_merge(F.scaled_dot_product_attention(*heads, attn_mask=keys, dropout_p=p)))
    return F.linear(out, attn.out_proj.weight, attn.out_proj.bias)


def cross_attention(attn: nn.MultiheadAttention, x: torch.Tensor, memory: torch.Tensor,
                    packing: Packing) -> torch.Tensor:
    """Packed queries ``(N, H)`` attend to their own sample's ``memory (B, L, H)`` → ``(N, H)``.

    Memory is never padded, so the queries are laid out padded ``(B, S, H)`` for one batched call
    (padded query rows cost L dot products each, then are dropped)."""
    _check_attention(attn)
    w_q, w_k, w_v = attn.in_proj_weight.chunk(3)
    b_q, b_k, b_v = attn.in_proj_bias.chunk(3)
    q = _heads(packing.unpack(F.linear(x, w_q, b_q)), attn.num_heads)
    k = _heads(F.linear(memory, w_k, b_k), attn.num_heads)
    v = _heads(F.linear(memory, w_v, b_v), attn.num_heads)
    p = attn.dropout if attn.training else 0.0
    out = packing.pack(_merge(F.scaled_dot_product_attention(q, k, v, dropout_p=p)))
    return F.linear(out, attn.out_proj.weight, attn.out_proj.bias)


def _check_post_norm(layer: nn.Module) -> None:
    if layer.norm_first:
        raise ValueError("packed layers follow the post-norm layout of MotionLCM; call with packed=False")


def encoder_layer(layer: nn.TransformerEncoderLayer, x: torch.Tensor, packing: Packing) -> torch.Tensor:
    """``nn.TransformerEncoderLayer.forward`` (post-norm) on ``packed (N, H)``."""
    _check_post_norm(layer)
    x = layer.norm1(x + layer.dropout1(self_attention(layer.self_attn, x, packing)))
    ff = layer.linear2(layer.dropout(layer.activation(layer.linear1(x))))
    return layer.norm2(x + layer.dropout2(ff))


def decoder_layer(layer: nn.TransformerDecoderLayer, x: torch.Tensor, memory: torch.Tensor,
                  packing: Packing) -> torch.Tensor:
    """``nn.TransformerDecoderLayer.forward`` (post-norm) on ``packed (N, H)``, ``memory (B, L, H)``."""
    _check_post_norm(layer)
    x = layer.norm1(x + layer.dropout1(self_attention(layer.self_attn, x, packing)))
    x = layer.norm2(x + layer.dropout2(cross_attention(layer.multihead_attn, x, memory, packing)))
    ff = layer.linear2(layer.dropout(layer.activation(layer.linear1(x))))
    return layer.norm3(x + layer.dropout3(ff))
