"""Caption text for retrieval: the words, directions and clauses a pooled sentence embedding blurs.

MiniLM puts "turns left" and "turns right" (or "kicks" and "walks" in a long sentence) close together; the
bank's lookup adds these lexical signals to the cosine: opposite directions (movement, limb side, gait) are
not retrieved, rare shared words count by their inverse document frequency, and a long caption that lists
several actions in order ("does jumping jacks, then jogs in place, then squats") tells where in its window
the prompt's action is.
"""
from __future__ import annotations

import functools
import math
import re
from typing import Sequence

import torch

__all__ = ["DIRECTIONS", "GAITS", "IDF_CAP", "LIMB_SIDES", "PACES", "POSTURES", "REWORDINGS", "clause_centre",
           "clauses", "conflicts", "content_words", "direction_flags", "indexed_overlap", "inverse_document_frequency",
           "key_words", "kicking_side", "matched_clause", "names_arm_action", "names_arms_up", "names_circling",
           "names_height_change", "names_jump", "names_raised_ground", "names_running", "names_sequence",
           "names_sideways", "names_staying", "names_striking", "names_take_off", "names_travel", "names_turning",
           "plain_wording", "turn_extent", "walking_pace", "word_index", "word_overlap"]

#: Opposite directions a sentence embedding hardly tells apart ("turns left" and "turns right" are nearly the
#: same vector); a caption naming the opposite of the prompt's direction is not retrieved. Movement directions
#: are read with limb phrases ("the left hand") taken out; the limb's side is a direction of its own.
DIRECTIONS: tuple[tuple[str, str], ...] = (
    (r"\bleft\b", r"\bright\b"),
    (r"\b(forwards?|ahead)\b", r"\bbackwards?\b"),
    (r"\b(?<!counter)(?<!counter-)(?<!anti)clockwise\b", r"\b(counter-?|anti)clockwise\b"),
)
_ARM = r"((hand|arm|fist|palm|elbow|wrist|shoulder|jab|hook|uppercut)s?|punch(es)?)"
_LEG = r"(foot|feet|leg|knee|heel|toe|thigh|hip|kick)s?"
#: A word between a side and its limb: "right high kick", not "to the right and kicks".
_BETWEEN = r"((?!and |then |or |to |before |after |while |with |as )\w+ )?"
#: The side of a named limb: "kicks with the right foot" is not retrieved for "kicks with the left foot" (nor "a
#: right kick" for "a left roundhouse kick").
LIMB_SIDES: tuple[tuple[str, str], ...] = tuple((rf"\bleft {_BETWEEN}{limb}\b", rf"\bright {_BETWEEN}{limb}\b")
                                                for limb in (_ARM, _LEG))
#: Gaits a sentence embedding also hardly tells apart ("walks forward in a straight line" is nearer to "runs
#: along a straight path" than "runs forward, then stops" is): a caption naming only walking is not retrieved for
#: a prompt naming only running, and the other way round.
GAITS: tuple[tuple[str, str], ...] = (
    (r"\b(walk|walks|walking|walked|stroll\w*|strides?|striding)\b",
     r"\b(run|runs|running|ran|jog|jogs|jogging|jogged|sprint\w*)\b"),
)
#: Paces a sentence embedding hardly tells apart either ("walks forward slowly" is near "walks forward quickly"):
#: a caption naming only a slow pace is not retrieved for a prompt naming only a fast one, and the other way round.
PACES: tuple[tuple[str, str], ...] = (
    (r"\b(slow|slowly|slower|slowing|unhurried\w*|leisure\w*|sluggish\w*|gradual\w*)\b",
     r"\b(quick|quickly|quicker|fast|faster|brisk\w*|rapid\w*|hurried\w*|hurry\w*|swift\w*|speedy|"
     r"speedily|hasty|hastily)\b"),
)
_LIMB_PHRASE = re.compile(rf"\b(left|right) {_BETWEEN}({_ARM}|{_LEG})\b", re.I)
_FACING = re.compile(r"\b(fac\w*|look\w*|gaz\w*|eyes) (\w+ )?(forwards?|ahead|front)\b", re.I)


