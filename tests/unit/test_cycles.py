"""Cyclic motion (motionlcm_core.motion.cycles) on real train clips: the strides of runs and walks are found
and repeated; one-shot actions are not taken for cycles; a bank's short run is lengthened by its strides."""
from __future__ import annotations

import numpy as np
import pytest

from motionlcm_core.data.cmu import default_data_dir
from motionlcm_core.motion.body import bone_lengths
from motionlcm_core.motion.cycles import extend_cycles, loop_period

RUNS = ("cmu_09_01", "hmp_train_running_3", "cmu_16_45", "cmu_16_39")          # 1.1-1.4 s each, one veers right
WALKS = ("cmu_39_05", "cmu_35_01", "cmu_16_25", "cmu_08_04")                    # brisk, normal, veering, slow
ONE_SHOT = ("cmu_13_40", "cmu_16_01", "cmu_13_32", "cmu_16_06", "hmp_train_soccer_4", "cmu_49_07", "cmu_16_08",
            "cmu_127_05")       # jumps up and forward, a run-up kick, a cartwheel, a run to a stop


@pytest.fixture(scope="module")
def train_joints():
    with np.load(default_data_dir() / "joints_train.npz") as data:
        ids = [str(i) for i in data["ids"]]
        joints, offsets, lengths = data["joints"], data["offsets"], data["lengths"]
        return {i: joints[o:o + n].astype(np.float64) for i, o, n in zip(ids, offsets, lengths)
                if i in RUNS + WALKS + ONE_SHOT}


def test_strides_of_runs_and_walks_are_found_one_shot_actions_are_not(train_joints):
    for clip in RUNS:
        assert 12 <= loop_period(train_joints[clip]) <= 17, clip                # a running stride: 0.6-0.85 s
    for clip in WALKS:
        assert 17 <= loop_period(train_joints[clip]) <= 30, clip                # a walking stride: 0.85-1.5 s
    for clip in ONE_SHOT:
        assert loop_period(train_joints[clip]) is None, clip
    standing = np.repeat(train_joints["cmu_39_05"][:1], 60, 0)
    assert loop_period(standing) is None                                          # still is not cyclic
    with pytest.raises(ValueError):
        loop_period(standing[:, :21])


@pytest.mark.parametrize("clip", ["cmu_09_01", "cmu_16_39", "cmu_35_01"])
def test_repeated_strides_continue_the_motion(train_joints, clip):
    """The clip stays as it is in the middle; around it the strides go on at the clip's own speed, with no
    jump at a seam larger than the clip's own frame-to-frame motion, bones of the same length and the feet
    on the same floor."""
    joints = train_joints[clip]
    period = loop_period(joints)
    out = extend_cycles(joints, 120, period)
    before = (120 - len(joints)) // 2
    assert out.shape == (120, 22, 3)
    np.testing.assert_allclose(out[before:before + len(joints)], joints, atol=1e-9)
    speed = np.linalg.norm(np.diff(joints[:, 0, [0, 2]], axis=0), axis=1)
    out_speed = np.linalg.norm(np.diff(out[:, 0, [0, 2]], axis=0), axis=1)
    assert 0.75 * speed.min() <= out_speed.min() and out_speed.max() <= 1.25 * speed.max()
    step = np.linalg.norm(np.diff(joints, axis=0), axis=-1).max()
    assert np.linalg.norm(np.diff(out, axis=0), axis=-1).max() <= 1.15 * step
    bones, own_bones = bone_lengths(out), bone_lengths(joints)
    assert (bones.std(0) / bones.mean(0)).max() < (own_bones.std(0) / own_bones.mean(0)).max() + 0.01
    feet = [7, 8, 10, 11]
    assert abs(out[:, feet, 1].min() - joints[:, feet, 1].min()) < 0.02
    # the body keeps travelling: over every stride it gets on by about a stride's length
    travel = np.linalg.norm(out[period:, 0, [0, 2]] - out[:-period, 0, [0, 2]], axis=1)
    own = np.linalg.norm(joints[period:, 0, [0, 2]] - joints[:-period, 0, [0, 2]], axis=1)
    assert travel.min() > 0.8 * own.min()
    with pytest.raises(ValueError):
        extend_cycles(joints, len(joints) - 1, period)


