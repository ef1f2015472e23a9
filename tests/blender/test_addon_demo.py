"""The main job (``python install.py demo``) end to end on a tiny model: .blend + preview, read back with bpy."""
import json
import subprocess
import sys

from harness import REPO, SCENARIOS, requires_bpy, run_scenario


@requires_bpy
def test_demo_writes_blend_and_preview(tmp_path):
    sys.path.insert(0, str(SCENARIOS))
    from tiny_model import write_tiny_model
    model = write_tiny_model(tmp_path / "tiny.safetensors")
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "blender_addon.demo", "--out", str(out), "--model", str(model),
                           "--seconds", "2"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads((out / "motionlcm_demo.json").read_text())
    assert (out / "motionlcm_demo.blend").stat().st_size > 0
    png = (out / "motionlcm_demo_preview.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    r = run_scenario("demo_check", tmp_path)
    assert r["rigs"] == 2 and r["strips"] >= 2, r
    assert all(m > 0 for m in r["root_moved_m"]), info