#: Postures: "stands still" is not "stays motionless in a seated riding pose" (standing up is a change, not a
#: posture: "stands up from the chair" names sitting only).
POSTURES: tuple[tuple[str, str], ...] = (
    (r"\b(stand|stands|standing|stood)\b(?! (back )?up\b)",
     r"\b(sit|sits|sitting|sat|seated|kneel\w*|knelt|lying|lies|lay|lays)\b"),
)
_PAIRS = DIRECTIONS + LIMB_SIDES + GAITS + PACES + POSTURES

#: Words and idioms for a motion that the bank's captions word otherwise, and the wording they use (checked: the
#: replacement's content words are in the captions). A pooled embedding of "backs up" is nearer to climbing up
#: than to walking backward, and "does not move" is near "moves"; words no caption holds ("dashes", "ambles")
#: add nothing to the lexical score. Applied to a prompt before it is encoded and matched
#: (:func:`plain_wording`); the captions are left as they are.
_TAKES_A = r"(hang|hangs|hung|hanging|hook|hooks|hooked|hooking|take|takes|took|taking|make|makes|made|making) a "
_NO_LIMB = r"(?!\s*(turn|hook|jab|cross|uppercut|punch|kick|hand|arm|fist|foot|leg|knee|elbow|side|angle)\b)"
REWORDINGS: tuple[tuple[str, str], ...] = (
    # travelling backward
    (r"\bback(s|ed|ing) (up|away|off)\b", "walks backward"),          # not "stands back up"
    (r"\bbackpedal\w*", "walks backward"),
    (r"\b(in|into) reverse\b", "backward"),
    (r"\breversing\b|\breverses\b", "walks backward"),
    # not moving
    (r"\b(does|do|did|will|can)(n't| not|not) (move|budge|stir)( at all)?\b|\bnever (moves|budges)\b|"
     r"\b(is|are)(n't| not) (moving|budging)( at all)?\b", "stays still"),
    (r"\bnot (moving|budging)( at all)?\b", "staying still"),
    (r"\b(with )?no (movement|motion)\b|\bwithout (any )?(movement|motion)\b", "without moving"),
    (r"\b(idle|idles|idling|idly|stationary|immobile|frozen in place|like a statue|statue-like)\b", "still"),
    # gaits
    (r"\b(dash|dashes|dashed|dashing|bolt|bolts|bolted|bolting|races|raced|hurtl\w*|"
     r"scurr\w*|scamper\w*)\b", "runs"),
    (r"\b(trot|trots|trotted|trotting|lope|lopes|loped|loping)\b", "jogs"),
    (r"\b(amble|ambles|ambled|ambling|saunter\w*|mosey\w*|meander\w*|trudg\w*|plod\w*|shambl\w*|dawdl\w*|"
     r"mooch\w*)\b", "walks slowly"),
    (r"\b(power|speed)[- ]?walk\w*", "walks quickly"),
    (r"\bin a (hurry|rush)\b", "quickly"),
    (r"\b(hurry|hurries|hurried|hurrying|rush|rushes|rushed|rushing)\b", "walks quickly"),
    (r"\b(march|marches|marched|marching|promenad\w*|pac(e|es|ed|ing)(?= (up and down|back and forth)))\b",
     "walks"),
    (r"\bstrafe(s|d)?\b|\bstrafing\b", "moves sideways"),
    (r"\bsidestep(s|ped|ping)?\b", "side steps"),                    # the captions: "side steps", "side-steps"
    (r"\b(scoot|scoots|scooted|scooting)\b", "shuffles"),
    (r"\b(book|books|booked|booking|leg|legs|legged|legging|hightail\w*) it\b", "runs"),
    # turning, jumping, stepping
    (r"\b(whirl\w*|swivel\w*)", "spins"),
    (r"\b(does|makes|performs|pulls) an? (180|one[- ]eighty)\b|\b(does|makes) an about[- ](face|turn)\b",
     "turns around"),
    (r"\b(180|one[- ]eighty)( ?°| degrees?)?(?!\w)|\babout[- ](face|turn)\b", "around"),
    (r"\b90 ?°", "ninety degrees"),
    (rf"\b{_TAKES_A}left\b{_NO_LIMB}", "turns left"),                 # "hangs a left", not "throws a left hook"
    (rf"\b{_TAKES_A}right\b{_NO_LIMB}", "turns right"),
    (r"\b90\b", "ninety"),
    (r"\b(skip|skips|skipped|skipping)\b(?! rope)", "hops"),
    (r"\b(upstairs)\b", "up the stairs"),
    (r"\b(staircase|stairway|stairwell)\b", "stairs"),
    (r"\b(ascend|ascends|ascended|ascending)\b", "climbs up"),
    (r"\b(descend|descends|descended|descending)\b", "climbs down"),
    # what the arms do, dancing
    (r"\b(says?|saying|said) (hello|hi|goodbye|bye)\b", "waves"),
    (r"\b(spar|spars|sparred|sparring|shadow[- ]?box\w*|uppercuts?)\b", "punches"),
    (r"\b(boogie\w*|groov\w*|bop|bops|bopping|bopped)\b", "dances"),
    (r"\b(star jumps?|jumping[- ]jack exercises)\b", "jumping jacks"),
    (r"\b(plops?|plopped|flops?|flopped|slumps?|slumped) (down|into|onto|on to|in)\b", "sits down"),
    (r"\b(knee bends?|deep knee bends?)\b", "squat"),
    (r"\bboot(s|ed|ing)?(?= (it|the|a|an|something|his|her|their)\b)", "kicks"),     # the verb, not the footwear
)
_REWORDINGS = tuple((re.compile(a, re.I), b) for a, b in REWORDINGS)
#: A leading label of a few words and a colon, as an animation list names its clips ("locomotion: a man walks",
#: "stairs ascend: character climbs up a flight of steps"): the sentence after it says what the body does.
_LABEL = re.compile(r"^\s*[\w'/ -]{1,40}:\s*(?=\S+\s+\S+)")


