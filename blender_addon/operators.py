# SPDX-License-Identifier: GPL-3.0-or-later
"""Operators: thin wrappers (validate → call a module function → report)."""
from __future__ import annotations

import bpy
from bpy.props import IntProperty, StringProperty

from motionlcm_core.retarget.mapping import BoneMap

from . import anim_write, body, bone_maps, compat, deps, generation, nla, pins, rig_build
from .preferences import install_log_path, start_install

_TIMER_INTERVAL = 0.1


def _timer() -> float | None:
    """``bpy.app.timers`` callback: pump the job until it ends, redrawing the panel."""
    state = generation.pump(bpy.context)
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()
    return _TIMER_INTERVAL if state == "running" else None


def stop_timer() -> None:
    """Unregister the timer (an active timer at exit hangs bpy 4.5)."""
    if bpy.app.timers.is_registered(_timer):
        bpy.app.timers.unregister(_timer)


def _start(op: bpy.types.Operator, context: bpy.types.Context, mode: str) -> set[str]:
    try:
        generation.start(context, mode)
    except ValueError as exc:
        op.report({"ERROR"}, str(exc))
        return {"CANCELLED"}
    if not bpy.app.timers.is_registered(_timer):
        bpy.app.timers.register(_timer, first_interval=_TIMER_INTERVAL)
    return {"FINISHED"}


class MOTIONLCM_OT_generate(bpy.types.Operator):
    """Generate a new action on the armature from the prompt"""
    bl_idname, bl_label, bl_options = "motionlcm.generate", "Generate", {"REGISTER"}

    def execute(self, context):
        return _start(self, context, "new")


class MOTIONLCM_OT_regenerate(bpy.types.Operator):
    """Regenerate the active generated action in place (same action and slot; new seed unless locked)"""
    bl_idname, bl_label, bl_options = "motionlcm.regenerate", "Regenerate", {"REGISTER"}

    def execute(self, context):
        return _start(self, context, "regenerate")


class MOTIONLCM_OT_segment_regenerate(bpy.types.Operator):
    """Generate the selected timeline segment again; the segments before and after it keep their motion"""
    bl_idname, bl_label, bl_options = "motionlcm.segment_regenerate", "Regenerate segment", {"REGISTER"}

    def execute(self, context):
        return _start(self, context, "segment")


class MOTIONLCM_OT_cancel(bpy.types.Operator):
    """Cancel the running generation"""
    bl_idname, bl_label = "motionlcm.cancel", "Cancel"

    def execute(self, context):
        if not generation.cancel():
            self.report({"INFO"}, "nothing is running")
        return {"FINISHED"}


class MOTIONLCM_OT_history_back(bpy.types.Operator):
    """Swap the generated keys with a previous result of this action"""
    bl_idname, bl_label, bl_options = "motionlcm.history_back", "Previous result", {"REGISTER", "UNDO"}
    index: IntProperty(default=0, min=0)

    def execute(self, context):
        ob = context.scene.motionlcm.target
        action = ob.animation_data.action if ob and ob.animation_data else None
        try:
            if action is None or action.library is not None:
                raise ValueError("select an armature with a local generated action")
            anim_write.restore_history(action, compat.object_slot(action, ob), self.index)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


class MOTIONLCM_OT_bake_nla(bpy.types.Operator):
    """Push the generated action to an NLA strip (track named after the prompt)"""
    bl_idname, bl_label, bl_options = "motionlcm.bake_nla", "Bake to NLA", {"REGISTER", "UNDO"}

    def execute(self, context):
        try:
            ob = generation.check_target(context.scene.motionlcm.target)
            strip = nla.bake_to_nla(ob, context.scene.frame_current)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"strip {strip.name!r} at frame {strip.frame_start:.0f}")
        return {"FINISHED"}


class MOTIONLCM_OT_pin(bpy.types.Operator):
    """Pin the selected controllable bones (hips, feet, head, hands) at the current frame; keyed=all keys"""
    bl_idname, bl_label, bl_options = "motionlcm.pin", "Pin", {"REGISTER", "UNDO"}
    keyed: bpy.props.BoolProperty(name="From keys", default=False)

    def execute(self, context):
        props = context.scene.motionlcm
        try:
            ob = generation.check_target(props.target)
            mapping = bone_maps.ensure_panel_map(props, ob)
            n = (pins.pin_keyed if self.keyed else pins.pin_current)(context, props, ob, mapping)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"{n} pin(s) added")
        return {"FINISHED"}


class MOTIONLCM_OT_clear_pins(bpy.types.Operator):
    """Remove all pins"""
    bl_idname, bl_label, bl_options = "motionlcm.clear_pins", "Clear pins", {"REGISTER", "UNDO"}

    def execute(self, context):
        context.scene.motionlcm.pins.clear()
        return {"FINISHED"}


