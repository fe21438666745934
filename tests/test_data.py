import numpy as np
import pytest

from drumgen import data
from drumgen import hvo as H


def test_cut_windows_hop_pad_and_min_hits():
    hvo = H.empty_hvo(16 * 5 + 3)  # 6 bars, the last one partial
    hvo[::4, 0] = 1
    hvo[16:32, 0] = 0               # bar 1 silent
    windows = data.cut_windows(hvo, n_bars=2, hop_bars=1, min_hits=4)
    assert [b for b, _ in windows] == [0, 1, 2, 3, 4]
    assert all(w.shape == (32, 27) for _, w in windows)
    sparse = H.empty_hvo(64)
    sparse[0, 0] = sparse[40, 1] = 1
    assert data.cut_windows(sparse) == []


def test_augmented_grooves_subsets_and_full():
    rng = np.random.default_rng(0)
    hvo = np.zeros((200, 32, 27), np.float32)
    hvo[:, ::4, 0] = 1; hvo[:, ::4, 9] = 0.9          # kick on beats
    hvo[:, 2::4, 2] = 1; hvo[:, 2::4, 11] = 0.4       # hat on the off-beats
    full = data.augmented_grooves(hvo, data.AugmentConfig(p_full=1.0, velocity_jitter=0, offset_jitter=0), rng)
    assert np.allclose(full, H.hvo_to_groove(hvo))
    mixed = data.augmented_grooves(hvo, data.AugmentConfig(p_full=0.0, p_keep_voice=0.5), rng)
    onsets = mixed[..., 0].sum(axis=1)
    assert set(np.unique(onsets)) <= {8, 16} and len(np.unique(onsets)) == 2  # kick only, hat only, or both
    assert (onsets > 0).all()                                                  # never an empty groove
    assert mixed[..., 1].max() <= 1 and (mixed[..., 1][mixed[..., 0] > 0] > 0).all()
    assert (mixed[..., 1:][mixed[..., 0] == 0] == 0).all()


def test_load_split_published_test_windows_and_cache(gmd_zip, tmp_path):
    test = data.load_split("test", gmd_zip, cache_dir=tmp_path)
    assert len(test) == 2124 and test.hvo.shape[1:] == (32, 27)
    assert len(list(tmp_path.glob("gmd-*.npz"))) == 3
    again = data.load_split("test", gmd_zip, cache_dir=tmp_path)
    assert np.array_equal(again.hvo, test.hvo) and again.files == test.files
    val = data.load_split("validation", gmd_zip, cache_dir=tmp_path)
    train = data.load_split("train", gmd_zip, cache_dir=tmp_path)
    assert len(val) == 2109 and len(train) == 16932
    assert not set(test.files) & set(train.files) and not set(val.files) & set(train.files)  # no leak
    assert (H.split_hvo(test.hvo)[0].sum(axis=(1, 2)) >= 4).all()


def test_bad_split_and_missing_zip(tmp_path):
    with pytest.raises(ValueError):
        data.load_split("dev", tmp_path / "x.zip")
    with pytest.raises(FileNotFoundError):
        data.load_split("test", tmp_path / "missing.zip", cache_dir=tmp_path)


def test_drum_gain_scales_velocities_only():
    rng = np.random.default_rng(0)
    hvo = np.zeros((50, 32, 27), np.float32)
    hvo[:, ::2, 0] = 1
    hvo[:, ::2, 9] = 0.5
    out = data.augment_drums(hvo, data.AugmentConfig(drum_gain=0.3), rng)
    assert (out[..., H.HITS] == hvo[..., H.HITS]).all() and (out[..., H.OFFSETS] == hvo[..., H.OFFSETS]).all()
    v = out[:, ::2, 9]
    assert (v.min(axis=1) == v.max(axis=1)).all()          # one gain per window
    assert v.min() >= 0.35 and v.max() <= 0.65 and v.std() > 0.01
    assert (out[:, 1::2, 9] == 0).all()
    assert data.augment_drums(hvo, data.AugmentConfig(), rng) is hvo


