# SPDX-License-Identifier: GPL-3.0-or-later
"""Embedded text encoder: time to the first embedding in a fresh process, torch path against sentence-transformers.

Each run is a fresh ``python`` process that, from its first line, imports torch, imports
``motionlcm_core.text_encoder``, loads ``TextEncoder.embedded("cpu")`` (``MOTIONLCM_TEXT_BACKEND`` picks the
path) and encodes one prompt. It then encodes ``--prompts`` new prompts one at a time (cache misses) and
reports their median latency. Backends alternate run by run so both see the same machine load.

    .venv/bin/python benchmarks/bench_text_encoder.py [--runs 5] [--threads 2] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("torch", "sentence-transformers")
PROMPT = "a person walks forward and waves"
STEADY = ["a person jumps twice", "someone runs in a circle", "a man kicks with the right leg",
          "a person sits down slowly", "a woman dances happily", "a person climbs stairs",
          "the person throws a ball", "a person crawls on the floor", "someone turns left and walks",
          "a person stretches both arms"]


def child(threads: int, n_prompts: int) -> dict:
    """One fresh-process measurement; phase times in seconds, steady latency in milliseconds."""
    t0 = time.perf_counter()
    import torch
    torch.set_num_threads(threads)
    t_torch = time.perf_counter()
    from motionlcm_core.text_encoder import TextEncoder, text_backend
    t_module = time.perf_counter()
    enc = TextEncoder.embedded("cpu")
    t_load = time.perf_counter()
    enc.encode([PROMPT])
    t_first = time.perf_counter()
    steady = []
    for prompt in STEADY[:n_prompts]:
        t = time.perf_counter()
        enc.encode([prompt])
        steady.append((time.perf_counter() - t) * 1e3)
    return {"backend": text_backend(), "model": type(enc.model).__name__,
            "imports_transformers": "transformers" in sys.modules,
            "import_torch_s": t_torch - t0, "import_module_s": t_module - t_torch, "load_s": t_load - t_module,
            "first_encode_s": t_first - t_load, "first_embedding_s": t_first - t0,
            "encode_ms": statistics.median(steady)}


def run_one(backend: str, threads: int, n_prompts: int) -> dict:
    env = {**os.environ, "MOTIONLCM_TEXT_BACKEND": backend, "PYTHONPATH": str(REPO)}
    t = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", "--threads", str(threads),
                          "--prompts", str(n_prompts)], env=env, cwd=REPO, capture_output=True, text=True,
                         check=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["process_s"] = time.perf_counter() - t  # interpreter start-up and exit included
    return figures


KEYS = ("first_embedding_s", "import_torch_s", "import_module_s", "load_s", "first_encode_s", "encode_ms",
        "process_s")


def table(results: dict[str, list[dict]]) -> str:
    head = "| figure | " + " | ".join(f"{b}: median (runs)" for b in results) + " |"
    lines = [head, "|---|" + "---|" * len(results)]
    for key in KEYS:
        cells = []
        for runs in results.values():
            vals = [r[key] for r in runs]
            cells.append(f"{statistics.median(vals):.3g} ({', '.join(f'{v:.3g}' for v in vals)})")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads in each process")
    ap.add_argument("--prompts", type=int, default=len(STEADY), help="new prompts timed after the load")
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.threads, args.prompts)))
        return
    backends = args.backends.split(",")
    results: dict[str, list[dict]] = {b: [] for b in backends}
    for i in range(args.runs):
        for backend in backends:
            r = run_one(backend, args.threads, args.prompts)
            results[backend].append(r)
            print(f"run {i + 1} {backend}: first embedding {r['first_embedding_s']:.2f} s, "
                  f"encode {r['encode_ms']:.1f} ms, transformers imported: {r['imports_transformers']}",
                  flush=True)
    print(f"\nload average {os.getloadavg()[0]:.2f}; torch threads {args.threads}\n")
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
