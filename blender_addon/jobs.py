# SPDX-License-Identifier: GPL-3.0-or-later
"""Generation on a worker thread that never touches bpy; results and progress go through a queue.

The main thread polls :meth:`GenerationJob.poll` from a ``bpy.app.timers`` callback (see
``generation.py``); tests call it directly because timers never fire headless.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from motionlcm_core.control.targets import Control
from motionlcm_core.recipe import Recipe
from motionlcm_core.shot import GroundPath, Segment, follow_path, generate_loop, generate_timeline
from motionlcm_core.shot.timeline import Timeline

from .model_cache import ModelSpec, load_pipeline


@dataclass
class GenerationResult:
    """Worker output. joints: float32 [B, T, 22, 3] (model frame, metres); fps: model rate (20); report: what
    the pipeline says it ran (``MotionResult.report``)."""

    joints: np.ndarray
    lengths: list[int]
    fps: float
    timings: dict[str, float]
    device: str
    model: str
    messages: list[str]
    report: dict = field(default_factory=dict)
    dtype_reason: str = ""


class GenerationJob:
    """One generation of ``recipe`` with the model ``model`` on a daemon thread; ``control``: optional
    (positions [T, 22, 3] model frame metres @ 20 fps, mask [T, 22] bool) from the pins; ``redo``: a kept
    timeline and the index of the one segment to generate again; ``free_start``: ``control`` only continues
    the previous pose, so a model with a motion bank samples from its retrieved exemplar without it (the
    ControlNet samples from noise, where prompts are weakest) and the seam is left to the continuation blend.
    States: running → done | failed | cancelled."""

    def __init__(self, recipe: Recipe, model: ModelSpec = ModelSpec(),
                 control: tuple[np.ndarray, np.ndarray] | None = None,
                 loader: Callable[[ModelSpec], object] = load_pipeline,
                 redo: tuple[Timeline, int] | None = None, free_start: bool = False):
        self.recipe, self.model, self.control, self._loader = recipe, model, control, loader
        self.redo = redo                    # (kept timeline, segment index): regenerate that segment only
        self.free_start = free_start
        self._events: queue.Queue = queue.Queue()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name="motionlcm-generate", daemon=True)
        self.state, self.progress, self.stage = "running", 0.0, "queued"
        self.result: GenerationResult | None = None
        self.error: str | None = None
        self.messages: list[str] = []
        self._worker_messages: list[str] = []  # written by the worker only

    def start(self) -> "GenerationJob":
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the worker to stop; the result of a cancelled job is discarded."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the worker ends (tests); True when it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def poll(self) -> str:
        """Drain the event queue into attributes (main thread); returns the state."""
        while True:
            try:
                kind, payload = self._events.get_nowait()
            except queue.Empty:
                return self.state
            if kind == "progress":
                self.progress, self.stage = payload
            elif kind == "message":
                self.messages.append(payload)
            elif kind == "done":
                self.result, self.state, self.progress = payload, "done", 1.0
            elif kind == "failed":
                self.error, self.state = payload, "failed"
            elif kind == "cancelled":
                self.state = "cancelled"

    def _emit(self, kind: str, payload: object = None) -> None:
        self._events.put((kind, payload))

    def _cancelled(self) -> bool:
        if self._cancel.is_set():
            self._emit("cancelled")
            return True
        return False

    def _run(self) -> None:
        try:
            self._run_stages()
        except Exception as exc:  # reported on the main thread, never raised into Blender
            self._emit("failed", f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc))

    def _run_stages(self) -> None:
        t0 = time.perf_counter()
        self._emit("progress", (0.05, "loading model"))
        pipe = self._loader(self.model)
        if self._cancelled():
            return
        if self._pinned(pipe) and not getattr(pipe, "has_controlnet", False):
            raise ValueError("pins need a control model (a checkpoint with a ControlNet); "
                             "clear the pins or pick a control model")
        t_load = time.perf_counter() - t0
        self._emit("progress", (0.4, "generating"))
        pipe, res = self._generate_with_fallback(pipe)
        if self._cancelled():
            return
        timings = {"load_model": t_load, **{k: float(v) for k, v in dict(res.timings).items()}}
        report = {**dict(getattr(res, "report", {})), "text_cached": _text_cached()}
        self._emit("done", GenerationResult(np.asarray(res.joints, dtype=np.float32), list(res.lengths),
                                            float(res.fps), timings, _device_label(pipe), self.model.label(),
                                            list(self._worker_messages), report,
                                            str(getattr(pipe, "dtype_reason", ""))))

    def _generate_with_fallback(self, pipe: object) -> tuple[object, object]:
        """Generate; on GPU out-of-memory, reload on the CPU and generate there (and say so)."""
        from motionlcm_core.device import empty_cache, is_out_of_memory
        try:
            return pipe, self._generate(pipe)
        except Exception as exc:
            dev = getattr(pipe, "device", None)
            if not is_out_of_memory(exc) or getattr(dev, "type", "cpu") == "cpu":
                raise
            try:
                empty_cache(dev)
            except (RuntimeError, AssertionError):  # the GPU may be unusable after the error
                pass
            msg = f"GPU out of memory on {_device_label(pipe)}; generated on the CPU instead (slower)"
            self._worker_messages.append(msg)
            self._emit("message", msg)
            self._emit("progress", (0.5, "generating on CPU"))
            cpu = self._loader(replace(self.model, device="cpu"))
            return cpu, self._generate(cpu)

    def _pinned(self, pipe: object) -> bool:
        """Whether ``pipe`` samples with the pins (not a continuation-only start on a model with a bank)."""
        return self.control is not None and not (self.free_start and getattr(pipe, "bank", None) is not None)

    def _generate(self, pipe: object) -> object:
        r = self.recipe
        control = None
        if self._pinned(pipe):
            shape = (r.variations, *np.shape(self.control[0]))
            control = Control(np.broadcast_to(self.control[0], shape).astype(np.float32),
                              np.broadcast_to(self.control[1], shape[:-1]).copy())
        common = dict(num_steps=r.num_steps, guidance_scale=r.guidance, seed=r.seed)
        if r.path:
            passes = replace(r.passes, refine=None)    # every frame is pinned: the exact pass meets the path
            return follow_path(pipe, r.prompt, GroundPath(np.array(r.path), r.path_speed), seconds=r.seconds,
                               passes=passes, **common)
        if r.loop:
            return generate_loop(pipe, r.prompt, seconds=r.seconds, in_place=r.loop_in_place, **common)
        if r.segments:
            segments = [Segment(p, s) for p, s in r.segments]
            keep, index = self.redo or (None, None)
            return generate_timeline(pipe, segments, passes=r.passes, keep=keep, redo=index, **common).to_result()
        return pipe.generate([r.prompt] * r.variations, seconds=r.seconds, control=control, passes=r.passes,
                             **common)


def _text_cached() -> bool | None:
    """Whether this thread's last text encoding came from the encoder's cache (``None``: no encoding)."""
    from motionlcm_core.text_encoder import last_encode_cached
    return last_encode_cached()


def _device_label(pipe: object) -> str:
    from motionlcm_core.device import device_name
    dev = getattr(pipe, "device", None)
    try:
        return device_name(dev) if dev is not None else "CPU"
    except (RuntimeError, AssertionError):  # a GPU that is unusable after an error
        return dev.type.upper()
