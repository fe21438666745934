"""What a person types (the command line, the Python API) read into per-bar controls
(drumgen.control_input, the TYPED rules): curves, voices, weights, mutes, styles, and one clear line
for anything it cannot read."""
import numpy as np
import pytest

from drumgen import control_input as CI
from drumgen import controls as C
from drumgen import hvo as H


def test_parse_curve():
    assert np.allclose(CI.parse_curve("0.5", 3), [0.5] * 3)
    assert np.allclose(CI.parse_curve("0.2-0.8", 4), [0.2, 0.4, 0.6, 0.8])
    assert np.allclose(CI.parse_curve(" 0.2, 0.5 ", 4), [0.2, 0.5, 0.5, 0.5])
    assert np.allclose(CI.parse_curve("1,0", 2), [1, 0])
    for text in ("free", "", None, "FREE"):
        assert np.isnan(CI.parse_curve(text, 3)).all()
    for text, match in [("loud", "expected"), ("0.2,,0.3", "expected"), ("nan", "between 0 and 1"),
                        ("1.5", "between 0 and 1"), ("-0.1", "between 0 and 1"), ("inf", "between 0 and 1"),
                        ("0.2-", "expected"), ("0.1,0.2,0.3", "3 values for 2 bars")]:
        with pytest.raises(ValueError, match=match):
            CI.parse_curve(text, 2)



def test_build_controls_forms():
    c = CI.build_controls(4, density="0.2-0.8", intensity="0.3,0.9", mute="ride, crash",
                                weights={"snare": 0.25, "Hi-Hat": "0.1-0.4"}, style="Hip-Hop")
    assert np.allclose(c["density"], [0.2, 0.4, 0.6, 0.8])
    assert np.allclose(c["intensity"], [0.3, 0.9, 0.9, 0.9])
    assert list(c["instruments"]) == ["snare", "closed_hat", "crash", "ride"]  # in VOICES order
    assert np.allclose(c["instruments"]["snare"], 0.25) and np.allclose(c["instruments"]["closed_hat"], [0.1, 0.2, 0.3, 0.4])
    assert not c["instruments"]["ride"].any() and not c["instruments"]["crash"].any()
    assert c["style"] == "hiphop"
    checked = C.validate_controls(c, 1, 4)
    assert (checked.style == C.STYLES.index("hiphop")).all() and np.isnan(checked.instruments[0, :, 0]).all()



def test_build_controls_numbers_and_free():
    assert CI.build_controls(3) == {}
    assert CI.build_controls(3, density="free", style="any", mute=[], weights={}) == {}
    c = CI.build_controls(3, density=0.5, intensity=[0.2, np.nan])
    assert np.allclose(c["density"], 0.5) and np.allclose(c["intensity"][0], 0.2) and np.isnan(c["intensity"][1:]).all()



@pytest.mark.parametrize("kwargs, message", [
    (dict(density="0.1,0.2,0.3"), "density: curve '0.1,0.2,0.3': 3 values for 2 bars"),
    (dict(density=[0.1, 0.2, 0.3]), "density: 3 values for 2 bars"),
    (dict(intensity=1.5), "intensity: values must be numbers between 0 and 1"),
    (dict(density="x"), "density: curve 'x'"),
    (dict(mute="cowbell"), "unknown voice 'cowbell'; voices: kick, snare, closed_hat"),
    (dict(weights={"snare": 2}), "weight snare"),
    (dict(weights={"snare": 0.6, "kick": "0.2-0.5"}), "weights add up to 1.10 in bar 2"),
    (dict(weights={"kick": 0.1}, mute="kick"), "kick is both muted and given a weight"),
    (dict(mute=list(H.VOICES)), "every voice is muted"),
    (dict(style="polka"), "unknown style 'polka'"),
])
def test_build_controls_refuses_bad_values(kwargs, message):
    with pytest.raises(ValueError) as info:
        CI.build_controls(2, **kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)



def test_parse_weights():
    assert CI.parse_weights(["snare=0.4,kick=0.6", "ride=0.1-0.3"]) == {"snare": "0.4", "kick": "0.6", "ride": "0.1-0.3"}
    assert CI.parse_weights("snare=0.2,0.5,hat=0.1") == {"snare": "0.2,0.5", "closed_hat": "0.1"}
    assert CI.parse_weights(None) == {}
    for bad in ("0.3", "snare=", "=0.3", "snare=0.1,snare=0.2"):
        with pytest.raises(ValueError):
            CI.parse_weights(bad)



