"""``python -m motionlcm_core.training bank``: add the retrieval bank to a model file.

Reads ``--init`` (a full model file: VAE, statistics, text encoder in its config), builds the
:class:`~motionlcm_core.retrieval.MotionBank` of the train split (every caption window and its mirror, VAE
latents at :data:`~motionlcm_core.retrieval.BANK_LENGTHS`) and writes ``--output`` with it, the other parts
unchanged, the build recorded under ``training["bank"]``; ``--fp16`` stores the networks in half precision
(statistics stay fp32). Needs no training: a minute on a CPU.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data import load_cmu_clips
from ..io.checkpoints import load_weights, save_weights
from ..models import MotionVAE
from ..motion import FeatureStats
from ..retrieval import BANK_LENGTHS, BANK_MIN_FRAMES, MotionBank, build_bank
from .text_table import open_text_encoder

log = logging.getLogger("motionlcm_core.training")


@dataclass(frozen=True)
class BankConfig:
    """Add the retrieval bank (train split, mirrored) to a model file."""

    init: str = ""                 # the model file to extend
    output: str = ""               # where to write it (may equal init)
    data_dir: str = ""             # empty: $MOTIONLCM_DATA_DIR or ../shared/data
    fp16: bool = False             # store the networks in fp16 (half the size)
    threads: int = 2

    def __post_init__(self) -> None:
        if not self.init or not self.output:
            raise ValueError("bank needs --init (a model file) and --output")


def make_bank(model_cfg, parts: dict, data_dir: str = "") -> tuple[MotionBank, dict]:
    """The bank of a model file's ``parts`` (its VAE and statistics) and the record of how it was built."""
    t0 = time.perf_counter()
    if "vae" not in parts or "mean" not in parts.get("stats", {}):
        raise ValueError("a retrieval bank needs the model's VAE and its statistics")
    vae = MotionVAE(model_cfg.vae)
    vae.load_state_dict(parts["vae"])
    stats = FeatureStats(parts["stats"]["mean"].numpy(), parts["stats"]["std"].numpy())
    clips, report = load_cmu_clips("train", data_dir or None, mirror=True, min_frames=BANK_MIN_FRAMES)
    bank = build_bank(vae, stats, open_text_encoder(model_cfg.text_encoder), clips)
    record = {"captions": len(bank), "windows": int(bank.latents.shape[0]), "lengths": list(BANK_LENGTHS),
              "data": report.line(), "seconds": round(time.perf_counter() - t0, 1)}
    return bank, record


def main(cfg: BankConfig) -> Path:
    torch.set_num_threads(max(cfg.threads, 1))
    model_cfg, parts, info = load_weights(cfg.init)
    bank, record = make_bank(model_cfg, parts, cfg.data_dir)
    training = dict(info["training"])
    training["bank"] = {**record, "command": f"python -m motionlcm_core.training bank --init {cfg.init} "
                                             f"--output {cfg.output}" + (" --fp16" if cfg.fp16 else "")}
    parts = {**parts, "bank": bank.state_dict()}
    out = save_weights(cfg.output, parts, model_cfg, training=training,
                       dtype=torch.float16 if cfg.fp16 else torch.float32)
    log.info("wrote %s (%.1f MB): bank of %d captions, %d windows", out, out.stat().st_size / 1e6, len(bank),
             bank.latents.shape[0])
    return out
