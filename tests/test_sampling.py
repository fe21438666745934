import numpy as np
import pytest

from drumgen import hvo as H
from drumgen import sampling


def identity_window_fn(calls):
    def fn(windows):
        calls.append(windows.copy())
        p = np.repeat(windows[..., :1], H.N_VOICES, axis=-1)
        return p, p * 0.5, p * 0.1
    return fn


@pytest.mark.parametrize("bars", [1, 2, 3, 5, 8])
def test_stitching_keeps_every_bar_in_place(bars):
    rng = np.random.default_rng(bars)
    groove = np.zeros((2, 16 * bars, 3), np.float32)
    groove[..., 0] = rng.random((2, 16 * bars)) < 0.4
    calls = []
    probs, vel, off = sampling.stitch_windows(groove, identity_window_fn(calls))
    assert probs.shape == (2, 16 * bars, 9)
    assert np.allclose(probs[..., 0], groove[..., 0])  # windows averaged back onto the same steps
    assert np.allclose(vel[..., 3], groove[..., 0] * 0.5)
    assert all(w.shape[1:] == (32, 3) for w in calls)
    assert calls[0].shape[0] == 2 * max(bars - 1, 1)  # one window per bar line, 2 bars each


def test_thresholds_and_caps_apply_to_every_batch_item():
    rng = np.random.default_rng(0)
    probs = rng.random((4, 32, 9)).astype(np.float32)
    thresholds = np.full(9, 0.3)
    thresholds[1] = 1.0
    caps = np.full(9, 32)
    caps[2] = 3
    hits = sampling.decide_hits(probs, thresholds, caps)
    assert hits[..., 1].sum() == 0
    assert (hits[..., 2].sum(axis=1) == 3).all()            # every item capped, not only the first
    for i in range(4):                                       # the most probable ones are kept
        kept = probs[i, hits[i, :, 2] > 0, 2]
        assert kept.min() >= np.sort(probs[i, :, 2])[-3] - 1e-7
    assert (hits[..., 0] == (probs[..., 0] > 0.3)).all()


def test_caps_count_per_two_bars():
    probs = np.full((1, 64, 9), 0.9, np.float32)
    hits = sampling.decide_hits(probs, np.full(9, 0.5), np.full(9, 2))
    assert hits[0, :32].sum(axis=0).tolist() == [2] * 9
    assert hits[0, 32:].sum(axis=0).tolist() == [2] * 9


def test_groove_timing_applied_on_onsets_only():
    groove = np.zeros((1, 16, 3), np.float32)
    groove[0, 0] = [1, 0.9, 0.2]
    hits = np.zeros((1, 16, 9), np.float32)
    hits[0, 0, [0, 2]] = 1
    hits[0, 5, 1] = 1
    vel = np.full((1, 16, 9), 0.5, np.float32)
    vel[0, 0, 2] = 0.7
    off = np.full((1, 16, 9), -0.1, np.float32)
    v, o = sampling.apply_groove_timing(hits, vel, off, groove)
    assert o[0, 0, 0] == pytest.approx(0.2) and o[0, 0, 2] == pytest.approx(0.2)
    assert o[0, 5, 1] == pytest.approx(-0.1)
    assert v[0, 0, 2] == pytest.approx(0.9)                   # the loudest takes the groove's velocity
    assert v[0, 0, 0] == pytest.approx(0.5 * 0.9 / 0.7)       # the others keep their balance to it
    assert v[0, 5, 1] == pytest.approx(0.5)


@pytest.mark.parametrize("value", [[0.5] * 8, "x", [np.nan] * 9])
def test_per_voice_rejects_bad_values(value):
    with pytest.raises((ValueError, TypeError)):
        sampling.per_voice(value, [0.5] * 9, "thresholds")


def test_silent_bars_rest():
    groove = np.zeros((2, 48, 3), np.float32)
    groove[0, 20, 0] = 1          # item 0: only bar 2 plays
    groove[1, [0, 40], 0] = 1     # item 1: bars 1 and 3
    probs = np.ones((2, 48, 9), np.float32)
    out = sampling.to_hvo(groove, probs, probs * 0.5, probs * 0, np.full(9, 0.5), None, False)
    per_bar = out[..., H.HITS].reshape(2, 3, 16, 9).sum(axis=(2, 3))
    assert per_bar.tolist() == [[0, 144, 0], [144, 0, 144]]
    kept = sampling.to_hvo(groove, probs, probs * 0.5, probs * 0, np.full(9, 0.5), None, False, rest_in_silent_bars=False)
    assert kept[..., H.HITS].sum() == 2 * 48 * 9
