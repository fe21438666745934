import time

import numpy as np
import pytest

from drumgen import controls as C
from drumgen import hvo as H
from drumgen import sampling

KICK, SNARE, HAT = 0, 1, 2


def identity_window_fn(calls):
    def fn(windows, items, starts):
        assert len(items) == len(starts) == len(windows)
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


def test_overlapping_windows_take_velocity_from_the_window_that_plays():
    """Bar 2 of a 3-bar groove is in two windows; only the second plays the hit, so its velocity wins
    whatever the first says, and probabilities are cross-faded by position, not plainly averaged."""
    groove = np.zeros((1, 48, 3), np.float32)

    def fn(windows, items, starts):
        p = np.zeros((len(windows), 32, 9), np.float32)
        v = np.zeros_like(p)
        first, second = starts == 0, starts == 16
        p[first, 20, 0], v[first, 20, 0] = 0.0, 0.1    # step 20 = position 20 of window 0 ...
        p[second, 4, 0], v[second, 4, 0] = 0.9, 0.8    # ... and position 4 of window 1
        p[first, 17, 1], p[second, 1, 1] = 1.0, 0.0    # step 17: near window 1's edge, window 0 counts most
        return p, v, v * 0
    probs, vel, _ = sampling.stitch_windows(groove, fn)
    assert vel[0, 20, 0] == pytest.approx(0.8, abs=1e-3)
    assert probs[0, 17, 1] > 0.8
    w = sampling.crossfade_weights(32)
    assert probs[0, 20, 0] == pytest.approx(0.9 * w[4] / (w[4] + w[20]))


def test_item_seeds():
    assert sampling.item_seeds(3, 2).tolist() == [3, 3]
    assert sampling.item_seeds([4, 5], 2).tolist() == [4, 5]
    fresh = sampling.item_seeds(None, 3)
    assert len(set(fresh.tolist())) == 3
    for bad in (-1, 2 ** 64, 1.5, "7", True, [1, 2, 3]):
        with pytest.raises(ValueError):
            sampling.item_seeds(bad, 2)
    noise = sampling.window_noise(np.array([1, 1, 2]), np.array([0, 16, 0]), (4,))
    assert noise.shape == (3, 4) and not np.allclose(noise[0], noise[1]) and not np.allclose(noise[0], noise[2])
    assert np.array_equal(noise[0], sampling.window_noise(np.array([1]), np.array([0]), (4,))[0])


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


@pytest.mark.parametrize("value", [True, "0.5", np.array(["0.5"] * 9), pytest.param(10 ** 400, id="huge-int"),
                                   [0.5 + 1j] * 9, {}])
def test_per_voice_refuses_odd_values_with_a_value_error(value):
    with pytest.raises(ValueError, match="thresholds"):
        sampling.per_voice(value, [0.5] * 9, "thresholds", 0.0, 1.0)


def test_max_hits_must_be_whole_numbers():
    assert sampling.per_voice(2.0, [0] * 9, "max_hits", 0, integer=True).tolist() == [2.0] * 9
    with pytest.raises(ValueError, match="max_hits must be whole numbers"):
        sampling.per_voice(2.5, [0] * 9, "max_hits", 0, integer=True)


# --- steering to the per-bar controls ---------------------------------------------------------------------

def test_mute_mask():
    c = C.validate_controls({"instruments": {"kick": [0, 0.5], "snare": 0.0}}, 1, 2)
    mask = sampling.mute_mask(c)
    assert mask.shape == (1, 32, 9) and mask.dtype == bool
    assert mask[0, :16, KICK].all() and not mask[0, 16:, KICK].any() and mask[0, :, SNARE].all() and not mask[0, :, HAT].any()
    assert sampling.mute_mask(c, 48).shape == (1, 48, 9) and not sampling.mute_mask(c, 48)[0, 32:].any()


def random_probs(n=3, bars=4, seed=0):
    return np.random.default_rng(seed).random((n, bars * 16, 9)).astype(np.float32) * 0.9 + 0.05


def test_steer_hits_without_controls_is_plain_thresholds():
    probs, thresholds = random_probs(), np.linspace(0.3, 0.7, 9)
    assert np.array_equal(sampling.steer_hits(probs, thresholds, None), sampling.decide_hits(probs, thresholds))
    assert np.array_equal(sampling.steer_hits(probs, thresholds, C.Controls.free(3, 4)), sampling.decide_hits(probs, thresholds))


def test_mutes_never_leak():
    probs = np.ones((2, 64, 9), np.float32)
    c = C.validate_controls({"instruments": {"kick": 0.0, "snare": [0, 0.5, 0, 0.5]}, "density": [0.9, 1.0, None, 0.5]}, 2, 4)
    hits = sampling.steer_hits(probs, np.full(9, 0.5), c)
    assert hits[..., KICK].sum() == 0
    assert hits[:, :16, SNARE].sum() == 0 and hits[:, 32:48, SNARE].sum() == 0 and hits[:, 16:32, SNARE].sum() > 0


