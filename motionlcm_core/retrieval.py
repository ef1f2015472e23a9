"""Retrieval-augmented sampling: the sampler starts from the latent of a training motion whose caption is
near the prompt, noised part of the way, instead of from pure noise.

The embedded model is trained on a small set (317 clips); for such sets retrieval is the known remedy
(ReMoDiffuse, ReMoMask). Here the denoiser sees the retrieved motion through its input, as in SDEdit: the
retrieved latent ``z`` is diffused to ``start_t`` (``x = sqrt(a)·z + sqrt(1 − a)·ε``) and the LCM student
denoises from there under the prompt, so the result keeps the retrieved motion's action and direction and
the student makes it its own (seed, guidance, length).

:class:`MotionBank` holds, for every caption window of the train split and its mirror (left/right words
swapped in the caption), the caption's text embedding and the window's VAE latents at a few lengths (centre
crops). It is built at export (:func:`build_bank`) and stored in the model file (part ``bank``, fp16).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .motion.skeleton import FPS

__all__ = ["BANK_LENGTHS", "DIRECTIONS", "MotionBank", "RetrievalConfig", "build_bank", "direction_flags"]

#: Lengths (frames at 20 fps) the bank holds each window's latent at: centre crops of the window.
BANK_LENGTHS: tuple[int, ...] = (40, 60, 80, 100, 120, 140, 160, 196)
#: Opposite directions a sentence embedding hardly tells apart ("turns left" and "turns right" are nearly the
#: same vector); a caption naming the opposite of the prompt's direction is not retrieved.
DIRECTIONS: tuple[tuple[str, str], ...] = (
    (r"\bleft\b", r"\bright\b"),
    (r"\b(forwards?|ahead)\b", r"\bbackwards?\b"),
    (r"\b(?<!counter)(?<!counter-)(?<!anti)clockwise\b", r"\b(counter-?|anti)clockwise\b"),
)


def direction_flags(text: str) -> int:
    """Bit ``2k`` (``2k+1``): the text names the first (second) side of ``DIRECTIONS[k]``."""
    flags = 0
    for k, (a, b) in enumerate(DIRECTIONS):
        flags |= (1 << 2 * k) if re.search(a, text, re.I) else 0
        flags |= (1 << 2 * k + 1) if re.search(b, text, re.I) else 0
    return flags


_STOP = frozenset("a an the person someone somebody man woman he she they it its his her their is are was be being "
                  "with and or to of in on at by from as into onto then while one that this who which also "
                  "slowly quickly very".split())


def content_words(text: str) -> frozenset[str]:
    """Lower-case word stems of ``text`` without function words (crude: -ing, -ed or -s cut, then a final e:
    wave, waves, waving → wav)."""
    out = set()
    for w in re.findall(r"[a-z]+", text.lower()):
        if w in _STOP or len(w) < 3:
            continue
        for suffix in ("ing", "ed", "s"):
            if w.endswith(suffix) and not w.endswith("ss") and len(w) - len(suffix) >= 3:
                w = w[: -len(suffix)]
                break
        out.add(w[:-1] if w.endswith("e") and len(w) > 3 else w)
    return frozenset(out)


def word_overlap(prompt: str, captions: Sequence[frozenset[str]]) -> torch.Tensor:
    """``(N,)`` share of the prompt's content words that each caption holds (0 when the prompt has none)."""
    words = content_words(prompt)
    if not words:
        return torch.zeros(len(captions))
    return torch.tensor([len(words & c) / len(words) for c in captions])


def conflicts(prompt_flags: int, caption_flags: torch.Tensor) -> torch.Tensor:
    """``(N,)`` True where a caption names only the opposite of a direction the prompt names alone."""
    out = torch.zeros_like(caption_flags, dtype=torch.bool)
    for k in range(len(DIRECTIONS)):
        a, b = 1 << 2 * k, 1 << 2 * k + 1
        for mine, other in ((a, b), (b, a)):
            if prompt_flags & mine and not prompt_flags & other:
                out |= ((caption_flags & other) != 0) & ((caption_flags & mine) == 0)
    return out


