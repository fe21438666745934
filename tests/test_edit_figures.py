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


class Filler:
    """Toms on every 16th in the bars a fill is asked for, a plain beat elsewhere; loops like a drummer."""

    def generate(self, groove, controls=None, loop=False, **_):
        n, length, _ = groove.shape
        out = np.zeros((n, length, H.HVO_DIM), np.float32)
        out[:, ::4, 0] = out[:, 2::4, 2] = 1
        for bar, fill in enumerate(((controls or {}).get("fill")) if controls else []):
            if fill == 1:
                out[:, bar * 16:(bar + 1) * 16] = 0
                out[:, bar * 16:(bar + 1) * 16, 4:7] = 1
        out[..., H.VELOCITIES] = out[..., H.HITS] * 0.8
        return out


def test_fill_figures_tell_a_model_that_plays_fills_where_asked():
    truth = true_windows(4)
    figures = E.fill_figures(Filler(), truth)
    assert figures["asked_fill_judged_fill"] == 1.0 and figures["asked_none_judged_fill"] == 0.0
    assert figures["free_judged_fill_in_fill_bars"] == 0.0 and figures["downbeat_after_fill_kick_or_crash"] == 1.0
    deaf = E.fill_figures(Deaf(), truth)  # plays nothing: nothing is judged a fill, nothing lands
    assert deaf["downbeat_after_fill_kick_or_crash"] == 0.0


def test_loop_figures_and_the_windows_they_use():
    truth = true_windows(6)
    truth[:3, 64:80] = truth[:3, :16]  # bar 5 repeats bar 1 in the first three windows
    chosen = E.loop_windows(truth)
    assert chosen[:3].all() and not chosen[3:].any()
    good = E.loop_figures(Oracle(truth[chosen][:, :64]), truth[chosen])
    assert good["plain"]["inner_seams_f1"] == 1.0 and good["plain"]["seam_f1"] == 1.0  # bar 5 is bar 1
    assert "loop_ready" in good and E.loop_figures(Deaf(), truth[chosen])["loop_ready"]["seam_f1"] == 0.0
