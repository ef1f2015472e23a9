"""Frozen text embeddings for training: a cached table of every caption's sentence embedding."""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import torch

from ..data.feature_cache import default_cache_dir

log = logging.getLogger("motionlcm_core.training")


class TextTable:
    """Sentence embeddings of every caption a dataset can return (+ ``""`` = unconditional), computed
    once with the frozen encoder and cached on disk; lookups are table reads."""

    def __init__(self, captions: list[str], embeddings: torch.Tensor) -> None:
        if embeddings.shape[0] != len(captions) or "" not in captions:
            raise ValueError("TextTable needs one embedding row per caption, including the empty caption")
        self.index = {c: i for i, c in enumerate(captions)}
        self.embeddings = embeddings.float()       # (N, D)

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    @classmethod
    def build(cls, encoder_name: str, captions: list[str], *, encoder=None, chunk: int = 256) -> "TextTable":
        """Embed ``captions`` with ``encoder`` (default: the named sentence encoder), using the disk cache
        (keyed by the encoder's ``name`` and the captions)."""
        captions = sorted(set(captions) | {""})
        encoder_name = getattr(encoder, "name", encoder_name)
        key = hashlib.sha1("\n".join([encoder_name, *captions]).encode()).hexdigest()[:20]
        path = default_cache_dir() / f"text_{key}.pt"
        if path.is_file():
            return cls(captions, torch.load(path, map_location="cpu"))
        encoder = encoder or open_text_encoder(encoder_name)
        log.info("embedding %d captions with %s", len(captions), encoder_name)
        rows = [encoder.encode(captions[i:i + chunk])[:, 0].cpu() for i in range(0, len(captions), chunk)]
        table = cls(captions, torch.cat(rows))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        torch.save(table.embeddings, tmp)
        os.replace(tmp, path)   # atomic: parallel processes (torchrun) may build the same table
        return table

    def lookup(self, captions: list[str], device: torch.device, *, drop_prob: float = 0.0,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """``(B, 1, D)``; each caption is replaced by ``""`` with probability ``drop_prob`` (CFG training)."""
        missing = [c for c in captions if c not in self.index]
        if missing:
            raise ValueError(f"caption not in the text table (rebuild it): {missing[0]!r}")
        rows = torch.tensor([self.index[c] for c in captions])
        if drop_prob > 0:
            drop = torch.rand(len(captions), generator=generator) < drop_prob
            rows = torch.where(drop, torch.tensor(self.index[""]), rows)
        return self.embeddings[rows][:, None].to(device)

    def uncond(self, device: torch.device) -> torch.Tensor:
        """Embedding of the empty caption ``(1, 1, D)``."""
        return self.embeddings[self.index[""]][None, None].to(device)


def open_text_encoder(name: str):
    """The embedded all-MiniLM-L6-v2, or a sentence-transformers folder given by path."""
    from ..text_encoder import EMBEDDED_NAME, TextEncoder
    if name == EMBEDDED_NAME:
        return TextEncoder.embedded("cpu")
    return TextEncoder(name, "cpu")


def encoder_label(name: str) -> str:
    """Name recorded in ModelConfig.text_encoder: the folder name when a path is given."""
    return Path(name).name if ("/" in name or "\\" in name) else name