@functools.lru_cache(maxsize=1024)
def plain_wording(prompt: str) -> str:
    """``prompt`` with the words and idioms of :data:`REWORDINGS` put as the bank's captions put them ("a person
    backs up" → "a person walks backward"; "someone does not move" → "someone stays still"), without a leading
    label ("exercise: deep squat, down and back up" → "deep squat, down and back up"; one that names a pace,
    direction, gait or posture the sentence does not is kept before it: "slow walk cycle, character strolls …")."""
    label = _LABEL.match(prompt)
    out = prompt
    if label is not None:              # left out, unless it names a direction, gait, pace or posture the rest does not
        rest = prompt[label.end():]
        named = direction_flags(label.group(0))
        out = rest if named & direction_flags(rest) == named else label.group(0).rstrip()[:-1] + ", " + rest
    for pattern, replacement in _REWORDINGS:
        out = pattern.sub(replacement, out)
    return out

_SIDEWAYS = re.compile(r"\bsideways\b|\bside[- ]?step|\bshuffl|\bstrafe|\blaterally\b", re.I)


def names_sideways(text: str) -> bool:
    """Whether ``text`` describes moving sideways (side-steps, shuffles, strafes), where "left" and "right" say
    which way the body travels, not which way it turns."""
    return bool(_SIDEWAYS.search(_LIMB_PHRASE.sub(" ", text)))


_STILL = re.compile(r"\b((stand|stands|standing|stood|stay|stays|staying|hold|holds|holding|keep|keeps|remain|"
                    r"remains|remaining) (completely |perfectly |very |quite )?still|motionless|stationary|unmoving|"
                    r"without (moving|walking|travel\w*)(?! (forward|forwards|ahead|anywhere|away|off|around|"
                    r"about|from))|stays? put)\b", re.I)
_NOT_BACK = r"(?<!back to )(?<!returns to )(?<!return to )"       # landing where one started, not coming back
_IN_PLACE = re.compile(rf"\b(in place|on the spot|in one place|on the same spot|(in|on|at) the same (spot|place)|"
                       rf"without (moving|walking|going|travel\w*|getting) (forward|forwards|ahead|anywhere|away|off)|"
                       rf"{_NOT_BACK}where (he|she|they|it) (started|began|stood|was|were)|"
                       rf"{_NOT_BACK}(its|his|her|their) starting (spot|point|place|position))\b", re.I)
_SEQUENCE = re.compile(r"\b(then|before|after|afterwards|finally|until|followed|starts?|starting|begins?|"
                       r"finish\w*|ends?|ending|stops?|halts?|once more|again)\b", re.I)
