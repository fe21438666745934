"""The HVO representation: the one place that knows the voices, the GM pitch map and the layout.

An HVO array has shape (T, 27) on a 16th-note grid (4 steps a beat, 16 a bar of 4/4):

* columns 0..8   hits        in {0, 1}
* columns 9..17  velocities  in [0, 1]   (MIDI velocity / 127; 0 where there is no hit)
* columns 18..26 offsets     in [-0.5, 0.5) steps from the grid line (0 where there is no hit)

A monotonic groove has shape (T, 3): (hit, velocity, offset) of the loudest hit of each step.
Every function here accepts a leading batch axis as well: (..., T, 27) -> (..., T, 3).
"""
from __future__ import annotations

import numbers
import re

import numpy as np

STEPS_PER_BEAT = 4
STEPS_PER_BAR = 16
MAX_BARS = 2048  # the longest song drumgen takes (MIDI files and grooves passed to generate alike)

VOICES = ("kick", "snare", "closed_hat", "open_hat", "low_tom", "mid_tom", "high_tom", "crash", "ride")
N_VOICES = len(VOICES)
VOICE_LABELS = {  # what a person reads (the page's lanes, the piano roll)
    "kick": "Kick", "snare": "Snare", "closed_hat": "Closed hi-hat", "open_hat": "Open hi-hat",
    "low_tom": "Low tom", "mid_tom": "Mid tom", "high_tom": "High tom", "crash": "Crash", "ride": "Ride",
}
VOICE_ALIASES = {"hat": "closed_hat", "hihat": "closed_hat", "hi_hat": "closed_hat"}  # what people also type
HVO_DIM = 3 * N_VOICES
GROOVE_DIM = 3

# Canonical GM pitch written for each voice, then the other GM/Roland pitches read as that voice.
VOICE_PITCHES: dict[str, tuple[int, ...]] = {
    "kick": (36, 35),
    "snare": (38, 37, 40),
    "closed_hat": (42, 22, 44),
    "open_hat": (46, 26),
    "low_tom": (43, 41, 58),
    "mid_tom": (47, 45),
    "high_tom": (50, 48),
    "crash": (49, 52, 55, 57),
    "ride": (51, 53, 59),
}
OUTPUT_PITCHES = tuple(VOICE_PITCHES[v][0] for v in VOICES)
PITCH_TO_VOICE: dict[int, int] = {p: i for i, v in enumerate(VOICES) for p in VOICE_PITCHES[v]}

HITS = slice(0, N_VOICES)
VELOCITIES = slice(N_VOICES, 2 * N_VOICES)
OFFSETS = slice(2 * N_VOICES, 3 * N_VOICES)


def name_key(name) -> str:
    """'Closed-Hat', ' open hat ' -> 'closed_hat', 'open_hat': how a typed name is compared."""
    return re.sub(r"[\s-]+", "_", str(name).strip().lower())


def voice_name(name) -> str:
    """'Snare', 'closed-hat', 'hihat' -> a name in VOICES; ValueError listing them otherwise."""
    key = name_key(name)
    key = VOICE_ALIASES.get(key, key)
    if key not in VOICES:
        raise ValueError(f"unknown voice {name!r}; voices: {', '.join(VOICES)}")
    return key


def empty_hvo(n_steps: int) -> np.ndarray:
    return np.zeros((n_steps, HVO_DIM), dtype=np.float32)


