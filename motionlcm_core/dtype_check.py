"""Measured, not assumed: how far a 16-bit dtype moves the embedded model's joints from fp32.

:func:`joint_error_mm` generates a few fixed prompts with fixed seeds twice, in fp32 and in the candidate
dtype on the same device, and compares the joints. ``device.choose_dtype(…, "auto")`` calls it once per
process for each (device, dtype) the hardware would run faster, and keeps the dtype only under 5 mm."""
from __future__ import annotations

import numpy as np
import torch

PROMPTS = ("a person walks forward", "a person jumps up and down twice",
           "a person waves with the right hand", "a person sits down on a chair")
"""Fixed prompts of the measurement (walk, jump, arm motion, sitting: whole-body and fine motion)."""
SEED = 0
FRAMES = 120  # 6 s at 20 fps


def joint_error_mm(device: torch.device, dtype: torch.dtype, *, model: str = "embedded",
                   text_embeddings: torch.Tensor | None = None) -> float:
    """Worst prompt's mean joint distance (mm) between ``dtype`` and fp32 generations of ``model``.

    Same text embeddings (:data:`PROMPTS` through the fp32 text encoder, or ``text_embeddings (B, text_dim)``),
    noise, bank start and seed on both sides; raw decoded joints (``body=False``, so only the networks'
    precision is compared), 1-step LCM at the model's default guidance."""
    from .pipeline import MotionLCMPipeline
    ref = MotionLCMPipeline.from_pretrained(model, device=device, dtype="fp32")
    text = text_embeddings if text_embeddings is not None else ref.text_encoder().encode(list(PROMPTS))
    text = text.float().cpu()
    lengths = [FRAMES] * len(text)
    a = ref.generate(text_embeddings=text, lengths=lengths, seed=SEED, body=False).joints
    del ref
    low = MotionLCMPipeline.from_pretrained(model, device=device, dtype=dtype)
    b = low.generate(text_embeddings=text, lengths=lengths, seed=SEED, body=False).joints
    per_clip = np.linalg.norm(a.astype(np.float64) - b, axis=-1).mean(axis=(1, 2))
    return float(per_clip.max() * 1000.0)
