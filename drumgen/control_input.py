"""What a person or an API caller asks of the drums, read into per-bar controls.

The command line, the Python API and the page's lanes all come through here, so "0.5 density in
bar 3" or "no ride" means one thing everywhere. `drumgen.controls` says what each control means
and `generate` validates what it is given; this module only reads what people type or paint:

    controls = build_controls(8, density="0.2-0.9", mute="ride", weights={"snare": 0.3}, style="funk")
    spec = ControlSpec(density="0.2-0.9", mute="ride")            # before the song's length is known
    controls = build_controls(8, density=[0.2, 1.4], rules=PAINTED, notes=said)    # the page's way (drumgen.lanes)

Where a typed command and a painted page should differ, `Rules` says so: the command line refuses
what it cannot play as typed (TYPED: a typo is better caught than guessed), the page makes the most
of a gesture and says what it changed (PAINTED: a value dragged past an edge is the edge, a lane
shorter than the song leaves the rest free, shares that add up to more than 1 are scaled down).
Control values are numbers in [0, 1]; free (the model decides) is None or NaN; a voice's 0 mutes it.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import controls as C
from . import hvo as H
from .bars import bar_ranges, in_bars, parse_bars  # noqa: F401  (read here; named here by callers before bars.py)

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


def shown(x: Any, limit: int = 40) -> str:
    """What a caller sent, as a message shows it: its repr, cut to a few dozen characters."""
    try:
        text = repr(x) if not isinstance(x, int) or abs(x) < 10 ** 30 else f"a {len(str(abs(x)))}-digit number"
    except ValueError:  # an int too long to turn into text
        text = "a number with thousands of digits"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cell(x: Any, where: str) -> float:
    """One painted cell -> a number or NaN (free); ValueError for what is not a number."""
    if x is None or (isinstance(x, str) and x.strip().lower() in FREE_WORDS):
        return math.nan
    if isinstance(x, bool) or not isinstance(x, (int, float, str, np.number)):
        raise ValueError(f"{where} must be a number from 0 to 1 or null (free), got {shown(x)}")
    try:
        return float(x)
    except (ValueError, OverflowError):
        raise ValueError(f"{where} must be a number from 0 to 1 or null (free), got {shown(x)}") from None


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
            values = _fit(values, n_bars, rules)
            return _clamp_or_refuse(values, rules, "values must be numbers between 0 and 1", clamped, notes)
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


FILL_FREE = ("", "free", "auto", "any")
EVERY = re.compile(r"every\s*(\d+)(?:st|nd|rd|th)?(?:\s*bars?)?")


def read_fills(name: str, value: Any, n_bars: int, rules: Rules = TYPED, notes: set[str] | None = None) -> np.ndarray:
    """Where the fills go -> (n_bars,) float64: 1 = a fill, 0 = no fill, NaN = the model decides.

    Text as a musician types it: '8, 16' or '4-5' (fills there, none elsewhere), 'every 4' (bars 4,
    8, 12, ...), 'none' (no fill anywhere), '' / 'free' (the model decides). Numbers: per-bar values
    (a painted lane: 0.5 and above is a fill, under it none, said in `notes`; typed: exactly 0 or 1)."""
    notes = set() if notes is None else notes
    if value is None:
        return np.full(n_bars, np.nan)
    if isinstance(value, str):
        spec = value.strip().lower()
        if spec in FILL_FREE:
            return np.full(n_bars, np.nan)
        out = np.zeros(n_bars)
        if spec in ("none", "no", "off"):
            return out
        every = EVERY.fullmatch(spec)
        if every:
            step = int(every.group(1))
            if step < 1:
                raise ValueError(f"{name}: 'every N' needs N of 1 or more, got {value!r}")
            out[step - 1::step] = 1.0
            return out
        try:
            out[parse_bars(spec, n_bars)] = 1.0
        except ValueError as exc:
            raise ValueError(f"{name}: {exc} (or 'every 4', 'none', 'free')") from None
        return out
    values = read_curve(name, value, n_bars, rules, notes)
    if rules.curve_text:  # typed numbers: exactly what they say
        odd = np.isfinite(values) & (values != 0) & (values != 1)
        if odd.any():
            raise ValueError(f"{name}: 1 (a fill), 0 (no fill) or None (the model decides) per bar, got {values[odd][0]:g}")
        return values
    rounded = np.where(np.isfinite(values), (values >= 0.5).astype(np.float64), np.nan)
    if (np.isfinite(values) & (values != rounded)).any():
        notes.add(f"{name}: a bar is a fill or not: 0.5 and above is a fill")
    return rounded


def number_in(name: str, value: Any, lo: float, hi: float) -> float:
    """A number from a caller (number or numeric text), clamped to [lo, hi]; ValueError otherwise."""
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be a number from {lo:g} to {hi:g}, got {shown(value)}") from None
    if isinstance(value, bool) or math.isnan(x):
        raise ValueError(f"{name} must be a number from {lo:g} to {hi:g}, got {shown(value)}")
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
                   rules: Rules = TYPED, notes: set[str] | None = None, fill: Any = None) -> dict:
    """Per-bar controls for a song of n_bars, as `generate(controls=...)` takes them; only what is set.

    density, intensity: a curve (read_curve: text, a number or per-bar values). mute: voice names
    ('ride,crash' or a list): weight 0, so they never play. weights: {voice: curve} (that voice's
    share of each bar's hits) or command-line 'VOICE=VALUE' items. style: one of controls.STYLES,
    or 'any' / None (the model chooses), or per-bar names (checked by generate). fill: where the
    fills go (read_fills: '8, 16', 'every 4', 'none', or per-bar 1 / 0 / None). Voices:
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
    else:  # per-bar names or indices: the model's own check, now, so a spec is refused before a song is read
        C.validate_controls({"style": style}, 1, n_bars)
        out["style"] = style
    fills = read_fills("fill", fill, n_bars, rules, notes)
    if np.isfinite(fills).any():
        out["fill"] = fills
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
    fill: Any = None

    def __post_init__(self) -> None:
        if isinstance(self.weights, (str, list, tuple)):
            self.weights = parse_weights(self.weights)
        self.resolve(H.MAX_BARS)  # every check but "more values than bars", before a model is loaded or a file read

    def resolve(self, n_bars: int) -> dict:
        return build_controls(n_bars, self.density, self.intensity, self.mute, self.weights, self.style, fill=self.fill)

    def for_song(self, n_bars: int) -> Reading:
        return Reading(self.resolve(n_bars))

    def sets_style(self) -> bool:
        return not C.is_free_style(self.style)

    def sets_fill(self) -> bool:
        return bool(np.isfinite(read_fills("fill", self.fill, H.MAX_BARS)).any())


def ignored_controls(model: Any, controls: ControlSpec | Mapping | None) -> list[str]:
    """Controls this model will not follow: style, for a model that did not learn the controls; fill,
    for one not trained with the fill control."""
    if controls is None:
        return []
    if isinstance(controls, ControlSpec):
        style, fill = controls.sets_style(), controls.sets_fill()
    elif isinstance(controls, Mapping):
        style, fill = controls.get("style") is not None, controls.get("fill") is not None
    else:
        return []
    return ([] if not style or getattr(model, "learns_controls", False) else ["style"]) + \
        ([] if not fill or getattr(model, "follows_fills", False) else ["fill"])
