import numpy as np
import pytest

from drumgen import evaluate as E
from drumgen import thresholds as T
from tests.test_metrics import _drums


def test_baselines_on_gmd_test_split(gmd_test_windows):
    test = gmd_test_windows
    rock = E.evaluate(E.baseline_rock, test.hvo)
    hat = E.evaluate(E.baseline_hat, test.hvo)
    assert 0.49 < rock["f1"] < 0.52          # the reference: about 0.51
    assert hat["f1_kick"] == 0 and hat["f1"] < rock["f1"]
    assert rock["true_swingness"] == pytest.approx(0.308, abs=0.002)
    assert rock["true_offset_std"] == pytest.approx(0.158, abs=0.002)


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
    assert saved["meta"]["thresholds"] == T.THRESHOLDS_NOTE
    assert set(saved["sampling"]["thresholds"]) <= set(T.THRESHOLD_GRID.tolist())
    report = json.loads((tmp_path / "scores.json").read_text())
    assert report["windows"] == 64 and set(report["results"]) == {"drumgen", "hat baseline", "kick/snare/hat baseline"}


def test_stitch_is_refused_in_words_for_a_model_that_does_not_stitch(tmp_path, capsys):
    import torch

    from drumgen import evaluate
    from drumgen.models.controlled import RhythmDrivenDrumGen, tiny_config

    torch.manual_seed(0)
    path = tmp_path / "tiny.pth"
    RhythmDrivenDrumGen(tiny_config()).save(str(path))
    with pytest.raises(SystemExit) as info:
        evaluate.main([str(path), "--stitch", "average", "--data", str(tmp_path / "no.zip")])
    assert info.value.code == 2 and "does not stitch windows" in capsys.readouterr().err
