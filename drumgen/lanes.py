"""What the page's per-bar lanes mean (no Gradio here: the component is drumgen.widgets.BarLanes).

The value is a plain dict `{lane: [value or None per bar]}`: LANES are density, intensity, the 9
voices' shares of each bar's hits (drumgen.controls) and fill, values in [0, 1], None = free (the
model decides), a voice's 0 mutes it in that bar, a fill cell of 0.5 or more asks for a fill there
and under 0.5 for none. The page and a `gradio_client` caller send the same dict,
read by drumgen.control_input with its PAINTED rules:

    lanes, notes = clean_lanes(anything_a_caller_sent, n_bars)   # checked, clamped, padded
    controls, notes = lanes_to_controls(lanes, style="funk")      # -> model.generate(groove, controls)
    lanes = set_lane(lanes, "density", "ramp_up", 0.9)             # a whole lane at once
    part = pipeline.make_drums(model, song, controls=LaneSpec(lanes, "funk"))   # read for the song's bars
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import controls as C
from . import hvo as H
from .control_input import PAINTED, Reading, build_controls, in_bars, number_in, read_curve, read_fills, shown

# --- the page's lanes -------------------------------------------------------------------------------------

LANES: tuple[str, ...] = ("density", "intensity", *H.VOICES, "fill")
LANE_LABELS = {"density": "Density", "intensity": "Intensity", **H.VOICE_LABELS, "fill": "Fill"}
LANE_HELP = {
    "density": "how busy each bar is: 0.5 a median bar of real drummers, 0.9 busier than 90% of them",
    "intensity": "how loud each bar is: the mean velocity of its hits",
    **{v: f"{H.VOICE_LABELS[v]}: its share of each bar's hits (0 = muted)" for v in H.VOICES},
    "fill": "a fill in this bar (paint high) or none (paint low); free: the model decides",
}
# (key, label, colour group, help) of each lane, top to bottom
LANE_GROUPS = {"density": "density", "intensity": "intensity", "fill": "fills"}  # CSS class suffixes; voices: "voice"
LANE_ROWS = [(k, LANE_LABELS[k], LANE_GROUPS.get(k, "voice"), LANE_HELP[k]) for k in LANES]
LANE_SHAPES = ("flat", "ramp_up", "ramp_down", "free")
RAMP_START = 0.25  # a ramp runs between a quarter of the level and the level


def lane_key(name: Any) -> str:
    """'Density', 'snare', 'hihat', 'closed-hat' -> a key of LANES; ValueError naming the lanes otherwise."""
    key = H.name_key(name)
    if key in ("density", "intensity", "fill"):
        return key
    if key == "fills":
        return "fill"
    try:
        return H.voice_name(key)
    except ValueError:
        raise ValueError(f"unknown lane {shown(name)}; lanes: {', '.join(LANES)}") from None


def free_lanes(n_bars: int) -> dict[str, list[None]]:
    """Every lane free for n_bars bars: the value the page starts a song with."""
    return {k: [None] * int(n_bars) for k in LANES}


def lanes_length(lanes: Any) -> int:
    """The number of bars a lanes value spans (its longest list; 0 for anything else); ValueError
    past H.MAX_BARS (no song is longer, and a caller's endless list would be echoed back bar by bar)."""
    if not isinstance(lanes, Mapping):
        return 0
    n = max([len(v) for v in lanes.values() if isinstance(v, (list, tuple))], default=0)
    if n > H.MAX_BARS:
        raise ValueError(f"lanes: {n} bars; drumgen takes songs of at most {H.MAX_BARS} bars")
    return n


def _from_text(lanes: Any) -> Any:
    """Lanes sent as JSON text -> the object (None for blank text); ValueError in words otherwise."""
    if not isinstance(lanes, str):
        return lanes
    try:
        return json.loads(lanes) if lanes.strip() else None
    except json.JSONDecodeError:
        raise ValueError("lanes: expected an object {lane: [value or null per bar]}, got text that is not JSON") from None


def check_lanes(lanes: Any) -> int:
    """The number of bars a lanes value spans, once it is checked as /generate checks it (unknown
    lanes, values that are not numbers, text that is not JSON, anything but an object: ValueError)."""
    lanes = _from_text(lanes)
    n_bars = lanes_length(lanes)
    clean_lanes(lanes, max(n_bars, 1))
    return n_bars


def _cells(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(x) else round(float(x), 4) for x in values]


def clean_lanes(lanes: Any, n_bars: int) -> tuple[dict[str, list[float | None]], list[str]]:
    """Anything a caller sent -> (every lane as n_bars values in [0, 1] or None, notes for the person).

    Accepted: None (all free), a dict or its JSON text, {lane: list of numbers/None (one a bar) or one
    number (every bar)}. Lane names as in LANES (case, '-' and the voice aliases of the command line
    are fine). Read with the PAINTED rules: numbers clamped to [0, 1], lists shorter than the song
    padded with free bars, longer ones cut; NaN is free. Unknown lanes and values that are not numbers
    raise ValueError.
    """
    notes: set[str] = set()
    lanes = _from_text(lanes)
    if lanes is None:
        return free_lanes(n_bars), []
    if not isinstance(lanes, Mapping):
        raise ValueError(f"lanes: expected an object {{lane: [value or null per bar]}}, got {type(lanes).__name__}")
    out = free_lanes(n_bars)
    seen: set[str] = set()
    for name, values in lanes.items():
        lane = lane_key(name)
        if lane in seen:
            raise ValueError(f"lanes: {lane} is given twice")
        seen.add(lane)
        if lane == "fill":
            out[lane] = _cells(read_fills("lanes: fill", values, n_bars, PAINTED, notes))
        else:
            out[lane] = _cells(read_curve(f"lanes: {lane}", values, n_bars, PAINTED, notes, LANE_LABELS[lane].lower()))
    return out, sorted(notes)


def lanes_to_controls(lanes: Mapping[str, list[float | None]], style: str | None = None) -> tuple[dict | None, list[str]]:
    """Clean lanes (see clean_lanes) and a style -> (controls for `generate`, or None when all is free,
    notes). Voices' shares set in a bar that add up to more than 1 are scaled down to add up to 1."""
    n_bars = lanes_length(lanes)
    notes: set[str] = set()
    weights = {v: lanes[v] for v in H.VOICES if v in lanes}
    controls = build_controls(max(n_bars, 1), lanes.get("density"), lanes.get("intensity"), None, weights,
                              None if style is None else str(style), PAINTED, notes, fill=lanes.get("fill"))
    return (controls or None), sorted(notes)


@dataclass
class LaneSpec:
    """The page's lanes and style as a caller sent them, before the song's length is known."""

    lanes: Any = None
    style: Any = None

    def for_song(self, n_bars: int) -> Reading:
        clean, notes = clean_lanes(self.lanes, n_bars)
        controls, more = lanes_to_controls(clean, self.style)
        return Reading(controls, notes + more, clean)


def set_lane(lanes: Any, lane: str, shape: str, level: float = 0.8) -> dict[str, list[float | None]]:
    """A whole lane at once: 'flat' (every bar at level), 'ramp_up' (a quarter of the level in the
    first bar to the level in the last: a build-up, not silence, since 0 mutes a voice and empties a
    bar), 'ramp_down' (the level to a quarter of it), 'free'; lane 'all' with 'free' frees every
    lane. Returns the new lanes (a new dict); the other lanes are kept as they were (cleaned)."""
    lanes = _from_text(lanes)
    n_bars = check_lanes(lanes)
    if n_bars == 0:
        raise ValueError("Load a groove first: the lanes get one column per bar of the song.")
    out, _ = clean_lanes(lanes, n_bars)
    shape = H.name_key(shape)
    if shape not in LANE_SHAPES:
        raise ValueError(f"unknown lane shape {shape!r}; shapes: {', '.join(LANE_SHAPES)}")
    if str(lane).strip().lower() in ("all", "all lanes"):
        if shape != "free":
            raise ValueError("only 'free' applies to all lanes at once; choose one lane for the other shapes")
        return free_lanes(n_bars)
    key = lane_key(lane)
    level = number_in("level", level, 0.0, 1.0)
    if key == "fill" and shape in ("ramp_up", "ramp_down"):
        raise ValueError("a bar is a fill or not: paint the fill lane's bars, or set it Flat (a level of 0.5 or "
                         "more: a fill in every bar; less: none) or Free")
    if shape == "free":
        out[key] = [None] * n_bars
    elif shape == "flat":
        out[key] = [float(level >= 0.5) if key == "fill" else round(level, 4)] * n_bars
    else:
        ramp = C.ramp(RAMP_START * level, level, n_bars) if n_bars > 1 else np.array([level])
        out[key] = _cells(ramp if shape == "ramp_up" else ramp[::-1])
    return out


def describe_lanes(lanes: Mapping[str, list[float | None]]) -> list[str]:
    """One line per lane that is set: '**density** 0.20–0.90 in bars 1–8', '**ride** muted in bars 1–16'."""
    lines = []
    for lane in LANES:
        values = lanes.get(lane) or []
        set_bars = [b for b, x in enumerate(values) if x is not None]
        if not set_bars:
            continue
        zero = [b for b in set_bars if values[b] == 0]
        some = [b for b in set_bars if values[b] != 0]
        if lane == "fill":
            lines.append("**fill** " + "; ".join(([f"{in_bars(some)}"] if some else [])
                                                 + ([f"none {in_bars(zero)}"] if zero else [])))
            continue
        parts = []
        if some:
            lo, hi = min(values[b] for b in some), max(values[b] for b in some)
            level = f"{lo:.2f}" if lo == hi else f"{lo:.2f}–{hi:.2f}"
            parts.append(f"{level} {in_bars(some)}")
        if zero:
            parts.append(f"{'muted' if lane in H.VOICES else '0'} {in_bars(zero)}")
        lines.append(f"**{LANE_LABELS[lane].lower()}** " + "; ".join(parts))
    return lines
