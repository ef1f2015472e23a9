# SPDX-License-Identifier: GPL-3.0-or-later
"""The add-on's dependency installer, bpy-free: hardware detection → torch build, and the background pip job
(run against a fake pip script, so nothing is downloaded)."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bpy_free(name: str) -> types.ModuleType:
    """Import ``blender_addon.<name>`` without running the package's ``__init__`` (it imports bpy)."""
    if "blender_addon" in sys.modules:
        return importlib.import_module(f"blender_addon.{name}")
    stub = types.ModuleType("blender_addon")
    stub.__path__ = [str(ROOT / "blender_addon")]
    sys.modules["blender_addon"] = stub
    try:
        return importlib.import_module(f"blender_addon.{name}")
    finally:
        del sys.modules["blender_addon"]  # a later ``import blender_addon`` gets the real package


torch_build = _bpy_free("torch_build")
deps = _bpy_free("deps")


class FakeSmi:
    """``nvidia-smi`` stand-in: the query answers, the bare call prints the header with the CUDA version."""

    def __init__(self, name: str = "NVIDIA GeForce RTX 4090", driver: str = "570.86.10", cuda: str | None = "12.8",
                 compute: str | None = "8.9", fail: BaseException | None = None) -> None:
        self.name, self.driver, self.cuda, self.compute, self.fail = name, driver, cuda, compute, fail
        self.calls: list[list[str]] = []

    def __call__(self, args: list[str]) -> str:
        self.calls.append(args)
        if self.fail is not None:
            raise self.fail
        if args == ["--query-gpu=name,driver_version", "--format=csv,noheader"]:
            return f"{self.name}, {self.driver}\n{self.name}, {self.driver}\n"
        if args == ["--query-gpu=compute_cap", "--format=csv,noheader"]:
            if self.compute is None:  # drivers before ~510 do not know the field
                raise subprocess.CalledProcessError(2, ["nvidia-smi"], "Field \"compute_cap\" is not valid")
            return f"{self.compute}\n"
        cuda = f"CUDA Version: {self.cuda}" if self.cuda else ""
        return f"| NVIDIA-SMI {self.driver}   Driver Version: {self.driver}   {cuda}     |\n"


def build_for(smi=None, system="Linux", machine="x86_64", override="auto"):
    hw = torch_build.detect_hardware(system=system, machine=machine, nvidia_smi=smi or FakeSmi())
    return hw, torch_build.choose_torch_build(hw, override)


def test_linux_recent_nvidia_driver_gets_matching_cuda_wheels():
    hw, build = build_for(FakeSmi(driver="570.86.10", cuda="12.8"))
    assert (hw.gpu_name, hw.driver_version, hw.cuda_version, hw.compute_capability) == \
        ("NVIDIA GeForce RTX 4090", "570.86.10", "12.8", "8.9")
    assert build.label == "cu128" and build.index_url == "https://download.pytorch.org/whl/cu128"
    assert build.pip_args == ["--extra-index-url", "https://download.pytorch.org/whl/cu128"]
    assert build.reason == "NVIDIA GeForce RTX 4090, driver 570.86.10 supports CUDA 12.8 → torch cu128 wheels"
    assert build.warning is None and "RTX 4090 (driver 570.86.10, CUDA 12.8)" in hw.summary()
    assert build_for(FakeSmi(driver="580.65.06", cuda="13.0"))[1].label == "cu130"


def test_old_gpu_or_old_driver_falls_back_to_older_cuda_then_cpu():
    assert build_for(FakeSmi(driver="560.35.03", cuda="12.6"))[1].label == "cu126"
    assert build_for(FakeSmi(driver="580.65.06", cuda="13.0", compute="6.1"))[1].label == "cu126"  # Pascal
    assert build_for(FakeSmi(driver="580.65.06", cuda="13.0", compute="7.0"))[1].label == "cu128"  # Volta
    _, build = build_for(FakeSmi(driver="550.54.14", cuda="12.4"))
    assert build.label == "cpu" and build.index_url == "https://download.pytorch.org/whl/cpu"
    assert "driver 550.54.14 supports CUDA 12.4" in build.reason and "need CUDA 12.6" in build.reason
    assert "Update the NVIDIA driver" in build.warning
    hw, build = build_for(FakeSmi(name="Tesla K80", driver="470.82.01", cuda=None, compute=None))
    assert hw.cuda_version == "11.0" and hw.compute_capability is None and build.label == "cpu"  # from the table


def test_cuda_version_from_the_driver_when_the_header_has_none():
    assert build_for(FakeSmi(driver="572.16", cuda=None))[0].cuda_version == "12.8"
    assert torch_build.cuda_for_driver("550.54.14") == "12.4" and torch_build.cuda_for_driver("390.1") is None


