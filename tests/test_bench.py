"""The benchmark runs for every model kind and prints its table, the whole-path case, the target and
memory (figures are not asserted: the machine's load decides them)."""
import json

import numpy as np
import pytest

from drumgen import bench, midi


@pytest.fixture
def checkpoints(tmp_path, tiny_model):
    import torch

    from drumgen.models.controlled import RhythmDrivenDrumGen, tiny_config

    torch.manual_seed(0)
    RhythmDrivenDrumGen(tiny_config()).save(str(tmp_path / "controlled.pth"))
    tiny_model.save(str(tmp_path / "vae.pth"))
    return {"RhythmDrivenDrumGen": str(tmp_path / "controlled.pth"), "MonotonicGrooveVAE": str(tmp_path / "vae.pth")}


def test_example_groove_midi_is_16_bars_and_deterministic():
    data = bench.example_groove_midi(16)
    song = midi.read_song(data)
    assert song.n_bars == 16 and data == bench.example_groove_midi(16)
    groove = midi.song_to_groove(song)
    assert (groove[:, 0].reshape(16, 16).sum(1) >= 8).all()  # every bar plays


@pytest.mark.parametrize("kind, cases", [
    ("RhythmDrivenDrumGen", ["8 bars x 1 groove", "2 bars x 1 groove", "32 bars x 1 groove", "regenerate 2 of 32 bars"]),
    ("MonotonicGrooveVAE", ["2 bars x 1 groove", "8 bars x 1 groove", "32 bars x 1 groove", "2 bars x 64 grooves",
                            "regenerate 2 of 32 bars"]),
])
def test_bench_prints_table_and_json(tmp_path, checkpoints, capsys, kind, cases):
    out = tmp_path / "bench.json"
    assert bench.main(["--checkpoint", checkpoints[kind], "--repeats", "5", "--threads", "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert kind in text and "| case | median ms | p90 ms | per bar ms | calls |" in text
    for case in [*cases, "16 bars with controls, whole MIDI path"]:
        assert f"| {case} |" in text
    assert "whole path (MIDI bytes in -> drums -> MIDI bytes out" in text and "generate" in text
    assert "target (issue #7): 8 bars x 1 groove, median <= 50 ms" in text and "memory: peak RSS" in text
    assert ("style ignored by this model" in text) == (kind == "MonotonicGrooveVAE")
    figures = json.loads(out.read_text())
    assert figures["kind"] == kind and list(figures["cases"]) == cases
    path = figures["midi_path_16_bars"]
    assert path["calls"] >= 5 and set(path["stages_median_ms"]) == {"read", "generate", "write"}
    assert figures["target"]["met"] == (figures["cases"]["8 bars x 1 groove"]["median_ms"] <= 50)
    assert "target (issue #13): regenerate 2 of 32 bars, median <= 100 ms" in text
    assert figures["regenerate_target"]["met"] == (figures["cases"]["regenerate 2 of 32 bars"]["median_ms"] <= 100)
    assert figures["memory"]["peak_mb"] > 0 and np.isfinite(path["median_ms"])
