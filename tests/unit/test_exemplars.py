"""Exemplar residuals (motionlcm_core.exemplars) and the caption matching that picks and places exemplars
(motionlcm_core.caption_match), on real train clips."""
from __future__ import annotations

import dataclasses
import re
import numpy as np
import pytest
import torch

from motionlcm_core import MotionLCMPipeline
from motionlcm_core.caption_match import (clause_centre, conflicts, direction_flags, matched_clause, plain_wording,
                                          word_overlap)
from motionlcm_core.exemplars import Exemplar, ExemplarStore, decode_with_exemplars, mirror_channels
from motionlcm_core.motion.humanml3d import mirror_joints, recover_joints
from motionlcm_core.retrieval import BANK_LENGTHS, MotionBank, RetrievalConfig, build_bank, retrieval_timesteps
from tests.unit.test_pipeline import tiny_config
from tests.unit.test_retrieval import _Encoder


@pytest.fixture(scope="module")
def clips():
    from motionlcm_core.data import load_cmu_clips
    return load_cmu_clips("train", mirror=True)[0][:12]


@pytest.fixture(scope="module")
def pipe():
    return MotionLCMPipeline.from_config(tiny_config(), device="cpu", seed=0)


@pytest.fixture(scope="module")
def shipped():
    """The shipped embedded model, loaded once for the tests that read its bank."""
    return MotionLCMPipeline.from_pretrained("embedded", device="cpu")


def _full(channels: np.ndarray) -> np.ndarray:
    out = np.zeros(channels.shape[:-1] + (263,), np.float32)
    out[..., :67] = channels
    return out


def test_store_rebuilds_any_crop_of_a_clip(clips):
    store = ExemplarStore.from_feats([c.feats for c in clips])
    for k in (0, 5, 11):
        feats = clips[k].feats
        for start, n in ((0, 40), (17, 120), (len(feats) - 60, 60)):
            channels = store.channels(k, start, n)
            # the channels are the features' own (fp16 joints: < 1 mm), the last frame's velocities aside
            np.testing.assert_allclose(channels[:-1], feats[start:start + n - 1, :67], atol=1.5e-3)
            # and they recover the crop as the features would
            np.testing.assert_allclose(recover_joints(_full(channels)), recover_joints(feats[start:start + n]),
                                       atol=1.5e-3)
            np.testing.assert_allclose(store.crop(k, start, n), recover_joints(feats[start:start + n]), atol=1.5e-3)
    with pytest.raises(ValueError, match="outside"):
        store.channels(0, len(clips[0].feats) - 10, 20)
    again = ExemplarStore.from_state_dict({k: v.clone() for k, v in store.state_dict().items()})
    np.testing.assert_array_equal(again.channels(3, 5, 50), store.channels(3, 5, 50))


def test_mirrored_channels_recover_the_mirrored_motion(clips):
    channels = clips[2].feats[:100, :67]
    np.testing.assert_allclose(recover_joints(_full(mirror_channels(channels))),
                               mirror_joints(recover_joints(_full(channels))), atol=1e-5)


def test_decoding_the_exemplars_own_latent_gives_the_real_motion(pipe, clips):
    """The residual is exact: a sample that ends where the exemplar's latent is (z_s = z_r) decodes to the real
    window, even through an untrained decoder; a longer exemplar is cut to its centre frames."""
    store = ExemplarStore.from_feats([c.feats for c in clips])
    real = store.channels(4, 10, 80)
    z = torch.randn(pipe.cfg.vae.latent_tokens, pipe.cfg.vae.latent_dim, generator=torch.Generator().manual_seed(1))
    ex = Exemplar(z, z, real, False)
    feats, joints, shifts = decode_with_exemplars(pipe.vae, pipe.stats, z[None], [80], [ex], floor=False)
    np.testing.assert_allclose(joints[0], recover_joints(_full(real)), atol=2e-4)
    np.testing.assert_allclose(feats[0, :, :67].numpy(), real, atol=2e-4)
    # 60 of 80 frames: the centre 60, recovered from their own start (over the origin)
    _, joints60, _ = decode_with_exemplars(pipe.vae, pipe.stats, z[None], [60], [ex], floor=True)
    want = recover_joints(_full(real[10:70]))
    want[..., 1] -= want[..., 1].min()
    np.testing.assert_allclose(joints60[0], want, atol=2e-4)
    # a mirrored pick adds the mirror of its original's residual
    z2 = z + 0.3
    _, mixed, _ = decode_with_exemplars(pipe.vae, pipe.stats, z2[None], [80], [Exemplar(z2, z, real, True)], False)
    with torch.no_grad():
        mask = torch.ones(1, 80, dtype=torch.bool)
        d2 = pipe.stats.denormalize(pipe.vae.decode(z2[None], mask)).numpy()[0]
        d1 = pipe.stats.denormalize(pipe.vae.decode(z[None], mask)).numpy()[0]
    d2[:, :67] += mirror_channels(real - d1[:, :67])
    np.testing.assert_allclose(mixed[0], recover_joints(d2), atol=2e-4)
    # no exemplar: plain decoding at the clip's own length
    _, plain, _ = decode_with_exemplars(pipe.vae, pipe.stats, z[None], [50], [None], floor=False)
    with torch.no_grad():
        direct = recover_joints(pipe.stats.denormalize(pipe.vae.decode(z[None], torch.ones(1, 50, dtype=torch.bool))))
    np.testing.assert_allclose(plain[0], direct.numpy()[0], atol=1e-5)


