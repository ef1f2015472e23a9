"""A body that holds together: generated joints put on the data's skeleton, on the floor, feet planted.

The model's joints come from rotation-invariant positions, which nothing keeps rigid: bones stretch, the
body can hover during ground motions and feet slide while they bear weight. :func:`hold_body` cleans one
clip ``joints (T, 22, 3)`` (metres, +Y up, 20 fps, floor at y = 0) in three passes, so every consumer
(CLI, BVH, add-on) gets the same body:

1. :func:`rigid_bones`: every bone gets the length it has in the training data (the HumanML3D target
   skeleton, on which every training clip is put), keeping its direction; root first, down the chains.
2. :func:`ground`: on *supported* frames (some foot in contact, or no real flight) the body is moved
   vertically so that the lowest foot joint is on the floor; across real flights (as long as the pelvis
   rise allows a ballistic flight, at most ``max_flight_frames``) the shift is interpolated, so a jump keeps
   its shape between take-off and landing.
3. :func:`plant_feet`: during each contact a foot joint stays where it was planted; the knee is re-solved
   by two-bone IK (thigh and shin lengths kept) and the correction fades in and out over ``blend`` frames;
   a foot the model glides along the floor steps instead (:func:`step_gliding_feet`), between contacts a
   foot that scrapes along the floor is lifted (:func:`lift_swings`), and toes stay above the floor
   (:func:`keep_above_floor`).

Contacts (:func:`contacts_from`) are the model's own contact channels (HumanML3D features 259–262, one per
ankle and toe) where the joint is also near the floor; without features, low and slow joints.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from motionlcm_core.geometry import knee_pole, two_bone_ik, unit
from motionlcm_core.motion.contacts import FOOT_JOINTS, LEGS, XZ, horizontal_speed, plant_offsets, segments
from motionlcm_core.motion.skeleton import FACE_JOINTS, FPS, PARENTS



@dataclass(frozen=True)
class BodyConfig:
    """Settings of :func:`hold_body` (metres, frames at 20 fps, channel values 0–1)."""

    rigid: bool = True                 # bones at the data skeleton's lengths
    grounded: bool = True              # supported frames stand on the floor
    planted: bool = True               # feet stay put during contacts
    contact_channel: float = 0.5       # a model contact channel above this marks contact …
    contact_height_m: float = 0.06     # … where the joint is this close to its own ground level
    fallback_speed_m_s: float = 0.6    # without channels: low joints slower than this are in contact
    min_contact_frames: int = 2        # shorter contacts are ignored
    max_plant_slide_m: float = 0.3     # a foot gliding farther than this during one contact takes a step …
    step_gap_frames: int = 3           # … swinging for this many frames
    swing_clearance_m: float = 0.10    # a swing foot's lower joint rises at least this high mid-swing
    blend_frames: int = 3              # fade of each plant correction before and after a contact
    ground_smooth_frames: float = 1.5  # Gaussian sigma of the vertical shift (frames)
    ground_rounds: int = 2             # contacts found again after each grounding (a hovering foot lands)
    take_off_extension: float = 0.85   # a take-off leaves the floor on a near-straight leg (hip–ankle / leg)
    take_off_frames: int = 8           # the push-off before a flight: up to 0.4 s before the feet leave
    max_flight_frames: int = 12        # longest flight kept (0.6 s; real jumps: 6–11 frames)
    hold_frames: int = 10              # a foot held still this long …
    hold_speed_m_s: float = 0.3        # … (slower than this, …
    hold_still_m: float = 0.04         # … its height within this) …
    hold_min_height_m: float = 0.12    # … this far above the floor stands on something
    stand_extension: float = 0.8       # a leg this straight (hip–ankle / leg) bears the weight: standing

    def __post_init__(self) -> None:
        if not 0.0 < self.contact_channel < 1.0:
            raise ValueError(f"contact_channel must be in (0, 1), got {self.contact_channel}")
        if self.contact_height_m <= 0 or self.fallback_speed_m_s <= 0:
            raise ValueError("contact_height_m and fallback_speed_m_s must be > 0")
        if self.min_contact_frames < 1 or self.blend_frames < 0 or self.ground_smooth_frames < 0:
            raise ValueError("min_contact_frames must be >= 1, blend_frames and ground_smooth_frames >= 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=1)
def skeleton_lengths() -> np.ndarray:
    """Bone lengths (22,) in metres of the data skeleton (entry ``j``: joint ``j`` to its parent; root 0)."""
    from motionlcm_core.motion.humanml3d import default_target_offsets       # torch: only when first needed
    lengths = np.linalg.norm(default_target_offsets().astype(np.float64), axis=-1)
    lengths[0] = 0.0
    lengths.setflags(write=False)
    return lengths


def bone_lengths(joints):
    """Lengths ``(..., 21)`` (m) of the 21 bones of ``joints (..., 22, 3)``; numpy or torch, as given."""
    bones = joints[..., 1:, :] - joints[..., list(PARENTS[1:]), :]
    return np.linalg.norm(bones, axis=-1) if isinstance(bones, np.ndarray) else bones.norm(dim=-1)


def rigid_bones(joints: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """``joints (T, 22, 3)`` with every bone at ``lengths (22,)`` (default: the data skeleton), keeping each
    bone's direction; the root stays. A zero-length bone keeps its parent's position."""
    lengths = skeleton_lengths() if lengths is None else np.asarray(lengths, dtype=np.float64)
    out = np.array(joints, dtype=np.float64, copy=True)
    for j in range(1, out.shape[-2]):                  # parents come before children (SMPL order)
        p = PARENTS[j]
        bone = joints[..., j, :] - joints[..., p, :]
        norm = np.linalg.norm(bone, axis=-1, keepdims=True)
        direction = np.divide(bone, norm, out=np.zeros_like(bone, dtype=np.float64), where=norm > 1e-9)
        out[..., j, :] = out[..., p, :] + lengths[j] * direction
    return out


def contacts_from(joints: np.ndarray, channels: np.ndarray | None = None,
                  cfg: BodyConfig = BodyConfig()) -> np.ndarray:
    """Contact mask ``(T, 4)`` of the foot joints (:data:`FOOT_JOINTS`) of ``joints (T, 22, 3)``.

    ``channels (T, 4)``: the model's contact features (de-normalised, ~0/1). A joint is in contact where its
    channel says so and it is within ``contact_height_m`` of its own ground level (5th percentile of its
    height over the clip); without channels, where it is that low and slower than ``fallback_speed_m_s``.
    Runs shorter than ``min_contact_frames`` are dropped."""
    feet = np.asarray(joints, dtype=np.float64)[:, list(FOOT_JOINTS)]      # (T, 4, 3)
    height = feet[..., 1] - np.percentile(feet[..., 1], 5, axis=0)
    low = height < cfg.contact_height_m
    if channels is not None:
        channels = np.asarray(channels, dtype=np.float64)
        if channels.shape != low.shape:
            raise ValueError(f"contact channels must be (T, 4) = {low.shape}, got {channels.shape}")
        contact = low & ((channels > cfg.contact_channel) | (horizontal_speed(feet) < cfg.fallback_speed_m_s))
    else:
        contact = low & (horizontal_speed(feet) < cfg.fallback_speed_m_s)
    for side in (0, 2):                                  # a foot is down on one joint: its other low joint too
        down = contact[:, side] | contact[:, side + 1]
        contact[:, side:side + 2] = low[:, side:side + 2] & down[:, None]
    for k in range(contact.shape[1]):
        for a, b in segments(contact[:, k]):
            if b - a < cfg.min_contact_frames:
                contact[a:b, k] = False
    return contact


def ground(joints: np.ndarray, contact: np.ndarray, cfg: BodyConfig = BodyConfig(),
           flight: np.ndarray | None = None, support: np.ndarray | None = None,
           raised: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stand supported frames on the floor: returns (joints, vertical shift ``(T,)`` added in metres, flight
    frames ``(T,)``). ``flight``: the flight frames of an earlier round, kept (a later round sees a flight
    already shaped and would find it shorter each time). ``support (T,)``: heights of raised surfaces known
    from elsewhere (:func:`support_heights` of the real motion a clip was made from; NaN: none), used besides
    the clip's own :func:`raised_holds` (``raised`` False: neither, the flat floor only).

    Supported frames: those with a contact, and the frames of every contact-free run that is no real flight
    (:func:`flight_frames`). On a supported frame the shift puts the lowest contact joint (the lowest foot
    joint where no contact is marked) at y = 0, or on the step a foot is held on (:func:`raised_holds`); in a
    flight the lowest foot joint follows the ballistic arc of the flight's duration. The shift is smoothed
    and no foot joint ends below the floor."""
    out = np.array(joints, dtype=np.float64, copy=True)
    feet_y = out[:, list(FOOT_JOINTS), 1]                                  # (T, 4)
    surface = raised_holds(out, cfg) if raised else np.full(len(out), np.nan)
    if support is not None and raised:
        surface = np.fmin(surface, support)
    held = np.isfinite(surface)
    if flight is None:
        flight = flight_frames(out, contact.any(axis=1) | held, cfg)
    lowest = np.where(contact.any(axis=1), np.where(contact, feet_y, np.inf).min(axis=1), feet_y.min(axis=1))
    lowest = np.where(held, np.minimum(lowest, feet_y.min(axis=1)) - np.where(held, surface, 0.0), lowest)
    for a, b in segments(flight):                          # in flight the feet follow a ballistic arc
        tau = np.arange(1, b - a + 1) / FPS
        lowest[a:b] = feet_y[a:b].min(axis=1) - 9.81 / 2 * tau * ((b - a + 1) / FPS - tau)
    shift = -lowest
    if cfg.ground_smooth_frames > 0:
        from scipy.ndimage import gaussian_filter1d
        shift = gaussian_filter1d(shift, cfg.ground_smooth_frames, mode="nearest")
    shift = np.maximum(shift, -feet_y.min(axis=1))                         # never through the floor
    out[..., 1] += shift[:, None]
    return out, shift, flight


