"""A recording (a riff, a bass take, a strummed guitar, a beatbox) or taps -> the same Song a MIDI file makes.

    hearing = hear("riff.wav")                     # onsets, strengths, beats, tempo, bar 1 (librosa)
    hearing = hear("riff.wav", bpm=96, bar_one=1.25, sensitivity=0.7)   # the musician's corrections
    song = hearing.song                            # one track of onsets, a tempo map from the beats
    song = taps_to_song([(0.0, 0.9), (0.5, 0.6), ...], bpm=100)          # the page's tap pad

From the Song on nothing knows it was audio (the groove, the model, the MIDI writer walk the one path),
except the audio preview: `song.recording` is the Hearing, and the preview mixes the drums with the
recording itself (`previews.mix_with_recording`), delayed to bar 1.

How a recording becomes a Song (the figures: python -m drumgen.audio_figures):
* onsets: the peaks of a small CNN's onset activation over two log-mel resolutions (drumgen.onset_net,
  trained on rendered audio; detect_onsets); the spectral flux before it (flux_onsets) stays for comparison;
* noise: a recording whose onsets barely rise in the spectral flux (a dB rise over 128 mel bands, each
  floored at its own noise floor, so hiss and hum rise nothing; under 1 dB) is refused as noise
  (onset_envelope, sounds_like_noise);
* tempo: librosa's tempogram proposes, the onsets decide: of its usual confusions (1/3 .. 3x) the one
  whose metrical hierarchy (straight or triplet grid, accents on the beats and 8ths) best explains the
  onsets, by weights fitted on train-split grooves (estimate_tempo, audio_tempo); or a typed tempo: a
  steady click;
* beats: librosa's tracker held to that tempo, then a straight line when the tempo is steady, or
  smoothed locally when it drifts, so a drifting take keeps its tempo map (track_beats); against it a
  steady click at that tempo, fine-tuned to the whole take (steady_tempo), and the one of the two that
  puts the onsets nearer its 16ths is kept (grid_fit): the tracker can slip half a beat in a bar of
  syncopation and put every later onset on the wrong 16th, a steady click cannot;
* bar 1: the musician's, or the first onset played at least softly (first_strong_onset) moved onto the
  grid the onsets make (refine_bar_one).
Tick 0 of the Song is bar 1 and each beat is a quarter note (480 ticks): an onset's tick is its place
between the beats around it, so a tempo that drifts becomes a tempo map (one tempo a beat) and each
onset keeps its own timing against the beats (the groove's micro-timing offsets).
"""
from __future__ import annotations

import functools
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mido
import numpy as np

from . import meter as M
from . import midi
from .audio_in import (  # noqa: F401  (the limits and RecordingError are recording's words too)
    ANALYSIS_RATE, AUDIO_FORMATS_SAID, DEFAULT_SENSITIVITY, ENVELOPE_RATE,
    MAX_AUDIO_BYTES, MAX_BPM, MIN_BPM, MAX_SECONDS,
    RecordingError,
    beat_positions,
    decode,
    detect_onsets,
    extend_beats,
    first_strong_onset,
    grid_fit,
    level_envelope,
    load,
    mono,
    onset_envelope,
    onset_velocities,
    parse_bar_one, parse_bpm, parse_meter, parse_sensitivity,
    refine_bar_one,
    resample,
    sounds_like_noise,
    steady_beats,
    track_beats,
)
from .audio_tempo import accents, estimate_tempo, steady_tempo

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3")
TICKS_PER_BEAT = 480
PICKUP_SLACK = 1 / 8         # onsets up to a 32nd before bar 1 count as early hits on beat 1
ONSET_PITCH = 60             # the onsets' note in the Song's MIDI (middle C, any pitch would do)



def looks_like_audio(source: Any) -> bool:
    """Bytes, or a file, that start like an audio file (RIFF, fLaC, OggS, ID3, an MPEG frame), or a path
    with an audio suffix that does not start like MIDI: a recording saved under a wrong name is still one."""
    if isinstance(source, (bytes, bytearray)):
        return _audio_head(bytes(source[:4]))
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as f:
                head = f.read(4)
        except OSError:
            return Path(source).suffix.lower() in AUDIO_SUFFIXES
        return _audio_head(head) or (head != b"MThd" and Path(source).suffix.lower() in AUDIO_SUFFIXES)
    return False