def split_hvo(hvo: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(…, T, 27) -> hits, velocities, offsets, each (…, T, 9)."""
    return hvo[..., HITS], hvo[..., VELOCITIES], hvo[..., OFFSETS]


def join_hvo(hits: np.ndarray, velocities: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Inverse of split_hvo; zeroes velocity and offset where there is no hit."""
    hits = (np.asarray(hits) > 0.5).astype(np.float32)
    return np.concatenate([hits, velocities * hits, offsets * hits], axis=-1).astype(np.float32)


def tick_to_step(ticks: np.ndarray | float, ticks_per_beat: int) -> tuple[np.ndarray, np.ndarray]:
    """MIDI ticks -> (grid step, offset in steps in [-0.5, 0.5)). Tempo plays no part."""
    position = np.asarray(ticks, dtype=np.float64) * STEPS_PER_BEAT / ticks_per_beat
    step = np.floor(position + 0.5)
    return step.astype(np.int64), (position - step).astype(np.float32)


def step_to_tick(steps: np.ndarray, offsets: np.ndarray, ticks_per_beat: int, own_step: bool = True) -> np.ndarray:
    """Grid steps and offsets -> MIDI ticks. own_step: each on a tick that `tick_to_step` reads back
    on its own step (an offset just under +0.5 would round onto the next step's first tick otherwise);
    False for offsets meant to pass it (swing)."""
    steps, per_step = np.asarray(steps, np.float64), ticks_per_beat / STEPS_PER_BEAT
    ticks = np.rint((steps + np.asarray(offsets)) * per_step)
    if own_step:
        ticks = np.clip(ticks, np.ceil((steps - 0.5) * per_step), np.ceil((steps + 0.5) * per_step) - 1)
    return ticks.astype(np.int64)


def place_onsets(n_steps: int, steps: np.ndarray, offsets: np.ndarray, velocities: np.ndarray,
                 columns: np.ndarray, n_columns: int) -> np.ndarray:
    """Scatter onsets onto a (n_steps, 3 * n_columns) hit/velocity/offset grid.

    When two onsets fall on one cell the louder one wins (ties: the earlier in the input).
    Onsets outside [0, n_steps) are dropped.
    """
    grid = np.zeros((n_steps, 3 * n_columns), dtype=np.float32)
    steps = np.asarray(steps, dtype=np.int64)
    keep = (steps >= 0) & (steps < n_steps)
    steps, offsets, velocities, columns = steps[keep], offsets[keep], velocities[keep], columns[keep]
    # Loudest first (earlier first among equals); the first onset of each cell is the one kept.
    order = np.lexsort((np.arange(len(velocities)), -np.asarray(velocities)))
    cells = steps[order] * n_columns + columns[order]
    _, first = np.unique(cells, return_index=True)
    keep_idx = order[first]
    s, c = steps[keep_idx], columns[keep_idx]
    grid[s, c] = 1.0
    grid[s, n_columns + c] = velocities[keep_idx]
    grid[s, 2 * n_columns + c] = offsets[keep_idx]
    return grid


def hvo_to_groove(hvo: np.ndarray) -> np.ndarray:
    """Monotonic groove: per step, the loudest hit over all voices with its velocity and offset."""
    hits, velocities, offsets = split_hvo(np.asarray(hvo, dtype=np.float32))
    loudest = np.argmax(velocities * hits, axis=-1)[..., None]  # (…, T, 1)
    hit = hits.max(axis=-1, keepdims=True)
    velocity = np.take_along_axis(velocities, loudest, axis=-1) * hit
    offset = np.take_along_axis(offsets, loudest, axis=-1) * hit
    return np.concatenate([hit, velocity, offset], axis=-1).astype(np.float32)


def hit_count(hvo: np.ndarray) -> int:
    return int(np.asarray(hvo)[..., HITS].sum())


def real_array(value, name: str, dtype=np.float64) -> np.ndarray:
    """Numbers from a caller (a number, nested lists, an array) -> an array of `dtype`; None inside a
    list becomes NaN. ValueError naming `name` for anything else: booleans, text, complex numbers,
    ragged lists, dicts, numbers too big for a float (numpy would turn some into numbers silently)."""
    def refuse():
        kind = f"array of {value.dtype}" if isinstance(value, np.ndarray) else type(value).__name__
        return ValueError(f"{name} must be real numbers, got {kind}")

    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise refuse()
    try:
        array = np.asarray(value)
        if array.dtype.kind == "O":
            if not all(x is None or (isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_)))
                       for x in array.ravel()):
                raise refuse()
        elif array.dtype.kind not in "iuf":
            raise refuse()
        return array.astype(dtype)
    except (TypeError, ValueError, OverflowError):  # ragged lists, ints beyond a float
        raise refuse() from None


def validate_groove(groove: np.ndarray, whole_bars: bool = True) -> np.ndarray:
    """Check a batch of grooves (N, T, 3); return it as float32 with velocity/offset zeroed off hits.
    whole_bars: T must be whole 4/4 bars (a multiple of 16); False when the bars are given with it."""
    groove = real_array(groove, "groove", np.float32)
    if groove.ndim != 3 or groove.shape[-1] != GROOVE_DIM:
        raise ValueError(f"groove must have shape (N, T, 3), got {groove.shape}")
    if groove.shape[1] == 0 or (whole_bars and groove.shape[1] % STEPS_PER_BAR):
        raise ValueError(f"groove length must be a positive multiple of {STEPS_PER_BAR} steps, got {groove.shape[1]}")
    if groove.shape[1] > MAX_BARS * 2 * STEPS_PER_BAR or (whole_bars and groove.shape[1] > MAX_BARS * STEPS_PER_BAR):
        raise ValueError(f"groove is {groove.shape[1] // STEPS_PER_BAR} bars long; drumgen takes at most {MAX_BARS} bars")
    if not np.isfinite(groove).all():
        raise ValueError("groove contains NaN or infinite values")
    hit = (groove[..., 0] > 0.5).astype(np.float32)
    velocity = np.clip(groove[..., 1], 0.0, 1.0) * hit
    offset = np.clip(groove[..., 2], -0.5, 0.4999) * hit
    return np.stack([hit, velocity, offset], axis=-1)
