"""The one typed recipe: checks before any work, a JSON round trip, and recipes stored by older versions."""
from __future__ import annotations

import json

import pytest

from motionlcm_core.control.exact import ExactConfig
from motionlcm_core.control.passes import PinPassConfig, RefineConfig
from motionlcm_core.recipe import Pin, Recipe
from motionlcm_core.retarget.feet import FootCleanupConfig
from motionlcm_core.retarget.ik import PinIKConfig


def test_round_trip_through_json_keeps_every_setting():
    passes = PinPassConfig(refine=RefineConfig(steps=5, lr=0.3), exact=ExactConfig(window=9), floor=False,
                           foot_cleanup=None, pin_ik=PinIKConfig(window_s=0.3), blend_frames=6)
    recipe = Recipe("  a person waves ", seed=7, num_steps=2, guidance=3.0, seconds=4.5, variations=2,
                    root_motion="in_place", pins=(Pin("hand.R", "right_wrist", 12, (0.1, -0.2, 1.4)),),
                    passes=passes, start_frame=30, continue_from={"hips": (0.0, 0.0, 1.0)})
    back = Recipe.from_dict(json.loads(json.dumps({**recipe.to_dict(), "variation": 1, "pin_residual_m": 0.0})))
    assert back.prompt == "a person waves" and back.num_frames == 90
    assert back.passes == passes and back.pins == recipe.pins
    assert (back.seed, back.num_steps, back.guidance, back.root_motion, back.start_frame) == (7, 2, 3.0, "in_place", 30)


def test_recipe_stored_before_passes_existed_is_read():
    old = {"prompt": "a person walks", "seed": 3, "num_steps": 1, "guidance": None, "model": "embedded",
           "seconds": 6.0, "variations": 1, "root_motion": "full", "foot_cleanup": False, "pins": [],
           "refine": True, "refine_steps": 4, "refine_strength": 0.2, "exact": False, "start_frame": 1,
           "continue_from": None, "timings": {"total": 0.1}}
    passes = Recipe.from_dict(old).passes
    assert passes.refine == RefineConfig(steps=4, lr=0.2) and passes.exact is None and passes.foot_cleanup is None
    assert Recipe.from_dict({"prompt": "x"}).passes == PinPassConfig()
    assert PinPassConfig().foot_cleanup == FootCleanupConfig()


@pytest.mark.parametrize("kwargs,match", [
    (dict(prompt="   "), "prompt is empty"), (dict(num_steps=3), "steps must be 1, 2 or 4"),
    (dict(seconds=float("nan")), "seconds"), (dict(variations=0), "variations"),
    (dict(root_motion="sideways"), "root_motion"), (dict(guidance=0.5), "guidance"),
])
def test_bad_recipes_are_refused_with_the_fix(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Recipe(**{"prompt": "a person walks", **kwargs})


def test_bad_pass_configs_are_refused():
    with pytest.raises(ValueError, match="passes.refine"):
        PinPassConfig(refine=True)
    with pytest.raises(ValueError, match="blend_frames"):
        PinPassConfig(blend_frames=0)
    with pytest.raises(ValueError, match="unknown SMPL joint"):
        Pin("hips", "tail", 1, (0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="position"):
        Pin("hips", "pelvis", 1, (0.0, float("inf"), 0.0))
