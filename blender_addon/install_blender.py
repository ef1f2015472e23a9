# SPDX-License-Identifier: GPL-3.0-or-later
"""``python install.py blender [--blender PATH]``: dependencies for that Blender + install/enable the add-on.

Runs outside Blender. pip runs as a subprocess of Blender's own Python with ``--target`` into the
add-on's private folder (never Blender's site-packages, TLS untouched); the add-on is packed as an
extension zip (with ``motionlcm_core`` inside) and installed with ``blender --command extension``.
"""
from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

from . import deps

REPO = Path(__file__).resolve().parents[1]
_PY_EXPR = "import sys, bpy; print('PY=' + sys.executable); print('VER=%d.%d' % bpy.app.version[:2])"


def blender_python(blender_exe: Path) -> tuple[Path, str]:
    """Blender's bundled Python executable and its ``major.minor`` version string."""
    proc = subprocess.run([str(blender_exe), "-b", "--factory-startup", "--python-expr", _PY_EXPR],
                          capture_output=True, text=True, timeout=300)
    lines = dict(ln.split("=", 1) for ln in proc.stdout.splitlines() if ln.startswith(("PY=", "VER=")))
    if "PY" not in lines:
        raise ValueError(f"could not run {blender_exe} (exit {proc.returncode}); pass --blender PATH to blender")
    return Path(lines["PY"]), lines["VER"]


def build_extension_zip(out_dir: Path) -> Path:
    """Zip ``blender_addon`` (manifest at the root) with ``motionlcm_core`` bundled inside."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "motionlcm_extension.zip"
    skip = ("__pycache__", ".pyc", "/deps/")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for base, prefix in ((REPO / "blender_addon", ""), (REPO / "motionlcm_core", "motionlcm_core/")):
            for f in sorted(base.rglob("*")):
                rel = f.relative_to(base).as_posix()
                if f.is_file() and not any(s in "/" + rel for s in skip):
                    zf.write(f, prefix + rel)
    return path


def deps_dir_for(blender_version: str) -> Path:
    """Where the extension's ``deps`` folder lives for the user (``extension_path_user``'s layout)."""
    import os
    import sys
    if sys.platform == "win32":
        root = Path(os.environ["APPDATA"]) / "Blender Foundation" / "Blender"
    elif sys.platform == "darwin":
        root = Path.home() / "Library" / "Application Support" / "Blender"
    else:
        root = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "blender"
    return root / blender_version / "extensions" / ".user" / "user_default" / "motionlcm" / "deps"


def install_into_blender(blender_exe: Path, *, cpu_torch: bool = True) -> dict:
    """Install the dependencies into the add-on's folder, then install and enable the extension."""
    blender_exe = Path(shutil.which(str(blender_exe)) or blender_exe)
    python, version = blender_python(blender_exe)
    target = deps_dir_for(version)
    proc = deps.install(python, target, online_access=True, cpu_torch=cpu_torch)
    if proc.returncode != 0:
        raise RuntimeError(f"pip failed for {python}:\n{proc.stderr[-2000:]}")
    zip_path = build_extension_zip(REPO / "build")
    cmd = [str(blender_exe), "--command", "extension", "install-file", "-r", "user_default", "-e", str(zip_path)]
    inst = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if inst.returncode != 0:
        raise RuntimeError(f"extension install failed: {inst.stderr[-2000:] or inst.stdout[-2000:]}")
    return {"blender": str(blender_exe), "version": version, "python": str(python), "deps": str(target),
            "zip": str(zip_path)}
