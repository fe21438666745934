"""How well a model edits a take: the figures of regenerating bars and locking voices, for any checkpoint.

    python -m drumgen.edit_figures CKPT [CKPT ...] --data groove-v1.0.0-midionly.zip [--split test] [--limit N]

On the split's 8-bar windows (the fidelity script's), the take is the true drums and the groove
their monotonic groove; every model is called through `generate(groove, keep=take, keep_mask=mask)`:

1. kept cells: the share of kept cells that come out exactly as the take has them (must be 1);
2. regenerate two bars (bars 3-4, then bars 7-8) with the other six true: hit F1 in those bars,
   beside the same bars generated with no drums known, and beside copying other bars of the take
   into them (the two bars before; bars 5-6), which a model that hears the take should beat;
3. lock kick and snare (true) and regenerate the rest: F1 of the other voices, beside their F1
   with nothing known;
4. seams: F1 of each 2-bar span across a boundary between regenerated and kept bars, beside the
   F1 of the regenerated bars themselves.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from . import hvo as H
from .fidelity import N_BARS, spread, window_parser
from .metrics import score
from .takes import keep_mask

BAR = H.STEPS_PER_BAR
REGENERATED = ((2, 3), (6, 7))  # 0-based: bars 3-4 and bars 7-8
LOCKED = ("kick", "snare")


def bars_of(hvo: np.ndarray, bars) -> np.ndarray:
    """The steps of some bars of every window, joined: (N, len(bars) * 16, 27)."""
    return np.concatenate([hvo[:, b * BAR:(b + 1) * BAR] for b in bars], axis=1)


def f1(pred: np.ndarray, true: np.ndarray) -> float:
    return score(pred, true)["f1"]


def voices_f1(pred: np.ndarray, true: np.ndarray, voices) -> float:
    """Hit F1 of some voices only (the other voices' hits blanked on both sides)."""
    keep = np.zeros(H.N_VOICES, bool)
    keep[[H.VOICES.index(v) for v in voices]] = True
    mask = np.tile(keep, 3)
    return f1(pred * mask, true * mask)


def edit_figures(model, true_hvo: np.ndarray, seed: int = 0, temperature: float = 1.0, batch: int = 256) -> dict:
    """Every figure of one model (anything with `generate(groove, keep=, keep_mask=, seed=, temperature=)`)."""
    groove = H.hvo_to_groove(true_hvo)
    n, length, _ = true_hvo.shape

    def generate(mask: np.ndarray | None) -> np.ndarray:
        out = []
        for start in range(0, n, batch):
            part = slice(start, start + batch)
            items = len(true_hvo[part])
            extra = {} if mask is None else {"keep": true_hvo[part], "keep_mask": np.broadcast_to(mask, (items, *mask.shape))}
            out.append(model.generate(groove[part], seed=seed, temperature=temperature, **extra))
        return np.concatenate(out)

    free = generate(None)
    figures: dict = {"windows": int(n), "kept_cells": 0, "kept_identical": 0}

    def count_kept(out: np.ndarray, mask: np.ndarray) -> None:
        cells = np.broadcast_to(np.tile(mask, 3), out.shape)
        figures["kept_cells"] += int(cells.sum())
        figures["kept_identical"] += int((out[cells] == true_hvo[cells]).sum())

    for bars in REGENERATED:
        mask = keep_mask(length, regenerate=list(bars))
        out = generate(mask)
        count_kept(out, mask)
        first, last = bars[0], bars[-1]
        key = f"bars_{first + 1}_{last + 1}"
        before = [first - 2, first - 1]
        copies = {"copy_two_bars_before": bars_of(true_hvo, before) if first >= 2 else None,
                  "copy_bars_5_6": bars_of(true_hvo, [4, 5])}
        truth = bars_of(true_hvo, bars)
        figures[key] = {"f1_regenerated": f1(bars_of(out, bars), truth), "f1_nothing_known": f1(bars_of(free, bars), truth),
                        **{k: f1(v, truth) for k, v in copies.items() if v is not None}}
        seams = [(first - 1, first)] + ([(last, last + 1)] if last + 1 < length // BAR else [])
        figures[key]["seams_f1"] = {f"bars_{a + 1}_{b + 1}": f1(bars_of(out, [a, b]), bars_of(true_hvo, [a, b]))
                                    for a, b in seams}
    mask = keep_mask(length, regenerate=None, lock=list(LOCKED))
    out = generate(mask)
    count_kept(out, mask)
    others = [v for v in H.VOICES if v not in LOCKED]
    figures["lock_kick_snare"] = {"f1_other_voices": voices_f1(out, true_hvo, others),
                                  "f1_other_voices_nothing_known": voices_f1(free, true_hvo, others)}
    figures["kept_share"] = figures["kept_identical"] / max(figures["kept_cells"], 1)
    return figures


def format_report(results: dict[str, dict]) -> str:
    names = list(results)
    rows = [("kept cells identical (share)", lambda r: r["kept_share"])]
    for first, last in ((b[0] + 1, b[-1] + 1) for b in REGENERATED):
        key = f"bars_{first}_{last}"
        rows += [(f"bars {first}-{last} regenerated, the rest true: F1", lambda r, k=key: r[k]["f1_regenerated"]),
                 ("  the same bars with nothing known", lambda r, k=key: r[k]["f1_nothing_known"]),
                 ("  copying bars 5-6 into them", lambda r, k=key: r[k]["copy_bars_5_6"])]
        if first > 2 and first - 2 != 5:  # bars 5-6 are already a row
            rows.append((f"  copying bars {first - 2}-{first - 1} into them",
                         lambda r, k=key: r[k]["copy_two_bars_before"]))
        rows.append(("  seams (2-bar spans across the boundaries)",
                     lambda r, k=key: min(r[k]["seams_f1"].values())))
    rows += [("kick and snare locked, the rest new: F1 of the others", lambda r: r["lock_kick_snare"]["f1_other_voices"]),
             ("  the other voices with nothing known", lambda r: r["lock_kick_snare"]["f1_other_voices_nothing_known"])]
    lines = ["| figure | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines += [f"| {label} | " + " | ".join(f"{get(results[n]):.3f}" for n in names) + " |" for label, get in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from . import data
    from .models.checkpoint import load_model

    parser = window_parser(__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    windows = data.load_split(args.split, args.data, n_bars=N_BARS)
    true_hvo = windows.hvo[spread(len(windows), args.limit)]
    results = {Path(p).stem: edit_figures(load_model(p), true_hvo, args.seed, args.temperature) for p in args.checkpoints}
    print(f"GMD {args.split}: {len(true_hvo)} windows of {N_BARS} bars, seed {args.seed}, temperature {args.temperature}")
    print(format_report(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
