"""What a fill is: a bar-level fill / beat judge, the one definition the fill control uses.

The Groove MIDI Dataset holds one-bar fill clips (`beat_type` "fill", file names `..._fill_4-4.mid`)
beside the beat performances. A logistic regression on where, how often and how loud each voice
plays in a bar (`bar_features`), trained on the first bar of every train fill clip against every
bar of the train beat performances, says whether a bar sounds like a fill. The same judge labels
the bars of the training data (the fill control a model learns from: `controls.measure_controls`)
and judges a model's output (`python -m drumgen.judges` reports its own test accuracy). Beat
performances hold fills of their own, so some "beat" bars are fills: the judge's false positives on
them are an upper bound of its real error.

The judge is small (a few hundred numbers) and ships as `checkpoints/fill_judge.json`;
`python -m drumgen.judges --data groove-v1.0.0-midionly.zip` retrains it (`judges.train_fill_judge`)
and rewrites that file.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import hvo as H

BAR = H.STEPS_PER_BAR
JUDGE_PATH = Path(__file__).resolve().parent.parent / "checkpoints" / "fill_judge.json"
FEATURES = ("bar_features v1: hits (16 x 9), voice counts / 16 (9), voice mean velocity (9), "
            "beat x voice counts / 4 (36), bar count / 16")


def is_fill_file(name: str) -> bool:
    """A GMD file name of a fill clip (e.g. 'drummer1/session1/8_rock_120_fill_4-4.mid')."""
    return "_fill_" in Path(str(name)).name


def bar_features(hvo: np.ndarray) -> np.ndarray:
    """(N, T, 27), T a multiple of 16 -> (N, T // 16, 199) float32: per bar, where each voice plays,
    how often, how loud, and in which beat (toms all over beats 3-4, snare rolls: a fill)."""
    hvo = np.asarray(hvo, np.float32)
    n, length, _ = hvo.shape
    bars = length // BAR
    hits = (hvo[..., H.HITS] > 0.5).reshape(n, bars, BAR, H.N_VOICES).astype(np.float32)
    velocity = hvo[..., H.VELOCITIES].reshape(n, bars, BAR, H.N_VOICES) * hits
    count = hits.sum(axis=2)                                                         # (N, B, 9)
    mean_velocity = velocity.sum(axis=2) / np.maximum(count, 1)
    per_beat = hits.reshape(n, bars, 4, BAR // 4, H.N_VOICES).sum(axis=3).reshape(n, bars, -1)
    return np.concatenate([hits.reshape(n, bars, -1), count / BAR, mean_velocity, per_beat / 4,
                           count.sum(-1, keepdims=True) / BAR], axis=-1).astype(np.float32)


class FillJudge:
    """P(fill) of a bar: a two-class logistic regression on standardised bar features."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, weights: np.ndarray, bias: float, meta: dict | None = None):
        self.mean, self.std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
        self.weights, self.bias = np.asarray(weights, np.float64), float(bias)
        self.meta = meta or {}

    def probability(self, hvo: np.ndarray) -> np.ndarray:
        """(N, T, 27) -> (N, B) P(fill) per bar; an empty bar is 0 (silence is no fill)."""
        features = bar_features(hvo)
        logits = ((features - self.mean) / self.std) @ self.weights + self.bias
        return np.where(features[..., -1] > 0, 1.0 / (1.0 + np.exp(-logits)), 0.0)

    def is_fill(self, hvo: np.ndarray) -> np.ndarray:
        """(N, T, 27) -> (N, B) bool."""
        return self.probability(hvo) > 0.5

    def to_dict(self) -> dict:
        return {"features": FEATURES, "mean": self.mean.tolist(), "std": self.std.tolist(),
                "weights": self.weights.tolist(), "bias": self.bias, **self.meta}

    @classmethod
    def from_dict(cls, d: dict) -> FillJudge:
        if d.get("features") != FEATURES:
            raise ValueError(f"fill judge made for other features ({d.get('features')!r}); retrain it: python -m drumgen.judges")
        meta = {k: v for k, v in d.items() if k not in ("features", "mean", "std", "weights", "bias")}
        return cls(d["mean"], d["std"], d["weights"], d["bias"], meta)


@lru_cache(maxsize=1)
def shipped_judge() -> FillJudge:
    return FillJudge.from_dict(json.loads(JUDGE_PATH.read_text()))


def fill_flags(hvo: np.ndarray) -> np.ndarray:
    """(N, T, 27) -> (N, B) float32, 1 = the shipped judge calls the bar a fill."""
    return shipped_judge().is_fill(hvo).astype(np.float32)


def judged_steps(length: int) -> list[np.ndarray]:
    """The views of a bar of `length` sixteenths the judge hears, each as one bar of 16; the bar is a
    fill when it is one in every view. A fill builds to the bar's end, so every bar is heard from its
    end: a longer bar's last 16 steps (a 5/4 fill is a beat of time, then a 4/4 fill), a shorter one
    after its own last 16 - length steps, as if it went round. A shorter bar is also heard from its
    start (the bar, then its first steps again): from its end alone a 7/8 beat bar was called a fill
    1 time in 5. A longer bar's first 16 steps hold a fill's start only, so they are not asked.
    `python -m drumgen.judges` reports how often GMD fill clips fitted to each meter
    (`augment.fit_fill`) and its beat bars re-cut to it are called fills. A bar of 4/4 is itself."""
    if length < 1:
        raise ValueError(f"a bar has at least one step, got {length}")
    if length >= BAR:
        return [np.arange(length - BAR, length)]
    return [(np.arange(BAR) - BAR) % length, np.arange(BAR) % length]


def bar_fill_flags(bars: list[np.ndarray], judge: FillJudge | None = None) -> np.ndarray:
    """Bars (each (L, 27), any L) -> (len(bars),) float32, 1 = a fill in every view of judged_steps
    (by `judge`, default the shipped one)."""
    if not len(bars):
        return np.zeros(0, np.float32)
    judge = judge or shipped_judge()
    views = [(i, b[view]) for i, b in enumerate(np.asarray(b, np.float32) for b in bars) for view in judged_steps(len(b))]
    said = judge.is_fill(np.stack([v for _, v in views]))[:, 0]
    out = np.ones(len(bars), bool)
    np.logical_and.at(out, np.array([i for i, _ in views]), said)
    return out.astype(np.float32)
