"""Drum maps and export options: which MIDI note each of drumgen's 9 voices is written on, for the
drum instrument a musician loads the MIDI into, and how the drums are written for a DAW
(`ExportOptions`: map, one track or one per voice, humanize, swing, velocity range). The one place
that knows the maps; `midi.hvo_to_midi(..., options=ExportOptions(drum_map="ad2"))` writes with one
and `midi.song_to_hvo(song, drum_map="ad2")` reads a take back with it.

    drum_maps.get("ad2").notes["closed_hat"]        # 49
    drum_maps.resolve("my_kit.json")                # a map from a file (see `load`)
    drum_maps.MAPS                                  # the built-in maps by name

Notes are MIDI note numbers (36 is "C1" in most drum software, "C2" in some DAWs). Each built-in
table below names its source and which voices follow General MIDI. Only maps whose notes were found
in a source, or that the maker documents as GM-compatible, are here; anything else (a sampler's
pads, a kit of one's own) is a small file: see `load`.
"""
from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from . import hvo as H


@dataclass(frozen=True)
class DrumMap:
    """name; what it is for (a line); notes: {voice: note written} for every voice; also_read:
    {note: voice} of other notes (articulations) read back as a voice; source: where the notes come from."""

    name: str
    title: str
    notes: Mapping[str, int]
    also_read: Mapping[int, str] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self):
        notes = {H.voice_name(v): _note(n, f"{self.name}: {v}") for v, n in dict(self.notes).items()}
        missing = [v for v in H.VOICES if v not in notes]
        if missing:
            raise ValueError(f"drum map {self.name!r} gives no note for {', '.join(missing)}")
        also = {_note(n, f"{self.name}: also_read"): H.voice_name(v) for n, v in dict(self.also_read).items()}
        object.__setattr__(self, "notes", MappingProxyType({v: notes[v] for v in H.VOICES}))
        object.__setattr__(self, "also_read", MappingProxyType(also))

    @property
    def output_pitches(self) -> tuple[int, ...]:
        """The note of each voice, in H.VOICES order (as hvo.OUTPUT_PITCHES for GM)."""
        return tuple(self.notes[v] for v in H.VOICES)

    def pitch_to_voice(self) -> dict[int, int]:
        """Note -> voice index for reading a take written with this map: every written note (a note two
        voices share reads as the first of them, in H.VOICES order), then the articulations in also_read."""
        out: dict[int, int] = {}
        for index, voice in enumerate(H.VOICES):
            out.setdefault(self.notes[voice], index)
        for note, voice in self.also_read.items():
            out.setdefault(note, H.VOICES.index(voice))
        return out

    def describe(self) -> str:
        """A few lines for the command line: name, title, source, the note of each voice."""
        lines = [f"{self.name}: {self.title}"]
        if self.source:
            lines.append(f"  source: {self.source}")
        lines.append("  " + ", ".join(f"{v} {self.notes[v]}" for v in H.VOICES))
        return "\n".join(lines)


