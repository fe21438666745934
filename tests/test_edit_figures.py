"""drumgen.edit_figures: the editing figures, shown able to tell a model that hears the take from one that does not."""
import numpy as np

from drumgen import edit_figures as E
from drumgen import hvo as H


def true_windows(n=6, seed=0):
    rng = np.random.default_rng(seed)
    hvo = np.zeros((n, 8 * 16, H.HVO_DIM), np.float32)
    hits = rng.random((n, 128, 9)) < 0.15
    hvo[..., H.HITS], hvo[..., H.VELOCITIES] = hits, hits * 0.8
    return hvo


class Oracle:
    """Plays the true drums (known from the groove's place in the set) wherever it is asked for new
    ones: a perfect editor."""

    def __init__(self, truth):
        self.truth, self.groove = truth, H.hvo_to_groove(truth)

    def generate(self, groove, keep=None, keep_mask=None, **_):
        rows = [int(np.argmax([(g == x).all() for x in self.groove])) for g in groove]
        truth = self.truth[rows]
        return truth.copy() if keep is None else np.where(np.tile(keep_mask, 3), keep, truth)


class Deaf:
    """Plays nothing new, and breaks the kept cells too: every figure should say so."""

    def generate(self, groove, keep=None, keep_mask=None, **_):
        return np.zeros(groove.shape[:2] + (H.HVO_DIM,), np.float32)


def test_figures_pass_for_a_perfect_editor_and_fail_for_a_deaf_one():
    truth = true_windows()
    good, bad = E.edit_figures(Oracle(truth), truth, batch=4), E.edit_figures(Deaf(), truth, batch=4)
    assert good["kept_share"] == 1.0 and bad["kept_share"] < 1.0
    assert good["bars_3_4"]["f1_regenerated"] == 1.0 and bad["bars_3_4"]["f1_regenerated"] == 0.0
    assert good["lock_kick_snare"]["f1_other_voices"] == 1.0 and bad["lock_kick_snare"]["f1_other_voices"] == 0.0
    assert 0 < good["bars_3_4"]["copy_bars_5_6"] < 1  # random drums: copying other bars is a weak guess
    assert "| kept cells identical (share) | 1.000 | " in E.format_report({"good": good, "bad": bad})