def test_control_spec_checks_early_and_resolves_per_song():
    with pytest.raises(ValueError, match="unknown style"):
        CI.ControlSpec(style="polka")
    with pytest.raises(ValueError, match="density"):
        CI.ControlSpec(density="lots")
    spec = CI.ControlSpec(density="0.1,0.9", weights="snare=0.3")  # weights as typed on the command line
    assert spec.weights == {"snare": "0.3"}
    assert np.allclose(spec.resolve(3)["density"], [0.1, 0.9, 0.9])
    with pytest.raises(ValueError, match="2 values for 1 bars"):
        spec.resolve(1)



def test_ignored_controls(tiny_model):
    from drumgen.models.controlled import RhythmDrivenDrumGen, tiny_config

    spec = CI.ControlSpec(style="funk", density=0.5)
    assert CI.ignored_controls(tiny_model, spec) == ["style"]
    assert CI.ignored_controls(tiny_model, CI.ControlSpec(style="any", density=0.5)) == []
    assert CI.ignored_controls(tiny_model, {"style": "funk"}) == ["style"]
    assert CI.ignored_controls(RhythmDrivenDrumGen(tiny_config()), spec) == []
    assert CI.ignored_controls(tiny_model, None) == []



@pytest.mark.parametrize("kwargs, name", [
    (dict(density=True), "density"),
    (dict(density=10 ** 400), "density"),
    (dict(intensity=[0.5, 1j]), "intensity"),
    (dict(weights=5), "weight"),
    (dict(mute=5), "mute"),
    (dict(weights={"snare": True}), "weight snare"),
])
def test_build_controls_refuses_odd_types_with_a_value_error(kwargs, name):
    with pytest.raises(ValueError, match=name):
        CI.build_controls(2, **kwargs)



@pytest.mark.parametrize("n_bars", [True, 0, 2.0, "4"])
def test_build_controls_needs_a_whole_number_of_bars(n_bars):
    with pytest.raises(ValueError, match="at least one bar"):
        CI.build_controls(n_bars)


def test_a_style_that_is_not_text_is_checked_when_the_spec_is_made():
    for bad in (5, 1.5, True, ["polka"] * 3):
        with pytest.raises(ValueError, match="style"):
            CI.ControlSpec(style=bad)
    assert CI.build_controls(2, style=["funk", None])["style"] == ["funk", None]  # per-bar names still go through


def test_what_a_caller_sent_is_echoed_back_short():
    with pytest.raises(ValueError) as info:
        CI.build_controls(2, density=[10 ** 400, 0.5], rules=CI.PAINTED)
    assert "401-digit number" in str(info.value) and len(str(info.value)) < 120
    with pytest.raises(ValueError) as info:
        CI.number_in("temperature", "x" * 100_000, 0, 3)
    assert len(str(info.value)) < 120


@pytest.mark.parametrize("value, expected", [
    ("8, 16", [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]),
    ("every 4", [0, 0, 0, 1] * 4), ("every 4th bar", [0, 0, 0, 1] * 4), ("Every 8 bars", [0] * 7 + [1] + [0] * 7 + [1]),
    ("none", [0] * 16), ("", [None] * 16), ("free", [None] * 16), (None, [None] * 16), ("3-4", [0, 0, 1, 1] + [0] * 12),
])
def test_read_fills_reads_what_musicians_type(value, expected):
    got = CI.read_fills("fill", value, 16)
    assert [None if np.isnan(x) else x for x in got] == expected


def test_read_fills_per_bar_values_typed_and_painted():
    assert CI.read_fills("fill", [0, 1, None], 3).tolist()[:2] == [0, 1]
    with pytest.raises(ValueError, match="1 .a fill., 0 .no fill."):
        CI.read_fills("fill", [0.5, 1], 2)
    notes = set()
    painted = CI.read_fills("fill", [0.2, 0.6, None, 1.0], 4, CI.PAINTED, notes)
    assert painted.tolist()[:2] == [0, 1] and np.isnan(painted[2]) and painted[3] == 1
    assert any("0.5 and above is a fill" in n for n in notes)


@pytest.mark.parametrize("bad, words", [("17", "bar 17 is outside the song"), ("every 0", "N of 1 or more"),
                                        ("often", "or 'every 4', 'none', 'free'")])
def test_read_fills_refuses_in_words(bad, words):
    with pytest.raises(ValueError, match=words):
        CI.read_fills("fill", bad, 16)


def test_fills_reach_the_controls_and_models_that_ignore_them_are_named():
    spec = CI.ControlSpec(fill="every 2")
    assert spec.resolve(4)["fill"].tolist() == [0, 1, 0, 1] and spec.sets_fill()

    class Old:
        learns_controls, follows_fills = True, False

    class New:
        learns_controls, follows_fills = True, True

    assert CI.ignored_controls(Old(), spec) == ["fill"] and CI.ignored_controls(New(), spec) == []
    assert CI.ignored_controls(Old(), CI.ControlSpec(style="funk")) == []
