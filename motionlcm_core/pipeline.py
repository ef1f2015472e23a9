"""Text (+ pinned joints) → latent motion (LCM 1–4 steps or the DDIM teacher) → features → joints.

``MotionLCMPipeline.generate`` runs the numbered stages of MotionLCM in-process; every network and
table comes from a :class:`~motionlcm_core.config.ModelConfig`."""
from __future__ import annotations

import dataclasses
import math
import secrets
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .caption_match import names_raised_ground, plain_wording
from .config import ModelConfig
from .control.exact import apply_exact
from .control.passes import PinPassConfig
from .control.refine import refine_latents
from .control.targets import Control, check_pins_within, pin_errors
from .device import choose_dtype, device_name, make_generator, resolve_device
from .exemplars import decode_with_exemplars
from .models import LatentDenoiser, MotionControlNet, MotionVAE, TrajectoryEncoder
from .motion import CONTROL_JOINTS, ControlStats, FeatureStats, floor_height, lower_heights, recover_joints
from .motion.body import BodyConfig, foot_channels, hold_body
from .motion.skeleton import FPS, num_frames
from .result import MotionResult, StageTimer
from .retrieval import MotionBank, RetrievalConfig, retrieval_timesteps
from .sampling import ddim_cfg_sample, lcm_sample
from .schedulers import DDIMScheduler, LCMScheduler, NoiseSchedule
from .text_encoder import TextEncoder, cached_encoder, embedded_model_path


