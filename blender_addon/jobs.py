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

from .model_cache import ModelSpec, load_pipeline


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate. prompts: one per variation; seconds: clip length; control: optional
    (positions [T, 22, 3] model frame metres @ 20 fps, mask [T, 22] bool)."""

    prompts: tuple[str, ...]
    seconds: float
    num_steps: int = 1
    guidance: float | None = None
    seed: int = 0
    model: ModelSpec = field(default_factory=ModelSpec)
    control_positions: np.ndarray | None = None
    control_mask: np.ndarray | None = None
    refine: bool | None = None           # passes that meet pins (used only with control); None: the
    refine_steps: int | None = None      # pipeline's defaults (motionlcm_core.refine.RefineConfig)
    refine_strength: float | None = None
    exact: bool = True

    def __post_init__(self) -> None:
        if not self.prompts or any(not p.strip() for p in self.prompts):
            raise ValueError("the prompt is empty; describe the motion, e.g. 'a person walks forward and waves'")
        if self.num_steps not in (1, 2, 4):
            raise ValueError(f"steps must be 1, 2 or 4, got {self.num_steps}")
        if (self.control_positions is None) != (self.control_mask is None):
            raise ValueError("control needs both positions and mask")


@dataclass
class GenerationResult:
    """Worker output. joints: float32 [B, T, 22, 3] (model frame, metres); fps: model rate (20)."""

    joints: np.ndarray
    lengths: list[int]
    fps: float
    timings: dict[str, float]
    device: str
    model: str
    messages: list[str]
    settings: dict = field(default_factory=dict)


class GenerationJob:
    """One generation on a daemon thread. States: running → done | failed | cancelled."""

    def __init__(self, request: GenerationRequest, loader: Callable[[ModelSpec], object] = load_pipeline):
        self.request, self._loader = request, loader
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
        req, t0 = self.request, time.perf_counter()
        self._emit("progress", (0.05, "loading model"))
        pipe = self._loader(req.model)
        if self._cancelled():
            return
        if req.control_positions is not None and not getattr(pipe, "has_controlnet", False):
            raise ValueError("pins need a control model (a checkpoint with a ControlNet); "
                             "clear the pins or pick a control model")
        t_load = time.perf_counter() - t0
        self._emit("progress", (0.4, "generating"))
        pipe, res = self._generate_with_fallback(pipe)
        if self._cancelled():
            return
        timings = {"load_model": t_load, **{k: float(v) for k, v in dict(res.timings).items()}}
        self._emit("done", GenerationResult(np.asarray(res.joints, dtype=np.float32), list(res.lengths),
                                            float(res.fps), timings, _device_label(pipe), req.model.label(),
                                            list(self._worker_messages), dict(getattr(res, "settings", {}))))

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
            cpu = self._loader(replace(self.request.model, device="cpu"))
            return cpu, self._generate(cpu)

    def _generate(self, pipe: object) -> object:
        import torch
        from motionlcm_core import Control
        req = self.request
        control = None
        if req.control_positions is not None:
            b = len(req.prompts)
            pos = np.broadcast_to(req.control_positions, (b, *req.control_positions.shape)).copy()
            mask = np.broadcast_to(req.control_mask, (b, *req.control_mask.shape)).copy()
            control = Control(positions=torch.as_tensor(pos, dtype=torch.float32), mask=torch.as_tensor(mask))
        passes = {} if control is None else dict(refine=req.refine, refine_steps=req.refine_steps,
                                                  refine_strength=req.refine_strength, exact=req.exact)
        return pipe.generate(list(req.prompts), seconds=req.seconds, num_steps=req.num_steps,
                             guidance_scale=req.guidance, seed=req.seed, control=control, **passes)


def _device_label(pipe: object) -> str:
    from motionlcm_core.device import device_name
    dev = getattr(pipe, "device", None)
    try:
        return device_name(dev) if dev is not None else "CPU"
    except (RuntimeError, AssertionError):  # a GPU that is unusable after an error
        return dev.type.upper()
