"""Captions: parsing text-file lines, left/right mirroring, and meaning-preserving rewrites.

A caption line is ``caption`` (whole clip), ``caption#START#END`` (our CMU set, seconds) or
``caption#tokens#START#END`` (HumanML3D). ``START == END == 0`` or NaN means the whole clip.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["CaptionLine", "parse_caption_line", "read_caption_file", "mirror_caption", "caption_variants"]


@dataclass(frozen=True)
class CaptionLine:
    """One parsed caption; ``start_s``/``end_s`` (seconds) are None for whole-clip captions."""

    text: str
    start_s: float | None = None
    end_s: float | None = None

    @property
    def is_phase(self) -> bool:
        return self.start_s is not None


def _seconds(value: str) -> float:
    try:
        return float(value)
    except ValueError as exc:
        raise ValueError(f"caption time {value!r} is not a number of seconds") from exc


def parse_caption_line(line: str) -> CaptionLine | None:
    """Parse one text-file line; None for a blank line. Raises ValueError on a malformed line."""
    parts = line.strip().split("#")
    text = parts[0].strip()
    if not text:
        return None
    if len(parts) == 1:
        return CaptionLine(text)
    if len(parts) not in (3, 4):
        raise ValueError(f"caption line must be 'text', 'text#START#END' or 'text#tokens#START#END': {line!r}")
    start, end = _seconds(parts[-2]), _seconds(parts[-1])
    if math.isnan(start) or math.isnan(end) or (start == 0.0 and end == 0.0):
        return CaptionLine(text)
    if start < 0 or end <= start:
        raise ValueError(f"caption phase must have 0 <= START < END seconds: {line!r}")
    return CaptionLine(text, start, end)


def read_caption_file(text_file: Path) -> tuple[CaptionLine, ...] | str:
    """Parsed caption lines, or the reason the clip is skipped (malformed lines alone are dropped)."""
    try:
        lines = text_file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return "missing_text"
    except (OSError, UnicodeDecodeError):
        return "unreadable_text"
    out = []
    for line in lines:
        try:
            parsed = parse_caption_line(line)
        except ValueError:
            continue
        if parsed is not None:
            out.append(parsed)
    return tuple(out) if out else "no_captions"


# ------------------------------------------------------------------------------------- mirroring
_MIRROR_WORDS = {
    "left": "right", "right": "left", "leftward": "rightward", "rightward": "leftward",
    "leftwards": "rightwards", "rightwards": "leftwards",
    "clockwise": "counterclockwise", "counterclockwise": "clockwise",
    "counter-clockwise": "clockwise", "anticlockwise": "clockwise", "anti-clockwise": "clockwise",
}
_MIRROR_RE = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, _MIRROR_WORDS), key=len, reverse=True)) + r")\b", re.IGNORECASE
)


def _match_case(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    return word[0].upper() + word[1:] if like[0].isupper() else word


def mirror_caption(text: str) -> str:
    """Swap left/right and clockwise/counterclockwise, as HumanML3D does for its mirrored clips."""
    return _MIRROR_RE.sub(lambda m: _match_case(_MIRROR_WORDS[m.group(0).lower()], m.group(0)), text)


# -------------------------------------------------------------------------------------- variants
_SUBJECTS = ("a person", "someone", "a man")
_VERBS = frozenset(
    "walk run jog jump dance turn spin step kick punch wave climb sit stand crouch bend raise lower lift move "
    "hop skip throw catch swing stretch lean squat crawl roll shuffle march sprint stride stumble limp balance "
    "carry push pull reach look pick put hold take do perform swim clap rotate twist slide kneel fall go pace "
    "strut tiptoe sneak pretend act imitate mimic dribble shoot box fight bow salute stop start keep continue "
    "begin play drink wash sweep mop cartwheel dive duck leap bounce rock sway shake circle swirl skate".split()
)
_DOUBLING = frozenset("run jog hop step skip sit stop swim clap drop grab spin trip tap nod hit get put shrug "
                      "drag wag slip flap pat rub hug dig bob cut set".split())
_IRREGULAR_3RD = {"does": "do", "goes": "go", "has": "have", "is": "be"}


def _base_of_third_person(word: str) -> str | None:
    if word in _IRREGULAR_3RD:
        return _IRREGULAR_3RD[word]
    for cand in ((word[:-3] + "y") if word.endswith("ies") else None,
                 word[:-2] if re.search(r"(ch|sh|ss|x|z)es$", word) else None,
                 word[:-1] if word.endswith("s") else None):
        if cand in _VERBS:
            return cand
    return None


def _gerund(base: str) -> str:
    if base.endswith("ie"):
        return base[:-2] + "ying"
    if base in _DOUBLING:
        return base + base[-1] + "ing"
    if base.endswith("e") and not base.endswith(("ee", "ye", "oe")) and base != "be":
        return base[:-1] + "ing"
    return base + "ing"


def _third_person(base: str) -> str:
    if base in ("do", "go"):
        return base + "es"
    if re.search(r"(ch|sh|ss|x|z)$", base):
        return base + "es"
    if base.endswith("y") and base[-2:-1] not in "aeiou":
        return base[:-1] + "ies"
    return base + "s"


@lru_cache(maxsize=1)
def _gerund_to_base() -> dict[str, str]:
    return {_gerund(v): v for v in _VERBS}


_FEMININE_RE = re.compile(r"\b(she|her|hers|herself|woman|girl)\b", re.IGNORECASE)
_SUBJECT_RE = re.compile(r"^(a person|someone|a man)\s+(is\s+(\w+)|(\w+))(\b.*)$", re.IGNORECASE | re.DOTALL)


def _verb_forms(verb_part: str, gerund: str | None, word: str | None) -> tuple[str, ...]:
    """Both tense forms of the verb after the subject, or the verb unchanged if it is unknown."""
    if gerund is not None:
        base = _gerund_to_base().get(gerund.lower())
        return (verb_part,) if base is None else (verb_part, _third_person(base))
    base = _base_of_third_person(word.lower())
    if base is None or base in ("have", "be"):
        return (verb_part,)
    return (verb_part, "is " + _gerund(base))


@lru_cache(maxsize=65536)
def caption_variants(text: str) -> tuple[str, ...]:
    """Deterministic rewrites that keep the meaning; the original caption comes first.

    The subject at the start is swapped among "a person", "someone" and "a man", and its verb between
    the simple present and the progressive ("walks" <-> "is walking") for a list of motion verbs
    ("a man" is not offered when the caption speaks of "she"/"her").
    Captions without such a subject (e.g. "salsa dance") have only themselves as variant.
    """
    match = _SUBJECT_RE.match(text.strip())
    if match is None:
        return (text,)
    subject, verb_part, gerund, word, rest = match.groups()
    capital = subject[0].isupper()
    subjects = _SUBJECTS[:2] if _FEMININE_RE.search(rest) else _SUBJECTS
    out = [text]
    for verb in _verb_forms(verb_part, gerund, word):
        for subj in subjects:
            head = subj[0].upper() + subj[1:] if capital else subj
            variant = f"{head} {verb}{rest}"
            if variant not in out:
                out.append(variant)
    return tuple(out)
