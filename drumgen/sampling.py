"""From model outputs to drums: thresholds, hit caps, steering to the controls, the groove's own timing,
windows stitched into songs.

Both models produce, per window of steps, hit probabilities, velocities and offsets (each (…, T, 9));
everything after that is here, so the two models sample the same way.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from . import controls as C
from . import hvo as H
from . import meter as M

BAR = H.STEPS_PER_BAR
WindowFn = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


def per_voice(value: float | Sequence[float] | np.ndarray | None, default: Sequence[float], name: str,
              low: float = -np.inf, high: float = np.inf, integer: bool = False) -> np.ndarray:
    """A scalar or 9 values -> an array of 9, checked to be finite, within [low, high] and, with
    `integer`, whole numbers."""
    if value is None:
        value = default
    array = H.real_array(value, name)
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
    if integer and (array != np.floor(array)).any():
        raise ValueError(f"{name} must be whole numbers, got {array[array != np.floor(array)][0]:g}")
    return array


def item_seeds(seed: int | Sequence[int] | None, n_items: int) -> np.ndarray:
    """One seed per batch item: the same for all (an int), one each (a sequence of n), or fresh (None)."""
    if seed is None:
        return np.random.SeedSequence().generate_state(n_items, np.uint64).astype(np.int64) & (2 ** 62 - 1)
    values = np.atleast_1d(np.asarray(seed, dtype=object))
    if values.ndim != 1 or len(values) not in (1, n_items):
        raise ValueError(f"seed must be one whole number or one per groove ({n_items}), got {len(values)} values")
    out = []
    for value in values:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not 0 <= int(value) < 2 ** 63:
            raise ValueError(f"seed must be a whole number from 0 to 2**63 - 1, got {value!r}")
        out.append(int(value))
    return np.array(out * n_items if len(out) == 1 else out, dtype=np.int64)


def window_noise(seeds: np.ndarray, starts: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal noise (M, *shape) for M windows, row m drawn from its own stream of
    (seeds[m], starts[m]): a window's randomness depends on its groove's seed and its place in the
    song only, never on the other items of a batch or on how long the song is."""
    return np.stack([np.random.default_rng([int(s), int(t)]).standard_normal(shape, dtype=np.float32)
                     for s, t in zip(seeds, starts)])


def crossfade_weights(window: int) -> np.ndarray:
    """Triangular weights over a window's steps: a step counts most where it has context on both sides."""
    position = np.arange(window, dtype=np.float32)
    return np.minimum(position + 1, window - position)


STITCH_RULES = ("crossfade", "average")


def stitch_windows(groove: np.ndarray, window_fn: WindowFn, window: int = 32, hop: int = H.STEPS_PER_BAR,
                   rule: str = "crossfade"):
    """Run `window_fn(windows, items, starts)` over windows of a long groove (N, T, 3) and join them.

    Windows start on bar lines (every `hop` steps), so every bar is seen in its place; the last
    window is zero-padded. Where windows overlap, hit probabilities are cross-faded with
    triangular weights (a window's edges count least; rule "average": equal weights), and
    velocities and offsets come from the windows in proportion to weight x hit probability, so a
    window that would not play a hit does not pull its velocity. The cross-fade keeps more of what
    temperature adds to a song than the average does, at about the same hit F1
    (`python -m drumgen.evaluate CKPT --songs --stitch RULE` compares them). Returns hit probabilities,
    velocities and offsets, each (N, T, 9).
    """
    if rule not in STITCH_RULES:
        raise ValueError(f"stitch rule must be one of {STITCH_RULES}, got {rule!r}")
    n, length, _ = groove.shape
    starts = list(range(0, max(length - window, 0) + 1, hop))
    if starts[-1] + window < length:
        starts.append(starts[-1] + hop)
    padded = np.zeros((n, starts[-1] + window, groove.shape[-1]), np.float32)
    padded[:, :length] = groove
    batch = np.stack([padded[:, s:s + window] for s in starts], axis=1).reshape(-1, window, groove.shape[-1])
    items = np.repeat(np.arange(n), len(starts))
    row_starts = np.tile(np.array(starts), n)
    probs, velocities, offsets = (o.reshape(n, len(starts), window, H.N_VOICES)
                                  for o in window_fn(batch, items, row_starts))
    if len(starts) == 1:  # one window (e.g. the common 2-bar case): nothing to join
        return probs[:, 0, :length], velocities[:, 0, :length], offsets[:, 0, :length]
    weight = (crossfade_weights(window) if rule == "crossfade" else np.ones(window, np.float32))[None, :, None]  # (1, W, 1)
    total_p, total_w = (np.zeros((n, padded.shape[1], H.N_VOICES), np.float32) for _ in range(2))
    total_v, total_o, total_pw = (np.zeros_like(total_p) for _ in range(3))
    for k, s in enumerate(starts):
        p = probs[:, k]
        pw = weight * p + 1e-6
        total_p[:, s:s + window] += weight * p
        total_w[:, s:s + window] += weight
        total_v[:, s:s + window] += pw * velocities[:, k]
        total_o[:, s:s + window] += pw * offsets[:, k]
        total_pw[:, s:s + window] += pw
    return tuple((a / b)[:, :length] for a, b in ((total_p, total_w), (total_v, total_pw), (total_o, total_pw)))


