"""``python -m motionlcm_core.training <stage> [--flags]``; ``<stage> --help`` lists the flags.

Stages: ``vae``, ``teacher`` (MLD), ``lcd`` (latent consistency distillation), ``controlnet``,
``embedded`` (the whole chain of the shipped default model), ``bank`` (add the retrieval bank to a model
file). Multi-GPU: ``torchrun --nproc_per_node N
-m motionlcm_core.training <stage> …``.
"""
from __future__ import annotations

import importlib
import logging
import sys

STAGES = {
    "vae": ("train_vae", "TrainVAEConfig"),
    "teacher": ("train_denoiser", "TrainDenoiserConfig"),
    "lcd": ("distill_lcm", "DistillLCMConfig"),
    "controlnet": ("train_controlnet", "TrainControlNetConfig"),
    "embedded": ("embedded", "EmbeddedConfig"),
    "bank": ("bank", "BankConfig"),
}


def run(argv: list[str]) -> int:
    if not argv or argv[0] not in STAGES:
        print(__doc__.strip(), file=sys.stderr)
        print(f"\nerror: first argument must be one of {sorted(STAGES)}", file=sys.stderr)
        return 2
    from .cli import parse_config
    module_name, cfg_name = STAGES[argv[0]]
    module = importlib.import_module(f"{__package__}.{module_name}")
    try:
        cfg = parse_config(getattr(module, cfg_name), argv[1:], prog=f"python -m {__package__} {argv[0]}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    module.main(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
