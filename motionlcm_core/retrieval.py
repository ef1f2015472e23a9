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
from typing import Callable, Sequence

import numpy as np
import torch

from .caption_match import (DIRECTIONS, clause_centre, conflicts, content_words, direction_flags,
                            indexed_overlap, inverse_document_frequency, key_words, kicking_side, names_arm_action,
                            names_arms_up, names_circling, names_height_change, names_jump, names_raised_ground,
                            names_running, names_sequence, names_sideways, names_staying, names_striking,
                            names_take_off, names_travel, names_turning, turn_extent, walking_pace, word_index,
                            word_overlap)
from .exemplars import Exemplar, ExemplarStore
from .geometry import unit
from .motion.body import body_forward
from .motion.cycles import extend_cycles, loop_period
from .motion.quaternion import qrot, yaw_quat
from .motion.skeleton import FEET_LEFT, FEET_RIGHT, FPS, JOINT_NAMES

__all__ = ["AIRBORNE_FRAMES", "ARMS_UP_S", "BANK_LENGTHS", "BANK_MIN_FRAMES", "DIRECTIONS", "KICK_HEIGHT", "KICK_REACH",
           "KICK_S", "LIFT_M", "MotionBank", "Pick", "RUN_LIFTS_PER_S", "RUN_STOP_S", "RetrievalConfig", "STOP_SPEED",
           "STRIKE_REACH", "STRIKE_SPEED", "build_bank", "content_words", "direction_flags", "retrieval_timesteps",
           "word_overlap"]

#: Lengths (frames at 20 fps) the bank holds each window's latent at: centre crops of the window.
BANK_LENGTHS: tuple[int, ...] = (40, 60, 80, 100, 120, 140, 160, 196)
#: Joints the arm checks read (:meth:`MotionBank._frame_tables`).
WRISTS = (JOINT_NAMES.index("left_wrist"), JOINT_NAMES.index("right_wrist"))
ANKLES = (JOINT_NAMES.index("left_ankle"), JOINT_NAMES.index("right_ankle"))
HEAD = JOINT_NAMES.index("head")
#: Frames a motion the prompt does not make jump may have both feet over 15 cm (the probes' limit for
#: grounded motion, from real clips: a run's flight stays under it).
AIRBORNE_FRAMES = 2
#: How far (m) a foot rises above the other to count as lifted in a step (the probes count a lift at 10 cm
#: with 4 cm hysteresis; real jogs on the spot lift 2–2.8 times a second by this measure, knee raises 0.75).
LIFT_M = 0.08
#: Foot lifts per second a run or jog on the spot must make (:func:`wanted_motion`).
RUN_LIFTS_PER_S = 1.5
#: The joints' mean speed (m/s) a slow walk keeps under and a quick one over (:func:`wanted_motion`). Of the bank's
#: windows whose captions walk (straight, without a sequence), the slow ones' median is 0.99, the quick ones' 1.58
#: and the others' 1.18.
SLOW_WALK = 1.1
QUICK_WALK = 1.35
#: The pelvis's ground speed (m/s) under which a frame counts as stopped (:meth:`MotionBank._frame_tables`).
STOP_SPEED = 0.5
#: The time (s) a crop of a run that is not on the spot may stop (:func:`wanted_motion`). Of the bank's windows
#: whose captions run without a sequence or a stop, 95 % stop 0 s (a run from standing, "Walk to Run", 1.3–1.8
#: s); "runs forward, stops for a moment, then runs forward again" stops 1.0 s, a run into a duck 0 s.
RUN_STOP_S = 0.25
#: A fist shooting out: a wrist this far (m) before the pelvis in the body's facing, moving forward this fast (m/s)
#: (:meth:`MotionBank._frame_tables`).
STRIKE_REACH = 0.35
STRIKE_SPEED = 1.5
#: A foot kicked out: its ankle this far (m) before the pelvis in the body's facing and this high (m) over the
#: lower foot (:meth:`MotionBank._frame_tables`).
KICK_REACH = 0.45
KICK_HEIGHT = 0.15
#: The time (s) a crop of a kick must have the foot it names kicked out: of the bank's windows whose captions kick
#: with one foot, all but roundhouse kicks (which swing round, not ahead) and a cartwheel's reach 0.1 s with that
#: foot, most of them 0 with the other; of its walks, 95 % stay under 0.03 s.
KICK_S = 0.1
#: The time (s) both wrists must be over the head in a crop for "raises both arms over the head".
ARMS_UP_S = 0.25
#: The shortest caption window the bank holds (1 s): shorter than ``BANK_LENGTHS[0]``, such a window has no
#: latents and is drawn only where its exemplar can be encoded (lengthened from its clip, its cycles
#: repeated, or held at its ends: :meth:`MotionBank.placement`).
BANK_MIN_FRAMES = 20