#: Phrases of setting or time whose words would read as a sequence: "waits at a bus stop", "walks to the end of the
#: hall", "tired after a long day", "before work", "turns around after hearing her name".
_CONTEXT = re.compile(r"\b(bus|train|tram|truck|rest) stops?\b|\b(the|an?) end of (the|a|an|his|her|their) \w+|"
                      r"\b(after|before) (a|an|his|her|their|the) (\w+ )?(day|shift|night|week|workout|game|meal|"
                      r"meeting|lesson|party|race|match|show|performance)\b|"
                      r"\b(after|before) (work|school|lunch|dinner|breakfast|class|practice|training)\b|"
                      r"\b(after|upon|on) (hearing|seeing|noticing|spotting|getting|receiving|reading|being)\b", re.I)
_RAISED = re.compile(r"\b(climb\w*|stair\w*|steps? (up|down|onto|on to|over)|up (the |a |some |\w+ )?steps|ladder|"
                     r"onto|on to|stool|stepstool|chair|bench|box|platform|ledge|hill|slope|ramp|uneven|terrain|"
                     r"bumpy|obstacle|playground|over (a|an|the|some) \w+)\b", re.I)


def names_raised_ground(text: str) -> bool:
    """Whether ``text`` has the body on something above the floor (climbs, steps up, onto a stool, stairs,
    uneven ground, over an obstacle); without it a motion keeps to the flat floor."""
    return bool(_RAISED.search(text))


_JUMP = re.compile(r"\b(jump\w*|hop|hops|hopp\w*|leap\w*|leapt|bounc\w*|springs?|springing|sprang|vault\w*|"
                   r"hurdl\w*|skip|skips|skipp\w*|airborne|in(to)? the air|cartwheel\w*|somersault\w*|flips?|"
                   r"jet[eé]s?)\b",
                   re.I)


def names_jump(text: str) -> bool:
    """Whether ``text`` has the body leave the ground (jumps, hops, leaps, bounces, springs up, skips,
    vaults, cartwheels, a ballet jeté): without it, a motion keeps a foot on the ground."""
    return bool(_JUMP.search(text))


_TAKE_OFF = re.compile(r"\b(jump|jumps|jumped|jumping|hop|hops|hopp\w*|leap\w*|leapt|springs?|springing|sprang|"
                       r"vault\w*|hurdl\w*)\b(?![- ]?(jacks?|rope))", re.I)
_ONE_FOOT = re.compile(r"\b(one|single|(the )?(left|right)) (foot|leg)\b|\bcartwheel|\bflip|\bsomersault", re.I)


def names_take_off(text: str) -> bool:
    """Whether ``text`` has both feet leave the ground at once (jumps, leaps, hops up and down, vaults): not a
    hop on one foot, a bounce, skipping rope or jumping jacks (whose feet hardly clear the floor), nor a
    cartwheel or a flip (hands down)."""
    return bool(_TAKE_OFF.search(text)) and not _ONE_FOOT.search(text)


_RUNNING = re.compile(GAITS[0][1] + r"|\bhigh knees\b|\bknees high\b", re.I)


def names_running(text: str) -> bool:
    """Whether ``text`` has the body run or jog (runs, jogs, sprints; high knees), feet off the floor in turn."""
    return bool(_RUNNING.search(_LIMB_PHRASE.sub(" ", text)))


_ARM_ACTION = re.compile(r"\b(punch\w*|boxing|boxer|jab\w*|uppercut\w*|spar\w*|strik\w*|hits?|hitting|"
                         r"wav(e|es|ed|ing)|clap\w*|throw\w*|threw|flap\w*|signal\w*|gestur\w*|wip(e|es|ed|ing)|"
                         r"scrub\w*|drum\w*|conduct\w*|swing\w* (the |both |his |her |their )?arms)\b", re.I)


def names_arm_action(text: str) -> bool:
    """Whether ``text`` names something the arms do over and over (punches, boxes, waves, claps, throws,
    signals, wipes), where what matters of a long motion is where the arms are busiest."""
    return bool(_ARM_ACTION.search(text))


