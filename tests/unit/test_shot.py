"""Shot tools (issue 17): a path the pelvis follows, a prompt timeline without pops, loops that tile."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from motionlcm_core import Control, MotionLCMPipeline
from motionlcm_core.cli import main
from motionlcm_core.control import apply_exact
from motionlcm_core.io.checkpoints import save_weights
from motionlcm_core.shot import GroundPath, Segment, follow_path, generate_loop, generate_timeline, make_loop
from tests.unit.conftest import load_val_clip
from tests.unit.test_pipeline import tiny_config

#: joint speed (m/s) below which 99 % of the training data's joint speeds lie (measured on joints_train.npz)
REAL_SPEED_P99 = 3.88


@pytest.fixture(scope="module")
def pipe():
    torch.manual_seed(0)
    return MotionLCMPipeline.from_config(tiny_config(), device="cpu", seed=0)


def root_relative(frame: np.ndarray) -> np.ndarray:
    return frame - np.array([frame[0, 0], 0.0, frame[0, 2]])


def test_ground_plane_pins_leave_the_height_free():
    """A per-axis pin on the pelvis's x and z moves only those axes; the exact pass meets them exactly."""
    clip = load_val_clip("cmu_07_03", 60).astype(np.float64)
    pos, mask = np.zeros_like(clip), np.zeros(clip.shape, dtype=bool)
    pos[:, 0] = clip[:, 0] + [0.3, 5.0, -0.2]                # the height target (5 m) must be ignored
    mask[:, 0, [0, 2]] = True
    out = apply_exact(clip[None], pos[None], mask[None]).joints[0]
    assert np.abs(out[:, 0, [0, 2]] - pos[:, 0, [0, 2]]).max() < 1e-5
    assert np.abs(out[:, 0, 1] - clip[:, 0, 1]).max() < 1e-5


def test_path_is_followed_at_every_frame_facing_along_it(pipe):
    points = np.array([[1.0, 2.0], [1.0, 3.5], [2.5, 4.5]])          # starts heading +Z, then turns right
    path = GroundPath(points)
    res = follow_path(pipe, "a person walks", path, seconds=3.0, seed=0)
    j = res.clip(0)
    track = path.track(len(j))
    assert np.allclose(track[0], points[0]) and np.allclose(track[-1], points[-1], atol=1e-6)
    assert np.linalg.norm(j[:, 0][:, [0, 2]] - track, axis=-1).max() < 0.05
    assert res.report["path"]["ground_error_max_m"] < 0.05 and res.report["body"] is not None
    rot, trans = path.frame()
    assert np.allclose(np.array([0.0, 0.0, 1.0]) @ rot, [0.0, 0.0, 1.0])     # the first leg heads +Z
    slow = GroundPath(points, speed_m_s=0.5).track(60)
    assert np.linalg.norm(np.diff(slow, axis=0), axis=-1).sum() == pytest.approx(0.5 * 59 / 20, rel=1e-6)


def test_path_refuses_bad_points():
    for bad, match in (([[0, 0]], "at least two"), ([[0, 0], [0, 0.001]], "shorter than 1 cm"),
                       ([[0, 0], [np.nan, 1]], "finite")):
        with pytest.raises(ValueError, match=match):
            GroundPath(np.array(bad, dtype=float))
    with pytest.raises(ValueError, match="speed"):
        GroundPath(np.array([[0.0, 0.0], [0.0, 1.0]]), speed_m_s=-1.0)


@pytest.mark.parametrize("in_place", [False, True])
def test_make_loop_closes_pose_velocity_and_travel(in_place):
    clip = load_val_clip("cmu_07_03", 80).astype(np.float64)
    raw_gap = np.abs(root_relative(clip[-1]) - root_relative(clip[0])).max()
    loop = make_loop(clip, in_place=in_place)
    assert raw_gap > 0.05                                              # the clip was not a loop before
    assert np.abs(root_relative(loop[-1]) - root_relative(loop[0])).max() < 0.01
    seam = np.linalg.norm((loop[-1] - loop[-2]) - (loop[1] - loop[0]), axis=-1) * 20
    assert seam.max() < REAL_SPEED_P99
    travel = loop[-1, 0, [0, 2]] - loop[0, 0, [0, 2]]
    if in_place:
        assert np.linalg.norm(travel) < 0.01
    else:
        assert np.allclose(travel, clip[-1, 0, [0, 2]] - clip[0, 0, [0, 2]], atol=1e-6)


def test_generate_loop_returns_a_closed_cycle(pipe):
    res = generate_loop(pipe, "a person walks", seconds=2.0, in_place=True, seed=1)
    j = res.clip(0)
    assert j.shape == (40, 22, 3) and res.report["loop"]["in_place"]
    assert np.abs(root_relative(j[-1]) - root_relative(j[0])).max() < 0.01
    assert np.linalg.norm(j[-1, 0, [0, 2]] - j[0, 0, [0, 2]]) < 0.01


