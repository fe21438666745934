"""From model outputs to drums: thresholds, hit caps, the groove's own timing, windows stitched into songs.

Both models produce, per window of steps, hit probabilities, velocities and offsets (each (…, T, 9));
everything after that is here, so the two models sample the same way.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from . import hvo as H

WindowFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


def per_voice(value: float | Sequence[float] | np.ndarray | None, default: Sequence[float], name: str,
              low: float = -np.inf, high: float = np.inf) -> np.ndarray:
    """A scalar or 9 values -> an array of 9, checked to be finite and within [low, high]."""
    if value is None:
        value = default
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        array = np.full(H.N_VOICES, float(array))
    if array.shape != (H.N_VOICES,):
        raise ValueError(f"{name} must be one number or {H.N_VOICES} (one per voice: {', '.join(H.VOICES)}), "
                         f"got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite numbers")
    if (array < low).any() or (array > high).any():
        allowed = f">= {low:g}" if high == np.inf else f"between {low:g} and {high:g}"
        got = f"{array.min():g}" if array.min() == array.max() else f"{array.min():g} to {array.max():g}"
        raise ValueError(f"{name} must be {allowed}, got {got}")
    return array


def stitch_windows(groove: np.ndarray, window_fn: WindowFn, window: int = 32, hop: int = H.STEPS_PER_BAR):
    """Run `window_fn` over windows of a long groove (N, T, 3) and average where windows overlap.

    Windows start on bar lines (every `hop` steps), so every bar is seen in its place in a 2-bar
    window; the last window is zero-padded. Returns hit probabilities, velocities and offsets,
    each (N, T, 9).
    """
    n, length, _ = groove.shape
    if length == window:  # the common 2-bar case: one window, nothing to stitch
        return window_fn(groove)
    starts = list(range(0, max(length - window, 0) + 1, hop))
    if starts[-1] + window < length:
        starts.append(starts[-1] + hop)
    padded = np.zeros((n, starts[-1] + window, groove.shape[-1]), np.float32)
    padded[:, :length] = groove
    batch = np.stack([padded[:, s:s + window] for s in starts], axis=1).reshape(-1, window, groove.shape[-1])
    outputs = window_fn(batch)  # each (n * len(starts), window, 9)
    total = [np.zeros((n, padded.shape[1], H.N_VOICES), np.float32) for _ in outputs]
    count = np.zeros((1, padded.shape[1], 1), np.float32)
    for k, s in enumerate(starts):
        for acc, out in zip(total, outputs):
            acc[:, s:s + window] += out.reshape(n, len(starts), window, H.N_VOICES)[:, k]
        count[:, s:s + window] += 1
    return tuple(acc[:, :length] / count[:, :length] for acc in total)


def decide_hits(probs: np.ndarray, thresholds: np.ndarray, max_hits: np.ndarray | None = None,
                window: int = 32) -> np.ndarray:
    """Hits (N, T, 9) in {0, 1}: probability over the voice's threshold, and at most max_hits[v] per
    voice in each `window` steps (the most probable kept). Works for every item of the batch."""
    hits = probs > thresholds.astype(np.float32)
    if max_hits is None:
        return hits.astype(np.float32)
    n, length, _ = probs.shape
    blocks = -(-length // window)
    pad = blocks * window - length
    p = np.pad(np.where(hits, probs, -1.0), ((0, 0), (0, pad), (0, 0)), constant_values=-1.0)
    p = p.reshape(n, blocks, window, H.N_VOICES)
    rank = np.argsort(np.argsort(-p, axis=2, kind="stable"), axis=2, kind="stable")  # 0 = most probable
    keep = (rank < max_hits.reshape(1, 1, 1, -1)) & (p >= 0)
    return keep.reshape(n, blocks * window, H.N_VOICES)[:, :length].astype(np.float32)


def apply_groove_timing(hits: np.ndarray, velocities: np.ndarray, offsets: np.ndarray,
                        groove: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the feel of the input: where the groove has an onset, the generated hits take the
    performer's own offset, and their velocities are scaled so the loudest equals the groove's
    (so the output's monotonic groove is the input's on every step where both play)."""
    onset = groove[..., 0:1] > 0.5  # (N, T, 1)
    offsets = np.where(onset, groove[..., 2:3], offsets)
    loudest = np.max(np.where(hits > 0.5, velocities, 0.0), axis=-1, keepdims=True)  # (N, T, 1)
    scale = np.where(onset & (loudest > 0), groove[..., 1:2] / np.maximum(loudest, 1e-6), 1.0)
    return np.clip(velocities * scale, 0.0, 1.0), offsets


def silent_bars(groove: np.ndarray) -> np.ndarray:
    """(N, T, 1) True on every step of a bar where the groove has no onset at all."""
    n, length, _ = groove.shape
    bars = groove[..., 0].reshape(n, length // H.STEPS_PER_BAR, H.STEPS_PER_BAR).max(axis=-1) < 0.5
    return np.repeat(bars, H.STEPS_PER_BAR, axis=1)[..., None]


def to_hvo(groove: np.ndarray, probs: np.ndarray, velocities: np.ndarray, offsets: np.ndarray,
           thresholds: np.ndarray, max_hits: np.ndarray | None, keep_groove_timing: bool,
           rest_in_silent_bars: bool = True) -> np.ndarray:
    """Model outputs -> HVO. With rest_in_silent_bars, bars where the groove plays nothing stay
    empty (an intro or a break): never seen in training, so what the model plays there is noise."""
    if rest_in_silent_bars:
        probs = np.where(silent_bars(groove), 0.0, probs)
    hits = decide_hits(probs, thresholds, max_hits)
    velocities = np.clip(velocities, 0.0, 1.0)
    offsets = np.clip(offsets, -0.5, 0.4999)
    if keep_groove_timing:
        velocities, offsets = apply_groove_timing(hits, velocities, offsets, groove)
    return H.join_hvo(hits, velocities, offsets)
