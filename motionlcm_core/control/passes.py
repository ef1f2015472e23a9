"""The numbers of the passes that meet pins, as one frozen config saved with each recipe.

:class:`PinPassConfig` is carried unchanged from the add-on's panel (or the CLI) through the job to
``MotionLCMPipeline.generate(..., passes=...)`` and on to ``retarget.animate_rig``; ``None`` in a field
turns that pass off. numpy-free and torch-free: the add-on imports it at module level.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from motionlcm_core.control.exact import ExactConfig
from motionlcm_core.retarget.feet import FootCleanupConfig
from motionlcm_core.retarget.ik import PinIKConfig

__all__ = ["PinPassConfig", "RefineConfig", "from_fields"]


@dataclass(frozen=True)
class RefineConfig:
    """``steps`` Adam steps of size ``lr`` (latent units); stop early when every pin is within ``tolerance`` m."""

    steps: int = 2
    lr: float = 0.15
    prior_weight: float = 0.01
    tolerance: float = 0.005

    def __post_init__(self) -> None:
        if not isinstance(self.steps, int) or isinstance(self.steps, bool) or self.steps < 0:
            raise ValueError(f"refine steps must be an integer >= 0, got {self.steps!r}")
        for name in ("lr", "prior_weight", "tolerance"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"refine {name} must be a finite number >= 0, got {value!r}")
        if self.lr == 0:
            raise ValueError("refine lr (strength) must be > 0; use steps=0 to turn refinement off")


@dataclass(frozen=True)
class PinPassConfig:
    """Every pass between the sampled latent and the rig's keys that meets pins or cleans the result.

    - ``refine``: latent refinement through the decoder (with pins; :mod:`motionlcm_core.control.refine`);
    - ``exact``: the exact pass on joints (with pins; :mod:`motionlcm_core.control.exact`);
    - ``floor``: lowest joint on y = 0 (``None``: on without pins, off with them);
    - ``foot_cleanup``: planted feet held on the rig (:mod:`motionlcm_core.retarget.feet`);
    - ``pin_ik``: pins met on the rig's own bones (:mod:`motionlcm_core.retarget.ik`);
    - ``blend_frames``: model frames over which a continued pose fades into the new clip.
    """

    refine: RefineConfig | None = RefineConfig()
    exact: ExactConfig | None = ExactConfig()
    floor: bool | None = None
    foot_cleanup: FootCleanupConfig | None = FootCleanupConfig()
    pin_ik: PinIKConfig = field(default_factory=PinIKConfig)
    blend_frames: int = 12

    def __post_init__(self) -> None:
        kinds = {"refine": RefineConfig, "exact": ExactConfig, "foot_cleanup": FootCleanupConfig}
        for name, kind in kinds.items():
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                raise ValueError(f"passes.{name} must be a {kind.__name__} or None (off), got {value!r}")
        if self.floor is not None and not isinstance(self.floor, bool):
            raise ValueError(f"passes.floor must be True, False or None, got {self.floor!r}")
        if not isinstance(self.pin_ik, PinIKConfig):
            raise ValueError(f"passes.pin_ik must be a PinIKConfig, got {self.pin_ik!r}")
        if not isinstance(self.blend_frames, int) or self.blend_frames < 1:
            raise ValueError(f"passes.blend_frames must be an integer >= 1, got {self.blend_frames!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (nested configs as dicts, ``None`` for a pass that is off)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "PinPassConfig":
        """Inverse of :meth:`to_dict`; missing keys take their defaults (recipes saved by older versions)."""
        data = dict(data or {})
        nested = {"refine": RefineConfig, "exact": ExactConfig, "foot_cleanup": FootCleanupConfig,
                  "pin_ik": PinIKConfig}
        for name, kind in nested.items():
            if isinstance(data.get(name), dict):
                data[name] = from_fields(kind, data[name])
        return from_fields(cls, data)


def from_fields(cls: type, data: dict[str, Any]) -> Any:
    """``cls(**data)`` keeping only ``cls``'s own fields (unknown keys from other versions are ignored)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})
