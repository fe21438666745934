"""drumgen.meter_figures: the grooves are in their meter, the figures tell a drummer who plays the bars
from one who plays 4/4 through them, and the script runs end to end on a tiny model."""
import json

import numpy as np
import pytest

from drumgen import data
from drumgen import hvo as H
from drumgen import meter as M
from drumgen import meter_figures as F


@pytest.mark.parametrize("meter", F.METERS)
def test_grooves_have_their_onsets_where_the_meter_says(meter):
    length = M.bar_steps(*M.parse_meter(meter))
    for kind in F.KINDS:
        grooves, bars = F.make_grooves(kind, meter, 3, seed=1)
        assert grooves.shape == (3, bars.n_steps, 3)
        if kind == "song":  # 4/4, a bar of 2/4, the meter, 4/4
            assert bars.meters == ((4, 4),) * 4 + ((2, 4),) + (M.parse_meter(meter),) * 4 + ((4, 4),) * 4
        else:
            assert bars.n_bars == F.N_BARS and (bars.lengths == length).all()
        onsets = grooves[..., 0] > 0.5
        assert onsets[:, bars.starts[:-1]].all()  # beat 1 of every bar
        position = bars.position_in_bar()
        if kind == "taps":  # every felt beat and nothing else, beat 1 the loudest
            assert (onsets == bars.beat_starts).all()
            downbeat = np.isin(np.arange(bars.n_steps), bars.starts[:-1])
            assert grooves[:, downbeat, 1].min() > grooves[:, bars.beat_starts & ~downbeat, 1].max()
        else:  # a bass line on eighths, louder on beat 1 than off the beats
            assert (position[onsets.any(0)] % 2 == 0).all()
            assert grooves[:, bars.starts[:-1], 1].mean() > grooves[:, ~bars.beat_starts, 1][onsets[:, ~bars.beat_starts]].mean()
        on = grooves[onsets]
        assert ((on[:, 1] > 0) & (on[:, 1] <= 1)).all() and (np.abs(on[:, 2]) < 0.5).all()
        assert (grooves[~onsets] == 0).all()
        again, _ = F.make_grooves(kind, meter, 3, seed=1)
        other, _ = F.make_grooves(kind, meter, 3, seed=2)
        assert np.array_equal(grooves, again) and not np.array_equal(grooves, other)


