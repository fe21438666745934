"""What a person or an API caller asks of the drums, read into per-bar controls.

The command line, the Python API and the page's lanes all come through here, so "0.5 density in
bar 3" or "no ride" means one thing everywhere. `drumgen.controls` says what each control means
and `generate` validates what it is given; this module only reads what people type or paint:

    controls = build_controls(8, density="0.2-0.9", mute="ride", weights={"snare": 0.3}, style="funk")
    spec = ControlSpec(density="0.2-0.9", mute="ride")            # before the song's length is known
    lanes, notes = clean_lanes(anything_a_caller_sent, n_bars)      # the page: {lane: [value or None per bar]}
    controls, notes = lanes_to_controls(lanes, style="funk")
    lanes = set_lane(lanes, "density", "ramp_up", 0.9)               # a whole lane at once

Where a typed command and a painted page should differ, `Rules` says so: the command line refuses
what it cannot play as typed (TYPED: a typo is better caught than guessed), the page makes the most
of a gesture and says what it changed (PAINTED: a value dragged past an edge is the edge, a lane
shorter than the song leaves the rest free, shares that add up to more than 1 are scaled down).
Control values are numbers in [0, 1]; free (the model decides) is None or NaN; a voice's 0 mutes it.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import controls as C
from . import hvo as H

FREE_WORDS = ("", "free", "null", "none", "nan")  # a painted cell sent as text that means "free"


@dataclass(frozen=True)
class Rules:
    """How forgiving a reader is. Each field names one case and what to do with it."""

    out_of_range: str = "refuse"   # a value outside 0..1: "refuse", or "clamp" it (and say so)
    short: str = "repeat"          # fewer values than bars: "repeat" the last, or leave the rest "free"
    long: str = "refuse"           # more values than bars: "refuse", or "cut" them (and say so)
    over_one: str = "refuse"       # voice shares adding up to more than 1 in a bar: "refuse", or "scale" down
    curve_text: bool = True        # text is a curve ('0.2-0.9' a ramp, '0.2,0.5' per bar); else one value
    empty_part: str = "refuse"     # every voice muted everywhere: "refuse" (nothing would play), or "allow"


TYPED = Rules()                                                    # the command line and the Python API
PAINTED = Rules("clamp", "free", "cut", "scale", curve_text=False, empty_part="allow")  # the page's lanes


# --- one control over the bars -------------------------------------------------------------------------

def _clamp_or_refuse(values: np.ndarray, rules: Rules, refuse: str, note: str | None, notes: set[str]) -> np.ndarray:
    """Values outside [0, 1] (inf included; NaN is free) clamped with a note, or refused."""
    bad = ~np.isnan(values) & ((values < 0) | (values > 1))
    if bad.any():
        if rules.out_of_range != "clamp":
            raise ValueError(refuse)
        if note:
            notes.add(note)
        values = np.where(bad, np.clip(values, 0.0, 1.0), values)
    return values


def parse_curve(text: str | None, n_bars: int, rules: Rules = TYPED, notes: set[str] | None = None,
                where: str = "") -> np.ndarray:
    """Curve text -> (n_bars,) float64 in [0, 1], NaN = free: '0.5' flat, '0.2-0.9' a ramp over all
    bars, '0.2,0.5,0.9' one value a bar (the rest as `rules.short` says), '' or 'free' all free."""
    notes = set() if notes is None else notes
    text = (text or "").strip().lower()
    if text in ("", "free"):
        return np.full(n_bars, np.nan)
    ramp_match = re.fullmatch(r"([0-9.]+)\s*-\s*([0-9.]+)", text)
    parts = ramp_match.groups() if ramp_match else text.split(",")
    where = f"{where}curve {text!r}"
    try:
        values = np.array([float(p) for p in parts])
    except ValueError:
        raise ValueError(f"{where}: expected '0.5', '0.2-0.9', '0.2,0.5,0.9' or 'free'") from None
    if rules.out_of_range != "clamp" and not np.all((values >= 0) & (values <= 1)):  # also refuses nan and inf
        raise ValueError(f"{where}: values must be numbers between 0 and 1")
    values = _clamp_or_refuse(values, rules, "", f"{where}: values outside 0..1 were clamped", notes)
    if ramp_match:
        return C.ramp(values[0], values[1], n_bars)
    return _fit(values, n_bars, rules, where)


def _fit(values: np.ndarray, n_bars: int, rules: Rules, where: str = "") -> np.ndarray:
    """Per-bar values fitted to n_bars: the short and long cases as `rules` say (a caller that cuts
    says so itself: it knows whether anything but free bars was cut)."""
    where = f"{where}: " if where else ""
    if len(values) > n_bars:
        if rules.long != "cut":
            raise ValueError(f"{where}{len(values)} values for {n_bars} bars")
        values = values[:n_bars]
    if len(values) == 0 and rules.short == "repeat":
        raise ValueError(f"{where}expected a number or one number a bar, got shape {values.shape}")
    pad = np.full(n_bars - len(values), values[-1] if rules.short == "repeat" else np.nan)
    return np.concatenate([values, pad]).astype(np.float64)


def _cell(x: Any, where: str) -> float:
    """One painted cell -> a number or NaN (free); ValueError for what is not a number."""
    if x is None or (isinstance(x, str) and x.strip().lower() in FREE_WORDS):
        return math.nan
    if isinstance(x, bool) or not isinstance(x, (int, float, str, np.number)):
        raise ValueError(f"{where} must be a number from 0 to 1 or null (free), got {x!r}")
    try:
        return float(x)
    except (ValueError, OverflowError):
        raise ValueError(f"{where} must be a number from 0 to 1 or null (free), got {x!r}") from None


def read_curve(name: str, value: Any, n_bars: int, rules: Rules = TYPED, notes: set[str] | None = None,
               label: str | None = None) -> np.ndarray:
    """One control over a song's bars -> (n_bars,) float64 in [0, 1], NaN = free.

    value: None (free), a number (every bar), per-bar values, or text (a curve as `parse_curve`
    reads it when `rules.curve_text`, else one value for every bar). `name` starts every message;
    `label` names the control in the notes of what was clamped or cut."""
    notes = set() if notes is None else notes
    label = label or name
    clamped = f"{label}: values outside 0..1 were clamped"
    try:
        if value is None:
            return np.full(n_bars, np.nan)
        if isinstance(value, str) and rules.curve_text:
            return parse_curve(value, n_bars, rules, notes)
        if rules.curve_text:  # numbers from Python: checked as arrays (booleans, text, complex refused)
            values = H.real_array(value, "values")
            if values.ndim == 0:
                values = values[None]
            if values.ndim != 1 or len(values) == 0:
                raise ValueError(f"expected a number or one number a bar, got shape {values.shape}")
            values = _clamp_or_refuse(values, rules, "values must be numbers between 0 and 1", clamped, notes)
            return _fit(values, n_bars, rules)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    # a painted lane: one value for every bar, or a list of cells
    if isinstance(value, (int, float, str, np.number)):
        cells = np.full(n_bars, _cell(value, name))
    elif isinstance(value, (list, tuple)):
        cells = np.array([_cell(x, f"{name}, bar {b + 1}") for b, x in enumerate(value[:n_bars])], np.float64)
        if len(value) > n_bars and any(v is not None for v in value[n_bars:]):
            notes.add(f"{label}: values past bar {n_bars} (the song's last) were ignored")
        cells = _fit(cells, n_bars, rules, name)
    else:
        raise ValueError(f"{name} must be a list of numbers or nulls (one a bar), got {type(value).__name__}")
    return _clamp_or_refuse(cells, rules, f"{name}: values must be numbers between 0 and 1", clamped, notes)


def number_in(name: str, value: Any, lo: float, hi: float) -> float:
    """A number from a caller (number or numeric text), clamped to [lo, hi]; ValueError otherwise."""
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be a number from {lo:g} to {hi:g}, got {value!r}") from None
    if isinstance(value, bool) or math.isnan(x):
        raise ValueError(f"{name} must be a number from {lo:g} to {hi:g}, got {value!r}")
    return min(max(x, lo), hi)


# --- voices and styles -----------------------------------------------------------------------------------

def voice_names(value: str | Iterable[str] | None) -> list[str]:
    """'ride,crash' or ['ride', 'crash,kick'] -> ['ride', 'crash', 'kick'] (names checked)."""
    if value is None:
        return []
    if not isinstance(value, Iterable) or isinstance(value, Mapping):
        raise ValueError(f"mute: expected voice names ('ride,crash' or a list), got {type(value).__name__}")
    items = [value] if isinstance(value, str) else list(value)
    return [H.voice_name(part.strip()) for item in items for part in str(item).split(",") if part.strip()]


def parse_weights(items: str | Iterable[str] | None) -> dict[str, str]:
    """Command-line weights -> {voice: value text}: 'snare=0.4', 'snare=0.4,kick=0.6', 'snare=0.2-0.8'
    (a ramp) or 'snare=0.2,0.5,0.9' (one value a bar: a piece without '=' continues the voice before)."""
    if items is not None and not isinstance(items, Iterable):
        raise ValueError(f"weights: expected VOICE=VALUE items or a {{voice: value}} dict, got {type(items).__name__}")
    out: dict[str, str] = {}
    last = None
    for item in [items] if isinstance(items, str) else list(items or []):
        for part in str(item).split(","):
            part = part.strip()
            if "=" in part:
                voice, value = (s.strip() for s in part.split("=", 1))
                if not voice or not value:
                    raise ValueError(f"weight {part!r}: expected VOICE=VALUE, e.g. snare=0.4")
                last = H.voice_name(voice)
                if last in out:
                    raise ValueError(f"weight for {last} given twice")
                out[last] = value
            elif part and last is not None:
                out[last] += "," + part
            elif part:
                raise ValueError(f"weight {part!r}: expected VOICE=VALUE, e.g. snare=0.4 (voices: {', '.join(H.VOICES)})")
    return out


def style_name(style: Any) -> str | None:
    """A style as typed -> its name in controls.STYLES, or None when free ('any', 'free', blank, None)."""
    if C.is_free_style(style):
        return None
    try:
        return C.STYLES[C.style_index(style)]
    except ValueError:
        raise ValueError(f"unknown style {style!r}; styles: any, {', '.join(C.STYLES)}") from None


# --- every control of a song -----------------------------------------------------------------------------

def _shares(instruments: dict[str, np.ndarray], n_bars: int, rules: Rules, notes: set[str]) -> dict[str, np.ndarray]:
    """Voice shares of a song: every voice muted is refused (TYPED), shares over 1 refused or scaled."""
    if not instruments:
        return {}
    if rules.empty_part == "refuse" and all(v in instruments and not instruments[v].any() for v in H.VOICES):
        raise ValueError("every voice is muted (or weighted 0): nothing would play")
    shares = np.stack([instruments.get(v, np.full(n_bars, np.nan)) for v in H.VOICES])  # (9, B)
    total = np.nansum(shares, axis=0)
    over = total > 1 + 1e-6
    if over.any():
        if rules.over_one != "scale":
            bar = int(np.argmax(over))
            raise ValueError(f"weights add up to {total[bar]:.2f} in bar {bar + 1}; a weight is a voice's share "
                             "of the bar's hits, so together they can be at most 1")
        shares[:, over] /= total[over]
        notes.add(f"instrument shares above 1 in total were scaled to add up to 1 {in_bars(np.nonzero(over)[0])}")
    return {v: shares[i] for i, v in enumerate(H.VOICES) if v in instruments}


def build_controls(n_bars: int, density: Any = None, intensity: Any = None, mute: str | Iterable[str] | None = None,
                   weights: Mapping[str, Any] | str | Iterable[str] | None = None, style: Any = None,
                   rules: Rules = TYPED, notes: set[str] | None = None) -> dict:
    """Per-bar controls for a song of n_bars, as `generate(controls=...)` takes them; only what is set.

    density, intensity: a curve (read_curve: text, a number or per-bar values). mute: voice names
    ('ride,crash' or a list): weight 0, so they never play. weights: {voice: curve} (that voice's
    share of each bar's hits) or command-line 'VOICE=VALUE' items. style: one of controls.STYLES,
    or 'any' / None (the model chooses), or per-bar names (checked by generate). Voices:
    drumgen.hvo.VOICES (also 'hat' / 'hihat' for closed_hat). ValueError with one clear line for
    anything it cannot read; what `rules` forgives is said in `notes`.
    """
    if not isinstance(n_bars, (int, np.integer)) or isinstance(n_bars, bool) or n_bars < 1:
        raise ValueError(f"controls need a song of at least one bar, got {n_bars}")
    notes = set() if notes is None else notes
    out: dict[str, Any] = {}
    for name, value in (("density", density), ("intensity", intensity)):
        values = read_curve(name, value, n_bars, rules, notes)
        if np.isfinite(values).any():
            out[name] = values
    if weights is not None and not isinstance(weights, Mapping):
        weights = parse_weights(weights)
    instruments: dict[str, np.ndarray] = {}
    weighted: set[str] = set()
    for voice, value in (weights or {}).items():
        key = H.voice_name(voice)
        if key in weighted:
            raise ValueError(f"weight for {key} given twice")
        weighted.add(key)
        values = read_curve(f"weight {key}", value, n_bars, rules, notes, label=H.VOICE_LABELS[key].lower())
        if np.isfinite(values).any():
            instruments[key] = values
    for key in voice_names(mute):
        if key in weighted:
            raise ValueError(f"{key} is both muted and given a weight; pick one")
        instruments[key] = np.zeros(n_bars)
    shares = _shares(instruments, n_bars, rules, notes)
    if shares:
        out["instruments"] = shares
    if isinstance(style, str) or style is None:
        name = style_name(style)
        if name is not None:
            out["style"] = name
    else:
        out["style"] = style  # per-bar names: checked by generate (controls.validate_controls)
    return out


@dataclass
class Reading:
    """Controls read for one song: what `generate` gets (None: all free), what the reader forgave or
    changed (sentences for the person), and the lanes as the page shows them (None off the page)."""

    controls: dict | C.Controls | None = None
    notes: list[str] = field(default_factory=list)
    lanes: dict[str, list[float | None]] | None = None


@dataclass
class ControlSpec:
    """What a user asks for, before the song's length is known (see build_controls for the forms);
    `resolve(n_bars)` gives the per-bar controls. Empty: the model decides everything."""

    density: Any = None
    intensity: Any = None
    mute: Any = None
    weights: Any = None
    style: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.weights, (str, list, tuple)):
            self.weights = parse_weights(self.weights)
        self.resolve(H.MAX_BARS)  # every check but "more values than bars", before a model is loaded or a file read

    def resolve(self, n_bars: int) -> dict:
        return build_controls(n_bars, self.density, self.intensity, self.mute, self.weights, self.style)

    def for_song(self, n_bars: int) -> Reading:
        return Reading(self.resolve(n_bars))

    def sets_style(self) -> bool:
        return not C.is_free_style(self.style)


def ignored_controls(model: Any, controls: ControlSpec | Mapping | None) -> list[str]:
    """Controls this model will not follow (today: style, for a model that did not learn the controls)."""
    if controls is None or model.learns_controls:
        return []
    if isinstance(controls, ControlSpec):
        return ["style"] if controls.sets_style() else []
    return ["style"] if isinstance(controls, Mapping) and controls.get("style") is not None else []


# --- the page's lanes -------------------------------------------------------------------------------------

LANES: tuple[str, ...] = ("density", "intensity", *H.VOICES)
LANE_LABELS = {"density": "Density", "intensity": "Intensity", **H.VOICE_LABELS}
LANE_HELP = {
    "density": "how busy each bar is: 0.5 a median bar of real drummers, 0.9 busier than 90% of them",
    "intensity": "how loud each bar is: the mean velocity of its hits",
    **{v: f"{H.VOICE_LABELS[v]}: its share of each bar's hits (0 = muted)" for v in H.VOICES},
}
# (key, label, colour group, help) of each lane, top to bottom
LANE_ROWS = [(k, LANE_LABELS[k], k if k in ("density", "intensity") else "voice", LANE_HELP[k]) for k in LANES]
LANE_SHAPES = ("flat", "ramp_up", "ramp_down", "free")
RAMP_START = 0.25  # a ramp runs between a quarter of the level and the level


def lane_key(name: Any) -> str:
    """'Density', 'snare', 'hihat', 'closed-hat' -> a key of LANES; ValueError naming the lanes otherwise."""
    key = H.name_key(name)
    if key in ("density", "intensity"):
        return key
    try:
        return H.voice_name(key)
    except ValueError:
        raise ValueError(f"unknown lane {name!r}; lanes: {', '.join(LANES)}") from None


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
        out[lane] = _cells(read_curve(f"lanes: {lane}", values, n_bars, PAINTED, notes, LANE_LABELS[lane].lower()))
    return out, sorted(notes)


def lanes_to_controls(lanes: Mapping[str, list[float | None]], style: str | None = None) -> tuple[dict | None, list[str]]:
    """Clean lanes (see clean_lanes) and a style -> (controls for `generate`, or None when all is free,
    notes). Voices' shares set in a bar that add up to more than 1 are scaled down to add up to 1."""
    n_bars = lanes_length(lanes)
    notes: set[str] = set()
    weights = {v: lanes[v] for v in H.VOICES if v in lanes}
    controls = build_controls(max(n_bars, 1), lanes.get("density"), lanes.get("intensity"), None, weights,
                              style, PAINTED, notes)
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
    n_bars = lanes_length(lanes)
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
    if shape == "free":
        out[key] = [None] * n_bars
    elif shape == "flat":
        out[key] = [round(level, 4)] * n_bars
    else:
        ramp = C.ramp(RAMP_START * level, level, n_bars) if n_bars > 1 else np.array([level])
        out[key] = _cells(ramp if shape == "ramp_up" else ramp[::-1])
    return out


def bar_ranges(bars) -> str:
    """[0, 1, 2, 5, 7, 8] -> '1–3, 6, 8–9' (1-based)."""
    bars = sorted(int(b) for b in bars)
    parts, start = [], None
    for i, b in enumerate(bars):
        if start is None:
            start = b
        if i + 1 == len(bars) or bars[i + 1] != b + 1:
            parts.append(f"{start + 1}" if start == b else f"{start + 1}–{b + 1}")
            start = None
    return ", ".join(parts)


def in_bars(bars) -> str:
    """'in bar 3' or 'in bars 1–3, 6'."""
    bars = list(bars)
    return f"in bar{'s' if len(bars) > 1 else ''} {bar_ranges(bars)}"


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
        parts = []
        if some:
            lo, hi = min(values[b] for b in some), max(values[b] for b in some)
            level = f"{lo:.2f}" if lo == hi else f"{lo:.2f}–{hi:.2f}"
            parts.append(f"{level} {in_bars(some)}")
        if zero:
            parts.append(f"{'muted' if lane in H.VOICES else '0'} {in_bars(zero)}")
        lines.append(f"**{LANE_LABELS[lane].lower()}** " + "; ".join(parts))
    return lines