_STRIKING = re.compile(r"\b(punch\w*|box|boxes|boxed|boxing|boxer|jab\w*|uppercut\w*|spar|spars|sparr\w*|"
                       r"strik(e|es|ing)|hook|hooks)\b", re.I)


def names_striking(text: str) -> bool:
    """Whether ``text`` names punching (punches, jabs, boxes, uppercuts, strikes, spars): fists shot out ahead
    (not a kick: "strikes with the foot" is a kick, read with :data:`LIMB_SIDES`' legs)."""
    return bool(_STRIKING.search(text)) and not re.search(rf"\b{_LEG}\b", text, re.I)


_KICKING = re.compile(r"\bkick(s|ed|ing)?\b(?! (back|off|up dust|the habit))", re.I)


def walking_pace(text: str) -> int:
    """The pace ``text`` asks of a walk: 1 slow, -1 quick, 0 none, both, not a walk, or a sequence (whose parts
    may go at other paces)."""
    k = len(DIRECTIONS) + len(LIMB_SIDES)                            # GAITS, then PACES
    flags = direction_flags(text)
    if _side(flags, k) != 1 or names_sequence(text):                  # walking alone
        return 0
    return _side(flags, k + 1)


def kicking_side(text: str) -> int | None:
    """Which foot ``text`` kicks with: 1 left, -1 right, 0 either (a kick naming neither side, or both), None
    when it names no kick ("kicks back and relaxes" is none)."""
    if not _KICKING.search(text):
        return None
    return _side(direction_flags(text), len(DIRECTIONS) + 1)       # the legs' pair of LIMB_SIDES


def _side(flags: int, k: int) -> int:
    """Of :func:`direction_flags` ``flags``, which side of pair ``k`` is named alone: 1 the first, -1 the
    second, 0 neither or both."""
    return {1: 1, 2: -1}.get(flags >> 2 * k & 3, 0)


_OVER_HEAD = r"(over|above|overhead|high|skyward|in the air|to the sky|up high|straight up|up over|up above)"
_ARMS_UP = re.compile(rf"\b(arms|hands)( \w+){{0,2}} {_OVER_HEAD}\b|"
                      rf"\b{_OVER_HEAD}( \w+){{0,2}} with (both|his|her|their|the) (arms|hands)\b", re.I)


def names_arms_up(text: str) -> bool:
    """Whether ``text`` has both arms go up over the head ("raises both hands above the head", "reaches up high
    with both arms", "arms in the air"); not one arm ("raises the right arm overhead")."""
    return bool(_ARMS_UP.search(text))


def names_sequence(text: str) -> bool:
    """Whether ``text`` describes motions in sequence ("stands still, then runs off", "jogs a few strides and
    stops"), where what one part says about direction or staying is not said of the whole."""
    return bool(_SEQUENCE.search(_CONTEXT.sub(" ", text)))


def names_staying(text: str) -> int:
    """What ``text`` says about staying where one is: 2 "still" (stands still, motionless, without moving:
    neither travelling nor turning), 1 "in place" (jogs on the spot, jumps in place: no travel; turning is
    allowed, "spins in place"), 0 neither or a sequence (:func:`names_sequence`)."""
    if names_sequence(text):
        return 0
    return 2 if _STILL.search(text) else 1 if _IN_PLACE.search(text) else 0


_TURNING = re.compile(r"\b(turn\w*|pivot\w*|rotat\w*|spin\w*|twirl\w*|u-turn|around|circl\w*|curv\w*|veer\w*|"
                      r"swerv\w*|loops?)\b", re.I)


_CIRCLING = re.compile(r"\b(circl\w*|loops?|looping|spiral\w*|round and round|rings?)\b", re.I)


def names_circling(text: str) -> bool:
    """Whether ``text`` describes turning on and on (in a circle, loops, spirals), not a turn or veer once."""
    return bool(_CIRCLING.search(text))


_WIDE_TURN = re.compile(r"\b(around|round|full|complete|whole|half|u-turn|about|spin\w*|twirl\w*|pirouett\w*|"
                        r"rotat\w*|revolv\w*|whirl\w*|circl\w*|loops?|looping|spiral\w*|back|opposite|revers\w*|"
                        r"several|twice|times|series|repeated\w*|(left|right) turns)\b", re.I)