def _audio_head(head: bytes) -> bool:
    return head in (b"RIFF", b"fLaC", b"OggS") or head[:3] == b"ID3" or (
        len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


HEARING_KEYS = ("bpm", "bar_one", "sensitivity", "meter")


def parse_hearing(value: Any) -> dict[str, Any]:
    """The page's or a caller's corrections ({"bpm": 96, "bar_one": 1.2, "sensitivity": 0.6, "meter": "3/4"},
    any of them, None or '' each: found from the music; as JSON text too) -> hear()'s keyword arguments."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError("hearing must be an object like {\"bpm\": 96, \"bar_one\": 1.2, \"sensitivity\": 0.5}") from None
    if not isinstance(value, dict):
        raise ValueError(f"hearing must be an object with {', '.join(HEARING_KEYS)}, got {str(value)[:40]!r}")
    unknown = sorted(set(value) - set(HEARING_KEYS), key=str)
    if unknown:
        raise ValueError(f"unknown hearing setting {str(unknown[0])[:40]!r}; settings: {', '.join(HEARING_KEYS)}")
    said = {"bpm": parse_bpm(value.get("bpm")), "bar_one": parse_bar_one(value.get("bar_one")),
            "sensitivity": parse_sensitivity(value.get("sensitivity")), "meter": parse_meter(value.get("meter"))}
    return said


def read_source(source: Any, hearing: Any = None) -> midi.Song:
    """A Song from what a caller has: a Song as it is, a recording (path or bytes; `hearing` its
    corrections, see parse_hearing) heard, anything else read as MIDI."""
    if isinstance(source, midi.Song):
        return source
    said = parse_hearing(hearing)  # checked for a MIDI file too: a caller's mistake is said, not ignored
    if looks_like_audio(source):
        return hear(source, **said).song
    return midi.read_song(source)


@dataclass
class Hearing:
    """What drumgen heard in a recording: onsets (s) with strengths (0-1), beats (s), tempo, bar 1 (s)."""

    name: str
    duration: float
    sample_rate: int             # the file's own
    channels: int
    onsets: np.ndarray
    strengths: np.ndarray
    beats: np.ndarray            # the beat grid used, bar 1 among them, extended over the whole recording
    bar_one: float
    bpm: float                   # the median tempo over the beats
    meter: tuple[int, int] = (4, 4)
    sensitivity: float = DEFAULT_SENSITIVITY
    tempo_from: str = "beat tracking"  # or "typed" (a tempo the musician gave: a steady click)
    bar_one_from: str = "the first strong onset"
    envelope: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # peak level per 1/ENVELOPE_RATE s
    notes: list[str] = field(default_factory=list)
    path: str | None = None      # where the recording is, for the mix (or `data`)
    data: bytes | None = None
    velocities: np.ndarray | None = None  # 0-1, from each onset's level (None: 0.3 + 0.7 strength)

    @functools.cached_property
    def song(self) -> midi.Song:
        return _song_from_hearing(self)

    @property
    def played_velocities(self) -> np.ndarray:
        """Each onset's groove velocity 0-1: from its level; a Hearing made without: 0.3 + 0.7 strength."""
        v = self.velocities
        return v if v is not None and len(v) == len(self.onsets) else 0.3 + 0.7 * np.asarray(self.strengths)

    @property
    def n_dropped(self) -> int:
        """Onsets before bar 1 (a pickup) that the groove leaves out."""
        return int((self.onset_beats() < -PICKUP_SLACK).sum())

    def onset_beats(self) -> np.ndarray:
        """Each onset's place in beats from bar 1 (0 = bar 1, 1.5 = the 'and' of beat 2)."""
        return beat_positions(self.onsets, self.beats, self.bar_one)

    def describe(self) -> str:
        """One line: what was heard, for the page and the command line."""
        bar_seconds = M.bar_steps(*self.meter) / 4 * 60 / self.bpm
        return (f"heard {len(self.onsets)} onsets in {self.duration:.1f} s; tempo {self.bpm:.1f} BPM "
                f"({self.tempo_from}); bar 1 at {self.bar_one:.2f} s ({self.bar_one_from}); "
                f"{self.meter[0]}/{self.meter[1]}, {bar_seconds:.2f} s a bar")

    def read_samples(self, sample_rate: int) -> np.ndarray:
        """The recording, mono float32 at `sample_rate` (for the mix)."""
        samples, rate = decode(self.data if self.data is not None else self.path)
        return resample(mono(samples), rate, sample_rate)


def hear(source: str | os.PathLike | bytes, bpm: Any = None, bar_one: Any = None, sensitivity: Any = None,
         meter: Any = None, name: str | None = None) -> Hearing:
    """A recording (a path or the file's bytes) -> what drumgen hears in it. bpm: a tempo the musician
    gives (None: beat tracking); bar_one: where bar 1 starts, in seconds (None: the first strong onset,
    the grid set through the onsets near it); sensitivity 0-1: how faint an onset may be and still count. RecordingError
    (a MidiError) for a recording that cannot make a groove, saying why."""
    bpm, bar_one = parse_bpm(bpm), parse_bar_one(bar_one)
    sensitivity, meter = parse_sensitivity(sensitivity), parse_meter(meter)
    if isinstance(source, (bytes, bytearray)):
        data, path = bytes(source), None
        name = name or "recording"
    else:
        data, path = None, os.fspath(source)
        name = name or Path(path).name
    if data is not None:  # not cached: the key and the Hearing would keep the caller's bytes (up to
        # MAX_AUDIO_BYTES each, 16 of them); the page's every event reads a path
        return _hear.__wrapped__(None, data, None, bpm, bar_one, sensitivity, meter, name)
    return _hear(_file_key(path), None, path, bpm, bar_one, sensitivity, meter, name)


def _file_key(path: str) -> tuple:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise RecordingError(f"Cannot open {path}: {exc.strerror or exc}.") from None
    return ("path", path, st.st_ino, st.st_size, st.st_mtime_ns)  # a file replaced at the path is heard again


@functools.lru_cache(maxsize=16)
def _hear(key: tuple, data: bytes | None, path: str | None, bpm: float | None, bar_one: float | None,
          sensitivity: float, meter: tuple[int, int], name: str) -> Hearing:
    """hear(), cached: a page's every event reads the same upload again (a Hearing is small: no samples)."""
    samples, rate, info = load(data, path)
    notes = list(info["notes"])
    y = resample(mono(samples), rate, ANALYSIS_RATE)
    del samples
    duration = len(y) / ANALYSIS_RATE
    envelope = level_envelope(y, ANALYSIS_RATE)
    env = onset_envelope(y, ANALYSIS_RATE)
    onsets, strengths = detect_onsets(y, ANALYSIS_RATE, sensitivity, env=env)
    if len(onsets) >= 2 and sounds_like_noise(env, onsets, ANALYSIS_RATE):
        raise RecordingError(f"drumgen heard no onsets that start clearly in this recording ({duration:.1f} s): "
                             "this sounds like noise, a hum or a held sound. Record notes that start clearly "
                             "(plucked, struck, strummed), closer to the microphone.")
    if len(onsets) < 2:
        raise RecordingError(f"drumgen heard {'no onsets' if not len(onsets) else 'only one onset'} in this "
                             f"recording ({duration:.1f} s): nothing rhythmic to follow. Record notes that start "
                             "clearly (plucked, struck, strummed), or raise the sensitivity.")
    if bar_one is not None and bar_one >= duration:
        raise RecordingError(f"Bar 1 at {bar_one:.2f} s is past the end of the recording ({duration:.2f} s).")
    if bpm is None:
        found = estimate_tempo(env, onsets, ANALYSIS_RATE, accents(onsets, envelope, ENVELOPE_RATE))
        beats, tempo_from = track_beats(y, ANALYSIS_RATE, env=env, bpm=found,
                                                span=(float(onsets[0]), float(onsets[-1]))), "beat tracking"
        if len(beats) < 2:
            raise RecordingError("drumgen could not hear a beat in this recording. Type its tempo (BPM) "
                                 "and where bar 1 starts, or tap the tempo.")
    else:
        beats, tempo_from = None, "typed"
    velocities = onset_velocities(y, ANALYSIS_RATE, onsets)
    anchor = first_strong_onset(onsets, velocities) if bar_one is None else bar_one
    if beats is None:  # a steady click from bar 1 at the tempo given
        period = 60.0 / bpm
        beats = anchor + period * np.arange(-np.floor(anchor / period) - 1, (duration - anchor) / period + 2)
        bar_one_at = anchor if bar_one is not None else refine_bar_one(anchor, onsets, beats)
    else:  # bar 1 need not be a tracked beat: the grid follows the beats' tempo, its phase bar 1's
        beats = extend_beats(beats, duration)
        bar_one_at = anchor if bar_one is not None else refine_bar_one(anchor, onsets, beats)
        steady = steady_beats(anchor, steady_tempo(onsets, strengths, found), duration)
        steady_one = anchor if bar_one is not None else refine_bar_one(anchor, onsets, steady)
        if grid_fit(onsets, strengths, steady, steady_one) > grid_fit(onsets, strengths, beats, bar_one_at):
            beats, bar_one_at = steady, steady_one
    intervals = np.diff(beats[(beats >= bar_one_at - 1e-9) & (beats <= duration + 1e-9)])
    tempo = float(60.0 / np.median(intervals)) if len(intervals) else float(60.0 / np.median(np.diff(beats)))
    bar_seconds = M.bar_steps(*meter) / 4 * 60.0 / tempo
    if duration - bar_one_at < bar_seconds * 0.75:
        raise RecordingError(f"This recording holds {duration - bar_one_at:.1f} s from bar 1, less than one bar "
                             f"of {meter[0]}/{meter[1]} at {tempo:.0f} BPM ({bar_seconds:.1f} s). Record at least a bar "
                             "(two or more give the drums something to follow).")
    hearing = Hearing(name=name, duration=duration, sample_rate=rate, channels=info["channels"], onsets=onsets,
                      strengths=strengths, beats=beats, bar_one=bar_one_at, bpm=tempo, meter=meter,
                      sensitivity=sensitivity, tempo_from=tempo_from,
                      bar_one_from="as given" if bar_one is not None else "the first strong onset",
                      envelope=envelope, notes=notes, path=path, data=data,
                      velocities=velocities)
    playing = hearing.onset_beats() >= -PICKUP_SLACK
    if not playing.any():
        raise RecordingError(f"No onset falls after bar 1 ({bar_one_at:.2f} s): move bar 1 earlier.")
    if hearing.n_dropped:
        notes.append(f"{midi_plural(hearing.n_dropped, 'onset')} before bar 1 ({bar_one_at:.2f} s) left out: "
                     "move bar 1 earlier to keep them")
    return hearing


def midi_plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# --- a Song -----------------------------------------------------------------------------------------

def _song_from_hearing(h: Hearing) -> midi.Song:
    positions = h.onset_beats()
    keep = positions >= -PICKUP_SLACK
    velocities = np.clip(np.round(127 * h.played_velocities[keep]), 1, 127).astype(np.int64)
    ticks = np.maximum(np.round(positions[keep] * TICKS_PER_BEAT), 0).astype(np.int64)
    index = np.arange(len(h.beats), dtype=np.float64)
    zero = float(np.interp(h.bar_one, h.beats, index))
    # one tempo a beat, from the beat at or before bar 1 (tick 0 plays at the tempo of the beat it falls in,
    # not the next one's: else every later tick is off by the difference); a beat's event at a tick
    # another already holds (bar 1 a hair before a beat) replaces it, as a player would apply the later
    tempos: list[tuple[int, float]] = []
    for k in range(max(0, min(int(np.floor(zero + 1e-9)), len(h.beats) - 2)), len(h.beats) - 1):
        tick = max(0, int(round((k - zero) * TICKS_PER_BEAT)))
        bpm = float(np.clip(60.0 / (h.beats[k + 1] - h.beats[k]), MIN_BPM / 2, MAX_BPM * 2))
        if tempos and tempos[-1][0] == tick:
            tempos.pop()
        if not tempos or abs(tempos[-1][1] - bpm) > 1e-3:
            tempos.append((tick, bpm))
    if not tempos:
        tempos = [(0, h.bpm)]
    track_name = f"onsets heard in {h.name}"
    return song_from_onsets(ticks, velocities, tempos, h.meter, track_name, recording=h)


def song_from_onsets(ticks: np.ndarray, velocities: np.ndarray, tempos: list[tuple[int, float]],
                     meter: tuple[int, int], track_name: str, recording: Any = None) -> midi.Song:
    """A Song of one track of onsets (MIDI velocities) at ticks of TICKS_PER_BEAT, its MIDI file as source."""
    order = np.argsort(ticks, kind="stable")
    ticks, velocities = np.asarray(ticks, np.int64)[order], np.asarray(velocities, np.int64)[order]
    notes = np.zeros((len(ticks), 5), np.int64)
    notes[:, 2], notes[:, 3], notes[:, 4] = ONSET_PITCH, velocities, ticks
    meters = [(0, int(meter[0]), int(meter[1]))]
    # each tempo as its MIDI file holds it (whole microseconds a beat): the Song is then the one its file reads
    # as, so a take's drums MIDI, written and read back, is at this Song's tempo (takes compare them)
    tempos = [(int(t), float(mido.tempo2bpm(mido.bpm2tempo(b)))) for t, b in tempos]
    source = _onsets_midi(ticks, velocities, tempos, meters, track_name)
    tracks = [midi.Track(0, "tempo", (), 0, False), midi.Track(1, track_name, (0,), len(ticks), False)]
    notes[:, 0] = 1
    song = midi.Song(TICKS_PER_BEAT, notes, list(tempos), meters, tracks, source)
    song.recording = recording
    song.bars  # noqa: B018  (laid out now, as read_song does: over MAX_BARS is said at once)
    return song


def _onsets_midi(ticks, velocities, tempos, meters, track_name) -> mido.MidiFile:
    out = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    events = [(t, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(b))) for t, b in tempos]
    events += [(t, mido.MetaMessage("time_signature", numerator=n, denominator=d)) for t, n, d in meters]
    out.tracks.append(midi._track_from_events("tempo", events))
    length = TICKS_PER_BEAT // 8  # a 32nd: onsets are moments, not notes
    notes = []
    for tick, velocity in zip(ticks.tolist(), velocities.tolist()):
        notes.append((tick, mido.Message("note_on", channel=0, note=ONSET_PITCH, velocity=int(velocity))))
        notes.append((tick + length, mido.Message("note_off", channel=0, note=ONSET_PITCH, velocity=0)))
    out.tracks.append(midi._track_from_events(track_name, notes))
    return out


