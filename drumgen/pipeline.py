"""The one path from a MIDI file to drums, walked by the command line, the page and the tests alike.

    model = load_default_model()                              # drumgen.models.checkpoint: the shipped model
    part = make_drums(model, "groove.mid", controls=ControlSpec(density="0.2-0.9", mute="ride"), seed=3)
    part.hvo, part.drums_midi, part.merged_midi, part.timings  # and part.song, part.groove, part.reading

MIDI (a path, bytes or a read `midi.Song`) -> Song -> groove (all notes, one track or channel) ->
controls for the song's bars -> `model.generate` -> drums HVO -> two MIDI files at the input's tempo
map (the drums alone; the input's own tracks with the drums), written as `export` says (a drum map,
a track per voice, humanize, swing, velocity range: `midi.ExportOptions`). What a caller asks for is read by
`drumgen.control_input` once the song's bars are known (a `ControlSpec` as typed, a `lanes.LaneSpec` as
painted); what only one caller needs (the page's figure and audio, the command line's printout)
stays with that caller.
"""
from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import mido
import numpy as np

from . import controls as C
from . import hvo as H
from . import meter as M
from . import midi
from .control_input import Reading, in_bars
from .recording import read_source


@dataclass
class DrumPart:
    """Everything one walk of the path makes. groove (T, 3), hvo (T, 27); timings: seconds of each
    stage ('read': MIDI -> groove and controls, 'generate', 'write': drums -> MIDI)."""

    song: midi.Song
    groove: np.ndarray
    track: int | None
    reading: Reading
    hvo: np.ndarray
    drums_midi: mido.MidiFile
    timings: dict[str, float] = field(default_factory=dict)
    export: midi.ExportOptions | None = None  # how both MIDI files are written (None: GM, one track, as made)

    @property
    def n_bars(self) -> int:
        return self.song.n_bars

    @property
    def bars(self):
        """The song's bars (meter.Bars): what every per-bar figure of the part counts."""
        return self.song.bars

    @functools.cached_property
    def merged_midi(self) -> mido.MidiFile:
        """The input's own tracks with the drums (made on first use: not every caller wants it)."""
        return midi.hvo_to_midi(self.hvo, self.song, merge=True, options=self.export)


def read_controls(controls: Any, n_bars: int) -> Reading:
    """What a caller asked for, for a song of n_bars: a spec (ControlSpec, LaneSpec: anything with
    `for_song(n_bars)`) is read now; a Reading already made for the song, per-bar controls (a dict
    or Controls, for exactly those bars) or None go to generate as they are."""
    if isinstance(controls, Reading):
        return controls
    if hasattr(controls, "for_song"):
        return controls.for_song(n_bars)
    if controls is not None and not isinstance(controls, (Mapping, C.Controls)):
        raise ValueError(f"controls must be a ControlSpec, a LaneSpec, per-bar controls or None, got {type(controls).__name__}")
    return Reading(controls)


def fill_meters(model: Any) -> set[tuple[int, int]] | None:
    """The meters whose bars a model plays fills in: None for every meter (trained with fills fitted
    to every meter: `augment.fit_fill`), else 4/4 (and 2/2) and those its checkpoint names
    (`fill_meters`: measured to play fills there although trained on 4/4 fills)."""
    config = getattr(model, "config", None)
    if getattr(config, "fills_any_meter", False):
        return None
    return set(M.PLAYED_AS_FOUR_FOUR) | {M.parse_meter(m) for m in getattr(config, "fill_meters", ()) or ()}


def fills_where_played(reading: Reading, bars, model: Any = None) -> Reading:
    """The reading with the fill lane left to the model in the bars of meters it does not play fills
    in (`fill_meters`: the GMD's fill clips are bars of 4/4), and a note naming those where a fill
    was asked."""
    allowed = fill_meters(model)
    if reading.controls is None or bars is None or bars.is_four_four or allowed is None:
        return reading
    controls = C.validate_controls(reading.controls, 1, bars.n_bars)  # every accepted form, checked
    four = M.beat_groups(4, 4)  # a bar the model hears as 4/4 (8/8, 2/2) takes fills as 4/4 does
    odd = np.array([tuple(m) not in allowed and M.beat_groups(*m) != four for m in bars.meters])[None, :]
    if not (np.isfinite(controls.fill) & odd).any():
        return reading
    asked = np.nonzero(((controls.fill > 0.5) & odd).any(axis=0))[0]
    notes = list(reading.notes)
    if len(asked):
        meters = sorted({f"{n}/{d}" for n, d in (bars.meters[b] for b in asked)})
        plays = ", ".join(M.meter_name(m) for m in sorted(allowed - {(2, 2)}, key=lambda m: (m[1], m[0])))
        which = "the fill asked" if len(asked) == 1 else "the fills asked"
        notes.append(f"this model plays fills in bars of {plays} only: "
                     f"{which} {in_bars(asked)} ({', '.join(meters)}) {'is' if len(asked) == 1 else 'are'} "
                     "left to the model")
    fill = np.where(odd, np.nan, controls.fill).astype(np.float32)
    return Reading(C.Controls(controls.density, controls.intensity, controls.instruments, controls.style, fill),
                   notes, reading.lanes)


