"""Bars as musicians type them and read them: '5-8, 12' in, 'bars 5–8 and 12' out (1-based, as
counted on a page or in a DAW; 0-based inside drumgen)."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import numpy as np


def parse_bars(text: str | int | Iterable[int] | None, n_bars: int) -> list[int]:
    """'5-8, 12' (1-based, as a musician counts), a bar number or a list of them -> sorted 0-based
    bar indices; '' or None -> none; 'all' -> every bar. ValueError for a bar outside the song."""
    if text is None:
        return []
    if isinstance(text, bool):
        raise ValueError(f"bars: expected bar numbers such as '5-8, 12', got {text!r}")
    if isinstance(text, (int, np.integer)):
        numbers = [int(text)]
    elif isinstance(text, str):
        spec = text.strip().lower()
        if spec in ("", "none"):
            return []
        if spec == "all":
            return list(range(n_bars))
        numbers = []
        for part in re.split(r"[,;\s]+", re.sub(r"\s*[-–]\s*", "-", spec)):
            if not part:
                continue
            found = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
            if not found:
                raise ValueError(f"bars: expected bar numbers such as '5-8, 12', got {text!r}")
            first, last = int(found.group(1)), int(found.group(2) or found.group(1))
            if last < first:
                raise ValueError(f"bars: {part} runs backwards; write {last}-{first}")
            numbers.extend(range(first, last + 1))
    elif isinstance(text, Iterable) and not isinstance(text, Mapping):
        numbers = []
        for x in text:
            if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
                raise ValueError(f"bars: expected whole bar numbers, got {x!r}")
            numbers.append(int(x))
    else:
        raise ValueError(f"bars: expected bar numbers such as '5-8, 12', got {type(text).__name__}")
    if any(b < 1 for b in numbers):
        raise ValueError("bars count from 1, as a musician counts them: bar 0 is not a bar")
    outside = [b for b in numbers if not 1 <= b <= n_bars]
    if outside:
        raise ValueError(f"bar {outside[0]} is outside the song: it has {n_bars} bar{'s' if n_bars != 1 else ''} "
                         f"(1 to {n_bars})")
    return sorted({b - 1 for b in numbers})


def bar_ranges(bars) -> str:
    """[0, 1, 2, 5, 7, 8] -> '1–3, 6, 8–9' (1-based)."""
    bars = sorted(int(b) for b in bars)
    parts, start = [], None
    for i, b in enumerate(bars):
        if start is None:
            start = b
        if i + 1 == len(bars) or bars[i + 1] != b + 1:
            parts.append(f"{start + 1}" if start == b else f"{start + 1}–{b + 1}")
            start = None
    return ", ".join(parts)


def in_bars(bars) -> str:
    """'in bar 3' or 'in bars 1–3, 6'."""
    bars = list(bars)
    return f"in bar{'s' if len(bars) > 1 else ''} {bar_ranges(bars)}"
