# SPDX-License-Identifier: GPL-3.0-or-later
"""Installed for real: the extension zip (``install_blender.build_extension_zip``) goes through Blender's own
extension installer into a throw-away user folder, is enabled, runs a Generate from the installed copy (tiny
random model; torch from the test environment), then is disabled and uninstalled, leaving Blender clean."""
import os
import sys

import pytest

from harness import SCENARIOS, requires_bpy, run_scenario


_flows: dict[str, dict] = {}


@pytest.fixture
def flow(bpy_version, tmp_path_factory):
    """One install per bpy version (a module-scoped fixture would run once, under whichever version came first)."""
    if bpy_version not in _flows:
        tmp = tmp_path_factory.mktemp(f"install{bpy_version}")
        sys.path.insert(0, str(SCENARIOS))
        from tiny_model import write_tiny_model
        model = write_tiny_model(tmp / "tiny.safetensors")
        _flows[bpy_version] = run_scenario("install_flow", tmp, str(model), timeout=300)
        _flows[bpy_version]["bpy"] = bpy_version
    return _flows[bpy_version]


@requires_bpy
def test_install_enables_from_the_user_folder(flow, bpy_version):
    assert flow["version"].startswith(bpy_version)
    assert flow["repo_in_tmp"] and flow["online_access"] is False       # nothing downloaded, nothing needed
    assert flow["installed"] == ["FINISHED"]
    assert flow["install"] == {"enabled": True, "dir_in_repo": True, "not_repo": True, "core_installed": True,
                               "scene_prop": True, "ops": True}


@requires_bpy
def test_generate_from_the_installed_copy(flow, bpy_version):
    g = flow["generate"]
    print(g)
    if "refused" in g:                                  # an environment without torch: refused before any work
        assert os.environ.get("MOTIONLCM_BPY_PYTHON"), "only the bpy 5.2 environment may lack torch"
        assert g["add_rig"] == ["FINISHED"] and "Install dependencies" in g["refused"] and "torch" in g["refused"]
        return
    assert g["add_rig"] == ["FINISHED"] and g["finished"] and g["state"] == "done", g
    assert g["job_module"] == "bl_ext.user_default.motionlcm.jobs" and g["core_modules_installed"]
    assert g["fcurves"] > 22 * 4 and g["last_key"] == 1 + round(39 * 1.5)   # 2 s: 40 frames at 20 → 30 fps
    assert ".venv" in g["torch"] or "site-packages" in g["torch"]


@requires_bpy
def test_disable_and_uninstall_leave_blender_clean(flow):
    assert flow["disable"] == ["FINISHED"]
    assert flow["after_disable"] == {"enabled": False, "scene_prop": False, "files_kept": True}
    assert flow["enable_again"] == {"result": ["FINISHED"], "scene_prop": True, "generate_op": True}
    assert flow["uninstall"] == ["FINISHED"]
    after = flow["after_uninstall"]
    print(after)
    assert not after["enabled"] and not after["folder"] and not after["listed"]
    assert after["modules"] == [] and not after["scene_prop"] and after["types"] == []
    assert after["timers"] == [False, False, False, False] and after["threads"] == []
