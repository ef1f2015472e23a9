"""Follow a path: the pelvis walks along ground-plane points at constant speed, its height left to the model.

The path's points ``(K, 2)`` are (x, z) metres in the caller's frame (Y up). The clip is generated in the
model frame whose origin is the path's first point and whose +Z is the path's first direction, so the
character starts facing along the path; the pelvis is pinned on its x and z axes only (per-axis pins through
the ControlNet, refinement and the exact pass; the body pass then keeps those axes), and the joints are put
back in the caller's frame.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from motionlcm_core.control.passes import PinPassConfig
from motionlcm_core.control.targets import Control
from motionlcm_core.motion.skeleton import FPS, NUM_JOINTS

__all__ = ["GroundPath", "follow_path", "path_points"]

#: The start direction of a path: towards its point this far along (metres).
LOOK_AHEAD_M = 0.5
#: A path pins the pelvis on every frame, so the exact pass meets it by itself: latent refinement (2.3x the
#: time of a plain generation, benchmarks/shot_tools.py) is off.
PATH_PASSES = PinPassConfig(refine=None)


def path_points(points) -> np.ndarray:
    """``points`` as finite float64 ``(K, 2)`` (x, z) metres with K >= 2 and a length > 1 cm, else ValueError."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2:
        raise ValueError(f"a path is a list of at least two [x, z] ground points in metres, got shape {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError("path points must be finite numbers")
    if np.linalg.norm(np.diff(pts, axis=0), axis=-1).sum() < 0.01:
        raise ValueError("the path is shorter than 1 cm; spread its points apart")
    return pts


@dataclass(frozen=True)
class GroundPath:
    """The pelvis's ground track along ``points`` (see :func:`path_points`), from the first point, at constant
    ``speed_m_s`` (``None``: the whole path over the clip). Past the path's end the pelvis stays there."""

    points: np.ndarray
    speed_m_s: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", path_points(self.points))
        if self.speed_m_s is not None and not (math.isfinite(self.speed_m_s) and self.speed_m_s > 0):
            raise ValueError(f"path speed must be a positive number of m/s, got {self.speed_m_s}")

    @property
    def length_m(self) -> float:
        return float(np.linalg.norm(np.diff(self.points, axis=0), axis=-1).sum())

    def track(self, num_frames: int, fps: float = FPS) -> np.ndarray:
        """Pelvis (x, z) ``(num_frames, 2)`` in the caller's frame, equally spaced along the path in time."""
        seg = np.linalg.norm(np.diff(self.points, axis=0), axis=-1)
        arc = np.concatenate([[0.0], np.cumsum(seg)])
        duration = max(num_frames - 1, 1) / fps
        speed = self.length_m / duration if self.speed_m_s is None else self.speed_m_s
        dist = np.minimum(np.arange(num_frames) / fps * speed, arc[-1])
        return np.stack([np.interp(dist, arc, self.points[:, k]) for k in (0, 1)], axis=-1)

    def frame(self) -> tuple[np.ndarray, np.ndarray]:
        """(rotation ``(3, 3)``, translation ``(3,)``) of the model frame: origin at the first point, +Z towards
        the point :data:`LOOK_AHEAD_M` along the path (robust to a wobbly start); ``caller = model @ rotation +
        translation``."""
        seg = np.linalg.norm(np.diff(self.points, axis=0), axis=-1)
        arc = np.concatenate([[0.0], np.cumsum(seg)])
        ahead = min(LOOK_AHEAD_M, arc[-1])
        step = np.array([np.interp(ahead, arc, self.points[:, k]) for k in (0, 1)]) - self.points[0]
        phi = math.atan2(step[0], step[1])                      # heading from +Z towards +X
        c, s = math.cos(phi), math.sin(phi)
        rotation = np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])
        return rotation, np.array([self.points[0, 0], 0.0, self.points[0, 1]])

    def control(self, num_frames: int, fps: float = FPS) -> Control:
        """Pins of the pelvis's x and z on every frame (model frame), its height free."""
        rotation, translation = self.frame()
        track = self.track(num_frames, fps)
        world = np.stack([track[:, 0], np.zeros(num_frames), track[:, 1]], axis=-1)
        model = (world - translation) @ rotation.T
        positions = np.zeros((num_frames, NUM_JOINTS, 3), dtype=np.float32)
        positions[:, 0] = model
        mask = np.zeros((num_frames, NUM_JOINTS, 3), dtype=bool)
        mask[:, 0, [0, 2]] = True
        return Control(positions, mask)


def follow_path(pipe, prompt: str, path: GroundPath, *, seconds: float, seed: int | None = None,
                num_steps: int = 1, guidance_scale: float | None = None,
                passes: PinPassConfig = PATH_PASSES):
    """``pipe.generate`` of ``prompt`` with the pelvis on ``path``; returns the ``MotionResult`` with ``joints``
    in the path's (caller's) frame and ``report["path"]`` (length, speed, largest ground-plane error)."""
    from motionlcm_core.motion.skeleton import num_frames
    frames = num_frames(seconds)
    res = pipe.generate([prompt], seconds=seconds, num_steps=num_steps, seed=seed, guidance_scale=guidance_scale,
                        control=path.control(frames), passes=passes)
    rotation, translation = path.frame()
    n = res.lengths[0]
    res.joints[0, :n] = (res.joints[0, :n].astype(np.float64) @ rotation + translation).astype(np.float32)
    error = np.linalg.norm(res.joints[0, :n, 0][:, [0, 2]] - path.track(frames)[:n], axis=-1)
    res.report["path"] = {"length_m": path.length_m, "speed_m_s": path.speed_m_s or path.length_m * FPS / max(n - 1, 1),
                          "ground_error_max_m": float(error.max())}
    return res
