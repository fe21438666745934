"""Per-bar controls: the one place that says what density, intensity, instruments and style mean.

The same code measures training targets (`measure_controls`), checks user input (`validate_controls`)
and feeds a model (`condition_array`); sampling steers drums to these same definitions
(`drumgen.sampling`), so a slider means the same thing everywhere. Per bar (of the song's meter map,
`drumgen.meter`; 16 steps in 4/4), each in [0, 1]:

* density: how busy the bar is, as a rank among GMD bars. A bar's hit count (9 voices) is mapped
  piecewise-linearly through DENSITY_TABLE, the hit counts at the 0.00, 0.05, ..., 1.00 quantiles of
  the bars (with >= 1 hit) of the GMD train performances: density 0.5 is the median bar, 0.9 is busier
  than 90% of GMD bars, 0 hits is 0.0 and the busiest bar (and above) is 1.0. Integer counts are
  spread evenly over [c - 0.5, c + 0.5] before taking quantiles, so the table is strictly increasing
  and `counts_from_density` is the exact inverse of `density_from_counts`. Density is a busyness per
  sixteenth, not per bar: a bar of L steps counts as its hits x 16 / L, so a 3/4 bar at density 0.5
  has 3/4 of the hits of a 4/4 bar at 0.5 (the same feel per beat, whatever the meter). Rebuild it with
  `python -m drumgen.data --control-tables --data groove-v1.0.0-midionly.zip`.
* intensity: mean velocity (0..1) of the bar's hits.
* instruments: each voice's share of the bar's hits (sums to 1); share exactly 0 = the voice is muted.
* style: a GMD primary style (STYLES), as an index.
* fill: 1 = the bar is a fill, 0 = a beat, as the fill judge (`drumgen.fills`) hears it; the judge
  hears bars of 16 steps, and a bar of another meter as 16 of its steps (`fills.judged_steps`); a bar
  a window's end cuts short is NaN (unknown).

"Free" (the model chooses) is NaN in a per-bar array, a missing key, or None for a style (-1 as an index).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from . import fills
from . import hvo as H
from . import meter as M

BAR = H.STEPS_PER_BAR
STYLES: tuple[str, ...] = (
    "afrobeat", "afrocuban", "blues", "country", "dance", "funk", "gospel", "highlife", "hiphop",
    "jazz", "latin", "middleeastern", "neworleans", "pop", "punk", "reggae", "rock", "soul",
)
DENSITY_LEVELS = np.linspace(0.0, 1.0, 21)
DENSITY_TABLE = np.array([  # hit counts at DENSITY_LEVELS; 17,416 GMD train bars with hits
    0.0, 8.409, 10.894, 12.271, 13.386, 14.313, 15.21, 16.0, 16.762, 17.568, 18.361,
    19.258, 20.084, 20.918, 21.846, 22.974, 24.111, 25.317, 26.817, 28.585, 45.5,
])
# Where each control sits in condition_array's vector: a value, then whether it is set (1) or free (0).
DENSITY, DENSITY_KNOWN, INTENSITY, INTENSITY_KNOWN = 0, 1, 2, 3
SHARES = slice(4, 4 + H.N_VOICES)
SHARES_KNOWN = slice(4 + H.N_VOICES, 4 + 2 * H.N_VOICES)
FILL, FILL_KNOWN = 4 + 2 * H.N_VOICES, 5 + 2 * H.N_VOICES
CONDITION_DIM = 6 + 2 * H.N_VOICES
BASE_CONDITION_DIM = FILL  # what a model made before the fill control reads: everything before FILL
CONTROL_KEYS = ("density", "intensity", "instruments", "style", "fill")
FREE_STYLES = ("any", "free", "")  # what a person types for "no style: the model chooses"


def is_free_style(style) -> bool:
    """None, 'any', 'free' or blank text: no style asked for."""
    return style is None or (isinstance(style, str) and style.strip().lower() in FREE_STYLES)


def style_index(name: str) -> int:
    """'Hip-Hop', ' funk ' -> index into STYLES (case, spaces, '-' and '_' ignored)."""
    key = re.sub(r"[\s_-]", "", str(name)).lower() if isinstance(name, str) else None
    if key not in STYLES:
        raise ValueError(f"unknown style {name!r}; known styles: {', '.join(STYLES)}")
    return STYLES.index(key)


def density_from_counts(counts) -> np.ndarray:
    """Hit counts per bar (any shape) -> density in [0, 1] (float64), increasing; NaN stays NaN."""
    return np.interp(np.asarray(counts, np.float64), DENSITY_TABLE, DENSITY_LEVELS)


def counts_from_density(density) -> np.ndarray:
    """Density (any shape) -> expected hit count of a bar (float64); inverse of density_from_counts."""
    return np.interp(np.asarray(density, np.float64), DENSITY_LEVELS, DENSITY_TABLE)


def bar_hit_counts(hvo: np.ndarray, bars: M.Bars | None = None) -> np.ndarray:
    """(..., T, 27) -> hits per bar and voice (..., B, 9); a last partial bar is zero-padded. `bars`
    (T, 27) only: the song's bars (default 16 steps each)."""
    if bars is not None:
        index, _ = M.step_bars(bars, 1, len(hvo))
        return M.bar_sums(np.asarray(hvo)[None, :, H.HITS] > 0.5, index, bars.n_bars)[0].astype(np.int64)
    hits = np.asarray(hvo)[..., H.HITS] > 0.5
    pad = -hits.shape[-2] % BAR
    hits = np.pad(hits, [(0, 0)] * (hits.ndim - 2) + [(0, pad), (0, 0)])
    return hits.reshape(*hits.shape[:-2], -1, BAR, H.N_VOICES).sum(axis=-2)


