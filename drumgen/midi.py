"""MIDI in and out: any file -> Song -> drums HVO or groove; HVO -> drum MIDI at the input's tempo.

Everything is placed on the grid from MIDI ticks, so tempo and tempo changes do not move notes
between steps. Errors a user can cause (a broken file, no notes, an unsupported meter) raise
MidiError with a message meant for a musician.
"""
from __future__ import annotations

import io
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import mido
import numpy as np

from . import drum_maps
from . import hvo as H
from . import meter as M

log = logging.getLogger(__name__)

DRUM_CHANNEL = 9  # General MIDI channel 10
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_BARS = H.MAX_BARS
DEFAULT_BPM = 120.0
OUTPUT_TICKS_PER_BEAT = 480  # the least resolution written, so offsets survive
DRUM_TRACK_WORDS = ("drum", "perc", "kit", "beat")
DRUMS_TRACK_NAME = drum_maps.DRUMS_TRACK_NAME
ExportOptions = drum_maps.ExportOptions  # how the drums are written: drum map, tracks, timing, dynamics
DEFAULT_EXPORT = drum_maps.DEFAULT_EXPORT
SWING_GRIDS = drum_maps.SWING_GRIDS


class MidiError(ValueError):
    """A MIDI file drumgen cannot use, with a message that says why in plain words."""


@dataclass
class Track:
    index: int
    name: str
    channels: tuple[int, ...]
    n_notes: int
    is_drum: bool

    def describe(self) -> str:
        kind = "drums" if self.is_drum else "notes"
        name = self.name or "(unnamed)"
        return f"track {self.index}: {name} — {self.n_notes} {kind}"


@dataclass
class Song:
    """Onsets of a MIDI file with its timing; notes are (track, channel, pitch, velocity, tick) rows."""

    ticks_per_beat: int
    notes: np.ndarray
    tempos: list[tuple[int, float]] = field(default_factory=list)  # (tick, bpm)
    time_signatures: list[tuple[int, int, int]] = field(default_factory=list)  # (tick, num, den)
    tracks: list[Track] = field(default_factory=list)
    source: mido.MidiFile | None = None
    recording: Any = None  # a recording.Hearing when the song was heard in audio (the preview mixes it in)

    @property
    def bpm(self) -> float:
        return self.tempos[0][1] if self.tempos else DEFAULT_BPM

    @cached_property
    def bars(self) -> M.Bars:
        """The song's bars from its meter map (4/4 where none is given), up to the bar of its last note.
        MidiError for a meter drumgen does not play or a meter change away from a bar line, naming the bar."""
        return song_bars(self)

    @property
    def n_bars(self) -> int:
        return self.bars.n_bars

    @property
    def n_steps(self) -> int:
        return self.bars.n_steps

    @property
    def meter_label(self) -> str:
        """'3/4', or '4/4 (bars 1–8), 3/4 (bars 9–16)': what the page and the command line say they read."""
        return self.bars.label() if self.n_bars else "4/4"

    def select(self, track: int | None = None, channel: int | None = None, drums_only: bool = False) -> np.ndarray:
        """Note rows of one track and/or one MIDI channel (1-16, as musicians count them), or all."""
        rows = self.notes
        if track is not None:
            known = [t.index for t in self.tracks if t.n_notes]
            if track not in known:
                raise MidiError(f"There is no track {track} with notes in this file; tracks with notes: {known}.")
            rows = rows[rows[:, 0] == track]
        if channel is not None:
            known = sorted({int(c) + 1 for c in self.notes[:, 1]})
            if channel not in known:
                raise MidiError(f"There are no notes on channel {channel}; channels with notes: {known}.")
            rows = rows[rows[:, 1] == channel - 1]
            if track is not None and len(rows) == 0:  # both exist, but not together
                theirs = sorted({int(c) + 1 for c in self.notes[self.notes[:, 0] == track, 1]})
                raise MidiError(f"Track {track} has no notes on channel {channel}; its notes are on channels {theirs}.")
        if drums_only:
            rows = rows[rows[:, 1] == DRUM_CHANNEL]
        return rows

    def drum_track_by_name(self) -> int | None:
        """A track named like drums, for files that put drums on another channel than 10."""
        for t in self.tracks:
            if t.n_notes and any(word in t.name.lower() for word in DRUM_TRACK_WORDS):
                return t.index
        return None