@dataclass(frozen=True)
class RetrievalConfig:
    """``top_k`` nearest captions (distinct windows) to draw from, by seed; the first sampling step starts
    at ``start_t`` (lower keeps more of the retrieved motion; 999 keeps nothing)."""

    top_k: int = 4
    start_t: int = 599
    word_weight: float = 0.3      # score = cosine + word_weight · share of the prompt's content words in the caption

    def __post_init__(self) -> None:
        if self.top_k < 1 or not 0 < self.start_t < 1000 or self.word_weight < 0:
            raise ValueError(f"top_k must be >= 1, start_t in (0, 1000) and word_weight >= 0, got {self.top_k}, "
                             f"{self.start_t}, {self.word_weight}")


class MotionBank:
    """Caption embeddings ``text (N, D)`` (unit length), the window each belongs to ``window (N,)``,
    the windows' lengths ``frames (W,)`` and latents ``latents (W, len(BANK_LENGTHS), L, Dl)``
    (NaN where the window is shorter than the bank length)."""

    def __init__(self, text: torch.Tensor, window: torch.Tensor, frames: torch.Tensor,
                 latents: torch.Tensor, flags: torch.Tensor | None = None,
                 captions: Sequence[str] | None = None) -> None:
        if text.dim() != 2 or window.shape != (text.shape[0],) or latents.dim() != 4:
            raise ValueError("bank: text (N, D), window (N,), latents (W, lengths, L, D) expected")
        if latents.shape[1] != len(BANK_LENGTHS) or frames.shape != (latents.shape[0],):
            raise ValueError(f"bank: latents must hold {len(BANK_LENGTHS)} lengths and frames one per window")
        if int(window.max()) >= latents.shape[0] or int(window.min()) < 0:
            raise ValueError("bank: a caption points to a window that is not there")
        self.text = text.float()
        self.window = window.long()
        self.frames = frames.long()
        self.latents = latents.float()
        self.flags = torch.zeros(len(window), dtype=torch.long) if flags is None else flags.long()
        if self.flags.shape != self.window.shape:
            raise ValueError("bank: one direction flag per caption expected")
        self.captions = list(captions) if captions is not None else None
        if self.captions is not None and len(self.captions) != len(self.window):
            raise ValueError("bank: one caption text per embedding expected")
        self.words = [content_words(c) for c in self.captions] if self.captions is not None else None

    # ------------------------------------------------------------------ storage
    def state_dict(self) -> dict[str, torch.Tensor]:
        """Tensors for the model file (fp16 embeddings and latents)."""
        return {"text": self.text.half(), "window": self.window.int(), "frames": self.frames.int(),
                "latents": self.latents.half(), "flags": self.flags.int(),
                **({"captions_utf8": torch.frombuffer(bytearray("\n".join(self.captions).encode()), dtype=torch.uint8)}
                   if self.captions is not None else {})}

    @classmethod
    def from_state_dict(cls, sd: dict[str, torch.Tensor]) -> "MotionBank":
        missing = {"text", "window", "frames", "latents"} - set(sd)
        if missing:
            raise ValueError(f"the bank part of this model file lacks {sorted(missing)}")
        captions = (bytes(sd["captions_utf8"].to(torch.uint8).tolist()).decode().split("\n")
                    if "captions_utf8" in sd else None)
        return cls(sd["text"], sd["window"], sd["frames"], sd["latents"], sd.get("flags"), captions)

    def __len__(self) -> int:
        return int(self.text.shape[0])

    # ------------------------------------------------------------------ lookup
    def retrieve(self, text: torch.Tensor, lengths: Sequence[int], seed: int,
                 cfg: RetrievalConfig = RetrievalConfig(),
                 prompts: Sequence[str] | None = None) -> tuple[torch.Tensor, list[int]]:
        """Latents ``(B, L, D)`` for prompts ``text (B, 1, D)`` and their ``lengths``, and the caption index
        each came from. Candidates: windows at least as long as the clip (else the longest ones), and, given
        the ``prompts``, captions that do not name the opposite of a direction the prompt names
        (:data:`DIRECTIONS`). Nearest: cosine of the sentence embeddings plus ``word_weight`` times the share of
        the prompt's content words in the caption (a hybrid lexical score: "kicks", "waves", "cartwheel" are
        words the pooled embedding blurs); among the ``top_k`` nearest distinct windows, the seed picks one (the same
        seed picks the same one)."""
        query = torch.nn.functional.normalize(text[:, 0].float().cpu(), dim=-1)
        sims = query @ self.text.T                                                 # (B, N)
        rng = np.random.default_rng(seed)
        out, picked = [], []
        for b, n in enumerate(lengths):
            bucket = int(np.searchsorted(BANK_LENGTHS, min(n, BANK_LENGTHS[-1])))
            long_enough = self.frames[self.window] >= BANK_LENGTHS[bucket]
            score = torch.where(long_enough, sims[b], sims[b] - 2.0)           # short windows last
            if prompts is not None:
                score = torch.where(conflicts(direction_flags(prompts[b]), self.flags), score - 4.0, score)
                if self.words is not None and cfg.word_weight > 0:
                    score = score + cfg.word_weight * word_overlap(prompts[b], self.words)
            order, seen = [], set()
            for i in torch.argsort(score, descending=True).tolist():
                w = int(self.window[i])
                if w not in seen:
                    seen.add(w)
                    order.append(i)
                if len(order) == cfg.top_k:
                    break
            i = order[int(rng.integers(len(order)))]
            w = int(self.window[i])
            usable = [k for k in range(bucket, -1, -1) if torch.isfinite(self.latents[w, k]).all()]
            out.append(self.latents[w, usable[0]])
            picked.append(i)
        return torch.stack(out), picked


