"""``motionlcm`` command line: generate motion to BVH/NPZ, benchmark, evaluate."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from .control.exact import ExactConfig
from .control.passes import PinPassConfig, RefineConfig
from .control.targets import Control
from .motion.skeleton import JOINT_NAMES, num_frames


def _pipeline(args: argparse.Namespace):
    from . import MotionLCMPipeline
    if args.checkpoint:
        return MotionLCMPipeline.from_official_checkpoint(args.checkpoint, version=args.version,
                                                          text_encoder=args.text_encoder, device=args.device,
                                                          dtype=args.dtype)
    return MotionLCMPipeline.from_pretrained(args.model, device=args.device, dtype=args.dtype)


def parse_pins(pins: list[str], frames: int) -> Control:
    """``JOINT@FRAME=X,Y,Z`` (model frame: metres, Y up, the clip starts at the origin facing +Z)."""
    pos = np.zeros((frames, 22, 3), np.float32)
    mask = np.zeros((frames, 22), bool)
    for pin in pins:
        try:
            joint, rest = pin.split("@")
            frame, xyz = rest.split("=")
            j, f = JOINT_NAMES.index(joint), int(frame)
            values = [float(v) for v in xyz.split(",")]
        except ValueError as exc:
            raise ValueError(f"bad --pin {pin!r}: use JOINT@FRAME=X,Y,Z with JOINT one of {', '.join(JOINT_NAMES)}"
                             ) from exc
        if len(values) != 3 or not 0 <= f < frames:
            raise ValueError(f"bad --pin {pin!r}: three coordinates and a frame in 0..{frames - 1}")
        pos[f, j], mask[f, j] = values, True
    return Control(pos, mask)


def pin_passes(args: argparse.Namespace) -> PinPassConfig:
    """The :class:`PinPassConfig` of the ``--no-refine``, ``--refine-steps``, ``--refine-strength``,
    ``--no-exact`` and ``--no-floor`` flags (the defaults where a flag is not given)."""
    given = {"steps": args.refine_steps, "lr": args.refine_strength}
    refine = None if args.no_refine else RefineConfig(**{k: v for k, v in given.items() if v is not None})
    return PinPassConfig(refine=refine, exact=None if args.no_exact else ExactConfig(),
                         floor=False if args.no_floor else None)


def cmd_generate(args: argparse.Namespace) -> int:
    out = _checked_out(args.out)
    pipe = _pipeline(args)
    if not pipe.trained:
        print("WARNING: the loaded model is UNTRAINED (random weights): the motion is noise, not your prompt.",
              file=sys.stderr)
    if (args.path or args.loop) and (args.pin or args.teacher):
        raise ValueError("--path and --loop work with the LCM student and without --pin")
    if args.path and args.loop:
        raise ValueError("give --path or --loop, not both")
    common = dict(num_steps=args.steps, seed=args.seed, guidance_scale=args.guidance)
    if args.path:
        from .shot.path import GroundPath, follow_path
        res = follow_path(pipe, args.prompt, GroundPath(_read_json(args.path, "path").get("points"), args.speed),
                          seconds=args.seconds, passes=_path_passes(args), **common)
    elif args.loop:
        from .shot.loop import generate_loop
        res = generate_loop(pipe, args.prompt, seconds=args.seconds, in_place=args.in_place, **common)
    else:
        control = parse_pins(args.pin, num_frames(args.seconds)) if args.pin else None
        res = pipe.generate([args.prompt], seconds=args.seconds, teacher=args.teacher, control=control,
                            passes=pin_passes(args), body=not args.raw_body,
                            retrieval=False if args.no_retrieval else None, **common)
    _write(out, res.clip(0), res.feats[0, : res.lengths[0]], res.fps,
           {**res.report, "seed": res.seed, "seconds": args.seconds})
    ms = {k: round(v * 1000, 1) for k, v in res.timings.items()}
    print(f"wrote {out} ({res.lengths[0]} frames at {res.fps} fps, seed {res.seed}, {pipe.description} on "
          f"{pipe.device_label}); timings ms: {ms}")
    return 0


def _path_passes(args: argparse.Namespace) -> PinPassConfig:
    """A path pins every frame: refinement only when asked for with --refine-steps/--refine-strength."""
    passes = pin_passes(args)
    asked = args.refine_steps is not None or args.refine_strength is not None
    return passes if asked else dataclasses.replace(passes, refine=None)


def cmd_timeline(args: argparse.Namespace) -> int:
    from .shot.timeline import Segment, generate_timeline
    out = _checked_out(args.out)
    segments = Segment.list_from(_read_json(args.timeline, "timeline"))
    pipe = _pipeline(args)
    tl = generate_timeline(pipe, segments, seed=0 if args.seed is None else args.seed, num_steps=args.steps)
    _write(out, tl.joints, None, tl.fps, {"segments": [vars(s) for s in segments], "reports": tl.reports,
                                          "body": tl.body}, segment_starts=np.asarray(tl.segment_starts))
    print(f"wrote {out} ({len(tl.joints)} frames at {tl.fps} fps, segments start at {tl.segment_starts})")
    return 0


def _checked_out(path: str) -> Path:
    out = Path(path)
    if out.suffix.lower() not in (".bvh", ".npz"):
        raise ValueError(f"--out must end in .bvh or .npz, got {out.name}")
    return out


def _read_json(path: str, what: str):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the {what} file {path}: {exc}") from exc


def _write(out: Path, joints: np.ndarray, feats: np.ndarray | None, fps: int, report: dict, **extra) -> None:
    """``.bvh`` (SMPL skeleton) or ``.npz`` (``joints``, ``feats``, ``fps``, ``settings`` JSON, ``extra`` arrays)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".bvh":
        from .io.bvh import write_bvh
        write_bvh(out, joints, fps=fps)
        return
    arrays = {"feats": feats} if feats is not None else {}
    np.savez(out, joints=joints, fps=fps, settings=json.dumps(report, default=str), **arrays, **extra)


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import main as bench_main
    return bench_main(args)