@dataclass(frozen=True)
class RetrievalConfig:
    """``top_k`` nearest captions (distinct windows) to draw from, by seed; the first sampling step starts
    at ``start_t`` (lower keeps more of the retrieved motion; 999 keeps nothing)."""

    top_k: int = 4
    start_t: int = 299
    word_weight: float = 0.3      # score = cosine + word_weight · share of the prompt's content words in the caption
    idf: bool = True              # weigh the shared words by inverse document frequency
    temperature: float = 0.05     # > 0: the seed draws among the top_k with weights exp(score / temperature)
    renoise: str = "predicted"    # steps after the first re-noise with the noise the step read in its input
                                  # ("predicted": deterministic), the start's draw ("start") or a fresh draw
    exemplar: bool = True         # add the exemplar's residual after decoding (:mod:`motionlcm_core.exemplars`)
    side_check: float = 0.5       # score − this where the window does not turn / travel to the prompt's side, or
                                  # travels (turns) where the prompt says in place (still): wanted_motion
    sure_share: float = 0.5       # a pick whose caption holds at least this share of the prompt's content words
    sure_cosine: float = 0.85     # … or whose caption embedding is this near the prompt's (> 1: never)
    sure_t: int = 19              # (idf-weighted) starts at sure_t instead of start_t (> 1: never): MotionBank.starts
    sure_flags: bool = True       # … or whose caption names every direction, gait, pace and posture the prompt does
    flight_check: float = 0.5     # score − this where a crop leaves the ground (both feet over 15 cm) for more
                                  # than AIRBORNE_FRAMES and the prompt names no jump nor raised ground
    sequence_penalty: float = 0.05  # score − this where the caption tells a sequence ("…, then …") and the prompt
                                    # not: of near ties, the caption of the one action asked for
    short_penalty: float = 0.5    # score − this × the share of the clip a window is too short for (such a window
                                  # is extended by its clip's neighbouring frames, its strides repeated, or held)
    loop_share: float = 0.5       # … times this where the window's whole clip is cyclic and too short: its strides
                                  # are repeated (a run of one stride runs on; 0.5: the val judge as with 1.0,
                                  # 0.0 lowered it, R@3 0.839 → 0.819)

    def __post_init__(self) -> None:
        if self.top_k < 1 or not 0 < self.start_t < 1000 or self.word_weight < 0 or self.short_penalty < 0:
            raise ValueError(f"top_k must be >= 1, start_t in (0, 1000), word_weight and short_penalty >= 0, got "
                             f"{self.top_k}, {self.start_t}, {self.word_weight}, {self.short_penalty}")
        if not 0.0 <= self.loop_share <= 1.0:
            raise ValueError(f"loop_share must be in [0, 1], got {self.loop_share}")
        if self.renoise not in ("predicted", "start", "fresh"):
            raise ValueError(f"renoise must be 'predicted', 'start' or 'fresh', got {self.renoise!r}")
        if not 0 < self.sure_t < 1000 or self.sure_share < 0 or self.sure_cosine < -1:
            raise ValueError(f"sure_t must be in (0, 1000), sure_share >= 0 and sure_cosine >= -1, got {self.sure_t}, "
                             f"{self.sure_share}, {self.sure_cosine}")


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
        self._latent_free = ~torch.isfinite(self.latents[:, 0]).flatten(1).all(1)    # (W,) windows under 40 frames
        self._file_flags = torch.zeros(len(window), dtype=torch.long) if flags is None else flags.long()
        if self._file_flags.shape != self.window.shape:
            raise ValueError("bank: one direction flag per caption expected")
        self._flags: torch.Tensor | None = None
        self._sequences: torch.Tensor | None = None
        self._tables: tuple[np.ndarray, np.ndarray] | None = None
        self.captions = list(captions) if captions is not None else None
        if self.captions is not None and len(self.captions) != len(self.window):
            raise ValueError("bank: one caption text per embedding expected")
        self.words = [content_words(c) for c in self.captions] if self.captions is not None else None
        self.idf = inverse_document_frequency(self.words) if self.words is not None else None
        self._index = word_index(self.words) if self.words is not None else None
        self._encoded: dict[tuple[int, int, int, bool, bool], Exemplar] = {}       # clause crops encoded so far
        self.sources = None if sources is None else sources.long()
        if self.sources is not None and self.sources.shape != (self.latents.shape[0], 4):
            raise ValueError("bank: sources (W, 4) = clip, start, end, mirrored per window expected")
        self.store = store if self.sources is not None else None
        self._sides: torch.Tensor | None = None                       # (W, 13) of _window_sides, on first use
        self._loops: dict[int, bool] = {}                             # clip -> cyclic, of the clips checked
        self._placements: dict[tuple, Placement] = {}                 # (pick fields, prompt) -> placement
        self._crops: dict[Placement, torch.Tensor] = {}               # placement -> its (13,) sides
        self._unmirrored = ({tuple(r[:3]): w for w, r in enumerate(self.sources.tolist()) if not r[3]}
                            if self.sources is not None else {})

    @property
    def flags(self) -> torch.Tensor:
        """``(N,)`` direction flags of the captions (:func:`~motionlcm_core.caption_match.direction_flags`), by
        this code's rules when the captions are known (the file's otherwise); worked out on first use."""
        if self._flags is None:
            self._flags = (torch.tensor([direction_flags(c) for c in self.captions], dtype=torch.long)
                           if self.captions is not None else self._file_flags)
        return self._flags

    @property
    def sequences(self) -> torch.Tensor:
        """``(N,)`` 1.0 where a caption tells motions in sequence (:func:`~motionlcm_core.caption_match.
        names_sequence`), else 0; worked out on first use (the bank must know its captions)."""
        if self._sequences is None:
            self._sequences = torch.tensor([float(names_sequence(c)) for c in self.captions])
        return self._sequences

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
            # a window whose whole clip is too short is lengthened by repeating its strides where the clip is
            # cyclic (faithfully: a run of one stride runs on); whether it is, is checked below on the leaders
            looping = self._lengthened(n) & (lacking > 0) if cfg.exemplar and self.store is not None else None
            score = sims[b] - cfg.short_penalty * (lacking if looping is None
                                                   else torch.where(looping, cfg.loop_share * lacking, lacking))
            if not (cfg.exemplar and self.store is not None):        # no exemplar: a window needs latents
                score = torch.where(self._latent_free[self.window], torch.full_like(score, -torch.inf), score)
            wanted = None
            if prompts is not None:
                flags = direction_flags(prompts[b])
                if flags:
                    score = torch.where(conflicts(flags, self.flags), score - 4.0, score)
                if cfg.sequence_penalty > 0 and self.captions is not None and not names_sequence(prompts[b]):
                    score = score - cfg.sequence_penalty * self.sequences
                if self.words is not None and cfg.word_weight > 0:
                    score = score + cfg.word_weight * indexed_overlap(prompts[b], self._index, len(self.words),
                                                                      self.idf if cfg.idf else None)
                checking = cfg.side_check > 0 and self.store is not None
                wanted = wanted_motion(prompts[b], flags) if checking else None
                if wanted is not None:
                    if self._sides is None:
                        self._sides = self._window_sides()
                    wanted_whole = wanted_motion(prompts[b], flags, whole=True)
                    whole = (wanted_whole(self._sides)[self.window] if wanted_whole is not None   # (N,) the whole
                             else torch.ones(len(self.window), dtype=torch.bool))                 # window
                    score = torch.where(whole, score, score - cfg.side_check)
            grounded = (prompts is not None and cfg.flight_check > 0 and self.store is not None
                        and not names_jump(prompts[b]) and not names_raised_ground(prompts[b]))
            checked = wanted is not None or grounded or (looping is not None and bool(looping.any()))
            leading = self._distinct(score, max(16, 4 * cfg.top_k) if checked else cfg.top_k)
            if checked:        # the crop each would give (a long window's part of it), top_k at a time, until
                score = score.clone()          # no later one can pass the top_k (a check only scores down)
                done = 0
                while done < len(leading):
                    chunk = leading[done:done + cfg.top_k]
                    placed = [self.placement(Pick(i, int(self.window[i]), bucket, BANK_LENGTHS[bucket]),
                                             prompts[b] if cfg.exemplar else None) for i in chunk]
                    sides = self._placed_sides(placed)
                    index = torch.tensor(chunk)
                    if wanted is not None:
                        crop = wanted(sides)
                        score[index] = torch.where(crop | ~whole[index], score[index], score[index] - cfg.side_check)
                    if grounded:
                        score[index] = torch.where(sides[:, 4] <= AIRBORNE_FRAMES, score[index],
                                                   score[index] - cfg.flight_check)
                    if looping is not None:
                        held = torch.tensor([bool(looping[i]) and not self._cyclic(int(self.sources[self.window[i], 0]))
                                             for i in chunk])
                        score[index] = torch.where(held, score[index] - cfg.short_penalty * (1.0 - cfg.loop_share)
                                                   * lacking[index],
                                                   score[index])
                    done += len(chunk)
                    best = torch.sort(score[torch.tensor(leading[:done])], descending=True).values
                    if done < len(leading) and best[min(cfg.top_k, done) - 1] >= score[leading[done]]:
                        break
                seen = torch.tensor(leading[:done])
                leading = ([leading[k] for k in torch.argsort(score[seen], descending=True, stable=True).tolist()]
                           + leading[done:])
            order = leading[:cfg.top_k]
            if cfg.temperature > 0:
                top = score[order].double()
                weights = torch.softmax((top - top.max()) / cfg.temperature, 0).numpy()
                i = order[int(rng.choice(len(order), p=weights / weights.sum()))]
            else:
                i = order[int(rng.integers(len(order)))]
            w = int(self.window[i])
            usable = [k for k in range(bucket, -1, -1) if torch.isfinite(self.latents[w, k]).all()]
            picks.append(Pick(i, w, usable[0] if usable else 0, BANK_LENGTHS[bucket]))
        return picks

    def starts(self, picks: Sequence[Pick], prompts: Sequence[str] | None, cfg: RetrievalConfig,
               text: torch.Tensor | None = None) -> list[int]:
        """The first sampling timestep of each pick: ``cfg.sure_t`` where its caption holds ``cfg.sure_share``
        or more of its prompt's content words (weighted by inverse document frequency), or where its caption's
        embedding has a cosine of ``cfg.sure_cosine`` or more with the prompt's ``text (B, 1, D)``, or where the
        prompt asks to stay still (:func:`~motionlcm_core.caption_match.names_staying`; from ``start_t`` the
        student adds motion: 0.17 m/s of body speed on a pick that moves 0.01), or (``cfg.sure_flags``) where its
        caption names every direction, gait, pace and posture the prompt names (the student speeds a slow walk
        up); else ``cfg.start_t``.
        A caption that says what the prompt says is kept close (the student, which has not learned jumping
        jacks or a kick, would blur them from 299); a looser match is left to the student to make its own.
        Chosen on the val captions' judge (R@3 0.840 → 0.844–0.846, FID 0.191 → 0.178 at share 0.5–0.6, t 19;
        the cosine 0.85 leaves it as it is: R@3 0.837, FID 0.173)."""
        out = []
        for b, p in enumerate(picks):
            sure = (prompts is not None and self.words is not None and cfg.sure_share <= 1.0
                    and float(word_overlap(prompts[b], [self.words[p.caption]], self.idf)[0]) >= cfg.sure_share)
            if text is not None and cfg.sure_cosine <= 1.0:
                q = torch.nn.functional.normalize(text[b, 0].float().cpu(), dim=-1)
                sure = sure or float(self.text[p.caption] @ q) >= cfg.sure_cosine
            still = prompts is not None and names_staying(prompts[b]) == 2      # the student would add motion
            if cfg.sure_flags and prompts is not None and self.captions is not None:
                asked = direction_flags(prompts[b])
                sure = sure or (asked != 0 and int(self.flags[p.caption]) & asked == asked)
            out.append(cfg.sure_t if sure or still else cfg.start_t)
        return out

    def retrieve(self, text: torch.Tensor, lengths: Sequence[int], seed: int,
                 cfg: RetrievalConfig = RetrievalConfig(),
                 prompts: Sequence[str] | None = None) -> tuple[torch.Tensor, list[int]]:
        """Latents ``(B, L, D)`` of :meth:`choose`'s picks and the caption index each came from."""
        picks = self.choose(text, lengths, seed, cfg, prompts)
        return torch.stack([self.latents[p.window, p.bucket] for p in picks]), [p.caption for p in picks]

    def _lengthened(self, n: int) -> torch.Tensor:
        """``(N,)`` True where the caption's window lies in a clip shorter than ``n + 1`` frames: its ``n``-frame
        exemplar repeats the clip's strides or holds its ends (:meth:`_crop_joints`)."""
        clips = self.sources[self.window, 0].numpy()
        return torch.from_numpy(np.asarray(self.store.frames)[clips] < n + 1)

    def _cyclic(self, clip: int) -> bool:
        """Whether ``clip`` is cyclic (:func:`~motionlcm_core.motion.cycles.loop_period`), cached (~2 ms each)."""
        if clip not in self._loops:
            self._loops[clip] = loop_period(self.store.crop(clip, 0, int(self.store.frames[clip]))) is not None
        return self._loops[clip]

    def _distinct(self, score: torch.Tensor, count: int) -> list[int]:
        """The ``count`` best-scored captions ``score (N,)`` of distinct windows, best first."""
        order, seen = [], set()
        for i in torch.argsort(score, descending=True).tolist():
            w = int(self.window[i])
            if w not in seen:
                seen.add(w)
                order.append(i)
                if len(order) == count:
                    break
        return order

    def _window_sides(self) -> torch.Tensor:
        """``(W, 13)``: every window's :meth:`_crop_sides` as a whole."""
        a, b = self.sources[:, 1].numpy(), self.sources[:, 2].numpy()
        return self._sides_of(self.sources[:, 0].numpy(), a, b - a, self.sources[:, 3].numpy().astype(bool))

    def _crop_sides(self, placed: "Placement") -> torch.Tensor:
        """``(13,)``: the net turn (degrees, left positive), sideways travel (m, to the body's left at its first
        frame), forward travel (m) and rise (m: the pelvis's height over its last 0.5 s less over its first, 0 where
        the lower foot goes 0.1 m or more the same way: climbing a ladder or stepping down is neither standing
        up nor sitting down; sitting on a tall stool, the feet off the floor, is) and the longest run of frames
        with both feet 15 cm over the crop's lowest foot (flight), the joints' mean speed (m/s) and the foot
        lifts per second (a foot rising 8 cm above the other: a jog on the spot 2–2.8, knee raises 0.75, squats
        and jumping jacks ~0), the wrists' mean speed about the pelvis (m/s, both wrists summed), the time both
        wrists are over the head (s), the time the pelvis stops (s: ground speed under ``STOP_SPEED``), the
        strikes per second (a fist shot out: ``STRIKE_REACH``, ``STRIKE_SPEED``) and the time the left and the
        right foot are kicked out (s: ``KICK_REACH``, ``KICK_HEIGHT``) of a placed crop (:meth:`placement`), read
        from the exemplar store; a mirrored crop's turn and sideways travel are the negation, its feet swapped."""
        return self._placed_sides([placed])[0]

    def _placed_sides(self, placed: Sequence["Placement"]) -> torch.Tensor:
        """``(K, 13)``: :meth:`_crop_sides` of each of ``placed``, those not seen before at once (remembered, the
        last 4096: a regenerated prompt checks the same crops)."""
        todo = list(dict.fromkeys(p for p in placed if p not in self._crops))
        if todo:
            rows = self._sides_of(np.array([p.clip for p in todo]), np.array([p.start for p in todo]),
                                  np.array([p.length for p in todo]), np.array([p.mirrored for p in todo]))
            for p, row in zip(todo, rows):
                _remember(self._crops, p, row, 4096)
        return torch.stack([self._crops[p] for p in placed])

    def _sides_of(self, clips: np.ndarray, starts: np.ndarray, lengths: np.ndarray | int,
                  mirrored: np.ndarray | bool) -> torch.Tensor:
        """``(K, 13)`` :meth:`_crop_sides` of the crops of ``lengths`` frames from ``starts`` in ``clips`` (each
        ``(K,)`` or one for all; a crop running past its clip's end stops there)."""
        clips, starts = np.broadcast_arrays(np.asarray(clips, dtype=np.int64), np.asarray(starts, dtype=np.int64))
        lengths = np.broadcast_to(np.asarray(lengths, dtype=np.int64), clips.shape)
        first = self.store.offsets[clips] + starts
        last = self.store.offsets[clips] + np.minimum(starts + lengths, self.store.frames[clips]) - 1
        half_yaw = torch.from_numpy(self.store.half_yaw[first].astype(np.float64))                    # (K,)
        step = torch.zeros(len(first), 3, dtype=torch.float64)
        step[:, [0, 2]] = torch.from_numpy((self.store.root_xz[last] - self.store.root_xz[first]).astype(np.float64))
        local = qrot(yaw_quat(half_yaw), step)
        heading = self._frame_tables()[6]
        turn = torch.from_numpy(heading[last] - heading[first])          # unwrapped: a spin of two turns is 720°
        sign = torch.from_numpy(np.where(np.broadcast_to(mirrored, clips.shape), -1.0, 1.0))
        feet = list(FEET_LEFT + FEET_RIGHT)
        # rise: the pelvis over the last 0.5 s (a quarter of a short crop) less over the first
        span = np.clip(lengths // 4, 1, FPS // 2)[:, None]
        ends = np.arange(FPS // 2)[None]
        weight = (ends < span) / span                                             # (K, 10) a mean over span

        def heights(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:        # (K,) pelvis, lower foot
            y = self.store.local[frames, :, 1].astype(np.float64)               # (K, 10, 22)
            return (y[..., 0] * weight).sum(1), (y[..., feet].min(-1) * weight).sum(1)

        (pelvis_0, foot_0) = heights(np.minimum(first[:, None] + ends, last[:, None]))
        (pelvis_1, foot_1) = heights(np.maximum(last[:, None] - ends, first[:, None]))
        rise = pelvis_1 - pelvis_0
        rise = np.where((foot_1 - foot_0) * np.sign(rise) < 0.1, rise, 0.0)    # not with the feet: no climb
        # flight: the longest run of frames with the lower foot 15 cm over the crop's lowest
        frames = first[:, None] + np.arange(int(lengths.max()) if len(lengths) else 0)[None]
        inside = frames <= last[:, None]
        lower = self._frame_tables()[1][np.minimum(frames, last[:, None])]
        lowest = np.where(inside, lower, np.inf).min(1, keepdims=True)
        airborne = torch.from_numpy(longest_runs(inside & (lower - lowest > 0.15))).double()
        # motion: the joints' mean speed, the foot lifts per second and the wrists' speed over the crop, and the
        # time both hands are up
        moved, _, lifts, wrists, up, stopped, _, strikes, kicked_left, kicked_right = self._frame_tables()
        span_s = np.maximum(last - first, 1) / FPS
        rates = [(table[last] - table[first]) / span_s for table in (moved, lifts, wrists)]
        times = [(table[last] - table[first]) / FPS for table in (up, stopped)]
        kicks = [(table[last] - table[first]) / FPS for table in (kicked_left, kicked_right)]
        swap = np.broadcast_to(mirrored, clips.shape)                   # a mirrored crop kicks with the other foot
        return torch.stack([sign * turn, sign * local[:, 0], local[:, 2], torch.from_numpy(rise), airborne,
                            *map(torch.from_numpy, rates + times),
                            torch.from_numpy((strikes[last] - strikes[first]) / span_s),
                            torch.from_numpy(np.where(swap, kicks[1], kicks[0])),
                            torch.from_numpy(np.where(swap, kicks[0], kicks[1]))], 1).float()

    def _frame_tables(self) -> tuple[np.ndarray, ...]:
        """Ten ``(F,)`` tables over the store's frames, worked out on first use: how far the 22 joints have
        moved on average (m) from their clip's first frame to this one, summed frame to frame (a crop's mean
        joint speed is a difference of two entries), the lower foot's height (m), how many times a foot has
        risen 8 cm above the other since the clip's first frame (a crop's lifts are a difference), and how far
        the two wrists have moved about the pelvis (m, summed likewise), how many frames both wrists have been
        over the head, how many the pelvis has stopped (ground speed under ``STOP_SPEED``), and the heading (degrees,
        left positive) the hips and shoulders have turned since, unwrapped (the features' root rotation misses
        most of a fast spin: 20° for a real 375°), how many times a wrist has shot out ahead of the pelvis
        (``STRIKE_REACH``, at ``STRIKE_SPEED``), and how many frames the left and the right foot have been kicked
        out ahead of it (``KICK_REACH``, ``KICK_HEIGHT``)."""
        if self._tables is None:
            local = self.store.local
            world = local.astype(np.float32)
            world[..., 0] += self.store.root_xz[:, None, 0]
            world[..., 2] += self.store.root_xz[:, None, 1]

            def since_clip_start(per_step: np.ndarray) -> np.ndarray:       # (F - 1,) from frame f to f + 1
                total = np.concatenate([[0.0], per_step.astype(np.float64)])
                total[self.store.offsets] = 0.0                              # nothing across clips
                return np.cumsum(total)

            feet = np.stack([world[:, list(FEET_LEFT), 1].min(-1), world[:, list(FEET_RIGHT), 1].min(-1)], 1)
            lower = feet.min(-1)
            lifted = (feet - lower[:, None]) > LIFT_M                                  # (F, 2) a foot lifted
            about = local[:, list(WRISTS)].astype(np.float64) - local[:, :1]          # (F, 2, 3) about the pelvis
            up = local[:, list(WRISTS), 1].min(-1) > local[:, HEAD, 1]               # (F,) both hands up
            facing = body_forward(local.astype(np.float64))                            # (F, 3)
            ahead = (about[..., [0, 2]] * unit(facing[:, None, [0, 2]])).sum(-1)    # (F, 2) wrists before the pelvis
            out = np.zeros_like(ahead, dtype=bool)                                     # (F, 2) a fist shooting out
            out[1:] = (ahead[1:] >= STRIKE_REACH) & (np.diff(ahead, axis=0) * FPS >= STRIKE_SPEED)
            ankles = local[:, list(ANKLES)].astype(np.float64)                        # (F, 2, 3) left, right
            kicked = (((ankles[..., [0, 2]] - local[:, None, 0, [0, 2]]) * unit(facing[:, None, [0, 2]])).sum(-1)
                      >= KICK_REACH) & (feet - lower[:, None] >= KICK_HEIGHT)        # (F, 2) a foot kicked out
            self._tables = (since_clip_start(np.linalg.norm(world[1:] - world[:-1], axis=-1).mean(-1)), lower,
                            since_clip_start((lifted[1:] & ~lifted[:-1]).sum(-1)),
                            since_clip_start(np.linalg.norm(about[1:] - about[:-1], axis=-1).sum(-1)),
                            since_clip_start(up[1:]),
                            since_clip_start(np.linalg.norm(np.diff(self.store.root_xz, axis=0), axis=-1) * FPS
                                             < STOP_SPEED),
                            since_clip_start(np.rad2deg(_wrapped(np.diff(np.arctan2(facing[:, 0], facing[:, 2])),
                                                                 2 * np.pi))),
                            since_clip_start((out[1:] & ~out[:-1]).sum(-1)),
                            since_clip_start(kicked[1:, 0]), since_clip_start(kicked[1:, 1]))
        return self._tables

    # ------------------------------------------------------------------ exemplars
    def placement(self, pick: Pick, prompt: str | None = None) -> "Placement":
        """:meth:`_place`, remembered (the last 4096): the lookup places each candidate it checks, the exemplar
        its pick again, and a regenerated prompt the same candidates."""
        key = (pick.caption, pick.window, pick.bucket, pick.length, prompt)
        placed = self._placements.get(key)
        return placed if placed is not None else _remember(self._placements, key, self._place(pick, prompt), 4096)

    def _place(self, pick: Pick, prompt: str | None = None) -> "Placement":
        """Where in its clip ``pick``'s exemplar of ``L = pick.length`` frames lies (the bank must have an
        exemplar store): the window's centre crop, whose latents the bank holds; or, given the ``prompt``:

        - when the window is longer than ``L``, the crop around the prompt's action: in the shortest phase of
          the clip that names it (:meth:`_narrowest`), around the clause that names it
          (:func:`~motionlcm_core.caption_match.clause_centre`), else its centre;
        - when the window is shorter than ``L``, the ``L`` frames of its clip centred on it (the clip's
          neighbouring motion around it), and where the clip itself is shorter, the clip with its strides
          repeated (a run of one stride) or held at its first and last pose (:meth:`_encoded_crop`)."""
        clip, a, b, mirrored = self.sources[pick.window].tolist()
        n = pick.length
        caption = pick.caption
        placing = prompt is not None and self.captions is not None
        whole = (a, b)
        frames = int(self.store.frames[clip])
        if placing and b - a > n:
            caption, a, b = self._narrowest(pick, prompt)
        if b - a >= n:
            centre = clause_centre(prompt, self.captions[caption], self.idf) if placing and b - a > n else None
            start = a + ((b - a) - n) // 2
            if centre is not None:
                start = a + int(round(centre * (b - a) - n / 2))
                start = max(a, min(start, b - n, frames - n - 1))
        else:
            start = max(0, min((a + b - n) // 2, frames - n - 1))
        how_far = placed_motion(prompt) if placing and whole[1] - whole[0] > n else None
        if how_far is not None:             # the narrowed phase (at least n frames about it), else the window
            near = (a, b) if b - a >= n else (max(0, start), max(b, start + n))
            start = self._wanted_start(clip, near + whole, n, bool(mirrored), start, *how_far)
        bank = (b - a >= n and caption == pick.caption and start == a + ((b - a) - n) // 2
                and (clip, a, b) in self._unmirrored and pick.bucket < len(BANK_LENGTHS)
                and BANK_LENGTHS[pick.bucket] == n)
        return Placement(clip, start, n, bool(mirrored), bank)

    def exemplar(self, pick: Pick, prompt: str | None = None, encode=None) -> Exemplar | None:
        """The :class:`~motionlcm_core.exemplars.Exemplar` of ``pick`` placed by :meth:`placement`: from the
        bank's latents, or encoded on the spot by ``encode(feats (L, 263)) -> latent (L_tokens, D)`` (None
        when that is needed and no ``encode`` is given, or the bank has no exemplars)."""
        if self.store is None:
            return None
        placed = self.placement(pick, prompt if encode is not None else None)
        if placed.bank:
            return self._bank_exemplar(pick, placed)
        if encode is None:
            return None
        return self._encoded_crop(placed.clip, placed.start, placed.length, placed.mirrored, encode,
                                  _straight(prompt))

    def _bank_exemplar(self, pick: Pick, placed: "Placement") -> Exemplar:
        """The exemplar of a placement the bank holds the latents of (``placed.bank``)."""
        clip, a, b, _ = self.sources[pick.window].tolist()
        w0 = self._unmirrored[(clip, a, b)]
        return Exemplar(self.latents[pick.window, pick.bucket], self.latents[w0, pick.bucket],
                        self.store.channels(clip, placed.start, placed.length), placed.mirrored)

    def _wanted_start(self, clip: int, ranges: tuple[int, ...], n: int, mirrored: bool, start: int,
                      how_far: Callable[[torch.Tensor], torch.Tensor], least: float, stride: int = 4) -> int:
        """The start of the ``n``-frame crop of ``clip`` that does most what the prompt asks (``how_far``,
        :func:`placed_motion`, at least ``least``), the one nearest ``start`` among equals: within the first
        window ``ranges[0:2]`` (frames ``a`` to ``b``), else within the second ``ranges[2:4]``; ``start`` when
        no crop there does. Sitting down in a clip of "sits down on a stool and stands back up, repeatedly" is
        the crop whose pelvis drops most, not the clause's centre, which may sit or stand."""
        limit = int(self.store.frames[clip]) - n - 1
        for a, b in zip(ranges[0::2], ranges[1::2]):
            starts = np.unique(np.append(np.arange(a, min(b - n, limit) + 1, stride), start))
            starts = starts[(starts >= a) & (starts <= min(b - n, limit))]
            if not len(starts):
                continue
            score = how_far(self._sides_of(clip, starts, n, mirrored)).numpy().round(2)    # to the cm
            if score.max() >= least:
                best = starts[score == score.max()]
                return int(best[np.argmin(np.abs(best - start))])
        return start

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

    def exemplars(self, picks: Sequence[Pick], prompts: Sequence[str | None], encode_many) -> list[Exemplar | None]:
        """:meth:`exemplar` of every pick and prompt, the crops to encode encoded together:
        ``encode_many(list of feats (L_i, 263)) -> list of latents`` (one VAE call for a batch's crops)."""
        if self.store is None:
            return [None] * len(picks)
        out: list[Exemplar | None] = []
        todo: dict[tuple, list[int]] = {}
        for k, (pick, prompt) in enumerate(zip(picks, prompts)):
            placed = self.placement(pick, prompt)
            if placed.bank:
                out.append(self._bank_exemplar(pick, placed))
                continue
            key = (placed.clip, placed.start, placed.length, placed.mirrored, _straight(prompt))
            out.append(self._encoded.get(key))
            if out[-1] is None:
                todo.setdefault(key, []).append(k)
        if todo:
            feats = Exemplar.features_many([self._crop_joints(clip, start, n, straight)
                                            for clip, start, n, _, straight in todo], [key[3] for key in todo])
            for (key, rows), f, latent in zip(todo.items(), feats, encode_many(feats)):
                self._cache(key, Exemplar.from_features(f, latent))
                for k in rows:
                    out[k] = self._encoded[key]
        return out

    def _cache(self, key: tuple, exemplar: Exemplar) -> None:
        _remember(self._encoded, key, exemplar, 64)

    def _crop_joints(self, clip: int, start: int, n: int, straight: bool) -> np.ndarray:
        """``(n + 1, 22, 3)`` joints of the crop :meth:`_encoded_crop` encodes."""
        frames = int(self.store.frames[clip])
        if start + n + 1 <= frames:
            return self.store.crop(clip, start, n + 1)
        whole = self.store.crop(clip, 0, frames)
        period = loop_period(whole)
        if period is not None:
            return extend_cycles(whole, n + 1, period, straight=straight)
        before = (n + 1 - frames) // 2
        return np.concatenate([np.repeat(whole[:1], before, 0), whole,
                               np.repeat(whole[-1:], n + 1 - frames - before, 0)])

    def _encoded_crop(self, clip: int, start: int, n: int, mirrored: bool, encode,
                      straight: bool = False) -> Exemplar:
        """The exemplar of frames ``start : start + n`` of ``clip`` (``n + 1`` joint frames give ``n`` feature
        frames), encoded now and cached (the last 64); a clip too short for them is lengthened to ``n + 1``
        frames, centred: by repeating its cycles where it is cyclic (a run or a walk of one or two strides,
        :func:`~motionlcm_core.motion.cycles.loop_period`; ``straight``: the repeats go straight on, without the
        clip's own turn, which a prompt that is no circle asks for once), else by holding its first and last
        pose."""
        key = (clip, start, n, mirrored, straight)
        if key not in self._encoded:
            self._cache(key, Exemplar.encoded(self._crop_joints(clip, start, n, straight), mirrored, encode))
        return self._encoded[key]


def _straight(prompt: str | None) -> bool:
    """Whether a short cyclic clip lengthened for ``prompt`` repeats its strides without their turn
    (:func:`~motionlcm_core.motion.cycles.extend_cycles`): for a prompt that names no circle."""
    return prompt is not None and not names_circling(prompt)


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


@dataclass(frozen=True)
class Placement:
    """An exemplar's frames: ``length`` frames of clip ``clip`` from ``start`` (a clip shorter than that is
    lengthened: its cycles repeated or its ends held, :meth:`MotionBank._encoded_crop`), mirrored or not;
    ``bank``: they are the centre crop whose latents the bank holds."""

    clip: int
    start: int
    length: int
    mirrored: bool
    bank: bool


def _remember(memo: dict, key, value, limit: int):
    """``value`` put under ``key`` in ``memo``, its oldest entry dropped once ``limit`` are held; returned."""
    if len(memo) >= limit:
        memo.pop(next(iter(memo)))
    memo[key] = value
    return value


def _wrapped(angle: np.ndarray, period: float) -> np.ndarray:
    """``angle`` (rad) wrapped into ``[-period / 2, period / 2)``."""
    return (angle + period / 2) % period - period / 2


def longest_runs(flags: np.ndarray) -> np.ndarray:
    """``(K,)`` the longest run of True in each row of ``flags (K, T)``."""
    if flags.shape[1] == 0:
        return np.zeros(len(flags), dtype=np.int64)
    count = np.cumsum(flags, axis=1)
    before = np.maximum.accumulate(np.where(flags, 0, count), axis=1)        # the count at the last False
    return (count - before).max(1)


def wanted_motion(prompt: str, flags: int | None = None,
                  whole: bool = False) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """What the ``prompt`` asks of a motion's net turn and travel, as a test of ``sides (K, 13)`` (net turn in
    degrees, sideways and forward travel in m; see :meth:`MotionBank._crop_sides`) giving ``(K,)`` True where
    a motion does it: turning or travelling to the one side it names (:func:`moves_that_way`), staying where
    it is when it says so (:func:`stays_put`; running on the spot also lifts the feet ``RUN_LIFTS_PER_S``
    times a second), running on without stopping for more than ``RUN_STOP_S`` when it runs elsewhere (not in a
    sequence), the joints slower than ``SLOW_WALK`` (faster than ``QUICK_WALK``) in a slow (quick) walk, both feet
    off the ground for more than ``AIRBORNE_FRAMES`` when it jumps (not in a sequence), the
    foot it kicks with (either, where it names none) kicked out ahead for ``KICK_S``, both hands over the head
    for ``ARMS_UP_S`` when it raises both arms over the head, backward when it says backward alone, without a
    sequence (:func:`backs_away`), ahead when it says forward alone of a body going somewhere, not turning,
    sideways nor staying (:func:`goes_ahead`), turning as far as it says
    (:func:`~motionlcm_core.caption_match.turn_extent`: a circle, a side turn that is no full turn, turning
    around); all that it says; None when it asks nothing of them.
    ``flags``: the prompt's :func:`~motionlcm_core.caption_match.direction_flags`, when known. ``whole``: the
    test of a whole window, of which a crop may be placed (:meth:`MotionBank.placement`), without the foot lifts,
    stops, flight, kicks and raised hands (a share of a long window says nothing of its parts: the jog of a
    warm-up routine)."""
    flags = direction_flags(prompt) if flags is None else flags
    tests = []
    staying, sequence = names_staying(prompt), names_sequence(prompt)
    if bool(flags & 1) != bool(flags & 2):
        sign, sideways, turning = (1.0 if flags & 1 else -1.0), names_sideways(prompt), names_turning(prompt)
        tests.append(lambda sides: moves_that_way(sides, sign, sideways, turning and not sideways))
    if flags & 8 and not flags & 4 and not sequence:       # backward alone (DIRECTIONS pair 1)
        tests.append(backs_away)
    if (flags & 4 and not flags & 8 and not flags & 3 and names_travel(prompt) and not sequence
            and not names_turning(prompt) and not names_sideways(prompt) and not staying):   # forward alone, going
        tests.append(goes_ahead)
    if staying:
        tests.append(lambda sides: stays_put(sides, keep_facing=staying == 2))
    if staying == 1 and names_running(prompt) and not whole:        # runs on the spot: the feet lift in turn
        tests.append(lambda sides: sides[:, 6] >= RUN_LIFTS_PER_S)
    if not staying and names_running(prompt) and not sequence and not whole:    # a run runs on
        tests.append(lambda sides: sides[:, 9] <= RUN_STOP_S)
    pace = walking_pace(prompt)
    if pace:                                                        # a slow walk is slow, a brisk one brisk
        tests.append(lambda sides: sides[:, 5] <= SLOW_WALK if pace > 0 else sides[:, 5] >= QUICK_WALK)
    if names_take_off(prompt) and not sequence and not whole:     # both feet off the ground at once
        tests.append(lambda sides: sides[:, 4] > AIRBORNE_FRAMES)
    kick = kicking_side(prompt)
    if kick is not None and not whole:                              # a foot kicked out ahead (the one it names)
        tests.append(lambda sides: _kicked(sides, kick) >= KICK_S)
    if names_arms_up(prompt) and not whole:                         # both hands up over the head
        tests.append(lambda sides: sides[:, 8] >= ARMS_UP_S)
    height = names_height_change(prompt)
    if height:
        tests.append(lambda sides: ends_lower_or_higher(sides, height))
    least, most = turn_extent(prompt)
    if least > 0 or most < np.inf:
        tests.append(lambda sides: (sides[:, 0].abs() >= least) & (sides[:, 0].abs() <= most))
    if not tests:
        return None
    return lambda sides: torch.stack([t(sides) for t in tests]).all(0)


def placed_motion(prompt: str) -> tuple[Callable[[torch.Tensor], torch.Tensor], float] | None:
    """How far motions with ``sides (K, 13)`` (:func:`wanted_motion`) do what the prompt asks of a long
    window's crop (:meth:`MotionBank.placement`), ``(K,)``, and the least that counts:

    - sitting down (standing up): the drop (rise) of the pelvis from the crop's first 0.5 s to its last, at
      least 5 cm — an action that happens once in its window, or once each way in "sits down on a stool and
      stands back up, repeatedly", so that the crop must hold it (and a high stool drops the pelvis less than
      the 0.2 m :func:`ends_lower_or_higher` asks);
    - standing still: the least joint speed (m/s), any — the still part of "stands still, then kicks";
    - running or jogging on the spot: the most foot lifts per second, at least ``RUN_LIFTS_PER_S`` — the jog
      of "jumping jacks, a short jog on the spot, deep squats, …", not its knee raises, where the clauses,
      taken as equally long, put it;
    - punching: the most strikes per second (a fist shot out ahead of the body) — the flurry of punches of a
      long boxing or karate window, not its guard, footwork and weaving (which move the wrists as fast);
    - kicking: the longest time the foot it names (either, where it names none) is kicked out ahead, at least
      ``KICK_S`` — the kick of "stands, then kicks the right leg out", not its standing;
    - a jump (both feet off the ground at once, not in a sequence): the longest flight, at least
      ``AIRBORNE_FRAMES + 1`` frames — the jumps of "jump up and down, hop on one foot", not its hops;
    - another arm action done over and over (waves, claps): the wrists' greatest speed about the pelvis;
    - both arms raised over the head: the longest time both wrists are over the head, at least ``ARMS_UP_S``.

    None when the prompt names none of these. Turning round was tried the same way (a net turn of 135–240°) and
    left out: the data's turn-around clips also loop on or measure short (a walk there and back whose facing
    turns 70°), and the val judge fell (R@3 0.837 → 0.822–0.829)."""
    height = names_height_change(prompt)
    if height:
        return (lambda sides: height * sides[:, 3]), 0.05
    staying = names_staying(prompt)
    if staying == 2:
        return (lambda sides: -sides[:, 5]), -np.inf
    if staying == 1 and names_running(prompt):
        return (lambda sides: sides[:, 6]), RUN_LIFTS_PER_S
    if names_striking(prompt):
        return (lambda sides: sides[:, 10]), -np.inf
    kick = kicking_side(prompt)
    if kick is not None:
        return (lambda sides: _kicked(sides, kick)), KICK_S
    if names_take_off(prompt) and not names_sequence(prompt):
        return (lambda sides: sides[:, 4]), AIRBORNE_FRAMES + 1
    if names_arm_action(prompt):
        return (lambda sides: sides[:, 7]), -np.inf
    if names_arms_up(prompt):
        return (lambda sides: sides[:, 8]), ARMS_UP_S
    return None


def _kicked(sides: torch.Tensor, side: int) -> torch.Tensor:
    """``(K,)`` the time (s) the foot of ``side`` (1 left, -1 right, 0 either) is kicked out in motions with
    ``sides (K, 13)`` (:func:`wanted_motion`)."""
    return {1: sides[:, 11], -1: sides[:, 12]}.get(side, sides[:, 11:13].max(1).values)


def ends_lower_or_higher(sides: torch.Tensor, sign: int) -> torch.Tensor:
    """``(K,)`` True where motions with ``sides (K, 13)`` (:func:`wanted_motion`) end with the pelvis more than
    0.2 m lower (``sign`` -1: sits down) or higher (+1: stands up) than they start (over 0.5 s at each end)."""
    return sign * sides[:, 3] > 0.2


def backs_away(sides: torch.Tensor) -> torch.Tensor:
    """``(K,)`` True where motions with ``sides (K, 3)`` (:func:`wanted_motion`) travel backward: more than
    0.3 m against their first facing, more than sideways, the body turned less than 45° (walking backward
    keeps facing ahead; turning round and walking back does not)."""
    return (sides[:, 2] < -0.3) & (sides[:, 2].abs() > sides[:, 1].abs()) & (sides[:, 0].abs() < 45.0)


def goes_ahead(sides: torch.Tensor) -> torch.Tensor:
    """``(K,)`` True where motions with ``sides (K, 13)`` (:func:`wanted_motion`) end more than 0.3 m ahead of
    where they started, more ahead than to a side: "walks forward" is no walk there and back."""
    return (sides[:, 2] > 0.3) & (sides[:, 2] > sides[:, 1].abs())


def stays_put(sides: torch.Tensor, keep_facing: bool) -> torch.Tensor:
    """``(K,)`` True where motions with ``sides (K, 13)`` (:func:`wanted_motion`) end less than 0.5 m from
    where they start (a jog on the spot drifts 0.1–0.3 m), and, when ``keep_facing`` ("stands still"), turned
    less than 30° with the joints moving less than 0.15 m/s on average (real standing 0.05; a kick 0.2)."""
    near = torch.hypot(sides[:, 1], sides[:, 2]) < 0.5
    return near & (sides[:, 0].abs() < 30.0) & (sides[:, 5] < 0.15) if keep_facing else near


def moves_that_way(sides: torch.Tensor, sign: float, sideways: bool = False, turning: bool = False) -> torch.Tensor:
    """``(K,)`` True where motions with ``sides (K, 3)`` (net turn in degrees, sideways and forward travel in
    m, left positive) go to the side ``sign`` (+1 left, -1 right): turning more than 30° that way, or
    travelling more than 0.3 m sideways that way without turning more than 30° the other way (a U-turn to the
    right can end up a little to the left); for a turn prompt (``turning``: "turns left") only the turn
    counts; for a side-step prompt (``sideways``) only the sideways travel counts, and only where it exceeds
    the forward travel (walking ahead and veering left also ends up to the left) and the body keeps facing
    ahead (net turn under 45°: a spin travels sideways too)."""
    agree = sign * sides[:, 1] > 0.3
    if sideways:
        return agree & (sides[:, 1].abs() > sides[:, 2].abs()) & (sides[:, 0].abs() < 45.0)
    turn = sign * sides[:, 0]
    return turn > 30.0 if turning else (turn > 30.0) | (agree & (turn > -30.0))


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
            if b - a < BANK_MIN_FRAMES:
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
