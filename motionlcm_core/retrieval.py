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

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .caption_match import (DIRECTIONS, clause_centre, conflicts, content_words, direction_flags,
                            indexed_overlap, inverse_document_frequency, key_words, names_sideways, word_index,
                            word_overlap)
from .exemplars import Exemplar, ExemplarStore
from .motion.quaternion import qrot, yaw_quat
from .motion.skeleton import FPS

__all__ = ["BANK_LENGTHS", "DIRECTIONS", "MotionBank", "Pick", "RetrievalConfig", "build_bank", "content_words",
           "direction_flags", "retrieval_timesteps", "word_overlap"]

#: Lengths (frames at 20 fps) the bank holds each window's latent at: centre crops of the window.
BANK_LENGTHS: tuple[int, ...] = (40, 60, 80, 100, 120, 140, 160, 196)
@dataclass(frozen=True)
class RetrievalConfig:
    """``top_k`` nearest captions (distinct windows) to draw from, by seed; the first sampling step starts
    at ``start_t`` (lower keeps more of the retrieved motion; 999 keeps nothing)."""

    top_k: int = 4
    start_t: int = 299
    word_weight: float = 0.3      # score = cosine + word_weight · share of the prompt's content words in the caption
    idf: bool = True              # weigh the shared words by inverse document frequency
    temperature: float = 0.05     # > 0: the seed draws among the top_k with weights exp(score / temperature)
    same_noise: bool = True       # steps after the first re-noise with the start's draw instead of fresh noise
    exemplar: bool = True         # add the exemplar's residual after decoding (:mod:`motionlcm_core.exemplars`)
    side_check: float = 0.5       # score − this where the window does not turn / travel to the prompt's side
    short_penalty: float = 0.5    # score − this × the share of the clip a window is too short for (such a window
                                  # is extended by its clip's neighbouring frames, or held at its ends)

    def __post_init__(self) -> None:
        if self.top_k < 1 or not 0 < self.start_t < 1000 or self.word_weight < 0 or self.short_penalty < 0:
            raise ValueError(f"top_k must be >= 1, start_t in (0, 1000), word_weight and short_penalty >= 0, got "
                             f"{self.top_k}, {self.start_t}, {self.word_weight}, {self.short_penalty}")