def read_song(source: str | os.PathLike | bytes) -> Song:
    """Read a MIDI file (path or bytes). Raises MidiError for anything that is not usable MIDI."""
    data = _read_bytes(source)
    try:
        mid = mido.MidiFile(file=io.BytesIO(data), clip=True)
    except Exception as exc:  # mido raises many kinds on broken data
        long = re.search(r"Message length (\d+) exceeds maximum length (\d+)", str(exc))
        if long:  # a valid file with one huge message (a sysex dump): mido reads messages up to 1 MB
            raise MidiError(f"This file holds one message of {int(long[1]) / 1e6:.1f} MB (a system-exclusive "
                            f"dump); drumgen reads messages up to {int(long[2]) / 1e6:.0f} MB. Save the file "
                            "without it (most DAWs drop sysex when exporting MIDI).") from None
        raise MidiError(f"This is not a readable MIDI file ({type(exc).__name__}: {str(exc)[:200]}).") from None
    if mid.type == 2:
        raise MidiError("MIDI type 2 (independent sequences) is not supported; save it as type 0 or 1.")
    tpb = mid.ticks_per_beat
    if not isinstance(tpb, int) or tpb <= 0 or tpb > 32767:
        raise MidiError(f"This file uses SMPTE or an invalid time division ({tpb}); save it with ticks per beat.")

    notes, tempos, meters, tracks = [], [], [], []
    for index, track in enumerate(mid.tracks):
        tick, name, channels, n_notes, n_drum = 0, "", set(), 0, 0
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                notes.append((index, msg.channel, msg.note, msg.velocity, tick))
                channels.add(msg.channel)
                n_notes += 1
                n_drum += msg.channel == DRUM_CHANNEL
            elif msg.type == "set_tempo" and msg.tempo > 0:  # a zero tempo is corrupt: ignored
                tempos.append((tick, float(mido.tempo2bpm(msg.tempo))))
            elif msg.type == "time_signature":
                meters.append((tick, msg.numerator, msg.denominator))
            elif msg.type == "track_name" and not name:
                name = msg.name.strip()
        tracks.append(Track(index, name, tuple(sorted(channels)), n_notes, n_notes > 0 and n_drum == n_notes))
    array = np.array(notes, dtype=np.int64).reshape(-1, 5)
    array = array[np.argsort(array[:, 4], kind="stable")]
    song = Song(tpb, array, _in_force(tempos), _in_force(meters), tracks, mid)
    song.bars  # noqa: B018  (laid out now: a meter drumgen cannot play, or over MAX_BARS bars, is said at once)
    return song


def _in_force(events: list[tuple]) -> list[tuple]:
    """(tick, ...) events in file order -> by tick, one per tick: the last in the file, as a player applies them.

    Sorting the tuples would break a tie by value (120 then 90 BPM at tick 0 read as 90 but written 120
    after 90); players (mido too) merge tracks stably, so the later track, or the later event in a track, is in force."""
    last = {}
    for event in events:  # collected track by track in file order: later ones overwrite
        last[event[0]] = event
    return [last[tick] for tick in sorted(last)]


def _read_bytes(source: str | os.PathLike | bytes) -> bytes:
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        try:
            size = os.path.getsize(source)
        except OSError as exc:
            raise MidiError(f"Cannot open {source}: {exc.strerror or exc}.") from None
        if size > MAX_FILE_BYTES:
            raise MidiError(f"This file is {size / 1e6:.1f} MB; drumgen takes MIDI files up to {MAX_FILE_BYTES // 2**20} MB.")
        with open(source, "rb") as f:
            data = f.read()
    if len(data) == 0:
        raise MidiError("The file is empty.")
    if len(data) > MAX_FILE_BYTES:
        raise MidiError(f"This file is {len(data) / 1e6:.1f} MB; drumgen takes MIDI files up to {MAX_FILE_BYTES // 2**20} MB.")
    if data[:4] in (b"RIFF", b"fLaC", b"OggS") or data[:3] == b"ID3":
        raise MidiError("This looks like an audio file, not MIDI: read it with drumgen.recording.hear "
                        "(the page and the command line take recordings as they are).")
    if data[:4] != b"MThd":
        raise MidiError("This is not a MIDI file (it does not start with the MIDI header 'MThd').")
    return data


