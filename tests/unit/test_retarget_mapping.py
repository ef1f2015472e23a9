"""Bone-map presets, detection and JSON round trip."""
from __future__ import annotations

import numpy as np
import pytest

from motionlcm_core.retarget import BoneMap
from motionlcm_core.retarget.mapping import name_key
from tests.unit import rigs


def test_presets_listed_and_complete():
    expected = {"smpl", "smplx", "mixamo", "rigify", "rigify_controls", "ue5_mannequin", "auto_rig_pro", "cmu_bvh"}
    assert expected <= set(BoneMap.presets())
    for name in expected:
        bm = BoneMap.preset(name)
        assert bm.unmapped == () and bm.preset_name == name


@pytest.mark.parametrize("name", ["mixamo", "rigify", "ue5_mannequin", "auto_rig_pro", "cmu_bvh", "rigify_controls"])
def test_detect_each_preset_on_renamed_smpl_rig(name):
    bones = BoneMap.preset(name).bones
    rig = rigs.smpl_tpose_rig(names=tuple(bones[j] for j in bones))
    bm = BoneMap.detect(rig)
    assert bm.preset_name == name and bm.unmapped == () and bm.bones == bones


def test_detect_side_and_prefix_variants():
    assert name_key("mixamorig:LeftUpLeg") == name_key("Left_UpLeg") == "l|upleg"
    assert name_key("thigh.L") == name_key("thigh_l") == name_key("L_thigh") == "l|thigh"
    assert name_key("DEF-thigh.R.001") == "r|defthigh.001" and name_key("LowerBack") == "|lowerback"
    names = tuple(b.replace("mixamorig:", "MyChar:").replace("Left", "left_") for b in BoneMap.preset("mixamo").bones.values())
    bm = BoneMap.detect(rigs.smpl_tpose_rig(names=names))
    assert bm.preset_name == "mixamo" and bm.unmapped == () and bm["left_knee"] == "MyChar:left_Leg"


def test_save_load_round_trip(tmp_path):
    bm = BoneMap({"pelvis": "Hips", "left_hip": "L.thigh"}, preset_name=None)
    bm.save(tmp_path / "map.json")
    back = BoneMap.load(tmp_path / "map.json")
    assert back == bm and "right_hip" in back.unmapped


def test_bad_maps():
    with pytest.raises(ValueError, match="SMPL-22"):
        BoneMap({"hips": "Hips"})
    with pytest.raises(ValueError, match="Unknown bone-map preset"):
        BoneMap.preset("nope")
    assert np.all(BoneMap.detect(rigs.mixamo_apose_rig()).unmapped == ())
