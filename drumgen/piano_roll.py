"""A piano-roll picture of a drum part and its groove (matplotlib, Agg backend, no display needed)::

    fig = piano_roll(drums_hvo, groove, title="funk_bass.mid")   # matplotlib Figure
    fig = piano_roll(drums_hvo, groove, bars=song.bars)           # in the song's bars (3/4, 7/8, changes)
    png = figure_to_png(fig)                                      # PNG bytes; the figure is closed
"""
from __future__ import annotations

import io
import math
import sys
import threading
from typing import TYPE_CHECKING

import numpy as np

from . import hvo as H
from . import meter as M

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

# Rows from the bottom up: kick, snare and toms low, then hats and cymbals on top.
ROLL_ORDER = ("kick", "snare", "low_tom", "mid_tom", "high_tom", "closed_hat", "open_hat", "ride", "crash")
GROOVE_LABEL = "Groove (input)"
METER_GID = "meter"   # the gid of the meter labels drawn where the meter is (or changes), songs not all in 4/4
BARS_PER_SYSTEM = 8   # a long song wraps into systems (lines) of this many bars, like a score
MAX_SYSTEMS = 8       # ... and at most this many lines: longer songs put more bars on each line
_DRUM_CMAP = "Blues"
_GROOVE_CMAP = "Oranges"
_NOTE_WIDTH = 0.8     # in 16th steps
_NOTE_HEIGHT = 0.72   # in rows
FIGURE_LOCK = threading.Lock()  # matplotlib's text and font caches are not made for threads: the page draws under it


def _layout(n_bars: int, bars_per_system: int, max_systems: int) -> tuple[int, int]:
    """(bars per system, number of systems) for a song of n_bars."""
    per = max(1, min(bars_per_system, n_bars))
    systems = math.ceil(n_bars / per)
    if systems > max_systems:
        per = math.ceil(n_bars / max_systems)
        systems = math.ceil(n_bars / per)
    return per, systems


def _label_every(bars_per_system: int) -> int:
    """Bar numbers on every bar up to 16 bars a line, then every 2nd, 4th, ... (about 16 a line)."""
    every = 1
    while bars_per_system / every > 16:
        every *= 2
    return every


def _song_bars(bars: M.Bars | None, n_steps: int) -> M.Bars:
    """The bars drawn: the song's (bars of 16 steps past them, when the part is longer), or 4/4."""
    if bars is None:
        return M.Bars.four_four(math.ceil(n_steps / H.STEPS_PER_BAR))
    if n_steps > bars.n_steps:
        bars = bars + M.Bars.four_four(math.ceil((n_steps - bars.n_steps) / H.STEPS_PER_BAR))
    return bars


