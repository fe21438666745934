"""A recording (a riff, a bass take, a strummed guitar, a beatbox) or taps -> the same Song a MIDI file makes.

    hearing = hear("riff.wav")                     # onsets, strengths, beats, tempo, bar 1 (librosa)
    hearing = hear("riff.wav", bpm=96, bar_one=1.25, sensitivity=0.7)   # the musician's corrections
    song = hearing.song                            # one track of onsets, a tempo map from the beats
    song = taps_to_song([(0.0, 0.9), (0.5, 0.6), ...], bpm=100)          # the page's tap pad

From the Song on nothing knows it was audio (the groove, the model, the MIDI writer walk the one path),
except the audio preview: `song.recording` is the Hearing, and the preview mixes the drums with the
recording itself (`audio.mix_with_recording`), delayed to bar 1.

How a recording becomes a Song (the figures: python -m drumgen.audio_figures):
* onsets: a spectral flux in dB over 128 mel bands, each band floored at its own noise floor (so hiss and
  hum rise nothing), peaks that rise clearly out of their own trough (a soft note after a loud one
  counts), backtracked to where each attack starts (onset_envelope, detect_onsets);
* noise: a recording whose onsets barely rise (under 1 dB) is refused as noise (sounds_like_noise);
* tempo: librosa's tempogram proposes, the onsets decide: of its usual confusions (1/3 .. 3x) the one
  whose 16th grid best explains the onsets, with a mild prior at 120 BPM (estimate_tempo); or a typed
  tempo: a steady click;
* beats: librosa's tracker held to that tempo, then a straight line when the tempo is steady, or
  smoothed locally when it drifts, so a drifting take keeps its tempo map (track_beats);
* bar 1: the musician's, or the first strong onset moved onto the grid the onsets make (refine_bar_one).
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

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3")
AUDIO_FORMATS_SAID = "WAV, FLAC, OGG or MP3"
MAX_SECONDS = 600.0          # 10 minutes: longer recordings are refused before they are decoded
MAX_AUDIO_BYTES = 200 * 2**20
MIN_SECONDS = 1.0
ANALYSIS_RATE = 22050
HOP = 256                    # ~11.6 ms a frame at 22050 Hz: onsets to within half of that
TICKS_PER_BEAT = 480
MIN_BPM, MAX_BPM = 30.0, 300.0
SILENT_PEAK = 10 ** (-70 / 20)   # a peak under -70 dBFS is silence
CLIP_LEVEL = 0.999
CLIP_SHARE = 0.001           # more samples than this at full scale: the recording clips
PICKUP_SLACK = 1 / 8         # onsets up to a 32nd before bar 1 count as early hits on beat 1
DEFAULT_SENSITIVITY = 0.5
ONSET_PITCH = 60             # the onsets' note in the Song's MIDI (middle C, any pitch would do)
ENVELOPE_RATE = 200          # points a second of the level kept for the page's picture


class RecordingError(midi.MidiError):
    """A recording drumgen cannot use, with a message that says why (shown as a MidiError is)."""


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
    unknown = sorted(set(value) - set(HEARING_KEYS))
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
    if looks_like_audio(source):
        return hear(source, **parse_hearing(hearing)).song
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

    @functools.cached_property
    def song(self) -> midi.Song:
        return _song_from_hearing(self)

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
        samples, rate = _decode(self.data if self.data is not None else self.path)
        return _resample(_mono(samples), rate, sample_rate)


def parse_sensitivity(value: Any) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_SENSITIVITY
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"sensitivity must be a number from 0 to 1, got {str(value)[:40]!r}") from None
    if not np.isfinite(x) or not 0.0 <= x <= 1.0:
        raise ValueError(f"sensitivity must be a number from 0 to 1, got {value!r}")
    return x


def parse_bpm(value: Any) -> float | None:
    """None / '' / 0 -> None (detect it); a tempo from MIN_BPM to MAX_BPM; ValueError otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, (int, float)) and value == 0):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"tempo must be a number of BPM, got {str(value)[:40]!r}") from None
    if not np.isfinite(x) or not MIN_BPM <= x <= MAX_BPM:
        raise ValueError(f"tempo must be from {MIN_BPM:g} to {MAX_BPM:g} BPM, got {value!r}")
    return x


