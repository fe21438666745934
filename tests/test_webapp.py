"""The web page's functions without a browser: the lanes component,
songs and tracks, a whole Generate with its files, and bad input that gets a sentence, not a traceback."""
import json
import os
from pathlib import Path

import gradio as gr
import mido
import numpy as np
import pytest
import torch
from gradio_client.utils import json_schema_to_python_type

from drumgen import audio, midi, takes, webapp
from drumgen import hvo as H
from drumgen.lanes import LANE_ROWS, LANES, free_lanes
from drumgen.models.checkpoint import shipped_models
from drumgen.request_files import RequestFolders
from drumgen.widgets import BarLanes
from tests.conftest import ROOT, make_midi

SHIPPED = ROOT / "checkpoints" / "mgvae_gmd.pth"
AUDIO = audio.audio_unavailable_reason() is None


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_controlled(tmp_path_factory):
    from drumgen.models.controlled import RhythmDrivenDrumGen, tiny_config

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny_controlled.pth"
    RhythmDrivenDrumGen(tiny_config()).save(str(path))
    return path


@pytest.fixture(scope="module")
def drums(tmp_path_factory, tiny_controlled):
    return webapp.DrumApp({"mgvae": SHIPPED, "tiny": tiny_controlled}, work_dir=tmp_path_factory.mktemp("work"))


def groove_notes(bars, bpm_tpb=480, channel=0):
    """Quarter notes with an off-beat 8th, on a melodic channel, in every bar."""
    return [((bar * 16 + s) * bpm_tpb // 4, 40, 100 if s == 0 else 80, channel)
            for bar in range(bars) for s in (0, 4, 6, 8, 12)]


# --- lanes ----------------------------------------------------------------------------------------------


def test_lanes_component_documents_an_object_that_gradio_client_reads():
    component = BarLanes(LANE_ROWS, render=False)
    info = component.api_info()
    assert info["type"] == "object" and set(info["properties"]) == set(LANES)
    assert info["properties"]["density"]["items"] == {"anyOf": [{"type": "number"}, {"type": "null"}]}
    assert "list[float | None]" in json_schema_to_python_type(info)
    sent = {"density": [0.5, None], "kick": [0]}
    assert component.preprocess(sent) == sent and component.postprocess(sent) == sent


# --- songs ----------------------------------------------------------------------------------------------

def test_parse_seed_and_track(tmp_path):
    assert webapp.parse_seed(None) == 0 and webapp.parse_seed("7") == 7 and webapp.parse_seed(3.0) == 3
    for bad in (-1, 2**31, 1.5, "x", True, float("nan")):
        with pytest.raises(ValueError, match="seed must be a whole number"):
            webapp.parse_seed(bad)
    song = midi.read_song(ROOT / "assets" / "bass_and_keys.mid")
    assert webapp.parse_track("all", song) is None and webapp.parse_track(None, song) is None
    assert webapp.parse_track("2", song) == 2 and webapp.parse_track(1, song) == 1
    assert webapp.parse_track("track 2: keys — 66 notes", song) == 2
    with pytest.raises(midi.MidiError, match="no track 5 with notes"):
        webapp.parse_track(5, song)
    with pytest.raises(ValueError, match="track must be"):
        webapp.parse_track("bass", song)
    assert [v for _, v in webapp.track_choices(song)] == ["all", "1", "2"]


def test_analyze_says_what_it_understood(drums):
    info, tracks, figure, lanes = drums.analyze(str(ROOT / "assets" / "bass_and_keys.mid"))
    assert "16 bars of 4/4 at 110 BPM" in info and "track 1: bass — 146 notes" in info and "keys" in info
    assert tracks.value == "all" and [v for _, v in tracks.choices] == ["all", "1", "2"]
    assert Path(figure).read_bytes()[:4] == b"\x89PNG"
    assert lanes == free_lanes(16)
    assert Path(drums.groove(str(ROOT / "assets" / "bass_and_keys.mid"), "2")).read_bytes()[:4] == b"\x89PNG"
    assert drums.analyze(None)[0] == webapp.NO_FILE  # the upload was cleared


def bad_files(tmp_path):
    """(path, words of the message) for the files a person may upload by mistake."""
    (tmp_path / "empty.mid").write_bytes(b"")
    (tmp_path / "random.mid").write_bytes(np.random.default_rng(0).bytes(3000))
    (tmp_path / "song.mid").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(100))
    (tmp_path / "huge.mid").write_bytes(b"MThd" + bytes(9 * 2**20))
    make_midi(tmp_path / "silent.mid", [])
    make_midi(tmp_path / "odd.mid", groove_notes(2), meters=((0, 7, 16),))  # 7/16: sixteenths are not counted
    return [(tmp_path / "empty.mid", "The file is empty"),
            (tmp_path / "random.mid", "not a MIDI file"),
            (tmp_path / "song.mid", "cannot read this audio file"),  # audio bytes are heard as audio
            (tmp_path / "huge.mid", "takes MIDI files up to 8 MB"),
            (tmp_path / "silent.mid", "no notes"),
            (tmp_path / "odd.mid", "7/16 (from bar 1)")]