def test_failed_download_says_what_to_do(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(data.urllib.request, "urlretrieve", offline)
    with pytest.raises(FileNotFoundError, match="--data PATH"):
        data.find_gmd_zip(None, cache_dir=tmp_path)


def test_random_keep_masks_mix_spans_voices_cells_and_nothing():
    from drumgen.data import random_keep_masks

    masks = random_keep_masks(400, 128, np.random.default_rng(0), share=0.6)
    assert masks.shape == (400, 128, 9) and masks.dtype == bool
    nothing = ~masks.any(axis=(1, 2))
    assert 0.3 < nothing.mean() < 0.5  # the windows that know nothing
    per_bar = masks.reshape(400, 8, 16, 9)
    whole_bars = (per_bar.all(axis=(2, 3)) | ~per_bar.any(axis=(2, 3))).all(axis=1) & ~nothing
    assert whole_bars.any() and (~whole_bars & ~nothing).any()  # spans of bars, and voices or cells


def test_random_keep_masks_with_several_spans_make_bars_new_apart():
    """max_spans: new bars in more than one place ("regenerate 3-4 and 7-8"); max_spans 1 draws as before."""
    from itertools import groupby

    from drumgen.data import random_keep_masks

    one = random_keep_masks(200, 128, np.random.default_rng(3), share=1.0)
    assert np.array_equal(one, random_keep_masks(200, 128, np.random.default_rng(3), share=1.0, max_spans=1))
    several = random_keep_masks(400, 128, np.random.default_rng(3), share=1.0, max_spans=3)

    def spans(masks):  # runs of bars where every cell is new
        new = ~masks.reshape(len(masks), 8, 16, 9).any(axis=(2, 3))
        return np.array([sum(1 for is_new, _ in groupby(row) if is_new) for row in new])
    runs = spans(several)[spans(several) > 0]  # the masks of new bars with nothing locked in them
    assert spans(one).max() == 1 and (runs >= 2).mean() > 0.15


def _shuffle(n_beats: int = 32, backbeat: bool = True, straight: bool = False) -> np.ndarray:
    """A window of 4/4 (n_beats * 4 steps): hats on every triplet eighth (or straight sixteenths),
    kick on 1 and 3, snare on 2 and 4 (a rock shuffle written as 4/4)."""
    thirds = np.arange(n_beats * (4 if straight else 3)) * (1.0 if straight else 4 / 3)
    steps, voices, velocities = [np.floor(thirds + 0.5)], [np.full(len(thirds), 2)], [np.full(len(thirds), 0.5)]
    positions = [thirds]
    beats = np.arange(n_beats) * 4.0
    for voice, first in ((0, 0), (1, 1)):
        on = beats[first::2] if backbeat or voice == 0 else beats[:0]
        positions.append(on + 0.1)  # played a tenth of a step late
        steps.append(np.floor(on + 0.1 + 0.5)); voices.append(np.full(len(on), voice)); velocities.append(np.full(len(on), 0.9))
    position, step = np.concatenate(positions), np.concatenate(steps).astype(int)
    return H.place_onsets(n_beats * 4, step, position - step, np.concatenate(velocities), np.concatenate(voices), 9)


def test_triplet_feel_hears_triplets_not_straight_time_or_a_sparse_window():
    from drumgen.augment import triplet_feel

    shuffle, straight, sparse = _shuffle(), _shuffle(straight=True), _shuffle(n_beats=4)
    assert triplet_feel(np.stack([shuffle, straight])).tolist() == [True, False]
    assert not triplet_feel(sparse[None])[0]  # 8 triplets: too few to tell


def test_a_shuffle_stretched_to_compound_time_puts_triplets_on_eighths_and_the_backbeat_on_the_dotted_quarter():
    from drumgen.augment import stretch_to_compound

    window = _shuffle()
    out = stretch_to_compound(window)
    assert out.shape == window.shape
    hits = out[..., H.HITS] > 0
    hat_steps = np.nonzero(hits[:, 2])[0]
    assert (hat_steps % 2 == 0).all() and np.array_equal(hat_steps, np.arange(0, 128, 2))  # every eighth of 6/8
    assert np.allclose(out[hits[:, 2], H.OFFSETS.start + 2], 0, atol=1e-5)
    snare = np.nonzero(hits[:, 1])[0]
    assert (snare % 12 == 6).all() and len(snare) == 11   # beats 2 and 4 of 21 1/3 beats that fit
    assert np.nonzero(hits[:, 0])[0].tolist() == list(range(0, 128, 12))
    assert np.allclose(out[hits[:, 1], H.OFFSETS.start + 1], 0.15)   # as late in seconds: 0.1 of a longer step
    assert np.allclose(out[hits[:, 1], H.VELOCITIES.start + 1], 0.9)


def test_recut_meters_plays_windows_in_triplets_as_compound_meters_only_when_asked():
    from drumgen.augment import recut_meters, stretch_to_compound

    windows = np.stack([_shuffle(), _shuffle(straight=True), _shuffle()])
    four_four = np.array([True, True, False])  # the third is some other meter's window: left alone
    out, bars = recut_meters(windows, ["4/4", "4/4", "3/4"], np.random.default_rng(0), 0.0, four_four, compound=1.0)
    meters = [b.label() for b in bars]
    assert meters[0] in ("6/8", "12/8") and meters[1:] == ["4/4", "3/4"]
    assert np.array_equal(out[0], stretch_to_compound(windows[0])) and np.array_equal(out[1:], windows[1:])
    seen = {recut_meters(windows, ["4/4"] * 3, np.random.default_rng(s), 0.0, four_four, compound=1.0)[1][0].label()
            for s in range(20)}
    assert seen == {"6/8", "12/8"}


def test_training_batches_play_windows_in_triplets_in_their_compound_meter():
    from drumgen import meter as M
    from drumgen.augment import stretch_to_compound
    from drumgen.models.controlled import RhythmDrivenDrumGen, WindowBars, tiny_config

    model = RhythmDrivenDrumGen(tiny_config(meter_aware=True, max_bars=8, compound_recut=1.0))
    window = _shuffle()
    windows = data.WindowSet(np.stack([window] * 4), np.zeros(4, int), np.zeros(4, int), np.array(["rock"] * 4),
                             ["x.mid"])
    aug = data.AugmentConfig(p_full=1.0, velocity_jitter=0, offset_jitter=0)
    batch = model.make_batch(windows, np.arange(4), np.random.default_rng(0), aug)
    assert np.array_equal(batch["drums"].numpy()[0], stretch_to_compound(window))
    bars = {m: WindowBars.of(M.Bars.covering(m, 128), 0, 128).tensors()["meter"] for m in ("6/8", "12/8")}
    for row in batch["meter"]:  # each window hears the bars of 6/8 or 12/8 it now plays
        assert any(np.array_equal(row.numpy(), b[0].numpy()) for b in bars.values())
    changing = RhythmDrivenDrumGen(tiny_config(meter_aware=True, max_bars=8, compound_recut=1.0, meter_changes=1.0))
    batch = changing.make_batch(windows, np.arange(4), np.random.default_rng(0), aug)
    downbeats = batch["meter"][..., 0].numpy() > 0  # a song: 4/4 bars and then the compound ones, or the other way
    assert all(set(np.diff(np.flatnonzero(row)).tolist()) >= {16} and len(set(np.diff(np.flatnonzero(row)))) == 2
               for row in downbeats)


@pytest.mark.parametrize("meter, first, bars", [("12/8", True, "4/4 (bars 1–2), 12/8 (bars 3–6)"),
                                                ("6/8", False, "6/8 (bars 1–4), 4/4 (bars 5–9)"),
                                                ("7/8", True, "4/4 (bars 1–2), 7/8 (bars 3–9)")])
def test_a_window_changing_meter_plays_its_bars_in_order_and_its_bars_say_so(meter, first, bars):
    from drumgen.augment import change_meter, play_bars

    window = _shuffle()
    out, layout = change_meter(window, meter, 2, first)
    assert out.shape == window.shape and layout.label() == bars and layout.n_steps >= 128
    if first:  # 2 bars as they were, then the window's third bar on played in the meter
        played = play_bars(window[32:], meter)[0][:96]  # 7/8: 6 bars of 14 steps, then silence
        assert np.array_equal(out[:32], window[:32]) and np.array_equal(out[32:32 + len(played)], played)
        assert not out[32 + len(played):].any()
    else:      # the first 2 bars played in 6/8 (4 bars of it), then the window's third bar on as it was
        assert np.array_equal(out[:48], play_bars(window[:32], meter)[0]) and np.array_equal(out[48:], window[32:112])
    snare = np.nonzero(out[:, 1])[0]
    in_meter = snare[(snare >= 32) & (snare < 128)] - 32 if first else snare[snare < 48]
    if meter in ("6/8", "12/8"):
        assert (in_meter % 12 == 6).all()  # the backbeat on the dotted quarter


def test_a_downbeat_played_early_stays_on_the_first_step_when_stretched():
    from drumgen.augment import stretch_to_compound

    window = H.empty_hvo(32)
    window[0, 0], window[0, 9], window[0, 18] = 1, 0.8, -0.45   # the kick a little ahead of bar 1
    out = stretch_to_compound(window)
    assert out[0, 0] == 1 and out[0, 18] == -0.5 and out[0, 9] == np.float32(0.8)


def test_tap_grooves_tap_the_felt_beats_or_eighths_of_the_bars_the_drums_play_in():
    from drumgen import meter as M
    from drumgen.augment import tap_grooves

    song = M.Bars.from_runs([(4, 4, 2), (6, 8, 4), (4, 4, 2)])       # 32 + 48 + 32 = 112 steps
    drums = np.zeros((3, 128, 27), np.float32)
    drums[:, ::2, 2] = 1
    drums[:, 96:] = 0                                                 # the last bar silent
    groove = H.hvo_to_groove(drums)
    layouts = [song, song, M.Bars.covering("6/8", 128)]
    where = np.array([True, True, False])                            # the third is left as it was
    seen = set()
    for seed in range(12):
        out = tap_grooves(groove, drums, layouts, np.random.default_rng(seed), 1.0, where)
        assert np.array_equal(out[2], groove[2])
        for row in out[:2]:
            at = np.flatnonzero(row[:, 0])
            assert at.max() < 96 and (row[row[:, 0] == 0] == 0).all()         # none in the silent bar, rests empty
            assert 0.05 <= row[at, 1].min() and row[at, 1].max() <= 1 and np.abs(row[at, 2]).max() < 0.5
            beats = np.flatnonzero(song.beat_starts[:96])                     # 0, 4, ... 32, 38, 44, ... 80, 84, ...
            seen.add("beats" if np.array_equal(at, beats) else "eighths" if np.array_equal(at, np.arange(0, 96, 2)) else "?")
    assert seen == {"beats", "eighths"}
    none = tap_grooves(groove, drums, layouts, np.random.default_rng(0), 0.0, where)
    assert np.array_equal(none, groove)


def test_a_shuffle_played_in_9_8_keeps_three_beats_a_bar_with_the_backbeat_on_the_second():
    from drumgen import meter as M
    from drumgen.augment import change_meter, compound_bars, recut_meters

    window = _shuffle()
    out = compound_bars(window, "9/8")
    assert out.shape == window.shape
    snare, kick = np.nonzero(out[:, 1])[0], np.nonzero(out[:, 0])[0]
    assert len(snare) and (snare % 18 == 6).all() and (kick % 18 == 0).any()   # snare on the 2nd dotted quarter
    out, bars = recut_meters(np.stack([window]), ["4/4"], np.random.default_rng(0), 0.0, np.array([True]),
                             compound=1.0, compound_meters=("9/8",))
    assert bars[0].label() == "9/8" and np.array_equal(out[0], compound_bars(window, "9/8"))
    song, layout = change_meter(window, "9/8", 2, True)
    assert layout.meters[:3] == ((4, 4), (4, 4), (9, 8)) and np.array_equal(song[:32], window[:32])
    assert M.Bars.covering("9/8", 128).lengths[0] == 18