def test_generate_with_a_bank_of_real_clips_reports_its_exemplars(pipe, clips):
    bank = build_bank(pipe.vae, pipe.stats, _Encoder(), clips[:4])
    assert bank.sources is not None and bank.store is not None and bank.sources.shape == (bank.latents.shape[0], 4)
    again = MotionBank.from_state_dict({k: v.clone() for k, v in bank.state_dict().items()})
    assert torch.equal(again.sources, bank.sources) and again.store is not None
    pick = bank.choose(bank.text[:1, None], [60], 0, RetrievalConfig(top_k=1))[0]
    ex = bank.exemplar(pick)
    clip, a, b, _ = bank.sources[pick.window].tolist()
    n = BANK_LENGTHS[pick.bucket]
    np.testing.assert_array_equal(ex.real, bank.store.channels(clip, a + (b - a - n) // 2, n))
    pipe.bank = bank
    try:
        res = pipe.generate(text_embeddings=bank.text[:2], lengths=[60, 45], seed=1)
        assert res.report["retrieval"]["exemplar"] == [True, True]
        assert res.joints.shape == (2, 60, 22, 3) and np.isfinite(res.joints).all()
        np.testing.assert_allclose(res.joints[1, 45:], 0.0)
        off = pipe.generate(text_embeddings=bank.text[:2], lengths=[60, 45], seed=1,
                            retrieval=RetrievalConfig(exemplar=False))
        assert off.report["retrieval"]["exemplar"] is None and not np.allclose(off.joints, res.joints)
        # a caption holding the prompt's words, or embedded as near as the prompt, starts low (MotionBank.starts);
        # items of a batch start on their own
        prompts = [bank.captions[0], "zzz qqq"]
        words_only = RetrievalConfig(sure_cosine=2.0)
        picks = bank.choose(bank.text[:2, None], [60, 45], 1, words_only, prompts)
        assert bank.starts(picks, prompts, words_only) == [19, 299]
        assert bank.starts(picks, prompts, RetrievalConfig(sure_cosine=2.0, sure_share=2.0)) == [299, 299]
        far = torch.nn.functional.normalize(torch.ones(2, 1, bank.text.shape[1]), dim=-1)
        assert bank.starts(picks, prompts, RetrievalConfig(sure_share=2.0), bank.text[:2, None]) == [19, 19]
        assert bank.starts(picks, prompts, RetrievalConfig(sure_share=2.0), far) == [299, 299]
        mixed = pipe.generate(prompts, text_embeddings=bank.text[:2], lengths=[60, 45], seed=1, retrieval=words_only)
        for k, start in enumerate((19, 299)):
            alone = pipe.generate(prompts, text_embeddings=bank.text[:2], lengths=[60, 45], seed=1,
                                  retrieval=RetrievalConfig(start_t=start, sure_share=2.0, sure_cosine=2.0))
            np.testing.assert_allclose(mixed.joints[k], alone.joints[k], atol=1e-5)
    finally:
        pipe.bank = None


def test_limb_sides_are_not_movement_directions():
    left_move = direction_flags("a person shuffles sideways to their left")
    mirrored = direction_flags("someone shuffles sideways to their right, bouncing a ball with the left hand")
    assert conflicts(left_move, torch.tensor([mirrored])).item()          # moves right: not for "left"
    same = direction_flags("someone shuffles sideways to their left, bouncing a ball with the right hand")
    assert not conflicts(left_move, torch.tensor([same])).item()
    right_kick = direction_flags("a person kicks a ball with the right foot")
    assert conflicts(right_kick, torch.tensor([direction_flags("kicks a soccer ball with the left foot")])).item()
    assert not conflicts(right_kick, torch.tensor([direction_flags("a person kicks a ball")])).item()
    # gaits: walking is not retrieved for running (nor the other way), a caption with both is
    run = direction_flags("a person runs at full speed along a straight path")
    assert conflicts(run, torch.tensor([direction_flags("a person walks forward in a straight line")])).item()
    assert not conflicts(run, torch.tensor([direction_flags("a person walks and breaks into a run")])).item()
    assert not conflicts(run, torch.tensor([direction_flags("a person jogs ahead")])).item()
    assert conflicts(direction_flags("someone strolls"), torch.tensor([direction_flags("someone sprints")])).item()
    # where the body faces is no direction of travel
    assert direction_flags("walks backward, facing forward the whole time") == direction_flags("walks backward")
    # a kick or punch named by its side is a limb's side; "to the right and kicks" is not a right kick
    left_kick = torch.tensor([direction_flags("a person throws a high left roundhouse kick")])
    assert conflicts(direction_flags("a person does a right kick"), left_kick).item()
    assert conflicts(direction_flags("a right jab"), torch.tensor([direction_flags("punches with the left fist")]))
    moved = direction_flags("moves forward and to the right and kicks a soccer ball with the left foot")
    assert conflicts(right_kick, torch.tensor([moved])).item()
    # paces: a slow walk is not retrieved for a brisk one
    quick = direction_flags("someone walks forward quickly")
    assert conflicts(quick, torch.tensor([direction_flags("a person walks forward slowly.")])).item()
    assert not conflicts(quick, torch.tensor([direction_flags("walks slowly, then speeds up to a fast walk")])).item()
    # postures: standing still is not staying still seated; standing up names the sitting it starts from
    stand = direction_flags("a person stands motionless")
    assert conflicts(stand, torch.tensor([direction_flags("someone stays motionless in a seated riding pose")])).item()
    assert not conflicts(stand, torch.tensor([direction_flags("someone sits down, then stands still")])).item()
    up = direction_flags("a person stands up from a chair")
    assert not conflicts(up, torch.tensor([direction_flags("a seated person gets up")])).item()


def test_idioms_are_reworded_as_the_captions_word_them(shipped):
    from motionlcm_core.caption_match import REWORDINGS, content_words, names_staying, plain_wording
    assert plain_wording("a person backs up step by step") == "a person walks backward step by step"
    assert plain_wording("someone crouches down low and stands back up") == (
        "someone crouches down low and stands back up")                        # "back up" of standing: kept
    assert names_staying(plain_wording("someone stands in place and does not move")) == 2
    assert names_staying(plain_wording("he isn't moving at all")) == 2
    assert names_staying(plain_wording("someone standing in place, not moving")) == 2
    assert names_staying(plain_wording("a person stands with no movement")) == 2
    assert names_staying("someone stands in place and does not move") == 1    # without the rewording
    assert plain_wording("a man dashes forward") == "a man runs forward"
    assert plain_wording("turns 180 degrees to the left") == "turns around to the left"
    assert plain_wording("a person walks forward") == "a person walks forward"          # plain: unchanged
    assert plain_wording("someone paces back and forth") == "someone walks back and forth"
    assert plain_wording("a person sidesteps to the left") == "a person side steps to the left"
    assert plain_wording("he scoots over to his right") == "he shuffles over to his right"
    assert plain_wording("she walks up and hangs a left at the corner") == "she walks up and turns left at the corner"
    assert plain_wording("the boxer takes a left hook") == "the boxer takes a left hook"        # a punch: kept
    assert plain_wording("makes a right turn") == "makes a right turn"
    assert plain_wording("dude booking it down the street") == "dude runs down the street"
    assert plain_wording("exercise: deep squat, down and back up") == "deep squat, down and back up"   # a label
    assert plain_wording("emote: dance") == "emote: dance"                         # nothing would be left: kept
    assert plain_wording("slow walk cycle: character strolls forward") == "slow walk cycle, character strolls forward"
    assert names_staying(plain_wording("a man is jogging in place without moving forward")) == 1    # not still
    assert names_staying("guy running without going anywhere") == 1
    # every rewording is worded as the shipped bank's captions word it (else it adds nothing to the match)
    bank = shipped.bank
    vocabulary = frozenset().union(*bank.words)
    for pattern, replacement in REWORDINGS:
        assert content_words(replacement) <= vocabulary, (pattern, replacement)


def test_a_setting_or_a_reason_is_no_sequence(shipped):
    """"Stands still at a bus stop", "tired after a long day", "turns around after hearing her name": words of
    setting and time that would read as a sequence ("stops", "after") leave the prompt one action, so what it says
    of staying or direction holds for the whole motion; the shipped bank's captions read as before."""
    from motionlcm_core.caption_match import names_sequence, names_staying
    for one in ("a woman stands still at a bus stop, waiting for her ride", "an old man walks slowly, tired after a "
                "long day", "a woman turns around after hearing her name called", "he walks to the end of the hall",
                "she sits down on a chair before dinner"):
        assert not names_sequence(one), one
    for sequence in ("a person jogs and stops", "walks forward and turns left at the end", "turns, then walks",
                     "a person runs forward quickly and comes to a sudden stop", "waves after jumping"):
        assert names_sequence(sequence), sequence
    assert names_staying("a woman stands still at a bus stop, waiting for her ride") == 2
    words = re.compile(r"\b(then|before|after|afterwards|finally|until|followed|starts?|starting|begins?|finish\w*|"
                       r"ends?|ending|stops?|halts?|once more|again)\b", re.I)       # the rule without the settings
    assert all(bool(words.search(c)) == names_sequence(c) for c in shipped.bank.captions)


def test_how_far_a_turn_goes_follows_the_words_and_the_real_clips(shipped):
    from motionlcm_core.caption_match import plain_wording, turn_extent
    assert turn_extent("a person makes a right turn") == (30.0, 150.0)        # a right angle, not a full turn
    assert turn_extent("someone walks in a big circle") == (270.0, np.inf)
    assert turn_extent("a man walks around in a full circle") == (330.0, np.inf)
    for wide in ("spins to the left", "walks in a half circle", "a person turns around twice",
                 "a person stands in place, wiping a window in circles", "walks forward, then turns left",
                 "walks forward, turns around and walks back"):         # a walk there and back may turn again
        assert turn_extent(wide) == (0.0, np.inf), wide
    for around in ("a person turns around", "someone turns to face the opposite direction", "turns around in place",
                   "a soldier does an about-face"):                     # half a turn, not a spin of several
        assert turn_extent(plain_wording(around)) == (120.0, 240.0), around
    # calibrated on the shipped bank's real windows: most captions with a side turn (circle) turn that far
    bank = shipped.bank
    turned = bank._window_sides()[bank.window, 0].abs().numpy()
    for asked, share in ((((30.0, 150.0),), 0.8), (((270.0, np.inf), (330.0, np.inf)), 0.6)):
        rows = [(i, turn_extent(c)) for i, c in enumerate(bank.captions) if turn_extent(c) in asked]
        inside = np.array([least <= turned[i] <= most for i, (least, most) in rows])
        assert len(rows) >= 20 and inside.mean() >= share, (asked, len(rows), inside.mean())


def test_a_crops_turn_is_unwrapped_and_read_from_the_body(shipped):
    """A crop's net turn is the turn of its hips and shoulders, summed frame to frame: a real spin of two turns
    measures about 720°, as the probes' own heading measure reads the same joints (the features' root rotation
    reads 80° there, so "turns around" drew spins of several turns)."""
    import sys
    from pathlib import Path
    probes = Path(__file__).resolve().parents[2].parent / "shared" / "probes"
    if not probes.is_dir():
        pytest.skip("../shared/probes is not here")
    sys.path.insert(0, str(probes))
    from kinematics import heading_change_deg
    bank = shipped.bank
    i = next(k for k, c in enumerate(bank.captions) if c.startswith("the person spins around to the right several"))
    clip, a, b, mirrored = bank.sources[int(bank.window[i])].tolist()
    turns = []
    for start in range(a, b - 80, 40):
        measured = float(bank._sides_of(np.array([clip]), np.array([start]), 80, np.array([bool(mirrored)]))[0, 0])
        real = heading_change_deg(bank.store.crop(clip, start, 80)) * (-1 if mirrored else 1)
        assert abs(measured - real) <= max(0.1 * abs(real), 45.0), (start, measured, real)   # ends: own smoothing
        turns.append(abs(measured))
    assert max(turns) > 600


def test_rare_words_weigh_more_and_clauses_place_the_action():
    captions = [frozenset({"walk", "straight"}), frozenset({"walk", "backward"}), frozenset({"walk"})] * 3
    from motionlcm_core.caption_match import content_words, inverse_document_frequency
    idf = inverse_document_frequency(captions + [frozenset({"straight"})] * 6)
    plain = word_overlap("walks backward straight", captions[:2])
    weighted = word_overlap("walks backward straight", captions[:2], idf)
    assert plain[0] == plain[1] and weighted[1] > weighted[0]             # "backward" is the rarer word
    assert content_words("zzzq") and word_overlap("zzzq", captions[:1], idf).item() == 0.0
    # but a word rarer than 1 in e ** cap weighs no more than that: "a set of jumping jacks" is jumping jacks
    many = [frozenset({"jump", "jack"})] * 3 + [frozenset({"walk"})] * 600 + [frozenset({"set"})]
    capped = inverse_document_frequency(many)
    assert capped["set"] == capped["jack"] == 5.0 and inverse_document_frequency(many, cap=99.0)["set"] > 5.0
    assert word_overlap("does a set of jumping jacks", many[:1], capped).item() == pytest.approx(2 / 3)
    routine = "a person does jumping jacks, jogs in place, and then performs several deep squats."
    assert clause_centre("someone doing jumping jacks", routine) == pytest.approx(1 / 6)
    assert clause_centre("deep squats", routine) == pytest.approx(5 / 6)
    assert clause_centre("a person walks", "a person walks forward.") is None          # one clause
    assert clause_centre("a cartwheel", routine) is None                              # no clause holds it
    # word forms: a doubled consonant before -ing/-ed is one stem ("jogging" is "jogs", "sitting" is "sits")
    assert content_words("jogging sitting stepped running") == content_words("jogs sits steps runs")
    assert content_words("rolling passing") == {"roll", "pass"} and not content_words("does it")
    # the prompt's first clause names its action, the rest how: "jogs on the spot, lifting the knees" is the
    # routine's "jogging in place", not its "knee lifts"
    routine = "a person does an exercise routine of jumping jacks, jogging in place, squats, knee lifts and twists."
    idf = {"jog": 4.1, "spot": 4.8, "lift": 3.2, "kne": 3.1, "plac": 2.0}
    assert matched_clause("a person jogs on the spot, lifting the knees", routine, idf) == 1
    assert matched_clause("a person lifts the knees", routine, idf) == 3


def test_the_seed_draws_near_ties_and_keeps_clear_winners():
    text = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.999, 0.045], [0.6, 0.8]]), dim=-1)
    text = torch.nn.functional.pad(text, (0, 382))
    latents = torch.stack([torch.full((len(BANK_LENGTHS), 2, 4), float(k)) for k in range(3)])
    bank = MotionBank(text, torch.arange(3), torch.tensor([196] * 3), latents)
    query = text[:1, None]
    cfg = RetrievalConfig(top_k=3, temperature=0.05)
    drawn = [bank.retrieve(query, [60], s, cfg)[1][0] for s in range(40)]
    assert set(drawn) == {0, 1}                  # the near tie is drawn both ways, the far caption never
    assert {bank.retrieve(query, [60], s, RetrievalConfig(top_k=3, temperature=0.0))[1][0] for s in range(40)} \
        == {0, 1, 2}


