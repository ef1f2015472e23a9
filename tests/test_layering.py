"""motionlcm_core never imports bpy/mathutils; only device.py probes accelerators."""
from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import motionlcm_core

CORE = Path(motionlcm_core.__file__).parent


def test_core_imports_without_bpy():
    names = [m.name for m in pkgutil.walk_packages([str(CORE)], "motionlcm_core.")
             if not m.name.endswith("__main__")]
    code = ("import sys, importlib; sys.modules['bpy'] = None; sys.modules['mathutils'] = None\n"
            f"for n in {names!r}: importlib.import_module(n)\n"
            "assert 'bpy' not in [k for k, v in sys.modules.items() if v is not None]\nprint('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=CORE.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    assert len(names) > 20


def test_device_probing_only_in_device_py():
    pattern = re.compile(r"cuda\.is_available|backends\.mps\.is_available|\.cuda\(\)")
    offenders = [str(p.relative_to(CORE)) for p in CORE.rglob("*.py")
                 if p.name != "device.py" and pattern.search(p.read_text())]
    assert offenders == []


def test_no_bpy_text_in_core():
    offenders = [str(p) for p in CORE.rglob("*.py") if re.search(r"^\s*(import|from)\s+(bpy|mathutils)\b",
                                                               p.read_text(), re.M)]
    assert offenders == []


def test_addon_side_of_the_core_imports_without_torch():
    """What the add-on imports at module level (and a machine without its dependencies yet must import to show
    the Install button) needs numpy only: no torch, no scipy."""
    names = ["motionlcm_core", "motionlcm_core.geometry", "motionlcm_core.recipe", "motionlcm_core.control",
             "motionlcm_core.control.passes", "motionlcm_core.retarget", "motionlcm_core.retarget.animate",
             "motionlcm_core.motion.skeleton", "motionlcm_core.motion.body", "motionlcm_core.shot"]
    code = ("import sys, importlib; sys.modules['torch'] = None; sys.modules['scipy'] = None\n"
            f"for n in {names!r}: importlib.import_module(n)\nprint('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=CORE.parent)
    assert out.returncode == 0, out.stderr[-2000:]