def leg_extension(joints: np.ndarray) -> np.ndarray:
    """``(T,)`` the straighter leg's hip–ankle distance over its thigh + shin length (1 = straight)."""
    out = []
    for hip, knee, ankle, _ in LEGS:
        full = (np.linalg.norm(joints[:, knee] - joints[:, hip], axis=-1)
                + np.linalg.norm(joints[:, ankle] - joints[:, knee], axis=-1))
        out.append(np.linalg.norm(joints[:, ankle] - joints[:, hip], axis=-1) / np.maximum(full, 1e-9))
    return np.maximum(*out)


def raised_holds(joints: np.ndarray, cfg: BodyConfig = BodyConfig()) -> np.ndarray:
    """Height ``(T,)`` of a step or platform a foot stands on (NaN where none): a foot whose lower joint stays
    still (horizontal speed under ``hold_speed_m_s``, height within ``hold_still_m``) for ``hold_frames`` or
    more, above ``hold_min_height_m``, as the lowest foot (within ``hold_still_m``: a leg held up in a
    balance or a kick is no step). Ground passes leave such frames at their height (climbing steps or a
    ladder, a stool). The model's hovering bobs, so its feet are rarely held that still."""
    t_total = len(joints)
    surface = np.full(t_total, np.nan)
    lowest = joints[:, list(FOOT_JOINTS), 1].min(axis=1)
    for _, _, ankle, toe in LEGS:
        low_joint = np.where(joints[:, ankle, 1] < joints[:, toe, 1], ankle, toe)
        point = joints[np.arange(t_total), low_joint]                       # (T, 3)
        still = horizontal_speed(point) < cfg.hold_speed_m_s
        bearing = point[:, 1] <= lowest + cfg.hold_still_m                  # not a leg held up (a balance)
        for a, b in segments(still & bearing & (point[:, 1] > cfg.hold_min_height_m)):
            if b - a >= cfg.hold_frames and np.ptp(point[a:b, 1]) <= cfg.hold_still_m:
                surface[a:b] = np.fmin(surface[a:b], point[a:b, 1].mean())
    return surface


