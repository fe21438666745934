"""A drum part as text: a step grid for the terminal, one row a voice and one column a 16th."""
from __future__ import annotations

import math

import numpy as np

from . import hvo as H
from . import meter as M

SHORT_NAMES = ("KD", "SD", "HH", "OH", "LT", "MT", "HT", "CR", "RD")


def hvo_to_text(hvo: np.ndarray, groove: np.ndarray | None = None, max_bars: int = 4,
                bars: M.Bars | None = None) -> str:
    """A step grid, one row per voice (top: cymbals), one column per 16th; 'X' loud, 'x' medium, '.' soft.

    bars: the song's bars (meter.Bars; None: 4/4, 16 steps a bar; bars of 16 steps past them when
    the part is longer): a '|' at each bar's start, and for a song not all in 4/4 a first line with
    the meter over the first bar and wherever it changes."""
    hvo = np.asarray(hvo)
    if bars is None or len(hvo) > bars.n_steps:
        rest = len(hvo) - (0 if bars is None else bars.n_steps)
        bars = (bars or M.Bars(())) + M.Bars.four_four(math.ceil(rest / H.STEPS_PER_BAR))
    shown = bars.slice(0, max_bars)
    hvo = hvo[: shown.n_steps]
    edges = [int(x) for x in shown.starts if x < len(hvo)] + [len(hvo)]
    hits, velocities, _ = H.split_hvo(hvo)

    def cell(hit: float, velocity: float) -> str:
        if hit < 0.5:
            return "-"
        return "X" if velocity >= 0.75 else "x" if velocity >= 0.4 else "."

    def row(values_h, values_v) -> str:
        cells = [cell(h, v) for h, v in zip(values_h, values_v)]
        return "|" + "|".join("".join(cells[a:b]) for a, b in zip(edges, edges[1:])) + "|"

    lines = [f"{SHORT_NAMES[v]} {row(hits[:, v], velocities[:, v])}" for v in reversed(range(H.N_VOICES))]
    if groove is not None:
        groove = np.asarray(groove)[: len(hvo)]
        lines.append("in " + row(groove[:, 0], groove[:, 1]))
    if not bars.is_four_four:  # the meter over the first bar and where it changes: '   |3/4         |   ...'
        labels = [M.meter_name(m) if b == 0 or m != shown.meters[b - 1] else ""
                  for b, m in enumerate(shown.meters[: len(edges) - 1])]
        lines.insert(0, "   |" + "|".join(label[: b - a].ljust(b - a) for label, a, b in zip(labels, edges, edges[1:])) + "|")
    return "\n".join(lines)