_TRAVEL = re.compile(r"\b(walk\w*|run|runs|running|ran|jog\w*|stroll\w*|march\w*|skip\w*|mov(e|es|ing)|travel\w*|"
                     r"(goes|go|going|went) (around|round) in)\b", re.I)
_TRAVELLING = re.compile(r"\b(walk\w*|run|runs|running|ran|jog\w*|sprint\w*|stroll\w*|march\w*|strid\w*|steps?|"
                         r"stepp\w*|jump\w*|leap\w*|hop|hops|hopp\w*|crawl\w*|mov(e|es|ed|ing)|travel\w*|heads?|"
                         r"head(ed|ing)|goes|go|going|went)\b", re.I)


def names_travel(text: str) -> bool:
    """Whether ``text`` names the body going somewhere (walks, runs, steps, jumps, moves, heads, goes): where
    "forward" says which way it goes, not which way it leans, reaches or looks."""
    return bool(_TRAVELLING.search(_LIMB_PHRASE.sub(" ", text)))


_TURN_AROUND = re.compile(r"\bturn(s|ed|ing)? (back )?(a)?round\b|\bu-turn\b|\babout[- ](face|turn)\b|"
                          r"\bfac(e|es|ed|ing) (the )?(opposite|other) (way|direction)\b|"
                          r"\bfac(e|es|ed|ing) (behind|backwards?|the back)\b", re.I)
_MANY_TURNS = re.compile(r"\b(spin\w*|twirl\w*|pirouett\w*|full|complete|360|several|twice|times|repeated\w*|"
                         r"keeps?|continu\w*|round and round)\b", re.I)
_FULL = re.compile(r"\b(full|complete|whole|entire)\b", re.I)
_PART_CIRCLE = re.compile(r"\b(half|semi-?circle\w*|partial\w*|arcs?|quarter)\b", re.I)


def turn_extent(text: str) -> tuple[float, float]:
    """The net turn, in degrees either way, that ``text`` asks of a whole motion: at least 270 for travel in a
    circle (330 for a full one; walks in a circle, runs in loops; not a half circle or an arc, nor circling the
    arms), 30–150 for a turn to a side that says nothing of how far ("turns left", "a right turn": about a right
    angle, not a full turn), 120–240 for turning around as the one thing it does (not in a walk there and back,
    which may turn again, nor a spin of several turns), else any (0, inf); any for a sequence
    (:func:`names_sequence`), whose other parts may turn too. Of the bank's captions, the real windows of 124 of
    136 side turns and 14 of 22 circles turn that far (the rest: "veers slightly", a walk in a loop then
    sitting down); its turning around comes in walks there and back, which the crop check places
    (:func:`~motionlcm_core.retrieval.wanted_motion`).
    Was tried without the one-thing condition in sessions 12 and 13: the val judge fell (R@3 0.839 → 0.820), its
    captions "walks two meters, turns around, and walks back" turning twice."""
    if names_sequence(text):
        return 0.0, math.inf
    if names_circling(text) and _TRAVEL.search(text) and not _PART_CIRCLE.search(text):
        return (330.0 if _FULL.search(text) else 270.0), math.inf
    if (_TURN_AROUND.search(text) and not names_travel(text) and not names_circling(text)
            and not _MANY_TURNS.search(text)):
        return 120.0, 240.0
    flags = direction_flags(text)
    if names_turning(text) and bool(flags & 1) != bool(flags & 2) and not _WIDE_TURN.search(text):
        return 30.0, 150.0
    return 0.0, math.inf


def names_turning(text: str) -> bool:
    """Whether ``text`` describes turning (turns, pivots, spins, veers, circles), where "left" and "right" say
    which way the body turns, not only where it ends up."""
    return bool(_TURNING.search(_LIMB_PHRASE.sub(" ", text)))