HEARD_TIMING_KEPT = 0.25  # of a heard onset's offset from its place's median (chosen on validation: audio_figures
# --split validation --heard-timing K: drums F1 clean / noisy 0.701 / 0.656 at 1 (as heard), 0.732 / 0.707 at 0.5,
# 0.732 / 0.720 at 0.25, 0.721 / 0.709 at 0)


def heard_groove(groove: np.ndarray, bars: M.Bars | None = None, kept: float = HEARD_TIMING_KEPT) -> np.ndarray:
    """The groove a model hears from a recording: each onset's offset from its 16th pulled toward the
    median offset of its place in the beat (of the four 16ths of a quarter; of the two of an 8th in bars
    felt in dotted quarters or odd eighths), `kept` of its own deviation left. The feel every beat
    shares (a swing, a laid-back 8th) stays; the rest is mostly the onset detector's and the beat grid's
    own jitter (10-15 ms, as much as a player's), which the model hears as another groove (numbers at
    HEARD_TIMING_KEPT). The drums still play on the heard onsets (make_drums)."""
    out = np.array(groove, np.float32, copy=True)
    try:
        kept = float(kept)
    except (TypeError, ValueError):
        raise ValueError(f"kept must be a number from 0 to 1 (1: the timing as heard), got {kept!r}") from None
    if not 0.0 <= kept <= 1.0:
        raise ValueError(f"kept must be from 0 to 1 (1: the timing as heard), got {kept}")
    if kept == 1.0:
        return out
    bars = M.Bars.covering((4, 4), len(out)) if bars is None else bars
    if bars.n_steps < len(out):  # every step in a bar: the last meter carried on
        bars = bars + M.Bars.covering(bars.meters[-1] if bars.n_bars else (4, 4), len(out) - bars.n_steps)
    straight = np.array([set(M.beat_groups(*m)) == {4} for m in bars.meters])[bars.step_bar[:len(out)]]
    split = np.where(straight, 4, 2)              # a bar's own: a 6/8 bar among 4/4 ones keeps their swing
    place = split * 10 + bars.step_position[:len(out)] % split
    onset = out[:, 0] > 0.5
    for k in np.unique(place[onset]):
        at = onset & (place == k)
        median = float(np.nanmedian(out[at, 2]))
        out[at, 2] = median + kept * (out[at, 2] - median)
    return out