def test_a_still_prompt_keeps_its_exemplar_close():
    """A prompt to stand still starts at sure_t whatever its pick's words (the student would add motion at
    start_t: body speed 0.17 m/s on a pick that moves 0.01); another loose match starts at start_t."""
    bank = MotionBank.__new__(MotionBank)
    bank.words, bank.idf, bank.captions, bank._flags = [frozenset({"jump"})], {"jump": 1.0}, ["someone jumps"], None
    cfg = RetrievalConfig()
    pick = type("P", (), {"caption": 0})()
    assert bank.starts([pick], ["a woman stands motionless in a relaxed pose"], cfg) == [cfg.sure_t]
    assert bank.starts([pick], ["a woman walks in a relaxed way"], cfg) == [cfg.start_t]


def test_a_walks_pace_is_checked_and_kept(shipped):
    """A slow (brisk) walk wants a crop whose joints move slower than SLOW_WALK (faster than QUICK_WALK), set on
    the shipped bank's walks: most captions of slow and quick walks pass; and a pick whose caption names the
    prompt's direction, gait and pace is kept close (sure_t), as the student speeds a slow walk up."""
    from motionlcm_core.caption_match import walking_pace
    from motionlcm_core.retrieval import QUICK_WALK, SLOW_WALK, wanted_motion
    assert walking_pace("slow, unhurried walk in a straight line") == 1 and walking_pace("walks briskly") == -1
    assert walking_pace("runs slowly") == 0 and walking_pace("walks slowly, then quickly") == 0
    slow = wanted_motion("an old man walks slowly, tired after a long day")
    assert slow(torch.tensor([[0.0, 0.0, 3.0, 0.0, 0.0, 0.9] + [0.0] * 7,
                              [0.0, 0.0, 3.0, 0.0, 0.0, 1.3] + [0.0] * 7])).tolist() == [True, False]
    bank = shipped.bank
    sides = bank._window_sides()
    for pace, least in ((1, 0.7), (-1, 0.8)):
        speed = np.array([float(sides[int(bank.window[i]), 5]) for i, c in enumerate(bank.captions)
                          if walking_pace(c) == pace])
        held = speed <= SLOW_WALK if pace > 0 else speed >= QUICK_WALK
        assert len(speed) >= 40 and held.mean() >= least, (pace, len(speed), held.mean())
    prompt = "an old man walks slowly straight ahead through the park"
    text = shipped.text_encoder().encode([prompt]).cpu()
    picks = [bank.choose(text, [80], seed, RetrievalConfig(), [prompt])[0] for seed in range(4)]
    cfg = RetrievalConfig()
    assert bank.starts(picks, [prompt] * 4, cfg) == [cfg.sure_t] * 4
    assert bank.starts(picks, [prompt] * 4, RetrievalConfig(sure_flags=False)) != [cfg.sure_t] * 4


