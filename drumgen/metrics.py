"""Hit, velocity and timing figures of drums against the truth, and rank statistics: numpy only, so
training, evaluation and the fidelity script score the same way without importing a model."""
from __future__ import annotations

import numpy as np

from . import hvo as H


def f1(tp, fp, fn):
    """Hit F1 from counts (numbers, or arrays of them: one F1 each)."""
    return 2 * tp / np.maximum(2 * tp + fp + fn, 1e-9)


def swingness(hvo: np.ndarray) -> float:
    """Mean over windows of 2 x the mean positive offset of hits on odd 16th steps (0 when none)."""
    hits, _, offsets = H.split_hvo(hvo)
    odd = np.arange(hvo.shape[1]) % 2 == 1
    values = []
    for h, o in zip(hits[:, odd] > 0.5, offsets[:, odd]):
        late = o[h & (o > 0)]
        values.append(2 * late.mean() if len(late) else 0.0)
    return float(np.mean(values))


def offset_std(hvo: np.ndarray) -> float:
    """Mean over windows (with a hit) of the standard deviation of the offsets of its hits."""
    hits, _, offsets = H.split_hvo(hvo)
    values = [o[h > 0.5].std() for h, o in zip(hits, offsets) if (h > 0.5).any()]
    return float(np.mean(values)) if values else 0.0


def score(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Hit, velocity and timing figures of generated drums against the truth, both (N, T, 27)."""
    ph, pv, po = H.split_hvo(pred)
    th, tv, to = H.split_hvo(true)
    ph, th = ph > 0.5, th > 0.5
    tp, fp, fn = (ph & th), (ph & ~th), (~ph & th)
    out: dict[str, float] = {
        "precision": float(tp.sum() / max(ph.sum(), 1)),
        "recall": float(tp.sum() / max(th.sum(), 1)),
        "f1": f1(tp.sum(), fp.sum(), fn.sum()),
    }
    for v, name in enumerate(H.VOICES):
        out[f"f1_{name}"] = f1(tp[..., v].sum(), fp[..., v].sum(), fn[..., v].sum())
    per_window = [f1(a.sum(), b.sum(), c.sum()) for a, b, c in zip(tp, fp, fn)]
    out["window_f1_mean"] = float(np.mean(per_window))
    out["window_f1_median"] = float(np.median(per_window))
    out["velocity_mae_tp"] = float(np.abs(pv - tv)[tp].mean()) if tp.any() else float("nan")
    out["offset_mae_tp"] = float(np.abs(po - to)[tp].mean()) if tp.any() else float("nan")
    out["hit_ratio"] = float(ph.sum() / max(th.sum(), 1))
    out["offset_std"] = offset_std(pred)
    out["swingness"] = swingness(pred)
    out["true_offset_std"] = offset_std(true)
    out["true_swingness"] = swingness(true)
    return out


def ranks(x) -> np.ndarray:
    """1-based ranks of a 1-D array, ties given the mean of the ranks they span (as Spearman needs)."""
    x = np.asarray(x, np.float64).ravel()
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    mean_rank = np.cumsum(counts) - (counts - 1) / 2.0
    return mean_rank[inverse]


def spearman(x, y) -> float:
    """Spearman's rho: Pearson correlation of the (tie-averaged) ranks; NaN when either side is
    constant or there are fewer than 2 pairs (no order to agree with)."""
    x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    if len(x) != len(y):
        raise ValueError(f"spearman needs pairs, got {len(x)} and {len(y)} values")
    if len(x) < 2:
        return float("nan")
    rx, ry = ranks(x) - (len(x) + 1) / 2.0, ranks(y) - (len(y) + 1) / 2.0
    denominator = np.sqrt((rx ** 2).sum() * (ry ** 2).sum())
    return float((rx * ry).sum() / denominator) if denominator > 0 else float("nan")
