"""``python -m motionlcm_core.training <stage> [--flags]``; ``<stage> --help`` lists the flags.

Stages: ``vae``, ``teacher`` (MLD), ``lcd`` (latent consistency distillation), ``controlnet``,
``embedded`` (the whole chain of the shipped default model), ``bank`` (add the retrieval bank to a model
file). Multi-GPU: ``torchrun --nproc_per_node N
-m motionlcm_core.training <stage> …``.
"""
from __future__ import annotations

import logging
import sys
from typing import Any, Callable

from . import bank, distill_lcm, embedded, train_controlnet, train_denoiser, train_vae
from .cli import parse_config

#: Stage name → (its config dataclass, whose fields are the flags; the function that runs it).
STAGES: dict[str, tuple[type, Callable[[Any], Any]]] = {
    "vae": (train_vae.TrainVAEConfig, train_vae.main),
    "teacher": (train_denoiser.TrainDenoiserConfig, train_denoiser.main),
    "lcd": (distill_lcm.DistillLCMConfig, distill_lcm.main),
    "controlnet": (train_controlnet.TrainControlNetConfig, train_controlnet.main),
    "embedded": (embedded.EmbeddedConfig, embedded.main),
    "bank": (bank.BankConfig, bank.main),
}


def run(argv: list[str]) -> int:
    if not argv or argv[0] not in STAGES:
        print(__doc__.strip(), file=sys.stderr)
        print(f"\nerror: first argument must be one of {sorted(STAGES)}", file=sys.stderr)
        return 2
    config_cls, main = STAGES[argv[0]]
    try:
        cfg = parse_config(config_cls, argv[1:], prog=f"python -m {__package__} {argv[0]}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    main(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