class MotionLCMPipeline:
    """Holds the networks on one device/dtype. Build with :meth:`from_pretrained`,
    :meth:`from_official_checkpoint` or :meth:`from_config` (random weights, for benchmarks/tests)."""

    def __init__(self, cfg: ModelConfig, *, vae: MotionVAE, denoiser: LatentDenoiser,
                 stats: FeatureStats, control_stats: ControlStats, teacher: LatentDenoiser | None = None,
                 controlnet: MotionControlNet | None = None, traj_encoder: TrajectoryEncoder | None = None,
                 text_encoder_path: str | Path | None = None, device: str | torch.device = "auto",
                 dtype: str = "fp32", description: str = "", trained: bool = True,
                 info: dict[str, Any] | None = None, bank: MotionBank | None = None) -> None:
        self.cfg = cfg
        self.device = resolve_device(device)
        choice = choose_dtype(self.device, dtype)  # "auto": measured against fp32 (device.choose_dtype)
        self.dtype, self.dtype_reason = choice.dtype, choice.reason
        self.vae, self.denoiser, self.teacher = vae, denoiser, teacher
        self.controlnet, self.traj_encoder = controlnet, traj_encoder
        for m in self._modules():
            m.eval().requires_grad_(False).to(self.device, self.dtype)
        self.stats, self.control_stats = stats, control_stats
        self.schedule = NoiseSchedule(cfg.scheduler)
        self.lcm_scheduler = LCMScheduler(cfg.scheduler, self.schedule)
        self.ddim_scheduler = DDIMScheduler(cfg.scheduler, self.schedule)
        self.text_encoder_path = Path(text_encoder_path) if text_encoder_path else None
        self.description = description or f"MotionLCM {cfg.version}"
        self.trained = trained
        self.info = info or {}
        self.bank = bank

    # ------------------------------------------------------------------ construction
    def _modules(self) -> list[torch.nn.Module]:
        return [m for m in (self.vae, self.denoiser, self.teacher, self.controlnet, self.traj_encoder) if m is not None]

    @classmethod
    def from_config(cls, cfg: ModelConfig, *, device: str = "auto", dtype: str = "fp32", seed: int = 0,
                    with_teacher: bool = True, text_encoder_path: str | Path | None = None) -> "MotionLCMPipeline":
        """Random (untrained) weights of ``cfg``: for benchmarks and tests, never for animators."""
        from .motion import humanml3d_control_stats, humanml3d_stats
        torch.manual_seed(seed)
        den = LatentDenoiser(cfg.denoiser)
        teacher = LatentDenoiser(dataclasses.replace(cfg.denoiser, time_cond_proj_dim=None)) if with_teacher else None
        control = cfg.controlnet is not None
        return cls(cfg, vae=MotionVAE(cfg.vae), denoiser=den, teacher=teacher,
                   controlnet=MotionControlNet.from_denoiser(den, cfg.controlnet) if control else None,
                   traj_encoder=TrajectoryEncoder(cfg.traj_encoder) if control else None,
                   stats=humanml3d_stats(), control_stats=humanml3d_control_stats(),
                   text_encoder_path=text_encoder_path, device=device, dtype=dtype,
                   description=f"random {cfg.version} weights (untrained)", trained=False)

    @classmethod
    def from_pretrained(cls, path_or_name: str | Path = "embedded", device: str = "auto",
                        dtype: str = "fp32") -> "MotionLCMPipeline":
        """Load our safetensors file (``"embedded"`` = the default model shipped with the package).

        ``dtype``: ``"fp32"``, ``"bf16"``, ``"fp16"`` or ``"auto"`` (a 16-bit dtype only where the hardware
        runs it faster and its measured joint error stays under 5 mm; ``pipe.dtype_reason`` says why)."""
        from .io.pretrained import load_pretrained
        return load_pretrained(cls, path_or_name, device=device, dtype=dtype)

    @classmethod
    def from_official_checkpoint(cls, path: str | Path, version: str = "v2", text_encoder: str | Path | None = None,
                                 device: str = "auto", arch_overrides: dict[str, Any] | None = None,
                                 dtype: str = "fp32") -> "MotionLCMPipeline":
        """Load a released MotionLCM ``.ckpt`` (V1/V2, text-to-motion or control) strictly."""
        from .io.pretrained import load_official
        return load_official(cls, path, version=version, text_encoder=text_encoder, device=device,
                             arch_overrides=arch_overrides, dtype=dtype)

    # ------------------------------------------------------------------ properties
    @property
    def has_controlnet(self) -> bool:
        return self.controlnet is not None and self.traj_encoder is not None

    @property
    def has_teacher(self) -> bool:
        return self.teacher is not None

    @property
    def device_label(self) -> str:
        return device_name(self.device)

    def to(self, device: str | torch.device) -> "MotionLCMPipeline":
        """Move every network (e.g. CPU fallback after a GPU out-of-memory error)."""
        self.device = resolve_device(device)
        if self.device.type == "cpu" and self.dtype == torch.float16:
            self.dtype, self.dtype_reason = torch.float32, "fp32: fp16 does not run on the CPU (moved from the GPU)"
        for m in self._modules():
            m.to(self.device, self.dtype)
        return self

    def text_encoder(self) -> TextEncoder:
        if self.text_encoder_path is None:
            if self.cfg.text_encoder == "all-MiniLM-L6-v2":
                self.text_encoder_path = embedded_model_path()
            else:
                raise ValueError(
                    f"this model needs the text encoder '{self.cfg.text_encoder}': download "
                    "sentence-transformers/sentence-t5-large to a local folder (e.g. deps/sentence-t5-large) and pass "
                    "text_encoder=<folder>, or call generate(text_embeddings=...)")
        enc = cached_encoder(str(self.text_encoder_path), str(self.device), self.cfg.text_encoder)
        if enc.dim != self.cfg.denoiser.text_dim:
            raise ValueError(f"text encoder gives {enc.dim}-d embeddings but the model expects "
                             f"{self.cfg.denoiser.text_dim}-d")
        return enc


    # ------------------------------------------------------------------ generation
    def validate_request(self, prompts: Sequence[str] | str | None, text_embeddings: Any, lengths: Any,
                         seconds: Any, num_steps: int, guidance_scale: float | None, teacher: bool,
                         control: Control | None) -> tuple[list[str] | None, list[int]]:
        """All input checks, before any work; returns (prompts, lengths)."""
        if isinstance(prompts, str):
            prompts = [prompts]
        if prompts is None and text_embeddings is None:
            raise ValueError("give prompts (a list of sentences) or text_embeddings")
        if prompts is not None:
            prompts = list(prompts)
            if not prompts or any(not isinstance(p, str) or not p.strip() for p in prompts):
                raise ValueError("every prompt must be a non-empty sentence, e.g. 'a person walks forward and waves'")
        batch = len(prompts) if prompts is not None else int(torch.as_tensor(text_embeddings).shape[0])
        lengths = self._lengths(batch, lengths, seconds)
        if not teacher and num_steps not in self.cfg.scheduler.lcm_timesteps:
            raise ValueError(f"num_steps must be one of {sorted(self.cfg.scheduler.lcm_timesteps)}, got {num_steps}")
        if teacher and not self.has_teacher:
            raise ValueError("this model has no MLD teacher; use teacher=False (LCM sampling)")
        if guidance_scale is not None and (not math.isfinite(guidance_scale) or guidance_scale < 1.0):
            raise ValueError(f"guidance_scale must be a finite number ≥ 1, got {guidance_scale}")
        if control is not None:
            if not self.has_controlnet:
                raise ValueError("pins need a model with a Motion ControlNet; this model has none "
                                 "(use the embedded model or an official control checkpoint)")
            control.validated(batch, max(lengths))
        return prompts, lengths

    @torch.no_grad()
    def _encode_exemplar(self, feats: np.ndarray) -> torch.Tensor:
        """VAE mean ``(L, D)`` of de-normalised ``feats (T, 263)`` (an exemplar crop), on the CPU in fp32."""
        return self._encode_exemplars([feats])[0]

    @torch.no_grad()
    def _encode_exemplars(self, feats: list[np.ndarray]) -> list[torch.Tensor]:
        """VAE means ``(L, D)`` of de-normalised ``feats`` (exemplar crops ``(T_i, 263)``), on the CPU in fp32;
        crops of one length in one VAE call."""
        out: list[torch.Tensor | None] = [None] * len(feats)
        for n in sorted({len(f) for f in feats}):
            rows = [i for i, f in enumerate(feats) if len(f) == n]
            x = torch.from_numpy(np.stack([np.ascontiguousarray(feats[i]) for i in rows])).float()
            x = self.stats.normalize(x).to(self.device)
            mask = torch.ones(len(rows), n, dtype=torch.bool, device=self.device)
            mu = self.vae.encode(x.to(self.dtype), mask).mu.float().cpu()
            for k, i in enumerate(rows):
                out[i] = mu[k]
        return out

    @staticmethod
    def _hold_bodies(joints: np.ndarray, feats: torch.Tensor, lengths: list[int],
                     body: bool | BodyConfig, exemplars: list | None = None,
                     prompts: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """:func:`hold_body` on each clip of ``joints (B, T, 22, 3)`` in place; the per-clip reports. A clip
        made from an exemplar stands on the raised surfaces its real motion stands on (steps, a stool) where
        its prompt puts the body on something (:func:`~motionlcm_core.caption_match.names_raised_ground`);
        where it does not, the clip keeps to the flat floor: "walks in a circle" made from a walk over uneven
        ground walks on the floor."""
        cfg = body if isinstance(body, BodyConfig) else BodyConfig()
        channels = foot_channels(feats.float().cpu().numpy())
        reports = []
        for b, n in enumerate(lengths):
            ex = exemplars[b] if exemplars is not None else None
            raised = prompts is None or names_raised_ground(prompts[b])
            support = ex.support(n) if ex is not None and ex.real.shape[0] >= n and raised else None
            joints[b, :n], report = hold_body(joints[b, :n], channels[b, :n], cfg, support, raised)
            reports.append(report)
        return reports

    def _lengths(self, batch: int, lengths: Any, seconds: Any) -> list[int]:
        if lengths is not None and seconds is not None:
            raise ValueError("give lengths (frames at 20 fps) or seconds, not both")
        if lengths is None:
            secs = 6.0 if seconds is None else seconds
            secs = list(secs) if isinstance(secs, (list, tuple)) else [secs] * batch
            if any(not isinstance(s, (int, float)) or not math.isfinite(s) for s in secs):
                raise ValueError(f"seconds must be finite numbers, got {secs}")
            lengths = [num_frames(s) for s in secs]
        elif isinstance(lengths, int):
            lengths = [lengths] * batch
        lengths = [int(x) for x in lengths]
        if len(lengths) != batch:
            raise ValueError(f"{len(lengths)} lengths for {batch} prompts")
        lo, hi = self.cfg.min_frames, self.cfg.max_frames
        for n in lengths:
            if not lo <= n <= hi:
                raise ValueError(
                    f"length {n} frames ({n / FPS:.2f} s) is outside the model's range {lo}–{hi} frames "
                    f"({lo / FPS:.1f}–{hi / FPS:.1f} s at {FPS} fps). Longer shots are made from several clips: "
                    "generate each part and sequence them (Bake to NLA; each clip continues from the rig's pose).")
        return lengths

    def _text(self, prompts: list[str] | None, text_embeddings: Any) -> torch.Tensor:
        if text_embeddings is not None:
            emb = torch.as_tensor(text_embeddings, dtype=torch.float32)
            emb = emb[:, None] if emb.dim() == 2 else emb
            if emb.dim() != 3 or emb.shape[1:] != (1, self.cfg.denoiser.text_dim):
                raise ValueError(f"text_embeddings must be (B, {self.cfg.denoiser.text_dim}), got {tuple(emb.shape)}")
            if not torch.isfinite(emb).all():
                raise ValueError("text_embeddings contain NaN or infinite values")
            return emb.to(self.device)
        return self.text_encoder().encode(prompts)

    @torch.inference_mode()
    def generate(self, prompts: Sequence[str] | str | None = None, *, text_embeddings: Any = None,
                 lengths: Sequence[int] | int | None = None, seconds: float | Sequence[float] | None = None,
                 num_steps: int = 1, guidance_scale: float | None = None, seed: int | None = None,
                 control: Control | None = None, teacher: bool = False,
                 init_noise: torch.Tensor | None = None, passes: PinPassConfig = PinPassConfig(),
                 body: bool | BodyConfig = True,
                 retrieval: bool | RetrievalConfig | None = None) -> MotionResult:
        """Generate ``B`` motions. Same seed and inputs → same motion (noise drawn on the CPU).

        ``passes`` (:class:`~motionlcm_core.control.passes.PinPassConfig`) holds the numbers of every pass after
        sampling. With ``control`` (pins), three passes meet them: the ControlNet (it sees the pins on the joints
        it was trained on, :data:`~motionlcm_core.motion.CONTROL_JOINTS`), latent refinement (``passes.refine``,
        Adam steps on the latent through the decoder, :mod:`motionlcm_core.control.refine`) and the exact pass
        (``passes.exact``: pinned joints meet their targets, corrections spread smoothly over nearby frames,
        :mod:`motionlcm_core.control.exact`); ``None`` turns a pass off.
        ``report["pin_error_m"]`` gives the mean pin error after each pass and ``report
        ["pin_residual_max_m"]`` the largest distance left (non-zero only for pins out of reach).
        ``feats`` are the model's features (after refinement, before the exact pass).

        ``passes.floor`` (default ``None``: on without pins, off with them) puts each clip's lowest joint on y = 0,
        the floor rule of the training data (every training crop has its lowest joint there); the model does not
        always keep it and can float a whole clip. ``report["floor_shift_m"]`` gives how far each clip was lowered.
        Pins fix absolute heights, so ``floor=True`` with pins is refused.

        ``body`` (default on; a :class:`~motionlcm_core.motion.body.BodyConfig` to tune it) makes the body hold
        together (:func:`~motionlcm_core.motion.body.hold_body`): bones at the data skeleton's lengths, supported
        frames on the floor, feet planted during the model's own contacts and lifted in swing. Not with pins
        that fix heights (and, from the user's rig, proportions: the exact pass meets them); with pins on the
        pelvis's ground-plane axes only (a path) it runs after the exact pass, which it keeps. The rig's
        retargeting still plants the feet (:func:`~motionlcm_core.retarget.retarget`). ``report["body"]``
        reports it per clip; ``joints`` are the cleaned ones, ``feats`` the model's. ``body=False`` gives the
        raw decoded joints (as the official sampler).

        ``retrieval`` (default: on for a model with a motion bank, e.g. the embedded one, when sampling with
        the student without pins or ``init_noise``; a :class:`~motionlcm_core.retrieval.RetrievalConfig` to
        tune it) starts the student from the latent of a training motion whose caption is near the prompt,
        noised to ``start_t`` (:mod:`motionlcm_core.retrieval`); the seed picks among the nearest.
        ``report["retrieval"]`` says which bank entries were used. ``retrieval=False``: pure noise.

        Prompts are encoded and matched as the captions word them
        (:func:`~motionlcm_core.caption_match.plain_wording`: "backs up" as "walks backward");
        ``report["read_as"]`` gives that reading, ``report["prompts"]`` the prompts as given."""
        # 1. validate everything before any work
        prompts, lengths = self.validate_request(prompts, text_embeddings, lengths, seconds, num_steps,
                                                 guidance_scale, teacher, control)
        if not isinstance(passes, PinPassConfig):
            raise ValueError(f"passes must be a PinPassConfig, got {passes!r}")
        if retrieval is not None and not isinstance(retrieval, (bool, RetrievalConfig)):
            raise ValueError(f"retrieval must be True, False, None or a RetrievalConfig, got {retrieval!r}")
        if retrieval and self.bank is None:
            raise ValueError("retrieval needs a model with a motion bank (the embedded model has one)")
        if retrieval and (teacher or control is not None or init_noise is not None):
            raise ValueError("retrieval works with the LCM student without pins or init_noise")
        if retrieval is None:
            retrieval = self.bank is not None and not teacher and control is None and init_noise is None
        retrieval_cfg = retrieval if isinstance(retrieval, RetrievalConfig) else RetrievalConfig()
        if not isinstance(body, (bool, BodyConfig)):
            raise ValueError(f"body must be True, False or a BodyConfig, got {body!r}")
        if passes.floor and control is not None:
            raise ValueError("floor=True would move pinned joints off their targets; leave floor unset with pins "
                             "(pins fix the heights)")
        floor = control is None if passes.floor is None else passes.floor
        refine_cfg = passes.refine
        seed = secrets.randbelow(2 ** 31) if seed is None else int(seed)
        gen = make_generator(seed)
        timer = StageTimer(self.device)
        B, T = len(lengths), max(lengths)
        mask = (torch.arange(T)[None] < torch.tensor(lengths)[:, None]).to(self.device)
        pos = cmask = None
        if control is not None:
            pos, cmask = control.validated(B, T)
            check_pins_within(cmask, lengths)
        asked = prompts
        prompts = None if prompts is None else [plain_wording(p) for p in prompts]   # as the captions word it
        # 2. text
        with timer("text"):
            text = self._text(prompts, text_embeddings).to(self.dtype)
        # 3. control hint → trajectory latent (only the joints the ControlNet was trained on)
        traj = None
        if control is not None:
            with timer("control"):
                trained_joints = torch.zeros(cmask.shape[-2], 1, dtype=torch.bool)
                trained_joints[list(CONTROL_JOINTS)] = True
                net_mask = (cmask & trained_joints).to(self.device)          # (B, T, 22, 3) per axis
                hint = self.control_stats.normalize(pos.to(self.device)) * net_mask
                traj = self.traj_encoder(hint.to(self.dtype), net_mask) if net_mask.any() else None
        # 4. latent sampling
        shape = (B, self.cfg.denoiser.latent_tokens, self.cfg.denoiser.latent_dim)
        latents = init_noise if init_noise is not None else torch.randn(shape, generator=gen)
        latents = latents.to(self.device, self.dtype)
        exemplar_refs = None
        with timer("sampling"):
            if teacher:
                uncond = self._text([""], None).to(self.dtype)
                latents = ddim_cfg_sample(self.teacher, self.ddim_scheduler, latents, text, uncond,
                                          guidance_scale=guidance_scale)
            elif retrieval:
                picks = self.bank.choose(text, lengths, seed, retrieval_cfg, prompts)
                picked = [p.caption for p in picks]
                found = torch.stack([self.bank.latents[p.window, p.bucket] for p in picks])
                if retrieval_cfg.exemplar:
                    exemplar_refs = self.bank.exemplars(picks, prompts or [None] * len(picks),
                                                        self._encode_exemplars)
                    found = torch.stack([f if r is None else r.start.float() for f, r in zip(found, exemplar_refs)])
                self.lcm_scheduler.timesteps(num_steps)               # a step count the student was exported for
                starts = self.bank.starts(picks, prompts, retrieval_cfg, text)
                noise = latents.clone()
                for start in sorted(set(starts)):                     # items starting alike sample together
                    rows = [b for b in range(B) if starts[b] == start]
                    timesteps = retrieval_timesteps(start, num_steps)
                    # later steps re-noise with the noise each step read (or the start's own draw), not fresh
                    # noise, so they refine the retrieved motion instead of drawing it away step by step
                    noises = [noise[rows] for _ in timesteps] if retrieval_cfg.renoise == "start" else None
                    latents[rows] = lcm_sample(
                        self.denoiser, self.lcm_scheduler,
                        self.schedule.add_noise(found[rows].to(latents), noise[rows], start), text[rows],
                        num_steps=num_steps, guidance_scale=guidance_scale, generator=gen,
                        timesteps=timesteps, noises=noises, predicted_noise=retrieval_cfg.renoise == "predicted")
            else:
                latents = lcm_sample(self.denoiser, self.lcm_scheduler, latents, text, num_steps=num_steps,
                                     guidance_scale=guidance_scale, generator=gen,
                                     controlnet=self.controlnet if traj is not None else None, traj_latent=traj)
        # 5. decode and recover joints; with pins, refine the latent through the decoder
        pin_error: dict[str, float] = {}
        steps_run = 0
        floor_shift = None
        if control is not None and refine_cfg is not None and refine_cfg.steps > 0:
            with timer("refine"):
                out = refine_latents(self.vae, self.stats, latents, mask, pos, cmask, refine_cfg)
            feats, joints = out.feats, out.joints * mask[..., None, None]
            pin_error.update(sampled=out.errors[0], refined=out.errors[-1])
            steps_run = out.steps_run
        elif exemplar_refs is not None and any(r is not None for r in exemplar_refs):
            with timer("decode"):
                feats, joints_ex, shifts = decode_with_exemplars(self.vae, self.stats, latents, lengths,
                                                                 exemplar_refs, bool(floor))
                feats = feats.to(self.device) * mask[..., None].to(self.device)
                joints = torch.from_numpy(joints_ex).to(self.device)
                floor_shift = torch.tensor(shifts) if floor else None
        else:
            with timer("decode"):
                feats = self.stats.denormalize(self.vae.decode(latents, mask).float())
                if floor:
                    floor_shift = floor_height(feats, mask)
                    feats = lower_heights(feats, floor_shift)
            with timer("joints"):
                joints = recover_joints(feats) * mask[..., None, None]
        joints_np = joints.float().cpu().numpy()
        # 6. a body that holds together (without pins; with ground-plane pins only, after the exact pass)
        ground_plane = control is not None and not cmask[:, :, 1:].any() and not cmask[..., 0, 1].any()
        body_reports = None
        if body is not False and control is None:
            with timer("body"):
                body_reports = self._hold_bodies(joints_np, feats, lengths, body, exemplar_refs, prompts)
        # 7. exact pass: pinned joints meet their targets
        if control is not None:
            pinned = cmask.any(-1).numpy()                                     # (B, T, 22) pinned joints
            pin_error.setdefault("sampled", float(pin_errors(joints_np, pos, cmask)[pinned].mean()))
            if passes.exact is not None:
                with timer("exact"):
                    joints_np = apply_exact(joints_np, pos, cmask, lengths, passes.exact).joints
            if body is not False and ground_plane:          # keeps the pelvis' x and z: the pins still hold
                with timer("body"):
                    body_reports = self._hold_bodies(joints_np, feats, lengths, body)
            residual = pin_errors(joints_np, pos, cmask)
            pin_error["final"] = float(residual[pinned].mean())
        timer.times["total"] = sum(timer.times.values())
        report = {"prompts": asked, "read_as": prompts, "num_steps": None if teacher else num_steps, "teacher": teacher,
                  "guidance_scale": guidance_scale if guidance_scale is not None else (
                      self.cfg.scheduler.ddim_guidance if teacher else self.lcm_scheduler.guidance_scale(num_steps)),
                  "model": self.description, "controlled": control is not None,
                  "floor_shift_m": None if floor_shift is None else [float(x) for x in floor_shift.cpu()],
                  "body": body_reports,
                  "retrieval": {"start_t": retrieval_cfg.start_t, "top_k": retrieval_cfg.top_k,
                                "bank_entries": picked,
                                "exemplar": [r is not None for r in exemplar_refs] if exemplar_refs else None}
                  if retrieval else None}
        if control is not None:
            report.update(passes=passes.to_dict(), refine_steps=steps_run,
                          refine_strength=None if refine_cfg is None else refine_cfg.lr,
                          exact=passes.exact is not None, pin_error_m=pin_error,
                          pin_residual_max_m=float(residual.max()),
                          pin_residual_max_m_per_sample=[float(r) for r in residual.max(axis=(1, 2))])
        return MotionResult(joints=joints_np, feats=(feats * mask[..., None]).cpu().numpy(),
                            lengths=lengths, timings=timer.times, seed=seed, report=report)