def cmd_eval(args: argparse.Namespace) -> int:
    from .eval.cli import main as eval_main
    return eval_main(args)


def cmd_train(args: argparse.Namespace) -> int:
    from .training.__main__ import run
    return run([args.stage, *args.rest])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="motionlcm", description="MotionLCM text-to-motion (in-process, offline)")
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="generate one motion to .bvh or .npz")
    g.add_argument("prompt")
    g.add_argument("--seconds", type=float, default=6.0)
    g.add_argument("--steps", type=int, default=1, choices=[1, 2, 4])
    g.add_argument("--seed", type=int, default=None)
    g.add_argument("--guidance", type=float, default=None, help="guidance scale (default: the model's per-step map)")
    g.add_argument("--teacher", action="store_true", help="sample with the MLD teacher (DDIM 50 + CFG)")
    g.add_argument("--pin", action="append", default=[], metavar="JOINT@FRAME=X,Y,Z",
                   help="pin a joint at a frame (model frame, metres, Y up); repeatable, e.g. pelvis@60=0,0.9,2")
    g.add_argument("--no-refine", action="store_true", help="pins: skip the latent refinement pass")
    g.add_argument("--refine-steps", type=int, default=None)
    g.add_argument("--refine-strength", type=float, default=None)
    g.add_argument("--no-exact", action="store_true", help="pins: skip the exact pass (ControlNet only)")
    g.add_argument("--no-retrieval", action="store_true",
                   help="sample from pure noise (the embedded model otherwise starts from a retrieved training motion)")
    g.add_argument("--raw-body", action="store_true",
                   help="keep the decoded joints as they are (no rigid bones, grounding or planted feet)")
    g.add_argument("--no-floor", action="store_true",
                   help="keep the model's own heights (default without pins: the clip's lowest joint on y = 0)")
    g.add_argument("--path", default=None, metavar="PATH.json",
                   help='follow a ground path: {"points": [[x, z], ...]} metres, model frame, the first where the '
                        "pelvis starts; at constant speed over the clip (or --speed)")
    g.add_argument("--speed", type=float, default=None, help="--path: walking speed in m/s")
    g.add_argument("--loop", action="store_true", help="a cycle whose last frame joins the first")
    g.add_argument("--in-place", action="store_true", help="--loop: no travel (else a constant stride)")
    g.add_argument("--out", required=True, help="output .bvh (SMPL skeleton) or .npz (joints, feats, settings)")
    tl = sub.add_parser("timeline", help="one continuous motion from a list of prompts")
    tl.add_argument("timeline", help='tl.json: [{"prompt": "...", "seconds": S}, ...]')
    tl.add_argument("--steps", type=int, default=1, choices=[1, 2, 4])
    tl.add_argument("--seed", type=int, default=None)
    tl.add_argument("--out", required=True, help="output .npz (joints, segment_starts, settings) or .bvh")
    tl.set_defaults(func=cmd_timeline)
    for sp in (g, tl):
        sp.add_argument("--model", default="embedded", help="our .safetensors file, or 'embedded'")
        sp.add_argument("--checkpoint", default=None, help="official MotionLCM .ckpt instead of --model")
        sp.add_argument("--version", default="v2", choices=["v1", "v2"])
        sp.add_argument("--text-encoder", default=None, help="local sentence-t5-large folder (official weights)")
        sp.add_argument("--device", default="auto")
        sp.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "fp16", "auto"])
    g.set_defaults(func=cmd_generate)
    b = sub.add_parser("bench", help="per-stage latency medians (V2 full config, random weights)")
    b.add_argument("--json", action="store_true")
    b.add_argument("--runs", type=int, default=10)
    b.add_argument("--batches", default="1,32")
    b.add_argument("--frames", type=int, default=196)
    b.add_argument("--device", default="auto")
    b.add_argument("--dtypes", default="fp32,auto", help="fp32, bf16, fp16 or auto (the dtype auto picks, and why)")
    b.add_argument("--model", default=None, help="benchmark a weights file instead of the random V2 config")
    b.set_defaults(func=cmd_bench)
    e = sub.add_parser("eval", help="evaluate a model on the test split (markdown table + plot)")
    e.add_argument("--model", default="embedded")
    e.add_argument("--json", action="store_true")
    e.add_argument("--out", default="eval_output")
    e.add_argument("--device", default="auto")
    e.add_argument("--quick", action="store_true", help="fewer samples (smoke run)")
    e.add_argument("--probes", action="store_true",
                   help="run the prompt probes of ../shared/probes ($MOTIONLCM_PROBES_DIR) for 1/2/4 steps, the raw "
                        "joints and the retrieval baseline; writes probes.md/probes.json to --out")
    e.set_defaults(func=cmd_eval)
    t = sub.add_parser("train", help="train a stage (vae, teacher, lcd, controlnet) or the embedded chain",
                       add_help=False)
    t.add_argument("stage")
    t.add_argument("rest", nargs=argparse.REMAINDER)
    t.set_defaults(func=cmd_train)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