def piano_roll(drums_hvo: np.ndarray, groove: np.ndarray | None = None, title: str | None = None,
               bars_per_system: int = BARS_PER_SYSTEM, max_systems: int = MAX_SYSTEMS,
               bars: M.Bars | None = None) -> Figure:
    """A piano roll of a drum part (T, 27), with the groove (T, 3) as its own lane at the bottom.

    One row per voice (kick at the bottom, cymbals on top), one mark per hit: it starts at
    step + micro-timing offset (so a hit ahead of or behind the beat sits off the 16th grid line)
    and its colour shows the velocity (darker = louder). Bar lines carry 1-based bar numbers;
    beats and 16ths are gridlines. Songs longer than `bars_per_system` bars wrap onto several
    lines (at most `max_systems`, then each line holds more bars), each line a whole number of bars.

    bars: the song's bars (meter.Bars; None: 4/4, 16 steps a bar): bar lines at the bars' starts,
    beat lines at their felt beats (meter.beat_groups), and, for a song not all in 4/4, the meter
    over the first bar and where it changes.

    The figure is a plain matplotlib Figure on the Agg canvas (not registered with pyplot, so
    nothing accumulates); `figure_to_png` turns it into PNG bytes.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    drums = np.asarray(drums_hvo, dtype=np.float32)
    if drums.ndim != 2 or drums.shape[1] != H.HVO_DIM:
        raise ValueError(f"drums_hvo must have shape (T, {H.HVO_DIM}), got {drums.shape}")
    if groove is not None:
        groove = np.asarray(groove, dtype=np.float32)
        if groove.ndim != 2 or groove.shape[1] != H.GROOVE_DIM:
            raise ValueError(f"groove must have shape (T, {H.GROOVE_DIM}), got {groove.shape}")
    n_steps = max(len(drums), len(groove) if groove is not None else 0, 1)
    bars = _song_bars(bars, n_steps)
    n_bars = bars.n_bars
    starts = [int(x) for x in bars.starts]
    per, n_systems = _layout(n_bars, bars_per_system, max_systems)
    system_starts = [starts[min(s * per, n_bars)] for s in range(n_systems + 1)]  # each line a run of whole bars
    steps_per_system = max(b - a for a, b in zip(system_starts, system_starts[1:]))  # the widest line sets the scale
    every = _label_every(per)
    beat_set = set(np.flatnonzero(bars.beat_starts).tolist())
    changes = [] if bars.is_four_four else [b for b in range(n_bars) if b == 0 or bars.meters[b] != bars.meters[b - 1]]

    # rows: drums 0..8 from the bottom up, the groove lane below them (with a gap)
    voice_rows = {H.VOICES.index(v): r for r, v in enumerate(ROLL_ORDER)}
    groove_y = -1.5
    labels = [H.VOICE_LABELS[v] for v in ROLL_ORDER]
    ticks = list(range(H.N_VOICES))
    if groove is not None:
        labels = [GROOVE_LABEL, *labels]
        ticks = [groove_y, *ticks]
    y_low = (groove_y if groove is not None else 0) - 0.6

    # marks: (x, y, velocity) for the drums and the groove
    hits, velocities, offsets = H.split_hvo(drums)
    steps, voices = np.nonzero(hits > 0.5)
    d_x = steps + offsets[steps, voices]
    d_y = np.array([voice_rows[v] for v in voices], dtype=np.float32)
    d_v = velocities[steps, voices]
    if groove is not None:
        g_steps = np.nonzero(groove[:, 0] > 0.5)[0]
        g_x, g_v = g_steps + groove[g_steps, 2], groove[g_steps, 1]
    else:
        g_x = g_v = np.zeros(0, np.float32)

    # size: about 1.35 inches a bar, 8 to 22 inches wide; 0.27 inch a row. Margins are fixed in
    # inches (no layout engine: constrained layout is slow on a figure of many bars).
    width = float(np.clip(2.2 + 1.35 * steps_per_system / H.STEPS_PER_BAR, 8.0, 22.0))
    rows_height = 0.27 * (H.N_VOICES + (2 if groove is not None else 0)) + 0.55
    top, bottom, gap = (0.45 if title else 0.25 if changes else 0.12), 0.42, 0.3  # room for a meter over bar 1
    height = rows_height * n_systems + top + bottom
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    left, right = 1.0, 1.05
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height, bottom=bottom / height,
                        hspace=gap / (rows_height - gap) if n_systems > 1 else 0.0)
    axes = fig.subplots(n_systems, 1, squeeze=False)[:, 0]
    norm = Normalize(0.0, 1.0)
    drum_cmap = _truncated_cmap(_DRUM_CMAP, 0.35, 1.0)
    groove_cmap = _truncated_cmap(_GROOVE_CMAP, 0.35, 1.0)

    def boxes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x0, x1 = x, x + _NOTE_WIDTH
        y0, y1 = y - _NOTE_HEIGHT / 2, y + _NOTE_HEIGHT / 2
        return np.stack([np.stack([x0, y0], -1), np.stack([x0, y1], -1),
                         np.stack([x1, y1], -1), np.stack([x1, y0], -1)], axis=1)

    def vlines(ax, xs, y0: float, y1: float, **style) -> None:
        """Vertical lines at xs from y0 to y1 (data) as ONE Line2D (NaN-separated), not one artist each."""
        xs = np.asarray(list(xs), np.float64)
        if len(xs):
            ax.plot(np.repeat(xs, 3), np.tile([y0, y1, np.nan], len(xs)), scalex=False, scaley=False, **style)

    for s, ax in enumerate(axes):
        start, last = system_starts[s], system_starts[s + 1]  # the line's first step and its end
        end = start + steps_per_system
        x_lim = (start - 0.6, end + 0.2)
        y_lim = (y_low, H.N_VOICES - 0.4)
        ax.set_xlim(*x_lim)
        ax.set_ylim(*y_lim)
        # shading every other drum row, and the groove lane, up to the song's end
        x_end = last + 0.2
        for r in range(0, H.N_VOICES, 2):
            ax.add_patch(Rectangle((x_lim[0], r - 0.5), x_end - x_lim[0], 1.0, color="#f3f4f6", lw=0, zorder=0))
        if groove is not None:
            ax.add_patch(Rectangle((x_lim[0], groove_y - 0.5), x_end - x_lim[0], 1.0, color="#fff4e8", lw=0, zorder=0))
            ax.plot([x_lim[0], x_end], [-0.5, -0.5], color="#9ca3af", lw=0.8, zorder=1, scalex=False, scaley=False)
        # grid: 16ths (only where they are wide enough), beats, bars
        line_bars = range(min(s * per, n_bars), min((s + 1) * per, n_bars))
        bar_lines = {starts[b] for b in line_bars} | {last}
        if steps_per_system <= 8 * H.STEPS_PER_BAR:
            vlines(ax, (x for x in range(start, last) if x not in beat_set), *y_lim, color="#e5e7eb", lw=0.5, zorder=1)
        vlines(ax, (x for x in range(start, last) if x in beat_set and x not in bar_lines), *y_lim,
               color="#c7cbd1", lw=0.8, zorder=1)
        vlines(ax, sorted(bar_lines), *y_lim, color="#4b5563", lw=1.2, zorder=1)
        # the marks of this system (a hit pushed across the line stays on its own line)
        for x, y, v, cmap in ((d_x, d_y, d_v, drum_cmap),
                              (g_x, np.full(len(g_x), groove_y, np.float32), g_v, groove_cmap)):
            keep = (x >= start - 0.5) & (x < last - 0.5) if s < n_systems - 1 else (x >= start - 0.5)
            if s == 0:
                keep |= x < start
            if not keep.any():
                continue
            colors = cmap(norm(v[keep]))
            colors[:, 3] = 0.45 + 0.55 * np.clip(v[keep], 0, 1)
            ax.add_collection(PolyCollection(boxes(x[keep], y[keep]), facecolors=colors,
                                             edgecolors=(0.1, 0.1, 0.15, 0.55), linewidths=0.4, zorder=3),
                              autolim=False)
        # axes: voice names left, bar numbers at the bar lines
        ax.set_yticks(ticks, labels, fontsize=8)
        numbered = [b for b in line_bars if b % every == 0]
        ax.set_xticks([starts[b] for b in numbered], [str(b + 1) for b in numbered], fontsize=8)
        for b in (b for b in changes if b in line_bars):  # the meter, over the bar where it starts
            ax.text(starts[b] + 0.15, 1.0, M.meter_name(bars.meters[b]), transform=ax.get_xaxis_transform(),
                    fontsize=7, fontweight="bold", color="#4b5563", ha="left", va="bottom", gid=METER_GID)
        ax.tick_params(axis="both", length=0, pad=3)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.spines["bottom"].set_color("#9ca3af")
    axes[-1].set_xlabel("bar", fontsize=8, labelpad=2)
    bar = fig.colorbar(ScalarMappable(norm, drum_cmap), ax=list(axes), fraction=0.015, pad=0.01,
                       shrink=min(0.8, 1.6 / n_systems), anchor=(0.0, 1.0), aspect=12)
    bar.set_label("velocity (darker = louder)", fontsize=8)
    bar.set_ticks([0, 0.5, 1], labels=["0", "64", "127"], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.08 / height, va="top")
    return fig


def _truncated_cmap(name: str, low: float, high: float):
    from matplotlib import colormaps
    from matplotlib.colors import LinearSegmentedColormap

    base = colormaps[name]
    return LinearSegmentedColormap.from_list(f"{name}_{low}_{high}", base(np.linspace(low, high, 64)))


def figure_to_png(fig: Figure, dpi: int = 100, close: bool = True) -> bytes:
    """PNG bytes of a figure; closes it afterwards (also when pyplot made it) unless close=False."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    finally:
        if close:
            close_figure(fig)
    return buffer.getvalue()


def close_figure(fig: Figure) -> None:
    """Release a figure: drop it from pyplot's registry when pyplot knows it, and clear it."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)
    fig.clear()