def test_bad_files_get_a_sentence(drums, tmp_path):
    for path, words in bad_files(tmp_path):
        for call in (lambda p: drums.analyze(str(p)), lambda p: drums.generate(str(p), "all", None, "any", "mgvae", 1, 0)):
            with pytest.raises(gr.Error) as error:
                call(path)
            assert words in error.value.message, (path.name, error.value.message)
    with pytest.raises(gr.Error, match="Upload a MIDI file"):
        drums.generate(None, "all", None, "any", "mgvae", 1, 0)


def test_bad_values_get_a_sentence(drums):
    groove = str(ROOT / "assets" / "funk_bass.mid")
    for args, words in [(("all", {"sn": [1]}, "any", "mgvae", 1, 0), "unknown lane 'sn'"),
                        (("all", None, "polka", "mgvae", 1, 0), "unknown style 'polka'"),
                        (("all", None, "any", "gpt", 1, 0), "unknown model 'gpt'"),
                        (("all", None, "any", "mgvae", "hot", 0), "temperature must be a number"),
                        (("all", None, "any", "mgvae", 1, -3), "seed must be a whole number"),
                        (("7", None, "any", "mgvae", 1, 0), "There is no track 7 with notes")]:
        with pytest.raises(gr.Error) as error:
            drums.generate(groove, *args)
        assert words in error.value.message


