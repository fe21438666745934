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
