"""dtype="auto" (device.choose_dtype): hardware probe, the 5 mm rule on a measured error, reasons."""
from __future__ import annotations

import math

import pytest
import torch

from motionlcm_core import MotionLCMPipeline, device
from motionlcm_core.device import MAX_JOINT_ERROR_MM, choose_dtype, cpu_bf16_units, cpu_flags, resolve_dtype
from motionlcm_core.io.checkpoints import save_weights
from tests.unit.test_pipeline import tiny_config

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def fresh_measurements():
    device.forget_measurements()
    yield
    device.forget_measurements()


def fake_cpu(monkeypatch, *flags: str) -> None:
    monkeypatch.setattr(device, "cpu_flags", lambda: set(flags))


class FakeMeasure:
    """``measure(device, dtype) -> mm`` from a table; records the calls."""

    def __init__(self, **mm: float) -> None:
        self.mm, self.calls = mm, []

    def __call__(self, dev: torch.device, dtype: torch.dtype) -> float:
        self.calls.append((dev.type, dtype))
        name = device.DTYPE_NAMES[dtype]
        if name not in self.mm:
            raise AssertionError(f"{name} should not be measured")
        return self.mm[name]


def test_avx2_cpu_is_fp32_without_measuring(monkeypatch):
    fake_cpu(monkeypatch, "sse4_2", "avx", "avx2", "fma")
    choice = choose_dtype(CPU, "auto", measure=FakeMeasure())
    assert choice.dtype == torch.float32 and choice.name == "fp32"
    assert "no bf16 units" in choice.reason and choice.reason.startswith("fp32")


@pytest.mark.parametrize("flag,units", [("avx512_bf16", "AVX512-BF16"), ("amx_bf16", "AMX-BF16"), ("bf16", "Arm BF16")])
def test_bf16_cpu_takes_bf16_when_measured_under_5mm(monkeypatch, flag, units):
    fake_cpu(monkeypatch, "avx2", flag)
    measure = FakeMeasure(bf16=2.0)
    choice = choose_dtype(CPU, "auto", measure=measure)
    assert choice.dtype == torch.bfloat16 and measure.calls == [("cpu", torch.bfloat16)]
    assert units in choice.reason and "2.00 mm" in choice.reason


def test_bf16_cpu_stays_fp32_when_the_error_is_5mm_or_more(monkeypatch):
    fake_cpu(monkeypatch, "avx512_bf16")
    choice = choose_dtype(CPU, "auto", measure=FakeMeasure(bf16=MAX_JOINT_ERROR_MM))
    assert choice.dtype == torch.float32
    assert "AVX512-BF16" in choice.reason and "bf16 5.0 mm" in choice.reason


def test_measurement_runs_once_per_device_and_dtype(monkeypatch):
    fake_cpu(monkeypatch, "amx_bf16")
    measure = FakeMeasure(bf16=1.0)
    for _ in range(3):
        assert choose_dtype(CPU, "auto", measure=measure).dtype == torch.bfloat16
    assert len(measure.calls) == 1


def test_failed_or_nan_measurement_means_fp32(monkeypatch):
    fake_cpu(monkeypatch, "avx512_bf16")

    def broken(dev, dtype):
        raise ValueError("the embedded model file is missing")
    choice = choose_dtype(CPU, "auto", measure=broken)
    assert choice.dtype == torch.float32 and "could not be measured" in choice.reason and "missing" in choice.reason
    device.forget_measurements()
    choice = choose_dtype(CPU, "auto", measure=lambda dev, dtype: math.nan)
    assert choice.dtype == torch.float32 and "non-finite" in choice.reason


def fake_gpu(monkeypatch, bf16: bool) -> None:
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Fake GPU 9000")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)


def test_gpu_prefers_fp16_then_bf16_each_measured(monkeypatch):
    cuda = torch.device("cuda")
    fake_gpu(monkeypatch, bf16=True)
    measure = FakeMeasure(fp16=0.4)
    choice = choose_dtype(cuda, "auto", measure=measure)
    assert choice.dtype == torch.float16 and measure.calls == [("cuda", torch.float16)]
    assert "Fake GPU 9000" in choice.reason
    device.forget_measurements()
    measure = FakeMeasure(fp16=math.inf, bf16=3.0)
    assert choose_dtype(cuda, "auto", measure=measure).dtype == torch.bfloat16
    assert [dt for _, dt in measure.calls] == [torch.float16, torch.bfloat16]
    device.forget_measurements()
    choice = choose_dtype(cuda, "auto", measure=FakeMeasure(fp16=9.0, bf16=12.0))
    assert choice.dtype == torch.float32 and "fp16 9.0 mm" in choice.reason and "bf16 12.0 mm" in choice.reason


def test_gpu_without_bf16_tries_fp16_only(monkeypatch):
    fake_gpu(monkeypatch, bf16=False)
    choice = choose_dtype(torch.device("cuda"), "auto", measure=FakeMeasure(fp16=8.0))
    assert choice.dtype == torch.float32 and "bf16" not in choice.reason


def test_explicit_dtypes_are_taken_as_asked():
    assert choose_dtype(CPU, "bf16", measure=FakeMeasure()).dtype == torch.bfloat16
    assert choose_dtype(CPU, "fp32").reason == "fp32 as asked"
    assert resolve_dtype(CPU, torch.float64) == torch.float64
    with pytest.raises(ValueError, match="'auto'"):
        choose_dtype(CPU, "int8")
    with pytest.raises(ValueError, match="fp16 is not supported on the CPU"):
        choose_dtype(CPU, "fp16")


def test_cpu_probe_names_units():
    assert cpu_bf16_units({"avx2", "avx512f"}) is None
    assert cpu_bf16_units({"avx512_bf16", "amx_bf16"}) == "AMX-BF16"
    flags = cpu_flags()
    assert isinstance(flags, set) and all(f == f.lower() for f in flags)


def test_pipeline_reports_its_dtype_choice(monkeypatch):
    fake_cpu(monkeypatch, "avx2")
    pipe = MotionLCMPipeline.from_config(tiny_config(), device="cpu", dtype="auto")
    assert pipe.dtype == torch.float32 and "no bf16 units" in pipe.dtype_reason
    assert MotionLCMPipeline.from_config(tiny_config(), device="cpu").dtype_reason == "fp32 as asked"


def test_joint_error_is_measured_on_a_real_model(tmp_path):
    """dtype_check on a tiny saved model: fp32 against itself is 0 mm; bf16 moves the joints."""
    from motionlcm_core.dtype_check import joint_error_mm
    pipe = MotionLCMPipeline.from_config(tiny_config(control=False), device="cpu", seed=0)
    path = save_weights(tmp_path / "m.safetensors", {"vae": pipe.vae.state_dict(),
                                                     "denoiser": pipe.denoiser.state_dict()}, pipe.cfg)
    text = torch.nn.functional.normalize(torch.randn(2, 384, generator=torch.Generator().manual_seed(0)), dim=-1)
    assert joint_error_mm(CPU, torch.float32, model=str(path), text_embeddings=text) == 0.0
    assert 0.0 < joint_error_mm(CPU, torch.bfloat16, model=str(path), text_embeddings=text) < 1e4
