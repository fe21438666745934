"""drumgen.thresholds: per-voice thresholds and the selection score, on any object that generates."""
import numpy as np
import pytest

from drumgen import hvo as H
from drumgen import thresholds as T
from tests.test_metrics import _drums


def test_choose_thresholds_prefers_separating_value():
    class Oracle:
        """Predicts the truth with probability 0.6 and noise with 0.3: the best threshold is in between."""
        def __init__(self, truth):
            self.truth = truth

        def generate(self, groove, thresholds):
            rng = np.random.default_rng(0)
            probs = np.where(self.truth[..., H.HITS] > 0, 0.6, rng.uniform(0, 0.3, self.truth[..., H.HITS].shape))
            hits = probs > thresholds
            return np.concatenate([hits, hits, hits * 0], -1).astype(np.float32)

    true = _drums(1)
    chosen = T.choose_thresholds(Oracle(true), true)
    assert ((chosen >= 0.3) & (chosen < 0.6)).all()
    assert T.quick_f1(Oracle(true), true) == pytest.approx(1.0)
    assert T.quick_f1(Oracle(true), true, grid=(0.1,)) < 0.9
