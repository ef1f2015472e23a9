# SPDX-License-Identifier: GPL-3.0-or-later
"""Load and keep one MotionLCM pipeline per model spec (bpy-free; thread-safe)."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

MODEL_KINDS = ("embedded", "official_v1", "official_v2", "file")


@dataclass(frozen=True)
class ModelSpec:
    """Which model to run. kind: one of ``MODEL_KINDS``; path: checkpoint file (official/file);
    text_encoder: sentence-t5-large folder (official); device: "auto" | "cpu" | "cuda"."""

    kind: str = "embedded"
    path: str = ""
    text_encoder: str = ""
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise ValueError(f"unknown model kind {self.kind!r}; use one of {MODEL_KINDS}")

    def check_files(self) -> None:
        """Raise ``ValueError`` naming the missing file and where to set it, before any loading."""
        if self.kind == "embedded":
            return
        where = "Preferences > Add-ons > MotionLCM" if self.kind != "file" else "the panel's checkpoint field"
        if not self.path or not Path(self.path).is_file():
            raise ValueError(f"model file not found: {self.path or '(not set)'}; set it in {where}")
        if self.kind.startswith("official") and (not self.text_encoder or not Path(self.text_encoder).is_dir()):
            raise ValueError(f"sentence-t5-large folder not found: {self.text_encoder or '(not set)'}; "
                             "download it and set its folder in Preferences > Add-ons > MotionLCM")

    def label(self) -> str:
        """Short text for status lines and the recipe."""
        return self.kind if self.kind == "embedded" else f"{self.kind}:{Path(self.path).name}"


_lock = threading.Lock()
_cache: dict[ModelSpec, object] = {}


def load_pipeline(spec: ModelSpec) -> object:
    """The cached pipeline for ``spec``, loading it on first use (call from the worker thread)."""
    spec.check_files()
    with _lock:
        if spec in _cache:
            return _cache[spec]
        from motionlcm_core import MotionLCMPipeline
        if spec.kind == "embedded":
            pipe = MotionLCMPipeline.from_pretrained("embedded", device=spec.device)
        elif spec.kind == "file":
            pipe = MotionLCMPipeline.from_pretrained(spec.path, device=spec.device)
        else:
            pipe = MotionLCMPipeline.from_official_checkpoint(
                spec.path, version=spec.kind[-2:], text_encoder=spec.text_encoder, device=spec.device)
        _cache.clear()  # keep one model in memory at a time
        _cache[spec] = pipe
        return pipe


def loaded() -> list[ModelSpec]:
    """Specs of the models now in memory."""
    with _lock:
        return list(_cache)


def unload() -> None:
    """Drop every cached pipeline (frees its memory once no job holds it)."""
    with _lock:
        _cache.clear()
