"""Every meter: bars from the meter map, every per-bar function in bars of every length, the models and
the command line on songs that are not in 4/4 (issue 14)."""
import mido
import numpy as np
import pytest
import torch

from drumgen import cli, midi, sampling, takes
from drumgen import controls as C
from drumgen import hvo as H
from drumgen import meter as M
from drumgen.models.controlled import RhythmDrivenDrumGen, tiny_config
from tests.conftest import make_midi

TPB = 480
SIXTEENTH = TPB // 4


@pytest.mark.parametrize("meter, steps, groups", [
    ("4/4", 16, (4, 4, 4, 4)), ("3/4", 12, (4, 4, 4)), ("2/4", 8, (4, 4)), ("5/4", 20, (4,) * 5),
    ("6/8", 12, (6, 6)), ("9/8", 18, (6, 6, 6)), ("12/8", 24, (6, 6, 6, 6)), ("7/8", 14, (4, 4, 6)),
    ("5/8", 10, (4, 6)), ("2/2", 16, (4, 4, 4, 4)),
])
def test_bar_lengths_and_felt_beats(meter, steps, groups):
    n, d = M.parse_meter(meter)
    assert M.bar_steps(n, d) == steps and M.beat_groups(n, d) == groups and sum(groups) == steps
    bars = M.Bars.uniform(meter, 3)
    assert bars.starts.tolist() == [0, steps, 2 * steps, 3 * steps]
    assert np.flatnonzero(bars.beat_starts[:steps]).tolist() == np.cumsum((0,) + groups[:-1]).tolist()
    assert bars.features.shape == (3 * steps, M.N_FEATURES)
    assert bars.features[:, 0].sum() == 3  # one downbeat a bar


@pytest.mark.parametrize("meter, words", [("7/16", "16ths"), ("3/1", "1ths"), ("1/8", "2 sixteenths"),
                                          ("9/4", "36 sixteenths"), ("x/4", "time signature")])
def test_meters_drumgen_does_not_play_are_named(meter, words):
    with pytest.raises(ValueError, match=words):
        M.parse_meter(meter)


def test_runs_round_trip_and_label():
    bars = M.Bars(((4, 4),) * 4 + ((2, 4),) + ((3, 4),) * 4)
    assert bars.to_runs() == [[4, 4, 4], [2, 4, 1], [3, 4, 4]]
    assert M.Bars.from_runs(bars.to_runs()) == bars
    assert bars.label() == "4/4 (bars 1–4), 2/4 (bar 5), 3/4 (bars 6–9)"
    assert bars.n_steps == 64 + 8 + 48


def song_with(meters, notes_every=SIXTEENTH * 2, end_tick=None, tmp_path=None, name="m.mid"):
    """A MIDI file with the given meter events (tick, n, d) and a note every 8th up to end_tick."""
    notes = [(t, 40, 90, 0) for t in range(0, end_tick, notes_every)]
    return make_midi(tmp_path / name, notes, meters=meters)


def test_meter_changes_make_the_bars(tmp_path):
    # 2 bars of 4/4, one of 2/4, 2 of 3/4, then 4/4 again
    ticks = [0, 2 * 4 * TPB, 2 * 4 * TPB + 2 * TPB, 2 * 4 * TPB + 2 * TPB + 2 * 3 * TPB]
    path = song_with(((ticks[0], 4, 4), (ticks[1], 2, 4), (ticks[2], 3, 4), (ticks[3], 4, 4)),
                     end_tick=ticks[3] + 4 * TPB, tmp_path=tmp_path)
    song = midi.read_song(path)
    assert list(song.bars.meters) == [(4, 4)] * 2 + [(2, 4)] + [(3, 4)] * 2 + [(4, 4)]
    assert song.n_steps == 32 + 8 + 24 + 16
    assert song.meter_label == "4/4 (bars 1–2), 2/4 (bar 3), 3/4 (bars 4–5), 4/4 (bar 6)"
    groove = midi.song_to_groove(song)
    assert groove.shape == (song.n_steps, 3)
    out = midi.hvo_to_midi(H.empty_hvo(song.n_steps), song)
    written = [(m.numerator, m.denominator) for m in out.tracks[0] if m.type == "time_signature"]
    assert written == [(4, 4), (2, 4), (3, 4), (4, 4)]
    assert midi.read_song(midi.midi_to_bytes(out)).time_signatures == song.time_signatures


