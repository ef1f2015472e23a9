"""The shipped default model: its sizes, the four-stage chain that trains it, export and sanity checks.

``python -m motionlcm_core.training embedded`` runs VAE → teacher → LCD → ControlNet under
``runs/embedded/<stage>`` (each stage resumes from its checkpoint, so the command can simply be
re-run after any interruption), then writes ``motionlcm_core/weights/embedded.safetensors`` with the
record of every stage (commands, steps, wall time, losses) and the sanity numbers in its metadata.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import ModelConfig
from ..io.checkpoints import save_weights
from ..text_encoder import EMBEDDED_NAME
from . import distill_lcm, train_controlnet, train_denoiser, train_vae
from .config import TrainConfig
from .sanity import sanity_report
from .stage_weights import WEIGHTS, load_stage

log = logging.getLogger("motionlcm_core.training")
_REPO = Path(__file__).resolve().parents[2]

#: Sizes of the embedded model (latent 8×16; VAE/trajectory encoder width 128, denoiser width 192).
VAE_SIZE = dict(hidden_dim=128, ff_size=256, num_layers=5, num_heads=4, dropout=0.0, latent_tokens=8, latent_dim=16)
DENOISER_SIZE = dict(hidden_dim=192, ff_size=384, num_layers=5, num_heads=4, dropout=0.1, time_dim=256,
                     w_cond_dim=256)
TRAJ_SIZE = dict(hidden_dim=128, ff_size=256, num_layers=5, num_heads=4, dropout=0.0, embed_dim=128)
STAGES = {"vae": train_vae, "teacher": train_denoiser, "lcd": distill_lcm, "controlnet": train_controlnet}
STAGE_CONFIGS = {"vae": train_vae.TrainVAEConfig, "teacher": train_denoiser.TrainDenoiserConfig,
                 "lcd": distill_lcm.DistillLCMConfig, "controlnet": train_controlnet.TrainControlNetConfig}


@dataclass(frozen=True)
class EmbeddedConfig:
    """Train the embedded default model (all stages, resumable) and write its weights file."""

    run_dir: str = "runs/embedded"
    output: str = str(_REPO / "motionlcm_core" / "weights" / "embedded.safetensors")
    data_dir: str = ""
    device: str = "cpu"
    threads: int = 1
    seed: int = 1234
    vae_steps: int = 3000
    vae_lr: float = 1e-3
    vae_pe_init: str = "sine"                          # spec: "uniform" U[0,1); see TrainVAEConfig.pe_init
    # VAE size (default VAE_SIZE, the shipped model's); the latent shape also sets the denoiser's
    vae_hidden_dim: int = VAE_SIZE["hidden_dim"]
    vae_ff_size: int = VAE_SIZE["ff_size"]
    vae_latent_tokens: int = VAE_SIZE["latent_tokens"]
    vae_latent_dim: int = VAE_SIZE["latent_dim"]
    vae_bone_weight: float = 0.0                       # bone-length loss of the VAE (TrainVAEConfig.bone_weight)
    teacher_steps: int = 1500
    lcd_steps: int = 2000
    controlnet_steps: int = 4000
    controlnet_lr: float = 3e-4
    controlnet_cond_ratio: float = 100.0              # spec: 1.0; weighted up for a short run
    controlnet_lcm_grid: int = 1                       # spec: 10 grid timesteps; 1: only the 1-step sampler's t=999
    controlnet_joint_weights: str = ""                 # spec: uniform over the 6 joints; e.g. "5,1,1,1,1,1"
    controlnet_synthetic_ratio: float = 0.0            # share of batches sampled by the student itself
    guidance_w_range: tuple[float, float] = (5.0, 15.0)  # w drawn in LCD and ControlNet training (scale = w + 1)
    one_step_guidance: float = 14.0                    # 1-step guidance scale written at export; 0: the V2 table's
    multi_step_guidance: float = 0.0                   # 2- and 4-step scale written at export; 0: the V2 table's
    batch_scale: int = 1                                 # multiplies every stage's batch (e.g. 4 on a GPU)
    num_workers: int = 0                                 # data-loading processes per stage
    floor_crops: bool = True                             # every training crop on its own floor (DataConfig)
    # > 0: that stage trains for about this many minutes (its *_steps become a cap; see TrainConfig)
    vae_minutes: float = 0.0
    teacher_minutes: float = 0.0
    lcd_minutes: float = 0.0
    controlnet_minutes: float = 0.0
    stages: str = "vae,teacher,lcd,controlnet,export"   # subset to run, in this order
    bank: bool = True                                    # export adds the retrieval bank (motionlcm_core.retrieval)
    fp16: bool = True                                    # export stores the networks in fp16 (half the size)

    def __post_init__(self) -> None:
        if self.batch_scale < 1:
            raise ValueError(f"batch_scale must be >= 1, got {self.batch_scale}")
        unknown = set(self.stage_list()) - set(STAGES) - {"export"}
        if unknown:
            raise ValueError(f"unknown stages {sorted(unknown)}; use a subset of {[*STAGES, 'export']}")
        if self.one_step_guidance and not self.one_step_guidance >= 1.0:
            raise ValueError(f"one_step_guidance must be >= 1 (or 0 for the V2 table), got {self.one_step_guidance}")
        if self.multi_step_guidance and not self.multi_step_guidance >= 1.0:
            raise ValueError(f"multi_step_guidance must be >= 1 (or 0 for the V2 table), "
                             f"got {self.multi_step_guidance}")

    def stage_list(self) -> list[str]:
        return [s.strip() for s in self.stages.split(",") if s.strip()]


def vae_size(cfg: EmbeddedConfig) -> dict:
    """The VAE's size flags: ``VAE_SIZE`` with the chain's overrides."""
    return {**VAE_SIZE, "hidden_dim": cfg.vae_hidden_dim, "ff_size": cfg.vae_ff_size,
            "latent_tokens": cfg.vae_latent_tokens, "latent_dim": cfg.vae_latent_dim}


def stage_configs(cfg: EmbeddedConfig) -> dict[str, TrainConfig]:
    """The ``Train*Config`` of every stage of the chain."""
    run, k = Path(cfg.run_dir), cfg.batch_scale
    common = dict(data_dir=cfg.data_dir, device=cfg.device, threads=cfg.threads, seed=cfg.seed, log_every=25,
                  save_every=100, num_workers=cfg.num_workers, floor_crops=cfg.floor_crops)
    return {
        "vae": train_vae.TrainVAEConfig(out_dir=str(run / "vae"), steps=cfg.vae_steps, batch_size=16 * k, lr=cfg.vae_lr,
                                        pe_init=cfg.vae_pe_init, time_limit_min=cfg.vae_minutes,
                                        bone_weight=cfg.vae_bone_weight, **vae_size(cfg), **common),
        "teacher": train_denoiser.TrainDenoiserConfig(
            out_dir=str(run / "teacher"), init=str(run / "vae" / WEIGHTS), steps=cfg.teacher_steps, batch_size=32 * k,
            lr=2e-4, time_limit_min=cfg.teacher_minutes, text_encoder=EMBEDDED_NAME, **DENOISER_SIZE, **common),
        "lcd": distill_lcm.DistillLCMConfig(out_dir=str(run / "lcd"), init=str(run / "teacher" / WEIGHTS),
                                            steps=cfg.lcd_steps, batch_size=32 * k, lr=2e-4,
                                            w_range=cfg.guidance_w_range, time_limit_min=cfg.lcd_minutes, **common),
        "controlnet": train_controlnet.TrainControlNetConfig(
            out_dir=str(run / "controlnet"), init=str(run / "lcd" / WEIGHTS), steps=cfg.controlnet_steps,
            batch_size=16 * k, lr=cfg.controlnet_lr, lr_spatial=cfg.controlnet_lr,
            time_limit_min=cfg.controlnet_minutes,
            cond_ratio=cfg.controlnet_cond_ratio, lcm_grid=cfg.controlnet_lcm_grid,
            joint_weights=cfg.controlnet_joint_weights, synthetic_ratio=cfg.controlnet_synthetic_ratio,
            w_range=cfg.guidance_w_range, **TRAJ_SIZE, **common),
    }


def command_line(stage: str, cfg: TrainConfig) -> str:
    """The ``python -m motionlcm_core.training`` command equivalent to ``cfg`` (flags differing from defaults)."""
    default = type(cfg)()
    flags = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if value == getattr(default, f.name):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, tuple):
            flags.append(f"{flag} {' '.join(map(str, value))}")
        else:
            flags.append(f"{flag} {value}")
    return " ".join(["python -m motionlcm_core.training", stage, *flags])


def stage_runs(record: dict) -> list[dict]:
    """The runs of one stage, first to last: a warm-started run's record nests the one it continued
    (``continues``, see :func:`~motionlcm_core.training.stage_weights.with_stage_record`)."""
    runs = []
    while record:
        runs.insert(0, record)
        record = record.get("continues")
    return runs


def recorded_commands(training: dict) -> list[str]:
    """The command of every run recorded in a file's ``training`` metadata, in chain order (rebuilt from
    the configs the runs stored, so it holds for runs made outside the chain command too)."""
    commands = []
    for stage, cls in STAGE_CONFIGS.items():
        known = {f.name for f in dataclasses.fields(cls)}
        for run in stage_runs(training.get(stage, {})):
            values = {k: tuple(v) if isinstance(v, list) else v for k, v in run["config"].items() if k in known}
            commands.append(command_line(stage, cls(**values)))
    return commands


def with_guidance(model_cfg: ModelConfig, one_step: float, multi_step: float = 0.0) -> ModelConfig:
    """``model_cfg`` with the guidance scale of 1-step sampling set to ``one_step`` and that of 2- and 4-step
    sampling to ``multi_step`` (0: unchanged). The student is distilled for w = scale − 1 in its LCD run's
    ``w_range`` (spec [5, 15]); the scales that suit a given student are chosen on the val split."""
    sched = model_cfg.scheduler
    table = dict(sched.cfg_step_map)
    if one_step:
        table[1] = float(one_step)
    if multi_step:
        table.update({2: float(multi_step), 4: float(multi_step)})
    if table == sched.cfg_step_map:
        return model_cfg
    return dataclasses.replace(model_cfg, scheduler=dataclasses.replace(sched, cfg_step_map=table))


def export(cfg: EmbeddedConfig, configs: dict[str, TrainConfig]) -> Path:
    """Copy the last stage's file to ``cfg.output`` with the full training record and sanity numbers."""
    final = load_stage(Path(configs["controlnet"].out_dir) / WEIGHTS, "export")
    final.require("vae", "teacher", "denoiser", "controlnet", "traj_encoder", "stats", stage="export")
    sizes = {prefix: sum(t.numel() for t in sd.values()) for prefix, sd in final.parts.items()}
    record = {"stages": final.training, "commands": recorded_commands(final.training),
              "parameters": sizes, "sizes": {"vae": vae_size(cfg), "denoiser": DENOISER_SIZE, "traj_encoder": TRAJ_SIZE},
              "data": "CMU mocap text-motion set v2 (../shared/data, train split, mirrored, caption variants)",
              "chain_command": command_line("embedded", cfg)}
    model_cfg = with_guidance(final.config, cfg.one_step_guidance, cfg.multi_step_guidance)
    if cfg.one_step_guidance:
        record["one_step_guidance"] = float(cfg.one_step_guidance)
    if cfg.multi_step_guidance:
        record["multi_step_guidance"] = float(cfg.multi_step_guidance)
    parts = dict(final.parts)
    if cfg.bank:
        from .bank import make_bank
        bank, record["bank"] = make_bank(model_cfg, parts, cfg.data_dir)
        parts["bank"] = bank.state_dict()
    dtype = torch.float16 if cfg.fp16 else torch.float32
    record["storage"] = "fp16" if cfg.fp16 else "fp32"
    out = save_weights(cfg.output, parts, model_cfg, training=record, dtype=dtype)
    record["sanity"] = sanity_report(out, seed=cfg.seed)
    save_weights(cfg.output, parts, model_cfg, training=record, dtype=dtype)
    Path(cfg.output).with_name("TRAINING.md").write_text(training_markdown(record, out))
    log.info("wrote %s (%.1f MB): %s", out, out.stat().st_size / 1e6, json.dumps(record["sanity"]))
    return out


