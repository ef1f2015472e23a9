# SPDX-License-Identifier: GPL-3.0-or-later
"""Add-on preferences: device, model paths, dependency status with an install button."""
from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import EnumProperty, StringProperty

from . import deps

ADDON_ID = __package__


def deps_folder() -> Path:
    """The add-on's private dependency folder (extension user dir on 4.2+, else beside the add-on)."""
    try:
        return Path(bpy.utils.extension_path_user(ADDON_ID, path="deps", create=True))
    except (ValueError, AttributeError, RuntimeError):  # legacy add-on or run from source
        return Path(__file__).resolve().parent / "deps"


def get_prefs(context: bpy.types.Context | None = None) -> "MOTIONLCM_AP_preferences | None":
    """The preferences, or ``None`` when the add-on is not enabled as an add-on (tests, demo)."""
    addon = (context or bpy.context).preferences.addons.get(ADDON_ID)
    return addon.preferences if addon is not None else None


class MOTIONLCM_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    device: EnumProperty(name="Device", default="auto",
                         items=[("auto", "Auto", "GPU when available, else CPU"), ("cpu", "CPU", ""),
                                ("cuda", "GPU (CUDA)", "")])
    model_dir: StringProperty(name="Model folder", subtype="DIR_PATH",
                              description="Folder for downloaded or trained checkpoints")
    official_v1: StringProperty(name="Official V1 checkpoint", subtype="FILE_PATH")
    official_v2: StringProperty(name="Official V2 checkpoint", subtype="FILE_PATH")
    t5_folder: StringProperty(name="sentence-t5-large folder", subtype="DIR_PATH",
                              description="Text encoder needed by the official checkpoints")
    smpl_dir: StringProperty(name="SMPL model folder", subtype="DIR_PATH",
                             description="Folder with SMPLX_NEUTRAL.npz or SMPL_NEUTRAL.npz (licensed by the MPI, "
                                         "never shipped) for 'Add SMPL body'")

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "device")
        layout.prop(self, "model_dir")
        box = layout.box()
        box.label(text="Official MotionLCM weights (non-commercial licence)")
        box.prop(self, "official_v1")
        box.prop(self, "official_v2")
        box.prop(self, "t5_folder")
        box = layout.box()
        box.label(text="SMPL / SMPL-X body model (licensed by the MPI, never shipped)")
        box.prop(self, "smpl_dir")
        box = layout.box()
        missing = deps.missing_modules()
        box.label(text="Dependencies: all found" if not missing else f"Missing: {', '.join(missing)}",
                  icon="CHECKMARK" if not missing else "ERROR")
        box.label(text=f"Folder: {deps_folder()}")
        if not bpy.app.online_access:
            box.label(text="Online access is off (Preferences > System > Network)", icon="INFO")
        box.operator("motionlcm.install_deps", icon="IMPORT")


classes = (MOTIONLCM_AP_preferences,)


def register() -> None:
    here = Path(__file__).resolve().parent
    if (here / "motionlcm_core").is_dir():  # installed extension zip bundles the core next to the add-on
        deps.add_to_path(here)
    deps.add_to_path(deps_folder())
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