def test_a_meter_change_inside_a_bar_is_refused_naming_the_bar(tmp_path):
    path = song_with(((0, 4, 4), (4 * TPB + 2 * TPB, 3, 4)), end_tick=12 * TPB, tmp_path=tmp_path)
    with pytest.raises(midi.MidiError, match=r"3/4 in the middle of bar 2 \(at beat 3 of it\)"):
        midi.read_song(path)


def test_a_meter_drumgen_does_not_play_names_the_meter_and_the_bar(tmp_path):
    path = song_with(((0, 4, 4), (8 * TPB, 7, 16)), end_tick=12 * TPB, tmp_path=tmp_path)
    with pytest.raises(midi.MidiError, match=r"7/16 \(from bar 3\)"):
        midi.read_song(path)


def test_two_meter_events_at_one_tick_the_last_holds(tmp_path):
    path = song_with(((0, 4, 4), (0, 6, 8)), end_tick=6 * TPB, tmp_path=tmp_path)
    assert set(midi.read_song(path).bars.meters) == {(6, 8)}


MIXED = M.Bars(((4, 4), (2, 4), (3, 4), (7, 8), (12, 8)))  # 16, 8, 12, 14, 24 steps


def test_controls_are_measured_in_the_songs_bars():
    hvo = H.empty_hvo(MIXED.n_steps)
    for start, length in zip(MIXED.starts[:-1], MIXED.lengths):
        hvo[start:start + length:2, 0] = 1.0          # a kick on every 8th
        hvo[start:start + length:2, H.N_VOICES] = 0.5
    measured = C.measure_controls(hvo[None], MIXED)
    # the same busyness per sixteenth in every bar: the same density, whatever its length
    assert np.allclose(measured["density"], measured["density"][0, 0])
    assert np.allclose(measured["intensity"], 0.5)
    assert np.isfinite(measured["fill"]).all()  # the fill judge hears a bar of any meter
    cut = C.measure_controls(hvo[None, :MIXED.n_steps - 4], MIXED)  # the last bar cut short: unknown
    assert np.isfinite(cut["fill"][0, :-1]).all() and np.isnan(cut["fill"][0, -1])
    counts = C.bar_hit_counts(hvo, MIXED).sum(-1)
    assert counts.tolist() == [8, 4, 6, 7, 12]


def test_steering_and_mutes_follow_bars_of_every_length():
    rng = np.random.default_rng(0)
    probs = rng.uniform(0.05, 1.0, (2, MIXED.n_steps, H.N_VOICES)).astype(np.float32)
    ctrl = C.validate_controls({"density": 0.5, "instruments": {"ride": [0, 0, None, 0, None]}}, 2, MIXED.n_bars)
    hits = sampling.steer_hits(probs, np.full(9, 0.5), ctrl, MIXED)
    expected = np.floor(C.counts_from_density(0.5) * MIXED.lengths / 16 + 0.5)
    per_bar = [hits[:, s:e].sum(axis=(1, 2)) for s, e in zip(MIXED.starts[:-1], MIXED.starts[1:])]
    assert np.array(per_bar).T.tolist() == [expected.tolist()] * 2
    mute = sampling.mute_mask(ctrl, MIXED.n_steps, MIXED)
    ride = mute[0, :, 8]
    assert ride[:24].all() and not ride[24:36].any() and ride[36:50].all() and not ride[50:].any()


