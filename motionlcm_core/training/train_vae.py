"""Stage 1: the motion VAE (spec §2.4): SmoothL1 on features and on recovered joints + 1e-4·KL.

``python -m motionlcm_core.training vae --out-dir runs/vae --steps 20000`` (defaults: official V2 sizes).
Writes ``<out_dir>/model.safetensors`` with ``vae.*`` and ``stats.*`` (Mean/Std of the training data).
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import torch

from ..config import ModelConfig, VAEConfig
from ..data import EVAL_DATA_CONFIG, collate_motion
from ..eval.eval_set import pad_feats
from ..eval.metrics import body_motion
from ..models import MotionVAE
from ..models.embeddings import timestep_sinusoid
from ..motion import FeatureStats, recover_joints
from .config import ArchConfig
from .datasets import dataset, feature_stats
from .distributed import init_distributed
from .loop import TrainResult, config_record, train
from .objectives import vae_objective
from .stage_weights import StageWeights, cpu_state, save_stage, stats_part, warm_start, with_stage_record

log = logging.getLogger("motionlcm_core.training")


@dataclass(frozen=True)
class TrainVAEConfig(ArchConfig):
    """Train the motion VAE (AdamW lr 2e-4, cosine + warm-up, grad clip 1.0)."""

    out_dir: str = "runs/vae"
    lr: float = 2e-4
    latent_tokens: int = 16
    latent_dim: int = 32
    kl_weight: float = 1e-4
    eval_batches: int = 8              # validation batches for the reconstruction error at the end
    # Initial positional tables of the encoder and decoder: "uniform" (spec: U[0,1), unrelated per frame) or
    # "sine" (the sinusoid table, neighbouring frames alike; short CPU runs otherwise decode nearly static motion)
    pe_init: str = "uniform"
    warm_start: str = ""               # a file holding a VAE (and its stats) whose training continues (same sizes)
    decoder_only: bool = False         # train the decoder alone (needs warm_start): the latent space stays fixed
    bone_weight: float = 0.0           # weight of the bone-length loss (m; see vae_objective)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.pe_init not in ("uniform", "sine"):
            raise ValueError(f"pe_init must be 'uniform' or 'sine', got {self.pe_init!r}")
        if self.decoder_only and not self.warm_start:
            raise ValueError("decoder_only needs --warm-start: a file whose VAE encoder (latent space) is kept")
        if self.bone_weight < 0:
            raise ValueError(f"bone_weight must be >= 0, got {self.bone_weight}")


def init_positional_tables(vae: MotionVAE, kind: str) -> None:
    """Set the VAE's learned positional tables ``pe (max_len, 1, H)`` to ``kind`` ("uniform": U[0,1) as
    built; "sine": position p → [sin, cos] of p·10000^(−i/(H/2)), in [−1, 1])."""
    if kind == "uniform":
        return
    for table in (vae.query_pos_encoder.pe, vae.query_pos_decoder.pe):
        n, _, hidden = table.shape
        with torch.no_grad():
            table.copy_(timestep_sinusoid(torch.arange(n), hidden, flip_sin_to_cos=False)[:, None])


@torch.no_grad()
def reconstruction_error(vae: MotionVAE, cfg: TrainVAEConfig, stats: FeatureStats,
                         device: torch.device) -> dict[str, float]:
    """Mean per-joint position error (mm) of μ-reconstructions on the val split (raw and root-aligned), and
    how much they move: ``val_motion_ratio`` = :func:`~motionlcm_core.eval.metrics.body_motion` of the
    reconstructions over that of the real clips (1 = as lively as the data; near 0 = a static pose carried
    along, the failure of short runs)."""
    val = dataset(cfg, stats, "val", EVAL_DATA_CONFIG)
    vae.eval()
    errs, aligned, rec_clips, ref_clips, lengths = [], [], [], [], []
    for start in range(0, min(len(val), cfg.eval_batches * cfg.batch_size), cfg.batch_size):
        batch = collate_motion([val[i] for i in range(start, min(start + cfg.batch_size, len(val)))]).to(device)
        mu = vae.encode(batch.feats, batch.mask).mu
        j_rec = recover_joints(stats.denormalize(vae.decode(mu, batch.mask)))
        j_ref = recover_joints(stats.denormalize(batch.feats))
        m = batch.mask
        errs.append((j_rec - j_ref).norm(dim=-1)[m].mean(-1).cpu())
        rel = (j_rec - j_rec[..., :1, :]) - (j_ref - j_ref[..., :1, :])
        aligned.append(rel.norm(dim=-1)[m].mean(-1).cpu())
        rec_clips += list(j_rec.cpu().numpy())
        ref_clips += list(j_ref.cpu().numpy())
        lengths += m.sum(1).tolist()
    return {"val_mpjpe_mm": round(float(torch.cat(errs).mean()) * 1000, 2),
            "val_mpjpe_root_aligned_mm": round(float(torch.cat(aligned).mean()) * 1000, 2),
            "val_frames": int(sum(len(e) for e in errs)),
            "val_motion_ratio": round(body_motion(pad_feats(rec_clips), lengths)
                                      / body_motion(pad_feats(ref_clips), lengths), 3)}


def main(cfg: TrainVAEConfig) -> TrainResult:
    """Train (or resume) the VAE and write its stage file."""
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    dist = init_distributed(cfg.device)
    # 1. the network (a warm start keeps its file's statistics: the latent space depends on them)
    vae_cfg = VAEConfig(latent_tokens=cfg.latent_tokens, latent_dim=cfg.latent_dim, transformer=cfg.transformer())
    torch.manual_seed(cfg.seed)
    vae = MotionVAE(vae_cfg)
    init_positional_tables(vae, cfg.pe_init)
    start = warm_start(cfg.warm_start, "vae", {"vae": vae}, "stats")
    vae = vae.to(dist.device)
    # 2. data and its statistics
    stats = start.feature_stats() if start is not None else feature_stats(cfg)
    data = dataset(cfg, stats)
    trained = decoder_parameters(vae) if cfg.decoder_only else list(vae.parameters())
    if cfg.decoder_only:
        vae.requires_grad_(False)
        for p in trained:
            p.requires_grad_(True)

    def step(batch, gen):
        return vae_objective(vae, batch.feats, batch.mask, stats, kl_weight=cfg.kl_weight,
                             bone_weight=cfg.bone_weight, train_encoder=not cfg.decoder_only, generator=gen)

    # 3. train, then measure and write the stage file (a warm start keeps the file's other parts)
    result = train(cfg, data, {"vae": vae}, [{"params": trained}], step, dist=dist, name="vae")
    if dist.main:
        record = {**config_record(cfg, result), **reconstruction_error(vae, cfg, stats, dist.device)}
        log.info("vae: %s", record)
        parts = {**(start.parts if start is not None else {}), "vae": cpu_state(vae),
                 "stats": start.parts["stats"] if start is not None else stats_part(stats)}
        config = dataclasses.replace(start.config, vae=vae_cfg) if start is not None else ModelConfig(vae=vae_cfg)
        training = with_stage_record(start.training if start is not None else {}, "vae", record, start)
        save_stage(cfg.out_dir, StageWeights(config, parts, training))
    return result


def decoder_parameters(vae: MotionVAE) -> list[torch.nn.Parameter]:
    """The decoder's parameters: latent → hidden projection, query positions, decoder stack, output layer."""
    return [p for name, p in vae.named_parameters()
            if name.split(".")[0] in ("latent_post", "query_pos_decoder", "decoder", "final_layer")]