def song_bars(song: Song) -> M.Bars:
    """Bars from the meter events in force (the last one at a tick wins, as a player has it), laid out
    from tick 0 to the bar holding the last note; 4/4 until a first event after tick 0. Every meter
    event up to the last note must fall on a bar line of the meter before it."""
    if not len(song.notes):
        return M.Bars(())
    tpb = song.ticks_per_beat
    last_step = int(H.tick_to_step(song.notes[:, 4].max(), tpb)[0])
    events = [e for e in song.time_signatures if H.tick_to_step(e[0], tpb)[0] <= last_step] or [(0, 4, 4)]
    if events[0][0] > 0:
        events = [(0, 4, 4)] + events
    meters: list[tuple[int, int]] = []
    step = 0
    for k, (tick, num, den) in enumerate(events):
        position = tick * H.STEPS_PER_BEAT / tpb
        if k and abs(position - step) >= 0.5:  # the bars so far end at `step`: this one is inside the last
            # (within half a sixteenth of the bar line it is on it, as a note there is on its step)
            raise MidiError(f"The meter changes to {num}/{den} in the middle of bar {len(meters)} (at beat "
                            f"{1 + (position - (step - M.bar_steps(*meters[-1]))) / H.STEPS_PER_BEAT:g} of it); "
                            "drumgen needs meter changes on bar lines. Move the time signature to a bar line.")
        try:
            meter = M.check_meter(num, den, where=f"from bar {len(meters) + 1}")
        except ValueError as exc:
            raise MidiError(f"This file is in {exc}.") from None
        stop = events[k + 1][0] * H.STEPS_PER_BEAT / tpb if k + 1 < len(events) else last_step + 1
        while step < stop - 0.5:
            if len(meters) >= MAX_BARS:
                raise MidiError(f"This file is over {MAX_BARS} bars long; drumgen takes at most {MAX_BARS} bars. "
                                "Cut it shorter.")
            meters.append(meter)
            step += M.bar_steps(*meter)
    return M.Bars(tuple(meters))


def check_meter(song: Song) -> None:
    """A meter map drumgen can play, or MidiError naming the meter and its bar (Song.bars does the work)."""
    song.bars  # noqa: B018


def song_to_hvo(song: Song, track: int | None = None,
                drum_map: drum_maps.DrumMap | str | None = None) -> tuple[np.ndarray, Counter]:
    """Drum notes -> HVO (T, 27), plus a count of the drum pitches no voice takes.

    The drums are the chosen track's notes; else those on GM channel 10; else a track named
    like drums ("Drums", "Percussion", ...). Pitches are read as General MIDI (hvo.PITCH_TO_VOICE),
    or with `drum_map` (a name, file or DrumMap: `drum_maps.resolve`) for a take written with one."""
    if track is None and not len(song.select(drums_only=True)):
        track = song.drum_track_by_name()
    rows = song.select(track, drums_only=track is None)
    if len(rows) == 0:
        raise MidiError("No drum notes found (drums are expected on MIDI channel 10, or choose a track).")
    pitch_to_voice = H.PITCH_TO_VOICE if drum_map is None else drum_maps.resolve(drum_map).pitch_to_voice()
    voice = np.array([pitch_to_voice.get(int(p), -1) for p in rows[:, 2]], dtype=np.int64)
    unmapped = Counter(int(p) for p in rows[voice < 0, 2])
    if unmapped:
        log.info("unmapped drum pitches (not used): %s", dict(unmapped))
    rows, voice = rows[voice >= 0], voice[voice >= 0]
    steps, offsets = H.tick_to_step(rows[:, 4], song.ticks_per_beat)
    hvo = H.place_onsets(song.n_steps, steps, offsets, rows[:, 3] / 127.0, voice, H.N_VOICES)
    return hvo, unmapped


