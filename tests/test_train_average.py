"""train/average.py: the weighted mean of fine-tunes of one model, refused for models that are not one."""
import importlib.util
import subprocess
import sys

import numpy as np
import pytest
import torch

from drumgen.models.checkpoint import load_model
from drumgen.models.controlled import RhythmDrivenDrumGen, tiny_config
from drumgen.models.format import read_checkpoint
from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("train_average", ROOT / "train" / "average.py")
average = importlib.util.module_from_spec(spec)
spec.loader.exec_module(average)


def _saved(tmp_path, name, seed, **overrides):
    torch.manual_seed(seed)
    model = RhythmDrivenDrumGen(tiny_config(**overrides))
    model.thresholds = [0.3 + 0.01 * seed] * 9
    path = tmp_path / f"{name}.pth"
    model.save(str(path))
    return path


def test_the_average_is_the_weighted_mean_of_every_weight(tmp_path):
    a, b = _saved(tmp_path, "a", 0), _saved(tmp_path, "b", 1)
    ca, cb = read_checkpoint(a), read_checkpoint(b)
    state = average.average_states([ca, cb], [0.25, 0.75])
    for name, value in state.items():
        expected = 0.25 * ca["state_dict"][name].float() + 0.75 * cb["state_dict"][name].float()
        assert torch.allclose(value, expected), name
    assert not torch.allclose(state["decoder.out.weight"], ca["state_dict"]["decoder.out.weight"])


def test_models_that_are_not_one_are_refused(tmp_path):
    a, wider = _saved(tmp_path, "a", 0), _saved(tmp_path, "wide", 1, d_model=24)
    with pytest.raises(ValueError, match="not the same model"):
        average.average_states([read_checkpoint(a), read_checkpoint(wider)], [0.5, 0.5])


@pytest.mark.parametrize("text, message", [("1", "2 finite numbers"), ("0.5,x", "numbers separated"),
                                           ("-1,2", "none negative"), ("0,0", "not all zero"), ("nan,1", "finite"),
                                           ("inf,1", "finite"), ("1e308,1e308", "finite")])
def test_bad_weights_are_refused_in_words(text, message):
    with pytest.raises(SystemExit, match=message):
        average.parse_weights(text, 2)


def test_a_checkpoint_from_before_an_input_averages_with_its_fine_tune(tmp_path):
    old, new = _saved(tmp_path, "old", 0, meter_aware=False), _saved(tmp_path, "new", 1, meter_aware=True)
    new_ckpt = read_checkpoint(new)  # a fine-tune that learnt something in the input it added
    new_ckpt["state_dict"]["encoder.embed_meter.weight"] = torch.ones_like(new_ckpt["state_dict"]["encoder.embed_meter.weight"])
    state = average.average_states([new_ckpt, read_checkpoint(old)], [0.5, 0.5])
    assert torch.allclose(state["encoder.embed_meter.weight"], torch.full_like(state["encoder.embed_meter.weight"], 0.5))
    with pytest.raises(ValueError, match="not the same model"):  # the other way round: the old model has no such input
        average.average_states([read_checkpoint(old), new_ckpt], [0.5, 0.5])


def test_thresholds_are_chosen_on_the_windows_training_chose_them_on():
    assert average.threshold_windows({"config": {"max_bars": 8}, "meta": {"data_windows": {
        "n_bars": 8, "hop_bars": 1, "min_hits": 4, "meters": "all", "repeat_other_meters": 6}}}) == \
        {"n_bars": 8, "hop_bars": 1, "min_hits": 4}
    assert average.threshold_windows({"config": {"latent_dim": 128}, "meta": {}}) == {"n_bars": 2}  # a VAE: 2 bars


def test_the_script_writes_a_checkpoint_that_loads_and_generates(tmp_path):
    a, b = _saved(tmp_path, "a", 0), _saved(tmp_path, "b", 1)
    out = tmp_path / "soup.pth"
    result = subprocess.run([sys.executable, "train/average.py", str(a), str(b), "--weights", "1,3", "--keep-thresholds",
                             "-o", str(tmp_path / "soup")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout
    soup = read_checkpoint(out)
    assert "val_score" not in soup["meta"] and "epoch" not in soup["meta"]  # the first's scores are not the soup's
    assert soup["meta"]["average_of"] == [{"checkpoint": str(a), "weight": 0.25}, {"checkpoint": str(b), "weight": 0.75}]
    assert soup["sampling"]["thresholds"] == pytest.approx([0.3] * 9)  # the first's, kept
    groove = np.zeros((1, 64, 3), np.float32)
    groove[:, ::4, 0], groove[:, ::4, 1] = 1, 0.8
    assert load_model(out, cache=False).generate(groove, seed=0).shape == (1, 64, 27)
    refused = subprocess.run([sys.executable, "train/average.py", str(a), "--keep-thresholds", "-o", str(out)], cwd=ROOT,
                             capture_output=True, text=True)  # one alone is for choosing its thresholds: nothing to do
    assert refused.returncode != 0 and "two checkpoints or more" in refused.stderr
