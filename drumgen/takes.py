"""Takes: a drum part kept, and what a musician says to keep of it ("bars 5-8 again", "keep the kick").

A take is a drums HVO (T, 27) of a song. Editing is one mechanism in every model:
`generate(groove, ..., keep=take, keep_mask=mask)` with mask (T, 9) True where a cell (hit or rest,
velocity, offset) stays as it is. The helpers here turn what people type or click into masks, so the
command line, the page and the tests build them the same way:

    bars = parse_bars("5-8, 12", n_bars)                 # 0-based bar indices, checked against the song
    mask = keep_mask(n_steps, regenerate=bars, lock=["kick", "snare"])   # new bars 5-8 and 12, kick and snare kept
    value = take_to_json(take); take = take_from_json(value, n_steps)    # the page's and the API's form
    take = take_from_midi("drums.mid", song)                                # a take written as MIDI
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from . import hvo as H
from . import midi
from .control_input import parse_bars, voice_names  # noqa: F401  (parse_bars: bars as musicians type them)

TAKE_FORMAT = 1


def keep_mask(n_steps: int, regenerate: Iterable[int] | None = None, lock: str | Iterable[str] | None = None,
              lock_bars: Iterable[int] | None = None) -> np.ndarray:
    """(n_steps, 9) bool, True = keep the cell. regenerate: 0-based bars that get new drums (None:
    every bar); lock: voices kept as they are (in `lock_bars`, 0-based, or everywhere), even in the
    bars regenerated: "new hats for bars 5-8, keep the kick"."""
    if n_steps % H.STEPS_PER_BAR:
        raise ValueError(f"a take is whole bars of {H.STEPS_PER_BAR} steps, got {n_steps} steps")
    n_bars = n_steps // H.STEPS_PER_BAR
    new_bars = np.ones(n_bars, bool) if regenerate is None else np.isin(np.arange(n_bars), list(regenerate))
    mask = np.repeat(~new_bars, H.STEPS_PER_BAR)[:, None].repeat(H.N_VOICES, axis=1)
    voices = [H.VOICES.index(v) for v in voice_names(lock)]
    if voices:
        locked_bars = np.ones(n_bars, bool) if lock_bars is None else np.isin(np.arange(n_bars), list(lock_bars))
        mask[np.ix_(np.repeat(locked_bars, H.STEPS_PER_BAR), voices)] = True
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
    """The JSON-able value of take_to_json -> a take (T, 27); ValueError in words for anything else,
    and for a take of another length than the song's n_steps."""
    if not isinstance(value, Mapping) or not isinstance(value.get("hits"), list):
        raise ValueError("take: expected {'steps': N, 'hits': [[step, voice, velocity, offset], ...]}")
    steps = value.get("steps")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0 or steps % H.STEPS_PER_BAR \
            or steps > H.MAX_BARS * H.STEPS_PER_BAR:
        raise ValueError(f"take: 'steps' must be a whole number of bars of {H.STEPS_PER_BAR} steps, got {steps!r}")
    if n_steps is not None and steps != n_steps:
        raise ValueError(f"the take is {steps // H.STEPS_PER_BAR} bars long and the song "
                         f"{n_steps // H.STEPS_PER_BAR}: a take belongs to the song it was made for")
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


def _beat_tempos(song: midi.Song) -> list[tuple[float, float]]:
    """A song's tempo map in beats (ticks per beat differ between a song and the file written from it)."""
    tempos = song.tempos or [(0, midi.DEFAULT_BPM)]
    return [(round(tick / song.ticks_per_beat, 4), round(bpm, 3)) for tick, bpm in tempos]


def take_from_midi(source: str | bytes | midi.Song, song: midi.Song, drum_map=None) -> np.ndarray:
    """A drums MIDI file (drumgen's output, or the song + drums file, or any part on channel 10)
    made for `song` -> its take (song.n_steps, 27), its notes read with `drum_map` (a name, a file or
    a drum_maps.DrumMap; default General MIDI). MidiError in words for a file without drums, at
    another tempo, or longer than the song."""
    take_song = source if isinstance(source, midi.Song) else midi.read_song(source)
    if _beat_tempos(take_song) != _beat_tempos(song):
        raise midi.MidiError("The take is at another tempo than the song: use the drums MIDI drumgen made for "
                             "this song (its tempo map is the song's).")
    hvo, _ = midi.song_to_hvo(take_song, drum_map=drum_map)
    if len(hvo) > song.n_steps and hvo[song.n_steps:, H.HITS].any():
        raise midi.MidiError(f"The take is {len(hvo) // H.STEPS_PER_BAR} bars long and the song {song.n_bars}: "
                             "a take belongs to the song it was made for.")
    take = H.empty_hvo(song.n_steps)
    take[: min(len(hvo), song.n_steps)] = hvo[: song.n_steps]
    return take