def test_linux_without_gpu_and_missing_or_failing_nvidia_smi():
    hw, build = build_for(FakeSmi(fail=FileNotFoundError("nvidia-smi")))
    assert not hw.has_nvidia and hw.nvidia_error == "nvidia-smi not found"
    assert build.label == "cpu" and build.reason == "no NVIDIA GPU found (nvidia-smi not found) → torch CPU wheels"
    failing = subprocess.CalledProcessError(9, ["nvidia-smi"], "NVIDIA-SMI has failed because it couldn't "
                                                               "communicate with the NVIDIA driver.")
    hw, build = build_for(FakeSmi(fail=failing))
    assert hw.nvidia_error.startswith("nvidia-smi failed (exit 9: NVIDIA-SMI has failed") and build.label == "cpu"
    hw, _ = build_for(FakeSmi(fail=subprocess.TimeoutExpired(["nvidia-smi"], 5)))
    assert hw.nvidia_error == "nvidia-smi timed out"
    with pytest.raises(FileNotFoundError):
        torch_build.run_nvidia_smi(["-L"], which=lambda name: None)


def test_macos_uses_pypi_wheels_and_never_runs_nvidia_smi():
    smi = FakeSmi(fail=AssertionError("nvidia-smi must not run on macOS"))
    hw, build = build_for(smi, system="Darwin", machine="arm64")
    assert hw.apple_silicon and smi.calls == [] and build.label == "default"
    assert build.index_url is None and build.pip_args == [] and "MPS" in build.reason and build.warning is None
    hw, build = build_for(smi, system="Darwin", machine="x86_64")
    assert not hw.apple_silicon and build.index_url is None and "CPU only" in build.reason
    assert "Intel-Mac wheels" in build.warning


def test_windows_with_nvidia():
    hw, build = build_for(FakeSmi(name="NVIDIA GeForce RTX 3060", driver="566.36", cuda="12.7"), system="Windows",
                          machine="AMD64")
    assert hw.machine == "x86_64" and build.label == "cu126" and "RTX 3060" in build.reason


def test_override():
    nvidia = FakeSmi()
    assert build_for(nvidia, override="cpu")[1].index_url == "https://download.pytorch.org/whl/cpu"
    default = build_for(nvidia, override="default")[1]
    assert default.index_url is None and "PyPI" in default.reason and "Linux CUDA build" in default.reason
    assert "CPU-only" in build_for(nvidia, system="Windows", override="default")[1].reason
    assert build_for(nvidia, override="cuda")[1].label == "cu128"
    forced = build_for(FakeSmi(fail=FileNotFoundError()), override="cuda")[1]
    assert forced.label == "cu126" and "No NVIDIA driver" in forced.warning
    old = build_for(FakeSmi(driver="535.54.03", cuda="12.2"), override="cuda")[1]
    assert old.label == "cu126" and "need CUDA 12.6" in old.warning
    assert build_for(system="Darwin", machine="arm64", override="cpu")[1].label == "default"
    with pytest.raises(ValueError, match="no CUDA builds for macOS"):
        build_for(system="Darwin", machine="arm64", override="cuda")
    with pytest.raises(ValueError, match="auto, cpu, cuda, default"):
        build_for(override="rocm")


def test_pip_command_and_steps(tmp_path):
    _, build = build_for()
    steps = deps.install_steps("/blender/python", tmp_path / "deps", build)
    assert [s.label for s in steps] == ["ensurepip", "pip install"] and not steps[0].required
    pip = list(steps[1].argv)
    assert pip[:4] == ["/blender/python", "-m", "pip", "install"] and pip[pip.index("--target") + 1] == \
        str(tmp_path / "deps")
    assert pip[pip.index("--extra-index-url") + 1].endswith("/cu128") and "torch==2.13.0" in pip
    assert "--extra-index-url" not in deps.pip_command("py", tmp_path, ["torch"], build_for(override="default")[1])


def test_progress_estimate_is_monotonic():
    meter = deps.PipProgress()
    seen = []
    for line in ["Collecting torch==2.13.0", "  Downloading torch-2.13.0+cpu-cp311.whl (190.4 MB)",
                 "Collecting numpy", "  Using cached numpy-1.26.4.whl (18 MB)", "Requirement already satisfied: x",
                 "Installing collected packages: numpy, torch", "Successfully installed numpy-1.26.4 torch-2.13.0"]:
        meter.feed(line)
        seen.append(meter.fraction)
    assert seen == sorted(seen) and 0 < seen[0] < seen[3] < 0.85 and seen[5] == 0.9 and seen[-1] == 1.0
    assert meter.collected == 2 and meter.stage == "Installed"


