# SPDX-License-Identifier: GPL-3.0-or-later
"""Bake to NLA: push the generated action into a strip on a track named after its prompt."""
from __future__ import annotations

import bpy

from . import anim_write, compat

BLEND_FRAMES = 5.0


def _generated_strips(ad: bpy.types.AnimData) -> list[bpy.types.NlaStrip]:
    return [s for t in ad.nla_tracks for s in t.strips if s.action and anim_write.get_recipe(s.action)]


def bake_to_nla(ob: bpy.types.Object, frame: float) -> bpy.types.NlaStrip:
    """Move ``ob``'s active generated action into a new NLA strip; returns it.

    The strip starts at ``frame`` or right after the last generated strip, whichever is later,
    overlapping it by ``BLEND_FRAMES`` with auto-blending so consecutive shots cross-fade.
    """
    ad = ob.animation_data
    action = ad.action if ad else None
    recipe = anim_write.get_recipe(action)
    if recipe is None:
        raise ValueError(f"{ob.name!r} has no generated action to bake; press Generate first")
    slot = compat.object_slot(action, ob)
    previous = _generated_strips(ad)
    start = frame
    if previous:
        start = max(frame, max(s.frame_end for s in previous) - BLEND_FRAMES)
    offset = start - action.frame_range[0]
    track = ad.nla_tracks.new()
    track.name = recipe.get("prompt", action.name)[:60]
    strip = track.strips.new(action.name, int(round(action.frame_range[0] + offset)), action)
    compat.set_strip_slot(strip, slot)
    strip.blend_type = "REPLACE"
    strip.extrapolation = "NOTHING" if previous else "HOLD"
    if previous:
        strip.use_auto_blend = True
    action.use_fake_user = True
    ad.action = None
    return strip


def segment_strips(ob: bpy.types.Object, action: bpy.types.Action, starts: list[float],
                   prompts: list[str]) -> list[bpy.types.NlaStrip]:
    """Put a timeline's ``action`` on one new NLA track as one strip per segment (the action's frames
    ``starts[k]`` → ``starts[k + 1]``, named after the segment's prompt) instead of the active action."""
    ad = ob.animation_data
    slot = compat.object_slot(action, ob)
    track = ad.nla_tracks.new()
    track.name = "MotionLCM timeline"
    bounds = list(starts) + [action.frame_range[1]]
    strips = []
    for k, prompt in enumerate(prompts):
        strip = track.strips.new(f"{k + 1}: {prompt}"[:60], int(round(bounds[k])), action)
        compat.set_strip_slot(strip, slot)
        strip.action_frame_start, strip.action_frame_end = bounds[k], bounds[k + 1]
        strip.frame_end = strip.frame_start + (bounds[k + 1] - bounds[k])
        strip.blend_type, strip.extrapolation = "REPLACE", "NOTHING" if k else "HOLD"
        strips.append(strip)
    action.use_fake_user = True
    ad.action = None
    return strips
