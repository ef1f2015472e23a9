"""One typed recipe: everything that decides a generation, from the panel (or a script) to the keys.

A :class:`Recipe` is made once (the add-on builds it from its panel), carried unchanged through the job to
``MotionLCMPipeline.generate`` and ``retarget.animate_rig``, and stored on the Action as JSON
(:meth:`Recipe.to_dict`), so Regenerate reads back exactly what made the keys. numpy- and torch-free.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from motionlcm_core.control.exact import ExactConfig
from motionlcm_core.control.passes import PinPassConfig, RefineConfig, from_fields
from motionlcm_core.motion.skeleton import JOINT_NAMES, num_frames
from motionlcm_core.retarget.feet import FootCleanupConfig

__all__ = ["Pin", "Recipe", "ROOT_MOTIONS", "STEPS"]

ROOT_MOTIONS = ("full", "in_place")
STEPS = (1, 2, 4)


@dataclass(frozen=True)
class Pin:
    """A pinned bone: its head at ``position`` (armature space, rig units) on scene frame ``frame``; ``joint``
    is the SMPL joint the bone carries (one of the control joints: hips, feet, head, wrists)."""

    bone: str
    joint: str
    frame: int
    position: tuple[float, float, float]

    def __post_init__(self) -> None:
        if self.joint not in JOINT_NAMES:
            raise ValueError(f"pin on {self.bone!r}: unknown SMPL joint {self.joint!r}")
        pos = tuple(float(v) for v in self.position)
        if len(pos) != 3 or not all(math.isfinite(v) for v in pos):
            raise ValueError(f"pin on {self.bone!r} at frame {self.frame}: position must be 3 finite numbers")
        object.__setattr__(self, "position", pos)
        object.__setattr__(self, "frame", int(self.frame))


@dataclass(frozen=True)
class Recipe:
    """What to generate and how (all that changes the keys).

    ``seconds`` of motion from scene frame ``start_frame``; ``variations`` samples (seeds follow ``seed``'s
    generator); ``guidance`` ``None`` = the model's default; ``model``: the model's label; ``pins`` on the
    rig; ``continue_from``: bone heads (armature space) of the pose the clip starts from, or ``None``;
    ``passes``: the numbers of every pass after sampling.

    Shot tools (one at a time, not with pins): ``path`` ground points ``(x, z)`` metres in the rig's model
    frame the pelvis follows (``path_speed`` m/s, ``None``: the whole path over the clip); ``loop`` a cycle
    (``loop_in_place``: no travel); ``segments`` a timeline of ``(prompt, seconds)`` generated as one motion
    (``prompt`` and ``seconds`` are then the first segment's and the whole timeline's)."""

    prompt: str
    seed: int = 0
    num_steps: int = 1
    guidance: float | None = None
    seconds: float = 6.0
    variations: int = 1
    model: str = "embedded"
    root_motion: str = "full"
    pins: tuple[Pin, ...] = ()
    passes: PinPassConfig = field(default_factory=PinPassConfig)
    start_frame: int = 1
    continue_from: dict[str, tuple[float, float, float]] | None = None
    path: tuple[tuple[float, float], ...] = ()
    path_speed: float | None = None
    loop: bool = False
    loop_in_place: bool = False
    segments: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise ValueError("the prompt is empty; describe the motion, e.g. 'a person walks forward and waves'")
        if self.num_steps not in STEPS:
            raise ValueError(f"steps must be 1, 2 or 4, got {self.num_steps}")
        if not (isinstance(self.seconds, (int, float)) and math.isfinite(self.seconds) and self.seconds > 0):
            raise ValueError(f"seconds must be a positive number, got {self.seconds!r}")
        if not isinstance(self.variations, int) or self.variations < 1:
            raise ValueError(f"variations must be an integer >= 1, got {self.variations!r}")
        if self.root_motion not in ROOT_MOTIONS:
            raise ValueError(f"root_motion must be one of {ROOT_MOTIONS}, got {self.root_motion!r}")
        if self.guidance is not None and not (math.isfinite(self.guidance) and self.guidance >= 1.0):
            raise ValueError(f"guidance must be a finite number >= 1 (or None for the model's), got {self.guidance}")
        object.__setattr__(self, "prompt", self.prompt.strip())
        object.__setattr__(self, "pins", tuple(self.pins))
        object.__setattr__(self, "path", tuple(tuple(float(v) for v in p) for p in self.path))
        object.__setattr__(self, "segments", tuple((str(p), float(s)) for p, s in self.segments))
        tools = [name for name, on in (("a path", bool(self.path)), ("a loop", self.loop),
                                       ("a timeline", bool(self.segments))) if on]
        if len(tools) > 1:
            raise ValueError(f"{' and '.join(tools)} cannot be combined; pick one shot tool")
        if tools and self.pins:
            raise ValueError(f"pins cannot be combined with {tools[0]}; clear the pins or switch the shot tool off")
        if self.path and len(self.path) < 2:
            raise ValueError("the path needs at least two points; pick a curve with some length")
        if any(not p.strip() or not (math.isfinite(s) and s > 0) for p, s in self.segments):
            raise ValueError("every timeline segment needs a prompt and a positive duration")

    @property
    def num_frames(self) -> int:
        """Frames of the clip at the model's rate."""
        return num_frames(self.seconds)

    def with_seed(self, seed: int) -> "Recipe":
        return replace(self, seed=int(seed))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (pins as dicts, passes nested)."""
        out = asdict(self)
        out["pins"] = [asdict(p) for p in self.pins]
        out["passes"] = self.passes.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Recipe":
        """Inverse of :meth:`to_dict`; unknown keys (results stored beside the recipe) are ignored, and a
        recipe saved before ``passes`` existed (flat ``refine``/``exact``/``foot_cleanup`` keys) is read too."""
        data = dict(data)
        data["pins"] = tuple(from_fields(Pin, p) for p in data.get("pins") or ())
        data["path"] = tuple(tuple(p) for p in data.get("path") or ())
        data["segments"] = tuple(tuple(s) for s in data.get("segments") or ())
        data["passes"] = (PinPassConfig.from_dict(data["passes"]) if isinstance(data.get("passes"), dict)
                          else _legacy_passes(data))
        return from_fields(cls, data)


def _legacy_passes(data: dict[str, Any]) -> PinPassConfig:
    """The passes of a recipe stored by the add-on before :class:`PinPassConfig` (session 7 and earlier)."""
    refine = RefineConfig(steps=int(data.get("refine_steps") or RefineConfig.steps),
                          lr=float(data.get("refine_strength") or RefineConfig.lr))
    return PinPassConfig(refine=refine if data.get("refine", True) else None,
                         exact=ExactConfig() if data.get("exact", True) else None,
                         foot_cleanup=FootCleanupConfig() if data.get("foot_cleanup", True) else None)
