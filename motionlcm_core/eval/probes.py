"""``motionlcm eval --probes``: the prompt probes of ``shared/probes`` on a model, as one markdown report.

The probes (29 action families of the training data, each a prompt and a kinematic test, plus the
plausibility limits, all calibrated on real clips) live beside the data, outside this package; this module
finds them (``$MOTIONLCM_PROBES_DIR``, else ``<repo>/../shared/probes``), runs them for each step count with
the body clean-up on (what every user gets) and once with the raw decoded joints, adds the retrieval
baseline, and writes ``probes.md`` / ``probes.json``. One model run takes about a minute on one CPU thread.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Sequence

__all__ = ["ProbeRun", "probes_dir", "load_probe_suite", "run_model", "report"]

_REPO = Path(__file__).resolve().parents[2]


def probes_dir() -> Path:
    """Where the probe suite is: ``$MOTIONLCM_PROBES_DIR`` or ``<repo>/../shared/probes``."""
    return Path(os.environ.get("MOTIONLCM_PROBES_DIR", _REPO.parent / "shared" / "probes")).resolve()


def load_probe_suite(folder: Path | None = None) -> ModuleType:
    """Import the suite's ``run_probes`` module (it brings ``probes``, ``plausibility`` and the rest)."""
    folder = folder or probes_dir()
    if not (folder / "run_probes.py").is_file():
        raise FileNotFoundError(f"no prompt probes at {folder} (run_probes.py): set MOTIONLCM_PROBES_DIR to the "
                                "probes folder of the shared reference material")
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return importlib.import_module("run_probes")


@dataclass
class ProbeRun:
    """One row set: its label, the per-probe trials (the suite's ``Trial`` objects) and the summary."""

    label: str
    trials: dict[str, list[Any]]

    def summary(self, suite: ModuleType) -> dict[str, Any]:
        need = {name: suite.needed(len(ts)) for name, ts in self.trials.items()}
        passed = [n for n, ts in self.trials.items() if sum(t.passed for t in ts) >= need[n]]
        semantic = [n for n, ts in self.trials.items() if sum(t.semantic for t in ts) >= need[n]]
        plausible = [n for n, ts in self.trials.items() if sum(t.plausible for t in ts) >= need[n]]
        clips = [t for ts in self.trials.values() for t in ts]
        failed = {}
        for t in clips:
            for m in t.plausibility["failed"]:
                failed[m] = failed.get(m, 0) + 1
        return {"label": self.label, "probes": len(self.trials), "pass": len(passed), "semantic": len(semantic),
                "plausible": len(plausible), "clips": len(clips),
                "plausible_clips": sum(t.plausible for t in clips), "implausible_by_measure": failed,
                "passed": passed}


def run_model(suite: ModuleType, pipe, *, seeds: Sequence[int] = (0, 1, 2, 3), num_steps: int = 1,
              body: bool = True, names: Sequence[str] | None = None,
              progress: Callable[[str], None] | None = None) -> dict[str, list[Any]]:
    """Every probe's prompt once per seed (``pipe.generate``, default settings), tested by the suite."""
    probes = [suite.PROBES_BY_NAME[n] for n in names] if names else list(suite.PROBES)
    out = {}
    for probe in probes:
        out[probe.name] = []
        for seed in seeds:
            result = pipe.generate([probe.prompt], seconds=probe.seconds, num_steps=num_steps, seed=seed, body=body)
            out[probe.name].append(suite.evaluate(probe, result.clip(0), seed, f"seed {seed}"))
        if progress:
            progress(probe.name)
    return out


def report(suite: ModuleType, runs: list[ProbeRun], *, model: str) -> tuple[str, dict[str, Any]]:
    """Markdown (summary table, then each run's probe table) and the JSON record."""
    lines = [f"# Prompt probes: {model}", "",
             f"Suite: `{os.path.relpath(probes_dir(), _REPO)}` (29 action families of the training data; a probe passes when ≥ 3 of 4 "
             "seeds pass its semantic test and the plausibility check). Reproduce with `motionlcm eval --probes`.",
             "", "| run | pass | semantic | plausible | plausible clips | implausible clips by measure |",
             "|---|---|---|---|---|---|"]
    record: dict[str, Any] = {"model": model, "runs": []}
    for run in runs:
        s = run.summary(suite)
        measures = ", ".join(f"{k} {v}" for k, v in sorted(s["implausible_by_measure"].items())) or "none"
        lines.append(f"| {run.label} | {s['pass']}/{s['probes']} | {s['semantic']}/{s['probes']} | "
                     f"{s['plausible']}/{s['probes']} | {s['plausible_clips']}/{s['clips']} | {measures} |")
        record["runs"].append({**s, "orderings": suite.orderings(run.trials),
                               "trials": {name: [{"seed": t.seed, "source": t.source, "semantic": t.semantic,
                                                  "figure": t.figure, "plausible": t.plausible,
                                                  "plausibility": t.plausibility} for t in ts]
                                          for name, ts in run.trials.items()}})
    for run in runs:
        lines += ["", f"## {run.label}", "", suite.table(run.trials, run.label.startswith("retrieval")),
                  *suite.orderings(run.trials)]
    return "\n".join(lines) + "\n", record


def main(model: str, out: Path, *, device: str = "cpu", steps: Sequence[int] = (1, 2, 4), raw: bool = True,
         retrieval: bool = True, threads: int = 1, progress: Callable[[str], None] | None = None) -> str:
    """Run everything, write ``probes.md`` and ``probes.json`` to ``out``, return the markdown."""
    import torch

    from motionlcm_core import MotionLCMPipeline

    torch.set_num_threads(threads)
    suite = load_probe_suite()
    pipe = MotionLCMPipeline.from_pretrained(model, device=device)
    runs = []
    for n in steps:
        runs.append(ProbeRun(f"{n} step{'s' if n > 1 else ''}", run_model(suite, pipe, num_steps=n)))
        if progress:
            progress(f"{n} steps: {runs[-1].summary(suite)['pass']} pass")
    if raw:
        runs.append(ProbeRun("1 step, raw decoded joints (body=False)", run_model(suite, pipe, body=False)))
    if retrieval:
        runs.append(ProbeRun("retrieval baseline (top-4 train clips by MiniLM caption)",
                             suite.retrieval_trials(list(suite.PROBES), 4)))
    text, record = report(suite, runs, model=str(model))
    out.mkdir(parents=True, exist_ok=True)
    (out / "probes.md").write_text(text, encoding="utf-8")
    (out / "probes.json").write_text(json.dumps(record, indent=1, default=float), encoding="utf-8")
    return text
