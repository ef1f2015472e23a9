"""BVH write/read round trip and CMU-style import."""
from __future__ import annotations


import numpy as np
import pytest

from motionlcm_core.io.bvh import read_bvh, write_bvh
from tests.unit.conftest import load_val_clip



@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return load_val_clip("cmu_07_03", 60)


def test_write_read_round_trip(tmp_path, clip):
    write_bvh(tmp_path / "a.bvh", clip, fps=20)
    back, fps = read_bvh(tmp_path / "a.bvh")
    err = np.linalg.norm(back - clip, axis=-1)
    print(f"BVH round trip: mean {err.mean() * 1e3:.2f} mm, max {err.max() * 1e3:.2f} mm")
    assert fps == pytest.approx(20.0) and back.shape == clip.shape and err.mean() < 5e-3


def _cmu_bvh(unit: float) -> str:
    """A tiny CMU-named BVH (zero rotations) with offsets in ``unit`` per metre."""
    tree = [("Hips", None, (0, 0, 0)), ("LowerBack", "Hips", (0, 0, 0)), ("Spine", "LowerBack", (0, .1, 0)),
            ("Spine1", "Spine", (0, .15, 0)), ("Neck", "Spine1", (0, .15, 0)), ("Neck1", "Neck", (0, .05, 0)),
            ("Head", "Neck1", (0, .08, 0))]
    for s, x in (("Left", 1), ("Right", -1)):
        tree += [(f"{s[0]}HipJoint", "Hips", (0, 0, 0)), (f"{s}UpLeg", f"{s[0]}HipJoint", (x * .09, -.07, 0)),
                 (f"{s}Leg", f"{s}UpLeg", (0, -.42, 0)), (f"{s}Foot", f"{s}Leg", (0, -.41, 0)),
                 (f"{s}ToeBase", f"{s}Foot", (0, -.05, .12)), (f"{s}Shoulder", "Spine1", (x * .03, .12, 0)),
                 (f"{s}Arm", f"{s}Shoulder", (x * .15, 0, 0)), (f"{s}ForeArm", f"{s}Arm", (x * .28, 0, 0)),
                 (f"{s}Hand", f"{s}ForeArm", (x * .25, 0, 0))]

    def block(name: str, depth: int) -> list[str]:
        pad, (_, parent, off) = "  " * depth, next(t for t in tree if t[0] == name)
        kids = [t[0] for t in tree if t[1] == name]
        head = "ROOT" if parent is None else "JOINT"
        ch = "CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation" if parent is None \
            else "CHANNELS 3 Zrotation Xrotation Yrotation"
        lines = [f"{pad}{head} {name}", pad + "{", f"{pad}OFFSET " + " ".join(str(v * unit) for v in off), pad + ch]
        for k in kids:
            lines += block(k, depth + 1)
        if not kids:
            lines += [pad + "End Site", pad + "{", pad + "OFFSET 0 0 0", pad + "}"]
        return lines + [pad + "}"]
    n_ch = 6 + 3 * (len(tree) - 1)
    rows = [" ".join(["0", str(0.95 * unit), str(0.05 * unit * t)] + ["0"] * (n_ch - 3)) for t in range(4)]
    return "\n".join(["HIERARCHY"] + block("Hips", 0) + ["MOTION", "Frames: 4", "Frame Time: 0.0083333"] + rows)


@pytest.mark.parametrize("unit", [1 / 0.0254, 100.0])
def test_read_cmu_style_detects_units(tmp_path, unit):
    (tmp_path / "c.bvh").write_text(_cmu_bvh(unit))
    joints, fps = read_bvh(tmp_path / "c.bvh")
    assert fps == pytest.approx(120.0, rel=1e-3) and joints.shape == (4, 22, 3)
    assert joints[0, 0, 1] == pytest.approx(0.95, abs=1e-6)
    assert joints[0, 7, 1] == pytest.approx(0.95 - 0.07 - 0.83, abs=1e-6)       # left ankle height
    assert joints[0, 16, 0] == pytest.approx(0.18, abs=1e-6)                      # left shoulder at +X
    assert joints[3, 0, 2] - joints[0, 0, 2] == pytest.approx(0.15, abs=1e-6)


def test_bad_bvh(tmp_path):
    (tmp_path / "x.bvh").write_text("hello")
    with pytest.raises(ValueError, match="Not a BVH"):
        read_bvh(tmp_path / "x.bvh")
    with pytest.raises(ValueError, match=r"\[T, 22, 3\]"):
        write_bvh(tmp_path / "y.bvh", np.zeros((3, 21, 3)))
