"""drumgen.paired: the F1 difference of two models on the same windows, with an interval over performances."""
import numpy as np
import pytest

from drumgen import hvo as H
from drumgen import paired


class Copier:
    """A fake model that plays the true drums (flip: and then flips a share of cells at random)."""

    def __init__(self, truth, flip=0.0):
        self.truth, self.flip, self.at = truth, flip, 0

    def generate(self, groove, controls=None, seed=0, temperature=1.0):
        out = self.truth[self.at: self.at + len(groove)].copy()   # called batch by batch, in order
        self.at = (self.at + len(groove)) % len(self.truth)
        rng = np.random.default_rng(seed)
        flip = rng.random(out[..., H.HITS].shape) < self.flip
        out[..., H.HITS] = np.where(flip, 1 - out[..., H.HITS], out[..., H.HITS])
        return out


def windows(n=40, seed=0):
    rng = np.random.default_rng(seed)
    hvo = np.zeros((n, 32, H.HVO_DIM), np.float32)
    hvo[..., H.HITS] = rng.random((n, 32, H.N_VOICES)) < 0.2
    return hvo


def test_counts_are_each_windows_hits_against_the_truth():
    truth = windows()
    counts = paired.cell_counts(Copier(truth), truth, seed=0, batch=7)
    assert counts.shape == (40, 3) and (counts[:, 1:] == 0).all()
    assert counts[:, 0].sum() == int(truth[..., H.HITS].sum())


def test_a_real_gap_is_told_from_noise():
    truth = windows()
    groups = np.repeat(np.arange(10), 4)
    good = paired.cell_counts(Copier(truth, 0.02), truth, seed=1)
    bad = paired.cell_counts(Copier(truth, 0.2), truth, seed=2)
    worse = paired.paired_bootstrap(good, bad, groups, resamples=500)
    assert worse["difference"] < 0 and worse["high"] < 0 and worse["b_at_least_a"] == 0.0
    assert worse["f1_a"] == pytest.approx(2 * good[:, 0].sum() / (2 * good[:, 0].sum() + good[:, 1:].sum()))
    other_seed = paired.cell_counts(Copier(truth, 0.02), truth, seed=3)
    same = paired.paired_bootstrap(good, other_seed, groups, resamples=500)
    assert same["low"] < 0 < same["high"] and same["performances"] == 10 and same["windows"] == 40