def song_to_groove(song: Song, track: int | None = None, channel: int | None = None) -> np.ndarray:
    """Any notes (all, or one track and/or channel) -> monotonic groove (T, 3): the loudest onset of each step."""
    check_meter(song)
    rows = song.select(track, channel)
    if len(rows) == 0:
        raise MidiError("The file has no notes to make a groove from.")
    steps, offsets = H.tick_to_step(rows[:, 4], song.ticks_per_beat)
    return H.place_onsets(song.n_steps, steps, offsets, rows[:, 3] / 127.0, np.zeros(len(rows), np.int64), 1)


def hvo_to_midi(hvo: np.ndarray, song: Song | None = None, bpm: float | None = None,
                merge: bool = False, note_steps: float = 0.5, options: ExportOptions | None = None) -> mido.MidiFile:
    """HVO (T, 27) -> a MIDI file with the drums on channel 10, written as `options` say (ExportOptions:
    drum map, one track or one per voice, humanize, swing, velocity range; None: the defaults, GM on
    one track "drumgen drums", as generated).

    With `song`, the output keeps its tempo map and meter (and, with merge=True, all its tracks),
    so the drums line up with the original: a tick sounds at the same second in both files. Its ticks
    per beat are kept too, or multiplied up to at least 480 so micro-timing fits (a 24-tick file cannot
    hold a 16th's offsets); the times of every copied event are scaled by the same whole factor.
    Without a song: one tempo, `bpm` or 120.

    merge=True copies every input track as it is, its own drums (channel 10) included, so nothing is
    lost; the new drums come last, in their own track(s), to mute or keep. For the new drums alone,
    use the default (merge=False) output.
    """
    options = DEFAULT_EXPORT if options is None else options
    if not isinstance(options, ExportOptions):
        raise ValueError(f"options must be midi.ExportOptions, got {type(options).__name__}")
    hvo = np.asarray(hvo, dtype=np.float32)
    if hvo.ndim != 2 or hvo.shape[1] != H.HVO_DIM:
        raise ValueError(f"hvo must have shape (T, 27), got {hvo.shape}")
    source_tpb = song.ticks_per_beat if song is not None else OUTPUT_TICKS_PER_BEAT
    scale = -(-OUTPUT_TICKS_PER_BEAT // source_tpb)  # 1 when the source is fine enough
    tpb = source_tpb * scale
    out = mido.MidiFile(type=1, ticks_per_beat=tpb)
    if song is not None and merge and song.source is not None:
        out.tracks.extend(mido.MidiTrack(msg.copy(time=msg.time * scale) for msg in t) for t in song.source.tracks)
    else:
        tempos = song.tempos if song is not None and song.tempos else [(0, bpm or DEFAULT_BPM)]
        meters = song.time_signatures if song is not None and song.time_signatures else [(0, 4, 4)]
        events = [(t * scale, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(b))) for t, b in tempos]
        events += [(t * scale, mido.MetaMessage("time_signature", numerator=n, denominator=d)) for t, n, d in meters]
        out.tracks.append(_track_from_events("tempo", events))
    notes = _drum_events(hvo, tpb, note_steps, options)
    if options.per_voice_tracks:
        for index, voice in enumerate(H.VOICES):
            mine = [(tick, msg) for v, tick, msg in notes if v == index]
            out.tracks.append(_track_from_events(H.VOICE_LABELS[voice], mine))
    else:
        out.tracks.append(_track_from_events(options.track_name, [(tick, msg) for _, tick, msg in notes]))
    return out


