import numpy as np
import pytest

from drumgen import controls as C
from drumgen import hvo as H

KICK, SNARE, HAT = 0, 1, 2


def hand_made_hvo():
    """Item 0: bar 0 = kick on 1 and 3 at velocity 1, snare on 2 and 4 at 0.5; bar 1 empty.
    Item 1: bar 0 = 8 hats at 0.25; bar 1 = one kick at 0.8."""
    hvo = np.zeros((2, 32, H.HVO_DIM), np.float32)
    for step, voice, vel in [(0, KICK, 1.0), (8, KICK, 1.0), (4, SNARE, 0.5), (12, SNARE, 0.5)]:
        hvo[0, step, voice], hvo[0, step, 9 + voice] = 1, vel
    hvo[1, 0:16:2, HAT], hvo[1, 0:16:2, 9 + HAT] = 1, 0.25
    hvo[1, 16, KICK], hvo[1, 16, 9 + KICK] = 1, 0.8
    return hvo


def test_measure_controls_on_known_bars():
    m = C.measure_controls(hand_made_hvo())
    assert m["density"].shape == (2, 2) and m["instruments"].shape == (2, 2, 9)
    assert all(v.dtype == np.float32 for v in m.values())
    assert np.allclose(m["density"], C.density_from_counts([[4, 0], [8, 1]]))
    assert m["density"][0, 1] == 0 and m["intensity"][0, 1] == 0 and not m["instruments"][0, 1].any()
    assert np.allclose(m["intensity"], [[0.75, 0], [0.25, 0.8]])
    assert np.allclose(m["instruments"][0, 0, :3], [0.5, 0.5, 0]) and m["instruments"][1, 0, HAT] == 1
    assert np.allclose(m["instruments"].sum(-1), [[1, 0], [1, 1]])
    single = C.measure_controls(hand_made_hvo()[1])
    assert single["density"].shape == (2,) and np.allclose(single["intensity"], [0.25, 0.8])
    with pytest.raises(ValueError, match="multiple of 16"):
        C.measure_controls(np.zeros((1, 20, 27)))


def test_density_is_monotonic_and_inverted_exactly():
    table = C.DENSITY_TABLE
    assert len(table) == len(C.DENSITY_LEVELS) == 21 and (np.diff(table) > 0).all()
    counts = np.arange(0, 60)
    d = C.density_from_counts(counts)
    assert d[0] == 0 and d[-1] == 1 and (np.diff(d[counts <= table[-1]]) > 0).all() and (np.diff(d) >= 0).all()
    assert C.density_from_counts(table[10]) == pytest.approx(0.5)
    x = np.linspace(0, table[-1], 301)
    assert np.allclose(C.counts_from_density(C.density_from_counts(x)), x)
    assert np.allclose(C.density_from_counts(C.counts_from_density(C.DENSITY_LEVELS)), C.DENSITY_LEVELS)
    assert np.isnan(C.density_from_counts(np.nan))


def test_density_table_is_strictly_increasing_even_with_ties():
    for counts in ([5] * 100, [1, 2, 2, 2, 2, 9], np.random.default_rng(0).poisson(18, 5000)):
        table = C.density_table(counts)
        assert table[0] == 0 and (np.diff(table) > 0).all()
    assert C.density_table([5] * 100)[-1] == 5.5 and C.density_table([5] * 100)[10] == 5.0


def test_curves():
    assert np.allclose(C.curve([0, 4], [0, 1], 5), [0, 0.25, 0.5, 0.75, 1])
    assert np.allclose(C.curve([2, 4], [0.2, 0.6], 7), [0.2, 0.2, 0.2, 0.4, 0.6, 0.6, 0.6])
    assert np.allclose(C.curve([1, 3], [0.1, 0.9], 5, kind="step"), [0.1, 0.1, 0.1, 0.9, 0.9])
    assert np.allclose(C.ramp(0.2, 0.8, 4), [0.2, 0.4, 0.6, 0.8]) and np.allclose(C.ramp(0.3, 0.9, 1), [0.3])
    for args, match in [(([0, 0], [1, 2], 3), "increasing"), (([0, 1], [1], 3), "as many"), (([0], [1], 3, "cubic"), "kind")]:
        with pytest.raises(ValueError, match=match):
            C.curve(*args)
    assert C.style_curve([0, 2], ["funk", None], 4) == ["funk", "funk", None, None]
    with pytest.raises(ValueError, match="known styles"):
        C.style_curve([0], ["polka"], 4)


def test_styles():
    assert tuple(sorted(C.STYLES)) == C.STYLES and "rock" in C.STYLES and len(C.STYLES) == 18
    assert C.style_index("Hip-Hop") == C.style_index("hip hop") == C.STYLES.index("hiphop")
    assert C.style_index(" FUNK ") == C.STYLES.index("funk")
    with pytest.raises(ValueError, match="unknown style 'polka'.*afrobeat.*soul"):
        C.style_index("polka")


