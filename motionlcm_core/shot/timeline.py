"""A prompt timeline: segments generated one after another as one continuous motion.

Each segment after the first continues from the pose *and velocity* where the previous one ends: its first
:data:`OVERLAP` frames are pinned to the previous segment's last ones (``control.continuation``), the exact
pass spreads the join over its window, the rest of the difference (bone lengths differ between clips) is
spread the same way (a displacement field), and the new frames are appended. Regenerating one segment pins
its last frames to the next segment's first ones as well, so both neighbours keep their motion. The body
pass then runs once over the whole timeline (rigid bones, grounded, feet planted), so seams are treated like
any other frame.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from motionlcm_core.control.continuation import continue_from_pose
from motionlcm_core.control.field import displacement_field
from motionlcm_core.control.passes import PinPassConfig
from motionlcm_core.control.targets import Control
from motionlcm_core.motion.body import BodyConfig, foot_channels, hold_body
from motionlcm_core.motion.skeleton import FPS, num_frames

__all__ = ["Segment", "Timeline", "generate_timeline"]

#: Frames of the previous segment each new one starts from (2: position and velocity).
OVERLAP = 2
#: The body pass of a timeline: plant corrections fade over 6 frames, not 3. Two clips generated apart meet at a
#: seam where a foot may swing on one side and stand on the other; a 3-frame fade of that plant moved a knee at
#: 4.9 m/s across the walk → sit seam of "walks forward / stops and sits down / waves" (real motion's 99th
#: percentile: 3.9 m/s), 6 frames at 3.7.
TIMELINE_BODY = BodyConfig(blend_frames=6)


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
    ``seam_step_m``: the largest joint step (m) from each segment's last frame to the next one's first (raw);
    ``raw`` and ``channels``: the frames before the body pass and the model's foot-contact channels."""

    joints: np.ndarray
    segment_starts: list[int]
    fps: int = FPS
    reports: list[dict[str, Any]] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)
    seam_step_m: list[float] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    raw: np.ndarray | None = None
    channels: np.ndarray | None = None

    @classmethod
    def from_raw(cls, raw: np.ndarray, channels: np.ndarray, segment_starts: Sequence[int]) -> "Timeline":
        """A kept timeline (raw frames, channels, segment starts) to regenerate one of its segments."""
        raw, channels = np.asarray(raw, np.float32), np.asarray(channels, np.float32)
        if raw.ndim != 3 or raw.shape[1:] != (22, 3) or channels.shape != (len(raw), 4):
            raise ValueError(f"a kept timeline needs raw (T, 22, 3) and channels (T, 4), got {raw.shape}, "
                             f"{channels.shape}")
        return cls(raw, list(segment_starts), reports=[{} for _ in segment_starts], raw=raw, channels=channels)

    def split(self) -> tuple[list[np.ndarray], list[np.ndarray], list[dict[str, Any]]]:
        """Each segment's raw frames (before the body pass), contact channels and report (to redo one)."""
        if self.raw is None or self.channels is None:
            raise ValueError("this timeline has no raw frames kept; generate it again to regenerate a segment")
        bounds = list(self.segment_starts) + [len(self.raw)]
        cut = lambda x: [x[a:b] for a, b in zip(bounds[:-1], bounds[1:])]       # noqa: E731
        return cut(self.raw), cut(self.channels), list(self.reports)

    def to_result(self):
        """The timeline as a one-clip ``MotionResult`` (``report``: segment starts, seams, segment reports, and the
        raw frames and contact channels, arrays, to regenerate a segment later: :meth:`from_raw`)."""
        from motionlcm_core.result import MotionResult
        report = {"segment_starts": self.segment_starts, "seam_step_m": self.seam_step_m, "body": [self.body],
                  "segments": self.reports, "timeline_raw": self.raw, "timeline_channels": self.channels}
        return MotionResult(joints=self.joints[None], feats=np.zeros((1, len(self.joints), 0), np.float32),
                            lengths=[len(self.joints)], fps=self.fps, timings=dict(self.timings), report=report)


def generate_timeline(pipe, segments: Sequence[Segment], *, seed: int = 0, num_steps: int = 1,
                      guidance_scale: float | None = None, passes: PinPassConfig = PinPassConfig(),
                      body: bool | BodyConfig = True, keep: "Timeline | None" = None,
                      redo: int | None = None, retrieval: bool = True) -> Timeline:
    """Generate ``segments`` in order as one motion (see the module doc). Segment ``k`` uses seed ``seed + k``.
    All lengths are checked before any work (each segment ``seconds``, plus the overlaps, within the model's
    range).

    With ``keep`` (an earlier timeline of the same segments) and ``redo = k``, only segment ``k`` is generated
    again: it starts from the pose and velocity where segment ``k − 1`` ends and arrives at the pose and
    velocity where segment ``k + 1`` starts, so its neighbours keep their motion; the body pass then runs over
    the whole timeline again.

    ``retrieval`` (a model with a motion bank): every segment is sampled from its retrieved exemplar without
    pins (the ControlNet works from noise only, where the prompt's action is weakest) and joined to its
    neighbours by the displacement field alone; False: later segments are sampled with the continuation pins."""
    segments = list(segments)
    if not segments:
        raise ValueError("the timeline has no segments")
    if (keep is None) != (redo is None):
        raise ValueError("regenerating a segment needs both keep= (the timeline) and redo= (its index)")
    if keep is not None and (len(keep.segment_starts) != len(segments) or not 0 <= redo < len(segments)):
        raise ValueError(f"redo must index one of the timeline's {len(keep.segment_starts)} segments, got {redo}")
    for k, seg in enumerate(segments):
        frames = num_frames(seg.seconds) + (OVERLAP if k else 0) + (OVERLAP if redo == k < len(segments) - 1 else 0)
        if not pipe.cfg.min_frames <= frames <= pipe.cfg.max_frames:
            raise ValueError(f"segment {k + 1} ({seg.prompt!r}): {seg.seconds} s is outside the model's clip range "
                             f"{pipe.cfg.min_frames / FPS:.1f}–{(pipe.cfg.max_frames - 2 * OVERLAP) / FPS:.1f} s; "
                             "split it")
    parts, channels, reports = ([], [], []) if keep is None else keep.split()
    timings: dict[str, float] = {}
    for k, seg in enumerate(segments):
        if keep is not None and k != redo:
            continue
        prev = np.concatenate(parts[:k])[-OVERLAP:] if k else None
        nxt = parts[k + 1][:OVERLAP] if keep is not None and k + 1 < len(segments) else None
        joints, chans, res = _segment(pipe, seg, prev, nxt, retrieval and pipe.bank is not None, seed=seed + k,
                                      num_steps=num_steps, guidance_scale=guidance_scale, passes=passes)
        if keep is None:
            parts.append(joints), channels.append(chans), reports.append(res.report)
        else:
            parts[k], channels[k], reports[k] = joints, chans, res.report
        for name, sec in res.timings.items():
            timings[name] = timings.get(name, 0.0) + sec
    new = _assemble(parts, channels, reports, timings, body)
    if keep is None or body is False:
        return new
    old = _assemble(*keep.split(), {}, body)                  # the kept timeline as it was shown
    return _keep_outside(new, old, redo)


