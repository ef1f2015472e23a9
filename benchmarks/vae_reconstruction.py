"""How well does the shipped model's VAE reconstruct held-out motion? MPJPE on the val split.

    .venv/bin/python benchmarks/vae_reconstruction.py [--model embedded]

Encodes every val clip (as the VAE trained on it: crops of up to 196 frames), decodes the posterior mean and
prints the mean per-joint position error in mm, global and root-aligned, and how much of the real motion the
reconstructions keep (``val_motion_ratio``; 1 = as lively as the data). The same figures the training record
(``motionlcm_core/weights/TRAINING.md``) gives for the file.
"""
from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    args = parser.parse_args(argv)
    import torch

    from motionlcm_core import MotionLCMPipeline
    from motionlcm_core.training.train_vae import TrainVAEConfig, reconstruction_error

    pipe = MotionLCMPipeline.from_pretrained(args.model, device="cpu")
    out = reconstruction_error(pipe.vae, TrainVAEConfig(), pipe.stats, torch.device("cpu"))
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