def _note(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 127:
        raise ValueError(f"{where}: a MIDI note must be a whole number 0..127, got {value!r}")
    return value


def _gm_also_read() -> dict[int, str]:
    return {p: v for v in H.VOICES for p in H.VOICE_PITCHES[v][1:]}


GM = DrumMap(
    "gm", "General MIDI: any GM sound module or soundfont, and most drum plug-ins' default map",
    dict(zip(H.VOICES, H.OUTPUT_PITCHES)), _gm_also_read(),
    "the General MIDI Level 1 percussion key map (channel 10); the notes drumgen has always written "
    "(hvo.OUTPUT_PITCHES), read back with the GM and Roland pitches of hvo.VOICE_PITCHES")
"""General MIDI. Every voice is GM; reading takes the other GM/Roland notes of hvo.VOICE_PITCHES
(35 kick, 37/40 snare, 22/44 closed hat, 26 open hat, ...), exactly as `midi.song_to_hvo` always has."""

LOGIC = DrumMap(
    "logic", "Logic Pro's Drum Kit Designer (Input Mapping: GM)",
    GM.notes, GM.also_read,
    "Apple, Logic Pro user guide, 'Drum Kit Designer mappings': Drum Kit Designer is compatible with "
    "the GM standard (Input Mapping pop-up menu: GM)")
"""Logic Pro's Drum Kit Designer. Apple documents it as GM-compatible, so every voice is GM (the same
notes as `GM`); this name is here so a Logic user finds it. Set its Input Mapping to GM."""

AD2 = DrumMap(
    "ad2", "XLN Audio Addictive Drums 2 (its default keymap, not GM)",
    {"kick": 36, "snare": 38, "closed_hat": 49, "open_hat": 56, "low_tom": 65, "mid_tom": 69,
     "high_tom": 71, "crash": 77, "ride": 60},
    {37: "snare", 39: "snare", 40: "snare", 41: "snare", 42: "snare", 43: "snare", 44: "snare",
     48: "closed_hat", 50: "closed_hat", 51: "closed_hat", 52: "closed_hat", 53: "closed_hat",
     54: "open_hat", 55: "open_hat", 57: "open_hat", 58: "open_hat", 59: "open_hat",
     66: "low_tom", 67: "mid_tom", 68: "mid_tom", 70: "mid_tom", 72: "high_tom",
     46: "crash", 79: "crash", 81: "crash", 89: "crash", 91: "crash", 93: "crash",
     45: "ride", 61: "ride", 62: "ride", 84: "ride", 85: "ride", 86: "ride"},
    "XLN Audio, 'Addictive Drums 2 Keymap' (PDF of 2 June 2021, in AD2's Manuals folder), as "
    "transcribed by several public projects that agree note for note")
"""Addictive Drums 2's default keymap. Only kick (36 Kick) and snare (38 Snare Open Hit) are GM; the
rest is AD2's own: closed hat 49 HiHat Closed 1 Tip, open hat 56 HiHat Open C (Open A..D go from
slightly to fully open), toms 71 Tom 1 / 69 Tom 2 / 65 Tom 4 Open Hit (high, mid, floor), crash 77
Cymbal 1 Hit, ride 60 Ride 1 Tip. (GM's 49 "crash" is a closed hat here, GM's 42 a snare side stick.)
Read back: the other snare strokes (side stick 42, rim click 44 too), hat openings and pedal, Tom 3
as mid tom, tom rimshots, Cymbals 2-6 as crash, Ride 1 bell/shaft and Ride 2 as ride."""

SSD5 = DrumMap(
    "ssd5", "Steven Slate Drums 5 (its default map: GM core, its own hats and crashes)",
    {"kick": 36, "snare": 38, "closed_hat": 42, "open_hat": 70, "low_tom": 43, "mid_tom": 47,
     "high_tom": 48, "crash": 57, "ride": 51},
    {35: "kick", 37: "snare", 39: "snare", 40: "snare",
     44: "closed_hat", 60: "closed_hat", 61: "closed_hat", 66: "closed_hat", 67: "closed_hat", 72: "closed_hat",
     46: "open_hat", 62: "open_hat", 63: "open_hat", 64: "open_hat", 65: "open_hat", 68: "open_hat",
     69: "open_hat", 71: "open_hat", 73: "open_hat",
     41: "low_tom", 55: "crash", 52: "ride", 53: "ride", 59: "ride"},
    "the SSD5 default mapping as transcribed in a public drum-map converter's source (one source: check "
    "it against SSD5's own mapping page if your version differs)")
"""Steven Slate Drums 5's default map (with 36 = C1). GM for kick 36, snare 38, closed hat 42
(Closed Tip, also on 67), toms 48 Rack 1 / 47 Rack 2 / 43 Floor 1 and ride 51 (Bow Tip). Its own: open
hat 70 (Open Tip 1; 46 is its pedal-CC hat), crash 57 (Crash 1; SSD5 puts a splash choke on GM's 49).
Read back: the other hat tips, shanks and pedal notes, 41 Floor 2, 55 Crash 2, ride bow/bell/edge."""

MAPS: dict[str, DrumMap] = {m.name: m for m in (GM, LOGIC, AD2, SSD5)}
FILE_FALLBACK_KEY = "fallback"


def get(name: str) -> DrumMap:
    """A built-in map by name ('GM', 'ad2', ...); ValueError listing them otherwise."""
    key = H.name_key(name)
    if key not in MAPS:
        raise ValueError(f"unknown drum map {name!r}; maps: {', '.join(MAPS)} (or a .json/.yaml file of {{voice: note}})")
    return MAPS[key]


def resolve(choice: DrumMap | str | os.PathLike | None) -> DrumMap:
    """A DrumMap as it is; None -> GM; a built-in name; else a path to a map file (`load`)."""
    if choice is None:
        return GM
    if isinstance(choice, DrumMap):
        return choice
    if isinstance(choice, str) and H.name_key(choice) in MAPS:
        return MAPS[H.name_key(choice)]
    if isinstance(choice, (str, os.PathLike)) and (Path(choice).suffix.lower() in (".json", ".yaml", ".yml")
                                                   or Path(choice).exists()):
        return load(choice)
    if isinstance(choice, str):
        return get(choice)  # the error names the maps
    raise ValueError(f"drum_map must be a map name, a file or a DrumMap, got {type(choice).__name__}")


def load(path: str | os.PathLike) -> DrumMap:
    """A map from a small JSON or YAML file: {voice: note, ...}, e.g. {"kick": 36, "snare": 38, ...}.

    Every voice needs a note unless the file names a built-in map whose notes fill the rest:
    "fallback": "gm". Voices as people type them ('hat', 'Closed Hat'); notes 0..127. Anything else
    is refused with a ValueError that names the file and what is wrong."""
    path = Path(path)
    where = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read drum map file {path}: {exc.strerror or exc}") from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # json and yaml raise their own kinds
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"drum map file {where} is not valid {'YAML' if path.suffix.lower() != '.json' else 'JSON'}: "
                         f"{first}") from None
    return from_dict(data, name=path.stem, where=where)