def decide_hits(probs: np.ndarray, thresholds: np.ndarray, max_hits: np.ndarray | None = None,
                window: int = 32) -> np.ndarray:
    """Hits (N, T, 9) in {0, 1}: probability over the voice's threshold, and at most max_hits[v] per
    voice in each `window` steps (the most probable kept). Works for every item of the batch."""
    return cap_hits(probs > thresholds.astype(np.float32), probs, max_hits, window)


def cap_hits(hits: np.ndarray, probs: np.ndarray, max_hits: np.ndarray | None, window: int = 32) -> np.ndarray:
    """At most max_hits[v] of the hits of voice v in each `window` steps, the most probable kept."""
    hits = np.asarray(hits) > 0.5
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


def silent_bars(groove: np.ndarray, bars: M.Bars | None = None) -> np.ndarray:
    """(N, T, 1) True on every step of a bar where the groove has no onset at all (bars: the song's,
    default 16 steps each)."""
    n, length, _ = groove.shape
    if bars is None:
        quiet = groove[..., 0].reshape(n, length // H.STEPS_PER_BAR, H.STEPS_PER_BAR).max(axis=-1) < 0.5
        return np.repeat(quiet, H.STEPS_PER_BAR, axis=1)[..., None]
    index, _ = M.step_bars(bars, n, length)
    quiet = M.bar_sums(groove[..., 0] > 0.5, index, bars.n_bars) == 0
    return C.per_step(quiet, bars, length)[..., None]


def mute_mask(c: C.Controls, n_steps: int | None = None, bars: M.Bars | None = None) -> np.ndarray:
    """(N, n_steps, 9) bool, True where a voice's share is exactly 0 (muted); steps past the bars are False."""
    return C.per_step(c.instruments == 0, bars, n_steps)


def top_cells(score: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the k highest scores (ties: earlier first); -inf cells are never chosen."""
    chosen = np.zeros(score.shape, bool)
    k = min(int(k), int(np.isfinite(score).sum()))
    if k > 0:
        chosen.ravel()[np.argsort(-score.ravel(), kind="stable")[:k]] = True
    return chosen


def steer_hits(probs: np.ndarray, thresholds: np.ndarray, c: C.Controls | None, bars: M.Bars | None = None) -> np.ndarray:
    """Hits (N, T, 9) float32 in {0, 1} from probabilities (N, T, 9) steered by per-bar controls
    (bars: the song's, default 16 steps each).

    Per item and bar: a voice with share exactly 0 never hits, nor does a cell with probability 0.
    Cells are ranked by prob / threshold. K = round(counts_from_density(density) x L / 16) for a bar of
    L steps when density is set (capped at the allowed cells), else the bar's plain-threshold count. A
    voice with a share s > 0 gets its round(s * K) best cells (at least 1 when K > 0; when the set
    shares ask for more than K, the largest quota gives way first). Then the free voices fill the bar
    up to K by rank, so the shares asked for are shares of the whole bar and a bar keeps the model's
    own count when density is free; with density set the set voices fill too if the free ones run
    out, so the bar has exactly K. With nothing set a cell hits when prob > threshold.
    """
    probs = np.asarray(probs, np.float32)
    if probs.ndim != 3 or probs.shape[-1] != H.N_VOICES or (bars is None and probs.shape[1] % BAR):
        raise ValueError(f"probs must have shape (N, T, 9) with T a multiple of {BAR}, got {probs.shape}")
    n, length, _ = probs.shape
    bars = M.bars_for(bars, length)
    thresholds = np.asarray(thresholds, np.float32).reshape(H.N_VOICES)
    c = C.validate_controls(c, n, bars.n_bars)
    allowed = (probs > 0) & ~mute_mask(c, length, bars)
    hits = (probs > thresholds) & allowed
    score = np.where(allowed, probs / np.maximum(thresholds, 1e-6), -np.inf)
    steered = np.isfinite(c.density) | (c.instruments > 0).any(axis=-1)
    starts = bars.starts
    for i, b in zip(*np.nonzero(steered)):
        cells = slice(starts[b], starts[b + 1])
        s, share, plain, free_cells = score[i, cells], c.instruments[i, b], hits[i, cells], allowed[i, cells]
        density_set = np.isfinite(c.density[i, b])
        k = int(plain.sum())
        if density_set:
            expected = C.counts_from_density(c.density[i, b]) * (min(starts[b + 1], length) - starts[b]) / BAR
            k = min(int(np.floor(expected + 0.5)), int(free_cells.sum()))
        has_share = share > 0
        quota = np.where(has_share, np.floor(np.nan_to_num(share) * k + 0.5), 0).astype(int)
        quota = np.minimum(np.where(has_share & (k > 0), np.maximum(quota, 1), quota), free_cells.sum(axis=0))
        while quota.sum() > k:
            quota[np.argmax(quota)] -= 1
        out = np.zeros_like(plain)
        for v in np.nonzero(quota)[0]:
            out[:, v] = top_cells(s[:, v], quota[v])
        free = np.isnan(share)[None, :]
        out |= top_cells(np.where(free & ~out, s, -np.inf), k - out.sum())
        if density_set:
            out |= top_cells(np.where(~out, s, -np.inf), k - out.sum())
        hits[i, cells] = out
    return hits.astype(np.float32)


def steer_velocities(hits: np.ndarray, velocities: np.ndarray, c: C.Controls | None,
                     bars: M.Bars | None = None) -> np.ndarray:
    """Velocities (N, T, 9): in each bar with intensity set and hits, all velocities scaled by one gain
    (hits clipped to [1/127, 1]) so the mean velocity of the bar's hits is the intensity (bisection)."""
    hits = np.asarray(hits) > 0.5
    velocities = np.asarray(velocities, np.float32)
    n, length, _ = hits.shape
    bars = M.bars_for(bars, length)
    c = C.validate_controls(c, n, bars.n_bars)
    index, _ = M.step_bars(bars, n, length)
    hit_v = np.clip(velocities, 1 / 127, 1.0)
    count = M.bar_sums(hits.sum(-1), index, bars.n_bars)                          # (N, B)
    target = np.clip(np.nan_to_num(c.intensity, nan=0.0), 1 / 127, 1.0)
    lo, hi = np.full(count.shape, -np.log(127.0)), np.full(count.shape, np.log(127.0))  # all at 1/127 .. all at 1
    for _ in range(40):
        mid = (lo + hi) / 2
        gain = C.per_step(np.exp(mid), bars, length)[..., None]
        total = M.bar_sums((np.clip(hit_v * gain, 1 / 127, 1) * hits).sum(-1), index, bars.n_bars)
        mean = total / np.maximum(count, 1)
        lo, hi = np.where(mean < target, mid, lo), np.where(mean < target, hi, mid)
    steer = C.per_step(np.isfinite(c.intensity) & (count > 0), bars, length)[..., None]
    gain = C.per_step(np.exp((lo + hi) / 2), bars, length)[..., None]
    scaled = np.where(hits, np.clip(hit_v * gain, 1 / 127, 1.0), np.clip(velocities * gain, 0.0, 1.0))
    return np.where(steer, scaled, velocities).astype(np.float32)


@dataclass
class Kept:
    """The cells of a take that stay as they are: the take (N, T, 27) and a mask (N, T, 9), True
    where a cell (hit or rest, its velocity, its offset) is kept. Everything a model makes goes
    through `onto` last, so kept cells come out bit for bit; a model that hears its own drums hears
    the kept ones instead (`hits_onto`, `probs_onto`), so what it adds follows them."""

    hvo: np.ndarray
    mask: np.ndarray
    follow: float | None = None  # how far new cells follow the kept bars around them (None: the model's setting)

    def steps(self, start: int, stop: int) -> Kept:
        """Steps start..stop-1 of every item (one window of a long song); past the take: nothing kept."""
        hvo, mask = self.hvo[:, start:stop], self.mask[:, start:stop]
        pad = stop - start - hvo.shape[1]
        if pad > 0:
            hvo = np.pad(hvo, ((0, 0), (0, pad), (0, 0)))
            mask = np.pad(mask, ((0, 0), (0, pad), (0, 0)))
        return Kept(hvo, mask, self.follow)

    def hits_onto(self, hits: np.ndarray) -> np.ndarray:
        return np.where(self.mask, self.hvo[..., H.HITS], hits).astype(np.float32)

    def probs_onto(self, probs: np.ndarray) -> np.ndarray:
        """A kept hit is certain and a kept rest impossible: steering then counts them as they are."""
        return np.where(self.mask, self.hvo[..., H.HITS], probs).astype(np.float32)

    def onto(self, hvo: np.ndarray) -> np.ndarray:
        return np.where(np.tile(self.mask, 3), self.hvo, hvo).astype(np.float32)

    def around(self, bars: M.Bars, sources: np.ndarray | None = None,
               distances: Sequence[int] = (1, 2)) -> tuple[np.ndarray, np.ndarray]:
        """What the take plays around each cell: the mean of the kept hits at the same place in the bars
        `distances` before and after it that are felt alike (the same beats: a 6/8 bar hears 6/8 bars,
        not 3/4 ones), and where there is any ((N, T, 9) each); `bars` covers the take's T steps.
        sources (N, T) bool: the steps that may be heard (False: a kept fill or a silent bar, which is
        no pattern for its neighbours); None: all."""
        hits, kept = self.hvo[..., H.HITS] * self.mask, self.mask.astype(np.float32)
        if sources is not None:
            hits, kept = hits * sources[..., None], kept * sources[..., None]
        width = hits.shape[1]
        bar, position = bars.step_bar[:width], bars.step_position[:width]
        kinds = {groups: k for k, groups in enumerate(dict.fromkeys(M.beat_groups(*m) for m in bars.meters))}
        feel = np.array([kinds[M.beat_groups(*m)] for m in bars.meters])
        total, count = np.zeros_like(hits), np.zeros_like(kept)
        for other in (bar + sign * d for d in distances for sign in (-1, 1)):
            inside = (other >= 0) & (other < bars.n_bars)
            other = np.clip(other, 0, bars.n_bars - 1)
            source = bars.starts[other] + position
            use = np.flatnonzero(inside & (feel[other] == feel[bar]) & (source < width))
            total[:, use] += hits[:, source[use]]
            count[:, use] += kept[:, source[use]]
        known = count > 0
        return np.where(known, total / np.maximum(count, 1.0), 0.0).astype(np.float32), known


def check_keep(keep, keep_mask, n_items: int, n_steps: int, follow: float | None = None) -> Kept | None:
    """generate's `keep` (the take, (N, T, 27)), `keep_mask` ((N, T, 9) or one (T, 9) for every
    item, True = keep) and `follow_kept_bars` (0-1 or None) -> Kept, checked; None when nothing is
    kept. ValueError in words otherwise."""
    if follow is not None:
        value = H.real_array(follow, "follow_kept_bars")
        if value.ndim != 0 or not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"follow_kept_bars must be a number from 0 to 1 (or None: the model's own), got {follow!r}")
        follow = float(value)
    if keep is None and keep_mask is None:
        return None
    if keep is None or keep_mask is None:
        raise ValueError("keep and keep_mask go together: the take, and which of its cells to keep")
    hvo = H.real_array(keep, "keep", np.float32)
    if hvo.shape != (n_items, n_steps, H.HVO_DIM):
        raise ValueError(f"keep must be a take shaped like the drums, ({n_items}, {n_steps}, {H.HVO_DIM}), got {hvo.shape}")
    hits, velocities, offsets = H.split_hvo(hvo)
    if not (np.isin(hits, (0.0, 1.0)).all() and np.isfinite(hvo).all() and (velocities >= 0).all()
            and (velocities <= 1).all() and (np.abs(offsets) <= 0.5).all()):
        raise ValueError("keep must be drums HVO: hits 0 or 1, velocities 0..1, offsets -0.5..0.5")
    mask = np.asarray(keep_mask)
    if mask.dtype != np.bool_:
        raise ValueError(f"keep_mask must be booleans (True = keep the cell), got {mask.dtype}")
    if mask.shape == (n_steps, H.N_VOICES):
        mask = np.broadcast_to(mask, (n_items, n_steps, H.N_VOICES))
    if mask.shape != (n_items, n_steps, H.N_VOICES):
        raise ValueError(f"keep_mask must be ({n_items}, {n_steps}, {H.N_VOICES}) or ({n_steps}, {H.N_VOICES}), "
                         f"got {mask.shape}")
    return Kept(hvo, mask.copy(), follow)


def to_hvo(groove: np.ndarray, probs: np.ndarray, velocities: np.ndarray, offsets: np.ndarray,
           thresholds: np.ndarray, max_hits: np.ndarray | None, keep_groove_timing: bool,
           rest_in_silent_bars: bool = True, controls: C.Controls | None = None,
           hits: np.ndarray | None = None, steer: bool = True, kept: Kept | None = None,
           bars: M.Bars | None = None) -> np.ndarray:
    """Model outputs -> HVO, the steps every model shares (bars: the song's; default 16 steps each).

    Hits are the model's own (`hits`, when it decided them while generating) or come from the
    probabilities over the thresholds; with `steer` and a control set, they are chosen from the
    probabilities to meet the requested per-bar density and instrument shares
    (`steer_hits`), and velocities are scaled to the requested intensity. A voice
    given weight 0 never plays in that bar, whatever the model. With rest_in_silent_bars, bars where
    the groove plays nothing stay empty (an intro or a break): never seen in training, so what a
    model plays there is noise. Where a bar's intensity is requested, the groove's dynamics do not
    rescale its velocities (with `steer`, they are scaled to the requested mean instead). The cells
    `kept` keeps come out as they are, whatever else is asked; steering counts them as they are."""
    if kept is not None:
        probs = kept.probs_onto(probs)
        hits = None if hits is None else kept.hits_onto(hits)
    silent = silent_bars(groove, bars) if rest_in_silent_bars else np.zeros(groove.shape[:2] + (1,), bool)
    probs = np.where(silent, 0.0, probs)
    steering = steer and controls is not None and controls.any_set()
    if steering:
        hits = steer_hits(probs, thresholds, controls, bars)
    elif hits is None:
        hits = probs > thresholds.astype(np.float32)
    hits = (hits > 0.5) & ~silent
    if controls is not None:
        hits &= ~mute_mask(controls, groove.shape[1], bars)
    hits = cap_hits(hits, probs, max_hits)
    velocities = np.clip(velocities, 0.0, 1.0)
    offsets = np.clip(offsets, -0.5, 0.4999)
    if keep_groove_timing:
        grooved, offsets = apply_groove_timing(hits, velocities, offsets, groove)
        asked = np.zeros_like(silent) if controls is None else C.per_step(np.isfinite(controls.intensity), bars,
                                                                                     groove.shape[1])[..., None]
        velocities = np.where(asked, velocities, grooved)
    if steering:
        velocities = steer_velocities(hits, velocities, controls, bars)
    out = H.join_hvo(hits, velocities, offsets)
    return out if kept is None else kept.onto(out)
