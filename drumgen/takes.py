"""Takes: a drum part kept, and what a musician says to keep of it ("bars 5-8 again", "keep the kick").

A take is a drums HVO (T, 27) of a song. Editing is one mechanism in every model:
`generate(groove, ..., keep=take, keep_mask=mask)` with mask (T, 9) True where a cell (hit or rest,
velocity, offset) stays as it is. The helpers here turn what people type or click into masks, so the
command line, the page and the tests build them the same way:

    bars = parse_bars("5-8, 12", n_bars)                 # 0-based bar indices, checked against the song
    mask = keep_mask(n_steps, regenerate=bars, lock=["kick", "snare"])   # new bars 5-8 and 12, kick and snare kept
    value = take_to_json(take); take = take_from_json(value, n_steps)    # the page's and the API's form
    value = song_take_json(take, song); take = take_for_song(value, song)  # the same, its tempo map checked
    take = take_from_midi("drums.mid", song)                                # a take written as MIDI

`TakeHistory` keeps the takes of one session (the page's): each new take (Generate, Regenerate, a
hand edit) is added, Undo goes back to the take it was made from, Redo forward again, and A/B
switches between the take shown and the one shown before it.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import drum_maps, midi
from . import hvo as H
from . import meter as M
from .control_input import in_bars, parse_bars, voice_names  # noqa: F401  (parse_bars: bars as musicians type them)

TAKE_FORMAT = 1


def keep_mask(n_steps: int, regenerate: Iterable[int] | None = None, lock: str | Iterable[str] | None = None,
              lock_bars: Iterable[int] | None = None, bars: M.Bars | None = None) -> np.ndarray:
    """(n_steps, 9) bool, True = keep the cell. regenerate: 0-based bars that get new drums (None:
    every bar); lock: voices kept as they are (in `lock_bars`, 0-based, or everywhere), even in the
    bars regenerated: "new hats for bars 5-8, keep the kick". bars: the song's (None: 4/4)."""
    if bars is None and n_steps % H.STEPS_PER_BAR:
        raise ValueError(f"a take is whole bars of {H.STEPS_PER_BAR} steps, got {n_steps} steps")
    bars = M.bars_for(bars, n_steps)
    n_bars, lengths = bars.n_bars, bars.lengths
    new_bars = np.ones(n_bars, bool) if regenerate is None else np.isin(np.arange(n_bars), list(regenerate))
    mask = np.repeat(~new_bars, lengths)[:n_steps, None].repeat(H.N_VOICES, axis=1)
    voices = [H.VOICES.index(v) for v in voice_names(lock)]
    if voices:
        locked_bars = np.ones(n_bars, bool) if lock_bars is None else np.isin(np.arange(n_bars), list(lock_bars))
        mask[np.ix_(np.repeat(locked_bars, lengths)[:n_steps], voices)] = True
    return mask


def take_to_json(take: np.ndarray, **about: Any) -> dict:
    """A take (T, 27) -> a JSON-able value: its length and its hits as [step, voice name, velocity,
    offset] (velocity 0..1, offset in steps), plus anything said `about` it (seed, model, ...)."""
    take = np.asarray(take, np.float32)
    if take.ndim != 2 or take.shape[1] != H.HVO_DIM:
        raise ValueError(f"a take must have shape (T, 27), got {take.shape}")
    steps, voices = np.nonzero(take[:, H.HITS] > 0.5)
    hits = [[int(t), H.VOICES[v], float(take[t, H.N_VOICES + v]), float(take[t, 2 * H.N_VOICES + v])]
            for t, v in zip(steps, voices)]  # float32 values as doubles: JSON carries them back exactly
    return {"format": TAKE_FORMAT, "steps": int(len(take)), "hits": hits, **about}