def density_table(counts) -> np.ndarray:
    """Hit counts at DENSITY_LEVELS for a sample of per-bar hit counts (bars with 0 hits ignored)."""
    counts = np.asarray(counts, np.int64).ravel()
    counts = counts[counts > 0]
    cdf = np.concatenate([[0.0], np.cumsum(np.bincount(counts)) / len(counts)])
    cdf[-1] = 1.0
    # count c is spread over [c - 0.5, c + 0.5]: invert the piecewise-linear CDF in the bin holding each level
    j = np.clip(np.searchsorted(cdf, DENSITY_LEVELS, side="left") - 1, 0, len(cdf) - 2)
    lower = np.arange(len(cdf))[j] - 0.5
    table = np.round(lower + (DENSITY_LEVELS - cdf[j]) / np.maximum(cdf[j + 1] - cdf[j], 1e-12), 3)
    table[0] = 0.0  # density 0 is an empty bar
    for i in range(1, len(table)):  # strictly increasing after rounding
        table[i] = max(table[i], round(table[i - 1] + 0.001, 3))
    return table


def measure_controls(hvo: np.ndarray, bars: M.Bars | list[M.Bars] | None = None) -> dict[str, np.ndarray]:
    """HVO (N, T, 27) or (T, 27) -> per-bar controls, float32: density (N, B), intensity (N, B) (0 for
    an empty bar), instruments (N, B, 9) (0 for an empty bar), fill (N, B) (1 = a fill, as the fill
    judge hears the bar, in any meter; NaN in a bar cut short by the window's end). bars: one Bars for every item or one
    each (a bar cut short by the window's end counts the steps it has); None: 16 steps a bar, T a
    multiple of 16."""
    hvo = np.asarray(hvo, np.float32)
    if hvo.ndim == 2:
        return {k: v[0] for k, v in measure_controls(hvo[None], bars).items()}
    if hvo.ndim != 3 or hvo.shape[-1] != H.HVO_DIM or (bars is None and hvo.shape[1] % BAR):
        raise ValueError(f"hvo must have shape (N, T, 27) with T a multiple of {BAR}, got {hvo.shape}")
    n, length, _ = hvo.shape
    if bars is None:
        hits = (hvo[..., H.HITS] > 0.5).reshape(n, length // BAR, BAR, H.N_VOICES)
        velocity = (hvo[..., H.VELOCITIES].reshape(hits.shape) * hits).sum(axis=(2, 3))
        per_voice = hits.sum(axis=2).astype(np.float64)
        steps = np.full(per_voice.shape[:2], BAR)
        fill = fills.fill_flags(hvo)
    else:
        index, steps = M.step_bars(bars, n, length)
        hits = hvo[..., H.HITS] > 0.5
        per_voice = M.bar_sums(hits, index, steps.shape[1])
        velocity = M.bar_sums((hvo[..., H.VELOCITIES] * hits).sum(-1), index, steps.shape[1])
        fill = bar_fill_flags(hvo, steps, bars)
    total = per_voice.sum(axis=-1)
    safe = np.maximum(total, 1)
    return {"density": density_from_counts(total * BAR / np.maximum(steps, 1)).astype(np.float32),
            "intensity": (velocity / safe).astype(np.float32),
            "instruments": (per_voice / safe[..., None]).astype(np.float32),
            "fill": fill}


def bar_fill_flags(hvo: np.ndarray, steps: np.ndarray, bars: M.Bars | list[M.Bars]) -> np.ndarray:
    """(N, B) float32: the fill judge on every whole bar, of any meter (fills.judged_steps says how a
    bar that is not 16 steps is heard); NaN on a bar the window's end cuts short."""
    out = np.full(steps.shape, np.nan, np.float32)
    layouts = [bars] * len(hvo) if isinstance(bars, M.Bars) else list(bars)
    whole, pieces = [], []
    for i, layout in enumerate(layouts):
        for b in range(min(layout.n_bars, steps.shape[1])):
            start, stop = int(layout.starts[b]), int(layout.starts[b + 1])
            if steps[i, b] == stop - start and stop <= hvo.shape[1]:
                whole.append((i, b))
                pieces.append(hvo[i, start:stop])
    for (i, b), f in zip(whole, fills.bar_fill_flags(pieces)):
        out[i, b] = f
    return out


def curve(points, values, n_bars: int, kind: str = "linear") -> np.ndarray:
    """(n_bars,) float64 through values at bar indices `points` (increasing): 'linear' interpolates,
    'step' holds each value until the next point; both are flat before the first and after the last."""
    points, values = np.asarray(points, np.float64).ravel(), np.asarray(values, np.float64).ravel()
    if len(points) == 0 or len(points) != len(values):
        raise ValueError(f"curve needs as many values as points (at least one), got {len(points)} and {len(values)}")
    if (np.diff(points) <= 0).any():
        raise ValueError(f"curve points must be strictly increasing bar indices, got {points.tolist()}")
    bars = np.arange(n_bars)
    if kind == "linear":
        return np.interp(bars, points, values)
    if kind == "step":
        return values[np.clip(np.searchsorted(points, bars, side="right") - 1, 0, None)]
    raise ValueError(f"curve kind must be 'linear' or 'step', got {kind!r}")


def ramp(start: float, end: float, n_bars: int) -> np.ndarray:
    """(n_bars,) linear from start (first bar) to end (last bar)."""
    return curve([0, max(n_bars - 1, 1)], [start, end], n_bars)


def style_curve(points, names, n_bars: int) -> list[str | None]:
    """Per-bar style names (None = free), each held from its bar until the next point."""
    names = list(names)
    for name in names:
        if name is not None:
            style_index(name)
    index = curve(points, np.arange(len(names)), n_bars, kind="step").astype(int)
    return [names[i] for i in index]


@dataclass
class Controls:
    """Validated controls of a batch: density, intensity, fill (N, B) float32, instruments (N, B, 9)
    float32, NaN = free; style (N, B) int64, -1 = free. Build with validate_controls."""

    density: np.ndarray
    intensity: np.ndarray
    instruments: np.ndarray
    style: np.ndarray
    fill: np.ndarray | None = None  # None: every bar free

    def __post_init__(self) -> None:
        if self.fill is None:
            self.fill = np.full(self.density.shape, np.nan, np.float32)

    @property
    def shape(self) -> tuple[int, int]:
        return self.density.shape

    @classmethod
    def free(cls, n_items: int, n_bars: int) -> Controls:
        nan = np.full((n_items, n_bars), np.nan, np.float32)
        return cls(nan, nan.copy(), np.full((n_items, n_bars, H.N_VOICES), np.nan, np.float32),
                   np.full((n_items, n_bars), -1, np.int64), nan.copy())

    def bars(self, start: int, stop: int) -> Controls:
        """Bars start..stop-1 (a copy), e.g. for one window of a long song."""
        return Controls(*(getattr(self, k)[:, start:stop].copy() for k in CONTROL_KEYS))

    def padded(self, n_bars: int) -> Controls:
        """The same with free bars appended up to n_bars (a song's last, shorter window)."""
        if n_bars < self.shape[1]:
            raise ValueError(f"cannot pad {self.shape[1]} bars to {n_bars}")
        out = Controls.free(self.shape[0], n_bars)
        for k in CONTROL_KEYS:
            getattr(out, k)[:, :self.shape[1]] = getattr(self, k)
        return out

    def any_set(self) -> bool:
        return bool(np.isfinite(self.density).any() or np.isfinite(self.intensity).any()
                    or np.isfinite(self.instruments).any() or (self.style >= 0).any() or np.isfinite(self.fill).any())

    def is_free(self) -> bool:
        return not self.any_set()


def _numbers(name: str, value, n: int, b: int, tail: tuple = ()) -> np.ndarray:
    """A value, per-bar values or per-item-and-bar values -> (n, b, *tail) float32, checked."""
    shapes = [tail, (b, *tail), (n, b, *tail)]
    expected = " or ".join(str(s) if s else "a number" for s in shapes)
    if value is None:
        return np.full((n, b, *tail), np.nan, np.float32)
    try:
        array = H.real_array(value, name)
    except ValueError:  # booleans, text, complex, ragged: not silently read as numbers
        raise ValueError(f"{name}: expected numbers in [0, 1] (NaN = free) shaped {expected}") from None
    if array.shape not in shapes:
        raise ValueError(f"{name}: expected {expected} for {n} items x {b} bars, got shape {array.shape}")
    if np.isinf(array).any() or (array < 0).any() or (array > 1).any():
        bad = array[np.isinf(array) | (array < 0) | (array > 1)][0]
        raise ValueError(f"{name}: values must be in [0, 1] (NaN = free), got {bad:g}")
    return np.broadcast_to(array, (n, b, *tail)).astype(np.float32)


def _styles(value, n: int, b: int) -> np.ndarray:
    """None | name | B names | N lists of B names (None = free) | int array -> (n, b) int64, -1 = free."""
    if value is None or isinstance(value, str):
        return np.full((n, b), -1 if value is None else style_index(value), np.int64)
    if isinstance(value, np.ndarray) and value.dtype.kind in "iu":
        if value.shape not in ((), (b,), (n, b)) or ((value < -1) | (value >= len(STYLES))).any():
            raise ValueError(f"style: index arrays must be (), ({b},) or ({n}, {b}) in -1..{len(STYLES) - 1}")
        return np.broadcast_to(value, (n, b)).astype(np.int64)
    ordered = hasattr(value, "__len__") and not isinstance(value, (set, frozenset, dict, bytes))  # bars in order
    items = value.tolist() if isinstance(value, np.ndarray) else list(value) if ordered else []
    if len(items) == b and all(x is None or isinstance(x, str) for x in items):
        return np.broadcast_to(np.array([-1 if x is None else style_index(x) for x in items], np.int64), (n, b)).copy()
    if len(items) == n and all(not isinstance(x, str) and hasattr(x, "__len__") and len(x) == b for x in items):
        return np.concatenate([_styles(list(x), 1, b) for x in items])
    raise ValueError(f"style: expected a name or None, {b} names (one a bar), or {n} lists of {b} names; "
                     f"known styles: {', '.join(STYLES)}")


def validate_controls(controls: dict | Controls | None, n_items: int, n_bars: int) -> Controls:
    """Any accepted form -> Controls for n_items x n_bars; ValueError naming the control otherwise.

    density / intensity / fill: a number, B numbers or (N, B) (fill: 1 = a fill, 0 = none);
    instruments: 9 shares, (B, 9), (N, B, 9), or
    {voice: number or B numbers} (missing voices free); style: see _styles. None = free.
    """
    if controls is None:
        return Controls.free(n_items, n_bars)
    if isinstance(controls, Controls):
        controls = {k: getattr(controls, k) for k in CONTROL_KEYS}
    if not isinstance(controls, dict):
        raise ValueError(f"controls must be a dict with keys {CONTROL_KEYS} or Controls, got {type(controls).__name__}")
    unknown = set(controls) - set(CONTROL_KEYS)
    if unknown:
        raise ValueError(f"unknown controls {sorted(map(str, unknown))}; known: {', '.join(CONTROL_KEYS)}")
    n, b = n_items, n_bars
    instruments = controls.get("instruments")
    if isinstance(instruments, dict):
        bad = [v for v in instruments if v not in H.VOICES]
        if bad:
            raise ValueError(f"instruments: unknown voices {bad}; voices: {', '.join(H.VOICES)}")
        instruments = np.stack([_numbers(f"instruments[{v}]", instruments.get(v), n, b) for v in H.VOICES], axis=-1)
    fill = _numbers("fill", controls.get("fill"), n, b)
    odd = np.isfinite(fill) & (fill != 0) & (fill != 1)
    if odd.any():
        raise ValueError(f"fill: 1 (a fill), 0 (no fill) or NaN (the model decides), got {fill[odd][0]:g}")
    return Controls(_numbers("density", controls.get("density"), n, b),
                    _numbers("intensity", controls.get("intensity"), n, b),
                    _numbers("instruments", instruments, n, b, (H.N_VOICES,)),
                    _styles(controls.get("style"), n, b), fill)


def controls_from_measure(measured: dict, styles=None) -> Controls:
    """measure_controls output (N, B[, 9]) + per-item style names (N,) (None = free) -> Controls."""
    density = np.asarray(measured["density"])
    n, b = density.shape
    style = None if styles is None else [[s] * b for s in styles]
    return validate_controls({**{k: measured[k] for k in ("density", "intensity", "instruments", "fill") if k in measured},
                              "style": style}, n, b)


def condition_array(c: Controls) -> tuple[np.ndarray, np.ndarray]:
    """Model input: float32 (N, B, CONDITION_DIM), each control's value and whether it is set where
    DENSITY ... SHARES_KNOWN say (free values as 0, known as 0/1), and style indices (N, B) int64
    with free = len(STYLES) ('any')."""
    cond = np.zeros((*c.shape, CONDITION_DIM), np.float32)
    for values, at, known_at in ((c.density, DENSITY, DENSITY_KNOWN), (c.intensity, INTENSITY, INTENSITY_KNOWN),
                                 (c.instruments, SHARES, SHARES_KNOWN), (c.fill, FILL, FILL_KNOWN)):
        known = np.isfinite(values)
        cond[..., at], cond[..., known_at] = np.where(known, values, 0.0), known
    return cond, np.where(c.style < 0, len(STYLES), c.style).astype(np.int64)


def drop_controls(c: Controls, rng: np.random.Generator, p: float) -> Controls:
    """Training dropout: per item, free density, intensity, style and fill with chance p, and all shares
    together with chance p; otherwise (when p > 0) each voice's share is freed at a rate drawn per
    item from U(0, 1), so a model also learns from bars where only one or two voices are set (a
    musician mutes the ride and leaves the rest to the model). Returns a copy, so every control
    is also learnt free."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"drop probability must be in [0, 1], got {p}")
    n = c.shape[0]
    drop = {k: rng.random(n) < p for k in ("density", "intensity", "style")}
    voice_rate = rng.random(n) if p > 0 else np.zeros(n)
    voices = (rng.random((n, H.N_VOICES)) < voice_rate[:, None]) | (rng.random(n) < p)[:, None]
    return Controls(np.where(drop["density"][:, None], np.nan, c.density).astype(np.float32),
                    np.where(drop["intensity"][:, None], np.nan, c.intensity).astype(np.float32),
                    np.where(voices[:, None, :], np.nan, c.instruments).astype(np.float32),
                    np.where(drop["style"][:, None], -1, c.style).astype(np.int64),
                    np.where((rng.random(n) < p)[:, None], np.nan, c.fill).astype(np.float32))


def per_step(per_bar: np.ndarray, bars: M.Bars | None = None, n_steps: int | None = None) -> np.ndarray:
    """Per-bar values (N, B, ...) -> the same on every step of each bar (N, T, ...); T = the bars'
    steps (default 16 a bar), or n_steps (cut, or padded with zeros)."""
    if bars is None:
        out = np.repeat(per_bar, BAR, axis=1)
    else:
        out = np.repeat(per_bar, bars.lengths[:per_bar.shape[1]], axis=1)
    if n_steps is not None:
        pad = max(n_steps - out.shape[1], 0)
        out = np.pad(out, [(0, 0), (0, pad)] + [(0, 0)] * (out.ndim - 2))[:, :n_steps]
    return out
