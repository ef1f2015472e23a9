"""A prompt timeline: segments generated one after another as one continuous motion.

Each segment after the first continues from the pose *and velocity* where the previous one ends: its first
``overlap`` frames are pinned to the previous segment's last ones (``control.continuation``), the exact pass
spreads the join over its window, the rest of the difference (bone lengths differ between clips) is spread
the same way (:func:`_joined`), and the new frames are appended. The body pass then runs once over the
whole timeline (rigid bones, grounded, feet planted), so seams are treated like any other frame.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from motionlcm_core.control.continuation import continue_from_pose
from motionlcm_core.control.field import displacement_field
from motionlcm_core.control.passes import PinPassConfig
from motionlcm_core.motion.body import BodyConfig, foot_channels, hold_body
from motionlcm_core.motion.skeleton import FPS, num_frames

__all__ = ["Segment", "Timeline", "generate_timeline"]

#: Frames of the previous segment each new one starts from (2: position and velocity).
OVERLAP = 2


@dataclass(frozen=True)
class Segment:
    """One prompt of the timeline, ``seconds`` long (within the model's clip range)."""

    prompt: str
    seconds: float

    def __post_init__(self) -> None:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise ValueError("every timeline segment needs a prompt, e.g. 'a person walks forward'")
        if not (isinstance(self.seconds, (int, float)) and math.isfinite(self.seconds) and self.seconds > 0):
            raise ValueError(f"segment {self.prompt!r}: seconds must be a positive number, got {self.seconds!r}")

    @classmethod
    def list_from(cls, items: Sequence[dict[str, Any]]) -> list["Segment"]:
        """Segments from ``[{"prompt": ..., "seconds": ...}, ...]`` (the CLI's ``tl.json``)."""
        if not isinstance(items, (list, tuple)) or not items:
            raise ValueError('a timeline is a non-empty list of {"prompt": "...", "seconds": S}')
        try:
            return [cls(str(it["prompt"]), float(it["seconds"])) for it in items]
        except (KeyError, TypeError) as exc:
            raise ValueError(f'each timeline entry needs "prompt" and "seconds": {exc}') from exc


@dataclass
class Timeline:
    """``joints (T, 22, 3)`` metres, Y up, 20 fps, the first segment's model frame; ``segment_starts``: the first
    frame of each segment; ``reports``: each segment's ``MotionResult.report``; ``body``: the body pass's;
    ``seam_error_m``: how far each later segment's first frames were from the previous ones after the join."""

    joints: np.ndarray
    segment_starts: list[int]
    fps: int = FPS
    reports: list[dict[str, Any]] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)
    seam_error_m: list[float] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def to_result(self):
        """The timeline as a one-clip ``MotionResult`` (``report``: segment starts, seams, segment reports)."""
        from motionlcm_core.result import MotionResult
        report = {"segment_starts": self.segment_starts, "seam_error_m": self.seam_error_m, "body": [self.body],
                  "segments": self.reports}
        return MotionResult(joints=self.joints[None], feats=np.zeros((1, len(self.joints), 0), np.float32),
                            lengths=[len(self.joints)], fps=self.fps, timings=dict(self.timings), report=report)


def generate_timeline(pipe, segments: Sequence[Segment], *, seed: int = 0, num_steps: int = 1,
                      guidance_scale: float | None = None, passes: PinPassConfig = PinPassConfig(),
                      body: bool | BodyConfig = True) -> Timeline:
    """Generate ``segments`` in order as one motion (see the module doc). Segment ``k`` uses seed ``seed + k``.
    All lengths are checked before any work (each segment ``seconds``, plus the overlap, within the model's range)."""
    segments = list(segments)
    if not segments:
        raise ValueError("the timeline has no segments")
    for k, seg in enumerate(segments):
        frames = num_frames(seg.seconds) + (OVERLAP if k else 0)
        if not pipe.cfg.min_frames <= frames <= pipe.cfg.max_frames:
            raise ValueError(f"segment {k + 1} ({seg.prompt!r}): {seg.seconds} s is outside the model's clip range "
                             f"{pipe.cfg.min_frames / FPS:.1f}–{(pipe.cfg.max_frames - OVERLAP) / FPS:.1f} s; split it")
    parts, feats, starts, reports, seams, timings = [], [], [], [], [], {}
    for k, seg in enumerate(segments):
        starts.append(sum(len(p) for p in parts))
        if k == 0:
            res = pipe.generate([seg.prompt], seconds=seg.seconds, num_steps=num_steps, seed=seed,
                                guidance_scale=guidance_scale, passes=passes, body=False)
            parts.append(res.clip(0))
            feats.append(res.feats[0, : res.lengths[0]])
        else:
            prev = np.concatenate(parts)[-OVERLAP:]
            cont = continue_from_pose(prev, num_frames(seg.seconds) + OVERLAP)
            res = pipe.generate([seg.prompt], lengths=[num_frames(seg.seconds) + OVERLAP], num_steps=num_steps,
                                seed=seed + k, guidance_scale=guidance_scale, control=cont.control, passes=passes,
                                body=False)
            joined = _joined(cont.to_source(res.clip(0)), prev, passes.blend_frames)
            seams.append(float(np.abs(joined[:OVERLAP] - prev).max()))
            parts.append(joined[OVERLAP:])
            feats.append(res.feats[0, OVERLAP: res.lengths[0]])
        reports.append(res.report)
        for name, sec in res.timings.items():
            timings[name] = timings.get(name, 0.0) + sec
    joints = np.concatenate(parts)
    report: dict[str, Any] = {}
    if body is not False:
        channels = foot_channels(np.concatenate(feats))
        joints, report = hold_body(joints, channels, body if isinstance(body, BodyConfig) else BodyConfig())
    return Timeline(joints.astype(np.float32), starts, FPS, reports, report, seams, timings)


def _joined(joints: np.ndarray, prev: np.ndarray, window: int) -> np.ndarray:
    """``joints (T, 22, 3)`` whose first frames equal ``prev (K, 22, 3)`` exactly, the difference spread over
    ``window`` frames (the model meets them with its own bone lengths; this makes the join exact)."""
    k = len(prev)
    offsets = (prev - joints[:k]).reshape(k, -1)
    field = displacement_field(np.arange(k), offsets, len(joints), window)
    return joints + field.reshape(joints.shape)
