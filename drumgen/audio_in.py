"""Reading a recording and finding what is in it: samples with their limits checked, then onsets, tempo
and beats (librosa). `drumgen.recording` makes a Song of what is found; the choices and their figures
are told there (python -m drumgen.audio_figures measures them).
"""
from __future__ import annotations

import io
import os

import numpy as np

from . import meter as M
from . import midi

AUDIO_FORMATS_SAID = "WAV, FLAC, OGG or MP3"
MIN_BPM, MAX_BPM = 30.0, 300.0
MAX_SECONDS = 600.0          # 10 minutes: longer recordings are refused before they are decoded
MAX_AUDIO_BYTES = 200 * 2**20
MIN_SECONDS = 1.0
ANALYSIS_RATE = 22050
HOP = 256                    # ~11.6 ms a frame at 22050 Hz: onsets to within half of that
SILENT_PEAK = 10 ** (-70 / 20)   # a peak under -70 dBFS is silence
CLIP_LEVEL = 0.999
CLIP_SHARE = 0.001           # more samples than this at full scale: the recording clips
DEFAULT_SENSITIVITY = 0.5
ENVELOPE_RATE = 200          # points a second of the level kept for the page's picture


class RecordingError(midi.MidiError):
    """A recording drumgen cannot use, with a message that says why (shown as a MidiError is)."""


# --- what the musician says of a recording ----------------------------------------------------------

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
    """A meter ("6/8", a pair of whole numbers (6, 8); None / '': 4/4) -> (numerator, denominator)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return (4, 4)
    if isinstance(value, (tuple, list)):
        if len(value) != 2 or not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in value):
            raise ValueError(f"meter must be like 4/4 or 6/8, got {str(value)[:40]!r}")
        num, den = value
    else:
        parts = str(value).strip().split("/")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"meter must be like 4/4 or 6/8, got {str(value)[:40]!r}")
        num, den = (int(p) for p in parts)
    try:
        return M.check_meter(int(num), int(den), where="")
    except ValueError as exc:
        raise ValueError(f"drumgen cannot play this groove in {exc}") from None


# --- reading ----------------------------------------------------------------------------------------

def load(data: bytes | None, path: str | None) -> tuple[np.ndarray, int, dict]:
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
    samples, rate = decode(data if data is not None else path)
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


def decode(source: bytes | str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        samples, rate = sf.read(io.BytesIO(source) if isinstance(source, bytes) else source, dtype="float32", always_2d=True)
    except Exception as exc:
        raise RecordingError(f"drumgen cannot read this audio file ({_said(exc)}). Save it as "
                             f"{AUDIO_FORMATS_SAID}.") from None
    return samples, int(rate)


def _said(exc: Exception) -> str:
    return (str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__)[:160]


def _db(x: float) -> str:
    return "-inf dBFS" if x <= 0 else f"{20 * np.log10(x):.0f} dBFS"


def mono(samples: np.ndarray) -> np.ndarray:
    return samples.mean(axis=1, dtype=np.float32) if samples.ndim == 2 else samples.astype(np.float32)


def resample(y: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return np.ascontiguousarray(y, dtype=np.float32)
    import librosa

    return librosa.resample(y, orig_sr=rate, target_sr=target, res_type="soxr_hq").astype(np.float32)


def level_envelope(y: np.ndarray, rate: int) -> np.ndarray:
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
NET_THRESHOLD = 0.4      # the onset detector's activation an onset reaches at sensitivity 0.5 (chosen on validation)
END_GUARD = 0.05         # s: no onset this near the end (the net's widest window, 93 ms, is half past it)
ONSET_METHOD: str | None = None   # None: "net" where its checkpoint is, else "flux" (audio_figures --onsets sets it)
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
    frames = mel.shape[1]
    mel = np.concatenate([np.zeros_like(floor), mel], axis=1)  # a frame at the floor first: a note on sample 0 rises
    level = librosa.power_to_db(np.maximum(mel, floor + 1e-12), ref=np.max, top_db=80.0)
    flux = np.maximum(0.0, np.diff(level, axis=1)).mean(axis=0)
    shift = N_FFT // (2 * HOP)
    return np.concatenate([np.zeros(shift), flux])[:frames].astype(np.float64)


def _frames(seconds: float, rate: int) -> int:
    return max(1, int(round(seconds * rate / HOP)))


def onset_method(method: str | None = None) -> str:
    """The onset detector heard with: the one asked for, else ONSET_METHOD, else "net" where its checkpoint is."""
    from .onset_net import CHECKPOINT
    return method or ONSET_METHOD or ("net" if CHECKPOINT.is_file() else "flux")


def detect_onsets(y: np.ndarray, rate: int, sensitivity: float = DEFAULT_SENSITIVITY,
                  env: np.ndarray | None = None, method: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(times in s, strengths 0-1). "net": onset_net's activation peaks over NET_THRESHOLD (twice it at sensitivity 0,
    half at 1, within 0.05-0.95), strength their height, none in the last END_GUARD s; "flux": flux_onsets."""
    from . import onset_net
    method = onset_method(method)
    if method == "flux":
        return flux_onsets(y, rate, sensitivity, env)
    if method != "net":
        raise ValueError(f"onset method {method!r}: 'net' or 'flux'")
    threshold = float(np.clip(NET_THRESHOLD * 2.0 ** (1 - 2 * sensitivity), 0.05, 0.95))
    times, heights = onset_net.peaks(onset_net.activation(y, rate), threshold, rate)
    inside = times < len(y) / rate - END_GUARD  # a recording cut off mid-note "starts" something as it stops
    return times[inside], heights[inside]