def parse_bar_one(value: Any) -> float | None:
    """None / '' -> None (found from the music); seconds from the start (0 or more)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"bar 1 must be a time in seconds, got {str(value)[:40]!r}") from None
    if not np.isfinite(x) or x < 0:
        raise ValueError(f"bar 1 must be a time in seconds from the start (0 or more), got {value!r}")
    return x


def parse_meter(value: Any) -> tuple[int, int]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return (4, 4)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        num, den = value
    else:
        parts = str(value).strip().split("/")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"meter must be like 4/4 or 6/8, got {str(value)[:40]!r}")
        num, den = (int(p) for p in parts)
    try:
        return M.check_meter(int(num), int(den), where="for this recording")
    except ValueError as exc:
        raise ValueError(f"This recording cannot be played in {exc}") from None


def hear(source: str | os.PathLike | bytes, bpm: Any = None, bar_one: Any = None, sensitivity: Any = None,
         meter: Any = None, name: str | None = None) -> Hearing:
    """A recording (a path or the file's bytes) -> what drumgen hears in it. bpm: a tempo the musician
    gives (None: beat tracking); bar_one: where bar 1 starts, in seconds (None: the beat nearest the
    first strong onset); sensitivity 0-1: how faint an onset may be and still count. RecordingError
    (a MidiError) for a recording that cannot make a groove, saying why."""
    bpm, bar_one = parse_bpm(bpm), parse_bar_one(bar_one)
    sensitivity, meter = parse_sensitivity(sensitivity), parse_meter(meter)
    if isinstance(source, (bytes, bytearray)):
        data, path = bytes(source), None
        name = name or "recording"
    else:
        data, path = None, os.fspath(source)
        name = name or Path(path).name
    key = _file_key(data, path)
    return _hear(key, data, path, bpm, bar_one, sensitivity, meter, name)


def _file_key(data: bytes | None, path: str | None) -> tuple:
    if data is not None:
        import hashlib

        return ("bytes", hashlib.sha1(data).hexdigest())
    try:
        st = os.stat(path)
    except OSError as exc:
        raise RecordingError(f"Cannot open {path}: {exc.strerror or exc}.") from None
    return ("path", path, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _hear(key: tuple, data: bytes | None, path: str | None, bpm: float | None, bar_one: float | None,
          sensitivity: float, meter: tuple[int, int], name: str) -> Hearing:
    """hear(), cached: a page's every event reads the same upload again (a Hearing is small: no samples)."""
    samples, rate, info = _load(data, path)
    notes = list(info["notes"])
    y = _resample(_mono(samples), rate, ANALYSIS_RATE)
    del samples
    duration = len(y) / ANALYSIS_RATE
    envelope = _envelope(y, ANALYSIS_RATE)
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
        found = estimate_tempo(env, onsets, ANALYSIS_RATE)
        beats, tempo_from = track_beats(y, ANALYSIS_RATE, env=env, bpm=found,
                                                span=(float(onsets[0]), float(onsets[-1]))), "beat tracking"
        if len(beats) < 2:
            raise RecordingError("drumgen could not hear a beat in this recording. Type its tempo (BPM) "
                                 "and where bar 1 starts, or tap the tempo.")
    else:
        beats, tempo_from = None, "typed"
    first_strong = float(onsets[np.argmax(strengths >= 0.5 * strengths.max())])
    anchor = first_strong if bar_one is None else bar_one
    if beats is None:  # a steady click from bar 1 at the tempo given
        period = 60.0 / bpm
        beats = anchor + period * np.arange(-np.floor(anchor / period) - 1, (duration - anchor) / period + 2)
        bar_one_at = anchor if bar_one is not None else refine_bar_one(anchor, onsets, beats)
    else:  # bar 1 need not be a tracked beat: the grid follows the beats' tempo, its phase bar 1's
        beats = extend_beats(beats, duration)
        bar_one_at = anchor if bar_one is not None else refine_bar_one(anchor, onsets, beats)
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
                      envelope=envelope, notes=notes, path=path, data=data)
    playing = hearing.onset_beats() >= -PICKUP_SLACK
    if not playing.any():
        raise RecordingError(f"No onset falls after bar 1 ({bar_one_at:.2f} s): move bar 1 earlier.")
    if hearing.n_dropped:
        notes.append(f"{midi_plural(hearing.n_dropped, 'onset')} before bar 1 ({bar_one_at:.2f} s) left out: "
                     "move bar 1 earlier to keep them")
    return hearing


def midi_plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# --- reading ----------------------------------------------------------------------------------------

