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


def test_the_bootstrap_is_paired_and_draws_whole_groups():
    """Against a plain loop over the same draws: the same performances for both models, each with all
    its windows; a model against itself differs by exactly 0 in every draw."""
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, 20, (12, 3)), rng.integers(0, 20, (12, 3))
    a[0], b[0] = (30, 2, 9), (30, 9, 2)                         # false positives and negatives told apart
    groups = np.array(list("aaabbbbcddee"))
    got = paired.paired_bootstrap(a, b, groups, resamples=300, seed=3)
    names = np.unique(groups)
    draws = np.random.default_rng(3).integers(0, len(names), (300, len(names)))
    diffs = []
    for draw in draws:
        rows = np.concatenate([np.flatnonzero(groups == names[k]) for k in draw])
        ta, tb = a[rows].sum(0), b[rows].sum(0)
        diffs.append(2 * tb[0] / (2 * tb[0] + tb[1] + tb[2]) - 2 * ta[0] / (2 * ta[0] + ta[1] + ta[2]))
    assert (got["low"], got["high"]) == pytest.approx(tuple(np.percentile(diffs, [2.5, 97.5])))
    assert got["f1_a"] == pytest.approx(2 * a[:, 0].sum() / (2 * a[:, 0].sum() + a[:, 1:].sum()))
    itself = paired.paired_bootstrap(a, a, groups, resamples=300)
    assert itself["low"] == itself["high"] == itself["difference"] == 0.0 and itself["b_at_least_a"] == 1.0
    with pytest.raises(ValueError, match="same windows"):
        paired.paired_bootstrap(a, b[:5], groups)


def test_groups_of_gmd_files():
    path = "drummer1/session2/3_rock_100_beat_4-4.mid"
    assert paired.group_of(path, "performance") == path
    assert paired.group_of(path, "session") == "drummer1/session2" and paired.group_of(path, "drummer") == "drummer1"
    with pytest.raises(ValueError, match="group by one of"):
        paired.group_of(path, "style")
