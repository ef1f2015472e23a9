# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 16: warm start in the background, cached text encoding on Regenerate, a session that stays bounded."""
import pytest

from harness import requires_bpy, run_scenario, scenario_once


@pytest.fixture
def flow(bpy_version, tmp_path_factory):
    return scenario_once("session_flow", bpy_version, tmp_path_factory, "flow", timeout=400)


@requires_bpy
def test_warm_start_loads_in_background_and_generate_uses_it(flow):
    r = flow["warm"]
    print(r)
    assert r["timer_scheduled_headless"] is False         # headless: no timer left to hang bpy 4.5 at exit
    assert r["start_s"] < 0.5 and r["state_after_start"] == "loading" and r["same_warm_up_again"]
    assert r["state"] == "ready", r["error"]
    assert r["builds"] == r["builds_before"] + 1           # the job waited for the warm-up, no second load
    assert r["text_cached"] is True                        # the warm-up encoded the panel's prompt


@requires_bpy
def test_regenerate_same_prompt_skips_text_encoding(flow):
    r = flow["text"]
    print(r)
    assert r["new_prompt_cached"] is False and r["regenerate_cached"] is True
    assert r["text_s_regenerate"] < 0.005


@requires_bpy
def test_history_and_generated_actions_stay_bounded(flow):
    r = flow["bounded"]
    print(r)
    assert r["history"] == 3
    assert len(set(r["regen_counts"][3:])) == 1                # flat once the history is full
    assert len(set(r["gen_counts"][3:])) == 1                  # flat once 3 unused earlier results are kept
    assert r["baked_kept"] and r["hand_keyed_kept"]
    assert r["unreachable"] == [] and r["record"] <= 2 + 3     # this set (2 variations) + 3 earlier
    assert r["history_zero"] == 0 and r["count_zero"] < r["gen_counts"][-1]


@requires_bpy
def test_unregister_during_warm_up_then_exit_does_not_hang(tmp_path):
    r = run_scenario("session_flow", tmp_path, "exit", timeout=60)
    assert r["scheduled"] is True and r["timer_after_disable"] is False
    assert r["threads"] == ["motionlcm-warm-up"] or not r["loading_at_exit"]