def test_timeline_is_one_motion_without_pops(pipe):
    segs = [Segment("a person walks forward", 2.0), Segment("a person sits down", 2.0), Segment("a person waves", 2.5)]
    tl = generate_timeline(pipe, segs, seed=3)
    assert tl.segment_starts == [0, 40, 80] and tl.joints.shape == (130, 22, 3)
    assert np.isfinite(tl.joints).all() and len(tl.reports) == 3
    assert all(r["controlled"] for r in tl.reports[1:])        # later segments start from pins
    assert len(tl.seam_step_m) == 2 and tl.raw.shape == tl.joints.shape and tl.channels.shape == (130, 4)
    again = generate_timeline(pipe, segs, seed=7, keep=tl, redo=1)         # only the middle segment is new
    assert np.array_equal(again.raw[:40], tl.raw[:40]) and np.array_equal(again.raw[80:], tl.raw[80:])
    assert not np.allclose(again.raw[40:80], tl.raw[40:80])
    with pytest.raises(ValueError, match="redo must index"):
        generate_timeline(pipe, segs, keep=tl, redo=3)


def test_timeline_seams_are_no_faster_than_real_motion():
    """The embedded model: walk → sit → wave; joint speed across each seam within real motion's 99th percentile."""
    pipe = MotionLCMPipeline.from_pretrained("embedded", device="cpu")
    segs = [Segment("a person walks forward", 3.0), Segment("a person stops and sits down", 3.0),
            Segment("a person waves", 2.5)]
    tl = generate_timeline(pipe, segs, seed=0)
    # a model with a bank samples every segment from its exemplar (no pins) and joins them by the field
    assert all(not r["controlled"] and r["retrieval"] for r in tl.reports)
    redone = generate_timeline(pipe, segs, seed=5, keep=tl, redo=1)     # the middle one again, neighbours kept
    np.testing.assert_array_equal(redone.raw[:60], tl.raw[:60])
    np.testing.assert_array_equal(redone.raw[120:], tl.raw[120:])
    for name, t in (("timeline", tl), ("middle segment regenerated", redone)):
        speed = np.linalg.norm(np.diff(t.joints, axis=0), axis=-1) * 20                   # (T-1, 22) m/s
        seams = [speed[s - 2:s + 1].max() for s in t.segment_starts[1:]]
        print(f"{name}: largest joint speed at the seams {np.round(seams, 2)} m/s (real p99 {REAL_SPEED_P99})")
        assert max(seams) <= REAL_SPEED_P99


def test_timeline_refuses_bad_segments_before_any_work(pipe):
    with pytest.raises(ValueError, match="outside the model's clip range"):
        generate_timeline(pipe, [Segment("a person walks", 2.0), Segment("a person runs", 30.0)])
    with pytest.raises(ValueError, match="needs a prompt"):
        Segment("  ", 2.0)
    with pytest.raises(ValueError, match="prompt"):
        Segment.list_from([{"seconds": 2}])


def test_cli_path_loop_and_timeline(tmp_path, pipe):
    weights = tmp_path / "tiny.safetensors"
    save_weights(weights, {"vae": pipe.vae.state_dict(), "denoiser": pipe.denoiser.state_dict(),
                           "controlnet": pipe.controlnet.state_dict(), "traj_encoder": pipe.traj_encoder.state_dict()},
                 pipe.cfg, training={"untrained": True})
    (tmp_path / "path.json").write_text(json.dumps({"points": [[0, 0], [0, 1.5], [1, 2.5]]}))
    (tmp_path / "tl.json").write_text(json.dumps([{"prompt": "a person walks", "seconds": 2},
                                                  {"prompt": "a person waves", "seconds": 2}]))
    model = ["--model", str(weights), "--seed", "0"]
    assert main(["generate", "a person walks", "--seconds", "2", "--path", str(tmp_path / "path.json"),
                 "--out", str(tmp_path / "p.npz"), *model]) == 0
    j = np.load(tmp_path / "p.npz")["joints"]
    assert j.shape == (40, 22, 3) and np.allclose(j[0, 0, [0, 2]], 0, atol=1e-4)
    assert np.allclose(j[-1, 0, [0, 2]], [1, 2.5], atol=1e-4)
    assert main(["generate", "a person walks", "--seconds", "2", "--loop", "--in-place",
                 "--out", str(tmp_path / "l.npz"), *model]) == 0
    loop = np.load(tmp_path / "l.npz")["joints"]
    assert np.abs(root_relative(loop[-1]) - root_relative(loop[0])).max() < 0.01
    assert main(["timeline", str(tmp_path / "tl.json"), "--out", str(tmp_path / "t.npz"), *model]) == 0
    t = np.load(tmp_path / "t.npz")
    assert t["joints"].shape == (80, 22, 3) and t["segment_starts"].tolist() == [0, 40]
    assert main(["generate", "x", "--path", str(tmp_path / "missing.json"), "--out", str(tmp_path / "x.npz"),
                 *model]) == 2
    assert main(["generate", "x", "--loop", "--pin", "pelvis@3=0,0.9,0", "--out", str(tmp_path / "x.npz"),
                 *model]) == 2


def test_per_axis_control_reaches_the_controlnet_and_refinement(pipe):
    """A per-axis mask is accepted end to end and met on its axes only."""
    pos, mask = np.zeros((40, 22, 3), np.float32), np.zeros((40, 22, 3), bool)
    pos[::5, 0, 0], mask[::5, 0, 0] = 0.4, True                            # only x of the pelvis, every 5 frames
    res = pipe.generate(text_embeddings=torch.nn.functional.normalize(torch.randn(1, 384), dim=-1), lengths=40,
                        seed=0, control=Control(pos, mask))
    assert np.abs(res.joints[0, ::5, 0, 0] - 0.4).max() < 1e-4 and res.report["pin_residual_max_m"] < 1e-4
