"""Data pipeline: captions, crops, the CMU loader (bad data skipped), caching, batching, HumanML3D folders.

Every test builds a small data folder from a few real clips of the test split in tmp_path; nothing is
written to ../shared or to the repository's cache.
"""
from __future__ import annotations

import functools
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from motionlcm_core.data import (
    EVAL_DATA_CONFIG, DataConfig, EpochIndexed, caption_variants, cmu_dataset, cmu_feature_stats, collate_motion,
    crop_length, humanml3d_dataset, load_cmu_clips, mirror_caption, parse_caption_line,
)
from motionlcm_core.data.cmu import default_data_dir
from motionlcm_core.motion import compute_feature_stats, features_from_joints, mirror_joints, recover_joints

SOURCE = default_data_dir()
GOOD = ("cmu_02_05", "cmu_05_06", "cmu_06_15", "cmu_12_03")
pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.skipif(not (SOURCE / "joints_test.npz").is_file(),
                                 reason=f"CMU data not found at {SOURCE} (set MOTIONLCM_DATA_DIR)")]


@functools.lru_cache(maxsize=1)
def _source_clips() -> dict[str, np.ndarray]:
    with np.load(SOURCE / "joints_test.npz") as data:
        return {str(i): data["joints"][o:o + n] for i, o, n in zip(data["ids"], data["offsets"], data["lengths"])}


def write_subset(root: Path, clips: dict[str, np.ndarray], split: str = "train", texts: dict | None = None) -> Path:
    """A data folder with ``joints_<split>.npz`` holding ``clips`` and the real texts of known ids."""
    (root / "texts").mkdir(parents=True, exist_ok=True)
    lengths = np.array([len(j) for j in clips.values()])
    np.savez(root / f"joints_{split}.npz", joints=np.concatenate(list(clips.values())).astype(np.float32),
             ids=np.array(list(clips)), lengths=lengths, offsets=np.concatenate([[0], np.cumsum(lengths)[:-1]]))
    for clip_id in clips:
        if (SOURCE / "texts" / f"{clip_id}.txt").is_file():
            shutil.copy(SOURCE / "texts" / f"{clip_id}.txt", root / "texts" / f"{clip_id}.txt")
    for clip_id, content in (texts or {}).items():
        (root / "texts" / f"{clip_id}.txt").write_bytes(content)
    return root


