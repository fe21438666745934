"""drumgen.metrics: hit figures and rank statistics."""
import numpy as np
import pytest

from drumgen import hvo as H
from drumgen import metrics as M


def _drums(seed=0, n=20):
    rng = np.random.default_rng(seed)
    hvo = np.zeros((n, 32, 27), np.float32)
    hits = rng.random((n, 32, 9)) < 0.2
    hvo[..., H.HITS] = hits
    hvo[..., H.VELOCITIES] = hits * rng.uniform(0.2, 1, hits.shape)
    hvo[..., H.OFFSETS] = hits * rng.uniform(-0.3, 0.3, hits.shape)
    return hvo


def test_perfect_and_empty_predictions():
    true = _drums()
    perfect = M.score(true, true)
    assert perfect["f1"] == pytest.approx(1) and perfect["window_f1_median"] == pytest.approx(1)
    assert perfect["velocity_mae_tp"] == 0 and perfect["hit_ratio"] == 1
    assert perfect["offset_std"] == pytest.approx(perfect["true_offset_std"])
    empty = M.score(np.zeros_like(true), true)
    assert empty["f1"] == 0 and empty["recall"] == 0 and empty["hit_ratio"] == 0


def test_swingness_definition():
    hvo = np.zeros((2, 32, 27), np.float32)
    hvo[0, [1, 3], 2] = 1
    hvo[0, [1, 3], 20] = [0.2, -0.1]      # only the late one counts
    hvo[0, 0, 0], hvo[0, 0, 18] = 1, 0.4  # even step: not counted
    assert M.swingness(hvo) == pytest.approx((2 * 0.2 + 0) / 2)  # second window: no odd hits -> 0


def test_spearman_hand_cases_and_ties():
    assert M.spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert M.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert M.spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)  # 1 - 6 * 2 / (4 * 15)
    np.testing.assert_allclose(M.ranks([10, 20, 20, 30]), [1, 2.5, 2.5, 4])
    assert M.spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(3 / np.sqrt(10))
    assert M.spearman([0.1, 0.1, 0.9, 0.9], [5, 5, 7, 7]) == pytest.approx(1.0)  # ties on both sides agree
    assert np.isnan(M.spearman([1, 1, 1], [1, 2, 3])) and np.isnan(M.spearman([1], [2]))
    with pytest.raises(ValueError):
        M.spearman([1, 2], [1, 2, 3])