_OBJECT = r"(a|an|the|his|her|their|some|\w+) "
_DOWN = re.compile(r"\b(sits?|sitting|sat) (back )?down\b|\b(sits?|sitting|sat) (on|onto|on to|in|into) " + _OBJECT
                   + r"|\btakes? a seat\b|\bseats? (himself|herself|themselves)\b|"
                   r"\b(lowers?|lowering|lowered) (himself|herself|themselves|oneself|(the|his|her|their) body)\b|"
                   r"\b(kneels?|kneeling|knelt) down\b|\b(lies?|lying|lay) down\b|"
                   r"\b(lowers?|lowering|lowered|settles?|settling|settled|sinks?|sinking|sank|drops?|dropping|"
                   r"dropped) (\w+ )?(down )?(onto|on to|into|in|on) (a|an|the|his|her|their) (\w+ )?"
                   r"(chair|seat|stool|bench|sofa|couch|armchair)\b", re.I)
_UP = re.compile(r"\b(stands?|standing|stood) (back )?up\b|\b(gets?|getting|got) (back )?up\b|"
                 r"\b(rises?|rising|rose) (from|up|out)\b|\bgets? to (his|her|their) feet\b", re.I)


def names_height_change(text: str) -> int:
    """What ``text`` says about the body ending lower or higher than it starts: -1 it sits (kneels, lies)
    down, +1 it stands (gets) up, 0 neither, both, or a sequence (:func:`names_sequence`: "sits down, then
    stands up again")."""
    if names_sequence(text):
        return 0
    down, up = bool(_DOWN.search(text)), bool(_UP.search(text))
    return -1 if down and not up else 1 if up and not down else 0


def direction_flags(text: str) -> int:
    """Bit ``2k`` (``2k+1``): the text names the first (second) side of pair ``k`` of ``DIRECTIONS +
    LIMB_SIDES + GAITS + PACES + POSTURES`` (movement directions read without the limb phrases, nor where the
    body faces: "walks backward, facing forward" moves backward)."""
    movement = _FACING.sub(" ", _LIMB_PHRASE.sub(" ", text))
    flags = 0
    for k, (a, b) in enumerate(_PAIRS):
        source = text if len(DIRECTIONS) <= k < len(DIRECTIONS) + len(LIMB_SIDES) else movement
        flags |= (1 << 2 * k) if re.search(a, source, re.I) else 0
        flags |= (1 << 2 * k + 1) if re.search(b, source, re.I) else 0
    return flags


_STOP = frozenset("a an the person someone somebody man woman he she they it its his her their is are was be being "
                  "with and or to of in on at by from as into onto then while one that this who which also "
                  "slowly quickly very do does did doing done has have had".split())


@functools.lru_cache(maxsize=8192)          # pure: a bank's captions are read again at every placement
def content_words(text: str) -> frozenset[str]:
    """Lower-case word stems of ``text`` without function words (crude: -ing, -ed or -s cut, a consonant
    doubled before -ing/-ed undoubled, then a final e: wave, waves, waving → wav; jogs, jogging → jog)."""
    out = set()
    for w in re.findall(r"[a-z]+", text.lower()):
        if w in _STOP or len(w) < 3:
            continue
        for suffix in ("ing", "ed", "s"):
            if w.endswith(suffix) and not w.endswith("ss") and len(w) - len(suffix) >= 3:
                w = w[: -len(suffix)]
                if suffix != "s" and w[-1] == w[-2] and w[-1] not in "aeiouylsz":
                    w = w[:-1]                      # running, sitting, stepping, stopped
                break
        out.add(w[:-1] if w.endswith("e") and len(w) > 3 else w)
    return frozenset(out)


def word_overlap(prompt: str, captions: Sequence[frozenset[str]],
                 idf: dict[str, float] | None = None) -> torch.Tensor:
    """``(N,)`` share of the prompt's content words that each caption holds (0 when the prompt has none);
    with ``idf`` each word counts by its inverse document frequency and words no caption holds are left out
    (a rare word like "backward" or "cartwheel" says more than "walks" or "straight")."""
    return indexed_overlap(prompt, word_index(captions), len(captions), idf)


def word_index(captions: Sequence[frozenset[str]]) -> dict[str, torch.Tensor]:
    """For every content word, the indices of the ``captions`` holding it (for :func:`indexed_overlap`)."""
    rows: dict[str, list[int]] = {}
    for i, c in enumerate(captions):
        for w in c:
            rows.setdefault(w, []).append(i)
    return {w: torch.tensor(r) for w, r in rows.items()}


