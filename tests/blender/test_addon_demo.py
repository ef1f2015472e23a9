"""The main job (``python install.py demo``) end to end on a tiny model: .blend, MP4 and contact sheet, read back
with bpy. The demo runs under the bpy version of the test (4.5, or 5.0 from ``.bpy50``) in a throw-away user
folder; frames are tiny (96×72)."""
import json
import os
import subprocess
import sys

import pytest

from harness import REPO, SCENARIOS, requires_bpy, run_scenario


@requires_bpy
def test_demo_writes_blend_video_and_sheet(tmp_path, bpy_version):
    python = os.environ.get("MOTIONLCM_BPY_PYTHON") or sys.executable           # bpy 5.2: its Python 3.13
    if subprocess.run([python, "-c", "import torch"], capture_output=True).returncode != 0:
        pytest.skip("the demo generates motion, and this bpy's Python environment has no torch")
    sys.path.insert(0, str(SCENARIOS))
    from tiny_model import write_tiny_model
    model = write_tiny_model(tmp_path / "tiny.safetensors")
    out = tmp_path / "demo"
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender_user"), TMPDIR=str(tmp_path))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("MOTIONLCM_BPY_PATH"), str(REPO), env.get("PYTHONPATH"))
                                        if p)
    proc = subprocess.run([python, "-m", "blender_addon.demo", "--out", str(out), "--model", str(model),
                           "--seconds", "2", "--size", "96x72"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads((out / "motionlcm_demo.json").read_text())
    assert info["blender"].startswith(bpy_version)
    assert (out / "motionlcm_demo.blend").stat().st_size > 0
    assert info["video"] == str(out / "motionlcm_demo.mp4") and info["frames_dir"] is None
    png = (out / "motionlcm_demo_sheet.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000
    assert not (out / "motionlcm_demo_frames").exists()                 # frames removed once the MP4 exists
    r = run_scenario("demo_check", tmp_path)
    print(r)
    assert r["rigs"] == 2 and r["strips"] >= 2, r
    assert all(m > 0 for m in r["root_moved_m"]), info
    assert r["mannequins"] == 2 and r["floor"] and r["camera_follows"] == ["SMPL", "Mixamo"]
    assert r["video_frames"] == 60 and r["video_size"] == [96, 72]
    assert r["sheet_size"] == [4 * 100, 2 * 76]                         # 8 tiles of 96×72 + 2 px gaps
