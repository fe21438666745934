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


class EchoModel:
    """A model whose new cells come out as the take had them for the seeds in `echo`, changed otherwise."""

    kind, learns_controls, follows_fills, plays_meters = "echo", False, False, False

    def __init__(self, echo):
        self.echo, self.seeds = set(echo), []

    def generate(self, groove, controls=None, seed=0, keep=None, keep_mask=None, **kwargs):
        self.seeds.append(seed)
        out = keep.copy()
        if seed not in self.echo:
            out[:, ~keep_mask[0].any(axis=1), 0] = 1.0 - out[:, ~keep_mask[0].any(axis=1), 0]  # flip the new kicks
        return out


def test_a_regenerate_with_no_seed_asked_tries_fresh_seeds_until_bars_change(tmp_path):
    from drumgen import takes

    data = make_midi(tmp_path / "in.mid", rock_beat(4)).read_bytes()
    take = np.zeros((64, 27), np.float32)
    mask = takes.keep_mask(64, regenerate=[1])
    fresh = iter([11, 12, 13, 14, 15])
    model = EchoModel(echo=[3, 11])
    part, seed = pipeline.regenerate_drums(model, data, take, mask, 3, lambda: next(fresh))
    assert model.seeds == [3, 11, 12] and seed == 12 and part.hvo[16:32, 0].all()
    assert np.array_equal(part.hvo[:16], take[:16]) and np.array_equal(part.hvo[32:], take[32:])
    model = EchoModel(echo=[3])                        # a seed asked for: kept, even if nothing changed
    part, seed = pipeline.regenerate_drums(model, data, take, mask, 3)
    assert model.seeds == [3] and seed == 3 and not part.hvo.any()
    model = EchoModel(echo=range(100))                 # never changes: gives up after REGENERATE_TRIES
    part, seed = pipeline.regenerate_drums(model, data, take, mask, 3, lambda: next(fresh))
    assert len(model.seeds) == pipeline.REGENERATE_TRIES and seed == 15
    model = EchoModel(echo=range(100))                 # the most likely drums: the seed changes nothing
    part, seed = pipeline.regenerate_drums(model, data, take, mask, 3, lambda: next(fresh), temperature=0.0)
    assert model.seeds == [3] and seed == 3


def test_a_recording_is_heard_with_its_feel_and_less_of_its_jitter():
    from drumgen import meter as M

    rng = np.random.default_rng(0)
    groove = np.zeros((64, 3), np.float32)
    groove[::2, 0], groove[::2, 1] = 1.0, 0.8
    groove[::2, 2] = np.where(np.arange(0, 64, 2) % 4 == 2, 0.3, 0.0) + rng.normal(0, 0.08, 32)  # swung 8ths, jitter
    heard = pipeline.heard_groove(groove, kept=0.25)
    on, swung = groove[:, 0] > 0, np.arange(64) % 4 == 2
    for place in (swung, ~swung):
        at = on & place
        assert np.median(heard[at, 2]) == pytest.approx(np.median(groove[at, 2]), abs=1e-6)   # the feel stays
        assert np.std(heard[at, 2]) == pytest.approx(0.25 * np.std(groove[at, 2]), rel=1e-4)  # the jitter shrinks
    assert np.array_equal(heard[:, :2], groove[:, :2]) and not heard[~on].any()
    assert np.array_equal(pipeline.heard_groove(groove, kept=1.0), groove)
    compound = pipeline.heard_groove(groove[:48], M.Bars.uniform("6/8", 4), kept=0.0)  # places: the 2 of an 8th
    assert len(np.unique(compound[:48:2, 2])) == 1
    mixed = M.Bars(((4, 4), (6, 8), (4, 4), (4, 4)))                                   # 16 + 12 + 16 + 16 steps
    swing = np.zeros((60, 3), np.float32)
    swing[::2, 0], swing[::2, 2] = 1.0, np.where(mixed.step_position[::2] % 4 == 2, 0.3, 0.0)
    steadied = pipeline.heard_groove(swing, mixed, kept=0.0)
    four = mixed.step_bar != 1
    assert np.allclose(steadied[four, 2], swing[four, 2])                                # the 4/4 bars keep their swing
    assert np.array_equal(pipeline.heard_groove(np.pad(swing, ((0, 4), (0, 0))), mixed, kept=0.0)[:60], steadied)
    with pytest.raises(ValueError, match="kept must be"):
        pipeline.heard_groove(swing, mixed, kept="a lot")


def test_drums_for_a_recording_play_on_its_onsets(tiny_model, monkeypatch):
    from tests.test_recording import clip, steady, wav_bytes

    times, levels = steady(bpm=100.0, bars=2)
    data = wav_bytes(clip([t + (0.012 if k % 3 == 1 else 0.0) for k, t in enumerate(times)], levels=levels))
    song = pipeline.read_source(data)
    assert song.recording is not None
    groove, seen = midi.song_to_groove(song), []
    real = tiny_model.generate
    monkeypatch.setattr(tiny_model, "generate", lambda g, *a, **k: seen.append(g) or real(g, *a, **k))
    part = pipeline.make_drums(tiny_model, song, seed=0, thresholds=0.05)
    assert np.array_equal(seen[0][0], pipeline.heard_groove(groove, song.bars))     # the model heard it steadied
    cells = (groove[:, :1] > 0.5) & (part.hvo[:, :9] > 0.5)
    assert cells.any() and np.array_equal(part.hvo[:, 18:][cells], np.broadcast_to(groove[:, 2:3], cells.shape)[cells])
