# SPDX-License-Identifier: GPL-3.0-or-later
"""Render preview (64×64 Workbench frames, a 3-frame action): skinned mannequin, follow camera, time labels,
Blender's own MP4 and a contact sheet; Cancel and unregister leave nothing behind; the user's scene untouched.

Tolerances: mannequin vertices vs rigid skinning by their bone < 1e-5 (armature units = m); the camera's
ground-plane motion equals the hips' within 1e-5 m.
"""
import pytest

from harness import requires_bpy, run_scenario

_flows: dict[str, dict] = {}
CLEAN = {"marked": 0, "scenes": 1, "objects": 1, "job": False}


@pytest.fixture
def flow(bpy_version, tmp_path_factory):
    """One run per bpy version."""
    if bpy_version not in _flows:
        _flows[bpy_version] = run_scenario("preview_flow", tmp_path_factory.mktemp(f"preview{bpy_version}"),
                                           timeout=240)
    return _flows[bpy_version]


def clean(state: dict) -> bool:
    """Nothing marked as the preview's left, one scene, the rig only; the user's frame 1 and no camera."""
    return {k: state[k] for k in CLEAN} == CLEAN and state["user_scene"][0] == 1 and state["user_scene"][2]


@requires_bpy
def test_mannequin_is_skinned_to_the_bones(flow):
    m = flow["mannequin"]
    assert m["groups_are_bones"] and m["n_groups"] == 22 and m["modifier"] and m["excluded_from_bodies"]
    assert m["skin_err_f1"] < 1e-5 and m["skin_err_f3"] < 1e-5


@requires_bpy
def test_camera_follows_and_cancel_cleans_up(flow):
    c = flow["cancel"]
    assert c["hips_moved"] == pytest.approx(1.0, abs=1e-3) and c["camera_follow_err"] < 1e-5
    assert c["camera_dz"] == 0.0 and c["camera_height"] == pytest.approx(1.5)
    assert c["scenes_while_running"] == 2 and c["labels"] == ["t =  0.00 s   frame 1"] and c["frame_written"]
    assert c["frames_dir_removed"] and c["status"] == "Preview cancelled" and clean(c["after"])
    assert flow["label_f31"] == "t =  1.00 s   frame 31"


@requires_bpy
@pytest.mark.parametrize("path", ["timer", "op"])
def test_preview_writes_mp4_and_contact_sheet(flow, path):
    r = flow[path]
    print(path, r)
    assert r["files"] == ["SMPL_Wave.mp4", "SMPL_Wave_sheet.png"]            # PNG frames deleted after encoding
    assert r["video_frames"] == 3 and r["video_size"] == [64, 64]
    assert r["sheet_size"] == [3 * 68, 68]                                   # 3 tiles of 64 px + 2 px gaps
    assert r["label_light"] > 0.9 and r["label_dark"] < 0.65                 # white text on the stamp bar
    assert r["tiles_differ"] > 0.2                                           # the pose changed in the render
    assert clean(r["after"])


@requires_bpy
def test_preview_folders_and_refusals(flow):
    assert flow["temp_folder"].endswith("/motionlcm_preview")               # unsaved: the temporary folder
    assert flow["timer"]["ticks"] == 3 and flow["timer"]["status"].startswith("Preview: ")
    assert flow["op"]["result"] == ["FINISHED"]
    assert flow["op"]["folder"].endswith("/project/motionlcm_preview")     # saved: next to the .blend
    assert "no active action to preview" in flow["no_action"]
    assert flow["unregistered"]["timer"] is False and flow["unregistered"]["op"] is False
    assert clean(flow["unregistered"])
