"""The MIDI -> controls -> drums path the command line and the app share (drumgen.pipeline)."""
import numpy as np
import pytest

from drumgen import controls as C
from drumgen import hvo as H
from drumgen import midi, pipeline
from drumgen.models.checkpoint import SHIPPED, default_checkpoint, load_default_model
from tests.conftest import make_midi, rock_beat


def test_build_controls_forms():
    c = pipeline.build_controls(4, density="0.2-0.8", intensity="0.3,0.9", mute="ride, crash",
                                weights={"snare": 0.25, "Hi-Hat": "0.1-0.4"}, style="Hip-Hop")
    assert np.allclose(c["density"], [0.2, 0.4, 0.6, 0.8])
    assert np.allclose(c["intensity"], [0.3, 0.9, 0.9, 0.9])
    assert list(c["instruments"]) == ["snare", "closed_hat", "crash", "ride"]  # in VOICES order
    assert np.allclose(c["instruments"]["snare"], 0.25) and np.allclose(c["instruments"]["closed_hat"], [0.1, 0.2, 0.3, 0.4])
    assert not c["instruments"]["ride"].any() and not c["instruments"]["crash"].any()
    assert c["style"] == "hiphop"
    checked = C.validate_controls(c, 1, 4)
    assert (checked.style == C.STYLES.index("hiphop")).all() and np.isnan(checked.instruments[0, :, 0]).all()


def test_build_controls_numbers_and_free():
    assert pipeline.build_controls(3) == {}
    assert pipeline.build_controls(3, density="free", style="any", mute=[], weights={}) == {}
    c = pipeline.build_controls(3, density=0.5, intensity=[0.2, np.nan])
    assert np.allclose(c["density"], 0.5) and np.allclose(c["intensity"][0], 0.2) and np.isnan(c["intensity"][1:]).all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(density="0.1,0.2,0.3"), "density: curve '0.1,0.2,0.3': 3 values for 2 bars"),
    (dict(density=[0.1, 0.2, 0.3]), "density: 3 values for 2 bars"),
    (dict(intensity=1.5), "intensity: values must be numbers between 0 and 1"),
    (dict(density="x"), "density: curve 'x'"),
    (dict(mute="cowbell"), "unknown voice 'cowbell'; voices: kick, snare, closed_hat"),
    (dict(weights={"snare": 2}), "weight snare"),
    (dict(weights={"snare": 0.6, "kick": "0.2-0.5"}), "weights add up to 1.10 in bar 2"),
    (dict(weights={"kick": 0.1}, mute="kick"), "kick is both muted and given a weight"),
    (dict(mute=list(H.VOICES)), "every voice is muted"),
    (dict(style="polka"), "unknown style 'polka'"),
])
def test_build_controls_refuses_bad_values(kwargs, message):
    with pytest.raises(ValueError) as info:
        pipeline.build_controls(2, **kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_parse_weights():
    assert pipeline.parse_weights(["snare=0.4,kick=0.6", "ride=0.1-0.3"]) == {"snare": "0.4", "kick": "0.6", "ride": "0.1-0.3"}
    assert pipeline.parse_weights("snare=0.2,0.5,hat=0.1") == {"snare": "0.2,0.5", "closed_hat": "0.1"}
    assert pipeline.parse_weights(None) == {}
    for bad in ("0.3", "snare=", "=0.3", "snare=0.1,snare=0.2"):
        with pytest.raises(ValueError):
            pipeline.parse_weights(bad)


def test_voice_names_and_aliases():
    assert [H.voice_name(v) for v in ("Kick", "closed-hat", "hihat", "hat", "open hat")] == [
        "kick", "closed_hat", "closed_hat", "closed_hat", "open_hat"]
    with pytest.raises(ValueError, match="voices: kick"):
        H.voice_name("cowbell")


def test_control_spec_checks_early_and_resolves_per_song():
    with pytest.raises(ValueError, match="unknown style"):
        pipeline.ControlSpec(style="polka")
    with pytest.raises(ValueError, match="density"):
        pipeline.ControlSpec(density="lots")
    spec = pipeline.ControlSpec(density="0.1,0.9", weights="snare=0.3")  # weights as typed on the command line
    assert spec.weights == {"snare": "0.3"}
    assert np.allclose(spec.resolve(3)["density"], [0.1, 0.9, 0.9])
    with pytest.raises(ValueError, match="2 values for 1 bars"):
        spec.resolve(1)


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


def test_ignored_controls(tiny_model):
    from drumgen.models.controlled import RhythmDrivenDrumGen, tiny_config

    spec = pipeline.ControlSpec(style="funk", density=0.5)
    assert pipeline.ignored_controls(tiny_model, spec) == ["style"]
    assert pipeline.ignored_controls(tiny_model, pipeline.ControlSpec(style="any", density=0.5)) == []
    assert pipeline.ignored_controls(tiny_model, {"style": "funk"}) == ["style"]
    assert pipeline.ignored_controls(RhythmDrivenDrumGen(tiny_config()), spec) == []
    assert pipeline.ignored_controls(tiny_model, None) == []


def test_midi_to_drum_midi_from_bytes_with_controls(tmp_path, tiny_model):
    data = make_midi(tmp_path / "in.mid", rock_beat(3)).read_bytes()
    timings = {}
    spec = pipeline.ControlSpec(density="0.5", mute="kick", weights={"snare": 0.5})
    song, hvo, out = pipeline.midi_to_drum_midi(tiny_model, data, controls=spec, timings=timings, seed=1)
    hits = C.bar_hit_counts(hvo)
    assert song.n_bars == 3 and (hits[:, 0] == 0).all() and (hits[:, 1] == 9).all() and (hits.sum(-1) == 18).all()
    assert set(timings) == {"read", "generate", "write"} and all(t >= 0 for t in timings.values())
    again = midi.read_song(midi.midi_to_bytes(out))
    assert 36 not in again.notes[:, 2]
    # per-bar controls made for the song (a dict) work too, and must match its bars
    same = pipeline.midi_to_drum_midi(tiny_model, data, controls=spec.resolve(3), seed=1)[1]
    assert np.array_equal(same, hvo)
    with pytest.raises(ValueError, match="for 1 items x 3 bars"):
        pipeline.midi_to_drum_midi(tiny_model, data, controls=spec.resolve(4))
    free = pipeline.midi_to_drum_midi(tiny_model, data, seed=1)[1]
    assert np.array_equal(free, pipeline.drums_for_song(tiny_model, song, seed=1))


@pytest.mark.parametrize("kwargs, name", [
    (dict(density=True), "density"),
    (dict(density=10 ** 400), "density"),
    (dict(intensity=[0.5, 1j]), "intensity"),
    (dict(weights=5), "weight"),
    (dict(mute=5), "mute"),
    (dict(weights={"snare": True}), "weight snare"),
])
def test_build_controls_refuses_odd_types_with_a_value_error(kwargs, name):
    with pytest.raises(ValueError, match=name):
        pipeline.build_controls(2, **kwargs)


@pytest.mark.parametrize("n_bars", [True, 0, 2.0, "4"])
def test_build_controls_needs_a_whole_number_of_bars(n_bars):
    with pytest.raises(ValueError, match="at least one bar"):
        pipeline.build_controls(n_bars)