def _drum_events(hvo: np.ndarray, tpb: int, note_steps: float,
                 options: ExportOptions = DEFAULT_EXPORT) -> list[tuple[int, int, mido.Message]]:
    """(voice, tick, message) note on/off pairs; a note ends before the next hit of its own voice (of its own
    pitch, where a map gives voices one note), so none overlap.

    Offsets are clipped to half a step, so a voice's notes stay in step order (then scaled by humanize,
    then swung); two hits of a voice that land on one tick (a late 16th and an early next one) are
    written as one note at the louder velocity, not as two note-ons of which the first's release
    would cut the second."""
    hits, velocities, offsets = H.split_hvo(hvo)
    voices, steps = np.nonzero(hits.T > 0.5)  # sorted by voice, then time
    shift = np.clip(offsets[steps, voices], -0.5, 0.5)
    if options.humanize != 1.0:
        shift = shift * np.float32(options.humanize)
    if options.swing:
        pair = SWING_GRIDS[options.swing_grid]
        shift = shift + np.where(steps % pair == pair // 2, options.swing * pair / 6, 0.0)
    starts = np.maximum(H.step_to_tick(steps, shift, tpb, own_step=not options.swing), 0)
    pitches = options.drum_map.output_pitches
    # A lane is one sounding note: a voice, or a pitch that a map gives several voices (two toms on one pad).
    lanes = np.asarray(pitches, np.int64)[voices] if len(set(pitches)) < H.N_VOICES else voices
    if options.swing or lanes is not voices:  # a swung 8th may pass the 16th after it: each lane in time order
        order = np.lexsort((starts, lanes))
        voices, steps, starts, lanes = voices[order], steps[order], starts[order], lanes[order]
    velocity_of = velocities[steps, voices].astype(np.float64)
    same_tick = np.zeros(len(voices), bool)  # the next note is of the same lane, on the same tick
    same_tick[:-1] = (lanes[1:] == lanes[:-1]) & (starts[1:] == starts[:-1])
    for i in np.nonzero(same_tick)[0]:  # in order, so three on one tick end in the last, the loudest
        velocity_of[i + 1] = max(velocity_of[i], velocity_of[i + 1])
    keep = ~same_tick
    voices, starts, velocity_of, lanes = voices[keep], starts[keep], velocity_of[keep], lanes[keep]
    length = max(1, int(round(note_steps * tpb / H.STEPS_PER_BEAT)))
    following = np.append(starts[1:], np.iinfo(np.int64).max)
    same_lane = np.append(lanes[1:] == lanes[:-1], False)
    ends = starts + np.where(same_lane, np.clip(following - starts, 1, length), length)
    levels = _velocity_levels(velocity_of * 127, options.velocity_range)
    events = []
    for start, end, voice, level in zip(starts, ends, voices, levels):
        pitch = pitches[voice]
        velocity = int(np.clip(round(level), 1, 127))
        events.append((int(voice), int(start), mido.Message("note_on", channel=DRUM_CHANNEL, note=pitch, velocity=velocity)))
        events.append((int(voice), int(end), mido.Message("note_off", channel=DRUM_CHANNEL, note=pitch, velocity=0)))
    return events


def _velocity_levels(levels: np.ndarray, velocity_range: tuple[int, int] | None) -> np.ndarray:
    """MIDI velocities (floats) mapped so the softest is `low` and the loudest `high` (see ExportOptions)."""
    if velocity_range is None or len(levels) == 0:
        return levels
    low, high = velocity_range
    softest, loudest = levels.min(), levels.max()
    if loudest - softest < 1e-9:
        return np.clip(levels, low, high)
    return low + (levels - softest) * (high - low) / (loudest - softest)


def _track_from_events(name: str, events: list[tuple[int, mido.Message]]) -> mido.MidiTrack:
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=name)])
    # note_off before note_on at one tick, so a repeated note is not cut by its own release.
    events = sorted(events, key=lambda e: (e[0], e[1].type != "note_off"))
    now = 0
    for tick, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def write_midi(midi: mido.MidiFile, path: str | os.PathLike) -> None:
    midi.save(os.fspath(path))


def midi_to_bytes(midi: mido.MidiFile) -> bytes:
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()