def training_markdown(record: dict, path: Path) -> str:
    """The human-readable record shipped beside the weights (generated, not hand-edited)."""
    lines = [f"# {path.name}: how it was trained", "", f"Data: {record['data']}.", "",
             f"Whole chain (resumable; re-run after any interruption): `{record['chain_command']}`", "",
             f"File: {path.stat().st_size / 1e6:.1f} MB ({record.get('storage', 'fp32')} safetensors; config and this "
             "record in its metadata" + (f"; retrieval bank of {record['bank']['captions']} captions, "
                                         f"{record['bank']['windows']} windows" if "bank" in record else "") + ").",
             "",
             "| stage | device | steps | batch | wall time (min) | final losses (mean of the last log window) |",
             "|---|---|---|---|---|---|"]
    for stage in [s for s in STAGES if s in record["stages"]]:
        for i, rec in enumerate(stage_runs(record["stages"][stage])):
            losses = ", ".join(f"{k} {v:.4g}" for k, v in rec.get("final_losses", {}).items())
            batch, minutes = rec["config"]["batch_size"], rec["wall_s"] / 60
            label = stage if i == 0 else f"{stage} (continued)"
            lines.append(f"| {label} | {rec['config'].get('device', '')} | {rec['steps']} | {batch} | {minutes:.1f} "
                         f"| {losses} |")
    if "parameters" in record:
        counts = ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in record["parameters"].items() if k != "stats")
        lines += ["", f"Parameters: {counts}. Text encoder: all-MiniLM-L6-v2 (384-d, frozen, not in this file).",
                  "", "Sizes: " + json.dumps(record["sizes"], sort_keys=True)]
    vae = record["stages"].get("vae", {})
    if "val_mpjpe_mm" in vae:
        lines += ["", f"VAE reconstruction on the val split: MPJPE {vae['val_mpjpe_mm']} mm "
                      f"({vae['val_mpjpe_root_aligned_mm']} mm root-aligned) over {vae['val_frames']} frames."]
        if "val_motion_ratio" in vae:
            lines.append(f"Motion kept (temporal std of root-relative joints, reconstructed / real): "
                         f"{vae['val_motion_ratio']}.")
    lines += ["", "Commands of the runs, in order (from the configs they recorded):", "", "```"] + record["commands"] \
        + ["```"]
    lines += ["", "Sanity checks (`motionlcm_core.training.sanity`):", "", "```json",
              json.dumps(record.get("sanity", {}), indent=1, sort_keys=True), "```", ""]
    return "\n".join(lines)


def main(cfg: EmbeddedConfig) -> Path | None:
    """Run the selected stages in order (each resumes), then export."""
    torch.set_num_threads(max(cfg.threads, 1))
    configs = stage_configs(cfg)
    for stage in cfg.stage_list():
        if stage == "export":
            return export(cfg, configs)
        log.info("embedded: stage %s: %s", stage, command_line(stage, configs[stage]))
        STAGES[stage].main(configs[stage])
    return None
