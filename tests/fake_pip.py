"""A stand-in for ``python -m pip`` in the dependency-install tests: prints pip-like progress, never downloads.

Run as ``fake_pip.py [-m ensurepip|-m pip install] ... --target DIR`` (also as the "Python" of the install, so it
answers ``-m ensurepip`` too). ``$FAKE_PIP_MODE``: ``ok`` (default; installs an empty ``fakepkg_motionlcm``),
``fail`` (exit 1 with pip's error) or ``sleep`` (hangs for a minute, for Cancel). Its arguments are written to
``DIR/../fake_pip_args.txt``.
"""
import os
import pathlib
import sys
import time

args = sys.argv[1:]
if args[:2] == ["-m", "ensurepip"]:
    print("Requirement already satisfied: pip")
    sys.exit(0)
target = pathlib.Path(args[args.index("--target") + 1])
target.parent.mkdir(parents=True, exist_ok=True)
(target.parent / "fake_pip_args.txt").write_text(" ".join(args))
mode = os.environ.get("FAKE_PIP_MODE", "ok")
for name in ("torch", "safetensors", "numpy"):
    print(f"Collecting {name}", flush=True)
    time.sleep(0.05)
    print(f"  Downloading {name}-1.0-py3-none-any.whl (1.0 MB)", flush=True)
    time.sleep(0.05)
if mode == "sleep":
    time.sleep(60)
if mode == "fail":
    print("ERROR: No matching distribution found for torch==2.13.0", file=sys.stderr, flush=True)
    sys.exit(1)
print("Installing collected packages: numpy, safetensors, torch", flush=True)
(target / "fakepkg_motionlcm").mkdir(parents=True, exist_ok=True)
(target / "fakepkg_motionlcm" / "__init__.py").write_text("")
print("Successfully installed numpy-1.0 safetensors-1.0 torch-1.0", flush=True)