def _load(data: bytes | None, path: str | None) -> tuple[np.ndarray, int, dict]:
    """(samples (n, channels) float32, sample rate, info) with the limits checked before decoding."""
    import soundfile as sf

    size = len(data) if data is not None else os.path.getsize(path)
    if size == 0:
        raise RecordingError("The file is empty.")
    if size > MAX_AUDIO_BYTES:
        raise RecordingError(f"This audio file is {size / 2**20:.0f} MB; drumgen takes recordings up to "
                             f"{MAX_AUDIO_BYTES // 2**20} MB ({MAX_SECONDS / 60:.0f} minutes). Cut it shorter.")
    try:
        info = sf.info(io.BytesIO(data) if data is not None else path)
    except Exception as exc:  # libsndfile's errors for unknown or broken data
        raise RecordingError(f"drumgen cannot read this audio file ({_said(exc)}). Save it as "
                             f"{AUDIO_FORMATS_SAID}.") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise RecordingError("This audio file holds no samples.")
    seconds = info.frames / info.samplerate
    if seconds > MAX_SECONDS:
        raise RecordingError(f"This recording lasts {seconds / 60:.1f} minutes; drumgen takes recordings up to "
                             f"{MAX_SECONDS / 60:.0f} minutes. Cut out the part you want drums for.")
    samples, rate = _decode(data if data is not None else path)
    if len(samples) / rate < MIN_SECONDS:
        raise RecordingError(f"This recording lasts {len(samples) / rate:.2f} s; drumgen needs at least a bar "
                             f"(a second or more).")
    if not np.isfinite(samples).all():
        raise RecordingError("This audio file holds invalid samples (NaN or infinity); export it again.")
    notes = []
    peak = float(np.abs(samples).max())
    if peak < SILENT_PEAK:
        raise RecordingError(f"This recording is silent (its loudest sample is {_db(peak)}). Check the input "
                             "level, or that the right track was exported.")
    clipped = float((np.abs(samples) >= CLIP_LEVEL).mean())
    if clipped > CLIP_SHARE:
        notes.append(f"the recording clips ({clipped:.1%} of its samples at full scale): onsets are heard, "
                     "but their strengths may be off; record a little softer")
    return samples, rate, {"channels": int(samples.shape[1]), "notes": notes}


