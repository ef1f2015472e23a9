# SPDX-License-Identifier: GPL-3.0-or-later
"""Sidebar panel (3D viewport, tab "MotionLCM"): draw() only, no side effects."""
from __future__ import annotations

import bpy

from . import anim_write, body, compat, deps, generation, preview_ops


class MOTIONLCM_PT_main(bpy.types.Panel):
    bl_idname = "MOTIONLCM_PT_main"
    bl_label = "MotionLCM"
    bl_space_type, bl_region_type, bl_category = "VIEW_3D", "UI", "MotionLCM"

    def draw(self, context):
        layout, props = self.layout, context.scene.motionlcm
        missing = deps.missing_modules(["torch", "motionlcm_core"])
        if missing:
            layout.label(text=f"Missing: {', '.join(missing)}", icon="ERROR")
            layout.label(text="Fix: Preferences > Add-ons > MotionLCM > Install dependencies")
            return
        layout.prop(props, "target")
        if props.target is None:
            layout.label(text="Pick an armature, or:", icon="INFO")
            layout.operator("motionlcm.add_smpl_rig", icon="ARMATURE_DATA")
        layout.prop(props, "prompt", text="")
        self._draw_settings(layout, props, context)
        self._draw_buttons(layout, props)
        self._draw_status(layout, props)

    def _draw_settings(self, layout, props, context):
        col = layout.column(align=True)
        fps = generation.scene_fps(context.scene)
        col.prop(props, "seconds")
        col.label(text=f"{int(round(props.seconds * fps))} frames at {fps:g} fps (model: 20 fps)")
        row = col.row(align=True)
        row.prop(props, "num_steps", expand=True)
        row = col.row(align=True)
        row.prop(props, "use_guidance")
        sub = row.row()
        sub.enabled = props.use_guidance
        sub.prop(props, "guidance", text="")
        row = col.row(align=True)
        row.prop(props, "seed")
        row.prop(props, "lock_seed", text="", icon="LOCKED" if props.lock_seed else "UNLOCKED")
        col.prop(props, "variations")
        col.prop(props, "model")
        if props.model == "file":
            col.prop(props, "checkpoint_file")
        col.prop(props, "root_motion", expand=True)
        col.prop(props, "foot_cleanup")
        col.prop(props, "continue_pose")

    def _draw_buttons(self, layout, props):
        row = layout.row(align=True)
        row.enabled = not props.running
        row.operator("motionlcm.generate", icon="PLAY")
        row.operator("motionlcm.regenerate", icon="FILE_REFRESH")
        row = layout.row(align=True)
        row.operator("motionlcm.pin", icon="PINNED")
        row.operator("motionlcm.pin", text="Pin keys").keyed = True
        row.operator("motionlcm.clear_pins", icon="UNPINNED")
        layout.operator("motionlcm.bake_nla", icon="NLA")
        preview_ops.draw_button(layout)
        ob = props.target
        action = ob.animation_data.action if ob and ob.animation_data else None
        hist = anim_write.history(action) if action is not None else []
        if hist:
            layout.operator("motionlcm.history_back", text=f"Previous result ({len(hist)})", icon="LOOP_BACK")

    def _draw_status(self, layout, props):
        box = layout.box()
        if props.running:
            if compat.ui_has_progress():
                box.progress(factor=props.job_progress, type="BAR", text=props.job_stage or "working")
            else:
                box.label(text=f"{props.job_stage} {props.job_progress:.0%}")
            box.operator("motionlcm.cancel", icon="CANCEL")
        box.label(text=f"Device: {props.device_name or 'not loaded yet'}  Model: {props.model_loaded or '-'}")
        if props.dtype_reason:
            box.label(text=props.dtype_reason)
        if props.last_time:
            box.label(text=f"Last generation: {props.last_time:.2f} s")
        if props.status:
            box.label(text=props.status, icon="INFO")


