"""Bars as the song's meter map has them: the one place that knows how long a bar is and where its
beats fall, for every meter drumgen plays.

A bar of n/d is n * 16 / d sixteenths (3/4 and 6/8: 12, 12/8: 24, 7/8: 14, 5/4: 20). Its felt
beats (`beat_groups`) follow the meter's usual grouping: quarters in simple meters (n/2 too: cut
time is drummed as 4/4); dotted quarters in 6/8, 9/8, 12/8 (felt in 2, 3, 4); in odd eighths, twos then a three
at the end (5/8 = 2+3, 7/8 = 2+2+3), the common reading in the absence of other hints (MIDI
carries none). A song's `Bars` is the list of its bars' meters; 4/4 is the case where every bar
is 16 steps, and every per-bar function of drumgen takes a `Bars` (None = all 4/4).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import hvo as H

DENOMINATORS = (2, 4, 8)
MIN_BAR_STEPS, MAX_BAR_STEPS = 4, 32  # 2/8 (or 1/4) to 8/4 (or 16/8)
N_FEATURES = 10  # meter_features per step
FOUR_FOUR = (4, 4)
PLAYED_AS_FOUR_FOUR = {(4, 4), (2, 2)}  # cut time: 16 steps, its drums written as 4/4 drums (as before meters)


def bar_steps(numerator: int, denominator: int) -> int:
    return numerator * H.STEPS_PER_BAR // denominator


def check_meter(numerator: int, denominator: int, where: str = "") -> tuple[int, int]:
    """(n, d) if drumgen plays n/d, else a ValueError naming the meter (and `where`, e.g. 'from bar 9')."""
    at = f" ({where})" if where else ""
    if denominator not in DENOMINATORS:
        raise ValueError(f"{numerator}/{denominator}{at}: drumgen plays meters counted in halves, quarters or "
                         f"eighths (n/2, n/4, n/8), not {denominator}ths")
    steps = numerator * H.STEPS_PER_BAR / denominator
    if not MIN_BAR_STEPS <= steps <= MAX_BAR_STEPS:
        raise ValueError(f"{numerator}/{denominator}{at}: a bar of {steps:g} sixteenths is outside what drumgen plays "
                         f"({MIN_BAR_STEPS} to {MAX_BAR_STEPS} sixteenths: 2/8 to 8/4)")
    return int(numerator), int(denominator)


def parse_meter(text) -> tuple[int, int]:
    """'6/8', '6-8', (6, 8) -> (6, 8), checked."""
    if isinstance(text, (tuple, list)) and len(text) == 2:
        n, d = text
    else:
        parts = str(text).strip().replace("-", "/").split("/")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"meter: expected a time signature such as '3/4' or '6/8', got {text!r}")
        n, d = (int(p) for p in parts)
    if isinstance(n, bool) or isinstance(d, bool) or int(n) != n or int(d) != d or n < 1:
        raise ValueError(f"meter: expected whole numbers such as 3/4, got {text!r}")
    return check_meter(int(n), int(d))


def beat_groups(numerator: int, denominator: int) -> tuple[int, ...]:
    """The felt beats of one bar, in sixteenths: 4/4 (4, 4, 4, 4), 6/8 (6, 6), 7/8 (4, 4, 6); n/2 as
    2n/4 (cut time is drummed as 4/4: 2/2 plays as 4/4 did before meters)."""
    if denominator == 2:
        return (4,) * (2 * numerator)
    if denominator != 8:
        return (H.STEPS_PER_BAR // denominator,) * numerator
    if numerator % 3 == 0:                    # 3/8, 6/8, 9/8, 12/8: dotted quarters
        return (6,) * (numerator // 3)
    if numerator % 2 == 0:                    # 2/8, 4/8, 8/8: quarters
        return (4,) * (numerator // 2)
    return (4,) * ((numerator - 3) // 2) + (6,)  # 5/8, 7/8, 11/8: twos, then a three


def meter_name(meter: tuple[int, int]) -> str:
    return f"{meter[0]}/{meter[1]}"


@dataclass(frozen=True)
class Bars:
    """The bars of a song: each bar's meter, in order (a meter change is a new meter from its bar on)."""

    meters: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        for i, m in enumerate(self.meters):
            check_meter(*m, where=f"bar {i + 1}")

    @classmethod
    def four_four(cls, n_bars: int) -> Bars:
        return cls((FOUR_FOUR,) * n_bars)

    @classmethod
    def uniform(cls, meter, n_bars: int) -> Bars:
        return cls((parse_meter(meter),) * n_bars)

    @classmethod
    def covering(cls, meter, n_steps: int) -> Bars:
        """Bars of one meter covering n_steps (the last one cut short when they do not divide)."""
        meter = parse_meter(meter)
        return cls((meter,) * -(-n_steps // bar_steps(*meter)))

    @classmethod
    def from_runs(cls, runs: Iterable[Sequence[int]]) -> Bars:
        """[(numerator, denominator, n_bars), ...] (to_runs' form, as JSON keeps it) -> Bars."""
        meters: list[tuple[int, int]] = []
        for run in runs:
            try:
                ok = len(run) == 3 and all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in run)
            except TypeError:
                ok = False
            if not ok or run[2] < 1:
                raise ValueError(f"meter runs are [numerator, denominator, bars] (whole numbers), got {run!r}")
            if len(meters) + run[2] > H.MAX_BARS:
                raise ValueError(f"meter runs of more than {H.MAX_BARS} bars: drumgen takes at most {H.MAX_BARS} bars")
            meters += [check_meter(int(run[0]), int(run[1]))] * int(run[2])
        return cls(tuple(meters))

    def to_runs(self) -> list[list[int]]:
        runs: list[list[int]] = []
        for m in self.meters:
            if runs and tuple(runs[-1][:2]) == m:
                runs[-1][2] += 1
            else:
                runs.append([m[0], m[1], 1])
        return runs

    @property
    def n_bars(self) -> int:
        return len(self.meters)

    @cached_property
    def lengths(self) -> np.ndarray:
        """(B,) steps per bar."""
        return np.array([bar_steps(*m) for m in self.meters], np.int64)

    @cached_property
    def starts(self) -> np.ndarray:
        """(B + 1,) the first step of each bar, then the song's length."""
        return np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)

    @property
    def n_steps(self) -> int:
        return int(self.starts[-1])

    @property
    def is_four_four(self) -> bool:
        """Every bar 4/4 (or 2/2, played as 4/4): the case every model plays, as before meters."""
        return all(m in PLAYED_AS_FOUR_FOUR for m in self.meters)

    @cached_property
    def step_bar(self) -> np.ndarray:
        """(T,) the bar of each of the bars' own steps (read-only: shared)."""
        index = np.repeat(np.arange(self.n_bars), self.lengths).astype(np.int64)
        index.flags.writeable = False
        return index

    def bar_of_step(self, n_steps: int | None = None) -> np.ndarray:
        """(T,) the bar of each step; steps past the last bar -1 (T defaults to the bars' own length)."""
        if n_steps is None:
            return self.step_bar
        out = np.full(n_steps, -1, np.int64)
        index = self.step_bar[:n_steps]
        out[:len(index)] = index
        return out

    def slice(self, first: int, stop: int) -> Bars:
        return Bars(self.meters[first:stop])

    def __add__(self, other: Bars) -> Bars:
        return Bars(self.meters + other.meters)

    def label(self) -> str:
        """'4/4', or '4/4 (bars 1–8), 2/4 (bar 9), 3/4 (bars 10–17)' for a song whose meter changes."""
        runs = self.to_runs()
        if len(runs) <= 1:
            return meter_name(tuple(runs[0][:2])) if runs else "4/4"
        parts, bar = [], 1
        for n, d, count in runs:
            span = f"bar {bar}" if count == 1 else f"bars {bar}–{bar + count - 1}"
            parts.append(f"{n}/{d} ({span})")
            bar += count
        return ", ".join(parts)

    @cached_property
    def features(self) -> np.ndarray:
        """(T, N_FEATURES) float32, what the model hears of the meter at each step: downbeat, felt-beat
        start, eighth, the place in the bar (sin, cos), the place in its beat, the bar's length / 16,
        the beat's length / 4, compound beat (three eighths), and 1 (a step of the song; padding is 0)."""
        rows = []
        for m, length in zip(self.meters, self.lengths):
            groups = beat_groups(*m)
            beat_start = np.repeat(np.cumsum((0,) + groups[:-1]), groups)
            beat_length = np.repeat(groups, groups)
            p = np.arange(length)
            phase = 2 * np.pi * p / length
            rows.append(np.stack([p == 0, p == beat_start, p % 2 == 0, np.sin(phase), np.cos(phase),
                                  (p - beat_start) / beat_length, np.full(length, length / 16),
                                  beat_length / 4, beat_length == 6, np.ones(length)], axis=1))
        if not rows:
            return np.zeros((0, N_FEATURES), np.float32)
        return np.concatenate(rows).astype(np.float32)

    @cached_property
    def beat_starts(self) -> np.ndarray:
        """(T,) bool: the steps where a felt beat starts (downbeats included)."""
        return self.features[:, 1] > 0.5

    @cached_property
    def step_position(self) -> np.ndarray:
        """(T,) each step's place in its bar, 0 = the downbeat (read-only: shared)."""
        position = np.arange(self.n_steps) - self.starts[self.step_bar]
        position.flags.writeable = False
        return position

    def position_in_bar(self) -> np.ndarray:
        return self.step_position