def _decode(source: bytes | str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        samples, rate = sf.read(io.BytesIO(source) if isinstance(source, bytes) else source, dtype="float32",
                                always_2d=True)
    except Exception as exc:
        raise RecordingError(f"drumgen cannot read this audio file ({_said(exc)}). Save it as "
                             f"{AUDIO_FORMATS_SAID}.") from None
    return samples, int(rate)


def _said(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return text[:160]


def _db(x: float) -> str:
    return "-inf dBFS" if x <= 0 else f"{20 * np.log10(x):.0f} dBFS"


def _mono(samples: np.ndarray) -> np.ndarray:
    return samples.mean(axis=1, dtype=np.float32) if samples.ndim == 2 else samples.astype(np.float32)


def _resample(y: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return np.ascontiguousarray(y, dtype=np.float32)
    import librosa

    return librosa.resample(y, orig_sr=rate, target_sr=target, res_type="soxr_hq").astype(np.float32)


def _envelope(y: np.ndarray, rate: int) -> np.ndarray:
    size = max(1, rate // ENVELOPE_RATE)
    n = len(y) // size
    return np.abs(y[:n * size]).reshape(n, size).max(axis=1).astype(np.float32)


# --- hearing ----------------------------------------------------------------------------------------

N_FFT = 2048
N_MELS = 128
FLOOR_PERCENTILE, FLOOR_GAIN = 30, 2.0  # each band's noise floor: twice its 30th percentile over time
CLEAR_ONSET_DB = 1.0      # a recording whose onsets (90th percentile) rise less than this is noise
MIN_SHARE = 0.05          # and its peak reach 5% of the loud onsets' (their 95th percentile)
MIN_RISE_DB = 0.1         # an onset must rise at least this much (mean dB over the bands)
TEMPO_PRIOR = (120.0, 1.0)  # tempo prior: log-normal at 120 BPM, one octave wide
TEMPO_SEARCH = (55.0, 230.0)
STEADY_JITTER = 0.02      # beats whose residual from a straight line is under 2% of a beat: a steady tempo


def onset_envelope(y: np.ndarray, rate: int) -> np.ndarray:
    """Spectral flux (mean dB rise over 128 mel bands, frame to frame) after flooring each band at its
    noise floor (twice its 30th percentile over time). The floor is what makes noise harmless: a hiss,
    a hum or a room's rumble sits under it and its frame-to-frame wobble rises nothing, so only bands
    the music lifts out of the noise count. Aligned as librosa's onset_strength (centred frames)."""
    import librosa
    import scipy.ndimage  # noqa: F401  (librosa's dependency)

    mel = librosa.feature.melspectrogram(y=y, sr=rate, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS)
    floor = np.percentile(mel, FLOOR_PERCENTILE, axis=1, keepdims=True) * FLOOR_GAIN
    level = librosa.power_to_db(np.maximum(mel, floor + 1e-12), ref=np.max, top_db=80.0)
    flux = np.maximum(0.0, np.diff(level, axis=1)).mean(axis=0)
    shift = 1 + N_FFT // (2 * HOP)
    return np.concatenate([np.zeros(shift), flux])[: mel.shape[1]].astype(np.float64)


def _frames(seconds: float, rate: int) -> int:
    return max(1, int(round(seconds * rate / HOP)))


def detect_onsets(y: np.ndarray, rate: int, sensitivity: float = DEFAULT_SENSITIVITY,
                  env: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(onset times in s, strengths 0-1). A peak counts when it is the highest within 30 ms either side
    and rises over the lowest point of the 50 ms before it by a share of the envelope's top (delta:
    0.03 at sensitivity 0.5, twice that at 0, half at 1) and by MIN_RISE_DB at least. A rise, not a
    level over a local mean: a soft note right after a loud one still stands out of its own trough.
    Peaks at least 30 ms apart; each backtracked to the start of its attack (the envelope's minimum
    before it); strength from the peak's height (1 = the 95th percentile of the peaks)."""
    import librosa
    import scipy.ndimage as ndi

    env = onset_envelope(y, rate) if env is None else env
    if len(env) < 3 or env.max() <= 0:
        return np.zeros(0), np.zeros(0)
    top = float(env.max())
    delta = 0.03 * 4.0 ** (0.5 - sensitivity)
    around, rise, wait = _frames(0.03, rate), _frames(0.05, rate), _frames(0.03, rate)
    highest = ndi.maximum_filter1d(env, 2 * around + 1)
    trough = ndi.minimum_filter1d(env, rise + 1, origin=rise // 2)
    lift = env - trough
    candidates = np.flatnonzero((env == highest) & (lift >= max(delta * top, MIN_RISE_DB)))
    peaks, last = [], -wait
    for c in candidates:
        if c - last >= wait:
            peaks.append(c)
            last = c
    if not peaks:
        return np.zeros(0), np.zeros(0)
    peaks = np.array(peaks, np.int64)
    heights = env[peaks]
    loud = float(np.percentile(heights, 95))
    keep = heights >= MIN_SHARE * 2.0 ** (0.5 - sensitivity) * loud
    peaks, heights = peaks[keep], heights[keep]
    starts = librosa.onset.onset_backtrack(peaks, env)
    strengths = np.clip(heights / max(float(np.percentile(heights, 95)), 1e-9), 0.0, 1.0)
    times = librosa.frames_to_time(starts, sr=rate, hop_length=HOP)
    return times.astype(np.float64), strengths.astype(np.float64)


def sounds_like_noise(env: np.ndarray, onsets: np.ndarray, rate: int) -> bool:
    """True when no onset rises clearly: the 90th percentile of the peaks' rises is under
    CLEAR_ONSET_DB. Noise of any colour, a hum, a drone rise ~0.2-0.5 dB a frame over its floor;
    a plucked or struck note several dB, even under noise at 20 dB SNR."""
    if not len(onsets):
        return True
    frames = np.clip(np.round(np.asarray(onsets) * rate / HOP).astype(int), 0, len(env) - 1)
    peaks = [float(env[f: f + _frames(0.1, rate)].max()) for f in frames]
    return float(np.percentile(peaks, 90)) < CLEAR_ONSET_DB


def grid_fit(onsets: np.ndarray, bpms: np.ndarray, window: float = 8.0) -> np.ndarray:
    """How well a 16th grid at each tempo explains the onsets: |mean of exp(2 pi i t / sixteenth)| over
    windows of `window` s (half overlapping, so a drifting tempo still fits each window), weighted by
    the onsets in each. 1: every onset on the grid; ~0: onsets scattered across it."""
    onsets = np.asarray(onsets, np.float64)
    freqs = np.asarray(bpms, np.float64) / 60.0 * 4
    total, count = np.zeros(len(freqs)), 0
    if not len(onsets):
        return total
    for start in np.arange(onsets[0], onsets[-1] + window / 2, window / 2):
        inside = onsets[(onsets >= start) & (onsets < start + window)]
        if len(inside) < 4:
            continue
        total += np.abs(np.exp(2j * np.pi * np.outer(freqs, inside - start)).sum(axis=1))
        count += len(inside)
    return total / max(count, 1)


def estimate_tempo(env: np.ndarray, onsets: np.ndarray, rate: int) -> float:
    """The tempo (BPM): librosa's tempogram estimate b0 proposes, the onsets decide. Candidates are b0
    and its usual confusions (1/3 .. 3 times), each moved to the best fit within 3%; the one whose
    16th grid best explains the onsets (grid_fit), times a mild prior (log-normal at 120 BPM, an
    octave wide) that settles what the grid cannot (a grid at twice the tempo explains the onsets as
    well: the prior prefers the slower; at half it misses the odd 16ths: the fit rejects it)."""
    import librosa

    b0 = float(librosa.feature.tempo(onset_envelope=env, sr=rate, hop_length=HOP)[0])
    grid = TEMPO_SEARCH[0] * 2 ** np.arange(0, np.log2(TEMPO_SEARCH[1] / TEMPO_SEARCH[0]), 0.002)
    fit = grid_fit(onsets, grid)
    centre, octaves = TEMPO_PRIOR
    best, best_score = b0, -1.0
    for k in (1 / 3, 1 / 2, 2 / 3, 3 / 4, 1, 4 / 3, 3 / 2, 2, 3):
        near = np.flatnonzero((grid >= b0 * k * 0.97) & (grid <= b0 * k * 1.03))
        if not len(near) or not 60.0 <= b0 * k <= 200.0:
            continue
        i = near[np.argmax(fit[near])]
        score = fit[i] * np.exp(-0.5 * (np.log2(grid[i] / centre) / octaves) ** 2)
        if score > best_score:
            best, best_score = float(grid[i]), score
    return best


def track_beats(y: np.ndarray, rate: int, start_bpm: float = 120.0, env: np.ndarray | None = None,
                bpm: float | None = None, span: tuple[float, float] | None = None) -> np.ndarray:
    """Beat times (s): librosa's dynamic-programming tracker held to `bpm` (estimate_tempo's), then
    smoothed: beats from the tracker sit on the hop (11.6 ms) and wobble (most at the start, while it
    settles), so a straight line through them (a steady tempo) replaces them when their median distance
    from it is under 2% of a beat (a drift of a few BPM strays more); otherwise each
    beat is moved to a local straight fit over 8 beats around it, which keeps a drifting tempo.
    span (first, last onset): beats the tracker puts in the silence around the music are dropped first
    (they follow nothing and would bend the fit); extend_beats carries the grid on from the music's edges."""
    import librosa

    env = onset_envelope(y, rate) if env is None else env
    _, beats = librosa.beat.beat_track(onset_envelope=env, sr=rate, hop_length=HOP, start_bpm=start_bpm,
                                       bpm=bpm, units="time", trim=False)
    beats = np.asarray(beats, np.float64)
    if span is not None and len(beats) >= 2:
        half = float(np.median(np.diff(beats))) / 2
        inside = beats[(beats >= span[0] - half) & (beats <= span[1] + half)]
        beats = inside if len(inside) >= 4 else beats
    return smooth_beats(beats)


def smooth_beats(beats: np.ndarray) -> np.ndarray:
    beats = np.unique(np.asarray(beats, np.float64))
    if len(beats) < 4:
        return beats
    index = np.arange(len(beats), dtype=np.float64)
    slope, intercept = np.polyfit(index, beats, 1)
    if np.median(np.abs(beats - (slope * index + intercept))) < STEADY_JITTER * slope:
        return slope * index + intercept
    out = np.empty_like(beats)
    for k in range(len(beats)):
        lo, hi = max(0, k - 4), min(len(beats), k + 5)
        a, b = np.polyfit(index[lo:hi], beats[lo:hi], 1)
        out[k] = a * k + b
    return np.maximum.accumulate(out)


def extend_beats(beats: np.ndarray, duration: float) -> np.ndarray:
    """The beat grid carried on at its edge tempos to cover 0 .. duration (and a beat beyond each end)."""
    beats = np.unique(np.asarray(beats, np.float64))
    head = float(np.median(np.diff(beats[:5])))
    tail = float(np.median(np.diff(beats[-5:])))
    before = beats[0] - head * np.arange(np.ceil(beats[0] / head) + 1, 0, -1)
    after = beats[-1] + tail * np.arange(1, np.ceil(max(duration - beats[-1], 0) / tail) + 2)
    return np.concatenate([before, beats, after])


def refine_bar_one(anchor: float, onsets: np.ndarray, beats: np.ndarray, bars: float = 4.0) -> float:
    """Bar 1 at the first strong onset, moved by the median of the onsets' offsets from the 16th grid
    over the first bars: the grid then runs through the onsets, not through one onset's backtracked
    start (which may be a frame or two early)."""
    positions = beat_positions(onsets, beats, anchor) * 4
    near = (positions > -0.5) & (positions < bars * 16)
    if near.sum() < 3:
        return anchor
    shift = float(np.median(positions[near] - np.round(positions[near])))
    index = float(np.interp(anchor, beats, np.arange(len(beats), dtype=np.float64))) + shift / 4
    return float(np.interp(index, np.arange(len(beats), dtype=np.float64), beats))


def beat_positions(times: np.ndarray, beats: np.ndarray, bar_one: float) -> np.ndarray:
    """Times (s) -> beats from bar 1, linear between the beats around each (the grid follows the beats)."""
    index = np.arange(len(beats), dtype=np.float64)
    zero = float(np.interp(bar_one, beats, index))
    return np.interp(np.asarray(times, np.float64), beats, index) - zero


# --- a Song -----------------------------------------------------------------------------------------

def _song_from_hearing(h: Hearing) -> midi.Song:
    positions = h.onset_beats()
    keep = positions >= -PICKUP_SLACK
    velocities = np.clip(np.round(127 * onset_velocity(h.strengths[keep])), 1, 127).astype(np.int64)
    ticks = np.maximum(np.round(positions[keep] * TICKS_PER_BEAT), 0).astype(np.int64)
    index = np.arange(len(h.beats), dtype=np.float64)
    zero = float(np.interp(h.bar_one, h.beats, index))
    tempos = []
    for k in range(int(np.ceil(zero - 1e-6)), len(h.beats) - 1):
        tick = int(round((k - zero) * TICKS_PER_BEAT))
        if tick < 0:
            continue
        bpm = float(np.clip(60.0 / (h.beats[k + 1] - h.beats[k]), MIN_BPM / 2, MAX_BPM * 2))
        if not tempos or abs(tempos[-1][1] - bpm) > 1e-3:
            tempos.append((tick, bpm))
    if not tempos or tempos[0][0] != 0:
        tempos.insert(0, (0, tempos[0][1] if tempos else h.bpm))
    track_name = f"onsets heard in {h.name}"
    return song_from_onsets(ticks, velocities, tempos, h.meter, track_name, recording=h)


def onset_velocity(strengths: np.ndarray) -> np.ndarray:
    """Onset strength 0-1 -> a groove velocity 0-1: soft onsets still play (a ghost note is not silent)."""
    return 0.3 + 0.7 * np.asarray(strengths, np.float64)


def song_from_onsets(ticks: np.ndarray, velocities: np.ndarray, tempos: list[tuple[int, float]],
                     meter: tuple[int, int], track_name: str, recording: Any = None) -> midi.Song:
    """A Song of one track of onsets (MIDI velocities) at ticks of TICKS_PER_BEAT, its MIDI file as source."""
    order = np.argsort(ticks, kind="stable")
    ticks, velocities = np.asarray(ticks, np.int64)[order], np.asarray(velocities, np.int64)[order]
    notes = np.zeros((len(ticks), 5), np.int64)
    notes[:, 2], notes[:, 3], notes[:, 4] = ONSET_PITCH, velocities, ticks
    meters = [(0, int(meter[0]), int(meter[1]))]
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
        if not (np.isfinite(t) and np.isfinite(v)) or t < 0 or t > MAX_SECONDS:
            raise ValueError(f"a tap's time must be from 0 to {MAX_SECONDS:g} s, got {t!r}")
        rows.append((t, min(max(v, 0.0), 1.0)))
    return np.array(rows, np.float64)