def take_from_json(value: Any, n_steps: int | None = None) -> np.ndarray:
    """The JSON-able value of take_to_json (or its JSON text) -> a take (T, 27); ValueError in words
    for anything else, and for a take of another length than the song's n_steps."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError("take: expected {'steps': N, 'hits': [[step, voice, velocity, offset], ...]}, "
                             "got text that is not JSON") from None
    if not isinstance(value, Mapping) or not isinstance(value.get("hits"), list):
        raise ValueError("take: expected {'steps': N, 'hits': [[step, voice, velocity, offset], ...]}")
    steps = value.get("steps")
    bars = take_bars(value)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0 \
            or (bars is None and steps % H.STEPS_PER_BAR) or (bars is not None and steps != bars.n_steps) \
            or steps > H.MAX_BARS * M.MAX_BAR_STEPS:
        raise ValueError(f"take: 'steps' must be a whole number of bars of {H.STEPS_PER_BAR} steps in 4/4 (or "
                         f"the steps of the bars its 'meters' give), got {steps!r}")
    if n_steps is not None and steps != n_steps:
        size = (f"{steps // H.STEPS_PER_BAR} bars long and the song {n_steps // H.STEPS_PER_BAR}"
                if bars is None and n_steps % H.STEPS_PER_BAR == 0 else f"{steps} steps long and the song {n_steps}")
        raise ValueError(f"the take is {size}: a take belongs to the song it was made for")
    if len(value["hits"]) > steps * H.N_VOICES:
        raise ValueError(f"take: {len(value['hits'])} hits in {steps} steps of {H.N_VOICES} voices; "
                         "each cell holds one hit at most")
    take = H.empty_hvo(steps)
    for hit in value["hits"]:
        if not isinstance(hit, (list, tuple)) or len(hit) != 4:
            raise ValueError(f"take: each hit is [step, voice, velocity, offset], got {hit!r}")
        step, voice, velocity, offset = hit
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < steps:
            raise ValueError(f"take: a hit's step must be 0 to {steps - 1}, got {step!r}")
        v = H.VOICES.index(H.voice_name(voice)) if isinstance(voice, str) else voice
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < H.N_VOICES:
            raise ValueError(f"take: a hit's voice must be a voice name or 0 to {H.N_VOICES - 1}, got {voice!r}")
        for name, x, lo, hi in (("velocity", velocity, 0.0, 1.0), ("offset", offset, -0.5, 0.5)):
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not lo <= x <= hi:
                raise ValueError(f"take: a hit's {name} must be a number from {lo:g} to {hi:g}, got {x!r}")
        take[step, v], take[step, H.N_VOICES + v], take[step, 2 * H.N_VOICES + v] = 1.0, velocity, min(offset, 0.4999)
    return take


def take_bars(value: Mapping) -> M.Bars | None:
    """The bars a take's JSON says it is in ('meters': [[numerator, denominator, bars], ...]), or None (4/4)."""
    runs = value.get("meters")
    if runs is None:
        return None
    if not isinstance(runs, list) or not runs:
        raise ValueError("take: 'meters' must be [[numerator, denominator, bars], ...] as drumgen wrote it")
    try:
        return M.Bars.from_runs(runs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"take: 'meters': {exc}") from None


def describe_change(old: np.ndarray, new: np.ndarray, bars: M.Bars | None = None) -> str:
    """What a hand edit changed, in words: '2 hits added, 1 removed, 1 velocity changed in bars 3–4'."""
    old_hits, new_hits = old[:, H.HITS] > 0.5, new[:, H.HITS] > 0.5
    if old.shape != new.shape:
        return "a take of another length"
    added, removed = new_hits & ~old_hits, old_hits & ~new_hits
    both = old_hits & new_hits
    louder = both & (old[:, H.VELOCITIES] != new[:, H.VELOCITIES])
    moved = both & (old[:, H.OFFSETS] != new[:, H.OFFSETS])
    parts = [f"{int(added.sum())} hit{'s' if added.sum() != 1 else ''} added" if added.any() else "",
             f"{int(removed.sum())} removed" if removed.any() else "",
             f"{int(louder.sum())} velocit{'ies' if louder.sum() != 1 else 'y'} changed" if louder.any() else "",
             f"{int(moved.sum())} moved in time" if moved.any() else ""]
    bars = M.bars_for(bars, len(new)) if bars is not None or len(new) % H.STEPS_PER_BAR == 0 else None
    any_change = (added | removed | louder | moved).any(axis=1)
    changed = (np.add.reduceat(any_change, bars.starts[:-1]) > 0) if bars is not None and len(new) \
        else any_change.reshape(-1, H.STEPS_PER_BAR).any(axis=1)
    words = ", ".join(p for p in parts if p)
    return f"{words} {in_bars(np.nonzero(changed)[0].tolist())}" if words else "no change"


def _beat_tempos(song: midi.Song) -> list[tuple[float, float]]:
    """A song's tempo map in beats (ticks per beat differ between a song and the file written from it)."""
    tempos = song.tempos or [(0, midi.DEFAULT_BPM)]
    return [(round(tick / song.ticks_per_beat, 4), round(bpm, 3)) for tick, bpm in tempos]


def tempo_map(song: midi.Song) -> list[list[float]]:
    """A song's tempo map as [[beat, BPM], ...]: what a take's JSON says of the song it belongs to."""
    return [[beat, bpm] for beat, bpm in _beat_tempos(song)]