def test_silent_bars_and_keep_masks_follow_the_bars():
    groove = np.zeros((1, MIXED.n_steps, 3), np.float32)
    groove[0, MIXED.starts[2], :2] = 1.0  # only the 3/4 bar plays
    silent = sampling.silent_bars(groove, MIXED)[0, :, 0]
    assert not silent[24:36].any() and silent[:24].all() and silent[36:].all()
    mask = takes.keep_mask(MIXED.n_steps, regenerate=[3], lock=["kick"], bars=MIXED)
    assert not mask[36:50, 1:].any() and mask[36:50, 0].all() and mask[:36].all() and mask[50:].all()


@pytest.fixture(scope="module")
def meter_model():
    torch.manual_seed(0)
    return RhythmDrivenDrumGen(tiny_config(meter_aware=True, fill_control=True, known_drums=True))


def meter_groove(bars, seed=0):
    rng = np.random.default_rng(seed)
    g = np.zeros((1, bars.n_steps, 3), np.float32)
    g[0, ::2, 0] = 1.0
    g[0, ::2, 1] = rng.uniform(0.3, 0.9, len(g[0, ::2]))
    return g


@pytest.mark.parametrize("meter", ["3/4", "6/8", "12/8", "2/4", "5/4", "7/8", "5/8", "9/8"])
def test_the_meter_aware_model_plays_every_meter(meter_model, meter):
    bars = M.Bars.uniform(meter, 11)  # 11 bars: more than one window of the tiny model
    groove = meter_groove(bars)
    out = meter_model.generate(groove, {"density": 0.6, "instruments": {"ride": 0}}, bars=bars, seed=1)
    assert out.shape == (1, bars.n_steps, H.HVO_DIM)
    assert not out[0, :, 8].any()                                    # a mute holds in every bar
    again = meter_model.generate(groove, {"density": 0.6, "instruments": {"ride": 0}}, bars=meter, seed=1)
    assert np.array_equal(out, again)                               # a meter or its Bars: the same drums


def test_regenerated_bars_of_a_mixed_song_keep_every_other_cell(meter_model):
    groove = meter_groove(MIXED)
    take = meter_model.generate(groove, bars=MIXED, seed=0)
    mask = takes.keep_mask(MIXED.n_steps, regenerate=[1, 3], bars=MIXED)
    new = meter_model.generate(groove, bars=MIXED, seed=5, keep=take, keep_mask=mask, loop=True)
    kept = np.tile(mask, 3)
    assert np.array_equal(new[0][kept], take[0][kept])


def test_a_zero_weight_meter_model_plays_four_four_as_before():
    torch.manual_seed(0)
    plain = RhythmDrivenDrumGen(tiny_config(fill_control=True))
    aware = RhythmDrivenDrumGen(tiny_config(fill_control=True, meter_aware=True))
    aware.load_state_dict(aware.upgrade_state_dict(plain.state_dict()))
    groove = meter_groove(M.Bars.four_four(6))
    assert np.array_equal(plain.generate(groove, seed=2), aware.generate(groove, seed=2))


def test_the_vae_says_it_plays_four_four_only(tmp_path):
    from drumgen.models.vae import MonotonicGrooveVAE
    from drumgen.models.vae import tiny_config as vae_tiny

    vae = MonotonicGrooveVAE(vae_tiny())
    with pytest.raises(ValueError, match="plays 4/4 only.*3/4.*controllable model plays 3/4"):
        vae.generate(meter_groove(M.Bars.uniform("3/4", 4)), bars="3/4")
    assert vae.generate(meter_groove(M.Bars.four_four(2)), bars="2/2").shape == (1, 32, 27)


@pytest.fixture
def meter_checkpoint(tmp_path, meter_model):
    path = tmp_path / "meter.pth"
    meter_model.save(str(path))
    return str(path)