class MOTIONLCM_PT_shot(bpy.types.Panel):
    """Shot tools: follow a path, make a loop, or chain prompts on a timeline."""
    bl_label = "Shot"
    bl_space_type, bl_region_type, bl_category = "VIEW_3D", "UI", "MotionLCM"
    bl_parent_id = "MOTIONLCM_PT_main"

    def draw(self, context):
        layout, props = self.layout, context.scene.motionlcm
        layout.prop(props, "shot", expand=True)
        if props.shot == "path":
            layout.prop(props, "path_curve")
            layout.prop(props, "path_speed")
            layout.label(text="Edit the curve, then Regenerate to follow the new path", icon="INFO")
        elif props.shot == "loop":
            layout.prop(props, "loop_in_place")
        elif props.shot == "timeline":
            row = layout.row()
            row.template_list("MOTIONLCM_UL_segments", "", props, "segments", props, "segment_index", rows=3)
            col = row.column(align=True)
            col.operator("motionlcm.segment_add", text="", icon="ADD")
            col.operator("motionlcm.segment_remove", text="", icon="REMOVE")
            total = sum(seg.seconds for seg in props.segments)
            layout.label(text=f"{len(props.segments)} segments, {total:.1f} s in all, one action")
            layout.operator("motionlcm.segment_regenerate", icon="FILE_REFRESH")
            layout.prop(props, "timeline_strips")
        if props.shot != "clip" and len(props.pins):
            layout.label(text="Pins are used with Shot: Clip only", icon="ERROR")


class MOTIONLCM_PT_bone_map(bpy.types.Panel):
    bl_label = "Bone map"
    bl_space_type, bl_region_type, bl_category = "VIEW_3D", "UI", "MotionLCM"
    bl_parent_id = "MOTIONLCM_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout, props = self.layout, context.scene.motionlcm
        row = layout.row(align=True)
        row.operator("motionlcm.detect_bone_map", text="Detect")
        for name in ("smpl", "mixamo", "rigify_controls"):
            row.operator("motionlcm.detect_bone_map", text=name).preset = name
        layout.prop(props, "bone_map_file", text="")
        row = layout.row(align=True)
        row.operator("motionlcm.save_bone_map", text="Save")
        row.operator("motionlcm.save_bone_map", text="Load").load = True
        ob = props.target
        for item in props.bone_map:
            if ob is not None and ob.type == "ARMATURE":
                layout.prop_search(item, "bone", ob.data, "bones", text=item.name)
            else:
                layout.prop(item, "bone", text=item.name)


class MOTIONLCM_PT_pins(bpy.types.Panel):
    bl_label = "Pins"
    bl_space_type, bl_region_type, bl_category = "VIEW_3D", "UI", "MotionLCM"
    bl_parent_id = "MOTIONLCM_PT_main"

    def draw(self, context):
        layout, props = self.layout, context.scene.motionlcm
        layout.prop(props, "show_pins")
        row = layout.row(align=True)
        row.prop(props, "refine_pins", toggle=True)
        sub = row.row(align=True)
        sub.enabled = props.refine_pins
        sub.prop(props, "refine_steps", text="")
        sub.prop(props, "refine_strength", text="")
        row.prop(props, "exact_pins", toggle=True)
        if not props.pins:
            layout.label(text="Pose hips/feet/hands/head, then press Pin")
        for pin in props.pins:
            layout.label(text=f"{pin.bone} ({pin.joint}) @ {pin.frame}", icon="PINNED")


class MOTIONLCM_PT_body(bpy.types.Panel):
    bl_label = "Body (SMPL)"
    bl_space_type, bl_region_type, bl_category = "VIEW_3D", "UI", "MotionLCM"
    bl_parent_id = "MOTIONLCM_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout, props = self.layout, context.scene.motionlcm
        layout.prop(props, "smpl_model_file", text="")
        path = body.context_model_file(context)
        if path is None or not path.is_file():
            for i, line in enumerate(body.MISSING_MODEL_LINES):
                layout.label(text=line, icon="ERROR" if i == 0 else "BLANK1")
        else:
            layout.label(text=f"Model: {path.name}", icon="CHECKMARK")
        layout.operator("motionlcm.add_smpl_body", icon="OUTLINER_OB_ARMATURE")
        col = layout.column(align=True)
        for i in range(len(props.betas)):
            col.prop(props, "betas", index=i, text=f"Shape {i}", slider=True)
        row = layout.row()
        row.enabled = props.target is not None and body.BODY_KEY in props.target.keys()
        row.operator("motionlcm.apply_body_shape", icon="MOD_ARMATURE")


classes = (MOTIONLCM_PT_main, MOTIONLCM_PT_shot, MOTIONLCM_PT_bone_map, MOTIONLCM_PT_pins, MOTIONLCM_PT_body)

register, unregister = bpy.utils.register_classes_factory(classes)
