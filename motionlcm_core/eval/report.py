"""Evaluation results: averaging replications, and the markdown tables."""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["aggregate_rows", "format_markdown"]

_CONTROL = ("no_control", "controlnet")


def _mean_ci(values: list[Any]) -> tuple[Any, Any]:
    arr = np.asarray(values, dtype=np.float64)
    mean = arr.mean(axis=0)
    ci = 1.96 * arr.std(axis=0) / np.sqrt(len(arr))
    return (mean.tolist(), ci.tolist()) if arr.ndim > 1 else (float(mean), float(ci))


def aggregate_rows(replications: list[list[dict]]) -> list[dict]:
    """Mean of every numeric field over replications; ``<field>_ci95`` (1.96·std/√n) when n > 1."""
    out = []
    for rows in zip(*replications):
        merged: dict[str, Any] = {"method": rows[0]["method"]}
        for key, value in rows[0].items():
            if key == "method" or isinstance(value, str) or value is None:
                merged.setdefault(key, value)
                continue
            if isinstance(value, dict):
                merged[key] = {k: float(np.mean([r[key][k] for r in rows])) for k in value}
                continue
            merged[key], ci = _mean_ci([r[key] for r in rows])
            if len(rows) > 1:
                merged[f"{key}_ci95"] = ci
        out.append(merged)
    return out


def _cell(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}"


def _t2m_line(row: dict) -> str:
    if "skipped" in row:
        return f"| {row['method']} | skipped: {row['skipped']} |" + " |" * 9
    top = row["r_precision"]
    cells = [row["method"], _cell(row.get("ms"), 1), _cell(top[0]), _cell(top[1]), _cell(top[2]),
             _cell(row["fid"], 4), _cell(row["mm_dist"]), _cell(row["diversity"]),
             _cell(row.get("multimodality")), _cell(row["skate_ratio"]), _cell(row.get("body_motion"))]
    return "| " + " | ".join(cells) + " |"


def _control_line(row: dict) -> str:
    if "skipped" in row:
        return f"| {row['method']} | skipped: {row['skipped']} |" + " |" * 7
    cells = [row["method"], _cell(row["avg_err"], 4), _cell(row["traj_err_50"], 4), _cell(row["loc_err_50"], 4),
             _cell(row["traj_err_20"], 4), _cell(row["loc_err_20"], 4), _cell(row["fid"], 4),
             _cell(row["r_precision"][2]), _cell(row.get("ms"), 1)]
    return "| " + " | ".join(cells) + " |"


def format_markdown(results: dict) -> str:
    """The text-to-motion table, the control table (pelvis, metres) and the notes, as markdown."""
    rows = results["rows"]
    lines = [f"Evaluation on the {results.get('split', '?')} split ({results.get('samples', '?')} samples)", "",
             "| method | ms/sentence | R@1 | R@2 | R@3 | FID | MM-Dist | Diversity | MModality | foot skate "
             "| body motion (m) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [_t2m_line(r) for r in rows if r["method"] not in _CONTROL]
    control = [r for r in rows if r["method"] in _CONTROL]
    if control:
        lines += ["", "| control (pelvis) | avg err (m) | traj err 50 cm | loc err 50 cm | traj err 20 cm "
                  "| loc err 20 cm | FID | R@3 | ms/sentence |", "|---|---|---|---|---|---|---|---|---|"]
        lines += [_control_line(r) for r in control]
    lines += [""] + [f"- {note}" for note in results.get("notes", [])]
    return "\n".join(lines) + "\n"
