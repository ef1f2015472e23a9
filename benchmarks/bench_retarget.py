"""Benchmark: retarget 196 frames onto a 65-bone Mixamo-like rig; prints the median of repeated runs (ms).

Run from the repository root: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_retarget.py``
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from motionlcm_core.retarget import BoneMap, retarget
from tests.unit.rigs import mixamo_apose_rig


def main(repeats: int = 20) -> None:
    d = np.load(Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "joints_val.npz")
    i = int(np.argmax(d["lengths"] >= 196))
    joints = d["joints"][d["offsets"][i]:d["offsets"][i] + 196].astype(np.float64)
    rig = mixamo_apose_rig()
    bm = BoneMap.detect(rig)
    for cleanup in (False, True):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            retarget(joints, rig, bm, foot_cleanup=cleanup)
            times.append(time.perf_counter() - t0)
        print(f"retarget 196 frames -> {len(rig)} bones, foot_cleanup={cleanup}: median {np.median(times) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
