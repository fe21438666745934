"""A drum part as text: a step grid for the terminal, one row a voice and one column a 16th."""
from __future__ import annotations

import numpy as np

from . import hvo as H

SHORT_NAMES = ("KD", "SD", "HH", "OH", "LT", "MT", "HT", "CR", "RD")


def hvo_to_text(hvo: np.ndarray, groove: np.ndarray | None = None, max_bars: int = 4) -> str:
    """A step grid, one row per voice (top: cymbals), one column per 16th; 'X' loud, 'x' medium, '.' soft."""
    hvo = np.asarray(hvo)[: max_bars * H.STEPS_PER_BAR]
    hits, velocities, _ = H.split_hvo(hvo)

    def cell(hit: float, velocity: float) -> str:
        if hit < 0.5:
            return "-"
        return "X" if velocity >= 0.75 else "x" if velocity >= 0.4 else "."

    def row(values_h, values_v) -> str:
        bars = ["".join(cell(h, v) for h, v in zip(values_h[b:b + 16], values_v[b:b + 16]))
                for b in range(0, len(values_h), H.STEPS_PER_BAR)]
        return "|" + "|".join(bars) + "|"

    lines = [f"{SHORT_NAMES[v]} {row(hits[:, v], velocities[:, v])}" for v in reversed(range(H.N_VOICES))]
    if groove is not None:
        groove = np.asarray(groove)[: len(hvo)]
        lines.append("in " + row(groove[:, 0], groove[:, 1]))
    return "\n".join(lines)
