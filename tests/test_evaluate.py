import numpy as np
import pytest

from drumgen import evaluate as E
from drumgen import hvo as H


def _drums(seed=0, n=20):
    rng = np.random.default_rng(seed)
    hvo = np.zeros((n, 32, 27), np.float32)
    hits = rng.random((n, 32, 9)) < 0.2
    hvo[..., H.HITS] = hits
    hvo[..., H.VELOCITIES] = hits * rng.uniform(0.2, 1, hits.shape)
    hvo[..., H.OFFSETS] = hits * rng.uniform(-0.3, 0.3, hits.shape)
    return hvo


def test_perfect_and_empty_predictions():
    true = _drums()
    perfect = E.score(true, true)
    assert perfect["f1"] == pytest.approx(1) and perfect["window_f1_median"] == pytest.approx(1)
    assert perfect["velocity_mae_tp"] == 0 and perfect["hit_ratio"] == 1
    assert perfect["offset_std"] == pytest.approx(perfect["true_offset_std"])
    empty = E.score(np.zeros_like(true), true)
    assert empty["f1"] == 0 and empty["recall"] == 0 and empty["hit_ratio"] == 0


def test_swingness_definition():
    hvo = np.zeros((2, 32, 27), np.float32)
    hvo[0, [1, 3], 2] = 1
    hvo[0, [1, 3], 20] = [0.2, -0.1]      # only the late one counts
    hvo[0, 0, 0], hvo[0, 0, 18] = 1, 0.4  # even step: not counted
    assert E.swingness(hvo) == pytest.approx((2 * 0.2 + 0) / 2)  # second window: no odd hits -> 0


def test_baselines_on_gmd_test_split(gmd_test_windows):
    test = gmd_test_windows
    rock = E.evaluate(E.baseline_rock, test.hvo)
    hat = E.evaluate(E.baseline_hat, test.hvo)
    assert 0.49 < rock["f1"] < 0.52          # the reference: about 0.51
    assert hat["f1_kick"] == 0 and hat["f1"] < rock["f1"]
    assert rock["true_swingness"] == pytest.approx(0.308, abs=0.002)
    assert rock["true_offset_std"] == pytest.approx(0.158, abs=0.002)


def test_choose_thresholds_prefers_separating_value():
    class Oracle:
        """Predicts the truth with probability 0.6 and noise with 0.3: the best threshold is in between."""
        def __init__(self, truth):
            self.truth = truth

        def generate(self, groove, thresholds):
            rng = np.random.default_rng(0)
            probs = np.where(self.truth[..., H.HITS] > 0, 0.6, rng.uniform(0, 0.3, self.truth[..., H.HITS].shape))
            hits = probs > thresholds
            return np.concatenate([hits, hits, hits * 0], -1).astype(np.float32)

    true = _drums(1)
    chosen = E.choose_thresholds(Oracle(true), true)
    assert ((chosen >= 0.3) & (chosen < 0.6)).all()
    assert E.quick_f1(Oracle(true), true) == pytest.approx(1.0)
    assert E.quick_f1(Oracle(true), true, grid=(0.1,)) < 0.9


def test_score_songs_generates_each_song_in_one_call():
    songs = [_drums(2, n=1)[0], np.concatenate(_drums(3, n=3))]  # 2 and 6 bars
    calls = []

    def echo(groove):
        calls.append(groove.shape)
        return np.concatenate(songs)[None, :groove.shape[1]] if groove.shape[1] == 32 else np.concatenate(songs)[None, 32:]

    result = E.score_songs(echo, songs)
    assert calls == [(1, 32, 3), (1, 96, 3)]
    assert result["f1"] == pytest.approx(1.0) and result["hit_ratio"] == pytest.approx(1.0)


def test_evaluate_command_sets_thresholds_and_prints_table(gmd_zip, tiny_model, tmp_path, capsys):
    import json

    path = tmp_path / "tiny.pth"
    tiny_model.save(str(path))
    code = E.main([str(path), "--data", str(gmd_zip), "--set-thresholds", "--limit", "64",
                   "--json", str(tmp_path / "scores.json")])
    assert code == 0
    out = capsys.readouterr().out
    assert "thresholds chosen on validation and saved" in out and "| f1 |" in out and "kick/snare/hat baseline" in out
    saved = json.loads(path.with_suffix(".json").read_text())
    assert saved["meta"]["thresholds"] == E.THRESHOLDS_NOTE
    assert set(saved["sampling"]["thresholds"]) <= set(E.THRESHOLD_GRID.tolist())
    report = json.loads((tmp_path / "scores.json").read_text())
    assert report["windows"] == 64 and set(report["results"]) == {"drumgen", "hat baseline", "kick/snare/hat baseline"}