def make_drums(model: Any, source: str | os.PathLike | bytes | midi.Song, track: int | None = None,
               channel: int | None = None, controls: Any = None, keep: np.ndarray | None = None,
               keep_mask: np.ndarray | None = None, export: midi.ExportOptions | None = None,
               **generate_kwargs) -> DrumPart:
    """Read a MIDI file (a path, bytes or a Song already read), make its groove (all notes, or one
    track and/or channel), read the controls for its bars, generate the drums and write them at the
    input's tempo map. keep (T, 27), keep_mask (T, 9): a take of this song and the cells of it to
    keep (`drumgen.takes`). export: how drums_midi and merged_midi are written (`midi.ExportOptions`:
    drum map, a track per voice, humanize, swing, velocity range; None: GM on one track, as made).
    generate_kwargs: seed, temperature, thresholds, max_hits, keep_groove_timing, rest_in_silent_bars
    (see `DrumModel.generate`)."""
    if export is not None and not isinstance(export, midi.ExportOptions):
        raise ValueError(f"export must be midi.ExportOptions or None, got {type(export).__name__}")
    t0 = time.perf_counter()
    song = read_source(source)
    groove = midi.song_to_groove(song, track, channel)
    reading = fills_where_played(read_controls(controls, song.n_bars), song.bars, model)
    t1 = time.perf_counter()
    if keep is not None or keep_mask is not None:
        if keep is None or keep_mask is None:
            raise ValueError("keep and keep_mask go together: the take, and which of its cells to keep")
        generate_kwargs.update(keep=np.asarray(keep)[None], keep_mask=np.asarray(keep_mask)[None])
    if not song.bars.is_four_four:  # a 4/4 song goes as it always did (every model plays it)
        generate_kwargs["bars"] = song.bars
    heard = getattr(song, "recording", None) is not None  # a recording: the model hears its timing steadied
    hvo = model.generate((heard_groove(groove, song.bars) if heard else groove)[None], reading.controls,
                         **generate_kwargs)[0]
    if heard and generate_kwargs.get("keep_groove_timing", True):  # played on the recording's own onsets
        new = np.ones((len(hvo), H.N_VOICES), bool) if keep_mask is None else ~np.asarray(keep_mask, bool)
        cells = (groove[:, :1] > 0.5) & (hvo[:, H.HITS] > 0.5) & new
        hvo = hvo.copy()
        hvo[:, H.OFFSETS] = np.where(cells, groove[:, 2:3], hvo[:, H.OFFSETS])
    t2 = time.perf_counter()
    drums_midi = midi.hvo_to_midi(hvo, song, options=export)
    timings = {"read": t1 - t0, "generate": t2 - t1, "write": time.perf_counter() - t2}
    return DrumPart(song, groove, track, reading, hvo, drums_midi, timings, export)


REGENERATE_TRIES = 4  # a Regenerate with no seed asked for tries this many fresh seeds for bars that change


def regenerate_drums(model: Any, source: str | os.PathLike | bytes | midi.Song, keep: np.ndarray | None,
                     keep_mask: np.ndarray | None, seed: int | None, fresh_seed: Any = None, tries: int = REGENERATE_TRIES,
                     **kwargs) -> tuple[DrumPart, int | None]:
    """make_drums for a Regenerate: (the part, the seed that made it). The model's likeliest bars are
    often the ones it made before (bars 3-4 of a take it made came out as they were for 14% of
    validation windows: `python -m drumgen.edit_figures --follow-kept-bars`), and a Regenerate that
    changes nothing feels broken; so when the new cells come out with the hits the take has there and
    `fresh_seed` (a function giving a new seed) is given, because no seed was asked for, it tries again
    with fresh seeds, up to `tries` in all. A seed asked for is kept: same seed, same drums. No take
    (keep None): make_drums once."""
    if keep is None or keep_mask is None:
        return make_drums(model, source, keep=keep, keep_mask=keep_mask, seed=seed, **kwargs), seed
    new_cells = ~np.asarray(keep_mask, bool)
    if kwargs.get("temperature", 1.0) == 0:  # the most likely drums: the same whatever the seed
        fresh_seed = None
    for attempt in range(max(int(tries), 1) if fresh_seed is not None else 1):
        if attempt:
            seed = fresh_seed()
        part = make_drums(model, source, keep=keep, keep_mask=keep_mask, seed=seed, **kwargs)
        if not new_cells.any() or (part.hvo[..., H.HITS][new_cells] != np.asarray(keep)[..., H.HITS][new_cells]).any():
            break
    return part, seed


def take_part(source: str | os.PathLike | bytes | midi.Song, take: np.ndarray, track: int | None = None,
              channel: int | None = None, export: midi.ExportOptions | None = None) -> DrumPart:
    """A take made elsewhere (edited by hand, sent as JSON) for a MIDI file, written as make_drums
    writes its drums (the same groove, tempo map and MIDI files), with no model: take (T, 27), T the
    song's steps."""
    if export is not None and not isinstance(export, midi.ExportOptions):
        raise ValueError(f"export must be midi.ExportOptions or None, got {type(export).__name__}")
    t0 = time.perf_counter()
    song = read_source(source)
    groove = midi.song_to_groove(song, track, channel)
    take = np.asarray(take, np.float32)
    if take.shape != (groove.shape[0], H.HVO_DIM):
        raise ValueError(f"the take has shape {take.shape}; the song's is ({groove.shape[0]}, {H.HVO_DIM})")
    t1 = time.perf_counter()
    drums_midi = midi.hvo_to_midi(take, song, options=export)
    timings = {"read": t1 - t0, "generate": 0.0, "write": time.perf_counter() - t1}
    return DrumPart(song, groove, track, Reading(None), take, drums_midi, timings, export)