def support_heights(joints: np.ndarray, cfg: BodyConfig = BodyConfig()) -> np.ndarray:
    """Heights ``(T,)`` of the raised surfaces a real motion ``joints (T, 22, 3)`` stands on, above its lowest
    foot point (NaN where it stands on that floor or is in the air): where a foot's lower joint is still
    (horizontal and vertical speed under ``hold_speed_m_s``) for ``min_contact_frames`` or more, more than
    ``hold_min_height_m`` up, and bears the weight — it is the lowest foot joint (within ``hold_still_m``; not
    a leg held up) and a leg is near straight (``stand_extension``; not sitting with the feet off the floor);
    gaps up to ``hold_frames`` long between two such stances (the swing from one
    step to the next) are bridged. Real motion holds its feet still on each step, so short stances count,
    where :func:`raised_holds` (for the model's own bobbing feet) needs long ones."""
    joints = np.asarray(joints, dtype=np.float64)
    t_total = len(joints)
    feet_y = joints[:, list(FOOT_JOINTS), 1]
    floor = feet_y.min()
    standing = leg_extension(joints) >= cfg.stand_extension
    surface = np.full(t_total, np.nan)
    for _, _, ankle, toe in LEGS:
        low_joint = np.where(joints[:, ankle, 1] < joints[:, toe, 1], ankle, toe)
        point = joints[np.arange(t_total), low_joint]                       # (T, 3)
        rise = np.abs(np.gradient(point[:, 1])) * FPS if t_total > 1 else np.zeros(t_total)
        still = (horizontal_speed(point) < cfg.hold_speed_m_s) & (rise < cfg.hold_speed_m_s)
        bearing = standing & (point[:, 1] <= feet_y.min(axis=1) + cfg.hold_still_m)   # the lowest foot, legs up
        for a, b in segments(still & bearing & (point[:, 1] - floor > cfg.hold_min_height_m)):
            if b - a >= cfg.min_contact_frames:
                surface[a:b] = np.fmin(surface[a:b], point[a:b, 1].mean() - floor)
    known = np.flatnonzero(np.isfinite(surface))
    for a, b in zip(known[:-1], known[1:]):
        if 1 < b - a <= cfg.hold_frames + 1:
            surface[a + 1:b] = np.interp(np.arange(a + 1, b), [a, b], [surface[a], surface[b]])
    return surface


