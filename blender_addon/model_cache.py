# SPDX-License-Identifier: GPL-3.0-or-later
"""Load and keep one MotionLCM pipeline per model spec (bpy-free; thread-safe), and warm it up in the background.

:func:`warm_up` loads a model and its text encoder on a daemon thread so the first Generate finds them in
memory; a job that asks for the same model meanwhile (:func:`load_pipeline`) waits for that load instead of
loading it a second time. Nothing here ever blocks for a load on the caller of :func:`warm_up`.
"""
from __future__ import annotations

import atexit
import threading
import time
from dataclasses import dataclass, field
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


WARM_SENTENCE = "a person walks forward"  # encoded by a warm-up when the panel has no prompt yet
EXIT_WAIT_S = 30.0  # at interpreter exit, how long a warm-up still loading may delay it

_lock = threading.Lock()        # guards _cache, _warm and _builds; held only briefly (safe on the main thread)
_load_lock = threading.RLock()  # one model load at a time; held for the whole load (worker threads only)
_cache: dict[ModelSpec, object] = {}
_warm: dict[ModelSpec, "WarmUp"] = {}
_builds = 0


@dataclass
class WarmUp:
    """A background load of ``spec``. state: "loading" → "ready" | "failed" (``error`` says why);
    seconds: how long the load, the first text encoding and a first short generation took."""

    spec: ModelSpec
    sentence: str
    state: str = "loading"
    error: str = ""
    seconds: float = 0.0
    thread: threading.Thread | None = field(default=None, repr=False)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the warm-up ends (tests, benchmarks); True when it has ended."""
        if self.thread is not None:
            self.thread.join(timeout)
        return self.state != "loading"


def load_pipeline(spec: ModelSpec) -> object:
    """The cached pipeline for ``spec``, loading it on first use (call from a worker thread). While a warm-up
    runs, this waits for it rather than loading twice."""
    spec.check_files()
    with _lock:
        if spec in _cache:
            return _cache[spec]
    with _load_lock:
        with _lock:
            if spec in _cache:  # a warm-up finished while this call waited
                return _cache[spec]
        return _store(spec, _build(spec))


def _store(spec: ModelSpec, pipe: object) -> object:
    global _builds
    with _lock:
        _cache.clear()  # keep one model in memory at a time
        _cache[spec] = pipe
        _builds += 1
    return pipe


def _build(spec: ModelSpec) -> object:
    from motionlcm_core import MotionLCMPipeline
    if spec.kind == "embedded":
        return MotionLCMPipeline.from_pretrained("embedded", device=spec.device)
    if spec.kind == "file":
        return MotionLCMPipeline.from_pretrained(spec.path, device=spec.device)
    return MotionLCMPipeline.from_official_checkpoint(
        spec.path, version=spec.kind[-2:], text_encoder=spec.text_encoder, device=spec.device)


def warm_up(spec: ModelSpec, sentence: str = WARM_SENTENCE) -> WarmUp | None:
    """Start loading ``spec`` and its text encoder (by encoding ``sentence``), then run one short generation,
    on a daemon thread, and return at once. At most once per spec (the running or finished warm-up is returned
    again); ``None`` when the model is already loaded or its files are missing (the job will say so)."""
    try:
        spec.check_files()
    except ValueError:
        return None
    with _lock:
        if spec in _warm:
            return _warm[spec]
        if spec in _cache:
            return None
        if not _warm:  # registered after bpy's own exit handler (bpy is imported by now): runs before it
            atexit.unregister(_join_at_exit)
            atexit.register(_join_at_exit)
        w = _warm[spec] = WarmUp(spec, sentence)
    w.thread = threading.Thread(target=_warm_run, args=(w,), name="motionlcm-warm-up", daemon=True)
    w.thread.start()
    return w


def _warm_run(w: WarmUp) -> None:
    """Load, encode ``w.sentence`` (loads the text encoder) and generate one short clip (first-call set-up of
    every stage), all before the pipeline is offered to jobs: a job asking meanwhile waits for ``_load_lock``."""
    t0 = time.perf_counter()
    try:
        with _load_lock:
            with _lock:
                pipe = _cache.get(w.spec)
            if pipe is None:
                pipe = _build(w.spec)
                try:
                    _exercise(pipe, w.sentence)
                finally:
                    _store(w.spec, pipe)
        w.state = "ready"
    except Exception as exc:  # noqa: BLE001 - a warm-up never raises; the job reports the real error later
        w.error, w.state = f"{type(exc).__name__}: {exc}", "failed"
    w.seconds = time.perf_counter() - t0


def _exercise(pipe: object, sentence: str) -> None:
    """One encoding and the shortest generation the model allows, results discarded."""
    if sentence:
        pipe.text_encoder().encode([sentence])
        pipe.generate([sentence], lengths=[pipe.cfg.min_frames], seed=0)


def _join_at_exit() -> None:
    """Interpreter exit: let a warm-up still loading end first. A daemon thread caught mid-import (torch,
    sentence-transformers) by bpy's exit handler hangs or aborts the process (bpy 4.5.15); once Python is
    shutting down the import usually fails fast ("can't register atexit after shutdown") and ends the thread."""
    for w in warm_ups():
        if w.thread is not None and w.thread.is_alive():
            w.thread.join(EXIT_WAIT_S)


def warm_ups() -> list[WarmUp]:
    """Every warm-up started (finished ones are forgotten by :func:`unload`)."""
    with _lock:
        return list(_warm.values())


def builds() -> int:
    """How many pipelines this process has loaded (a warm-up and the job it served count once)."""
    with _lock:
        return _builds


def loaded() -> list[ModelSpec]:
    """Specs of the models now in memory."""
    with _lock:
        return list(_cache)


def unload() -> None:
    """Drop every cached pipeline (frees its memory once no job holds it) and forget finished warm-ups."""
    with _lock:
        _cache.clear()
        for spec in [s for s, w in _warm.items() if w.state != "loading"]:
            del _warm[spec]
