# SPDX-License-Identifier: GPL-3.0-or-later
"""Warm start: once the add-on is enabled, load the model the panel selects (and its text encoder) in the
background, so the first Generate does not wait for it.

``register()`` only schedules a one-shot ``bpy.app.timers`` callback (:func:`tick`); the load itself runs on
a daemon thread (``model_cache.warm_up``), so neither import, register nor the UI ever waits for it.
Headless (``bpy.app.background``: tests, render farms) nothing is scheduled: timers never fire there, and one
left registered hangs bpy 4.5 at exit. ``MOTIONLCM_WARMUP=1`` schedules it anyway, ``=0`` never does.
"""
from __future__ import annotations

import os

import bpy

from . import deps, model_cache
from .generation import model_spec
from .preferences import get_prefs

ENV = "MOTIONLCM_WARMUP"
DELAY_S = 0.5  # after the first event-loop turn: the window is up before any loading starts
NEEDED = ["torch", "safetensors", "tokenizers", "motionlcm_core"]   # what the embedded model loads with


def wanted() -> bool:
    """Whether :func:`schedule` registers the timer: ``MOTIONLCM_WARMUP`` = 1 / 0, else only with a UI."""
    env = os.environ.get(ENV, "").strip()
    if env in ("0", "1"):
        return env == "1"
    return not bpy.app.background


def schedule() -> bool:
    """Called by ``register()``: register the one-shot warm-up timer; False when warm start is off here."""
    if not wanted():
        return False
    if not bpy.app.timers.is_registered(tick):
        bpy.app.timers.register(tick, first_interval=DELAY_S, persistent=True)
    return True


def cancel() -> None:
    """Called by ``unregister()``: drop the timer if it has not fired (a running load is a daemon thread and
    never delays unregister or exit)."""
    if bpy.app.timers.is_registered(tick):
        bpy.app.timers.unregister(tick)


def tick() -> None:
    """Timer callback (fires once): start the warm-up. Never raises into Blender's timer loop."""
    try:
        start(bpy.context)
    except Exception as exc:  # noqa: BLE001 - warm start is an optimisation; Generate reports real errors
        print(f"MotionLCM: warm start skipped ({type(exc).__name__}: {exc})")
    return None


def start(context: bpy.types.Context) -> model_cache.WarmUp | None:
    """Start loading the model the panel selects, when the preference "Load the model at start-up" is on
    and the dependencies are installed; returns at once. ``None`` when nothing was started."""
    prefs = get_prefs(context)
    if prefs is not None and not prefs.warm_start:
        return None
    if deps.missing_modules(NEEDED):
        return None
    props = getattr(getattr(context, "scene", None), "motionlcm", None)
    if props is None:
        return None
    spec = model_spec(context, props)
    return model_cache.warm_up(spec, props.prompt.strip() or model_cache.WARM_SENTENCE)