def indexed_overlap(prompt: str, index: dict[str, torch.Tensor], n: int,
                    idf: dict[str, float] | None = None) -> torch.Tensor:
    """:func:`word_overlap` of ``n`` captions through their :func:`word_index` (built once for a bank, so a
    lookup touches only the captions holding the prompt's words)."""
    words = content_words(prompt)
    weight = {w: 1.0 for w in words} if idf is None else {w: idf[w] for w in words if idf.get(w, 0.0) > 0}
    total = sum(weight.values())
    out = torch.zeros(n, dtype=torch.float64)
    for w, v in weight.items():
        if w in index:
            out[index[w]] += v
    return (out / total if total else out).float()


#: The most a word's inverse document frequency counts: a word in fewer than 1 of ``e ** IDF_CAP`` (about 150)
#: captions weighs as much as one in 1 of 150. So rare a word is as often incidental as the action: "a *set* of
#: jumping jacks" (2 of the bank's 3090 captions hold "set"), "at full *speed*". Chosen on the val judge
#: (R@3 0.832 → 0.838, FID 0.171 → 0.169 against no cap; 4 and 6: 0.823 and 0.834).
IDF_CAP = 5.0


def inverse_document_frequency(captions: Sequence[frozenset[str]], cap: float = IDF_CAP) -> dict[str, float]:
    """``min(log(N / df), cap)`` of every content word of ``captions`` (N captions, df of them holding it)."""
    df: dict[str, int] = {}
    for c in captions:
        for w in c:
            df[w] = df.get(w, 0) + 1
    n = max(len(captions), 1)
    return {w: min(math.log(n / d), cap) for w, d in df.items()}


def conflicts(prompt_flags: int, caption_flags: torch.Tensor) -> torch.Tensor:
    """``(N,)`` True where a caption names only the opposite of a direction the prompt names alone."""
    out = torch.zeros_like(caption_flags, dtype=torch.bool)
    for k in range(len(_PAIRS)):
        a, b = 1 << 2 * k, 1 << 2 * k + 1
        for mine, other in ((a, b), (b, a)):
            if prompt_flags & mine and not prompt_flags & other:
                out |= ((caption_flags & other) != 0) & ((caption_flags & mine) == 0)
    return out


#: Clause boundaries of a caption that lists actions in time order.
_CLAUSE_SPLIT = re.compile(r",|;|:|\bthen\b|\bbefore\b|\bfinally\b|\bafterwards\b", re.I)


def clauses(caption: str) -> list[str]:
    """The clauses of a caption that lists actions in time order (split at commas, "then", "before", ...),
    those with content words."""
    return [c for c in _CLAUSE_SPLIT.split(caption) if content_words(c)]


def matched_clause(prompt: str, caption: str, idf: dict[str, float] | None = None) -> int | None:
    """Index of the one clause of ``caption`` (:func:`clauses`) that holds the most of the prompt's content words
    (weighted by ``idf``); None when the caption has one clause or no clause stands out."""
    parts = clauses(caption)
    if len(parts) < 2:
        return None
    words = [content_words(c) for c in parts]
    scores = word_overlap(prompt, words, idf)
    lead = clauses(prompt)
    if len(lead) > 1:         # the prompt's first clause names its action, the rest how ("jogs on the spot,
        scores = scores + word_overlap(lead[0], words, idf)     # lifting the knees"): it counts twice
    best = int(torch.argmax(scores))
    if scores[best] <= 0 or (scores == scores[best]).sum() > 1:
        return None
    return best


def clause_centre(prompt: str, caption: str, idf: dict[str, float] | None = None) -> float | None:
    """Where in its window (0 = start, 1 = end) ``caption`` places the prompt's action: the centre of its
    :func:`matched_clause` (clauses taken as equally long, in time order). None when the caption has one clause
    or no clause stands out."""
    best = matched_clause(prompt, caption, idf)
    return None if best is None else (best + 0.5) / len(clauses(caption))


def key_words(prompt: str, caption: str, idf: dict[str, float] | None = None) -> frozenset[str]:
    """The prompt's content words that ``caption`` holds — in its :func:`matched_clause` where it has one: what
    the caption shares with the prompt about the prompt's action."""
    best = matched_clause(prompt, caption, idf)
    part = caption if best is None else clauses(caption)[best]
    return content_words(prompt) & content_words(part)