def _keep_outside(new: Timeline, old: Timeline, k: int, margin: int = 2 * OVERLAP + 10) -> Timeline:
    """``new`` with the frames of every segment but ``k`` (further than ``margin`` frames from its seams) taken
    from ``old`` exactly, cross-faded (smoothstep) into the new ones over the margin: the body pass looks at
    the whole clip (contact heights), so it would otherwise move far frames by millimetres."""
    a, b = new.segment_starts[k], new.segment_starts[k + 1] if k + 1 < len(new.segment_starts) else len(new.joints)
    shift = len(new.joints) - len(old.joints)                        # segment k may have a new duration
    t = np.arange(len(new.joints), dtype=np.float64)
    w = np.clip(np.minimum(t - (a - margin), (b - 1 + margin) - t) / margin, 0.0, 1.0)
    w = w * w * (3 - 2 * w)                                          # 1 inside segment k, 0 further than margin
    old_aligned = np.concatenate([old.joints[:a], np.zeros((b - a, 22, 3), np.float32), old.joints[b - shift:]])
    new.joints = (w[:, None, None] * new.joints + (1 - w[:, None, None]) * old_aligned).astype(np.float32)
    return new


def _segment(pipe, seg: Segment, prev: np.ndarray | None, nxt: np.ndarray | None, retrieval: bool,
             **generate_kw) -> tuple[np.ndarray, np.ndarray, Any]:
    """One segment's new frames ``(n, 22, 3)`` (timeline frame), its contact channels ``(n, 4)`` and the
    ``MotionResult``: from ``prev`` (the last frames before it) to ``nxt`` (the first frames after it);
    ``retrieval``: sampled without the continuation pins (from the model's retrieved exemplar), placed at
    ``prev`` and joined by the displacement field only."""
    n = num_frames(seg.seconds)
    head, tail = (OVERLAP if prev is not None else 0), (OVERLAP if nxt is not None else 0)
    length = head + n + tail
    if prev is None:
        rotation, translation = np.eye(3), np.zeros(3)
        positions, mask = np.zeros((length, 22, 3), np.float32), np.zeros((length, 22), bool)
    else:
        cont = continue_from_pose(prev, length)
        rotation, translation = cont.rotation, cont.translation
        positions, mask = np.array(cont.control.positions), np.array(cont.control.mask)
    if nxt is not None:
        positions[-tail:], mask[-tail:] = (nxt - translation) @ rotation.T, True
    control = Control(positions, mask) if mask.any() and not retrieval else None
    if retrieval:
        generate_kw = {**generate_kw, "passes": dataclasses.replace(generate_kw["passes"], floor=None)}
    res = pipe.generate([seg.prompt], lengths=[length], control=control, body=False, **generate_kw)
    joints = res.clip(0).astype(np.float64) @ rotation + translation
    keys = [(prev, np.arange(head)), (nxt, np.arange(length - tail, length))]
    frames = np.concatenate([f for x, f in keys if x is not None]) if head or tail else np.zeros(0, int)
    if len(frames):
        targets = np.concatenate([x for x, _ in keys if x is not None])
        field = displacement_field(frames, (targets - joints[frames]).reshape(len(frames), -1), length,
                                   generate_kw["passes"].blend_frames)
        joints = joints + field.reshape(joints.shape)
    return joints[head:length - tail], foot_channels(res.feats[0, head:length - tail]), res


def _assemble(parts: list[np.ndarray], channels: list[np.ndarray], reports: list[dict[str, Any]],
              timings: dict[str, float], body: bool | BodyConfig) -> Timeline:
    """One timeline from its segments' raw frames: the body pass over all of it."""
    raw = np.concatenate(parts)
    starts = np.cumsum([0] + [len(p) for p in parts[:-1]]).tolist()
    gaps = [float(np.abs(parts[k][0] - parts[k - 1][-1]).max()) for k in range(1, len(parts))]
    joints, report = raw, {}
    if body is not False:
        cfg = body if isinstance(body, BodyConfig) else TIMELINE_BODY
        joints, report = hold_body(raw, np.concatenate(channels), cfg)
    return Timeline(joints.astype(np.float32), starts, FPS, reports, report, gaps, timings,
                    raw.astype(np.float32), np.concatenate(channels).astype(np.float32))