@pytest.fixture(scope="module")
def messy_dir(tmp_path_factory) -> Path:
    """4 good clips + one each: too short, NaN, missing text, unreadable text, empty text."""
    src = _source_clips()
    clips = {k: src[k] for k in GOOD}
    nan_clip = src["cmu_35_07"].copy()
    nan_clip[10, 3, 1] = np.nan
    clips.update({"cmu_02_03": src["cmu_02_03"], "nan_clip": nan_clip, "no_text": src["cmu_35_09"],
                  "bad_text": src["cmu_39_03"], "empty_text": src["cmu_16_05"]})
    texts = {"nan_clip": b"a person walks.\n", "bad_text": b"\xff\xfe\x00bad", "empty_text": b"\n\n"}
    return write_subset(tmp_path_factory.mktemp("cmu"), clips, texts=texts)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One feature cache for the module, so each clip is converted once."""
    return tmp_path_factory.mktemp("cache")




# ----------------------------------------------------------------------------------------- captions
def test_parse_caption_line_forms():
    assert parse_caption_line("a person walks.").start_s is None
    phase = parse_caption_line("the person spins.#14.5#18.0")
    assert (phase.text, phase.start_s, phase.end_s) == ("the person spins.", 14.5, 18.0)
    whole = parse_caption_line("a man kicks#a/DET man/NOUN kick/VERB#0.0#0.0")
    assert whole.text == "a man kicks" and not whole.is_phase
    assert parse_caption_line("a man jumps#a/DET#nan#nan").start_s is None
    assert parse_caption_line("   ") is None
    for bad in ("walk#1.0", "walk#2.0#1.0", "walk#x#y"):
        with pytest.raises(ValueError):
            parse_caption_line(bad)


def test_mirror_caption_swaps_sides_and_turns():
    assert mirror_caption("Left foot, then the right hand") == "Right foot, then the left hand"
    assert mirror_caption("turns counterclockwise then clockwise") == "turns clockwise then counterclockwise"
    assert mirror_caption("spins anti-clockwise") == "spins clockwise"
    assert mirror_caption("a person leftover bright") == "a person leftover bright"


def test_caption_variants_keep_meaning():
    variants = caption_variants("a person walks forward.")
    assert variants[0] == "a person walks forward."
    assert {"someone walks forward.", "a man walks forward.", "a person is walking forward."} <= set(variants)
    assert "someone is running, then stops" in caption_variants("a person runs, then stops")
    assert "a person sits" in caption_variants("a person is sitting")
    assert caption_variants("salsa dance") == ("salsa dance",)
    assert caption_variants("a person always walks") == ("a person always walks", "someone always walks",
                                                         "a man always walks")
    assert not any(v.startswith("a man") for v in caption_variants("a person raises her arm"))


# -------------------------------------------------------------------------------------------- crops
def test_crop_length_rules():
    cfg, rng = DataConfig(), np.random.default_rng(0)
    long = {crop_length(700, rng, cfg) for _ in range(400)}
    assert long <= set(range(40, 197, 4)) and {40, 196} <= long
    short = {crop_length(63, rng, cfg) for _ in range(200)}
    assert short == {56, 60}
    assert {crop_length(43, rng, cfg) for _ in range(50)} == {40}
    with pytest.raises(ValueError):
        crop_length(39, rng, cfg)
    with pytest.raises(ValueError):
        DataConfig(min_frames=42)


# ------------------------------------------------------------------------------------------- loader
def test_cmu_loader_skips_and_counts_bad_clips(messy_dir, cache, caplog):
    clips, report = load_cmu_clips("train", messy_dir, cache_dir=cache)
    assert sorted(c.clip_id for c in clips) == sorted(GOOD)
    assert {k: sorted(v) for k, v in report.skipped.items()} == {
        "too_short": ["cmu_02_03"], "nan_or_inf": ["nan_clip"], "missing_text": ["no_text"],
        "unreadable_text": ["bad_text"], "no_captions": ["empty_text"]}
    assert "skipped" in report.line() and "too_short: 1" in report.line()
    assert len(list(cache.glob("cmu_joints_train_*.npz"))) == 1
    with caplog.at_level("INFO", logger="motionlcm_core.data.cmu"):
        cmu_dataset("train", messy_dir, cache_dir=cache)
    assert any("nan_or_inf: 1" in r.getMessage() for r in caplog.records)


def test_cmu_loader_uses_cache(messy_dir, cache, monkeypatch):
    first, _ = load_cmu_clips("train", messy_dir, cache_dir=cache)
    import motionlcm_core.data.cmu as cmu

    def fail(*_args, **_kw):
        raise AssertionError("features recomputed although cached")
    monkeypatch.setattr(cmu, "features_from_joints", fail)
    second, _ = load_cmu_clips("train", messy_dir, cache_dir=cache)
    np.testing.assert_array_equal(first[0].feats, second[0].feats)
    plain, _ = load_cmu_clips("train", messy_dir, cache_dir=cache, mirror=False)   # served by the mirrored cache
    np.testing.assert_array_equal(first[0].feats, plain[0].feats)
    assert plain[0].feats_mirror is None


def test_cmu_loader_refuses_missing_or_corrupt_split(tmp_path):
    with pytest.raises(ValueError, match="joints_val.npz not found"):
        load_cmu_clips("val", tmp_path, cache_dir=tmp_path)
    (tmp_path / "joints_val.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="unreadable"):
        load_cmu_clips("val", tmp_path, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="split must be"):
        load_cmu_clips("training", tmp_path)


def test_features_match_direct_conversion_and_mirror(messy_dir, cache):
    clips, _ = load_cmu_clips("train", messy_dir, cache_dir=cache)
    joints = _source_clips()["cmu_05_06"]
    clip = next(c for c in clips if c.clip_id == "cmu_05_06")
    np.testing.assert_allclose(clip.feats, features_from_joints(joints), atol=1e-6)
    np.testing.assert_allclose(clip.feats_mirror, features_from_joints(mirror_joints(joints)), atol=1e-6)
    # the mirrored features describe the mirrored motion (up to the leg-length retargeting, which
    # measures the right leg: a few cm on this subject), not the original one
    mirrored = recover_joints(clip.feats_mirror)
    assert np.abs(mirrored - mirror_joints(recover_joints(clip.feats))).max() < 0.05
    assert np.abs(mirrored - recover_joints(clip.feats)).max() > 0.2


def test_items_phases_crops_and_normalisation(messy_dir, cache):
    stats = cmu_feature_stats(messy_dir, cache_dir=cache)
    ds = cmu_dataset("train", messy_dir, stats=stats, cache_dir=cache, seed=3)
    assert len(ds) == 4 + 2      # one whole-clip item per clip + the two phases of cmu_02_05
    assert sum(ds.clip_id(i) == "cmu_02_05" for i in range(len(ds))) == 3
    for i in range(len(ds)):
        item = ds[i]
        assert item.feats.shape == (item.length, 263) and item.feats.dtype == np.float32
        assert item.joints.shape == (item.length, 22, 3)
        assert item.length % 4 == 0 and 40 <= item.length <= 196
        raw = stats.denormalize(item.feats)
        np.testing.assert_allclose(item.joints, recover_joints(raw), atol=1e-4)
        np.testing.assert_allclose(item.joints[0, 0, [0, 2]], 0.0, atol=1e-6)   # canonical start
    np.testing.assert_array_equal(ds[1].feats, ds[1].feats)                      # seeded: same item twice
    clips, _ = load_cmu_clips("train", messy_dir, cache_dir=cache)
    every = [c.feats for c in clips] + [c.feats_mirror for c in clips]
    np.testing.assert_allclose(stats.mean, compute_feature_stats(every).mean, atol=1e-6)


def test_mirroring_and_variants_applied(messy_dir, cache):
    stats = cmu_feature_stats(messy_dir, cache_dir=cache)
    cfg = DataConfig(mirror_prob=1.0, variant_prob=0.0)
    ds = cmu_dataset("train", messy_dir, cfg=cfg, stats=stats, cache_dir=cache, seed=0)
    index = next(i for i in range(len(ds)) if ds.clip_id(i) == "cmu_02_05" and len(ds.captions_of(i)) == 1)
    item = ds[index]
    assert item.caption == mirror_caption(ds.captions_of(index)[0])
    clip = next(c for c in ds.clips if c.clip_id == "cmu_02_05")
    raw = stats.denormalize(item.feats)
    starts = [s for s in range(len(clip.feats_mirror) - item.length + 1)
              if np.allclose(clip.feats_mirror[s:s + item.length], raw, atol=1e-5)]
    assert starts, "a mirrored item must be a crop of the mirrored features"
    torch.manual_seed(0)
    free = cmu_dataset("train", messy_dir, cfg=DataConfig(variant_prob=1.0), stats=stats, cache_dir=cache)
    seen = {free[i].caption for i in range(len(free)) for _ in range(20)}
    assert any(" is " in s and "ing" in s for s in seen) and seen <= set(free.all_captions())


def test_collate_pads_with_mask(messy_dir, cache):
    ds = cmu_dataset("train", messy_dir, cfg=EVAL_DATA_CONFIG, cache_dir=cache, seed=1)
    items = [ds[i] for i in range(len(ds))]
    batch = collate_motion(items)
    longest = max(it.length for it in items)
    assert batch.feats.shape == (len(items), longest, 263) and batch.joints.shape == (len(items), longest, 22, 3)
    assert batch.mask.dtype == torch.bool and batch.mask.sum(1).tolist() == [it.length for it in items]
    b = int(np.argmin([it.length for it in items]))
    assert torch.all(batch.feats[b, items[b].length:] == 0) and batch.captions[b] == items[b].caption
    with pytest.raises(ValueError):
        collate_motion([])


def test_epoch_indexed_reads_the_same_item_for_the_same_key(messy_dir, cache):
    ds = cmu_dataset("train", messy_dir, cache_dir=cache, seed=3)
    keyed = EpochIndexed(ds)
    first = keyed[(2, 1)]
    assert keyed[(0, 1)].length > 0 and keyed[(5, 0)].length > 0                # other keys read in between
    assert len(keyed) == len(ds) and ds.epoch == 5
    np.testing.assert_array_equal(keyed[(2, 1)].feats, first.feats)     # resumable: a key fixes the item
    with pytest.raises(ValueError, match="seed"):
        EpochIndexed(cmu_dataset("train", messy_dir, cache_dir=cache))


# --------------------------------------------------------------------------------- HumanML3D folder
def test_humanml3d_folder_loader(tmp_path):
    src = _source_clips()
    (tmp_path / "new_joint_vecs").mkdir()
    (tmp_path / "texts").mkdir()
    feats = {"000001": features_from_joints(src["cmu_02_05"]), "000002": features_from_joints(src["cmu_06_15"])}
    for name, f in feats.items():
        np.save(tmp_path / "new_joint_vecs" / f"{name}.npy", f)
    (tmp_path / "new_joint_vecs" / "000003.npy").write_bytes(b"corrupt")
    (tmp_path / "texts" / "000001.txt").write_text(
        "a person walks forward.#a/DET person/NOUN walk/VERB#0.0#0.0\n"
        "the person turns around.#the/DET person/NOUN turn/VERB#2.0#6.0\n"
        "the person waves.#the/DET person/NOUN wave/VERB#6.0#7.0\n")
    (tmp_path / "texts" / "000002.txt").write_text("a man jumps.#a/DET man/NOUN jump/VERB#nan#nan\n")
    (tmp_path / "train.txt").write_text("000001\n000002\n000003\n000004\n")
    ds = humanml3d_dataset(tmp_path, "train", cfg=EVAL_DATA_CONFIG, seed=0)
    assert [c.clip_id for c in ds.clips] == ["000001", "000002"]
    assert {k: v for k, v in ds.report.skipped.items()} == {
        "unreadable_motion": ["000003"], "missing_motion": ["000004"], "phase_too_short": ["000001#6.0#7.0"]}
    assert len(ds) == 3 and ds.captions_of(1) == ("the person turns around.",)
    assert ds[1].length in (76, 80)
    expected = compute_feature_stats(list(feats.values()))
    np.testing.assert_allclose(ds.stats.std, expected.std, rtol=1e-6)
    with pytest.raises(ValueError, match="not a HumanML3D folder"):
        humanml3d_dataset(tmp_path, "test")


def test_control_stats_of_training_crops(messy_dir, cache):
    from motionlcm_core.data import cmu_control_stats

    stats = cmu_control_stats(messy_dir, cache_dir=cache)
    assert stats.mean.shape == stats.std.shape == (22, 3)
    assert abs(stats.mean[0, 0]) < 0.05          # mirrored crops balance left and right
    assert 0.7 < stats.mean[0, 1] < 1.1 and stats.mean[15, 1] > stats.mean[0, 1]   # pelvis and head heights


def test_floor_crops_put_each_crop_on_its_own_floor(tmp_path, cache):
    """cmu_14_21 climbs onto steps and stays up there for a while: HumanML3D floors the whole clip, so crops of its
    top part float. ``floor_crops`` lowers each crop until its lowest joint touches y = 0 and changes
    nothing else (same crop, same horizontal motion)."""
    from motionlcm_core.motion import floor_height, put_on_floor
    root = write_subset(tmp_path, {k: _source_clips()[k] for k in ("cmu_14_21", "cmu_05_06")})
    stats = cmu_feature_stats(root, cache_dir=cache)
    plain = cmu_dataset("train", root, stats=stats, cache_dir=cache, seed=1)
    floored = cmu_dataset("train", root, cfg=DataConfig(floor_crops=True), stats=stats, cache_dir=cache, seed=1)
    lowest_plain, lowest_floored = [], []
    for epoch in range(20):
        plain.set_epoch(epoch)
        floored.set_epoch(epoch)
        for i in range(len(plain)):
            a, b = plain[i], floored[i]
            assert a.caption == b.caption and a.length == b.length
            np.testing.assert_allclose(a.joints[..., [0, 2]], b.joints[..., [0, 2]], atol=1e-4)
            shift = a.joints[..., 1].min() - b.joints[..., 1].min()
            np.testing.assert_allclose(a.joints[..., 1] - b.joints[..., 1], shift, atol=1e-4)
            lowest_plain.append(a.joints[..., 1].min())
            lowest_floored.append(b.joints[..., 1].min())
    assert max(lowest_plain) > 0.2                   # some crops of the climb float (its top part)
    np.testing.assert_allclose(lowest_floored, 0.0, atol=1e-4)
    feats = _source_clips()["cmu_14_21"]
    raw = features_from_joints(feats)[60:120]
    assert floor_height(raw) > 0.3 and floor_height(put_on_floor(raw)) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="263"):
        floor_height(raw[:, :100])