FAKE_PIP = Path(__file__).resolve().parents[1] / "fake_pip.py"


def fake_job(tmp_path: Path, mode: str, ensurepip_code: int = 0) -> deps.DependencyInstall:
    os.environ["FAKE_PIP_MODE"] = mode           # read by the fake pip only
    target = tmp_path / "ext" / "deps"
    steps = (deps.InstallStep("ensurepip", (sys.executable, "-c", f"import sys; sys.exit({ensurepip_code})"), 0.05,
                              required=False),
             deps.InstallStep("pip install", (sys.executable, str(FAKE_PIP), "--target", str(target)), 0.95))
    return deps.DependencyInstall(steps, target, online_access=True, notes=("torch build cpu: test",))


def follow(job: deps.DependencyInstall, timeout: float = 20.0) -> list[float]:
    """Poll like the add-on's timer does; the progress values seen."""
    seen, end = [], time.monotonic() + timeout
    while job.poll().state in deps.ACTIVE_STATES and time.monotonic() < end:
        seen.append(job.poll().progress)
        time.sleep(0.01)
    return seen + [job.poll().progress]


def test_install_done_writes_the_log_and_reports_progress(tmp_path):
    job = fake_job(tmp_path, "ok", ensurepip_code=1)  # a failing ensurepip is only logged
    assert job.state == "pending" and job.log_path == tmp_path / "ext" / "install.log"
    assert job.start() is job and job.state == "running"
    seen = follow(job)
    status = job.poll()
    assert status.state == "done" and status.progress == 1.0 and status.error is None and status.stage == "Installed"
    assert seen == sorted(seen) and any(0.05 < p < 1.0 for p in seen), seen
    assert (tmp_path / "ext" / "deps" / "fakepkg_motionlcm").is_dir() and deps.current_install() is job
    log = job.log_path.read_text()
    assert "# torch build cpu: test" in log and "ensurepip failed (exit 1); going on" in log
    assert "Collecting safetensors" in log and "Successfully installed" in log and log.rstrip().endswith("# done")


def test_install_failure_quotes_the_log_tail(tmp_path):
    job = fake_job(tmp_path, "fail").start()
    status = job.wait(20)
    assert status.state == "failed" and "pip install exited with code 1" in status.error
    assert "ERROR: No matching distribution found for torch==2.13.0" in status.error  # stderr is in the tail
    assert str(job.log_path) in status.error and "No matching distribution" in job.log_path.read_text()


def test_cancel_stops_pip_promptly(tmp_path):
    job = fake_job(tmp_path, "sleep").start()
    end = time.monotonic() + 10
    while "Downloading numpy" not in job.stage and time.monotonic() < end:
        time.sleep(0.01)
    assert job.state == "running" and job.progress > 0.05
    proc = job._proc
    t0 = time.monotonic()
    assert job.cancel() and not job.cancel()
    status = job.wait(5)
    assert status.state == "cancelled" and time.monotonic() - t0 < 2.0 and proc.poll() is not None
    assert status.error == "cancelled" and "# cancelled" in job.log_path.read_text()
    (tmp_path / "ext" / "deps" / "partial").mkdir()
    assert "may hold a partial install" in job._cancelled_message()


def test_refusals(tmp_path):
    steps = (deps.InstallStep("pip install", (sys.executable, "-c", "pass")),)
    with pytest.raises(ValueError, match=r"online access is disabled in Blender \(Preferences > System > Network\)"):
        deps.DependencyInstall(steps, tmp_path / "deps", online_access=False)
    running = fake_job(tmp_path, "sleep").start()
    try:
        with pytest.raises(ValueError, match="already running"):
            deps.DependencyInstall(steps, tmp_path / "deps", online_access=True).start()
        with pytest.raises(ValueError, match="already started"):
            running.start()
    finally:
        running.cancel()
        assert running.wait(5).state == "cancelled"
    missing = deps.DependencyInstall((deps.InstallStep("pip install", (str(tmp_path / "no-python"),)),),
                                     tmp_path / "deps", online_access=True).start().wait(5)
    assert missing.state == "failed" and "could not run the install" in missing.error


def test_install_py_dry_run_prints_the_plan():
    proc = subprocess.run([sys.executable, str(ROOT / "install.py"), "blender", "--dry-run", "--torch", "cpu",
                           "--blender", str(ROOT / "no-such-blender")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "torch:     cpu — CPU chosen in the settings" in proc.stdout
    assert "-m pip install --upgrade --target" in proc.stdout and "download.pytorch.org/whl/cpu" in proc.stdout