def test_density_target_is_met_exactly_per_bar():
    probs = random_probs(n=4, bars=8)
    density = np.random.default_rng(1).random((4, 8))
    hits = sampling.steer_hits(probs, np.full(9, 0.5), C.validate_controls({"density": density}, 4, 8))
    per_bar = hits.reshape(4, 8, 16, 9).sum(axis=(2, 3))
    assert np.array_equal(per_bar, np.floor(C.counts_from_density(density) + 0.5))
    # with some shares set, and one voice muted, the total stays exact
    c = C.validate_controls({"density": density, "instruments": {"kick": 0.3, "snare": 0.2, "crash": 0.0}}, 4, 8)
    hits = sampling.steer_hits(probs, np.full(9, 0.5), c)
    assert np.array_equal(hits.reshape(4, 8, 16, 9).sum(axis=(2, 3)), per_bar) and hits[..., 7].sum() == 0


def test_raising_a_share_raises_the_voice_count():
    probs, thresholds = random_probs(n=2, bars=4), np.full(9, 0.5)
    for density in (0.6, None):
        base = sampling.steer_hits(probs, thresholds, C.validate_controls({"density": density}, 2, 4))
        natural = base[..., KICK].reshape(2, 4, 16).sum(-1) / np.maximum(base.reshape(2, 4, -1).sum(-1), 1)
        c = C.validate_controls({"density": density, "instruments": {"kick": natural + 0.2}}, 2, 4)
        more = sampling.steer_hits(probs, thresholds, c)
        assert (more[..., KICK].reshape(2, 4, 16).sum(-1) > base[..., KICK].reshape(2, 4, 16).sum(-1)).all()
    k = int(np.floor(C.counts_from_density(0.6) + 0.5))
    shares = sampling.steer_hits(probs, thresholds, C.validate_controls({"density": 0.6, "instruments": {"kick": 0.5}}, 2, 4))
    assert (shares[..., KICK].reshape(2, 4, 16).sum(-1) == np.floor(0.5 * k + 0.5)).all()


def test_steering_is_fast_enough():
    probs, c = random_probs(n=1, bars=32), C.validate_controls({"density": 0.5, "instruments": {"kick": 0.3}}, 1, 32)
    sampling.steer_hits(probs, np.full(9, 0.5), c)
    start = time.perf_counter()
    for _ in range(5):
        sampling.steer_hits(probs, np.full(9, 0.5), c)
    assert (time.perf_counter() - start) / 5 < 0.05  # ~ a few ms; loose against slow CI machines


def test_steer_velocities_meets_intensity():
    rng = np.random.default_rng(0)
    hits = (rng.random((3, 64, 9)) < 0.2).astype(np.float32)
    hits[0, 16:32] = 0  # an empty bar stays as it is
    velocities = rng.random((3, 64, 9)).astype(np.float32)
    velocities[1, :16] = 0.0  # hits with velocity 0 can be raised too
    target = np.array([[0.9, 0.5, 0.1, None], [0.05, 1.0, 0.6, 0.3], [0.7] * 4], dtype=float)
    out = sampling.steer_velocities(hits, velocities, C.validate_controls({"intensity": target}, 3, 4))
    mask = hits.reshape(3, 4, -1) > 0
    mean = (out.reshape(3, 4, -1) * mask).sum(-1) / np.maximum(mask.sum(-1), 1)
    steered = np.isfinite(target) & mask.any(-1)
    assert np.allclose(mean[steered], target[steered], atol=0.02)
    assert np.array_equal(out[0, 48:], velocities[0, 48:]) and np.array_equal(out[0, 16:32], velocities[0, 16:32])
    assert out.min() >= 0 and out.max() <= 1 and (out[hits > 0][:10] >= 1 / 127).all()


def test_shares_with_density_free_are_shares_of_the_whole_bar():
    """kick 0.5 with density free: half the bar's hits are kicks, and the bar keeps the model's own count."""
    probs = random_probs(n=2, bars=4) ** 4  # about 23 hits a bar, as in real drums
    thresholds = np.full(9, 0.5)
    plain = sampling.steer_hits(probs, thresholds, None).reshape(2, 4, 16, 9).sum(axis=(2, 3))
    hits = sampling.steer_hits(probs, thresholds, C.validate_controls({"instruments": {"kick": 0.5}}, 2, 4))
    per_bar = hits.reshape(2, 4, 16, 9).sum(axis=2)
    assert np.array_equal(per_bar.sum(-1), plain)
    assert np.array_equal(per_bar[..., 0], np.floor(0.5 * plain + 0.5))  # round(share x K) of them kicks