def taps_to_song(taps: Any, bpm: Any, meter: Any = None, bar_one: Any = 0.0) -> midi.Song:
    """Taps [(seconds, velocity 0-1), ...] against a click at `bpm` from `bar_one` s -> a Song whose groove
    keeps each tap's own timing against the click."""
    bpm = parse_bpm(bpm)
    if bpm is None:
        raise ValueError("the tap pad needs the tempo of its click (BPM)")
    meter, start = parse_meter(meter), parse_bar_one(bar_one) or 0.0
    rows = _read_taps(taps)
    beats = (rows[:, 0] - start) * bpm / 60.0
    keep = beats >= -PICKUP_SLACK
    if not keep.any():
        raise ValueError("no tap falls after bar 1: tap after the count-in")
    ticks = np.maximum(np.round(beats[keep] * TICKS_PER_BEAT), 0).astype(np.int64)
    velocities = np.clip(np.round(rows[keep, 1] * 127), 1, 127).astype(np.int64)
    return song_from_onsets(ticks, velocities, [(0, bpm)], meter, "taps")


MAX_TAPS = 20000


def _read_taps(taps: Any) -> np.ndarray:
    """[(seconds, velocity)] or [{"t": s, "v": velocity}] -> (n, 2) float rows; ValueError with a sentence."""
    if isinstance(taps, str):
        import json

        try:
            taps = json.loads(taps) if taps.strip() else []
        except ValueError:
            raise ValueError("taps must be a list of [seconds, velocity] pairs") from None
    if isinstance(taps, dict):
        taps = taps.get("taps", [])
    if not isinstance(taps, (list, tuple)) or not taps:
        raise ValueError("no taps: tap the pad (or keys) along with the click first")
    if len(taps) > MAX_TAPS:
        raise ValueError(f"too many taps ({len(taps)}); the pad takes up to {MAX_TAPS}")
    rows = []
    for tap in taps:
        if isinstance(tap, dict):
            tap = (tap.get("t"), tap.get("v", 0.8))
        try:
            t, v = float(tap[0]), float(tap[1])
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"a tap must be [seconds, velocity], got {str(tap)[:40]!r}") from None
        if not np.isfinite(t) or t < 0 or t > MAX_SECONDS:
            raise ValueError(f"a tap's time must be from 0 to {MAX_SECONDS:g} s, got {t!r}")
        if not np.isfinite(v):
            raise ValueError(f"a tap's velocity must be a number from 0 to 1, got {v!r}")
        rows.append((t, min(max(v, 0.0), 1.0)))
    return np.array(rows, np.float64)