class MOTIONLCM_OT_detect_bone_map(bpy.types.Operator):
    """Detect the bone map of the target armature, or load a preset"""
    bl_idname, bl_label, bl_options = "motionlcm.detect_bone_map", "Detect bone map", {"REGISTER", "UNDO"}
    preset: StringProperty(default="")

    def execute(self, context):
        props = context.scene.motionlcm
        try:
            ob = generation.check_target(props.target)
            bm = BoneMap.preset(self.preset) if self.preset else BoneMap.detect(bone_maps.rig_from_armature(ob))
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        bone_maps.fill_panel(props, bone_maps.to_dict(bm), ob.name)
        return {"FINISHED"}


class MOTIONLCM_OT_save_bone_map(bpy.types.Operator):
    """Save (or load, with load=True) the panel's bone map as a JSON file"""
    bl_idname, bl_label = "motionlcm.save_bone_map", "Save bone map"
    load: bpy.props.BoolProperty(default=False)

    def execute(self, context):
        props = context.scene.motionlcm
        path = bpy.path.abspath(props.bone_map_file)
        try:
            if not path:
                raise ValueError("set the bone map file path first")
            if self.load:
                bone_maps.fill_panel(props, bone_maps.to_dict(BoneMap.load(path)), props.bone_map_rig)
            else:
                bone_maps.from_dict(bone_maps.panel_dict(props)).save(path)
        except (ValueError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


class MOTIONLCM_OT_add_smpl_rig(bpy.types.Operator):
    """Add an SMPL-22 armature (T-pose) and make it the target"""
    bl_idname, bl_label, bl_options = "motionlcm.add_smpl_rig", "Add SMPL rig", {"REGISTER", "UNDO"}

    def execute(self, context):
        ob = rig_build.create_smpl_armature(context.collection, "SMPL")
        ob.location = context.scene.cursor.location
        context.scene.motionlcm.target = ob
        return {"FINISHED"}


class MOTIONLCM_OT_add_smpl_body(bpy.types.Operator):
    """Add your SMPL/SMPL-X body (licensed model file, not shipped) skinned to a shaped SMPL-22 armature"""
    bl_idname, bl_label, bl_options = "motionlcm.add_smpl_body", "Add SMPL body", {"REGISTER", "UNDO"}

    def execute(self, context):
        props = context.scene.motionlcm
        try:
            arm, mesh_ob = body.add_body(context, body.context_model_file(context), tuple(props.betas))
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        arm.location = context.scene.cursor.location
        props.target = arm
        self.report({"INFO"}, f"{arm.name!r} + {mesh_ob.name!r}: {len(mesh_ob.data.vertices)} vertices")
        return {"FINISHED"}


class MOTIONLCM_OT_apply_body_shape(bpy.types.Operator):
    """Re-shape the target body (made by Add SMPL body) with the shape sliders; its animation is kept"""
    bl_idname, bl_label, bl_options = "motionlcm.apply_body_shape", "Apply shape", {"REGISTER", "UNDO"}

    def execute(self, context):
        props = context.scene.motionlcm
        try:
            body.apply_shape(context, props.target, tuple(props.betas))
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


class MOTIONLCM_OT_install_deps(bpy.types.Operator):
    """pip-install the Python dependencies into the add-on's own folder, in the background (needs online access)"""
    bl_idname, bl_label = "motionlcm.install_deps", "Install dependencies"

    def execute(self, context):
        try:
            job = start_install(context)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"installing the dependencies in the background; log: {job.log_path}")
        return {"FINISHED"}


class MOTIONLCM_OT_cancel_install_deps(bpy.types.Operator):
    """Stop the running dependency install (its folder is left as pip left it)"""
    bl_idname, bl_label = "motionlcm.cancel_install_deps", "Cancel install"

    def execute(self, context):
        job = deps.current_install()
        if job is None or not job.cancel():
            self.report({"INFO"}, "no dependency install is running")
        return {"FINISHED"}


class MOTIONLCM_OT_open_install_log(bpy.types.Operator):
    """Open the log of the last dependency install"""
    bl_idname, bl_label = "motionlcm.open_install_log", "Open install log"

    def execute(self, context):
        path = install_log_path()
        if not path.is_file():
            self.report({"ERROR"}, f"no install log yet at {path}; press Install dependencies first")
            return {"CANCELLED"}
        return bpy.ops.wm.path_open(filepath=str(path))


classes = (MOTIONLCM_OT_generate, MOTIONLCM_OT_regenerate, MOTIONLCM_OT_segment_regenerate, MOTIONLCM_OT_cancel,
           MOTIONLCM_OT_history_back, MOTIONLCM_OT_bake_nla, MOTIONLCM_OT_pin, MOTIONLCM_OT_clear_pins,
           MOTIONLCM_OT_detect_bone_map, MOTIONLCM_OT_save_bone_map, MOTIONLCM_OT_add_smpl_rig,
           MOTIONLCM_OT_add_smpl_body, MOTIONLCM_OT_apply_body_shape, MOTIONLCM_OT_install_deps,
           MOTIONLCM_OT_cancel_install_deps,
           MOTIONLCM_OT_open_install_log)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister() -> None:
    stop_timer()
    generation.cancel()
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