def test_unexpected_failures_are_one_line(drums, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(midi, "hvo_to_midi", broken)
    with pytest.raises(gr.Error, match="failed unexpectedly .KeyError: 'boom'.; please report it"):
        drums.generate(str(ROOT / "assets" / "funk_bass.mid"), "all", None, "any", "mgvae", 1, 0)


# --- generate -------------------------------------------------------------------------------------------

def read_drums(path):
    mid = mido.MidiFile(path)
    notes, now = [], 0
    for msg in mido.merge_tracks(mid.tracks):
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            notes.append((now, msg.channel, msg.note, msg.velocity))
    return mid, np.array(notes).reshape(-1, 4)


def test_generate_makes_every_output(drums, tmp_path):
    path = make_midi(tmp_path / "groove.mid", groove_notes(6), tempos=((0, 93.0),))
    lanes = {"density": [0.3] * 6, "ride": [0] * 6, "snare": [None, None, 0.4]}
    result = drums.run(str(path), "all", lanes, "funk", "mgvae", 0.8, 5)
    take, mix, alone, drums_mid, merged_mid, summary = result.outputs
    assert take["take"]["steps"] == 6 * 16 and take["take"]["seed"] == 5 and take["take"]["made"] == "Generate"
    assert take["take"]["tempo_map"] == [[0.0, 93.0]] and take["groove"][0] == [0, round(100 / 127, 3)]
    assert np.array_equal(takes.take_from_json(json.loads(json.dumps(take["take"]))), result.hvo)  # exactly the take
    mid, notes = read_drums(drums_mid)
    assert (notes[:, 1] == 9).all() and len(notes)
    assert midi.read_song(drums_mid).bpm == pytest.approx(93.0, abs=0.01)
    bars = notes[:, 0] // (4 * mid.ticks_per_beat)
    assert set(bars.tolist()) == set(range(6))  # drums in every bar of the groove, none after it
    assert H.OUTPUT_PITCHES[H.VOICES.index("ride")] not in notes[:, 2]
    merged, merged_notes = read_drums(merged_mid)
    assert {0, 9} <= set(merged_notes[:, 1].tolist())  # the groove's own notes beside the drums
    assert "seed 5" in summary and "temperature 0.80" in summary
    assert "**density** 0.30 in bars 1–6" in summary and "**ride** muted in bars 1–6" in summary
    assert "**snare** 0.40 in bar 3" in summary and "'funk' was ignored" in summary  # the VAE has no style
    assert set(result.timings) == {"read", "generate", "midi", "take", "audio"}
    assert len({Path(p).parent for p in (drums_mid, merged_mid, mix or drums_mid, alone or drums_mid)}) == 1
    if AUDIO:
        import soundfile

        for wav in (mix, alone):
            samples, rate = soundfile.read(wav)
            assert abs(len(samples) / rate - (6 * 4 * 60 / 93.0 + audio.TAIL_SECONDS)) < 0.1
            assert np.sqrt(np.mean(samples ** 2)) > 0.01
    else:
        assert mix is None and alone is None and "No audio preview" in summary


def test_same_seed_same_drums_new_variation_new_seed(drums):
    groove = str(ROOT / "assets" / "tapped_rhythm.mid")
    a = drums.run(groove, "all", None, "any", "mgvae", 1.5, 11).hvo
    b = drums.run(groove, "all", None, "any", "mgvae", 1.5, 11).hvo
    np.testing.assert_array_equal(a, b)
    seed, *outputs = drums.new_variation(groove, "all", None, "any", "mgvae", 1.5)
    assert 0 <= seed <= webapp.MAX_SEED and len(outputs) == 6 and f"seed {seed}" in outputs[-1]


def test_controllable_model_follows_style(drums):
    result = drums.run(str(ROOT / "assets" / "funk_bass.mid"), "1", {"density": 0.5}, "funk", "tiny", 1.0, 0)
    assert "RhythmDrivenDrumGen" in result.summary and "ignored" not in result.summary
    assert "**style** funk" in result.summary and result.hvo.shape == (8 * 16, 27)


def test_clamped_values_are_reported(drums):
    summary = drums.run(str(ROOT / "assets" / "son_clave.mid"), "all", {"intensity": [1.5, -2]}, "any", "mgvae",
                        9, 0).summary
    assert "values outside 0..1 were clamped" in summary and "temperature 9 was clamped to 3" in summary
    assert "**intensity** 1.00 in bar 1; 0 in bar 2" in summary


def test_request_folders_are_new_and_old_ones_go(tmp_path):
    folders = RequestFolders(tmp_path, keep_seconds=3600)
    a, b = folders.new(), folders.new()
    assert a != b and a.parent == b.parent == tmp_path
    old = tmp_path / "req-old"
    old.mkdir()
    os.utime(old, (0, 0))
    folders.new()
    assert not old.exists() and a.exists()


def test_no_audio_says_why(drums, monkeypatch):
    monkeypatch.setattr(audio, "audio_unavailable_reason", lambda: "No audio preview: the FluidSynth library is "
                        "not installed (Debian: apt-get install libfluidsynth3).")
    take, mix, alone, *_, summary = drums.generate(str(ROOT / "assets" / "son_clave.mid"), "all", None, "any",
                                                   "mgvae", 1, 0)
    assert mix is None and alone is None and "apt-get install libfluidsynth3" in summary
    assert take["take"]["steps"] == 4 * 16 and take["take"]["hits"]


def test_shipped_models_and_examples():
    models = shipped_models()
    assert "mgvae" in models and list(models)[0] == ("controlled" if "controlled" in models else "mgvae")
    names = [Path(p).name for p in webapp.examples()]
    assert names[:4] == ["bass_and_keys.mid", "funk_bass.mid", "tapped_rhythm.mid", "son_clave.mid"]
    for path in webapp.examples():
        assert 4 <= midi.read_song(path).n_bars <= 16


def test_bench_app_prints_stages_and_target(tmp_path, capsys):
    from drumgen import bench_app

    out = tmp_path / "bench.json"
    assert bench_app.main(["--model", "mgvae", "--repeats", "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Generate, 16 bars" in text and "| take |" in text and "| audio |" in text and "| figure |" not in text
    assert "target (issue #8, #16)" in text and "previews" in text
    figures = json.loads(out.read_text())
    assert set(figures["stages_median_ms"]) == set(bench_app.STAGES) and figures["median_ms"] > 0




def test_lanes_are_read_before_a_model_is_chosen(drums):
    """Bad lanes get their sentence even when the model named is wrong too: nothing is loaded for them."""
    with pytest.raises(gr.Error, match="unknown lane 'bogus'"):
        drums.generate(str(ROOT / "assets" / "funk_bass.mid"), "all", {"bogus": [0.5]}, "any", "nope", 1, 0)


def test_regenerate_changes_only_the_bars_asked_and_keeps_locked_voices(drums):
    from drumgen import takes

    groove = str(ROOT / "assets" / "funk_bass.mid")
    first = drums.run(groove, "all", None, "any", "tiny", 1.5, 3)
    song = midi.read_song(groove)
    seed, *outputs = drums.regenerate(groove, "all", first.drums_midi, "2-3", ["kick"], None, "any", "tiny", 1.5, None)
    summary = outputs[-1]
    assert isinstance(seed, int) and "**Regenerated:** new drums in bars 2–3, kick kept as it was" in summary
    one, two = (takes.take_from_midi(p, song) for p in (first.drums_midi, outputs[3]))
    changed = (one != two).any(-1).reshape(song.n_bars, 16).any(-1)
    assert not changed[[0] + list(range(3, song.n_bars))].any()  # every other bar as it was, through MIDI
    assert np.array_equal(one[:, [0, 9, 18]], two[:, [0, 9, 18]])  # the kick kept everywhere
    again = drums.regenerate(groove, "all", first.drums_midi, "2-3", ["kick"], None, "any", "tiny", 1.5, seed)
    assert again[4].endswith(".mid") and np.array_equal(takes.take_from_midi(again[4], song), two)  # its seed


def test_regenerate_follow_leans_the_new_bars_toward_the_kept_ones(drums):
    """The page's "Follow the kept bars": 1 and 0 make other bars from one seed, the rest kept; empty is the
    model's own; a bad value is a sentence."""
    from drumgen import page_input as P
    from drumgen import takes

    groove = str(ROOT / "assets" / "funk_bass.mid")
    first = drums.run(groove, "all", None, "any", "tiny", 1.5, 3)
    song = midi.read_song(groove)
    own = P.follow_default(drums.model("tiny"))

    def made(follow, said=None):
        out = drums.regenerate(groove, "all", first.drums_midi, "2-3", [], None, "any", "tiny", 1.5, 7, False, None, follow)
        assert said is None or said in out[-1]
        return takes.take_from_midi(out[4], song)

    was, fresh = takes.take_from_midi(first.drums_midi, song), made("0", "the new bars lean 0.00 toward the kept bars")
    pulled = made(1, "bars 2–3; every other cell as the take had it; the new bars lean 1.00 toward the kept bars")
    assert not np.array_equal(pulled[16:48], fresh[16:48])
    for new in (pulled, fresh):
        assert np.array_equal(new[:16], was[:16]) and np.array_equal(new[48:], was[48:])
    assert np.array_equal(made(None), made(own)) and np.array_equal(made(""), made(own))
    for bad in (2, -0.1, "lots", float("nan"), True):
        with pytest.raises(gr.Error, match="follow the kept bars must be a number from 0 to 1"):
            made(bad)
    other = drums.run(groove, "all", None, "any", "mgvae", 1.0, 0).drums_midi  # a model with no pull says so
    summary = drums.regenerate(groove, "all", other, "2", [], None, "any", "mgvae", 1.0, 7, False, None, 0.3)[-1]
    assert "does not lean toward the kept bars: 'Follow the kept bars' was ignored" in summary
    assert "ignored" not in drums.regenerate(groove, "all", other, "2", [], None, "any", "mgvae", 1.0, 7)[-1]
    assert "ignored" not in drums.regenerate(groove, "all", other, "2", [], None, "any", "mgvae", 1.0, 7, False, None, 0)[-1]
    every = drums.regenerate(groove, "all", first.drums_midi, "", ["kick"], None, "any", "tiny", 1.5, 7, False, None, 1)[-1]
    assert "kick kept as it was" in every and "lean" not in every  # no bar kept whole: nothing to lean toward
    assert P.follow_for(drums, "mgvae") == 0.0 and P.follow_for(drums, "tiny") == own
    assert not isinstance(P.follow_for(drums, "no such model"), float)  # the slider left as it is


@pytest.mark.parametrize("take, bars, lock, words", [
    (None, "2", None, "Generate first"),
    ("take", "", [], "Choose the bars to make new"),
    ("take", "99", None, "bar 99 is outside the song"),
    ("take", "2", ["cowbell"], "unknown voice 'cowbell'"),
    ("other", "2", None, "another tempo"),
])
def test_regenerate_refuses_in_a_sentence(drums, take, bars, lock, words):
    groove = str(ROOT / "assets" / "funk_bass.mid")
    if take == "take":
        take = drums.run(groove, "all", None, "any", "mgvae", 1.0, 0).drums_midi
    elif take == "other":
        take = drums.run(str(ROOT / "assets" / "son_clave.mid"), "all", None, "any", "mgvae", 1.0, 0).drums_midi
    with pytest.raises(gr.Error, match=words):
        drums.regenerate(groove, "all", take, bars, lock, None, "any", "mgvae", 1.0, None)