def test_later_steps_polish_at_low_noise():
    assert retrieval_timesteps(299, 1) == (299,)
    assert retrieval_timesteps(299, 2) == (299, 19)
    assert retrieval_timesteps(299, 4) == (299, 59, 39, 19)
    assert retrieval_timesteps(39, 4) == (39, 19)
    with pytest.raises(ValueError):
        retrieval_timesteps(299, 0)


def test_windows_that_move_the_other_way_are_not_preferred(pipe, clips):
    """The bank reads each window's (and each placed crop's) net turn, sideways and forward travel from its
    exemplar (a mirror's turn and sideways travel are the negation, its kicking feet swapped); a prompt naming one
    side prefers windows that turn or travel that way; side-steps: travel that way more than ahead, facing kept."""
    from motionlcm_core.caption_match import names_sideways, names_turning
    from motionlcm_core.retrieval import Pick, Placement, moves_that_way
    bank = build_bank(pipe.vae, pipe.stats, _Encoder(), clips[:6])
    sides = bank._window_sides()
    assert sides.shape == (bank.latents.shape[0], 13)
    for w, (clip, a, b, mirrored) in enumerate(bank.sources.tolist()):
        if mirrored:
            twin = bank._unmirrored[(clip, a, b)]
            np.testing.assert_allclose(sides[w, :2], -sides[twin, :2], atol=1e-5)
            np.testing.assert_allclose(sides[w, 2:11], sides[twin, 2:11], atol=1e-5)
            np.testing.assert_allclose(sides[w, 11:13], sides[twin, [12, 11]], atol=1e-5)    # the feet swapped
    # a crop's figures are the whole window's when the crop is the window
    clip, a, b, m = bank.sources[0].tolist()
    np.testing.assert_allclose(bank._crop_sides(Placement(clip, a, b - a, bool(m), False)), sides[0])
    centre = bank.placement(Pick(0, 0, 0, 40))
    assert centre.start == a + (b - a - 40) // 2 and centre.length == 40
    figures = torch.tensor([[90.0, 0.0, 1.0],       # turns left
                            [0.0, -1.0, 0.2],       # side-steps right
                            [0.0, -1.0, 2.0],       # walks ahead, drifting right
                            [-120.0, -1.0, 0.0]])   # spins right, travelling right
    assert moves_that_way(figures, 1.0, False).tolist() == [True, False, False, False]
    assert moves_that_way(figures, -1.0, False).tolist() == [False, True, True, True]
    assert moves_that_way(figures, -1.0, True).tolist() == [False, True, False, False]
    # a turn prompt wants the turn; a U-turn the other way that ends up a little to this side is no match
    assert moves_that_way(figures, -1.0, turning=True).tolist() == [False, False, False, True]
    assert moves_that_way(torch.tensor([[-164.0, 0.5, 1.7]]), 1.0).tolist() == [False]
    assert names_sideways("shuffles sideways to the left") and not names_sideways("raises the left side of the body")
    assert names_turning("a person walks and turns left") and names_turning("veers to the right")
    assert not names_turning("waves the left hand") and not names_turning("walks to the left")
    # the lookup: the nearest caption's window goes left, another's right: "side-steps to the right" gets that
    near = {int(w) for w in bank.window[(bank.text @ bank.text[0]) > 0.999]}    # caption 0 and its twins
    right = int(bank.window[-1])
    assert right not in near
    bank._sides = torch.zeros_like(sides)
    bank._sides[list(near)] = torch.tensor([0.0, 1.0, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    bank._sides[right] = torch.tensor([0.0, -1.0, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    bank._placed_sides = lambda placed: torch.tensor([[0.0, -1.0, 0.1] + [0.0] * 10] * len(placed))
    one = RetrievalConfig(top_k=1, side_check=5.0)
    query = bank.text[:1, None]
    assert bank.choose(query, [40], 0, one, ["someone walks"])[0].window in near
    assert bank.choose(query, [40], 0, one, ["someone side-steps to the right"])[0].window == right
    assert bank.choose(query, [40], 0, RetrievalConfig(top_k=1, side_check=0.0),
                       ["someone side-steps to the right"])[0].window in near


def test_a_prompt_to_stay_put_prefers_windows_that_stay(pipe, clips):
    """"Stands still" wants neither travel nor turning, "jogs on the spot" / "spins in place" no travel (the
    turn is free); a window that runs off ("stands still for a moment, then takes off running") is not
    preferred to one that stays; combined with a side, both must hold."""
    from motionlcm_core.caption_match import names_staying
    from motionlcm_core.retrieval import stays_put, wanted_motion
    assert names_staying("a person stands still without moving") == 2
    assert names_staying("someone stays motionless") == 2 and names_staying("holds perfectly still") == 2
    assert names_staying("a person jogs on the spot") == 1 and names_staying("spins in place") == 1
    assert names_staying("someone hops up in the air and lands where they started") == 1
    assert names_staying("a person walks two meters, turns around and walks back to where they started") == 0
    assert names_staying("a person walks forward, still swinging the arms") == 0
    assert names_staying("a person walks forward") == 0 and wanted_motion("a person walks about") is None
    ahead = wanted_motion("a woman walks forward down a hallway")          # forward alone, going somewhere: ahead
    assert ahead(torch.tensor([[5.0, 0.2, 2.0], [170.0, 0.3, -0.2], [80.0, 2.0, 0.5]])).tolist() == [True, False, False]
    assert wanted_motion("someone leans forward") is None                 # forward, going nowhere
    on_the_spot = wanted_motion("jogs on the spot, no forward travel")     # staying: no forward travel asked
    assert on_the_spot(torch.tensor([[0.0, 0.0, 0.1, 0.0, 0.0, 1.0, 2.5] + [0.0] * 6])).tolist() == [True]
    figures = torch.tensor([[0.0, 0.1, 0.2, 0.0, 0.0, 0.05],        # stays
                            [0.0, 0.2, 3.9, 0.0, 0.0, 1.2],         # runs off
                            [170.0, 0.1, 0.0, 0.0, 0.0, 0.3],       # turns around where it stands
                            [0.0, 0.1, 0.1, 0.0, 0.0, 0.25]])       # kicks where it stands
    assert stays_put(figures, keep_facing=True).tolist() == [True, False, False, False]
    assert stays_put(figures, keep_facing=False).tolist() == [True, False, True, True]
    backward = wanted_motion("a person walks backwards")                 # backward, facing kept
    assert backward(torch.tensor([[5.0, 0.2, -2.0], [120.0, -3.0, -1.7], [5.0, 0.1, 2.0]])).tolist() \
        == [True, False, False]
    assert wanted_motion("walks forward, then backward") is None and wanted_motion("walks backward, then turns") is None
    assert wanted_motion("spins to the left in place")(torch.tensor([[170.0, 0.1, 0.0], [170.0, 2.0, 0.0],
                                                                   [-170.0, 0.1, 0.0]])).tolist() \
        == [True, False, False]
    bank = build_bank(pipe.vae, pipe.stats, _Encoder(), clips[:6])
    near = {int(w) for w in bank.window[(bank.text @ bank.text[0]) > 0.999]}    # caption 0 and its twins
    still = int(bank.window[-1])
    assert still not in near
    bank._sides = torch.zeros(bank.latents.shape[0], 13)
    bank._sides[list(near)] = torch.tensor([0.0, 0.2, 3.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    bank._placed_sides = lambda placed: torch.tensor([[0.0, 0.0, 0.1] + [0.0] * 10] * len(placed))
    one = RetrievalConfig(top_k=1, side_check=5.0)
    query = bank.text[:1, None]
    assert bank.choose(query, [40], 0, one, ["someone stands"])[0].window in near
    assert bank.choose(query, [40], 0, one, ["someone stands still"])[0].window not in near


def test_sitting_down_and_standing_up_place_the_crop_where_the_pelvis_goes_that_way():
    """"Sits down" / "stands up" want the pelvis to end at least 0.2 m lower / higher than it starts, the feet
    not going that way with it (climbing lifts both and is no standing up); in a long
    window of sitting down and standing up again and again (real train clips) the crop is placed where it does
    that, from the same window for either prompt, and the lookup prefers windows that do it."""
    from motionlcm_core.caption_match import names_height_change
    from motionlcm_core.data import load_cmu_clips
    from motionlcm_core.retrieval import Pick, ends_lower_or_higher, wanted_motion
    assert names_height_change("a person lowers themselves onto a chair and stays seated") == -1
    assert names_height_change("character lowers slowly onto a chair, hands on knees") == -1
    assert names_height_change("she settles into the armchair") == -1
    assert names_height_change("he drops the box onto a chair") == 0                 # the box goes down
    assert names_height_change("someone takes a seat on a stool") == -1
    assert names_height_change("a person sits down") == -1
    assert names_height_change("a seated person gets up from a chair and stands") == 1
    assert names_height_change("someone who is sitting gets up") == 1
    assert names_height_change("sits down, then stands up") == 0 and names_height_change("a person stands still") == 0
    assert names_height_change("a person squats and rises again") == 0 and wanted_motion("a person waves") is None
    figures = torch.tensor([[0.0, 0.0, 0.5, -0.45], [0.0, 0.0, 0.5, 0.45], [0.0, 0.0, 0.5, -0.1]])
    assert ends_lower_or_higher(figures, -1).tolist() == [True, False, False]
    assert ends_lower_or_higher(figures, 1).tolist() == [False, True, False]
    train = load_cmu_clips("train", mirror=False)[0]
    sitting = [c for c in train if any("repeatedly sits down" in line.text for line in c.captions)]
    assert sitting, "the train split has clips of sitting down and standing up repeatedly"
    bank = build_bank(MotionLCMPipeline.from_config(tiny_config(), device="cpu", seed=0).vae,
                      MotionLCMPipeline.from_config(tiny_config(), device="cpu", seed=0).stats, _Encoder(), sitting)
    caption = next(i for i, c in enumerate(bank.captions) if "repeatedly sits down" in c)
    window = int(bank.window[caption])
    clip, a, b, _ = bank.sources[window].tolist()
    n = 60
    assert b - a > 3 * n
    pick = Pick(caption, window, 0, n)

    def shift(start):                        # pelvis height, last 0.5 s less first 0.5 s, from the real joints
        pelvis = bank.store.crop(clip, start, n)[:, 0, 1]
        return float(pelvis[-10:].mean() - pelvis[:10].mean())

    shifts = [shift(start) for start in range(a, b - n)]
    down = bank.placement(pick, "a person sits down on a stool")
    up = bank.placement(pick, "a person stands up from a stool")
    assert (down.length, up.length) == (n, n) and a <= min(down.start, up.start) <= b - n
    # the crop that sits down most (stands up most), to the cm; a crop here sits 0.1–0.15 m (a high stool)
    assert shift(down.start) < -0.1 and shift(down.start) <= min(shifts) + 0.01
    assert shift(up.start) > 0.1 and shift(up.start) >= max(shifts) - 0.01
    plain = bank.placement(pick, "a person on a stool")
    assert plain.start not in (down.start, up.start)


def _bank_of_train_clip(words: str) -> tuple[MotionBank, int, int, tuple[int, int, int]]:
    """A bank (tiny networks) of the real train clip with a caption holding ``words``: the bank, that caption's
    index, its window and the window's (clip, start, end)."""
    from motionlcm_core.data import load_cmu_clips
    train = load_cmu_clips("train", mirror=False)[0]
    found = [c for c in train if any(words in line.text for line in c.captions)]
    assert found, f"the train split has a clip captioned {words!r}"
    tiny = MotionLCMPipeline.from_config(tiny_config(), device="cpu", seed=0)
    bank = build_bank(tiny.vae, tiny.stats, _Encoder(), found)
    caption = next(i for i, c in enumerate(bank.captions) if words in c)
    window = int(bank.window[caption])
    return bank, caption, window, tuple(bank.sources[window].tolist()[:3])


def test_running_on_the_spot_places_the_crop_where_the_feet_lift_in_turn():
    """In a long real warm-up ("jumping jacks, a short jog on the spot, deep squats, side stretches and torso
    twists"), equally long clauses would put the jog on the knee raises; the crop for "jogs on the spot" is
    placed where the feet lift most often, and each foot lifts 10 cm at least 3 times in its 4 s."""
    from motionlcm_core.motion.skeleton import FEET_LEFT, FEET_RIGHT
    from motionlcm_core.retrieval import RUN_LIFTS_PER_S, Pick, placed_motion, wanted_motion
    bank, caption, window, (clip, a, b) = _bank_of_train_clip("a short jog on the spot, deep squats")
    n = 80
    assert b - a > 5 * n

    def lifts(start):                      # per foot: rises 10 cm over the lower foot and back under 6 cm
        y = bank.store.crop(clip, start, n)[..., 1]
        feet = np.stack([y[:, list(FEET_LEFT)].min(-1), y[:, list(FEET_RIGHT)].min(-1)], 1)
        clear = feet - feet.min(-1, keepdims=True)
        out = []
        for k in range(2):
            up, count = False, 0
            for c in clear[:, k]:
                if not up and c > 0.10:
                    up, count = True, count + 1
                elif up and c < 0.06:
                    up = False
            out.append(count)
        return min(out)

    pick = Pick(caption, window, 0, n)
    jog = bank.placement(pick, "a person jogs on the spot")
    centre = clause_centre("a person jogs on the spot", bank.captions[caption], bank.idf)
    by_clause = a + int(round(centre * (b - a) - n / 2))                 # where the clauses alone put it
    assert lifts(jog.start) >= 3 > lifts(by_clause)
    assert float(bank._crop_sides(jog)[6]) >= RUN_LIFTS_PER_S
    assert placed_motion("a person jogs") is None and placed_motion("someone runs in place") is not None
    # the lookup asks the lifts of the crop, not of the whole window (its rate over 45 s is diluted)
    whole = wanted_motion("a person jogs on the spot", whole=True)(bank._window_sides()[window:window + 1])
    assert bool(whole[0]) and not bool(wanted_motion("a person jogs on the spot")(
        bank._window_sides()[window:window + 1])[0])


def test_an_arm_action_places_the_crop_where_the_arms_are_busiest():
    """In a long real karate window ("punch moves while stepping forward and backward", 18 s), the crop for
    "throws punches" is where the wrists move fastest about the pelvis: it holds more fast arm thrusts than
    the window's centre, whose 4 s are mostly footwork."""
    from motionlcm_core.caption_match import names_arm_action
    from motionlcm_core.retrieval import Pick, WRISTS
    assert names_arm_action("someone boxes, throwing punches") and names_arm_action("a person waves hello")
    assert not names_arm_action("a person walks forward") and not names_arm_action("a person raises both arms")
    assert not names_arm_action("a person jumps onto a box")                        # a box to stand on
    bank, caption, window, (clip, a, b) = _bank_of_train_clip("punch moves while stepping")
    n = 80
    assert b - a > 4 * n

    def thrusts(start):                      # bursts of a wrist moving over 2 m/s about the pelvis
        j = bank.store.crop(clip, start, n).astype(np.float64)
        speed = np.linalg.norm(np.diff(j[:, list(WRISTS)] - j[:, :1], axis=0), axis=-1) * 20     # (n-1, 2)
        fast = (speed > 2.0).any(-1)
        return int((fast[1:] & ~fast[:-1]).sum() + fast[0])

    placed = bank.placement(Pick(caption, window, 0, n), "a person throws punches")
    centre = a + (b - a - n) // 2
    assert thrusts(placed.start) > thrusts(centre)


def test_punching_places_the_crop_where_the_fists_shoot_out(shipped):
    """In the shipped bank's real boxing window ("a person boxes, moving around with the fists up, throwing
    punches", 23 s), the crop for "throws punches" is where a fist shoots out ahead most often: the probes' own
    punch measure counts 3 strikes or more there, and 1 at the window's centre or where the wrists merely move
    fastest (guard, weaving)."""
    import sys
    from pathlib import Path
    from motionlcm_core.caption_match import names_striking
    from motionlcm_core.retrieval import Pick
    probes = Path(__file__).resolve().parents[2].parent / "shared" / "probes"
    if not probes.is_dir():
        pytest.skip("../shared/probes is not here")
    sys.path.insert(0, str(probes))
    from semantics import punches
    assert names_striking("a man throws punches") and names_striking("she jabs and hooks")
    assert not names_striking("strikes the ball with the right foot") and not names_striking("a person waves")
    bank, n = shipped.bank, 80
    i = next(k for k, c in enumerate(bank.captions) if c.startswith("a person boxes, moving around"))
    w = int(bank.window[i])
    clip, a, b, _ = bank.sources[w].tolist()
    placed = bank.placement(Pick(i, w, 2, n), "a man throws punches")
    assert punches(bank.store.crop(clip, placed.start, n))[0]
    for other in (a + (b - a - n) // 2, bank.placement(Pick(i, w, 2, n), "a person waves with both hands").start):
        assert not punches(bank.store.crop(clip, other, n))[0]


def test_a_kick_picks_crops_where_the_named_foot_kicks_out(shipped):
    """"Kicks with the right foot" wants the right foot kicked out ahead of the body (KICK_REACH, KICK_HEIGHT)
    for KICK_S: on every seed the shipped bank gives such a crop, and the probes' own kick measure (the right
    foot 0.5 m ahead while 15 cm up, higher than the left) passes on it (the nearest captions by embedding
    include charleston steps, whose kicks go nowhere near 0.5 m ahead). "Kicks back and relaxes" is no kick."""
    import sys
    from pathlib import Path
    from motionlcm_core.caption_match import kicking_side
    from motionlcm_core.retrieval import KICK_S
    assert kicking_side("someone kicks with the right foot") == -1 and kicking_side("a left roundhouse kick") == 1
    assert kicking_side("a person kicks") == 0 and kicking_side("she kicks back and relaxes") is None
    assert kicking_side(plain_wording("guy boots the ball with his right foot")) == -1
    assert plain_wording("a man wearing boots walks") == "a man wearing boots walks"
    probes = Path(__file__).resolve().parents[2].parent / "shared" / "probes"
    if not probes.is_dir():
        pytest.skip("../shared/probes is not here")
    sys.path.insert(0, str(probes))
    from semantics import kicks_right
    bank, prompt = shipped.bank, "someone kicks with the right foot"
    text = shipped.text_encoder().encode([prompt]).cpu()
    for seed in range(4):
        pick = bank.choose(text, [80], seed, RetrievalConfig(), [prompt])[0]
        placed = bank.placement(pick, prompt)
        assert float(bank._crop_sides(placed)[12]) >= KICK_S, bank.captions[pick.caption]
        crop = bank.store.crop(placed.clip, placed.start, 80)
        if placed.mirrored:
            from motionlcm_core.motion.humanml3d import mirror_joints
            crop = mirror_joints(crop)
        assert kicks_right(crop)[0], (bank.captions[pick.caption], kicks_right(crop)[1])


def test_a_jump_picks_crops_with_both_feet_off_the_ground(shipped):
    """"Hops up and down on the spot" is a jump (both feet off at once), not a hop on one foot: the nearest caption
    "jump up and down, hop on one foot" is placed on its jumps, and every seed's crop has both feet 15 cm up for
    more than AIRBORNE_FRAMES. Of the bank's windows whose captions jump (not a bounce, a hop on one foot,
    jumping jacks or skipping rope), every one but bounces has such a flight."""
    from motionlcm_core.caption_match import names_take_off
    from motionlcm_core.retrieval import AIRBORNE_FRAMES
    assert names_take_off("she hops up and down on the spot") and names_take_off("a man leaps forward")
    for grounded in ("hops on one foot", "does jumping jacks", "skips rope", "a cartwheel", "bounces a ball"):
        assert not names_take_off(grounded), grounded
    bank, prompt = shipped.bank, "she hops up and down on the spot"
    text = shipped.text_encoder().encode([prompt]).cpu()
    for seed in range(4):
        pick = bank.choose(text, [60], seed, RetrievalConfig(), [prompt])[0]
        assert float(bank._crop_sides(bank.placement(pick, prompt))[4]) > AIRBORNE_FRAMES, bank.captions[pick.caption]
    sides = bank._window_sides()
    flights = [float(sides[int(bank.window[i]), 4]) for i, c in enumerate(bank.captions) if names_take_off(c)]
    assert len(flights) >= 40 and np.mean(np.array(flights) > AIRBORNE_FRAMES) >= 0.85


def test_raising_both_arms_picks_crops_with_both_hands_over_the_head(shipped):
    """"Raises both arms above the head" reads as both wrists over the head (not one arm: "raises the right arm
    overhead", nor arms held up in front); the shipped bank's lookup gives crops where both are, for a while,
    on every seed — the nearest captions by embedding raise one arm, or swing a sword down at once."""
    from motionlcm_core.caption_match import names_arms_up
    from motionlcm_core.retrieval import ARMS_UP_S
    assert names_arms_up("someone reaches up high with both arms")
    assert names_arms_up("a person lifts both arms high above the head")
    for other in ("raises the right arm overhead", "holding their arms up in front", "walks with arms swinging"):
        assert not names_arms_up(other), other
    bank, prompt = shipped.bank, "a person raises both arms over the head"
    text = shipped.text_encoder().encode([prompt]).cpu()
    for seed in range(4):
        pick = bank.choose(text, [80], seed, RetrievalConfig(), [prompt])[0]
        assert float(bank._crop_sides(bank.placement(pick, prompt))[8]) >= ARMS_UP_S, bank.captions[pick.caption]


def test_a_run_repeats_a_short_cyclic_clip_rather_than_stop(shipped):
    """"A person runs forward" for 2.5 s: the exact caption's clips (24 and 29 frames) are no cycle and would be
    held at their ends, and the nearest long window "runs forward, stops for a moment, then runs forward again"
    stops for 1 s. A run (not on the spot, no sequence) must not stop for more than RUN_STOP_S, and the runs of
    one stride ("runs forward quickly", 21–27 frames) repeat their strides, scored down by loop_share of the
    short penalty only: every seed runs on at a running pace (the probes: 2.2 m/s)."""
    from motionlcm_core.retrieval import RUN_STOP_S, wanted_motion
    bank, prompt, n = shipped.bank, "a person runs forward", 50
    text = shipped.text_encoder().encode([prompt]).cpu()

    def picks(cfg):
        return [bank.choose(text, [n], seed, cfg, [prompt])[0] for seed in range(4)]

    for pick in picks(RetrievalConfig()):
        clip = int(bank.sources[pick.window, 0])
        assert int(bank.store.frames[clip]) < n and bank._cyclic(clip), bank.captions[pick.caption]
        assert float(bank._crop_sides(bank.placement(pick, prompt))[9]) <= RUN_STOP_S
    stopping = [bank.captions[p.caption] for p in picks(RetrievalConfig(side_check=0.0, loop_share=1.0))]
    assert sum("stops" in c for c in stopping) >= 3, stopping
    runs_on = wanted_motion(prompt)
    assert runs_on(torch.tensor([[0.0, 0.0, 8.0, 0.0, 0.0, 3.0, 2.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                                 [0.0, 0.0, 3.0, 0.0, 0.0, 1.5, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0]])).tolist() \
        == [True, False]
    assert wanted_motion("a person runs forward, stops, then runs again") is None
    res = shipped.generate([prompt], seconds=n / 20, seed=0)
    pelvis = res.joints[0, :res.lengths[0], 0]
    assert np.linalg.norm(pelvis[-1, [0, 2]] - pelvis[0, [0, 2]]) / (n / 20) >= 2.2
    with pytest.raises(ValueError, match="loop_share"):
        RetrievalConfig(loop_share=1.5)


def test_a_prompt_without_a_jump_prefers_crops_that_keep_a_foot_down(pipe):
    """A crop with both feet over 15 cm for more than AIRBORNE_FRAMES (a jump; a walk never) is scored down for a
    prompt naming no jump and no raised ground ("bends the knees" is no "leaps into the air"), on real clips."""
    from motionlcm_core.caption_match import names_jump
    from motionlcm_core.data import load_cmu_clips
    from motionlcm_core.retrieval import AIRBORNE_FRAMES, Pick
    assert names_jump("someone jumps up and down") and names_jump("a person hops on one foot")
    assert names_jump("leaps into the air") and names_jump("dance - grand jete en tourant")
    assert not names_jump("a person bends the knees into a deep squat") and not names_jump("someone walks")
    train = load_cmu_clips("train", mirror=False)[0]
    jump = next(c for c in train if any("vertical jump on the spot" in line.text for line in c.captions))
    walk = next(c for c in train if any(line.text == "a person walks forward at a fast pace." for line in c.captions))
    bank = build_bank(pipe.vae, pipe.stats, _Encoder(), [jump, walk])
    airborne = {bank.captions[i]: float(bank._window_sides()[int(bank.window[i]), 4]) for i in range(len(bank))}
    jumping = next(i for i, c in enumerate(bank.captions) if "vertical jump on the spot" in c)
    assert airborne[bank.captions[jumping]] > AIRBORNE_FRAMES >= airborne["a person walks forward at a fast pace."]
    query = bank.text[jumping][None, None]                 # the jump's own caption is the nearest by far
    one = RetrievalConfig(top_k=1, word_weight=0.0, flight_check=5.0)

    def picked(prompt, cfg=one):
        return bank.captions[bank.choose(query, [40], 0, cfg, [prompt])[0].caption]

    assert "jump" in picked("someone jumps on the spot")
    assert "jump" not in picked("someone bends the knees")
    assert "jump" in picked("someone bends the knees", RetrievalConfig(top_k=1, word_weight=0.0, flight_check=0.0))
    assert "jump" in picked("someone bends the knees on a box")              # raised ground: feet up are no flight
    pick = bank.choose(query, [40], 0, one, ["someone bends the knees"])[0]
    assert bank._crop_sides(bank.placement(pick, "someone bends the knees"))[4] <= AIRBORNE_FRAMES
    assert isinstance(pick, Pick)


def test_placements_and_crop_figures_are_remembered_as_computed(shipped):
    """A placement and its crop's figures are remembered (a regenerated prompt checks the same crops): the
    remembered ones are those computed afresh."""
    from motionlcm_core.retrieval import Pick
    bank, prompt = shipped.bank, "a person kicks with the right foot"
    text = shipped.text_encoder().encode([prompt]).cpu()
    pick = bank.choose(text, [80], 0, RetrievalConfig(), [prompt])[0]
    placed = bank.placement(pick, prompt)
    assert bank.placement(Pick(*dataclasses.astuple(pick)), prompt) is placed
    assert bank._place(pick, prompt) == placed
    fresh = bank._sides_of(np.array([placed.clip]), np.array([placed.start]), placed.length,
                           np.array([placed.mirrored]))
    torch.testing.assert_close(bank._placed_sides([placed, placed]), torch.cat([fresh, fresh]))


def test_the_indexed_word_score_is_the_plain_one():
    from motionlcm_core.caption_match import content_words, indexed_overlap, inverse_document_frequency, word_index
    captions = [content_words(c) for c in ("a person kicks a ball with the right foot", "someone walks forward",
                                           "a person waves the right hand", "kicks and punches", "")]
    idf = inverse_document_frequency(captions)
    for prompt in ("a person kicks with the right foot", "walks", "zzz", "a the"):
        for weights in (None, idf):
            np.testing.assert_allclose(indexed_overlap(prompt, word_index(captions), len(captions), weights),
                                       word_overlap(prompt, captions, weights), atol=1e-6)


def test_a_window_shorter_than_the_clip_is_lengthened_from_its_clip_or_held(pipe, clips):
    """A pick whose window is shorter than the clip gets an exemplar of the clip's length: the window with
    its clip's neighbouring frames around it, or, where the whole clip is shorter, the clip with its first and
    last poses held (no motion there)."""
    import dataclasses
    short = dataclasses.replace(clips[0], feats=clips[0].feats[:50], feats_mirror=clips[0].feats_mirror[:50])
    bank = build_bank(pipe.vae, pipe.stats, _Encoder(), [short, *clips[1:4]])
    encode = pipe._encode_exemplar
    from motionlcm_core.retrieval import Pick
    cases = set()
    for w, (clip, a, b, mirrored) in enumerate(bank.sources.tolist()):
        frames = int(bank.store.frames[clip])
        caption = int(torch.nonzero(bank.window == w)[0])
        n = next((m for m in BANK_LENGTHS if m > b - a), None)
        if n is None or mirrored:
            continue
        ex = bank.exemplar(Pick(caption, w, 0, n), None, encode)
        assert ex is not None and ex.real.shape == (n, 67) and ex.start.shape == bank.latents.shape[2:]
        def heights(j):                # heights above the lowest joint: neither facing nor floor matter
            return j[..., 1] - j[..., 1].min()

        joints = recover_joints(_full(ex.real))
        cases.add(frames > n + 1)
        if frames > n + 1:             # lengthened from the clip: the real frames around the window
            start = max(0, min((a + b - n) // 2, frames - n - 1))
            np.testing.assert_allclose(heights(joints), heights(bank.store.crop(clip, start, n)), atol=0.01)
        else:                          # held: the clip in the middle, standing still before and after it
            before = (n + 1 - frames) // 2
            np.testing.assert_allclose(heights(joints[before:before + frames - 1]),
                                       heights(bank.store.crop(clip, 0, frames - 1)), atol=0.01)
            assert np.abs(np.diff(joints[:before], axis=0)).max(initial=0.0) < 1e-3
            assert np.abs(np.diff(joints[before + frames - 1:], axis=0)).max(initial=0.0) < 1e-3
    assert cases == {True, False}
    assert bank.exemplar(Pick(0, int(bank.window[0]), 0, BANK_LENGTHS[-1] * 4), None, None) is None
    # a batch's exemplars at once (crops encoded together, in one VAE call per length) are the single ones
    picks = [Pick(int(torch.nonzero(bank.window == w)[0]), w, 0, n) for w, n in ((0, 60), (3, 80), (5, 60), (0, 100))]
    singles = [bank.exemplar(p, None, encode) for p in picks]
    bank._encoded.clear()
    together = bank.exemplars(picks, [None] * len(picks), pipe._encode_exemplars)
    for one, other in zip(singles, together):
        np.testing.assert_allclose(one.real, other.real)
        torch.testing.assert_close(one.start, other.start, atol=1e-5, rtol=1e-5)


def test_a_phase_of_a_long_window_places_the_action(pipe, clips):
    """A long routine window ("jumping jacks, jogging in place, squats, ...", its clauses taken as equally long)
    places its first action badly; a phase of the same clip whose caption holds the prompt's key words
    ("does jumping jacks and then jogs in place", the first 8 s) places it: the exemplar is cropped from there."""
    import dataclasses
    from motionlcm_core.caption_match import key_words
    from motionlcm_core.data.text import CaptionLine
    from motionlcm_core.retrieval import Pick
    routine = "a person exercises in place: jumping jacks, jogging in place, squats, knee raises and twists."
    phase = "a person does jumping jacks and then jogs in place."
    clip = dataclasses.replace(clips[0], captions=(CaptionLine(routine), CaptionLine(phase, 0.0, 8.0)))
    bank = build_bank(pipe.vae, pipe.stats, _Encoder(), [clip, clips[1]])
    prompt = "someone doing jumping jacks"
    assert key_words(prompt, routine) == frozenset({"jump", "jack"})
    def unmirrored(text):
        return next(i for i, c in enumerate(bank.captions) if c == text and not bank.sources[bank.window[i], 3])

    whole = unmirrored(routine)
    w = int(bank.window[whole])
    assert bank._narrowest(Pick(whole, w, 2, 80), prompt) == (unmirrored(phase), 0, 160)
    assert bank._narrowest(Pick(whole, w, 2, 80), "a person squats")[1:] == (0, len(clip.feats))  # not in the phase
    crops = []
    original = bank._encoded_crop
    bank._encoded_crop = lambda c, start, n, m, e, *rest: (crops.append((c, start, n))
                                                           or original(c, start, n, m, e, *rest))
    bank.exemplar(Pick(whole, w, 2, 80), prompt, pipe._encode_exemplar)
    assert crops == [(0, 0, 80)]          # the first clause of the 8 s phase, not of the whole window (0–5 s)
