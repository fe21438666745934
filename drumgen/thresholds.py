"""Per-voice hit thresholds chosen on validation windows, and the cheap hit-F1 score training keeps
its best epoch by. Any object with `generate(groove, thresholds=...)` will do: a model or a Runtime."""
from __future__ import annotations

import numpy as np

from . import hvo as H

THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.025), 3)
THRESHOLDS_NOTE = "per-voice, chosen on the validation split (max micro F1, coordinate ascent)"


def _hit_tables(model, true_hvo: np.ndarray, grid) -> tuple[np.ndarray, np.ndarray, int]:
    """True positives and predicted hits per (threshold, voice), one generation per threshold:
    each voice's hits depend on its own threshold only."""
    groove = H.hvo_to_groove(true_hvo)
    truth = true_hvo[..., H.HITS] > 0.5
    tp = np.zeros((len(grid), H.N_VOICES))
    predicted = np.zeros((len(grid), H.N_VOICES))
    for i, t in enumerate(grid):
        hits = model.generate(groove, thresholds=float(t))[..., H.HITS] > 0.5
        tp[i], predicted[i] = (hits & truth).sum(axis=(0, 1)), hits.sum(axis=(0, 1))
    return tp, predicted, int(truth.sum())


def choose_thresholds(model, true_hvo: np.ndarray, grid: np.ndarray = THRESHOLD_GRID) -> np.ndarray:
    """Per-voice hit thresholds that maximise micro F1 over all voices on these (validation) windows,
    with the model's default generation settings otherwise.

    Coordinate ascent over per-voice tables finds thresholds that trade rare voices against the
    whole (per-voice F1 maxima would flood the toms and cymbals with hits)."""
    tp, predicted, n_true = _hit_tables(model, true_hvo, grid)
    common = np.argmax(2 * tp.sum(1) / (predicted.sum(1) + n_true))
    choice = np.full(H.N_VOICES, common)
    voices = np.arange(H.N_VOICES)
    for _ in range(10):
        before = choice.copy()
        for v in voices:
            others = voices != v
            tp_rest = tp[choice[others], voices[others]].sum()
            pred_rest = predicted[choice[others], voices[others]].sum()
            choice[v] = np.argmax(2 * (tp_rest + tp[:, v]) / (pred_rest + predicted[:, v] + n_true))
        if (choice == before).all():
            break
    return grid[choice]


def quick_f1(model, true_hvo: np.ndarray, grid: tuple[float, ...] = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5)) -> float:
    """Best micro hit-F1 over one common threshold: a cheap model-selection score for training."""
    tp, predicted, n_true = _hit_tables(model, true_hvo, grid)
    return float(np.max(2 * tp.sum(1) / np.maximum(predicted.sum(1) + n_true, 1)))