def test_periodicity_is_highest_at_the_true_period():
    rng = np.random.default_rng(0)
    for period in (12, 14, 20):
        x = np.tile(rng.integers(0, 4, period), 120 // period + 1)[:120] + 0.3 * rng.random(120)
        assert F.periodicity(x, period) > 0.9
        assert F.periodicity(x, period) > F.periodicity(x, 16) + 0.3
    x = np.tile([3.0, 0, 1, 0], 30)  # a beat pulse: every multiple of 4 alike
    assert F.periodicity(x, 12) == pytest.approx(F.periodicity(x, 16)) == pytest.approx(1.0)
    assert -1 <= F.periodicity(rng.random((5, 96)), 12) <= 1
    assert np.isnan(F.periodicity(np.ones((2, 48)), 12))  # nothing varies
    assert np.isnan(F.periodicity(x, 200))


def drummer(bars: M.Bars, n: int = 2, bar_length: int | None = None) -> np.ndarray:
    """Drums that play `bars` (kick and crash on beat 1, snare on the second felt beat, hats on the
    eighths, loud on the beats), or with bar_length 16 a 4/4 drummer who ignores them (kick and crash
    every 16 steps, snare 8 steps later)."""
    hvo = np.zeros((n, bars.n_steps, H.HVO_DIM), np.float32)
    t = np.arange(bars.n_steps)
    if bar_length is None:
        first, beats = np.isin(t, bars.starts[:-1]), bars.beat_starts
        second = np.isin(t, [s + M.beat_groups(*m)[0] for s, m in zip(bars.starts[:-1], bars.meters)])
    else:
        first, beats, second = t % bar_length == 0, t % 4 == 0, t % bar_length == bar_length // 2
    kick, snare, hat, crash = (H.VOICES.index(v) for v in ("kick", "snare", "closed_hat", "crash"))
    hvo[:, first, kick] = hvo[:, first, crash] = 1
    hvo[:, second, snare] = 1
    hvo[:, t % 2 == 0, hat] = 1
    hvo[..., H.VELOCITIES] = hvo[..., H.HITS] * np.where(beats, 0.9, 0.5)[None, :, None]
    return hvo


def test_the_figures_tell_a_drummer_in_the_meter_from_one_in_four_four():
    for meter in ("3/4", "6/8", "7/8", "5/4"):
        grooves, bars = F.make_grooves("bass", meter, 2, seed=0)
        good = F.groove_figures(drummer(bars), grooves, bars, meter)
        bad = F.groove_figures(drummer(bars, bar_length=16), grooves, bars, meter)
        assert good["downbeat"]["share"] == 1.0 and bad["downbeat"]["share"] < 0.5
        p, q = good["periodicity"], bad["periodicity"]
        assert p["kick_snare_bar"] > p["kick_snare_16"] and q["kick_snare_bar"] < q["kick_snare_16"]
        assert p["drums_bar"] > p["drums_16"]
        if meter == "6/8":
            assert good["accents"]["ratio"] > 1.5 and good["accents"]["velocity_on_beats"] > good["accents"]["velocity_off_beats"]
            assert good["accents"]["snare_on_later_beats"] == 1.0  # the snare on the fourth eighth
            waltz = drummer(bars)                                   # ... and on the third, as 3/4 has it
            snare = H.VOICES.index("snare")
            waltz[..., snare] = np.roll(waltz[..., snare], -2, axis=1)
            waltz[..., H.N_VOICES + snare] = np.roll(waltz[..., H.N_VOICES + snare], -2, axis=1)
            assert F.groove_figures(waltz, grooves, bars, meter)["accents"]["snare_on_later_beats"] == 0.0
    grooves, bars = F.make_grooves("song", "7/8", 2, seed=0)
    song = F.groove_figures(drummer(bars), grooves, bars, "7/8")
    assert song["downbeat_at_changes"]["share"] == 1.0 and song["downbeat_all_bars"]["bars"] == 2 * bars.n_bars


def fake_windows() -> data.WindowSet:
    """Windows of 128 steps in 3/4 and 6/8, as load_split(meters='other') gives them."""
    parts = []
    for meter in ("3/4", "6/8"):
        bars = M.Bars.covering(meter, 128)
        parts.append(drummer(bars, 3)[:, :128])
    return data.WindowSet(np.concatenate(parts), np.repeat([0, 1], 3), np.tile(np.arange(3), 2),
                          np.array(["latin"] * 3 + ["rock"] * 3), ["a_3-4.mid", "b_6-8.mid"],
                          np.array(["3/4"] * 3 + ["6/8"] * 3))


def in_range(value, low=0.0, high=1.0) -> bool:
    return bool(np.isfinite(value) and low <= value <= high)


@pytest.fixture(scope="module")
def tiny_models():
    import torch

    from drumgen.models.controlled import RhythmDrivenDrumGen, tiny_config

    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield {flag: RhythmDrivenDrumGen(tiny_config(meter_aware=flag, fill_control=True)).eval() for flag in (True, False)}
    torch.set_num_threads(threads)


def test_end_to_end_on_a_tiny_meter_aware_model(tiny_models):
    model = tiny_models[True]
    assert model.plays_meters and model.window == 64  # GMD windows (128 steps) span two of its windows
    result = F.meter_figures(model, fake_windows(), seeds=(0, 1), limit=2, meters=("3/4", "6/8", "7/8"))
    assert result["plays_meters"] and result["grooves_per_seed"] == 2
    for meter in ("3/4", "6/8"):
        row = result["gmd"][meter]
        assert row["windows"] == 2 and row["performances"] == 1 and row["true_downbeat"] == 1.0
        for reading in F.READINGS:
            assert len(row[reading]["by_seed"]["f1_free"]) == 2
            assert all(in_range(row[reading][k]) for k in ("f1_free", "f1_true_controls", "downbeat_free"))
    for meter, kinds in result["synthetic"].items():
        assert set(kinds) == set(F.KINDS) and set(kinds["song"]) == {"meter"} and set(kinds["bass"]) == set(F.READINGS)
        for row in kinds.values():
            for r in row.values():
                assert r["items"] == 4
                assert all(in_range(v, -1, 1) for v in r["periodicity"].values())
                assert in_range(r["downbeat"]["share"]) and r["downbeat"]["bars"] > 0
                assert ("accents" in r) == (meter == "6/8")
    for meter, row in result["fills"].items():  # figure 3: the fill control, in every meter
        assert row["grooves"] == 8 and set(row) == {"grooves", "asked", "free"}
        assert all(in_range(v) for r in (row["asked"], row["free"]) for v in r.values())
    report = F.format_report(result)
    assert "| 7/8 | 8 |" in report and "3. fills asked in bars 4 and 8" in report
    assert "| 3/4 | 2 (1) | in its meter |" in report and "| 3/4 | 2 (1) | read as 4/4 |" in report
    assert "| 7/8 (14) | song | in its meter |" in report and "| 6/8 | taps | read as 4/4 |" in report
    json.dumps(result)  # plain numbers, lists and dicts: the --json file


def test_a_four_four_model_runs_the_four_four_reading_only(tiny_models):
    result = F.meter_figures(tiny_models[False], fake_windows(), seeds=(0,), limit=1, meters=("3/4",))
    assert not result["plays_meters"]
    assert "meter" not in result["gmd"]["3/4"] and in_range(result["gmd"]["3/4"]["4/4"]["f1_free"])
    assert set(result["synthetic"]["3/4"]) == {"bass", "taps"}  # no song: it changes meter
    assert "does not hear the meter" in F.format_report(result) and "fills" not in result


def test_main_prints_the_tables(tiny_models, tmp_path, capsys):
    path = tmp_path / "tiny.pth"
    tiny_models[True].save(str(path))
    out = tmp_path / "figures.json"
    assert F.main([str(path), "--no-gmd", "--limit", "1", "--seeds", "0", "--meters", "6/8,5/4", "--threads", "1",
                   "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "hears the meter: yes" in printed and "| 6/8 | bass | in its meter |" in printed
    assert set(json.loads(out.read_text())["synthetic"]) == {"6/8", "5/4"}


def test_the_fill_figure_tells_a_model_that_plays_fills_where_asked(monkeypatch):
    """A stand-in model that plays a tom run in every bar asked to be a fill and a plain beat elsewhere
    scores every asked bar a fill and no other; one that ignores the lane scores none."""
    class Drummer:
        plays_meters = True

        def __init__(self, follows: bool):
            self.follows, self.config = follows, type("Config", (), {"fill_control": True})()

        def generate(self, groove, controls=None, seed=0, temperature=1.0, bars=None):
            out = drummer(bars, len(groove))
            if self.follows and controls is not None:
                for b in np.nonzero(controls.fill[0] == 1)[0]:
                    start, stop = bars.starts[b], bars.starts[b + 1]
                    out[:, start:stop, :H.N_VOICES] = 0
                    out[:, start:stop, 4:7] = 1.0       # toms on every step: a fill to any ear
                    out[:, start:stop, H.N_VOICES + 4:H.N_VOICES + 7] = 0.9
            return out

    good = F.fill_figures(Drummer(True), ("3/4", "7/8"), seeds=(0,), n_grooves=2)
    deaf = F.fill_figures(Drummer(False), ("3/4",), seeds=(0,), n_grooves=2)
    for meter in ("3/4", "7/8"):
        assert good[meter]["asked"]["fill_bars_judged_fill"] == 1.0 and good[meter]["asked"]["other_bars_judged_fill"] == 0.0
    assert deaf["3/4"]["asked"]["fill_bars_judged_fill"] == 0.0
