# SPDX-License-Identifier: GPL-3.0-or-later
"""``python install.py blender [--blender PATH] [--torch BUILD] [--dry-run]``: dependencies for that Blender +
install/enable the add-on.

Runs outside Blender. pip runs as a subprocess of Blender's own Python with ``--target`` into the
add-on's private folder (never Blender's site-packages, TLS untouched); the add-on is packed as an
extension zip (with ``motionlcm_core`` inside) and installed with ``blender --command extension``.
The torch build (CUDA variant, CPU, PyPI's) is chosen by ``torch_build`` for this machine and Blender's Python.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import deps, torch_build

REPO = Path(__file__).resolve().parents[1]
_PY_EXPR = ("import sys, platform, bpy; print('PY=' + sys.executable); print('VER=%d.%d' % bpy.app.version[:2]); "
            "print('SYS=' + platform.system()); print('ARCH=' + platform.machine())")


@dataclass(frozen=True)
class BlenderPython:
    """Blender's bundled Python: executable, Blender ``major.minor``, and the platform it reports (the torch
    wheel must match that Python's arch, e.g. an x86_64 Blender under Rosetta on Apple Silicon)."""

    python: Path
    version: str
    system: str
    machine: str


def blender_python(blender_exe: Path) -> BlenderPython:
    """Ask ``blender_exe`` (run headless) about its bundled Python."""
    proc = subprocess.run([str(blender_exe), "-b", "--factory-startup", "--python-expr", _PY_EXPR],
                          capture_output=True, text=True, timeout=300)
    keys = ("PY=", "VER=", "SYS=", "ARCH=")
    lines = dict(ln.split("=", 1) for ln in proc.stdout.splitlines() if ln.startswith(keys))
    if "PY" not in lines:
        raise ValueError(f"could not run {blender_exe} (exit {proc.returncode}); pass --blender PATH to blender")
    return BlenderPython(Path(lines["PY"]), lines["VER"], lines.get("SYS", ""), lines.get("ARCH", ""))


def build_extension_zip(out_dir: Path) -> Path:
    """Zip ``blender_addon`` (manifest at the root) with ``motionlcm_core`` bundled inside."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "motionlcm_extension.zip"
    skip = ("__pycache__", ".pyc", "/deps/", "/install.log")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for base, prefix in ((REPO / "blender_addon", ""), (REPO / "motionlcm_core", "motionlcm_core/")):
            for f in sorted(base.rglob("*")):
                rel = f.relative_to(base).as_posix()
                if f.is_file() and not any(s in "/" + rel for s in skip):
                    zf.write(f, prefix + rel)
    return path


def deps_dir_for(blender_version: str) -> Path:
    """Where the extension's ``deps`` folder lives for the user (``extension_path_user``'s layout)."""
    import sys
    if sys.platform == "win32":
        root = Path(os.environ["APPDATA"]) / "Blender Foundation" / "Blender"
    elif sys.platform == "darwin":
        root = Path.home() / "Library" / "Application Support" / "Blender"
    else:
        root = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "blender"
    return root / blender_version / "extensions" / ".user" / "user_default" / "motionlcm" / "deps"


def choose_build(blender: BlenderPython | None, torch: str = "auto", *,
                 hardware: torch_build.Hardware | None = None) -> tuple[torch_build.Hardware, torch_build.TorchBuild]:
    """This machine (as Blender's Python sees it; this Python's view when ``blender`` is None) and its torch build."""
    if hardware is None:
        hardware = (torch_build.detect_hardware() if blender is None or not blender.system
                    else torch_build.detect_hardware(system=blender.system, machine=blender.machine))
    return hardware, torch_build.choose_torch_build(hardware, torch)


def plan(blender: BlenderPython | None, torch: str = "auto", *,
         hardware: torch_build.Hardware | None = None) -> dict:
    """What :func:`install_into_blender` would do, installing nothing: the torch build, why, and the commands.
    ``blender`` None (no Blender found): a placeholder for Blender's Python and version."""
    hardware, build = choose_build(blender, torch, hardware=hardware)
    python = str(blender.python) if blender else "BLENDER_PYTHON"
    target = deps_dir_for(blender.version if blender else "VERSION")
    return {"hardware": hardware.summary(), "torch": build.label, "index_url": build.index_url,
            "reason": build.reason, "warning": build.warning, "python": python, "deps": str(target),
            "commands": [list(step.argv) for step in deps.install_steps(python, target, build)]}


def describe_plan(blender_exe: Path | None, torch: str = "auto") -> str:
    """``install.py blender --dry-run``: the plan as text (Blender is run once to find its Python)."""
    blender, note = None, ""
    if blender_exe is not None:
        try:
            blender = blender_python(Path(shutil.which(str(blender_exe)) or blender_exe))
        except (ValueError, OSError, subprocess.SubprocessError) as exc:
            note = f"(Blender not usable: {exc})"
    else:
        note = "(no Blender found: pass --blender PATH for its Python and version)"
    info = plan(blender, torch)
    lines = [f"hardware:  {info['hardware']}", f"torch:     {info['torch']} — {info['reason']}"]
    lines += [f"warning:   {info['warning']}"] if info["warning"] else []
    lines += [f"python:    {info['python']} {note}".rstrip(), f"deps into: {info['deps']}", "would run:"]
    quote = subprocess.list2cmdline if os.name == "nt" else shlex.join
    lines += ["  " + quote(cmd) for cmd in info["commands"]]
    return "\n".join(lines)


def install_into_blender(blender_exe: Path, *, torch: str = "auto",
                         echo: Callable[[str], None] = print) -> dict:
    """Install the dependencies into the add-on's folder (progress through ``echo``), then install and enable
    the extension. ValueError for an impossible torch choice; RuntimeError when pip or Blender fails."""
    blender_exe = Path(shutil.which(str(blender_exe)) or blender_exe)
    blender = blender_python(blender_exe)
    hardware, build = choose_build(blender, torch)
    echo(f"torch {build.label}: {build.reason}" + (f"\nwarning: {build.warning}" if build.warning else ""))
    target = deps_dir_for(blender.version)
    job = deps.DependencyInstall(deps.install_steps(blender.python, target, build), target, online_access=True,
                                 notes=(hardware.summary(), f"torch build {build.label}: {build.reason}"))
    status = _follow(job.start(), echo)
    if status.state != "done":
        raise RuntimeError(f"pip failed for {blender.python}: {status.error}")
    zip_path = build_extension_zip(REPO / "build")
    cmd = [str(blender_exe), "--command", "extension", "install-file", "-r", "user_default", "-e", str(zip_path)]
    inst = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if inst.returncode != 0:
        raise RuntimeError(f"extension install failed: {inst.stderr[-2000:] or inst.stdout[-2000:]}")
    return {"blender": str(blender_exe), "version": blender.version, "python": str(blender.python),
            "deps": str(target), "torch": build.label, "log": str(job.log_path), "zip": str(zip_path)}


def _follow(job: deps.DependencyInstall, echo: Callable[[str], None]) -> deps.InstallStatus:
    """Wait for ``job``, echoing each new stage; Ctrl+C cancels pip before leaving."""
    last = ""
    try:
        while (status := job.wait(1.0)).state == "running":
            if status.stage != last:
                echo(f"  {status.progress:4.0%}  {status.stage}")
                last = status.stage
    except KeyboardInterrupt:
        job.cancel()
        job.wait(10.0)
        raise
    echo(f"  log: {job.log_path}")
    return status
