"""The shipped checkpoint and the demo: they load without training code and make sensible drums."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from drumgen import evaluate, load_variational_mgt_model, midi, pipeline
from drumgen import hvo as H
from drumgen.models.checkpoint import SHIPPED, default_checkpoint, load_default_model
from tests.conftest import ROOT

CHECKPOINT = ROOT / "checkpoints" / "mgvae_gmd.pth"


@pytest.fixture(scope="module")
def shipped():
    return load_variational_mgt_model(str(CHECKPOINT), "cpu")


def test_checkpoint_files_and_format():
    assert CHECKPOINT.stat().st_size < 25 * 2**20
    header = json.loads(CHECKPOINT.with_suffix(".json").read_text())
    assert header["model_kind"] == "MonotonicGrooveVAE" and header["format_version"] == 1  # the first release's format
    assert len(header["config"]["thresholds"]) == 9
    raw = torch.load(CHECKPOINT, weights_only=True)
    assert raw["config"] == header["config"]
    assert load_variational_mgt_model(str(CHECKPOINT)).thresholds == header["config"]["thresholds"]
    assert CHECKPOINT.with_suffix(".md").is_file()  # the model card


def test_shipped_model_beats_baseline_on_test_windows(shipped, gmd_test_windows):
    test = gmd_test_windows
    true = test.hvo[::4]  # a quarter of the split keeps the test quick
    model = evaluate.evaluate(shipped.generate, true)
    baseline = evaluate.evaluate(evaluate.baseline_rock, true)
    assert model["f1"] > baseline["f1"] + 0.08
    assert 0.8 < model["hit_ratio"] < 1.25
    assert model["velocity_mae_tp"] < 0.15


def test_shipped_model_plays_a_backbeat_for_a_rock_groove(shipped):
    groove = np.zeros((1, 32, 3), np.float32)
    groove[0, ::2] = [1, 0.6, 0]            # 8ths
    groove[0, [0, 8, 16, 24], 1] = 1.0      # loud on 1 and 3
    groove[0, [4, 12, 20, 28], 1] = 0.95    # and on 2 and 4
    drums = shipped.generate(groove, temperature=0)[0]
    hits = drums[:, H.HITS]
    assert hits[::2].sum() > 16 and hits[1::2].sum() == 0   # follows the groove, adds nothing between
    assert hits[[0, 16], 0].all()                          # kick on the downbeats
    assert hits[[4, 12, 20, 28], 1].sum() >= 3             # snare on the backbeat


def test_variations_with_temperature_and_seed(shipped):
    groove = np.zeros((1, 64, 3), np.float32)
    groove[0, ::3] = [1, 0.8, 0.05]
    outputs = {shipped.generate(groove, seed=s, temperature=2.0).tobytes() for s in range(4)}
    assert len(outputs) > 1


@pytest.mark.parametrize("name", ["tapped_rhythm.mid", "funk_bass.mid"])
def test_example_grooves(shipped, name):
    part = pipeline.make_drums(shipped, ROOT / "assets" / name)
    song, hvo, out = part.song, part.hvo, part.drums_midi
    assert hvo.shape == (song.n_steps, 27) and H.hit_count(hvo) > song.n_bars * 4
    again = midi.read_song(midi.midi_to_bytes(out))
    assert again.bpm == pytest.approx(song.bpm, abs=0.01)


@pytest.mark.parametrize("name, meter", [("waltz_bass.mid", (3, 4)), ("ballad_6_8.mid", (6, 8))])
def test_the_shipped_controllable_model_plays_the_meter_examples(name, meter):
    """In its meter: a kick or crash on beat 1 of every bar with drums, and the file's meter kept."""
    from drumgen.models.checkpoint import load_model

    model = load_model(SHIPPED["controlled"])
    part = pipeline.make_drums(model, ROOT / "assets" / name, seed=0)
    bars = part.song.bars
    assert bars.meters[0] == meter and model.plays_meters
    downbeats = part.hvo[bars.starts[:-1]]
    playing = [part.hvo[s:e, H.HITS].any() for s, e in zip(bars.starts[:-1], bars.starts[1:])]
    landing = downbeats[:, [H.VOICES.index("kick"), H.VOICES.index("crash")]].any(axis=1)
    assert landing[playing].mean() >= 0.9
    again = midi.read_song(midi.midi_to_bytes(part.drums_midi))
    assert again.time_signatures == part.song.time_signatures


def test_demo_runs(tmp_path):
    out = tmp_path / "drums.mid"
    demo = [sys.executable, "-m", "drumgen", "demo"]
    result = subprocess.run([*demo, "-o", str(out)], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert out.is_file() and "KD |" in result.stdout and "tapped_rhythm.mid: 8 bars" in result.stdout
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"RIFF....WAVE")
    result = subprocess.run([*demo, str(bad)], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2 and "WAV" in result.stderr and "Traceback" not in result.stderr


def test_default_checkpoint_prefers_the_controlled_model(tmp_path, monkeypatch):
    controlled, vae = tmp_path / "controlled_gmd.pth", tmp_path / "mgvae_gmd.pth"
    monkeypatch.setitem(SHIPPED, "controlled", controlled)
    monkeypatch.setitem(SHIPPED, "mgvae", vae)
    assert default_checkpoint() == vae
    controlled.write_bytes(b"")
    assert default_checkpoint() == controlled
    assert default_checkpoint("MGVAE") == vae and default_checkpoint("controlled") == controlled
    with pytest.raises(ValueError, match="choose one of: controlled, mgvae"):
        default_checkpoint("big")
    controlled.unlink()
    with pytest.raises(FileNotFoundError, match="not shipped yet"):
        load_default_model(model="controlled")


def test_the_shipped_model_plays_fills_in_the_meters_its_card_names():
    """A fill asked in bar 4 of the waltz is played there (the fill judge hears the 3/4 bar as a fill,
    the bar before it as a beat); one asked in a 7/8 bar, a meter the model has no fills in, is left to
    the model with a note."""
    from drumgen import fills
    from drumgen.models.checkpoint import load_model

    model = load_model(SHIPPED["controlled"])
    assert {"3/4", "6/8", "12/8"} <= set(model.config.fill_meters) and "7/8" not in model.config.fill_meters
    n_bars = midi.read_song(ROOT / "assets" / "waltz_bass.mid").n_bars
    part = pipeline.make_drums(model, ROOT / "assets" / "waltz_bass.mid", seed=0,
                               controls={"fill": [1.0 if b == 3 else 0.0 for b in range(n_bars)]})
    bars = part.song.bars
    assert not part.reading.notes
    judged = fills.bar_fill_flags([part.hvo[s:e] for s, e in zip(bars.starts[2:4], bars.starts[3:5])])
    assert judged.tolist() == [0.0, 1.0]
    odd = pipeline.make_drums(model, ROOT / "assets" / "changing_meters.mid", controls={"fill": 1.0}, seed=0)
    assert any("(7/8) are left to the model" in note for note in odd.reading.notes)
    sevens = [b for b, m in enumerate(odd.song.bars.meters) if m == (7, 8)]
    assert np.isnan(odd.reading.controls.fill[0, sevens]).all() and (odd.reading.controls.fill[0, :4] == 1).all()
