# SPDX-License-Identifier: GPL-3.0-or-later
"""anim_write: bulk keys (slotted actions) evaluate to the expected world pose and survive save/reload."""
from harness import requires_bpy, run_scenario


@requires_bpy
def test_known_rotations_roundtrip(tmp_path):
    r = run_scenario("anim_write_roundtrip", tmp_path)
    assert r["keys"] == 8 * (22 * 4 + 3)
    assert r["fcurves"] == 22 * 4 + 3
    assert r["err"] < 1e-5, f"world heads differ from numpy FK by {r['err']} m"
    assert r["reload_err"] == 0.0
    assert r["recipe"]["prompt"] == "a person waves" and r["recipe"]["seed"] == 3