def bars_for(bars: Bars | str | tuple | None, n_steps: int) -> Bars:
    """generate's `bars`: None = 4/4 over n_steps (a multiple of 16), a meter ('3/4') = that meter
    throughout, or a Bars, whose length must be n_steps, or more with the last bar cut short (a
    window of a performance: 128 steps of 3/4 end two thirds into their 11th bar)."""
    if bars is None:
        if n_steps % H.STEPS_PER_BAR:
            raise ValueError(f"a groove of {n_steps} steps is not whole bars of 4/4 (16 steps); give its bars "
                             f"(bars='3/4' or a meter.Bars)")
        return Bars.four_four(n_steps // H.STEPS_PER_BAR)
    if not isinstance(bars, Bars):
        bars = parse_meter(bars)
        length = bar_steps(*bars)
        if n_steps % length:
            raise ValueError(f"a groove of {n_steps} steps is not whole bars of {meter_name(bars)} ({length} steps)")
        return Bars.uniform(bars, n_steps // length)
    if not bars.starts[-2] < n_steps <= bars.n_steps if bars.n_bars else n_steps != 0:
        raise ValueError(f"the bars ({bars.label()}, {bars.n_steps} steps) and the groove ({n_steps} steps) differ "
                         f"in length")
    return bars


def step_bars(bars: Bars | Sequence[Bars] | None, n_items: int, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The bar of every step of every item, (N, T) int64 (-1 past an item's bars), and the steps of
    each bar, (N, B) int64, B the most bars of any item; one Bars for all items or one per item;
    None: bars of 16 steps (the last one cut short when T is not a multiple of 16)."""
    if bars is None:
        n_bars = -(-n_steps // H.STEPS_PER_BAR)
        index = np.broadcast_to(np.arange(n_steps) // H.STEPS_PER_BAR, (n_items, n_steps))
        lengths = np.full(n_bars, H.STEPS_PER_BAR, np.int64)
        if n_steps % H.STEPS_PER_BAR:
            lengths[-1] = n_steps % H.STEPS_PER_BAR
        return np.ascontiguousarray(index), np.broadcast_to(lengths, (n_items, n_bars)).copy()
    if isinstance(bars, Bars):
        bars = [bars] * n_items
    if len(bars) != n_items:
        raise ValueError(f"bars: one Bars for every item or one each ({n_items}), got {len(bars)}")
    index = np.stack([b.bar_of_step(n_steps) for b in bars]) if n_items else np.zeros((0, n_steps), np.int64)
    n_bars = int(index.max()) + 1 if index.size else 0
    lengths = np.zeros((n_items, n_bars), np.int64)
    for i in range(n_items):
        valid = index[i] >= 0
        lengths[i] = np.bincount(index[i][valid], minlength=n_bars)
    return index, lengths


def bar_sums(x: np.ndarray, index: np.ndarray, n_bars: int) -> np.ndarray:
    """Per-step values (N, T, ...) summed over each bar -> (N, B, ...); steps with bar -1 are left out."""
    x = np.asarray(x)
    n, length = x.shape[:2]
    row = index[0] if index.ndim == 2 and len(index) else index
    valid_steps = int((row >= 0).sum())
    if index.ndim == 1 or (len(index) and (index == row).all()):  # one layout for all: bars are runs of steps
        if (row[:valid_steps] >= 0).all() and valid_steps and row[valid_steps - 1] == n_bars - 1:
            firsts = np.flatnonzero(np.diff(row[:valid_steps], prepend=-1))
            if len(firsts) == n_bars:
                return np.add.reduceat(x[:, :valid_steps].astype(np.float64), firsts, axis=1)
        index = np.broadcast_to(row, (n, length))
    out = np.zeros((n * n_bars,) + x.shape[2:], np.float64)
    valid = index >= 0
    flat = (np.arange(n)[:, None] * n_bars + index)[valid]
    np.add.at(out, flat, x[valid])
    return out.reshape((n, n_bars) + x.shape[2:])


def per_step(per_bar: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Per-bar values (N, B, ...) -> the value of each step's bar (N, T, ...); steps with bar -1 get
    the zero (False, 0) of the dtype."""
    per_bar = np.asarray(per_bar)
    n = per_bar.shape[0]
    safe = np.clip(index, 0, max(per_bar.shape[1] - 1, 0))
    out = per_bar[np.arange(n)[:, None], safe] if per_bar.shape[1] else np.zeros(index.shape + per_bar.shape[2:],
                                                                                 per_bar.dtype)
    valid = (index >= 0).reshape(index.shape + (1,) * (per_bar.ndim - 2))
    return np.where(valid, out, np.zeros((), per_bar.dtype))
