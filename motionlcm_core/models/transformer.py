"""Skip-connection transformer stacks (MLD layout) built from torch's post-norm transformer layers.

Layout inside: batch-first ``(B, S, H)`` so that torch's fused inference path is used; the parameter
names (``self_attn.in_proj_weight``, ``linear1``, ``norm1`` …) are those of the official checkpoints.

Stack of ``n`` layers: ``(n-1)/2`` input blocks whose outputs are pushed on a stack, a middle block,
then ``(n-1)/2`` output blocks, each preceded by ``linear_blocks.i`` applied to
``cat([x, stack.pop()])`` (last in, first out). A final LayerNorm follows unless ``final_norm=False``
(ControlNet copies).
"""
from __future__ import annotations

import torch
from torch import nn

from ..config import TransformerConfig
from .packing import Packing, decoder_layer, encoder_layer


class LearnedPositionalEmbedding(nn.Module):
    """``pe (max_len, 1, H)`` added to the first S positions of a ``(B, S, H)`` sequence."""

    def __init__(self, hidden_dim: int, max_len: int = 500) -> None:
        super().__init__()
        self.pe = nn.Parameter(torch.empty(max_len, 1, hidden_dim))
        nn.init.uniform_(self.pe)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq_len = x.shape[1]
        if seq_len > self.pe.shape[0]:
            raise ValueError(f"sequence of {seq_len} tokens exceeds the positional table ({self.pe.shape[0]})")
        return x + self.pe[:seq_len].transpose(0, 1)


def _encoder_layer(cfg: TransformerConfig) -> nn.TransformerEncoderLayer:
    return nn.TransformerEncoderLayer(
        cfg.hidden_dim, cfg.num_heads, cfg.ff_size, cfg.dropout, activation="gelu",
        layer_norm_eps=cfg.norm_eps, batch_first=True, norm_first=False,
    )


def _decoder_layer(cfg: TransformerConfig) -> nn.TransformerDecoderLayer:
    return nn.TransformerDecoderLayer(
        cfg.hidden_dim, cfg.num_heads, cfg.ff_size, cfg.dropout, activation="gelu",
        layer_norm_eps=cfg.norm_eps, batch_first=True, norm_first=False,
    )


class _SkipStack(nn.Module):
    """Shared block bookkeeping of the encoder and decoder stacks."""

    def __init__(self, cfg: TransformerConfig, make_layer, final_norm: bool) -> None:
        super().__init__()
        n_side = (cfg.num_layers - 1) // 2
        self.input_blocks = nn.ModuleList(make_layer(cfg) for _ in range(n_side))
        self.middle_block = make_layer(cfg)
        self.output_blocks = nn.ModuleList(make_layer(cfg) for _ in range(n_side))
        self.linear_blocks = nn.ModuleList(nn.Linear(2 * cfg.hidden_dim, cfg.hidden_dim) for _ in range(n_side))
        self.norm = nn.LayerNorm(cfg.hidden_dim, eps=cfg.norm_eps) if final_norm else None
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    @property
    def num_blocks(self) -> int:
        return 2 * len(self.input_blocks) + 1

    def run(self, x: torch.Tensor, call, residuals: list[torch.Tensor] | None = None,
            collect: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Run the stack. ``residuals[i]`` is added to block i's output (ControlNet injection);
        with ``collect`` every block output is returned (ControlNet side)."""
        outs: list[torch.Tensor] = []
        skips: list[torch.Tensor] = []
        blocks = [*self.input_blocks, self.middle_block, *self.output_blocks]
        n_in = len(self.input_blocks)
        for i, block in enumerate(blocks):
            if i > n_in:
                x = self.linear_blocks[i - n_in - 1](torch.cat([x, skips.pop()], dim=-1))
            x = call(block, x)
            if residuals is not None:
                x = x + residuals[i]
            if collect:
                outs.append(x)
            if i < n_in:
                skips.append(x)
        if self.norm is not None:
            x = self.norm(x)
        return x, outs


class SkipTransformerEncoder(_SkipStack):
    """Encoder stack: ``x (B, S, H)``, ``key_padding_mask (B, S)`` True = ignore."""

    def __init__(self, cfg: TransformerConfig, final_norm: bool = True) -> None:
        super().__init__(cfg, _encoder_layer, final_norm)

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None,
                residuals: list[torch.Tensor] | None = None, collect: bool = False
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return self.run(x, lambda blk, h: blk(h, src_key_padding_mask=key_padding_mask), residuals, collect)

    def forward_packed(self, x: torch.Tensor, packing: Packing) -> torch.Tensor:
        """The same stack on the valid tokens only: ``packed (N, H)`` → ``(N, H)`` (see ``packing.py``)."""
        out, _ = self.run(x, lambda blk, h: encoder_layer(blk, h, packing))
        return out

    def encode_valid(self, x: torch.Tensor, valid: torch.Tensor, packed: bool = True) -> torch.Tensor:
        """``x (B, S, H)`` where ``valid (B, S)`` marks real tokens → ``(B, S, H)``: with none padded, no mask
        (torch's fused kernels); else the real tokens only (``packed``) or a key-padding mask (the official way)."""
        if bool(valid.all()):
            return self(x)[0]
        if packed:
            packing = Packing.from_mask(valid)
            return packing.unpack(self.forward_packed(packing.pack(x), packing))
        return self(x, key_padding_mask=~valid)[0]


class SkipTransformerDecoder(_SkipStack):
    """Decoder stack: queries ``(B, T, H)`` attend to ``memory (B, L, H)``; padded queries masked."""

    def __init__(self, cfg: TransformerConfig, final_norm: bool = True) -> None:
        super().__init__(cfg, _decoder_layer, final_norm)

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor,
                tgt_key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        out, _ = self.run(tgt, lambda blk, h: blk(h, memory, tgt_key_padding_mask=tgt_key_padding_mask))
        return out

    def forward_packed(self, tgt: torch.Tensor, memory: torch.Tensor, packing: Packing) -> torch.Tensor:
        """Packed queries ``(N, H)`` (valid frames only) attend to ``memory (B, L, H)`` → ``(N, H)``."""
        out, _ = self.run(tgt, lambda blk, h: decoder_layer(blk, h, memory, packing))
        return out
