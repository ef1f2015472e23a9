"""Text-embedding cache: hits, LRU eviction, copies (no batch kept alive), thread safety; TextEncoder.encode
skips the model for sentences seen recently and says so (``last_encode_cached``)."""
from __future__ import annotations

import threading

import pytest
import torch

from motionlcm_core.text_encoder import EmbeddingCache, TextEncoder, last_encode_cached


class CountingModel:
    """Stands in for a SentenceTransformer: deterministic unit vectors per sentence; counts sentences encoded."""

    def __init__(self, dim: int = 8) -> None:
        self.dim, self.encoded = dim, []

    def eval(self) -> None:
        pass

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def encode(self, texts, **kwargs) -> torch.Tensor:
        self.encoded.extend(texts)
        g = [torch.Generator().manual_seed(sum(map(ord, t)) + len(t)) for t in texts]
        emb = torch.stack([torch.randn(self.dim, generator=gi) for gi in g])
        return emb / emb.norm(dim=-1, keepdim=True)


def test_hits_and_lru_eviction():
    cache = EmbeddingCache(2)
    cache.put("a", torch.ones(3))
    cache.put("b", torch.zeros(3))
    assert torch.equal(cache.get("a"), torch.ones(3))     # "a" is now the most recent
    cache.put("c", torch.full((3,), 2.0))                  # evicts "b", the least recent
    assert "b" not in cache and "a" in cache and "c" in cache and len(cache) == 2
    assert cache.get("b") is None
    assert (cache.hits, cache.misses) == (1, 1)


def test_stores_a_copy_not_a_view():
    batch = torch.randn(100, 16)
    cache = EmbeddingCache(4)
    cache.put("x", batch[3])
    assert cache.get("x")._base is None and cache.get("x").untyped_storage().nbytes() == 16 * 4
    batch[3] = 0.0
    assert cache.get("x").abs().sum() > 0


def test_size_zero_keeps_nothing_and_negative_refused():
    cache = EmbeddingCache(0)
    cache.put("a", torch.ones(2))
    assert len(cache) == 0
    with pytest.raises(ValueError, match="maxsize"):
        EmbeddingCache(-1)


def test_threads_share_one_bounded_cache():
    cache = EmbeddingCache(16)
    errors = []

    def work(k: int) -> None:
        try:
            for i in range(300):
                key = f"s{(i * 7 + k) % 40}"
                if cache.get(key) is None:
                    cache.put(key, torch.full((4,), float(i)))
                assert len(cache) <= 16
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(cache) == 16 and cache.hits + cache.misses == 1200


def test_encoder_skips_cached_sentences():
    model = CountingModel()
    enc = TextEncoder.from_model(model, "counting", cache_size=3)
    first = enc.encode(["a person walks", "a person walks", "a person jumps"])
    assert first.shape == (3, 1, 8) and model.encoded == ["a person walks", "a person jumps"]
    assert last_encode_cached() is False
    again = enc.encode(["a person jumps", "a person walks"])
    assert model.encoded == ["a person walks", "a person jumps"] and last_encode_cached() is True
    assert torch.equal(again[0], first[2]) and torch.equal(again[1], first[0])
    enc.encode(["b", "c", "d"])                     # evicts both earlier sentences (size 3)
    enc.encode(["a person walks"])
    assert model.encoded[-1] == "a person walks" and last_encode_cached() is False


def test_last_encode_cached_is_per_thread():
    enc = TextEncoder.from_model(CountingModel(), "counting")
    enc.encode(["hello"])
    seen = []
    t = threading.Thread(target=lambda: seen.append(last_encode_cached()))
    t.start()
    t.join()
    assert seen == [None]
    enc.encode(["hello"])
    assert last_encode_cached() is True