@pytest.mark.parametrize("meter, bar_ticks", [((3, 4), 3 * TPB), ((6, 8), 3 * TPB)])
def test_cli_generates_in_the_files_meter(tmp_path, meter_checkpoint, capsys, meter, bar_ticks):
    src = song_with(((0, *meter),), end_tick=8 * bar_ticks, tmp_path=tmp_path)
    out = tmp_path / "drums.mid"
    code = cli.main(["generate", str(src), "-o", str(out), "--checkpoint", meter_checkpoint, "--fill", "4",
                     "--density", "0.6"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert f"8 bars of {meter[0]}/{meter[1]}" in printed.out
    assert "plays fills in bars of 4/4 only" in printed.err
    written = mido.MidiFile(out)
    assert [(m.numerator, m.denominator) for m in written.tracks[0] if m.type == "time_signature"] == [meter]
    song = midi.read_song(out)
    assert song.bars.meters[0] == meter and song.n_bars <= 8


def test_cli_tracks_lists_meter_changes(tmp_path, capsys):
    src = song_with(((0, 4, 4), (4 * TPB, 3, 4)), end_tick=10 * TPB, tmp_path=tmp_path)
    assert cli.main(["tracks", str(src)]) == 0
    out = capsys.readouterr().out
    assert "meter 4/4 (bar 1), 3/4 (bars 2–3)" in out and "meter 3/4 from bar 2 (2 bars)" in out


def test_cli_refuses_a_meter_with_the_meter_and_bar(tmp_path, meter_checkpoint, capsys):
    src = song_with(((0, 4, 4), (4 * TPB, 11, 16)), end_tick=10 * TPB, tmp_path=tmp_path)
    assert cli.main(["generate", str(src), "-o", str(tmp_path / "o.mid"), "--checkpoint", meter_checkpoint]) == 2
    assert "11/16 (from bar 2)" in capsys.readouterr().err


# --- from the review: edges of bars, and values API callers send ----------------------------------

@pytest.mark.parametrize("runs, words", [([[4, 4, 3_000_000]], "at most 2048 bars"), ([[4, 4, float("inf")]], "whole"),
                                         ([[4, 4]], "numerator, denominator, bars"), ([[7, 16, 2]], "16ths")])
def test_a_takes_meters_from_a_caller_are_checked_cheaply(runs, words):
    with pytest.raises(ValueError, match=words):
        takes.take_bars({"meters": runs})


def test_a_window_edge_inside_a_bar_is_steered_for_the_steps_it_has():
    bars = M.Bars.uniform("7/8", 14)
    probs = np.full((1, 30, H.N_VOICES), 0.9, np.float32)  # steps 140..169: bars 11 and 12, 2 steps of bar 13
    ctrl = C.validate_controls({"density": 0.5}, 1, 3)
    hits = RhythmDrivenDrumGen.steer_window(probs, np.full(9, 0.5), ctrl, bars, 140, 10)
    per_step = C.counts_from_density(0.5) / 16
    assert hits[0, 28:].sum() == np.floor(per_step * 2 + 0.5)        # the 2 steps of bar 12 get their share only
    assert hits[0, :14].sum() == np.floor(per_step * 14 + 0.5)


def test_bars_cut_short_work_and_a_loop_needs_whole_bars(meter_model):
    groove = meter_groove(M.Bars.covering("7/8", 37))[:, :37]
    assert meter_model.generate(groove, bars=M.Bars.uniform("7/8", 3)).shape == (1, 37, 27)
    assert meter_model.generate(meter_groove(M.Bars.four_four(2))[:, :24], bars=M.Bars.four_four(2)).shape == (1, 24, 27)
    with pytest.raises(ValueError, match="a loop is whole bars"):
        meter_model.generate(groove, bars=M.Bars.uniform("7/8", 3), loop=True)


def test_fills_asked_in_other_meters_are_left_to_the_model_in_any_form(tmp_path, meter_model):
    from drumgen import pipeline

    src = song_with(((0, 4, 4), (8 * TPB, 3, 4)), end_tick=14 * TPB, tmp_path=tmp_path)  # 2 bars 4/4, 2 of 3/4
    part = pipeline.make_drums(meter_model, src, controls={"fill": 1.0})
    assert "the fills asked in bars 3–4 (3/4) are left to the model" in part.reading.notes[-1]
    assert part.reading.controls.fill.tolist() == [[1.0, 1.0, None, None]] or \
        np.isnan(part.reading.controls.fill[0, 2:]).all() and (part.reading.controls.fill[0, :2] == 1).all()
    quiet = pipeline.make_drums(meter_model, src, controls={"fill": [0, 0, 0, 0]})
    assert not quiet.reading.notes  # no fill asked: nothing to say


def test_a_take_without_meters_is_refused_for_a_song_in_another_meter(tmp_path):
    src = song_with(((0, 3, 4),), end_tick=12 * TPB, tmp_path=tmp_path)  # 16 bars of 3/4 = 192 steps = 12 of 4/4
    song = midi.read_song(src)
    value = takes.take_to_json(H.empty_hvo(song.n_steps), tempo_map=takes.tempo_map(song))
    with pytest.raises(ValueError, match="in 4/4 and the song in 3/4"):
        takes.take_for_song(value, song)
    assert takes.take_for_song(takes.song_take_json(H.empty_hvo(song.n_steps), song), song).shape == (song.n_steps, 27)


def test_a_meter_event_a_tick_off_the_bar_line_is_on_it(tmp_path):
    path = song_with(((0, 4, 4), (4 * TPB + 1, 3, 4)), end_tick=10 * TPB, tmp_path=tmp_path)
    assert midi.read_song(path).bars.meters[:2] == ((4, 4), (3, 4))


def test_lanes_paint_bars_of_mixed_lengths(tmp_path, meter_model):
    """One lane column per bar, whatever its length: a bar of 2/4 painted silent is silent, and only it."""
    from drumgen import pipeline
    from drumgen.lanes import LaneSpec

    src = song_with(((0, 4, 4), (4 * TPB, 2, 4), (6 * TPB, 3, 4)), end_tick=12 * TPB, tmp_path=tmp_path)
    song = midi.read_song(src)
    assert [m for m in song.bars.meters] == [(4, 4), (2, 4), (3, 4), (3, 4)]
    lanes = {"density": [0.8, 0.0, 0.8, 0.8]}
    part = pipeline.make_drums(meter_model, song, controls=LaneSpec(lanes, "any"), seed=0)
    starts = song.bars.starts
    counts = [int(part.hvo[s:e, H.HITS].sum()) for s, e in zip(starts[:-1], starts[1:])]
    assert counts[1] == 0 and all(c > 0 for c in counts[:1] + counts[2:])


def test_a_fill_clip_is_fitted_to_bars_of_every_length():
    from drumgen.augment import fit_fill

    clip = np.zeros((16, 27), np.float32)
    clip[:, 4] = np.arange(16) >= 8           # toms on the clip's second half: the fill builds to its end
    beat = np.zeros((20, 27), np.float32)
    beat[::4, 0] = 1.0
    for length in (8, 10, 12, 14):           # a shorter bar plays the clip's last steps
        fitted = fit_fill(clip, beat[:length])
        assert fitted.shape == (length, 27) and np.array_equal(fitted, clip[16 - length:])
    longer = fit_fill(clip, beat)            # a longer bar: its own groove first, then the whole clip
    assert np.array_equal(longer[:4], beat[:4]) and np.array_equal(longer[4:], clip)


def test_fills_are_spliced_into_the_windows_own_bars():
    from drumgen.augment import splice_fills

    bars = M.Bars.uniform("7/8", 4)          # 4 bars of 14 steps
    hvo = np.zeros((6, bars.n_steps, 27), np.float32)
    clip = np.zeros((1, 17, 27), np.float32)
    clip[0, :16, 5] = 1.0                    # a mid-tom run, the whole clip
    clip[0, 16, 7] = 1.0                     # lands with a crash
    out = splice_fills(hvo, clip, np.random.default_rng(3), 1.0, layouts=[bars] * 6)
    for window in out:
        toms = np.nonzero(window[:, 5])[0]
        assert len(toms) == 14 and toms[0] % 14 == 0 and toms[-1] == toms[0] + 13  # exactly one bar of 7/8
        landing = toms[-1] + 1
        assert landing == bars.n_steps or window[landing, 7] == 1.0


def test_the_fill_judge_hears_bars_of_every_length_from_both_ends():
    from drumgen import fills

    for length in (8, 10, 12, 14, 16, 18, 20, 24):
        views = fills.judged_steps(length)
        assert all(len(v) == 16 and v.min() >= 0 and v.max() < length for v in views)
        assert views[0][-1] == length - 1                       # every bar is heard to its end
        assert len(views) == (2 if length < 16 else 1) and (length >= 16 or views[1][0] == 0)
    assert np.array_equal(fills.judged_steps(16)[0], np.arange(16))
    rng = np.random.default_rng(0)
    bars = [rng.random((n, 27)).astype(np.float32) * (rng.random((n, 27)) < 0.3) for n in (12, 14, 16, 20)]
    flags = fills.bar_fill_flags(bars)
    every = [min(fills.fill_flags(bar[view][None])[0, 0] for view in fills.judged_steps(len(bar))) for bar in bars]
    assert flags.tolist() == every           # a fill in every view, and a 4/4 bar as the judge always heard it
    assert flags[2] == fills.fill_flags(bars[2][None])[0, 0]


def test_keep_masks_for_training_are_spans_of_the_windows_own_bars():
    from drumgen.augment import random_keep_masks

    bars = M.Bars.uniform("3/4", 10)         # 120 steps of 12-step bars
    index = np.broadcast_to(bars.step_bar, (300, bars.n_steps))
    masks = random_keep_masks(300, bars.n_steps, np.random.default_rng(0), share=1.0, step_bar=index)
    per_bar = masks.reshape(300, 10, 12, 9)
    uniform = (per_bar.all(axis=2) | ~per_bar.any(axis=2)).all(axis=(1, 2))
    spans = uniform & masks.any(axis=(1, 2)) & ~masks.all(axis=(1, 2))
    assert uniform.mean() > 0.6 and spans.any()   # spans and voices follow the 3/4 bars, cells do not


def test_a_model_that_learnt_fills_in_every_meter_plays_them_there(tmp_path):
    from drumgen import pipeline

    torch.manual_seed(0)
    model = RhythmDrivenDrumGen(tiny_config(meter_aware=True, fill_control=True, known_drums=True, fills_any_meter=True))
    src = song_with(((0, 4, 4), (8 * TPB, 3, 4)), end_tick=14 * TPB, tmp_path=tmp_path)
    part = pipeline.make_drums(model, src, controls={"fill": 1.0})
    assert not part.reading.notes and part.reading.controls == {"fill": 1.0}  # asked in the 3/4 bars too


def test_a_model_that_learns_fills_in_four_four_only_leaves_other_bars_free_in_training():
    from drumgen.models.controlled import measure_windows

    rng = np.random.default_rng(0)
    drums = (rng.random((2, 128, 27)) < 0.3).astype(np.float32)
    layouts = [M.Bars.four_four(8), M.Bars.covering("3/4", 128)]
    four_four = np.array([True, False])
    old = measure_windows(drums, layouts, four_four)["fill"]
    new = measure_windows(drums, layouts, four_four, fills_any_meter=True)["fill"]
    assert old.shape == (2, 11)                                           # padded to the 3/4 window's 11 bars
    assert np.isfinite(old[0, :8]).all() and np.isnan(old[1]).all()       # as before fills in every meter
    assert np.array_equal(old[0], new[0], equal_nan=True) and np.isfinite(new[1, :10]).all() and np.isnan(new[1, 10:]).all()
