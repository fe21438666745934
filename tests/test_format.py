"""The checkpoint format (drumgen.models.format): weights stored whole or in half precision."""
import json

import numpy as np
import pytest
import torch

from drumgen.models import format as F
from drumgen.models.checkpoint import load_model
from tests.conftest import random_groove


def test_half_precision_weights_halve_the_file_and_load_as_float32(tmp_path, tiny_model):
    whole = F.save_checkpoint(tmp_path / "whole.pth", tiny_model)
    assert F.main([str(whole), "-o", str(tmp_path / "half.pth")]) == 0
    half = tmp_path / "half.pth"
    assert half.stat().st_size < 0.6 * whole.stat().st_size
    assert json.loads(half.with_suffix(".json").read_text())["weights"] == "float16"
    assert "weights" not in json.loads(whole.with_suffix(".json").read_text())
    a, b = load_model(whole, cache=False), load_model(half, cache=False)
    assert all(p.dtype == torch.float32 for p in b.model.parameters())
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p.half().float(), q)  # the weights, rounded to float16 once
    groove = random_groove(n=2, bars=2)
    assert np.allclose(a.generate(groove, temperature=0), b.generate(groove, temperature=0), atol=0.05)


def test_unknown_weight_storage_is_refused(tmp_path, tiny_model):
    with pytest.raises(ValueError, match="weights must be one of"):
        F.save_checkpoint(tmp_path / "x.pth", tiny_model, weights="int8")


def test_fill_meters_are_set_on_a_checkpoint_and_read_by_the_pipeline(tmp_path):
    from drumgen import pipeline
    from drumgen.models.controlled import RhythmDrivenDrumGen, tiny_config

    path = tmp_path / "fills.pth"
    RhythmDrivenDrumGen(tiny_config(meter_aware=True, fill_control=True)).save(str(path))
    before = load_model(str(path))
    assert pipeline.fill_meters(before) == {(4, 4), (2, 2)}
    assert F.main([str(path), "--fill-meters", "3/4, 6/8"]) == 0
    model = load_model(str(path))
    assert list(model.config.fill_meters) == ["3/4", "6/8"] and pipeline.fill_meters(model) == {(4, 4), (2, 2), (3, 4), (6, 8)}
    assert json.loads(path.with_suffix(".json").read_text())["config"]["fill_meters"] == ["3/4", "6/8"]
    with pytest.raises(SystemExit, match="fill-meters"):
        F.main([str(path), "--fill-meters", "7/16"])
    every = RhythmDrivenDrumGen(tiny_config(meter_aware=True, fill_control=True, fills_any_meter=True))
    assert pipeline.fill_meters(every) is None


def test_fill_meters_in_a_config_are_meters_and_bars_heard_as_four_four_take_fills():
    from drumgen import meter as M
    from drumgen import pipeline
    from drumgen.control_input import Reading
    from drumgen.models.controlled import RhythmDrivenDrumGen, tiny_config

    with pytest.raises(ValueError, match="fill_meters"):
        tiny_config(fill_control=True, fill_meters="3/4")
    with pytest.raises(ValueError, match="meter"):
        tiny_config(fill_control=True, fill_meters=["7/16"])
    model = RhythmDrivenDrumGen(tiny_config(meter_aware=True, fill_control=True, fill_meters=["6/8", "3/4"]))
    assert model.config.fill_meters == ("6/8", "3/4")
    bars = M.Bars(((4, 4), (8, 8), (7, 8), (3, 4), (2, 2)))
    out = pipeline.fills_where_played(Reading({"fill": 1.0}), bars, model)
    assert out.controls.fill[0].tolist()[:2] == [1.0, 1.0] and np.isnan(out.controls.fill[0, 2])
    assert out.controls.fill[0].tolist()[3:] == [1.0, 1.0]
    assert "fills in bars of 3/4, 4/4, 6/8 only: the fill asked in bar 3 (7/8) is left to the model" in out.notes[-1]