def from_dict(data, name: str = "custom", where: str = "drum map") -> DrumMap:
    """{voice: note[, "fallback": map name]} -> DrumMap, checked as `load` says."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: a drum map is {{voice: note}}, e.g. {{\"kick\": 36, \"snare\": 38}}; "
                         f"got {type(data).__name__}")
    data = dict(data)
    fallback = data.pop(FILE_FALLBACK_KEY, None)
    notes: dict[str, int] = {}
    for key, value in data.items():
        try:
            voice = H.voice_name(key)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        if voice in notes:
            raise ValueError(f"{where}: {voice} is given twice")
        notes[voice] = _note(value, f"{where}: {voice}")
    if fallback is not None:
        if not isinstance(fallback, str):
            raise ValueError(f"{where}: fallback must be the name of a built-in map ({', '.join(MAPS)})")
        try:
            base = get(fallback)
        except ValueError as exc:
            raise ValueError(f"{where}: fallback: {exc}") from None
        filled = [v for v in H.VOICES if v not in notes]
        notes = {**{v: base.notes[v] for v in filled}, **notes}
        source = f"{where} (voices not given: {base.name})" if filled else where
    else:
        missing = [v for v in H.VOICES if v not in notes]
        if missing:
            raise ValueError(f"{where}: no note for {', '.join(missing)}; give every voice, or add "
                             f"\"{FILE_FALLBACK_KEY}\": \"gm\" to take those from a built-in map")
        source = where
    return DrumMap(name, f"from {where}", notes, source=source)


DRUMS_TRACK_NAME = "drumgen drums"
SWING_GRIDS = {"16th": 2, "8th": 4}  # grid -> steps in one pair (on-beat + off-beat)


@dataclass(frozen=True)
class ExportOptions:
    """How the drums MIDI is written for a DAW; the defaults write exactly what drumgen always wrote.

    drum_map: a name in drum_maps.MAPS ('gm', 'logic', 'ad2', 'ssd5'), a map file or a DrumMap.
    per_voice_tracks: one track per voice, named after it (Kick, Snare, ...: all nine, in hvo.VOICES
      order, so a template's lanes stay put), instead of the one track `track_name`.
    humanize: 0..1, how much of the model's micro-timing is kept: 0 puts every hit on the grid,
      1 keeps it as generated, between scales every offset.
    swing: 0..1, on top: each off-beat of `swing_grid` ('16th': the second 16th of each 8th; '8th': the
      second 8th of each beat) is delayed by swing x 1/3 of its straight distance from the on-beat.
      1 = triplet swing (long-short 2:1, an MPC's 66%), 0.5 = an MPC's 58%. In steps: swing/3 ('16th')
      or 2 swing/3 ('8th'). No other hit moves.
    velocity_range: (low, high) in 1..127, or 'LOW-HIGH': the part's softest hit is written at low, its
      loudest at high, the rest linearly between (compresses or expands the dynamics, one scale for all
      voices, so their balance stays); a part of one loudness is clamped into the range. None: as made.
    """

    drum_map: Any = "gm"
    per_voice_tracks: bool = False
    humanize: float = 1.0
    swing: float = 0.0
    swing_grid: str = "16th"
    velocity_range: Any = None
    track_name: str = DRUMS_TRACK_NAME

    def __post_init__(self):
        set_ = functools.partial(object.__setattr__, self)
        set_("drum_map", resolve(self.drum_map))
        set_("humanize", _amount(self.humanize, "humanize"))
        set_("swing", _amount(self.swing, "swing"))
        grid = str(self.swing_grid).strip().lower()
        grid = {"16": "16th", "8": "8th"}.get(grid, grid)
        if grid not in SWING_GRIDS:
            raise ValueError(f"swing grid must be 16th or 8th, got {self.swing_grid!r}")
        set_("swing_grid", grid)
        set_("velocity_range", _velocity_range(self.velocity_range))
        if not isinstance(self.track_name, str) or not self.track_name.strip():
            raise ValueError("track name must be some text")

    def with_(self, **changes) -> ExportOptions:
        return replace(self, **changes)


def _amount(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be a number from 0 to 1, got {value!r}")
    return float(value)


def _velocity_range(value) -> tuple[int, int] | None:
    """None, (low, high) or 'LOW-HIGH' (also 'LOW,HIGH', 'LOW..HIGH') -> (low, high), 1 <= low <= high <= 127."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    parts = value
    if isinstance(value, str):
        parts = value.replace("..", "-").replace(",", "-").split("-")
    try:
        low, high = (int(str(p).strip()) if isinstance(p, str) else p for p in parts)
        if isinstance(low, bool) or isinstance(high, bool) or int(low) != low or int(high) != high:
            raise ValueError
        low, high = int(low), int(high)
    except (TypeError, ValueError):
        raise ValueError(f"velocity range must be two whole numbers LOW-HIGH, e.g. 40-110, got {value!r}") from None
    if not 1 <= low <= high <= 127:
        raise ValueError(f"velocity range must be LOW-HIGH with 1 <= LOW <= HIGH <= 127, got {low}-{high}")
    return low, high


DEFAULT_EXPORT = ExportOptions()
