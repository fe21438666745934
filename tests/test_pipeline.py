"""The one MIDI -> controls -> drums -> MIDI path the command line and the app walk (drumgen.pipeline)."""
import numpy as np
import pytest

from drumgen import controls as C
from drumgen import midi, pipeline
from drumgen.control_input import ControlSpec
from drumgen.lanes import LaneSpec
from tests.conftest import make_midi, rock_beat


def test_make_drums_from_bytes_with_controls(tmp_path, tiny_model):
    data = make_midi(tmp_path / "in.mid", rock_beat(3)).read_bytes()
    spec = ControlSpec(density="0.5", mute="kick", weights={"snare": 0.5})
    part = pipeline.make_drums(tiny_model, data, controls=spec, seed=1)
    song, hvo, out, timings = part.song, part.hvo, part.drums_midi, part.timings
    hits = C.bar_hit_counts(hvo)
    assert song.n_bars == 3 and (hits[:, 0] == 0).all() and (hits[:, 1] == 9).all() and (hits.sum(-1) == 18).all()
    assert set(timings) == {"read", "generate", "write"} and all(t >= 0 for t in timings.values())
    again = midi.read_song(midi.midi_to_bytes(out))
    assert 36 not in again.notes[:, 2]
    # per-bar controls made for the song (a dict) work too, and must match its bars
    same = pipeline.make_drums(tiny_model, data, controls=spec.resolve(3), seed=1).hvo
    assert np.array_equal(same, hvo)
    with pytest.raises(ValueError, match="for 1 items x 3 bars"):
        pipeline.make_drums(tiny_model, data, controls=spec.resolve(4))
    free = pipeline.make_drums(tiny_model, data, seed=1)
    assert np.array_equal(free.hvo, tiny_model.generate(midi.song_to_groove(song)[None], seed=1)[0])
    # a song already read walks the same path; the merged file holds the input's tracks and the drums
    assert np.array_equal(pipeline.make_drums(tiny_model, song, seed=1).hvo, free.hvo)
    assert len(free.merged_midi.tracks) == len(song.source.tracks) + 1


def test_make_drums_reads_the_page_lanes_for_the_song(tmp_path, tiny_model):
    data = make_midi(tmp_path / "in.mid", rock_beat(3)).read_bytes()
    part = pipeline.make_drums(tiny_model, data, controls=LaneSpec({"intensity": [1.5], "ride": 0}, "any"), seed=1)
    assert part.reading.lanes["intensity"] == [1.0, None, None] and part.reading.lanes["ride"] == [0.0] * 3
    assert any("clamped" in n for n in part.reading.notes)
    assert not (C.bar_hit_counts(part.hvo)[:, 8]).any()
    with pytest.raises(ValueError, match="controls must be"):
        pipeline.make_drums(tiny_model, data, controls="density=0.5")


def test_make_drums_writes_both_files_with_the_export_options(tmp_path, tiny_model):
    from drumgen import hvo as H
    data = make_midi(tmp_path / "in.mid", rock_beat(2)).read_bytes()
    export = midi.ExportOptions(drum_map="ad2", per_voice_tracks=True, humanize=0)
    part = pipeline.make_drums(tiny_model, data, seed=1, thresholds=0.2, export=export)
    plain = pipeline.make_drums(tiny_model, data, seed=1, thresholds=0.2)
    assert np.array_equal(part.hvo, plain.hvo) and part.export is export
    assert len(part.drums_midi.tracks) == 1 + H.N_VOICES
    assert len(part.merged_midi.tracks) == len(part.song.source.tracks) + H.N_VOICES
    assert midi.midi_to_bytes(plain.drums_midi) == midi.midi_to_bytes(midi.hvo_to_midi(plain.hvo, plain.song))
    back, _ = midi.song_to_hvo(midi.read_song(midi.midi_to_bytes(part.drums_midi)), drum_map="ad2")
    assert np.array_equal(back[:, H.HITS], part.hvo[:, H.HITS])
    with pytest.raises(ValueError, match="export must be midi.ExportOptions"):
        pipeline.make_drums(tiny_model, data, export="ad2")
