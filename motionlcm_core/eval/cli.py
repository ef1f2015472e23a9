"""``motionlcm eval``: evaluate a model on the test split; writes eval.md, eval.json and eval.png.

The arguments come from ``motionlcm_core.cli`` (``--model``, ``--json``, ``--out``, ``--device``,
``--quick``, ``--probes``). ``--quick`` evaluates 64 samples with a small MultiModality set (a smoke run);
``--probes`` runs the prompt probes instead (:mod:`motionlcm_core.eval.probes`).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from motionlcm_core.eval.evaluate import EvalConfig, evaluate
from motionlcm_core.eval.plot import save_plot
from motionlcm_core.eval.report import format_markdown

__all__ = ["QUICK", "main"]

#: The ``--quick`` settings: a seeded subset of 64 samples, MultiModality over 16 texts × 10 generations.
QUICK = EvalConfig(max_samples=64, mm_num_samples=16, mm_num_repeats=10)


def main(args: argparse.Namespace) -> int:
    """Load the model, evaluate, write the three files to ``args.out`` and print the table (or JSON)."""
    from motionlcm_core import MotionLCMPipeline

    if getattr(args, "probes", False):
        from motionlcm_core.eval.probes import main as probes_main
        out = Path(args.out)
        text = probes_main(args.model, out, device="cpu" if args.device == "auto" else args.device,
                           progress=lambda msg: print(f"[probes] {msg}", file=sys.stderr))
        print(text)
        print(f"wrote {out / 'probes.md'}, {out / 'probes.json'}")
        return 0
    cfg = QUICK if args.quick else EvalConfig()
    pipe = MotionLCMPipeline.from_pretrained(args.model, device=args.device)
    results = evaluate(pipe, "test", cfg=cfg, progress=lambda msg: print(f"[eval] {msg}", file=sys.stderr))
    results["model"] = str(args.model)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(results, indent=2))
    (out / "eval.md").write_text(format_markdown(results))
    save_plot(results, out / "eval.png")
    if args.json:
        print(json.dumps(results))
    else:
        print(format_markdown(results))
        print(f"wrote {out / 'eval.md'}, {out / 'eval.json'}, {out / 'eval.png'}")
    return 0
