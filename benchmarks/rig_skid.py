"""Do the feet skid on the rig? Foot and toe bones of the demo's rigs against real walking clips.

    .venv/bin/python benchmarks/rig_skid.py [demo_output/motionlcm_demo.blend] [--json out.json]

Measure (the same for the rigs and for the real clips): sample the clip every 1/20 s; a foot or toe point is
in *floor contact* in a sample when it is within 5 cm of the lowest height any foot or toe point reaches in
the clip; it *skids* when it moves more than 2.5 cm horizontally to the next sample while in contact in
both. The figure is the share of contact pairs that skid, pooled over the four points. Rig points are the
evaluated world heads of the ankle and toe bones of each armature (read back with bpy); real points are
the ankle and toe joints of the val and test clips whose captions say they walk. Prints one line per rig,
the real median, and writes every figure with ``--json``.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MOTIONLCM_DATA_DIR", REPO.parent / "shared" / "data"))
NEAR_M, STEP_M, FPS = 0.05, 0.025, 20.0
RIG_FEET = {"SMPL": ("L_Ankle", "L_Foot", "R_Ankle", "R_Foot"),
            "Mixamo": ("mixamorig:LeftFoot", "mixamorig:LeftToeBase", "mixamorig:RightFoot",
                       "mixamorig:RightToeBase")}


def skid_share(points: np.ndarray, up: int) -> tuple[float, int]:
    """``points (T, 4, 3)`` sampled at 20 fps, ``up`` the vertical axis → (skidding share, contact pairs)."""
    flat = [a for a in range(3) if a != up]
    near = points[..., up] - points[..., up].min() <= NEAR_M                # (T, 4)
    step = np.linalg.norm(np.diff(points[..., flat], axis=0), axis=-1)      # (T-1, 4)
    pairs = near[1:] & near[:-1]
    n = int(pairs.sum())
    return (float((pairs & (step > STEP_M)).sum() / n) if n else 0.0), n


def real_walks() -> dict[str, float]:
    """Skid share of every val/test clip whose captions mention walking (ankle and toe joints, Y up)."""
    out = {}
    for split in ("val", "test"):
        d = np.load(DATA / f"joints_{split}.npz")
        for cid, off, n in zip(d["ids"], d["offsets"], d["lengths"]):
            text = (DATA / "texts" / f"{cid}.txt").read_text(encoding="utf-8")
            if re.search(r"\bwalk", text, re.I):
                out[str(cid)] = skid_share(d["joints"][off:off + n][:, [7, 10, 8, 11]].astype(np.float64), 1)[0]
    return out


def rig_points(blend: Path) -> dict[str, np.ndarray]:
    """World heads ``(T, 4, 3)`` (Z up) of each demo rig's ankle and toe bones, every 1/20 s of the scene."""
    import bpy
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    scene = bpy.context.scene
    fps = scene.render.fps / scene.render.fps_base
    times = np.arange(0.0, (scene.frame_end - scene.frame_start + 1) / fps, 1.0 / FPS)
    out = {}
    for name, bones in RIG_FEET.items():
        ob = bpy.data.objects.get(name)
        if ob is None:
            continue
        pts = np.zeros((len(times), 4, 3))
        for i, t in enumerate(times):
            frame = scene.frame_start + t * fps
            scene.frame_set(int(frame), subframe=float(frame - int(frame)))
            mw = np.array(ob.matrix_world)
            for k, b in enumerate(bones):
                pts[i, k] = (mw @ np.array(ob.pose.bones[b].matrix))[:3, 3]
        out[name] = pts
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("blend", nargs="?", type=Path, default=REPO / "demo_output" / "motionlcm_demo.blend")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    real = real_walks()
    result = {"real_walks_median": float(np.median(list(real.values()))), "real_walks": real, "rigs": {}}
    print(f"real walking clips (val+test, {len(real)}): median skid share {result['real_walks_median']:.3f}")
    for name, pts in rig_points(args.blend).items():
        share, pairs = skid_share(pts, 2)
        result["rigs"][name] = {"skid_share": share, "contact_pairs": pairs}
        print(f"{name} rig: skid share {share:.3f} over {pairs} contact pairs")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # noqa: BLE001 - print and leave: a normal exit after an error can hang bpy
        print(f"rig_skid failed: {exc}", file=sys.stderr)
        sys.stdout.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)