def flux_onsets(y: np.ndarray, rate: int, sensitivity: float = DEFAULT_SENSITIVITY,
                env: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(onset times in s, strengths 0-1) from the spectral flux. A peak counts when it is the highest within 30 ms either side
    and rises over the lowest point of the 50 ms before it by a share of the envelope's top (delta: 0.03
    at sensitivity 0.5, twice that at 0, half at 1) and by MIN_RISE_DB at least: a rise, not a level over
    a local mean, so a soft note right after a loud one stands out of its own trough. Peaks 30 ms apart
    or more, each backtracked to its attack's start; strength: its height (1 = the peaks' 95th percentile)."""
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


VELOCITY_WINDOW = 0.09   # s after an onset in which its loudest level is its loudness (or until the next)
VELOCITY_REFERENCE = 99  # the percentile of the onsets' loudness that plays at velocity 127
VELOCITY_DB = 40.0       # dB below it per decade of velocity: the General MIDI (DLS) curve, gain 40 log10(v / 127)


def onset_velocities(y: np.ndarray, rate: int, onsets: np.ndarray) -> np.ndarray:
    """Each onset's velocity 0-1 from how loud the note is: the highest RMS level (in dB) of the frames
    from the onset for VELOCITY_WINDOW, none reaching the next onset (a ghost note before an accent
    keeps its own level), against the recording's loudest onsets, through the inverse of the General
    MIDI velocity curve (a note 12 dB under the loudest is velocity 64). The flux's strengths rise
    from each band's own floor, so they flatten dynamics (`python -m drumgen.audio_figures` measures
    both against the MIDI's velocities)."""
    import librosa

    onsets = np.asarray(onsets, np.float64)
    if not len(onsets):
        return np.zeros(0)
    size = 4 * HOP                                     # frames of ~46 ms, each from its own start
    rms = librosa.feature.rms(y=np.pad(y, (0, size)), frame_length=size, hop_length=HOP, center=False)[0]
    level = 20 * np.log10(np.maximum(rms, 1e-9))
    starts = np.clip(np.round(onsets * rate / HOP).astype(int), 0, len(level) - 1)
    order = np.argsort(onsets, kind="stable")
    following = np.full(len(onsets), len(y) + size, np.float64)
    following[order[:-1]] = onsets[order[1:]] * rate    # the next onset's sample, whatever the order given
    last = np.floor((following - size) / HOP).astype(int)  # the last frame that ends before it
    ends = np.clip(np.minimum(last + 1, starts + _frames(VELOCITY_WINDOW, rate)), starts + 1, len(level))
    loud = np.array([level[a:b].max() for a, b in zip(starts, ends)])
    reference = float(np.percentile(loud, VELOCITY_REFERENCE))
    return np.clip(10 ** ((loud - reference) / VELOCITY_DB), 1 / 127, 1.0)


STRONG_VELOCITY = 0.3    # bar 1 by default: the first onset this loud (38 of 127, ~21 dB under the loudest) or louder


def first_strong_onset(onsets: np.ndarray, velocities: np.ndarray) -> float:
    """Bar 1 by default: the first onset played at least softly, not a ghost note or handling noise but a soft
    downbeat (the rule before, half the loudest onset strength, put it a beat late in 3 GMD grooves of 10)."""
    onsets, loud = np.asarray(onsets, np.float64), np.nan_to_num(np.asarray(velocities, np.float64))
    if not len(onsets) or onsets.shape != loud.shape:
        raise ValueError(f"bar 1 needs onsets and a velocity each, got {onsets.shape} and {loud.shape}")
    strong = np.flatnonzero(loud >= STRONG_VELOCITY)
    return float(onsets[strong[0]] if len(strong) else onsets[np.argmax(loud)])


def sounds_like_noise(env: np.ndarray, onsets: np.ndarray, rate: int) -> bool:
    """True when no onset rises clearly: the 90th percentile of the peaks' rises is under
    CLEAR_ONSET_DB. Noise of any colour, a hum, a drone rise ~0.2-0.5 dB a frame over its floor;
    a plucked or struck note several dB, even under noise at 20 dB SNR."""
    if not len(onsets):
        return True
    frames = np.clip(np.round(np.asarray(onsets) * rate / HOP).astype(int), 0, len(env) - 1)
    peaks = [float(env[f: f + _frames(0.1, rate)].max()) for f in frames]
    return float(np.percentile(peaks, 90)) < CLEAR_ONSET_DB


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


def steady_beats(anchor: float, bpm: float, duration: float) -> np.ndarray:
    """A steady click through `anchor` at `bpm`, a beat beyond each end of 0 .. duration."""
    period = 60.0 / bpm
    return anchor + period * np.arange(-np.floor(anchor / period) - 1, (duration - anchor) / period + 2)


def grid_fit(onsets: np.ndarray, strengths: np.ndarray, beats: np.ndarray, bar_one: float) -> float:
    """How well a beat grid puts the onsets on its 16ths: the strength-weighted mean of cos(2 pi x the
    onset's place in 16ths), 1 = every onset on a 16th, 0 = anywhere."""
    positions = beat_positions(onsets, beats, bar_one) * 4
    w = np.asarray(strengths, np.float64)
    return float((w * np.cos(2 * np.pi * positions)).sum() / max(w.sum(), 1e-9))


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
