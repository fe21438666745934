"""Takes and what a musician says to keep of them (drumgen.takes): bars as typed, masks, the JSON form."""
import json

import numpy as np
import pytest

from drumgen import hvo as H
from drumgen import takes as T


def test_parse_bars_reads_what_musicians_type():
    assert T.parse_bars("5-8, 12", 16) == [4, 5, 6, 7, 11]
    assert T.parse_bars("5 - 8 12", 16) == T.parse_bars("5–8;12", 16) == [4, 5, 6, 7, 11]
    assert T.parse_bars("3", 4) == [2] and T.parse_bars(3, 4) == [2] and T.parse_bars([1, 2, 2], 4) == [0, 1]
    assert T.parse_bars("all", 3) == [0, 1, 2] and T.parse_bars("", 3) == [] and T.parse_bars(None, 3) == []


@pytest.mark.parametrize("bad, words", [
    ("17", "bar 17 is outside the song: it has 16 bars"), ("0", "bar 0 is outside"), ("8-5", "runs backwards"),
    ("five", "expected bar numbers"), (True, "expected bar numbers"), ([1.5], "whole bar numbers"),
    ({"bars": 1}, "expected bar numbers"),
])
def test_parse_bars_refuses_in_words(bad, words):
    with pytest.raises(ValueError, match=words):
        T.parse_bars(bad, 16)


def test_keep_mask_regenerates_bars_and_locks_voices():
    mask = T.keep_mask(64, regenerate=[1, 3])
    assert mask.shape == (64, 9) and mask[:16].all() and not mask[16:32].any() and mask[32:48].all() and not mask[48:].any()
    locked = T.keep_mask(64, regenerate=[1], lock="kick, Snare")
    assert locked[16:32, :2].all() and not locked[16:32, 2:].any() and locked[:16].all()
    everything_new_but_the_kick = T.keep_mask(32, lock=["kick"])
    assert everything_new_but_the_kick[:, 0].all() and not everything_new_but_the_kick[:, 1:].any()
    in_bar_one = T.keep_mask(32, lock="hat", lock_bars=[0])
    assert in_bar_one[:16, 2].all() and not in_bar_one[16:, 2].any()
    with pytest.raises(ValueError, match="unknown voice 'cowbell'"):
        T.keep_mask(32, lock="cowbell")
    with pytest.raises(ValueError, match="whole bars"):
        T.keep_mask(20)


def test_take_json_round_trip_is_exact():
    rng = np.random.default_rng(0)
    take = H.empty_hvo(64)
    hits = rng.random((64, 9)) < 0.2
    take[:, H.HITS] = hits
    take[:, H.VELOCITIES] = np.where(hits, rng.integers(1, 128, (64, 9)) / 127, 0)
    take[:, H.OFFSETS] = np.where(hits, rng.uniform(-0.5, 0.4999, (64, 9)), 0)
    value = json.loads(json.dumps(T.take_to_json(take, seed=3, model="controlled")))
    assert value["seed"] == 3 and value["steps"] == 64 and len(value["hits"]) == hits.sum()
    assert np.array_equal(T.take_from_json(value, 64), take)


@pytest.mark.parametrize("value, words", [
    ([1, 2], "expected"), ({"steps": 32}, "expected"), ({"steps": 20, "hits": []}, "whole number of bars"),
    ({"steps": 32, "hits": [[40, "kick", 0.5, 0]]}, "step must be 0 to 31"),
    ({"steps": 32, "hits": [[0, "cowbell", 0.5, 0]]}, "unknown voice"),
    ({"steps": 32, "hits": [[0, "kick", 1.5, 0]]}, "velocity must be"),
    ({"steps": 32, "hits": [[0, "kick", 0.5]]}, "each hit is"),
    ({"steps": 64, "hits": []}, "the take is 4 bars long and the song 2"),
])
def test_take_from_json_refuses_in_words(value, words):
    with pytest.raises(ValueError, match=words):
        T.take_from_json(value, 32)
