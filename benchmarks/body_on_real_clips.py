"""Calibrate the body pass on real motion: does ``hold_body`` keep what real clips do, and their plausibility?

    .venv/bin/python benchmarks/body_on_real_clips.py [--json out.json]

For every prompt probe of ``../shared/probes`` ($MOTIONLCM_PROBES_DIR) and every real clip (train, val and
test) with a caption line naming the probe's action, the caption's window (re-canonicalised) is tested by the
probe's semantic test and the plausibility check, once as recorded and once after ``hold_body`` (no contact
channels: low and slow foot joints are the contacts). A body pass that breaks real motion shows as fewer
semantic passes; one that fixes nothing real shows as no change in plausibility.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from motionlcm_core.eval.probes import load_probe_suite
from motionlcm_core.motion.body import hold_body


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    suite = load_probe_suite()
    from plausibility import measure  # noqa: E402 - the suite's modules are importable once it is loaded
    from realdata import load_clips  # noqa: E402
    clips = load_clips(("train", "val", "test"))
    rows, totals = {}, np.zeros(5, dtype=int)
    for probe in suite.PROBES:
        match = re.compile(probe.match, re.I)
        exclude = re.compile(probe.exclude, re.I) if probe.exclude else None
        n = sem_raw = sem_body = pl_raw = pl_body = 0
        moved = []
        for clip in clips:
            lines = [c for c in clip.captions if match.search(c.text) and not (exclude and exclude.search(c.text))]
            if not lines:
                continue
            window = clip.window(lines[0])
            out, _ = hold_body(window)
            n += 1
            sem_raw += bool(probe.test(window)[0])
            sem_body += bool(probe.test(out)[0])
            pl_raw += measure(window, probe.contact).passed
            pl_body += measure(out, probe.contact).passed
            moved.append(float(np.abs(out - window).max(axis=(1, 2)).mean()))
        rows[probe.name] = {"windows": n, "semantic_raw": sem_raw, "semantic_body": sem_body,
                            "plausible_raw": pl_raw, "plausible_body": pl_body,
                            "mean_largest_move_m": float(np.mean(moved)) if moved else 0.0}
        totals += [n, sem_raw, sem_body, pl_raw, pl_body]
        print(f"{probe.name:16s} {n:3d} windows: semantic {sem_raw:3d} -> {sem_body:3d}, plausible {pl_raw:3d} -> "
              f"{pl_body:3d}, largest joint move {rows[probe.name]['mean_largest_move_m'] * 100:.1f} cm (mean)")
    print(f"all: {totals[0]} windows: semantic {totals[1]} -> {totals[2]}, plausible {totals[3]} -> {totals[4]}")
    result = {"probes": rows, "windows": int(totals[0]), "semantic_raw": int(totals[1]),
              "semantic_body": int(totals[2]), "plausible_raw": int(totals[3]), "plausible_body": int(totals[4])}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