class MotionBank:
    """Caption embeddings ``text (N, D)`` (unit length), the window each belongs to ``window (N,)``,
    the windows' lengths ``frames (W,)`` and latents ``latents (W, len(BANK_LENGTHS), L, Dl)``
    (NaN where the window is shorter than the bank length)."""

    def __init__(self, text: torch.Tensor, window: torch.Tensor, frames: torch.Tensor,
                 latents: torch.Tensor, flags: torch.Tensor | None = None,
                 captions: Sequence[str] | None = None, sources: torch.Tensor | None = None,
                 store: ExemplarStore | None = None) -> None:
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
        self._file_flags = torch.zeros(len(window), dtype=torch.long) if flags is None else flags.long()
        if self._file_flags.shape != self.window.shape:
            raise ValueError("bank: one direction flag per caption expected")
        self._flags: torch.Tensor | None = None
        self.captions = list(captions) if captions is not None else None
        if self.captions is not None and len(self.captions) != len(self.window):
            raise ValueError("bank: one caption text per embedding expected")
        self.words = [content_words(c) for c in self.captions] if self.captions is not None else None
        self.idf = inverse_document_frequency(self.words) if self.words is not None else None
        self._index = word_index(self.words) if self.words is not None else None
        self._encoded: dict[tuple[int, int, int, bool], Exemplar] = {}       # clause crops encoded so far
        self.sources = None if sources is None else sources.long()
        if self.sources is not None and self.sources.shape != (self.latents.shape[0], 4):
            raise ValueError("bank: sources (W, 4) = clip, start, end, mirrored per window expected")
        self.store = store if self.sources is not None else None
        self._unmirrored = ({tuple(r[:3]): w for w, r in enumerate(self.sources.tolist()) if not r[3]}
                            if self.sources is not None else {})
        self._sides: torch.Tensor | None = None                                    # (W, 2), on first use

    @property
    def flags(self) -> torch.Tensor:
        """``(N,)`` direction flags of the captions (:func:`~motionlcm_core.caption_match.direction_flags`), by
        this code's rules when the captions are known (the file's otherwise); worked out on first use."""
        if self._flags is None:
            self._flags = (torch.tensor([direction_flags(c) for c in self.captions], dtype=torch.long)
                           if self.captions is not None else self._file_flags)
        return self._flags

    # ------------------------------------------------------------------ storage
    def state_dict(self) -> dict[str, torch.Tensor]:
        """Tensors for the model file (fp16 embeddings and latents)."""
        return {"text": self.text.half(), "window": self.window.int(), "frames": self.frames.int(),
                "latents": self.latents.half(), "flags": self.flags.int(),
                **({"captions_utf8": torch.frombuffer(bytearray("\n".join(self.captions).encode()), dtype=torch.uint8)}
                   if self.captions is not None else {}),
                **({"sources": self.sources.int()} if self.sources is not None else {}),
                **(self.store.state_dict() if self.store is not None else {})}

    @classmethod
    def from_state_dict(cls, sd: dict[str, torch.Tensor]) -> "MotionBank":
        missing = {"text", "window", "frames", "latents"} - set(sd)
        if missing:
            raise ValueError(f"the bank part of this model file lacks {sorted(missing)}")
        captions = (bytes(sd["captions_utf8"].to(torch.uint8).tolist()).decode().split("\n")
                    if "captions_utf8" in sd else None)
        return cls(sd["text"], sd["window"], sd["frames"], sd["latents"], sd.get("flags"), captions,
                   sd.get("sources"), ExemplarStore.from_state_dict(sd))

    def __len__(self) -> int:
        return int(self.text.shape[0])

    # ------------------------------------------------------------------ lookup
    def choose(self, text: torch.Tensor, lengths: Sequence[int], seed: int,
               cfg: RetrievalConfig = RetrievalConfig(), prompts: Sequence[str] | None = None) -> list[Pick]:
        """One :class:`Pick` per prompt ``text (B, 1, D)`` and length. Candidates: every window, those shorter than
        the clip scored down by ``short_penalty`` times the share they lack (with exemplars such a window is
        lengthened from its clip, :meth:`exemplar`; without, the bank's longest crop of it is used), and, given
        the ``prompts``, captions that do not name the opposite of a direction the prompt names
        (:data:`DIRECTIONS`). Nearest: cosine of the sentence embeddings plus ``word_weight`` times the share of
        the prompt's content words in the caption (a hybrid lexical score: "kicks", "waves", "cartwheel" are
        words the pooled embedding blurs); among the ``top_k`` nearest distinct windows, the seed picks one (the
        same seed picks the same one)."""
        query = torch.nn.functional.normalize(text[:, 0].float().cpu(), dim=-1)
        sims = query @ self.text.T                                                 # (B, N)
        rng = np.random.default_rng(seed)
        picks = []
        window_frames = self.frames[self.window].float()
        for b, n in enumerate(lengths):
            bucket = int(np.searchsorted(BANK_LENGTHS, min(n, BANK_LENGTHS[-1])))
            lacking = (1.0 - window_frames / float(min(n, BANK_LENGTHS[-1]))).clamp(min=0.0)
            score = sims[b] - cfg.short_penalty * lacking
            if prompts is not None:
                flags = direction_flags(prompts[b])
                if flags:
                    score = torch.where(conflicts(flags, self.flags), score - 4.0, score)
                mismatch = self._side_mismatch(flags, names_sideways(prompts[b])) if cfg.side_check > 0 else None
                if mismatch is not None:
                    score = torch.where(mismatch, score - cfg.side_check, score)
                if self.words is not None and cfg.word_weight > 0:
                    score = score + cfg.word_weight * indexed_overlap(prompts[b], self._index, len(self.words),
                                                                      self.idf if cfg.idf else None)
            order, seen = [], set()
            for i in torch.argsort(score, descending=True).tolist():
                w = int(self.window[i])
                if w not in seen:
                    seen.add(w)
                    order.append(i)
                if len(order) == cfg.top_k:
                    break
            if cfg.temperature > 0:
                top = score[order].double()
                weights = torch.softmax((top - top.max()) / cfg.temperature, 0).numpy()
                i = order[int(rng.choice(len(order), p=weights / weights.sum()))]
            else:
                i = order[int(rng.integers(len(order)))]
            w = int(self.window[i])
            usable = [k for k in range(bucket, -1, -1) if torch.isfinite(self.latents[w, k]).all()]
            picks.append(Pick(i, w, usable[0], BANK_LENGTHS[bucket]))
        return picks

    def retrieve(self, text: torch.Tensor, lengths: Sequence[int], seed: int,
                 cfg: RetrievalConfig = RetrievalConfig(),
                 prompts: Sequence[str] | None = None) -> tuple[torch.Tensor, list[int]]:
        """Latents ``(B, L, D)`` of :meth:`choose`'s picks and the caption index each came from."""
        picks = self.choose(text, lengths, seed, cfg, prompts)
        return torch.stack([self.latents[p.window, p.bucket] for p in picks]), [p.caption for p in picks]

    def _window_sides(self) -> torch.Tensor:
        """``(W, 2)``: each window's net turn (degrees, left positive) and sideways travel (m, to the body's
        left at its first frame), from the exemplar store; a mirrored window's are the mirror's."""
        clip, a, b, mirrored = self.sources.numpy().T
        first = self.store.offsets[clip] + a
        last = self.store.offsets[clip] + b - 1
        half_yaw = torch.from_numpy(self.store.half_yaw.astype(np.float64))
        step = np.zeros((len(first), 3))
        step[:, [0, 2]] = self.store.root_xz[last] - self.store.root_xz[first]
        side = qrot(yaw_quat(half_yaw[first]), torch.from_numpy(step))[:, 0]
        turn = -2.0 * torch.rad2deg(half_yaw[last] - half_yaw[first])
        sign = torch.from_numpy(np.where(mirrored == 1, -1.0, 1.0))
        return torch.stack([sign * turn, sign * side], dim=1).float()

    def _side_mismatch(self, flags: int, sideways: bool) -> torch.Tensor | None:
        """``(N,)`` True where a caption's window does not move the way the prompt says (left or right): it
        neither turns more than 30° nor travels more than 0.3 m sideways that way (``sideways``: a side-step
        prompt, only the travel counts). None: the prompt names no single side, or the bank has no store."""
        left, right = bool(flags & 1), bool(flags & 2)
        if self.store is None or left == right:
            return None
        if self._sides is None:
            self._sides = self._window_sides()
        sign = 1.0 if left else -1.0
        agree = sign * self._sides[:, 1] > 0.3
        if not sideways:
            agree = agree | (sign * self._sides[:, 0] > 30.0)
        return ~agree[self.window]

    # ------------------------------------------------------------------ exemplars
    def exemplar(self, pick: Pick, prompt: str | None = None, encode=None) -> Exemplar | None:
        """The :class:`~motionlcm_core.exemplars.Exemplar` of ``pick``'s window at the clip's length ``L =
        pick.length`` (None when the bank has no exemplars): its centre crop, whose latents the bank holds; or,
        encoded on the spot by ``encode(feats (L, 263)) -> latent (L_tokens, D)``:

        - when the window is longer than ``L`` and its caption lists actions in order with the ``prompt``'s in
          one of them (:func:`~motionlcm_core.caption_match.clause_centre`), the crop around that clause;
        - when the window is shorter than ``L``, the ``L`` frames of its clip centred on it (the clip's
          neighbouring motion around it), and where the clip itself is shorter, the clip with its first and
          last poses held before and after it."""
        if self.store is None:
            return None
        clip, a, b, mirrored = self.sources[pick.window].tolist()
        n = pick.length
        caption = pick.caption
        placing = prompt is not None and encode is not None and self.captions is not None
        if placing and b - a > n:
            caption, a, b = self._narrowest(pick, prompt)
        if b - a >= n:
            centre = clause_centre(prompt, self.captions[caption], self.idf) if placing and b - a > n else None
            start = a + ((b - a) - n) // 2
            if centre is not None:
                start = a + int(round(centre * (b - a) - n / 2))
                start = max(a, min(start, b - n, int(self.store.frames[clip]) - n - 1))
            w0 = self._unmirrored.get((clip, a, b))
            if (w0 is not None and caption == pick.caption and start == a + ((b - a) - n) // 2
                    and pick.bucket < len(BANK_LENGTHS) and BANK_LENGTHS[pick.bucket] == n):
                return Exemplar(self.latents[pick.window, pick.bucket], self.latents[w0, pick.bucket],
                                self.store.channels(clip, start, n), bool(mirrored))
            if encode is not None and start >= 0:
                return self._encoded_crop(clip, start, n, bool(mirrored), encode)
        if encode is None:
            return None
        frames = int(self.store.frames[clip])
        start = max(0, min((a + b - n) // 2, frames - n - 1))
        return self._encoded_crop(clip, start, n, bool(mirrored), encode)

    def _narrowest(self, pick: Pick, prompt: str, share: float = 0.5) -> tuple[int, int, int]:
        """``(caption, a, b)``: the shortest window of ``pick``'s clip inside ``pick``'s window (same mirroring)
        whose caption holds at least ``share`` of the prompt's :func:`~motionlcm_core.caption_match.key_words`
        for the picked caption (weighted by inverse document frequency) — a phase that places the action more
        closely than a long window's clauses can ("jumping jacks, jogging in place, squats, …" over 45 s has
        the phase "does jumping jacks and then jogs in place" over its first 8 s); ``pick``'s own when none."""
        clip, a, b, mirrored = self.sources[pick.window].tolist()
        keys = key_words(prompt, self.captions[pick.caption], self.idf)
        total = sum(self.idf.get(k, 0.0) for k in keys)
        best = (b - a, pick.caption, a, b)
        if total <= 0:
            return best[1:]
        inside = ((self.sources[:, 0] == clip) & (self.sources[:, 3] == mirrored) & (self.sources[:, 1] >= a)
                  & (self.sources[:, 2] <= b) & (self.sources[:, 2] - self.sources[:, 1] < b - a))
        for w in torch.nonzero(inside)[:, 0].tolist():
            a2, b2 = self.sources[w, 1:3].tolist()
            for i in torch.nonzero(self.window == w)[:, 0].tolist():
                held = sum(self.idf.get(k, 0.0) for k in keys & self.words[i])
                if held >= share * total and (b2 - a2, i) < best[:2]:
                    best = (b2 - a2, i, a2, b2)
        return best[1:]

    def _encoded_crop(self, clip: int, start: int, n: int, mirrored: bool, encode) -> Exemplar:
        """The exemplar of frames ``start : start + n`` of ``clip`` (``n + 1`` joint frames give ``n`` feature
        frames), encoded now and cached (the last 64); a clip too short for them is held at its first and last
        pose to ``n + 1`` frames, centred."""
        key = (clip, start, n, mirrored)
        if key not in self._encoded:
            frames = int(self.store.frames[clip])
            if start + n + 1 <= frames:
                joints = self.store.crop(clip, start, n + 1)
            else:
                whole = self.store.crop(clip, 0, frames)
                before = (n + 1 - frames) // 2
                joints = np.concatenate([np.repeat(whole[:1], before, 0), whole,
                                         np.repeat(whole[-1:], n + 1 - frames - before, 0)])
            if len(self._encoded) >= 64:
                self._encoded.pop(next(iter(self._encoded)))
            self._encoded[key] = Exemplar.encoded(joints, mirrored, encode)
        return self._encoded[key]


def retrieval_timesteps(start_t: int, num_steps: int, grid: int = 20) -> tuple[int, ...]:
    """The timesteps of ``num_steps``-step sampling from a retrieved latent noised to ``start_t``: the first
    step at ``start_t`` does the work; the later ones polish at the lowest timesteps of the student's ``grid``
    (the DDIM skip of distillation: …, 59, 39, 19), e.g. 299 → (299,), (299, 19), (299, 59, 39, 19).
    Every LCM step moves the latent by an error of the order of its noise level (measured: 299 → 159 → 79
    drifts 1.6× as far from the retrieved latent as 299 alone), so later steps at low noise keep the motion."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    polish = [grid * k - 1 for k in range(num_steps - 1, 0, -1)]
    return (start_t,) + tuple(t for t in polish if t < start_t)


@dataclass(frozen=True)
class Pick:
    """A retrieved caption ``caption``, its window ``window``, the index ``bucket`` of the longest bank length
    (:data:`BANK_LENGTHS`) its latents are used at, and the exemplar length ``length`` (frames) the clip asks
    for (the bank length at or above the clip's)."""

    caption: int
    window: int
    bucket: int
    length: int


@torch.no_grad()
def build_bank(vae, stats, encoder, clips, *, device: torch.device | str = "cpu") -> MotionBank:
    """The bank of the train clips ``clips`` (:class:`~motionlcm_core.data.dataset.ClipRecord`, mirrored
    features included): every caption line's window (its phase, or the whole clip) and the mirror of both."""
    from .data.text import mirror_caption
    captions, window_of, frames, latents, sources = [], [], [], [], []
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
                    sources.append((c, a, b, int(mirror)))
                    latents.append(_window_latents(vae, stats, feats[a:b], device))
                captions.append(mirror_caption(line.text) if mirror else line.text)
                window_of.append(windows[key])
    text = torch.cat([encoder.encode(captions[i:i + 256])[:, 0].cpu() for i in range(0, len(captions), 256)])
    flags = torch.tensor([direction_flags(c) for c in captions])
    store = ExemplarStore.from_feats([clip.feats for clip in clips])
    return MotionBank(text, torch.tensor(window_of), torch.tensor(frames), torch.stack(latents), flags, captions,
                      torch.tensor(sources), store)


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