def song_take_json(take: np.ndarray, song: midi.Song, **about: Any) -> dict:
    """take_to_json of a take of `song`, with the song's tempo map ('tempo_map') and, when not all 4/4,
    its bars ('meters': [[numerator, denominator, bars], ...]), so that a take sent back later is
    checked against the song it is sent with (take_for_song) and drawn in its bars."""
    meters = {} if song.bars.is_four_four else {"meters": song.bars.to_runs()}
    return take_to_json(take, tempo_map=tempo_map(song), **meters, **about)


def take_for_song(value: Any, song: midi.Song) -> np.ndarray:
    """A take's JSON (or its text) sent with `song` -> the take (song.n_steps, 27); ValueError in words
    for a take of another length or, when it says its tempo map, of another tempo."""
    take = take_from_json(value, None)
    if isinstance(value, str):
        value = json.loads(value)
    said = value.get("tempo_map")
    if said is not None:
        try:
            same = [[round(float(b), 4), round(float(t), 3)] for b, t in said] == tempo_map(song)
        except (TypeError, ValueError):
            raise ValueError("take: 'tempo_map' must be [[beat, BPM], ...] as drumgen wrote it") from None
        if not same:
            raise ValueError("The take is at another tempo than the song: a take belongs to the song it was made for "
                             "(its tempo map is the song's).")
    said_bars = take_bars(value)
    if said_bars is None and not song.bars.is_four_four:  # drumgen writes 'meters' for every take not in 4/4
        raise ValueError(f"The take is in 4/4 and the song in {song.meter_label}: a take belongs to the song it was "
                         "made for.")
    if said_bars is not None and said_bars != song.bars:
        raise ValueError(f"The take is in {said_bars.label()} and the song in {song.meter_label}: a take belongs to "
                         "the song it was made for.")
    if len(take) != song.n_steps:
        size = (f"{len(take) // H.STEPS_PER_BAR} bars long and the song {song.n_bars}" if said_bars is None
                and song.bars.is_four_four else f"{len(take)} steps long and the song {song.n_steps} ({song.n_bars} bars)")
        raise ValueError(f"The take is {size}: a take belongs to the song it was made for.")
    return take


EXPORT_MARK = "drumgen export:"  # a text event of every export's first track: what it was written with


def export_map(song: midi.Song) -> str | None:
    """The drum map a drumgen export says it was written with (its EXPORT_MARK text event), or None."""
    for track in song.source.tracks:
        for message in track:
            if message.type == "text" and message.text.startswith(EXPORT_MARK):
                return message.text[len(EXPORT_MARK):].strip().split(",")[0].replace("drum map", "").strip()
    return None


def take_from_midi(source: str | bytes | midi.Song, song: midi.Song, drum_map=None) -> np.ndarray:
    """A drums MIDI file (drumgen's output, or the song + drums file, or any part on channel 10)
    made for `song` -> its take (song.n_steps, 27), its notes read with `drum_map` (a name, a file or
    a drum_maps.DrumMap; default General MIDI). MidiError in words for a file without drums, at
    another tempo, or longer than the song."""
    take_song = source if isinstance(source, midi.Song) else midi.read_song(source)
    written = export_map(take_song)
    reading = drum_maps.resolve(drum_map).name
    if written is not None and written != reading:
        raise midi.MidiError(f"This file is an export written with the drum map {written}: use the drums MIDI "
                             f"drumgen made (the take), or read it with that map, not {reading}.")
    if _beat_tempos(take_song) != _beat_tempos(song):
        raise midi.MidiError("The take is at another tempo than the song: use the drums MIDI drumgen made for "
                             "this song (its tempo map is the song's).")
    hvo, _ = midi.song_to_hvo(take_song, drum_map=drum_map)
    if len(hvo) > song.n_steps and hvo[song.n_steps:, H.HITS].any():
        raise midi.MidiError(f"The take is {take_song.n_bars} bars long and the song {song.n_bars}: "
                             "a take belongs to the song it was made for.")
    if take_song.time_signatures and take_song.bars.meters != song.bars.meters[:take_song.n_bars]:
        raise midi.MidiError(f"The take is in {take_song.meter_label} and the song in {song.meter_label}: use the "
                             "drums MIDI drumgen made for this song.")
    take = H.empty_hvo(song.n_steps)
    take[: min(len(hvo), song.n_steps)] = hvo[: song.n_steps]
    return take


# --- the takes of a session ------------------------------------------------------------------------------

