"""The torch all-MiniLM-L6-v2 (``motionlcm_core.minilm``): parity with sentence-transformers within 1e-5, no
transformers import, strict weight loading, folder checks, the backend switch in ``TextEncoder``."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from motionlcm_core.minilm import MiniLM, MiniLMConfig, MiniLMSentenceEncoder, file_key, load_weights
from motionlcm_core.text_encoder import BACKEND_ENV, EMBEDDED_NAME, TextEncoder, embedded_model_path, text_backend

ROOT = Path(__file__).resolve().parents[2]
LONG = " ".join(["the person walks in a wide circle, then stops and waves with the left hand"] * 25)
PROMPTS = [
    "a person walks forward and waves",                    # short
    "",                                                    # the unconditional embedding
    LONG,                                                  # > 256 tokens: truncated
    "A PERSON JUMPS HIGH, TWICE!!!",                       # upper-case, punctuation
    "Someone (slowly) walks... then: runs; [stops] {x} -- ?!",
    "naïve café dancer — pirouette « élan » 你好 🙂 ß Ω",  # unicode, accents, CJK, emoji
    "x",
    "   leading and trailing spaces   ",
]
TINY = MiniLMConfig(vocab_size=50, hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32,
                    max_positions=32, max_seq_length=16)


@pytest.fixture(scope="module")
def fast() -> MiniLMSentenceEncoder:
    return MiniLMSentenceEncoder.from_folder(embedded_model_path())


@pytest.mark.slow
def test_parity_with_sentence_transformers(fast):
    st = pytest.importorskip("sentence_transformers")
    ref = st.SentenceTransformer(str(embedded_model_path()), device="cpu", local_files_only=True)
    want = ref.encode(PROMPTS, convert_to_tensor=True, normalize_embeddings=True, show_progress_bar=False)
    got = fast.encode(PROMPTS)
    assert got.shape == (len(PROMPTS), 384) and got.dtype == torch.float32
    assert (got - want.float()).abs().max().item() < 1e-5
    ids, mask, _ = fast.tokenize([LONG])
    assert ids.shape == (1, 256) and bool(mask.all())                 # the long prompt was truncated


def test_batch_order_and_padding_do_not_change_embeddings(fast):
    batch = fast.encode(PROMPTS)
    single = torch.cat([fast.encode([p]) for p in PROMPTS[:4]])
    assert (batch[:4] - single).abs().max().item() < 1e-5
    assert torch.allclose(batch.norm(dim=1), torch.ones(len(PROMPTS)), atol=1e-6)
    assert fast.encode([]).shape == (0, 384)


@pytest.mark.slow
def test_torch_path_does_not_import_transformers():
    code = textwrap.dedent("""
        import sys
        from motionlcm_core.text_encoder import TextEncoder
        enc = TextEncoder.embedded("cpu")
        emb = enc.encode(["a person walks forward", ""])
        assert emb.shape == (2, 1, 384), emb.shape
        print(type(enc.model).__name__, sorted(m for m in ("transformers", "sentence_transformers")
                                               if m in sys.modules))
    """)
    env = {k: v for k, v in __import__("os").environ.items() if k != BACKEND_ENV}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == "MiniLMSentenceEncoder []"


def test_text_encoder_uses_the_torch_path_with_cache(monkeypatch):
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    enc = TextEncoder.embedded("cpu")
    assert isinstance(enc.model, MiniLMSentenceEncoder) and enc.dim == 384 and enc.name == EMBEDDED_NAME
    first = enc.encode(["a person walks", ""])
    assert first.shape == (2, 1, 384) and first.dtype == torch.float32 and first.device.type == "cpu"
    assert torch.equal(enc.encode([""])[0], first[1]) and enc.cache.hits == 1


@pytest.mark.slow
def test_backend_switch_falls_back_to_sentence_transformers(monkeypatch, fast):
    pytest.importorskip("sentence_transformers")
    monkeypatch.setenv(BACKEND_ENV, "sentence-transformers")
    enc = TextEncoder.embedded("cpu")
    assert type(enc.model).__name__ == "SentenceTransformer" and enc.dim == 384
    assert (enc.encode(PROMPTS[:3])[:, 0] - fast.encode(PROMPTS[:3])).abs().max().item() < 1e-5


def test_unknown_backend_refused(monkeypatch):
    monkeypatch.setenv(BACKEND_ENV, "onnx")
    with pytest.raises(ValueError, match="MOTIONLCM_TEXT_BACKEND"):
        text_backend()
    monkeypatch.setenv(BACKEND_ENV, " Torch ")
    assert text_backend() == "torch"


def _tiny_tensors(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    model = MiniLM(TINY)
    tensors = {file_key(n): torch.randn(p.shape, generator=g) for n, p in model.state_dict().items()}
    tensors["pooler.dense.weight"] = torch.zeros(16, 16)            # present in the real file, unused
    return tensors


def _save(tensors: dict[str, torch.Tensor], path: Path) -> Path:
    from safetensors.torch import save_file
    save_file(tensors, str(path))
    return path


def test_load_weights_round_trip(tmp_path):
    tensors = _tiny_tensors()
    model = load_weights(MiniLM(TINY), _save(tensors, tmp_path / "m.safetensors"))
    assert torch.equal(model.layers[1].ff_norm.weight, tensors["encoder.layer.1.output.LayerNorm.weight"])
    assert torch.equal(model.embed_norm.bias, tensors["embeddings.LayerNorm.bias"])
    x = model(torch.tensor([[1, 5, 2, 0]]), torch.tensor([[True, True, True, False]]))
    assert x.shape == (1, 4, 16) and torch.isfinite(x).all()


@pytest.mark.parametrize("change, match", [
    (lambda t: t.pop("encoder.layer.0.attention.self.key.bias"), "missing"),
    (lambda t: t.update({"encoder.layer.2.output.dense.weight": torch.zeros(1)}), "unexpected"),
    (lambda t: t.update({"embeddings.word_embeddings.weight": torch.zeros(51, 16)}), "shape"),
])
def test_load_weights_is_strict(tmp_path, change, match):
    tensors = _tiny_tensors()
    change(tensors)
    with pytest.raises(ValueError, match=match):
        load_weights(MiniLM(TINY), _save(tensors, tmp_path / "m.safetensors"))


def _copy_configs(tmp_path: Path) -> Path:
    src, dst = embedded_model_path(), tmp_path / "model"
    (dst / "1_Pooling").mkdir(parents=True)
    for name in ("config.json", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json"):
        shutil.copy(src / name, dst / name)
    return dst


def test_config_from_folder_matches_the_model_card(tmp_path):
    cfg = MiniLMConfig.from_folder(_copy_configs(tmp_path))
    assert (cfg.num_layers, cfg.hidden_size, cfg.num_heads, cfg.intermediate_size) == (6, 384, 12, 1536)
    assert (cfg.max_seq_length, cfg.max_positions, cfg.layer_norm_eps) == (256, 512, 1e-12)


@pytest.mark.parametrize("file, key, value, match", [
    ("config.json", "hidden_act", "relu", "hidden_act"),
    ("1_Pooling/config.json", "pooling_mode_cls_token", True, "mean pooling"),
    ("sentence_bert_config.json", "do_lower_case", True, "do_lower_case"),
])
def test_folder_that_differs_is_refused(tmp_path, file, key, value, match):
    folder = _copy_configs(tmp_path)
    data = json.loads((folder / file).read_text())
    (folder / file).write_text(json.dumps({**data, key: value}))
    with pytest.raises(ValueError, match=match):
        MiniLMConfig.from_folder(folder)


def test_config_errors():
    with pytest.raises(ValueError, match="multiple of num_heads"):
        MiniLMConfig(hidden_size=10, num_heads=3)
    with pytest.raises(ValueError, match="max_seq_length"):
        MiniLMConfig(max_seq_length=600)
