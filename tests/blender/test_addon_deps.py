# SPDX-License-Identifier: GPL-3.0-or-later
"""Install dependencies from Blender in the background, against a fake pip (nothing is downloaded)."""
import pytest

from harness import requires_bpy, run_scenario

_RUNS: dict[str, dict] = {}


@pytest.fixture
def flow(bpy_version, tmp_path_factory):
    """One scenario run per bpy version, shared by this file's tests."""
    if bpy_version not in _RUNS:
        _RUNS[bpy_version] = run_scenario("deps_flow", tmp_path_factory.mktemp("deps"), timeout=180)
    return _RUNS[bpy_version]


@requires_bpy
def test_refusals_and_idle_preferences(flow):
    assert "online access is disabled in Blender" in flow["offline"]  # the bpy module runs offline
    assert "no install log yet" in flow["open_log_before"] and flow["cancel_nothing"] == "FINISHED"
    assert flow["hardware"].startswith(("Linux", "Windows", "macOS"))
    idle = flow["draw_idle"]
    assert "prop:torch_build" in idle and "operator:motionlcm.install_deps" in idle
    assert any(c.startswith("label:Hardware: ") for c in idle) and any(" → " in c or "→ " in c for c in idle)
    assert not any(c.startswith("progress:") for c in idle) and "operator:motionlcm.open_install_log" not in idle


@requires_bpy
def test_install_runs_in_the_background_to_done(flow):
    r = flow["ok"]
    assert r["start"] == "FINISHED" and r["start_s"] < 1.0 and r["timer"]   # returns at once, timer follows
    assert "already running" in r["second"]
    running = r["draw_running"]
    assert any(c.startswith("progress:") for c in running) and "operator:motionlcm.cancel_install_deps" in running
    assert r["state"] == "done" and r["error"] is None and r["polls"] > 3
    assert r["monotonic"] and r["intermediate"]
    assert r["on_path"] and r["importable"]                                  # deps.add_to_path on success
    assert "--target" in r["pip_args"] and "--extra-index-url https://download.pytorch.org/whl/" in r["pip_args"]
    assert "Successfully installed" in r["log"] and "# torch build " in r["log"]
    assert "operator:motionlcm.open_install_log" in r["draw_after"]
    assert any("Installed" in c for c in r["draw_after"])


@requires_bpy
def test_install_failure_and_cancel(flow):
    fail = flow["fail"]
    assert fail["state"] == "failed" and "No matching distribution found" in fail["error"]
    assert any(c.startswith("label:Install failed: pip install exited with code 1") for c in fail["draw_after"])
    cancel = flow["cancel"]
    assert cancel["cancel"] == "FINISHED" and cancel["state"] == "cancelled" and cancel["seconds"] < 5.0
    assert "partial install" in cancel["error"]  # the folder still holds the first run's packages
    assert flow["timer_after_unregister"] is False
