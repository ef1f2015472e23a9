# SPDX-License-Identifier: GPL-3.0-or-later
"""The add-on's scene settings: one PropertyGroup attached as ``Scene.motionlcm``."""
from __future__ import annotations

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, FloatVectorProperty,
                       IntProperty, PointerProperty, StringProperty)

MODEL_ITEMS = [
    ("embedded", "Embedded", "The small model shipped with the add-on (no downloads)"),
    ("official_v1", "Official V1", "Released MotionLCM V1 checkpoint (set its path in Preferences)"),
    ("official_v2", "Official V2", "Released MotionLCM V2 checkpoint (set its path in Preferences)"),
    ("file", "Checkpoint file", "One of our .safetensors checkpoints"),
]


def _is_armature(_self, ob: bpy.types.Object) -> bool:
    return ob.type == "ARMATURE"


class MOTIONLCM_PG_bone_map_item(bpy.types.PropertyGroup):
    """One SMPL joint → armature bone entry (``name`` is the SMPL joint name)."""

    bone: StringProperty(name="Bone", description="Armature bone driven by this SMPL joint (empty = unmapped)")


class MOTIONLCM_PG_pin(bpy.types.PropertyGroup):
    """A control target: a bone's head position (armature space) at a scene frame."""

    bone: StringProperty(name="Bone")
    joint: StringProperty(name="Joint", description="SMPL joint the bone is mapped to")
    frame: IntProperty(name="Frame")
    position: FloatVectorProperty(name="Position", size=3, subtype="TRANSLATION")


class MOTIONLCM_PG_segment(bpy.types.PropertyGroup):
    """One prompt of the timeline and its duration."""

    prompt: StringProperty(name="Prompt", description="What happens in this part, e.g. 'a person sits down'")
    seconds: FloatProperty(name="Duration", default=3.0, min=2.0, max=9.7, unit="TIME_ABSOLUTE")


def _is_curve(_self, ob: bpy.types.Object) -> bool:
    return ob.type == "CURVE"


class MOTIONLCM_PG_history_item(bpy.types.PropertyGroup):
    """A generated variation or previous result (``name`` = Action name)."""