def test_a_short_run_in_the_bank_is_lengthened_by_its_strides():
    """A 1.1-1.4 s run (too short for a latent) is drawn with an exemplar that keeps running over the whole
    length asked for, not one that stands still before and after the stride."""
    from motionlcm_core import MotionLCMPipeline
    from motionlcm_core.data import load_cmu_clips
    from motionlcm_core.exemplars import Exemplar
    from motionlcm_core.retrieval import BANK_MIN_FRAMES, Pick, build_bank
    from tests.unit.test_pipeline import tiny_config
    from tests.unit.test_retrieval import _Encoder
    clips = [c for c in load_cmu_clips("train", mirror=True, min_frames=BANK_MIN_FRAMES)[0]
             if c.clip_id in ("cmu_09_01", "cmu_13_40")]
    pipe = MotionLCMPipeline.from_config(tiny_config(), device="cpu", seed=0)
    bank = build_bank(pipe.vae, pipe.stats, _Encoder(), clips)
    seen = set()
    for w, (clip, a, b, mirrored) in enumerate(bank.sources.tolist()):
        if mirrored or clips[clip].clip_id in seen:
            continue
        seen.add(clips[clip].clip_id)
        ex = bank.exemplar(Pick(int((bank.window == w).nonzero()[0]), w, 0, 100), None, pipe._encode_exemplar)
        assert isinstance(ex, Exemplar) and ex.real.shape == (100, 67)
        speed = np.linalg.norm(ex.real[:-1, 1:3], axis=1) * 20                     # root speed, m/s
        if clips[clip].clip_id == "cmu_09_01":                                      # 25 frames, run throughout
            assert speed[:10].min() > 2.0 and speed[-10:].min() > 2.0
        else:                                                                      # a jump: held at its ends
            assert speed[:5].max() < 0.05 and speed[-5:].max() < 0.05
    assert seen == {"cmu_09_01", "cmu_13_40"}


def test_a_veer_is_not_repeated_in_every_added_stride(train_joints):
    """A run that veers (cmu_16_39 turns about 40° right over its 1.4 s) lengthened to 6 s: repeating the
    strides as they are repeats the veer (the run curls round); ``straight`` repeats them without their turn,
    so the veer happens once and the added strides run on straight at the clip's speed."""
    from motionlcm_core.motion.cycles import _facing
    joints = train_joints["cmu_16_39"]
    period = loop_period(joints)
    own = np.degrees(np.unwrap(_facing(joints)))
    turning = extend_cycles(joints, 120, period)
    straight = extend_cycles(joints, 120, period, straight=True)
    turned = {name: np.degrees(np.unwrap(_facing(out))) for name, out in (("turning", turning), ("straight", straight))}
    assert abs(own[-1] - own[0]) > 25.0                                             # the clip veers
    assert abs(turned["turning"][-1] - turned["turning"][0]) > 2 * abs(own[-1] - own[0])
    assert abs(turned["straight"][-1] - turned["straight"][0]) < abs(own[-1] - own[0]) + 15.0
    before = (120 - len(joints)) // 2
    np.testing.assert_allclose(straight[before:before + len(joints)], joints, atol=1e-9)    # the clip as it is
    speed = np.linalg.norm(np.diff(joints[:, 0, [0, 2]], axis=0), axis=1)
    out_speed = np.linalg.norm(np.diff(straight[:, 0, [0, 2]], axis=0), axis=1)
    assert 0.75 * speed.min() <= out_speed.min() and out_speed.max() <= 1.25 * speed.max()
    step = np.linalg.norm(np.diff(joints, axis=0), axis=-1).max()
    assert np.linalg.norm(np.diff(straight, axis=0), axis=-1).max() <= 1.15 * step
