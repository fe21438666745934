"""Judges: models that judge generated drums, e.g. which style a part sounds like.

The style judge is a small logistic regression on where and how loud each instrument plays in a
window (`style_features`), trained on real drums of the styles with enough windows
(`train_style_classifier`); the fidelity script asks it whether a model asked for a style plays
that style. Plain numpy and trained where it is used, so it needs no checkpoint.

The fill judge (`drumgen.fills`, what the fill control means) is trained here too, once, and ships
as a small file; `python -m drumgen.judges --data PATH` retrains it and prints its figures.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from . import controls as C
from . import data, fills
from . import hvo as H

MIN_STYLE_WINDOWS = 100  # a style joins the classifier with at least this many train windows


def position_profile(hvo: np.ndarray) -> np.ndarray:
    """(N, T, 27) -> (N, 9, 16): each voice's hit rate at each 16th of the bar, over the window's bars."""
    hits = np.asarray(hvo)[..., H.HITS] > 0.5
    n, length, _ = hits.shape
    return hits.reshape(n, length // H.STEPS_PER_BAR, H.STEPS_PER_BAR, H.N_VOICES).mean(axis=1).transpose(0, 2, 1)


def style_features(hvo: np.ndarray) -> np.ndarray:
    """(N, 154) float32: the position profile (9 x 16), each voice's mean hit velocity (0 if silent)
    and the window's mean bar density: where and how loud each instrument plays, what tells styles apart."""
    hits = np.asarray(hvo)[..., H.HITS] > 0.5
    count = hits.sum(axis=1)
    velocity = (np.asarray(hvo)[..., H.VELOCITIES] * hits).sum(axis=1) / np.maximum(count, 1)
    density = C.measure_controls(hvo)["density"].mean(axis=1, keepdims=True)
    return np.concatenate([position_profile(hvo).reshape(len(hvo), -1), velocity, density], axis=1).astype(np.float32)


class StyleClassifier:
    """Multinomial logistic regression on standardised features, trained by full-batch Adam with
    class-balanced weights (GMD is mostly rock; the fidelity script asks every style equally often).
    The L2 weight was chosen on the validation split; the default steps are enough to converge."""

    def __init__(self, classes, l2: float = 1e-3, steps: int = 150, lr: float = 0.05, seed: int = 0):
        self.classes = list(classes)
        self.l2, self.steps, self.lr, self.seed = l2, steps, lr, seed

    def fit(self, features: np.ndarray, labels) -> StyleClassifier:
        x = np.asarray(features, np.float64)
        y = np.array([self.classes.index(s) for s in labels])
        self.mean, self.std = x.mean(0), np.maximum(x.std(0), 1e-6)
        x = (x - self.mean) / self.std
        k = len(self.classes)
        weight = (len(y) / (k * np.maximum(np.bincount(y, minlength=k), 1)))[y]
        weight /= weight.sum()
        onehot = np.eye(k)[y]
        rng = np.random.default_rng(self.seed)
        params = [rng.normal(0, 0.01, (x.shape[1], k)), np.zeros(k)]
        moments = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
        for t in range(1, self.steps + 1):
            p = self._softmax(x @ params[0] + params[1])
            err = (p - onehot) * weight[:, None]
            grads = [x.T @ err + 2 * self.l2 * params[0], err.sum(0)]
            for param, grad, (m, v) in zip(params, grads, moments):
                m[:] = 0.9 * m + 0.1 * grad
                v[:] = 0.999 * v + 0.001 * grad ** 2
                param -= self.lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        self.weights, self.bias = params
        return self

    @staticmethod
    def _softmax(logits: np.ndarray) -> np.ndarray:
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def logits(self, features: np.ndarray) -> np.ndarray:
        return ((np.asarray(features, np.float64) - self.mean) / self.std) @ self.weights + self.bias

    def predict(self, features: np.ndarray, among=None) -> np.ndarray:
        """Predicted style names; `among`: choose only among these styles (chance = 1 / len(among))."""
        names = self.classes if among is None else list(among)
        columns = [self.classes.index(s) for s in names]
        return np.array(names)[np.argmax(self.logits(features)[:, columns], axis=1)]


def train_style_classifier(train_hvo: np.ndarray, train_styles, min_windows: int = MIN_STYLE_WINDOWS,
                           seed: int = 0) -> StyleClassifier:
    """A StyleClassifier over the styles with at least `min_windows` windows in these (train) drums."""
    names, counts = np.unique(np.asarray(train_styles), return_counts=True)
    classes = [str(s) for s, c in zip(names, counts) if c >= min_windows]
    keep = np.isin(train_styles, classes)
    return StyleClassifier(classes, seed=seed).fit(style_features(train_hvo[keep]), np.asarray(train_styles)[keep])