@dataclass
class TakeEntry:
    """One take kept by a TakeHistory: its number (1, 2, ...), the take it was made from, what made it,
    its hits packed (cell index, velocity, offset), and what the page shows with it (`shown`)."""

    number: int
    parent: int | None
    label: str
    steps: int
    cells: np.ndarray
    values: np.ndarray
    shown: Any = None

    @property
    def hits(self) -> int:
        return len(self.cells)

    def take(self) -> np.ndarray:
        take = H.empty_hvo(self.steps)
        steps, voices = np.divmod(self.cells, H.N_VOICES)
        take[steps, voices] = 1.0
        take[steps, H.N_VOICES + voices] = self.values[:, 0]
        take[steps, 2 * H.N_VOICES + voices] = self.values[:, 1]
        return take


class TakeHistory:
    """The takes of one session, in the order they were made, numbered from 1 (no globals: the page
    keeps one per browser session in gr.State).

    `add` makes a new take the current one (made from the current one); `undo` goes back to the take
    the current one was made from, `redo` forward to the take undone from there; `swap` (A/B) shows
    the take shown before the current one, so pressing it again comes back; `show(n)` shows any take
    (then `swap` switches between the two last shown). No take is lost by undoing and making a new
    one; the oldest go (never the current or the other of A/B) past `max_takes` takes or `max_hits`
    hits in all, so a session's memory stays bounded."""

    def __init__(self, max_takes: int = 40, max_hits: int = 400_000):
        self.max_takes, self.max_hits = int(max_takes), int(max_hits)
        self.entries: dict[int, TakeEntry] = {}
        self.current: int | None = None
        self.other: int | None = None  # the take A/B switches to
        self._redo: dict[int, int] = {}  # take -> the take undone from it
        self._made = 0

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, take: np.ndarray, label: str = "", shown: Any = None) -> int:
        """Keep a new take (T, 27), made from the current one, and show it; its number."""
        take = np.asarray(take, np.float32)
        if take.ndim != 2 or take.shape[1] != H.HVO_DIM:
            raise ValueError(f"a take must have shape (T, 27), got {take.shape}")
        steps, voices = np.nonzero(take[:, H.HITS] > 0.5)
        values = np.stack([take[steps, H.N_VOICES + voices], take[steps, 2 * H.N_VOICES + voices]], -1)
        self._made += 1
        number = self._made
        self.entries[number] = TakeEntry(number, self.current, str(label), len(take),
                                         (steps * H.N_VOICES + voices).astype(np.int32), values.astype(np.float32), shown)
        self._move(number)
        self._trim()
        return number

    def entry(self, number: int | None = None) -> TakeEntry:
        """The entry of a take (default: the current one); KeyError in words if it is not kept."""
        number = self.current if number is None else number
        if number not in self.entries:
            raise KeyError(f"no take {number} in this session" if number is not None else "no take yet")
        return self.entries[number]

    def take(self, number: int | None = None) -> np.ndarray:
        return self.entry(number).take()

    @property
    def can_undo(self) -> bool:
        return self.current is not None and self.entries[self.current].parent in self.entries

    @property
    def can_redo(self) -> bool:
        return self._redo.get(self.current) in self.entries

    @property
    def can_swap(self) -> bool:
        return self.other in self.entries and self.other != self.current

    def undo(self) -> int | None:
        """Show the take the current one was made from (nothing happens without one); the current take."""
        if self.can_undo:
            parent = self.entries[self.current].parent
            self._redo[parent] = self.current
            self._move(parent)
        return self.current

    def redo(self) -> int | None:
        """Show again the take last undone from the current one (nothing happens without one)."""
        if self.can_redo:
            self._move(self._redo[self.current])
        return self.current

    def swap(self) -> int | None:
        """A/B: show the take shown before the current one (nothing happens without one)."""
        if self.can_swap:
            self._move(self.other)
        return self.current

    def show(self, number: int) -> int:
        """Show take `number` (KeyError in words if it is not kept)."""
        self.entry(number)
        if number != self.current:
            self._move(number)
        return number

    def choices(self) -> list[tuple[str, int]]:
        """(label, number) of every take kept, oldest first: 'Take 3 · Regenerate bars 5–6 (from take 2)'."""
        out = []
        for n, e in self.entries.items():
            origin = f" (from take {e.parent})" if e.parent is not None and e.parent != n - 1 else ""
            out.append((f"Take {n}" + (f" · {e.label}" if e.label else "") + origin, n))
        return out

    def _move(self, number: int) -> None:
        if number != self.current:
            self.other, self.current = self.current, number

    def _trim(self) -> None:
        while len(self.entries) > 1 and (len(self.entries) > self.max_takes
                                         or sum(e.hits for e in self.entries.values()) > self.max_hits):
            old = next((n for n in self.entries if n not in (self.current, self.other)), None)
            if old is None:
                break
            del self.entries[old]
            self._redo = {k: v for k, v in self._redo.items() if k in self.entries and v in self.entries}
