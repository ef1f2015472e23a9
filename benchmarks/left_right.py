"""Does the motion follow 'left' and 'right'? Turn and side-step prompts in mirrored pairs, many seeds.

    .venv/bin/python benchmarks/left_right.py [--model embedded] [--seeds 8] [--json out.json]

For each pair (the same sentence with left and with right) and seed, the clip's net heading change (turns;
left = positive, the yaw of the hips + shoulders across-vector, first and last 0.25 s averaged) or its
sideways travel in the first frame's body frame (side steps; left = +X) is measured. A clip *follows the
word* when the sign matches (left positive) and the figure is not negligible (10° or 0.15 m); a pair is
*mirrored* when both of its clips follow their words. Printed per prompt and overall, with and without
retrieval (the model's own sampler from noise).
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PAIRS = (("turn", "a person walks forward and then turns {side}"),
         ("turn", "someone turns to the {side} and keeps going"),
         ("turn", "a man walks in a curve bending to the {side}"),
         ("side", "a person steps sideways to the {side} several times"),
         ("side", "someone side-steps to the {side}"))
EDGE = 5


def heading(joints: np.ndarray) -> np.ndarray:
    """Yaw (rad, left turns positive) per frame of ``joints (T, 22, 3)``, Y up, facing +Z at yaw 0."""
    across = (joints[:, 1] - joints[:, 2]) + (joints[:, 16] - joints[:, 17])
    forward = np.cross(across, [0.0, 1.0, 0.0])
    return np.unwrap(np.arctan2(forward[:, 0], forward[:, 2]))


def figure(kind: str, joints: np.ndarray) -> float:
    """Net turn in degrees, or sideways travel in metres (left positive) in the first frame's body frame."""
    yaw = heading(joints)
    if kind == "turn":
        return float(np.degrees(yaw[-EDGE:].mean() - yaw[:EDGE].mean()))
    travel = joints[-EDGE:, 0].mean(0) - joints[:EDGE, 0].mean(0)
    y0 = yaw[:EDGE].mean()
    left = np.array([np.cos(y0), 0.0, -np.sin(y0)])                         # +X rotated by the start yaw
    return float(travel @ left)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--start-t", type=int, default=None, help="retrieval start timestep (default: the model's)")
    ap.add_argument("--retrieval", default=None, help="RetrievalConfig fields as JSON, e.g. '{\"top_k\": 2}'")
    ap.add_argument("--no-noise", action="store_true", help="skip the run from noise")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    import torch

    from motionlcm_core import MotionLCMPipeline
    from motionlcm_core.retrieval import RetrievalConfig
    torch.set_num_threads(2)
    pipe = MotionLCMPipeline.from_pretrained(args.model, device="cpu")
    fields = json.loads(args.retrieval) if args.retrieval else {}
    if args.start_t:
        fields["start_t"] = args.start_t
    on = RetrievalConfig(**fields) if fields else True
    modes = ((on,) if args.no_noise else (on, False)) if pipe.bank is not None else (False,)
    result = {}
    for retrieval in modes:
        label = "retrieval" if retrieval else "from noise"
        rows, follow, mirrored, total = [], 0, 0, 0
        for kind, text in PAIRS:
            limit = 10.0 if kind == "turn" else 0.15
            per = {}
            for side, sign in (("left", 1.0), ("right", -1.0)):
                figs = []
                for seed in range(args.seeds):
                    r = pipe.generate([text.format(side=side)], seconds=4.0, seed=seed, retrieval=retrieval)
                    figs.append(figure(kind, r.clip(0)))
                per[side] = [f * sign > limit for f in figs], figs
            ok_l, ok_r = per["left"][0], per["right"][0]
            follow += sum(ok_l) + sum(ok_r)
            mirrored += sum(a and b for a, b in zip(ok_l, ok_r))
            total += len(ok_l)
            rows.append({"prompt": text, "kind": kind, "left": per["left"][1], "right": per["right"][1],
                         "left_follow": sum(ok_l), "right_follow": sum(ok_r)})
            print(f"[{label}] {text!r}: left follows {sum(ok_l)}/{args.seeds}, right {sum(ok_r)}/{args.seeds} "
                  f"(median {np.median(per['left'][1]):+.2f} / {np.median(per['right'][1]):+.2f})")
        result[label] = {"follow_share": follow / (2 * total), "mirrored_pairs": mirrored / total, "rows": rows}
        print(f"[{label}] the sign follows the word in {follow}/{2 * total} clips ({follow / (2 * total):.0%}); "
              f"mirrored pairs {mirrored}/{total}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