def test_validate_accepts_every_form():
    n, b = 2, 3
    free = C.validate_controls(None, n, b)
    assert free.is_free() and not free.any_set() and free.density.shape == (n, b) and (free.style == -1).all()
    assert C.validate_controls({}, n, b).is_free()
    c = C.validate_controls({"density": 0.4, "intensity": [0.1, None, 0.3], "style": "rock"}, n, b)
    assert c.density.dtype == np.float32 and np.allclose(c.density, 0.4) and c.any_set()
    assert np.isnan(c.intensity[:, 1]).all() and np.allclose(c.intensity[:, 2], 0.3)
    assert (c.style == C.STYLES.index("rock")).all() and c.style.dtype == np.int64
    assert np.allclose(C.validate_controls({"density": [[0.1] * 3, [0.2] * 3]}, n, b).density[1], 0.2)
    shares = np.full(9, 0.1)
    for inst in (shares, np.tile(shares, (b, 1)), np.tile(shares, (n, b, 1))):
        assert np.allclose(C.validate_controls({"instruments": inst}, n, b).instruments, 0.1)
    d = C.validate_controls({"instruments": {"kick": 0.5, "snare": [0, 0.2, 0.4]}}, n, b).instruments
    assert np.allclose(d[..., KICK], 0.5) and np.allclose(d[1, :, SNARE], [0, 0.2, 0.4]) and np.isnan(d[..., HAT]).all()
    s = C.validate_controls({"style": ["funk", None, "jazz"]}, n, b).style
    assert s[1].tolist() == [C.STYLES.index("funk"), -1, C.STYLES.index("jazz")]
    s = C.validate_controls({"style": [["funk"] * 3, [None] * 3]}, n, b).style
    assert (s[0] == C.STYLES.index("funk")).all() and (s[1] == -1).all()
    again = C.validate_controls(c, n, b)
    assert np.array_equal(again.style, c.style) and np.allclose(again.density, c.density)


@pytest.mark.parametrize("controls, match", [
    ({"tempo": 0.5}, "unknown controls.*density"),
    ({"density": [0.1, 0.2]}, r"density: expected.*\(3,\)"),
    ({"density": [0.1, 0.2, 0.3, 0.4]}, "density: expected"),
    ({"intensity": 1.5}, r"intensity: values must be in \[0, 1\]"),
    ({"density": -0.1}, "density: values"),
    ({"density": np.inf}, "density: values"),
    ({"density": "loud"}, "density: expected numbers"),
    ({"instruments": np.full(8, 0.1)}, r"instruments: expected \(9,\)"),
    ({"instruments": {"cowbell": 1.0}}, "unknown voices.*cowbell.*kick"),
    ({"instruments": {"kick": 2.0}}, r"instruments\[kick\]: values"),
    ({"style": "polka"}, "unknown style 'polka'"),
    ({"style": ["rock", "funk"]}, "style: expected"),
    ({"style": 3}, "style: expected"),
    ([0.5], "controls must be a dict"),
])
def test_validate_refuses_with_useful_text(controls, match):
    with pytest.raises(ValueError, match=match):
        C.validate_controls(controls, 2, 3)


def test_controls_free_bars_and_measure():
    free = C.Controls.free(2, 4)
    assert free.is_free() and free.instruments.shape == (2, 4, 9)
    m = C.measure_controls(hand_made_hvo())
    c = C.controls_from_measure(m, np.array(["funk", "rock"]))
    assert np.allclose(c.density, m["density"]) and c.style[:, 0].tolist() == [C.STYLES.index("funk"), C.STYLES.index("rock")]
    assert (C.controls_from_measure(m, None).style == -1).all()
    part = c.bars(1, 2)
    assert part.density.shape == (2, 1) and np.allclose(part.intensity, m["intensity"][:, 1:])
    part.density[:] = 0.9
    assert not np.allclose(c.density[:, 1], 0.9)  # a copy
    longer = part.padded(3)
    assert longer.density.shape == (2, 3) and np.isnan(longer.density[:, 1:]).all() and (longer.style[:, 1:] == -1).all()
    with pytest.raises(ValueError, match="pad"):
        c.padded(1)


def test_condition_array_layout():
    c = C.validate_controls({"density": [0.3, None], "instruments": {"snare": 0.25}, "style": [None, "jazz"],
                             "fill": [None, 1]}, 1, 2)
    cond, style = C.condition_array(c)
    assert cond.shape == (1, 2, C.CONDITION_DIM) == (1, 2, 24) and cond.dtype == np.float32
    assert (C.DENSITY, C.DENSITY_KNOWN, C.INTENSITY, C.INTENSITY_KNOWN) == (0, 1, 2, 3)
    assert (slice(4, 13), slice(13, 22), 22, 23) == (C.SHARES, C.SHARES_KNOWN, C.FILL, C.FILL_KNOWN)
    assert C.BASE_CONDITION_DIM == 22  # what models made before the fill control read
    assert cond[0, 0, :4].tolist() == [pytest.approx(0.3), 1, 0, 0] and cond[0, 1, :4].tolist() == [0, 0, 0, 0]
    assert cond[0, 0, 4 + SNARE] == 0.25 and cond[0, 0, 13 + SNARE] == 1 and cond[0, 0, 4:].sum() == 1.25
    assert cond[0, 0, 22:].tolist() == [0, 0] and cond[0, 1, 22:].tolist() == [1, 1]
    assert style.dtype == np.int64 and style[0].tolist() == [len(C.STYLES), C.STYLES.index("jazz")]


