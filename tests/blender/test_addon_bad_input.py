# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad input: a clear message naming the fix, and nothing lost (the previous action stays, unchanged)."""
import pytest

from harness import requires_bpy, scenario_once


@pytest.fixture
def bad(bpy_version, tmp_path_factory):
    return scenario_once("bad_input", bpy_version, tmp_path_factory, timeout=300)


@requires_bpy
def test_refused_before_work(bad):
    assert "no armature selected" in bad["no_armature"] and "Add SMPL rig" in bad["no_armature"]
    assert "prompt is empty" in bad["empty_prompt"]
    assert "not mapped" in bad["unmapped"] and "preset" in bad["unmapped"]
    assert "model file not found" in bad["model_missing"] and "missing.safetensors" in bad["model_missing"]
    assert "press Generate first" in bad["regenerate_without_action"]


@requires_bpy
def test_gpu_out_of_memory_falls_back_to_cpu(bad):
    assert bad["oom_state"] == "done", bad["oom_status"]
    assert "GPU out of memory" in bad["oom_status"] and "CPU instead" in bad["oom_status"]
    assert bad["oom_device"] == "CPU"


@requires_bpy
def test_cancel_and_deleted_armature(bad):
    assert bad["cancel_state"] == "cancelled" and "nothing was changed" in bad["cancel_status"]
    assert bad["deleted_state"] == "done" and "was deleted while generating" in bad["deleted_status"]
    assert bad["unchanged_after_failures"] is True


@requires_bpy
def test_linked_action_never_modified(bad):
    r = bad["linked"]
    assert r["is_linked"] and r["linked_untouched"] and r["new_action_local"]
    assert "linked from" in r["regenerate_msg"] and "read-only" in r["regenerate_msg"]
