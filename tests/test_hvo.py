import numpy as np
import pytest

from drumgen import hvo as H


def test_voice_map_matches_gm_table():
    expected = {36: 0, 35: 0, 38: 1, 37: 1, 40: 1, 42: 2, 22: 2, 44: 2, 46: 3, 26: 3, 43: 4, 41: 4, 58: 4,
                47: 5, 45: 5, 50: 6, 48: 6, 49: 7, 52: 7, 55: 7, 57: 7, 51: 8, 53: 8, 59: 8}
    assert expected == H.PITCH_TO_VOICE
    assert H.OUTPUT_PITCHES == (36, 38, 42, 46, 43, 47, 50, 49, 51)
    assert H.HVO_DIM == 27


def test_tick_to_step_offsets_in_half_open_range():
    ticks = np.arange(0, 480 * 4)
    steps, offsets = H.tick_to_step(ticks, 480)
    assert offsets.min() >= -0.5 and offsets.max() < 0.5
    assert steps[0] == 0 and steps[60] == 1 and steps[59] == 0  # 120 ticks a step; 60 = half a step
    assert np.allclose(H.step_to_tick(steps, offsets, 480), ticks)


def test_collision_keeps_louder_hit():
    grid = H.place_onsets(4, np.array([1, 1, 1]), np.array([0.1, -0.2, 0.3], np.float32),
                          np.array([0.5, 0.9, 0.2], np.float32), np.array([0, 0, 0]), 1)
    assert grid[1].tolist() == pytest.approx([1.0, 0.9, -0.2])


def test_out_of_range_onsets_dropped():
    grid = H.place_onsets(2, np.array([-1, 5, 1]), np.zeros(3, np.float32), np.ones(3, np.float32), np.zeros(3, int), 1)
    assert grid[:, 0].tolist() == [0, 1]


def test_monotonic_groove_takes_loudest_voice():
    hvo = H.empty_hvo(16)
    hvo[0, [0, 2]] = 1                 # kick + hat on step 0
    hvo[0, [9, 11]] = [0.4, 0.8]       # hat louder
    hvo[0, [18, 20]] = [0.1, -0.2]
    groove = H.hvo_to_groove(hvo)
    assert groove.shape == (16, 3)
    assert groove[0].tolist() == pytest.approx([1.0, 0.8, -0.2])
    assert groove[1:].sum() == 0
    batch = H.hvo_to_groove(np.stack([hvo, hvo]))
    assert batch.shape == (2, 16, 3)


def test_join_zeroes_values_without_hits():
    hits = np.zeros((4, 9)); hits[0, 0] = 1
    hvo = H.join_hvo(hits, np.full((4, 9), 0.5), np.full((4, 9), 0.1))
    assert hvo[0, 9] == 0.5 and hvo[1, 9] == 0 and hvo[1, 18] == 0


@pytest.mark.parametrize("bad, message", [
    (np.zeros((32, 3)), "shape"),
    (np.zeros((1, 20, 3)), "multiple of 16"),
    (np.zeros((1, 0, 3)), "multiple of 16"),
    (np.full((1, 16, 3), np.nan), "NaN"),
])
def test_validate_groove_rejects(bad, message):
    with pytest.raises(ValueError, match=message):
        H.validate_groove(bad)


def test_validate_groove_clamps_values():
    g = np.zeros((1, 16, 3), np.float32)
    g[0, 0] = [1, 3.0, 0.9]
    g[0, 1] = [0, 0.7, 0.2]  # no hit: velocity and offset dropped
    out = H.validate_groove(g)
    assert out[0, 0].tolist() == pytest.approx([1, 1.0, 0.4999])
    assert out[0, 1].tolist() == [0, 0, 0]


def test_voice_names_and_aliases():
    assert [H.voice_name(v) for v in ("Kick", "closed-hat", "hihat", "hat", "open hat")] == [
        "kick", "closed_hat", "closed_hat", "closed_hat", "open_hat"]
    with pytest.raises(ValueError, match="voices: kick"):
        H.voice_name("cowbell")


@pytest.mark.parametrize("ticks_per_beat", [480, 96, 384, 1000])
def test_every_tick_written_reads_back_on_its_step(ticks_per_beat):
    steps = np.arange(64)
    for offset in (-0.5, -0.4999, 0.0, 0.3, 0.4959, 0.4999):
        ticks = H.step_to_tick(steps, np.full(64, offset), ticks_per_beat)
        back, _ = H.tick_to_step(ticks, ticks_per_beat)
        assert np.array_equal(back, steps), (offset, ticks_per_beat)
