"""What the page's per-bar lanes mean, without Gradio: checked, clamped, padded, shaped, described,
turned into controls (drumgen.lanes, read by drumgen.control_input with its PAINTED rules)."""
import json

import numpy as np
import pytest

from drumgen import hvo as H
from drumgen import lanes as L
from drumgen.control_input import bar_ranges


def test_clean_lanes_pads_cuts_clamps_and_frees():
    lanes, notes = L.clean_lanes({"density": [0.2, 1.7, None, float("nan"), "0.5", 0.1, 0.9],
                                  "Snare": 0.3, "hihat": [-1], "ride": []}, 5)
    assert lanes["density"] == [0.2, 1.0, None, None, 0.5]
    assert lanes["snare"] == [0.3] * 5
    assert lanes["closed_hat"] == [0.0, None, None, None, None]
    assert lanes["ride"] == [None] * 5 and lanes["kick"] == [None] * 5
    assert set(lanes) == set(L.LANES)
    assert any("clamped" in n for n in notes) and any("past bar 5" in n for n in notes)
    assert L.clean_lanes(None, 3) == (L.free_lanes(3), [])
    assert L.clean_lanes(json.dumps({"kick": [0.5]}), 2)[0]["kick"] == [0.5, None]
    assert L.clean_lanes({}, 2)[0] == L.free_lanes(2)



@pytest.mark.parametrize("bad, words", [
    ({"snare_drum": [0.5]}, "unknown lane 'snare_drum'; lanes: density, intensity, kick"),
    ({"density": ["loud"]}, "density, bar 1 must be a number"),
    ({"density": [0.1, True]}, "density, bar 2 must be a number"),
    ({"density": {"a": 1}}, "density must be a list"),
    ({"hat": [0.1], "closed_hat": [0.2]}, "closed_hat is given twice"),
    ([0.5, 0.5], "expected an object"),
    ("{not json", "not JSON"),
])
def test_clean_lanes_refuses_what_it_cannot_read(bad, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        L.clean_lanes(bad, 4)



def test_lanes_to_controls():
    assert L.lanes_to_controls(L.free_lanes(4)) == (None, [])
    lanes = {**L.free_lanes(4), "density": [0.2, None, 0.8, None], "ride": [0, 0, 0, 0],
             "kick": [0.8, 0.3, None, None], "snare": [0.8, 0.3, None, None]}
    controls, notes = L.lanes_to_controls(lanes, "Hip-Hop")
    np.testing.assert_allclose(controls["density"], [0.2, np.nan, 0.8, np.nan])
    assert "intensity" not in controls and controls["style"] == "hiphop"
    assert set(controls["instruments"]) == {"kick", "snare", "ride"}
    np.testing.assert_allclose(controls["instruments"]["kick"], [0.5, 0.3, np.nan, np.nan])  # 0.8 + 0.8 -> 0.5 + 0.5
    assert notes and "bar 1" in notes[0] and "scaled" in notes[0]
    assert L.lanes_to_controls(L.free_lanes(2), "any")[0] is None
    with pytest.raises(ValueError, match="unknown style"):
        L.lanes_to_controls(L.free_lanes(2), "polka")



def test_set_lane_shapes():
    lanes = L.free_lanes(5)
    assert L.set_lane(lanes, "density", "flat", 0.6)["density"] == [0.6] * 5
    assert L.set_lane(lanes, "Snare", "ramp up", 0.8)["snare"] == [0.2, 0.35, 0.5, 0.65, 0.8]  # never 0 (a mute)
    down = L.set_lane(lanes, "intensity", "ramp_down", 2.0)  # level clamped to 1
    assert down["intensity"] == [1.0, 0.8125, 0.625, 0.4375, 0.25]
    painted = L.set_lane(down, "kick", "flat", 0.3)
    assert painted["intensity"] == down["intensity"] and painted["kick"] == [0.3] * 5
    assert L.set_lane(painted, "kick", "free", 0.3)["kick"] == [None] * 5
    assert L.set_lane(painted, "all", "free", 0) == L.free_lanes(5)
    assert lanes == L.free_lanes(5)  # a new dict each time
    with pytest.raises(ValueError, match="Load a groove first"):
        L.set_lane({}, "density", "flat", 0.5)
    with pytest.raises(ValueError, match="unknown lane shape"):
        L.set_lane(lanes, "density", "zigzag", 0.5)
    with pytest.raises(ValueError, match="level must be a number"):
        L.set_lane(lanes, "density", "flat", "high")



def test_describe_lanes_and_bar_ranges():
    assert bar_ranges([0, 1, 2, 5, 7, 8]) == "1–3, 6, 8–9"
    lanes = {**L.free_lanes(16), "density": [0.2] * 8 + [0.9] * 8, "ride": [0] * 16, "snare": [None, 0.3, 0, None] * 4}
    text = " | ".join(L.describe_lanes(lanes))
    assert "**density** 0.20–0.90 in bars 1–16" in text
    assert "**ride** muted in bars 1–16" in text
    assert "**snare** 0.30 in bars 2, 6, 10, 14; muted in bars 3, 7, 11, 15" in text
    assert L.describe_lanes(L.free_lanes(3)) == []



def test_set_lane_and_free_all_refuse_bad_text_and_endless_lanes_in_words():
    """A caller's lanes that are not JSON get clean_lanes' sentence, not json's 'Expecting value';
    lanes longer than any song drumgen takes are refused, not echoed back bar by bar."""
    with pytest.raises(ValueError, match="lanes: expected an object"):
        L.set_lane("abc", "density", "flat", 0.5)
    too_long = {"density": [0.1] * (H.MAX_BARS + 1)}
    with pytest.raises(ValueError, match=f"at most {H.MAX_BARS} bars"):
        L.set_lane(too_long, "density", "flat", 0.5)
    with pytest.raises(ValueError, match=f"at most {H.MAX_BARS} bars"):
        L.lanes_length(too_long)
    assert L.lanes_length({"density": [None] * H.MAX_BARS}) == H.MAX_BARS
    assert L.set_lane(json.dumps(L.free_lanes(3)), "kick", "flat", 0.5)["kick"] == [0.5] * 3


def test_the_fill_lane():
    lanes, notes = L.clean_lanes({"Fills": [None, 0.2, 0.7, 1]}, 4)
    assert lanes["fill"] == [None, 0.0, 1.0, 1.0] and notes
    controls, _ = L.lanes_to_controls(lanes)
    assert controls["fill"][1:].tolist() == [0, 1, 1] and np.isnan(controls["fill"][0])
    assert "**fill** in bars 3–4; none in bar 2" in L.describe_lanes(lanes)
    assert L.set_lane(lanes, "fill", "flat", 0.9)["fill"] == [1.0] * 4
    with pytest.raises(ValueError, match="a bar is a fill or not"):
        L.set_lane(lanes, "fill", "ramp_up", 0.9)
    assert L.LANE_ROWS[-1][:3] == ("fill", "Fill", "fills")
