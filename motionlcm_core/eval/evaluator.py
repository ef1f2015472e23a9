"""Our text–motion retrieval evaluator (stands in for the unavailable official T2M evaluator).

* Motion side: de-normalised feats ``(B, T, 263)`` → normalised with the evaluator's own Mean/Std
  (stored in the file) → the first 259 dims (foot contacts dropped, as T2M does) → two strided
  Conv1d (time / 4) → BiGRU over ``length // 4`` steps → MLP → unit-norm embedding ``(B, E)``.
* Text side: frozen all-MiniLM-L6-v2 sentence embedding (384) → MLP → unit-norm embedding ``(B, E)``.
* Trained with a symmetric InfoNCE loss (:mod:`motionlcm_core.eval.train_evaluator`).

Distances between embeddings are Euclidean, as in the T2M metrics; because embeddings lie on the unit
sphere, FID / MM-Dist / Diversity are on a smaller scale than the HumanML3D numbers of the paper and
are comparable only between runs of this evaluator.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn
from torch.nn import functional as F

from motionlcm_core.config import from_dict, to_dict
from motionlcm_core.eval.sentence_embeddings import EMBED_DIM, SentenceEmbedder
from motionlcm_core.motion import FeatureStats

__all__ = ["EvaluatorConfig", "TextMotionEvaluator", "load_evaluator", "default_evaluator_path"]

_KIND = "motionlcm-text-motion-evaluator"
_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


def default_evaluator_path() -> Path:
    """The shipped evaluator, ``motionlcm_core/weights/evaluator.safetensors``."""
    return _WEIGHTS / "evaluator.safetensors"


@dataclass(frozen=True)
class EvaluatorConfig:
    """Sizes of the evaluator; saved as JSON in the weights file."""

    nfeats: int = 259          # leading feature dims used (263 minus the 4 foot contacts)
    conv_dim: int = 192
    gru_dim: int = 160
    embed_dim: int = 256
    text_dim: int = EMBED_DIM  # all-MiniLM-L6-v2
    text_hidden: int = 384
    dropout: float = 0.1
    unit_len: int = 4          # time downsampling of the two strided convolutions
    text_model: str = "all-MiniLM-L6-v2"

    def __post_init__(self) -> None:
        if not 0 < self.nfeats <= 263:
            raise ValueError(f"nfeats must be in 1..263, got {self.nfeats}")
        if self.unit_len != 4:
            raise ValueError("unit_len must be 4 (two stride-2 convolutions)")


class MotionEncoder(nn.Module):
    """Normalised feats ``(B, T, nfeats)`` + lengths → embedding ``(B, E)`` (not yet unit-norm)."""

    def __init__(self, cfg: EvaluatorConfig) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(cfg.nfeats, cfg.conv_dim, 4, 2, 1), nn.Dropout(cfg.dropout), nn.LeakyReLU(0.2),
            nn.Conv1d(cfg.conv_dim, cfg.conv_dim, 4, 2, 1), nn.Dropout(cfg.dropout), nn.LeakyReLU(0.2),
        )
        self.gru = nn.GRU(cfg.conv_dim, cfg.gru_dim, batch_first=True, bidirectional=True)
        self.head = nn.Sequential(nn.Linear(2 * cfg.gru_dim, cfg.embed_dim), nn.LayerNorm(cfg.embed_dim),
                                  nn.LeakyReLU(0.2), nn.Linear(cfg.embed_dim, cfg.embed_dim))

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        hidden = self.conv(feats.transpose(1, 2)).transpose(1, 2)           # (B, T/4, C)
        steps = torch.clamp(lengths.cpu() // 4, min=1, max=hidden.shape[1])
        packed = nn.utils.rnn.pack_padded_sequence(hidden, steps, batch_first=True, enforce_sorted=False)
        _, last = self.gru(packed)                                           # (2, B, H)
        return self.head(torch.cat([last[0], last[1]], dim=-1))


class TextMotionEvaluator(nn.Module):
    """Text and motion encoders into one embedding space; carries its own feature statistics."""

    def __init__(self, cfg: EvaluatorConfig, stats: FeatureStats) -> None:
        super().__init__()
        self.cfg = cfg
        self.motion_encoder = MotionEncoder(cfg)
        self.text_head = nn.Sequential(nn.Linear(cfg.text_dim, cfg.text_hidden), nn.LeakyReLU(0.2),
                                       nn.Linear(cfg.text_hidden, cfg.embed_dim))
        self.register_buffer("mean", torch.from_numpy(np.array(stats.mean, dtype=np.float32)))
        self.register_buffer("std", torch.from_numpy(np.array(stats.std, dtype=np.float32)))
        self._sentences: SentenceEmbedder | None = None

    @property
    def stats(self) -> FeatureStats:
        return FeatureStats(self.mean.cpu().numpy(), self.std.cpu().numpy())

    def embed_normalized(self, feats: torch.Tensor, lengths: Sequence[int] | torch.Tensor) -> torch.Tensor:
        """Unit-norm motion embeddings ``(B, E)`` of feats ``(B, T, 263)`` already normalised with ``stats``."""
        lengths = torch.as_tensor(lengths, dtype=torch.long)
        if feats.ndim != 3 or feats.shape[-1] != 263 or len(lengths) != len(feats):
            raise ValueError(f"feats must be (B, T, 263) with B lengths, got {tuple(feats.shape)}, {len(lengths)}")
        if int(lengths.min()) < 4 or int(lengths.max()) > feats.shape[1]:
            raise ValueError(f"lengths must be in [4, T={feats.shape[1]}], got {lengths.tolist()}")
        valid = (torch.arange(feats.shape[1])[None, :] < lengths[:, None]).to(feats.device)
        feats = feats[..., : self.cfg.nfeats] * valid[..., None]
        return F.normalize(self.motion_encoder(feats, lengths), dim=-1)

    def embed_text_features(self, sentence_emb: torch.Tensor) -> torch.Tensor:
        """Unit-norm text embeddings ``(B, E)`` from MiniLM sentence embeddings ``(B, 384)``."""
        return F.normalize(self.text_head(sentence_emb), dim=-1)

    @torch.no_grad()
    def embed_motion(self, feats: torch.Tensor | np.ndarray, lengths: Sequence[int]) -> np.ndarray:
        """Embeddings ``(B, E)`` float64 of de-normalised feats ``(B, T, 263)`` (e.g. ``MotionResult.feats``)."""
        feats = torch.as_tensor(np.asarray(feats) if isinstance(feats, np.ndarray) else feats)
        feats = feats.to(device=self.mean.device, dtype=torch.float32)
        if not torch.isfinite(feats).all():
            raise ValueError("feats contain NaN or inf")
        was_training = self.training
        self.eval()
        out = self.embed_normalized((feats - self.mean) / self.std, lengths)
        self.train(was_training)
        return out.double().cpu().numpy()

    @torch.no_grad()
    def embed_text(self, captions: Sequence[str]) -> np.ndarray:
        """Embeddings ``(B, E)`` float64 of captions (MiniLM is loaded on first use)."""
        if self._sentences is None:
            self._sentences = SentenceEmbedder()
        sent = torch.from_numpy(self._sentences.embed(list(captions))).to(self.mean.device)
        was_training = self.training
        self.eval()
        out = self.embed_text_features(sent)
        self.train(was_training)
        return out.double().cpu().numpy()

    def use_sentence_embedder(self, embedder: SentenceEmbedder) -> None:
        """Share a (cached) sentence embedder instead of loading another copy."""
        self._sentences = embedder

    def save(self, path: str | Path, extra: dict | None = None) -> None:
        """safetensors with ``{"kind", "config", **extra}`` JSON metadata."""
        meta = {"kind": _KIND, "config": json.dumps(to_dict(self.cfg), sort_keys=True)}
        meta.update({k: json.dumps(v, sort_keys=True) for k, v in (extra or {}).items()})
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}, str(path), meta)


def load_evaluator(path: str | Path | None = None, device: str | torch.device = "cpu") -> TextMotionEvaluator:
    """Rebuild a :class:`TextMotionEvaluator` from its safetensors file (default: the shipped one)."""
    path = Path(path) if path is not None else default_evaluator_path()
    if not path.is_file():
        raise ValueError(f"evaluator weights {path} not found; train them with "
                         f"`python -m motionlcm_core.eval.train_evaluator --out {path}`")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        if meta.get("kind") != _KIND:
            raise ValueError(f"{path} is not a text–motion evaluator file (metadata kind {meta.get('kind')!r})")
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    cfg = from_dict(EvaluatorConfig, json.loads(meta["config"]))
    stats = FeatureStats(tensors["mean"].numpy(), tensors["std"].numpy())
    model = TextMotionEvaluator(cfg, stats)
    model.load_state_dict(tensors, strict=True)
    return model.to(device).eval()
