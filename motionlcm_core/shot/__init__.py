"""Direct a shot, not a clip: follow a path, chain prompts on a timeline, make loops (bpy-free).

- :mod:`~motionlcm_core.shot.path`: :class:`GroundPath`, :func:`follow_path` (pelvis on ground-plane points);
- :mod:`~motionlcm_core.shot.timeline`: :class:`Segment`, :func:`generate_timeline` (one continuous motion);
- :mod:`~motionlcm_core.shot.loop`: :func:`make_loop`, :func:`generate_loop` (cycles that tile).

Each takes a ``MotionLCMPipeline`` and returns joints in the model's units (metres, Y up, 20 fps).
"""
from motionlcm_core.shot.loop import best_loop_window, generate_loop, make_loop
from motionlcm_core.shot.path import GroundPath, follow_path, path_points
from motionlcm_core.shot.timeline import Segment, Timeline, generate_timeline

__all__ = ["GroundPath", "Segment", "Timeline", "best_loop_window", "follow_path", "generate_loop",
           "generate_timeline", "make_loop", "path_points"]