class MOTIONLCM_PG_settings(bpy.types.PropertyGroup):
    """Everything the panel edits; status fields are written on the main thread only."""

    target: PointerProperty(name="Armature", type=bpy.types.Object, poll=_is_armature,
                            description="Armature that receives the generated action")
    prompt: StringProperty(name="Prompt", description="Describe the motion, e.g. 'a person walks forward and waves'")
    seconds: FloatProperty(name="Duration", default=4.0, min=2.0, max=9.8, unit="TIME_ABSOLUTE",
                           description="Clip length in seconds (the model makes 2 s to 9.8 s; the result is "
                                       "resampled to the scene frame rate)")
    num_steps: EnumProperty(name="Steps", items=[("1", "1", "Fastest"), ("2", "2", ""), ("4", "4", "Best")],
                            default="1")
    use_guidance: BoolProperty(name="Custom guidance", default=False,
                               description="Off: the model's own guidance scale for the chosen step count, "
                                           "recorded in its file (the embedded model: 4)")
    guidance: FloatProperty(name="Guidance", default=4.0, min=1.0, max=20.0,
                            description="Classifier-free guidance scale: higher follows the prompt more "
                                        "literally, lower gives more varied motion")
    seed: IntProperty(name="Seed", default=0, min=0)
    lock_seed: BoolProperty(name="Lock seed", default=False, description="Keep the seed on Regenerate")
    variations: IntProperty(name="Variations", default=1, min=1, max=8,
                            description="Number of variations generated at once (the first is assigned)")
    model: EnumProperty(name="Model", items=MODEL_ITEMS, default="embedded")
    checkpoint_file: StringProperty(name="Checkpoint", subtype="FILE_PATH")
    root_motion: EnumProperty(name="Root motion", default="full",
                              items=[("full", "Full", "Keep the travel of the hips"),
                                     ("in_place", "In place", "Remove horizontal travel")])
    foot_cleanup: BoolProperty(name="Foot clean-up", default=True, description="Reduce foot sliding")
    shot: EnumProperty(name="Shot", default="clip",
                       items=[("clip", "Clip", "One prompt, one clip (pins allowed)"),
                              ("path", "Path", "The hips follow a curve on the ground"),
                              ("loop", "Loop", "A cycle whose last frame joins the first"),
                              ("timeline", "Timeline", "Several prompts, one continuous motion")])
    path_curve: PointerProperty(name="Path", type=bpy.types.Object, poll=_is_curve,
                                description="Curve (Bezier or poly) the hips follow on the ground plane")
    path_speed: FloatProperty(name="Speed", default=0.0, min=0.0, max=10.0, unit="VELOCITY",
                              description="Walking speed along the path; 0 = the whole path over the duration")
    loop_in_place: BoolProperty(name="In place", default=False,
                                description="The cycle stays in place (else it moves one stride per cycle)")
    segments: CollectionProperty(type=MOTIONLCM_PG_segment)
    segment_index: IntProperty(default=0, min=0)
    timeline_strips: BoolProperty(name="One NLA strip per segment", default=False,
                                  description="Put the timeline's action on an NLA track, one strip per segment "
                                              "(instead of the active action)")
    continue_pose: BoolProperty(name="Continue from current pose", default=True,
                                description="When the armature is animated before the current frame, the new "
                                            "clip starts at the current frame from the pose shown there")
    bone_map: CollectionProperty(type=MOTIONLCM_PG_bone_map_item)
    bone_map_rig: StringProperty(description="Armature the bone map was detected for")
    bone_map_file: StringProperty(name="Bone map file", subtype="FILE_PATH")
    pins: CollectionProperty(type=MOTIONLCM_PG_pin)
    show_pins: BoolProperty(name="Show pins", default=True)
    refine_pins: BoolProperty(name="Refine", default=True,
                              description="Refine the sampled latent through the decoder towards the pins")
    refine_steps: IntProperty(name="Iterations", default=2, min=1, max=50,
                              description="Gradient steps of the latent refinement (each costs ~3 decodes)")
    refine_strength: FloatProperty(name="Strength", default=0.15, min=0.01, max=2.0,
                                   description="Step size of the latent refinement (latent units)")
    exact_pins: BoolProperty(name="Exact", default=True,
                             description="Move pinned joints onto their pins (smoothly over neighbouring frames, "
                                         "feet kept planted) before retargeting")
    variation_actions: CollectionProperty(type=MOTIONLCM_PG_history_item)
    smpl_model_file: StringProperty(name="SMPL model", subtype="FILE_PATH",
                                    description="SMPL/SMPL-X model file (.npz/.pkl; licensed, not shipped)")
    betas: FloatVectorProperty(name="Shape", size=10, default=[0.0] * 10, min=-5.0, max=5.0,
                               description="SMPL shape coefficients (betas 0-9) used by Add SMPL body and "
                                           "Apply shape")
    # status, written by the job timer on the main thread
    job_progress: FloatProperty(default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    job_stage: StringProperty()
    running: BoolProperty(default=False)
    status: StringProperty(description="Last message")
    device_name: StringProperty(default="")
    dtype_reason: StringProperty(default="", description="Which number format the model runs in, and why")
    model_loaded: StringProperty(default="")
    last_time: FloatProperty(default=0.0)


classes = (MOTIONLCM_PG_bone_map_item, MOTIONLCM_PG_pin, MOTIONLCM_PG_segment, MOTIONLCM_PG_history_item,
           MOTIONLCM_PG_settings)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.motionlcm = PointerProperty(type=MOTIONLCM_PG_settings)


def unregister() -> None:
    del bpy.types.Scene.motionlcm
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