def test_fill_control_values():
    c = C.validate_controls({"fill": [0, 1, None, np.nan]}, 2, 4)
    assert c.fill.shape == (2, 4) and c.fill[1, :2].tolist() == [0, 1] and np.isnan(c.fill[:, 2:]).all()
    assert C.validate_controls(None, 1, 3).is_free() and not C.validate_controls({"fill": 0}, 1, 3).is_free()
    assert np.isnan(C.Controls.free(1, 2).fill).all() and C.Controls.free(1, 2).bars(1, 2).fill.shape == (1, 1)
    with pytest.raises(ValueError, match="fill: 1 .a fill., 0"):
        C.validate_controls({"fill": 0.5}, 1, 2)
    with pytest.raises(ValueError, match="fill"):
        C.validate_controls({"fill": [1, 2]}, 1, 2)


def test_measured_fill_is_the_judges():
    from drumgen import fills

    beat = np.zeros((1, 32, 27), np.float32)
    beat[0, ::4, 2] = beat[0, ::4, 11] = 1  # closed hat on every beat, two bars
    beat[0, ::8, 0] = beat[0, ::8, 9] = 1
    fill = beat.copy()
    fill[0, 16:] = 0
    fill[0, 16:32, [4, 5, 6]] = 1  # every tom on every 16th of bar 2
    fill[0, 16:32, [13, 14, 15]] = 0.9
    measured = C.measure_controls(np.concatenate([beat, fill]))["fill"]
    assert measured.tolist() == fills.fill_flags(np.concatenate([beat, fill])).tolist()
    assert measured[:, 0].tolist() == [0, 0] and measured[1, 1] == 1


def test_drop_controls_rate_and_no_mutation():
    n = 4000
    c = C.validate_controls({"density": 0.5, "intensity": 0.5, "instruments": np.full(9, 0.1), "style": "rock"}, n, 2)
    before = C.validate_controls(c, n, 2)
    dropped = C.drop_controls(c, np.random.default_rng(0), 0.3)
    assert np.array_equal(c.density, before.density) and np.array_equal(c.style, before.style)
    assert np.isnan(dropped.density[:, 0]).mean() == pytest.approx(0.3, abs=0.03)
    assert (np.isnan(dropped.density[:, 0]) == np.isnan(dropped.density[:, 1])).all()  # per item
    assert (dropped.style[:, 0] == -1).mean() == pytest.approx(0.3, abs=0.03)
    assert np.isnan(dropped.instruments[:, 0]).mean() == pytest.approx(0.3 + 0.7 * 0.5, abs=0.03)
    assert np.isnan(dropped.instruments[:, 0]).all(-1).mean() == pytest.approx(0.3 + 0.7 / 10, abs=0.03)
    n_set = np.isfinite(dropped.instruments[:, 0]).sum(-1)
    assert all((n_set == k).mean() > 0.03 for k in range(1, 9))  # any number of voices may be set
    assert not C.drop_controls(c, np.random.default_rng(0), 0.0).is_free()
    assert C.drop_controls(c, np.random.default_rng(0), 0.0).density.tolist() == c.density.tolist()
    assert C.drop_controls(c, np.random.default_rng(0), 1.0).is_free()


@pytest.mark.parametrize("controls", [
    {"density": True},                          # a boolean is not a density
    {"density": np.array([True, False, True])},
    {"intensity": "0.5"},                       # text: numbers only (the command line parses its own)
    {"intensity": np.array(["0.5"] * 3)},
    {"density": 10 ** 400},                     # too big for a float: was an OverflowError
    {"density": np.full(3, 0.5 + 1j)},          # complex: its imaginary part was dropped silently
    {"instruments": {"kick": {}}},
    {"density": [0.1, [0.2, 0.3], 0.4]},        # ragged
    {"style": {"rock"}},                        # a set has no bar order
    {"style": {"rock": 1}},
])
def test_odd_values_are_refused_with_a_value_error(controls):
    with pytest.raises(ValueError, match="density|intensity|instruments|style"):
        C.validate_controls(controls, 1, 3)


def test_none_inside_per_bar_values_is_free():
    c = C.validate_controls({"density": np.array([None, 0.5, None], dtype=object)}, 1, 3)
    assert np.isnan(c.density[0, [0, 2]]).all() and c.density[0, 1] == 0.5
