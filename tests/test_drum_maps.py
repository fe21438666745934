"""Drum maps (built-in and from files) and the export options that choose one."""
import json

import numpy as np
import pytest

from drumgen import drum_maps, midi
from drumgen import hvo as H


def _random_hvo(steps=64, seed=1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hvo = H.empty_hvo(steps)
    hits = rng.random((steps, 9)) < 0.25
    hvo[:, H.HITS] = hits
    hvo[:, H.VELOCITIES] = hits * rng.integers(1, 128, (steps, 9)) / 127
    hvo[:, H.OFFSETS] = hits * rng.uniform(-0.45, 0.45, (steps, 9))
    hvo[0, H.OFFSETS] = np.abs(hvo[0, H.OFFSETS])  # no negative time at the start
    return hvo


@pytest.mark.parametrize("name", list(drum_maps.MAPS))
def test_every_map_gives_each_voice_its_own_note_and_says_where_it_comes_from(name):
    m = drum_maps.MAPS[name]
    assert tuple(m.notes) == H.VOICES
    assert all(0 <= n <= 127 for n in m.notes.values()) and len(set(m.notes.values())) == H.N_VOICES
    assert m.title and m.source
    assert not set(m.also_read) & set(m.notes.values()), "an articulation read back must not be a written note"
    assert {m.notes[v]: H.VOICES.index(v) for v in H.VOICES}.items() <= m.pitch_to_voice().items()


@pytest.mark.parametrize("name", list(drum_maps.MAPS))
def test_each_map_round_trips(name):
    """A take written with a map is the same take read back with that map: hits, velocities, timing."""
    hvo = _random_hvo()
    out = midi.hvo_to_midi(hvo, bpm=100, options=midi.ExportOptions(drum_map=name))
    song = midi.read_song(midi.midi_to_bytes(out))
    assert set(song.notes[:, 2].tolist()) <= set(drum_maps.MAPS[name].notes.values())
    back, unmapped = midi.song_to_hvo(song, drum_map=name)
    back = back[: len(hvo)]
    assert not unmapped
    assert (back[:, H.HITS] == hvo[:, H.HITS]).all()
    assert np.abs(back[:, H.VELOCITIES] - hvo[:, H.VELOCITIES]).max() < 1e-6
    assert np.abs(back[:, H.OFFSETS] - hvo[:, H.OFFSETS]).max() <= 1 / 120 + 1e-6


def test_gm_is_todays_map_and_reader():
    assert drum_maps.GM.output_pitches == H.OUTPUT_PITCHES
    assert drum_maps.GM.pitch_to_voice() == H.PITCH_TO_VOICE
    assert drum_maps.LOGIC.output_pitches == H.OUTPUT_PITCHES  # Apple: Drum Kit Designer is GM


def test_a_map_that_is_not_gm_writes_its_own_notes():
    hvo = H.empty_hvo(16)
    hvo[0, H.VOICES.index("closed_hat")] = 1
    hvo[0, H.N_VOICES + H.VOICES.index("closed_hat")] = 0.8
    song = midi.read_song(midi.midi_to_bytes(midi.hvo_to_midi(hvo, options=midi.ExportOptions(drum_map="AD2"))))
    assert song.notes[:, 2].tolist() == [49]  # HiHat Closed 1 Tip
    as_gm, _ = midi.song_to_hvo(song)  # the GM reader hears a crash: why a take keeps its map
    assert as_gm[0, H.VOICES.index("crash")] == 1


def test_articulations_are_read_back_as_their_voice():
    ad2 = drum_maps.AD2.pitch_to_voice()
    assert H.VOICES[ad2[54]] == "open_hat" and H.VOICES[ad2[48]] == "closed_hat" and H.VOICES[ad2[84]] == "ride"


def test_a_map_from_a_json_file(tmp_path):
    notes = {"kick": 24, "snare": 26, "hat": 30, "open hat": 31, "low_tom": 32, "mid-tom": 33, "High Tom": 34,
             "crash": 35, "ride": 40}
    path = tmp_path / "pads.json"
    path.write_text(json.dumps(notes))
    m = drum_maps.resolve(path)
    assert m.output_pitches == (24, 26, 30, 31, 32, 33, 34, 35, 40) and m.name == "pads"
    hvo = _random_hvo(32)
    out = midi.hvo_to_midi(hvo, options=midi.ExportOptions(drum_map=str(path)))
    back, _ = midi.song_to_hvo(midi.read_song(midi.midi_to_bytes(out)), drum_map=str(path))
    assert (back[:32, H.HITS] == hvo[:, H.HITS]).all()


def test_a_yaml_file_with_a_fallback_takes_the_rest_from_it(tmp_path):
    path = tmp_path / "kit.yaml"
    path.write_text("fallback: gm\nclosed_hat: 22\nopen_hat: 26\n")
    m = drum_maps.load(path)
    assert m.notes["closed_hat"] == 22 and m.notes["open_hat"] == 26 and m.notes["kick"] == 36
    assert "gm" in m.source


def test_voices_sharing_a_note_read_back_as_the_first(tmp_path):
    path = tmp_path / "two_toms.json"
    path.write_text(json.dumps({"fallback": "gm", "low_tom": 45, "mid_tom": 45}))
    assert H.VOICES[drum_maps.load(path).pitch_to_voice()[45]] == "low_tom"


@pytest.mark.parametrize("text, words", [
    ("{not json", "not valid JSON"),
    ("[36, 38]", "a drum map is {voice: note}"),
    ('{"kick": 36, "cowbell": 56, "fallback": "gm"}', "unknown voice 'cowbell'"),
    ('{"kick": 128, "fallback": "gm"}', "kick: a MIDI note must be a whole number 0..127, got 128"),
    ('{"kick": "C1", "fallback": "gm"}', "kick: a MIDI note must be a whole number 0..127, got 'C1'"),
    ('{"kick": 36.5, "fallback": "gm"}', "got 36.5"),
    ('{"kick": true, "fallback": "gm"}', "got True"),
    ('{"kick": 36, "snare": 38}', "no note for closed_hat, open_hat"),
    ('{"kick": 36, "fallback": "ezdrummer"}', "fallback: unknown drum map 'ezdrummer'"),
    ('{"hat": 42, "closed_hat": 44, "fallback": "gm"}', "closed_hat is given twice"),
])
def test_bad_map_files_are_refused_in_words(tmp_path, text, words):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        drum_maps.resolve(path)
    assert words in str(err.value) and "bad.json" in str(err.value)


def test_a_bad_yaml_file_and_a_missing_file_are_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("kick: [36\n")
    with pytest.raises(ValueError, match="bad.yaml is not valid YAML"):
        drum_maps.resolve(path)
    with pytest.raises(ValueError, match="cannot read drum map file"):
        drum_maps.resolve(tmp_path / "nowhere.json")


def test_an_unknown_name_lists_the_maps():
    with pytest.raises(ValueError, match="unknown drum map 'fm'; maps: gm, logic, ad2, ssd5"):
        drum_maps.resolve("fm")


@pytest.mark.parametrize("changes, words", [
    ({"humanize": 1.5}, "humanize must be a number from 0 to 1"),
    ({"humanize": True}, "humanize must be a number"),
    ({"swing": -0.1}, "swing must be a number from 0 to 1"),
    ({"swing": "a lot"}, "swing must be a number"),
    ({"swing_grid": "4th"}, "swing grid must be 16th or 8th"),
    ({"velocity_range": "0-100"}, "1 <= LOW <= HIGH <= 127, got 0-100"),
    ({"velocity_range": "110-40"}, "got 110-40"),
    ({"velocity_range": "loud"}, "two whole numbers LOW-HIGH"),
    ({"velocity_range": (40.5, 100)}, "two whole numbers"),
    ({"drum_map": 3}, "drum_map must be a map name, a file or a DrumMap"),
    ({"track_name": ""}, "track name"),
])
def test_bad_export_options_are_refused_in_words(changes, words):
    with pytest.raises(ValueError) as err:
        midi.ExportOptions(**changes)
    assert words in str(err.value)


def test_export_options_read_what_people_type():
    options = midi.ExportOptions(drum_map="SSD5", velocity_range="40-110", swing_grid="8", humanize=0)
    assert options.drum_map is drum_maps.SSD5 and options.velocity_range == (40, 110)
    assert options.swing_grid == "8th" and options.humanize == 0.0
    assert midi.ExportOptions(velocity_range=(1, 127)).velocity_range == (1, 127)
    assert options.with_(swing=0.5).swing == 0.5 and options.swing == 0.0
