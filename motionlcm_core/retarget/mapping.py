"""Declarative bone maps: SMPL-22 joint name -> rig bone name, stored as JSON data.

Presets live in ``presets/*.json`` (data, never code). ``BoneMap.detect`` matches rig bone names against
every preset after normalising case, namespace prefixes (``mixamorig:``), separators and side markers
(``.L`` / ``_l`` / ``Left`` / ``L_``), picks the best preset and fills gaps from the others.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from motionlcm_core.motion.skeleton import JOINT_NAMES
from motionlcm_core.retarget.rig import Rig

PRESET_DIR = Path(__file__).resolve().parent / "presets"
#: Tie-break order for detection (earlier wins on equal scores).
_DETECT_ORDER = ("mixamo", "rigify_controls", "rigify", "ue5_mannequin", "auto_rig_pro", "cmu_bvh", "smplx", "smpl")
_FORMAT = "motionlcm-bonemap"
_SEP = r"[._\- ]"


@dataclass(frozen=True)
class BoneMap:
    """SMPL-22 joint name -> rig bone name.

    Attributes:
        bones: mapping for the joints that have a bone (a subset of ``JOINT_NAMES``).
        preset_name: the preset it came from (``None`` for a hand-made map).
    """

    bones: dict[str, str]
    preset_name: str | None = None
    unmapped: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.bones) - set(JOINT_NAMES))
        if unknown:
            raise ValueError(f"BoneMap keys must be SMPL-22 joint names {JOINT_NAMES}; unknown: {unknown}")
        bad = [k for k, v in self.bones.items() if not isinstance(v, str) or not v]
        if bad:
            raise ValueError(f"BoneMap values must be non-empty bone names; check joints {bad}")
        ordered = {j: self.bones[j] for j in JOINT_NAMES if j in self.bones}
        object.__setattr__(self, "bones", ordered)
        object.__setattr__(self, "unmapped", tuple(j for j in JOINT_NAMES if j not in ordered))

    def __getitem__(self, joint: str) -> str:
        return self.bones[joint]

    def to_dict(self) -> dict:
        return {"format": _FORMAT, "version": 1, "preset": self.preset_name, "bones": dict(self.bones)}

    @classmethod
    def from_dict(cls, data: dict) -> BoneMap:
        if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("bones"), dict):
            raise ValueError(f"Not a bone map: expected a JSON object with format '{_FORMAT}' and a 'bones' object.")
        return cls(bones={k: v for k, v in data["bones"].items() if v}, preset_name=data.get("preset"))

    def save(self, path: str | Path) -> None:
        """Write the map as JSON (UTF-8)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> BoneMap:
        """Read a map written by ``save`` (or a preset file)."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    @staticmethod
    def presets() -> list[str]:
        """Names of the bundled presets."""
        return sorted(p.stem for p in PRESET_DIR.glob("*.json"))

    @classmethod
    def preset(cls, name: str) -> BoneMap:
        """A bundled preset by name (see ``presets()``)."""
        if name not in cls.presets():
            raise ValueError(f"Unknown bone-map preset {name!r}; choose one of {cls.presets()}")
        return cls.load(PRESET_DIR / f"{name}.json")

    @classmethod
    def detect(cls, rig: Rig) -> BoneMap:
        """Recognise the rig's naming scheme; ``unmapped`` lists SMPL joints with no bone found."""
        keys: dict[str, str] = {}
        for name in rig.names:
            keys.setdefault(name_key(name), name)
        exact = set(rig.names)
        scored = []
        for pname in _DETECT_ORDER:
            found = _match(cls.preset(pname).bones, keys, exact)
            n_exact = sum(found[j] == cls.preset(pname).bones[j] for j in found)
            scored.append((len(found), n_exact, pname, found))
        best = max(scored, key=lambda s: (s[0], s[1], -_DETECT_ORDER.index(s[2])))
        bones = dict(best[3])
        for _, _, _, found in scored:
            for j, b in found.items():
                if j not in bones and b not in bones.values():
                    bones[j] = b
        return cls(bones=bones, preset_name=best[2] if best[0] > 0 else None)


def name_key(name: str) -> str:
    """Canonical bone-name key: lower case, no namespace, no separators, side as ``l|`` / ``r|`` prefix.

    ``mixamorig:LeftUpLeg`` -> ``l|upleg``; ``DEF-thigh.L.001`` -> ``l|defthigh.001``; ``thigh_l`` -> ``l|thigh``.
    """
    n = re.split(r"[:|]", name)[-1].strip().lower()
    num = ""
    m = re.search(r"\.\d+$", n)
    if m:
        num, n = m.group(0), n[: m.start()]
    side = ""
    for s, word in (("l", "left"), ("r", "right")):
        pats = (rf"{_SEP}({s}|{word})$", rf"^({word}{_SEP}?|{s}{_SEP})", rf"{_SEP}({s}|{word}){_SEP}")
        for p in pats:
            m = re.search(p, n)
            if m:
                side, n = s, n[: m.start()] + "_" + n[m.end():]
                break
        if side:
            break
    return f"{side}|{re.sub(_SEP, '', n)}{num}"


def _match(preset_bones: dict[str, str], keys: dict[str, str], exact: set[str]) -> dict[str, str]:
    found = {}
    for joint, bone in preset_bones.items():
        if bone in exact:
            found[joint] = bone
        elif name_key(bone) in keys:
            found[joint] = keys[name_key(bone)]
    return found