@torch.no_grad()
def build_bank(vae, stats, encoder, clips, *, device: torch.device | str = "cpu") -> MotionBank:
    """The bank of the train clips ``clips`` (:class:`~motionlcm_core.data.dataset.ClipRecord`, mirrored
    features included): every caption line's window (its phase, or the whole clip) and the mirror of both."""
    from .data.text import mirror_caption
    captions, window_of, frames, latents = [], [], [], []
    windows: dict[tuple[int, int, int, bool], int] = {}
    vae = vae.eval()
    for c, clip in enumerate(clips):
        for line in clip.captions:
            a = 0 if line.start_s is None else int(line.start_s * FPS)
            b = len(clip.feats) if line.end_s is None else min(len(clip.feats), int(line.end_s * FPS))
            if b - a < BANK_LENGTHS[0]:
                continue
            for mirror in (False, True):
                feats = clip.feats_mirror if mirror else clip.feats
                if feats is None:
                    continue
                key = (c, a, b, mirror)
                if key not in windows:
                    windows[key] = len(frames)
                    frames.append(b - a)
                    latents.append(_window_latents(vae, stats, feats[a:b], device))
                captions.append(mirror_caption(line.text) if mirror else line.text)
                window_of.append(windows[key])
    text = torch.cat([encoder.encode(captions[i:i + 256])[:, 0].cpu() for i in range(0, len(captions), 256)])
    flags = torch.tensor([direction_flags(c) for c in captions])
    return MotionBank(text, torch.tensor(window_of), torch.tensor(frames), torch.stack(latents), flags, captions)


def _window_latents(vae, stats, feats: np.ndarray, device) -> torch.Tensor:
    """``(len(BANK_LENGTHS), L, D)`` VAE means of the window's centre crops (NaN where it is too short)."""
    rows = []
    for n in BANK_LENGTHS:
        if len(feats) < n:
            rows.append(torch.full((vae.cfg.latent_tokens, vae.cfg.latent_dim), float("nan")))
            continue
        start = (len(feats) - n) // 2
        x = stats.normalize(torch.from_numpy(np.ascontiguousarray(feats[start:start + n])))[None].float()
        mask = torch.ones(1, n, dtype=torch.bool)
        rows.append(vae.encode(x.to(device), mask.to(device)).mu[0].float().cpu())
    return torch.stack(rows)