def labelled_bars(windows) -> tuple[np.ndarray, np.ndarray]:
    """Bars of a GMD WindowSet, each once (the first bar of every window), with hits, and whether
    each is from a fill clip: features (M, 199), is_fill (M,)."""
    from_fill = np.array([fills.is_fill_file(f) for f in windows.files], bool)[windows.file_index]
    first = windows.hvo[:, :H.STEPS_PER_BAR]
    playing = first[..., H.HITS].sum(axis=(1, 2)) > 0
    return fills.bar_features(first[playing])[:, 0], from_fill[playing]


def train_fill_judge(features: np.ndarray, is_fill: np.ndarray, l2: float = 1e-2, seed: int = 0) -> fills.FillJudge:
    """Class-balanced logistic regression (fills are 1 bar in 30 of the train bars)."""
    clf = StyleClassifier(  # the same full-batch trainer as the style judge
        ["beat", "fill"], l2=l2, steps=300, seed=seed).fit(features, np.where(is_fill, "fill", "beat"))
    return fills.FillJudge(clf.mean, clf.std, clf.weights[:, 1] - clf.weights[:, 0], clf.bias[1] - clf.bias[0])


def judge_report(judge: fills.FillJudge, features: np.ndarray, is_fill: np.ndarray) -> dict:
    logits = ((features - judge.mean) / judge.std) @ judge.weights + judge.bias
    said = logits > 0
    recall, false_fill = float(said[is_fill].mean()), float(said[~is_fill].mean())
    return {"fill_clips_judged_fill": round(recall, 4), "beat_bars_judged_fill": round(false_fill, 4),
            "balanced_accuracy": round(0.5 * (recall + 1 - false_fill), 4),
            "fill_clips": int(is_fill.sum()), "beat_bars": int((~is_fill).sum())}


def other_meter_report(judge: fills.FillJudge, windows) -> dict:
    """How the judge hears bars of other meters (`fills.judged_steps`), per bar length: the split's
    fill clips fitted to the bar (`augment.fit_fill`, as training splices them) and its beat bars
    re-cut to it (`augment.recut_bars`, as training re-cuts 4/4 windows): how many of each it calls
    fills."""
    from .augment import METER_RECUTS, fit_fill, recut_bars

    from_fill = np.array([fills.is_fill_file(f) for f in windows.files], bool)[windows.file_index]
    first = windows.hvo[:, :H.STEPS_PER_BAR]
    playing = first[..., H.HITS].sum(axis=(1, 2)) > 0
    clips, beats = first[playing & from_fill], first[playing & ~from_fill]
    report = {}
    for meter, steps in sorted(METER_RECUTS.items(), key=lambda item: item[1]):
        cut = [recut_bars(np.concatenate([b, b]), steps)[:steps] for b in beats]
        fitted = [fit_fill(c, cut[k % len(cut)]) for k, c in enumerate(clips)]
        report[meter] = {"fill_clips_judged_fill": round(float(fills.bar_fill_flags(fitted, judge).mean()), 4),
                         "beat_bars_judged_fill": round(float(fills.bar_fill_flags(cut, judge).mean()), 4)}
    return report


def main(argv: list[str] | None = None) -> int:
    """`python -m drumgen.judges --data PATH`: train the fill judge on GMD train bars, report it on
    every split, write it (default: the shipped checkpoints/fill_judge.json)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data", default=None, help="GMD zip (default: download the official one once)")
    parser.add_argument("--cache-dir", default=str(data.DEFAULT_CACHE_DIR))
    parser.add_argument("-o", "--out", default=str(fills.JUDGE_PATH))
    args = parser.parse_args(argv)
    sets = {s: data.load_split(s, args.data, n_bars=8, cache_dir=args.cache_dir) for s in data.SPLITS}
    judge = train_fill_judge(*labelled_bars(sets["train"]))
    judge.meta = {"data": "Groove MIDI Dataset v1.0.0, 4/4, published splits: first bar of each fill clip vs every beat bar",
                  "command": "python -m drumgen.judges --data groove-v1.0.0-midionly.zip",
                  **{split: judge_report(judge, *labelled_bars(sets[split])) for split in data.SPLITS}}
    for split in data.SPLITS:
        print(f"{split:>10}: {judge.meta[split]}")
    judge.meta["other_meters_test"] = other_meter_report(judge, sets["test"])
    print(f"test, bars of other meters: {judge.meta['other_meters_test']}")
    Path(args.out).write_text(json.dumps(judge.to_dict()) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