def flight_frames(joints: np.ndarray, supported: np.ndarray, cfg: BodyConfig = BodyConfig()) -> np.ndarray:
    """Frames ``(T,)`` of real flight within the contact-free runs of ``supported (T,)``.

    A flight is ballistic: rising ``h`` metres from take-off to the apex takes ``sqrt(2h/g)`` seconds, and
    as long to come down; a take-off at ``v`` m/s upwards comes back down after ``2v/g`` seconds. Each run
    keeps the flight that both its pelvis rise (apex over the higher of the frames around the run) and its
    take-off speed (the pelvis' fastest rise from ``take_off_frames`` before the run's start to 2 after, the
    push-off) allow, centred on the apex, and at most ``max_flight_frames`` (real jumps of the data last 6–11 frames; the model holds them up to
    50). A run whose pelvis drifts up slowly, or whose feet leave the floor from bent legs (the model hovering
    with the legs drawn up, springing out of a squat), keeps none: a take-off pushes off a near-straight leg
    (``take_off_extension``)."""
    t_total = len(joints)
    flight = np.zeros(t_total, dtype=bool)
    pelvis_y = joints[:, 0, 1]
    v_up = np.append(np.diff(pelvis_y), 0.0) * FPS                         # rise to the next frame, m/s
    for a, b in segments(~supported):
        peak = a + int(np.argmax(pelvis_y[a:b]))
        edge = max(pelvis_y[max(a - 1, 0)], pelvis_y[min(b, t_total - 1)])
        rise = max(0.0, pelvis_y[peak] - edge)
        take_off = max(0.0, float(v_up[max(a - cfg.take_off_frames, 0):min(a + 3, t_total)].max()))
        keep = min(b - a, cfg.max_flight_frames, int(20.0 * 2.0 * np.sqrt(2.0 * rise / 9.81)),
                   int(20.0 * 2.0 * take_off / 9.81))
        if leg_extension(joints[max(a - 1, 0):a + 2]).max() < cfg.take_off_extension:
            keep = 0                                       # feet drawn up from bent legs: no push-off
        if keep < 1:
            continue
        start = int(np.clip(peak - keep // 2, a, b - keep))
        flight[start:start + keep] = True
    return flight


def step_gliding_feet(joints: np.ndarray, contact: np.ndarray, cfg: BodyConfig = BodyConfig()) -> np.ndarray:
    """Contacts ``(T, 4)`` with every long glide cut into steps. The model often slides a foot along the
    floor for a second or more while the body walks on (contact channels on, foot moving at the body's
    speed); planting that foot for the whole contact would leave it out of the leg's reach. Each foot's
    contact run is cut where the foot has travelled ``max_plant_slide_m`` since the cut before; the
    ``step_gap_frames`` after a cut become a swing, so the foot steps ahead. The two feet never swing at
    once: a cut that would lift the other foot's planted frames is moved on until it does not."""
    contact = np.array(contact, dtype=bool, copy=True)
    joints = np.asarray(joints, dtype=np.float64)
    t_total = len(joints)
    swinging = np.zeros((2, t_total), dtype=bool)
    for side in (0, 1):
        k = 2 * side
        down = contact[:, k] | contact[:, k + 1]
        point = joints[:, [FOOT_JOINTS[k], FOOT_JOINTS[k + 1]]][..., XZ].mean(axis=1)       # (T, 2)
        other_down = contact[:, 2 - k] | contact[:, 3 - k]
        for a, b in segments(down):
            start = a
            t = a + 1
            while t < b:
                if math.hypot(*(point[t] - point[start])) > cfg.max_plant_slide_m:
                    gap = slice(t, min(t + cfg.step_gap_frames, b))
                    if other_down[gap].all() and not swinging[1 - side, gap].any():
                        contact[gap, k:k + 2] = False
                        swinging[side, gap] = True
                        start = gap.stop
                        t = gap.stop
                        continue
                t += 1
    return contact


def plant_feet(joints: np.ndarray, contact: np.ndarray, cfg: BodyConfig = BodyConfig()) -> np.ndarray:
    """``joints (T, 22, 3)`` with each foot joint held at its planted spot during its contacts (``contact
    (T, 4)``, :data:`FOOT_JOINTS` order): planted = the joint's mean position over the contact, on the
    floor's side (y >= 0); a joint of the foot that is not planted itself moves with the one that is (a heel
    rising over a planted toe keeps the toe in place). Knees are re-solved by two-bone IK with the clip's thigh and shin lengths; the toe
    keeps its distance to the ankle."""
    joints = np.asarray(joints, dtype=np.float64)
    out = joints.copy()
    for side, (hip, knee, ankle, toe) in enumerate(LEGS):
        own_a, w_a = plant_offsets(joints[:, ankle], contact[:, 2 * side], cfg.blend_frames)
        own_t, w_t = plant_offsets(joints[:, toe], contact[:, 2 * side + 1], cfg.blend_frames)
        off_a = own_a + (1.0 - w_a)[:, None] * own_t          # a joint not planted goes with the other, and
        off_t = own_t + (1.0 - w_t)[:, None] * own_a          # hands over smoothly as its own plant fades in
        moved = np.flatnonzero((np.abs(off_a).sum(-1) > 0) | (np.abs(off_t).sum(-1) > 0))
        if moved.size == 0:
            continue
        j = joints[moved]
        l1 = np.linalg.norm(j[:, knee] - j[:, hip], axis=-1)
        l2 = np.linalg.norm(j[:, ankle] - j[:, knee], axis=-1)
        new_knee, new_ankle = two_bone_ik(j[:, hip], j[:, knee], j[:, ankle] + off_a[moved], l1, l2, margin=1e-6,
                                          pole=knee_pole(j[:, hip], j[:, knee], j[:, ankle], body_forward(j)))
        foot = np.linalg.norm(j[:, toe] - j[:, ankle], axis=-1, keepdims=True)
        new_toe = new_ankle + foot * unit(j[:, toe] + off_t[moved] - new_ankle)
        out[moved, knee], out[moved, ankle], out[moved, toe] = new_knee, new_ankle, new_toe
    return out


def lift_swings(joints: np.ndarray, contact: np.ndarray, cfg: BodyConfig = BodyConfig()) -> np.ndarray:
    """``joints (T, 22, 3)`` with every swing foot clearing the floor: between two contacts of a foot (``contact
    (T, 4)``), its lower joint is raised, where needed, to at least ``swing_clearance_m`` · sqrt(sin(π·phase))
    (0 at lift-off and touch-down, up fast; a swing running into a clip end is half a swing). Ankle and toe
    rise together, the knee is re-solved by two-bone IK. A foot the model drags along the floor then steps."""
    joints = np.asarray(joints, dtype=np.float64)
    out = joints.copy()
    t_total = len(joints)
    for side, (hip, knee, ankle, toe) in enumerate(LEGS):
        down = contact[:, 2 * side] | contact[:, 2 * side + 1]
        lift = np.zeros(t_total)
        for a, b in segments(~down):
            if a == 0 and b == t_total:
                continue                                   # never down: nothing to step from
            # 0 at lift-off and touch-down, up fast (sqrt of a sine); a clip end is no touch-down
            end = b + 1 if b < t_total else 2 * b - a + 1
            start = a - 1 if a > 0 else 2 * a - b - 1
            phase = (np.arange(a, b) - start) / (end - start)
            low = np.minimum(joints[a:b, ankle, 1], joints[a:b, toe, 1])
            lift[a:b] = np.maximum(0.0, cfg.swing_clearance_m * np.sqrt(np.sin(np.pi * phase)) - low)
        moved = np.flatnonzero(lift > 0)
        if moved.size == 0:
            continue
        j = joints[moved]
        up = np.zeros((moved.size, 3))
        up[:, 1] = lift[moved]
        l1 = np.linalg.norm(j[:, knee] - j[:, hip], axis=-1)
        l2 = np.linalg.norm(j[:, ankle] - j[:, knee], axis=-1)
        new_knee, new_ankle = two_bone_ik(j[:, hip], j[:, knee], j[:, ankle] + up, l1, l2, margin=1e-6,
                                          pole=knee_pole(j[:, hip], j[:, knee], j[:, ankle], body_forward(j)))
        out[moved, knee], out[moved, ankle] = new_knee, new_ankle
        out[moved, toe] = new_ankle + (j[:, toe] - j[:, ankle])
    return out


def body_forward(joints: np.ndarray) -> np.ndarray:
    """The way the body faces ``(N, 3)`` (horizontal) from its hips and shoulders (``joints (N, 22, 3)``)."""
    r_hip, l_hip, r_sho, l_sho = FACE_JOINTS
    across = (joints[:, r_hip] - joints[:, l_hip]) + (joints[:, r_sho] - joints[:, l_sho])
    return np.cross([0.0, 1.0, 0.0], across)


def keep_above_floor(joints: np.ndarray) -> np.ndarray:
    """Toes that dip below the floor (y < 0) turned up about their ankle to y = 0, foot length kept."""
    out = np.array(joints, dtype=np.float64, copy=True)
    for _, _, ankle, toe in LEGS:
        below = out[:, toe, 1] < 0
        if not below.any():
            continue
        foot = out[below, toe] - out[below, ankle]
        length = np.linalg.norm(foot, axis=-1)
        ground_y = np.maximum(-out[below, ankle, 1], -length)             # toe at y = 0 (if reachable)
        flat = np.sqrt(np.maximum(length ** 2 - ground_y ** 2, 0.0))
        across = unit(foot[:, XZ]) * flat[:, None]
        out[below, toe, 0] = out[below, ankle, 0] + across[:, 0]
        out[below, toe, 2] = out[below, ankle, 2] + across[:, 1]
        out[below, toe, 1] = out[below, ankle, 1] + ground_y
    return out


def hold_body(joints: np.ndarray, channels: np.ndarray | None = None,
              cfg: BodyConfig = BodyConfig(), support: np.ndarray | None = None,
              raised: bool = True) -> tuple[np.ndarray, dict[str, Any]]:
    """The three passes on one clip ``joints (T, 22, 3)`` (``channels (T, 4)``: the model's contact features,
    optional; ``support (T,)``: raised surfaces the clip stands on, :func:`ground`; ``raised`` False: the clip
    keeps to the flat floor, no raised surface at all). Returns (joints float32, report: passes run, contact
    share, largest vertical shift and bone change in metres)."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (22, 3):
        raise ValueError(f"joints must have shape (T, 22, 3), got {joints.shape}")
    if not np.isfinite(joints).all():
        raise ValueError("joints contain NaN or infinite values")
    out, report = joints, {}
    if cfg.rigid:
        out = rigid_bones(out)
        report["bone_change_max_m"] = float(np.abs(bone_lengths(joints) - skeleton_lengths()[1:]).max())
    contact = contacts_from(out, channels, cfg)
    report["contact_share"] = float(contact.any(axis=1).mean())
    if cfg.grounded:
        shift, flight = np.zeros(len(out)), None
        for _ in range(cfg.ground_rounds):                # heights change: contacts are found again
            out, more, flight = ground(out, contact, cfg, flight, support, raised)
            shift += more
            contact = contacts_from(out, channels, cfg) & ~flight[:, None]
        report["ground_shift_max_m"] = float(np.abs(shift).max())
    if cfg.planted:
        contact = step_gliding_feet(out, contact, cfg)
        out = plant_feet(out, contact, cfg)
        out = lift_swings(out, contact, cfg)
    if cfg.grounded:
        out = keep_above_floor(out)
    return out.astype(np.float32), report


def foot_channels(feats: np.ndarray) -> np.ndarray:
    """The four contact channels ``(..., T, 4)`` of de-normalised features ``(..., T, 263)``."""
    from motionlcm_core.motion.humanml3d import FOOT_CONTACT
    return np.asarray(feats)[..., FOOT_CONTACT]
