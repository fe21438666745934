import io

import mido
import numpy as np
import pytest

from drumgen import drum_maps, midi
from drumgen import hvo as H
from tests.conftest import make_midi, rock_beat


def test_drum_file_to_hvo(rock_midi):
    song = midi.read_song(rock_midi)
    hvo, unmapped = midi.song_to_hvo(song)
    assert hvo.shape == (32, 27) and not unmapped
    hits = hvo[:, H.HITS]
    assert hits[:, 0].nonzero()[0].tolist() == [0, 8, 16, 24]      # kick
    assert hits[:, 1].nonzero()[0].tolist() == [4, 12, 20, 28]     # snare
    assert hits[:, 2].sum() == 16                                   # closed hat 8ths
    assert hvo[0, 9] == pytest.approx(110 / 127)


def test_unmapped_pitches_are_counted(tmp_path):
    path = make_midi(tmp_path / "x.mid", [(0, 36, 100), (120, 81, 90), (240, 81, 90)])
    hvo, unmapped = midi.song_to_hvo(midi.read_song(path))
    assert unmapped == {81: 2}
    assert H.hit_count(hvo) == 1


def test_roundtrip_hvo_midi_hvo_keeps_hits_velocities_offsets(rock_midi):
    rng = np.random.default_rng(1)
    hvo = H.empty_hvo(64)
    hits = rng.random((64, 9)) < 0.2
    hvo[:, H.HITS] = hits
    hvo[:, H.VELOCITIES] = hits * rng.integers(1, 128, (64, 9)) / 127
    hvo[:, H.OFFSETS] = hits * rng.uniform(-0.45, 0.45, (64, 9))
    hvo[0, H.OFFSETS] = np.where(hits[0], np.abs(hvo[0, H.OFFSETS]), 0)  # no negative time at the start
    out = midi.hvo_to_midi(hvo, bpm=97)
    back, _ = midi.song_to_hvo(midi.read_song(midi.midi_to_bytes(out)))
    back = back[:64]
    assert (back[:, H.HITS] == hvo[:, H.HITS]).all()
    assert np.abs(back[:, H.VELOCITIES] - hvo[:, H.VELOCITIES]).max() < 1e-6
    assert np.abs(back[:, H.OFFSETS] - hvo[:, H.OFFSETS]).max() <= 1 / 120 + 1e-6  # one tick at 480 tpb
    assert midi.read_song(midi.midi_to_bytes(out)).bpm == pytest.approx(97, abs=0.01)


def test_output_keeps_input_tempo_map_and_resolution(tmp_path):
    path = make_midi(tmp_path / "t.mid", rock_beat(4, 960), ticks_per_beat=960, tempos=((0, 90.0), (960 * 8, 140.0)))
    song = midi.read_song(path)
    assert [round(b) for _, b in song.tempos] == [90, 140]
    hvo, _ = midi.song_to_hvo(song)
    assert hvo.shape[0] == 64  # grid from ticks: the tempo change moves no note
    out = midi.read_song(midi.midi_to_bytes(midi.hvo_to_midi(hvo, song)))
    assert out.ticks_per_beat == 960
    assert [(t, round(b)) for t, b in out.tempos] == [(0, 90), (7680, 140)]
    assert (midi.song_to_hvo(out)[0] == hvo).all()


def test_merge_keeps_original_tracks(tmp_path):
    bass = [(i * 240, mido.Message("note_on", channel=0, note=40, velocity=90)) for i in range(8)]
    path = make_midi(tmp_path / "m.mid", rock_beat(), extra_tracks=[bass])
    song = midi.read_song(path)
    out = midi.hvo_to_midi(midi.song_to_hvo(song)[0], song, merge=True)
    assert len(out.tracks) == len(song.source.tracks) + 1
    again = midi.read_song(midi.midi_to_bytes(out))
    assert len(again.notes) == 2 * len(song.select(drums_only=True)) + 8


def test_groove_from_one_track_or_all_notes(tmp_path):
    bass = [(i * 480, mido.Message("note_on", channel=0, note=40, velocity=64)) for i in range(8)]
    path = make_midi(tmp_path / "g.mid", [(120, 36, 100)], extra_tracks=[bass])
    song = midi.read_song(path)
    all_notes = midi.song_to_groove(song)
    assert all_notes.shape == (32, 3)
    assert all_notes[:, 0].nonzero()[0].tolist() == [0, 1, 4, 8, 12, 16, 20, 24, 28]
    bass_only = midi.song_to_groove(song, track=2)
    assert bass_only[:, 0].nonzero()[0].tolist() == [0, 4, 8, 12, 16, 20, 24, 28]
    assert bass_only[0, 1] == pytest.approx(64 / 127)
    with pytest.raises(midi.MidiError, match="no track 7"):
        midi.song_to_groove(song, track=7)
    assert [t.describe() for t in song.tracks][2].startswith("track 2")


# --- bad input: each gets a MidiError with a clear message, or a sensible result -------------

def _bytes_error(data: bytes) -> str:
    with pytest.raises(midi.MidiError) as info:
        midi.read_song(data)
    return str(info.value)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.mid"
    path.write_bytes(b"")
    with pytest.raises(midi.MidiError, match="empty"):
        midi.read_song(path)


def test_random_bytes():
    assert "not a MIDI file" in _bytes_error(np.random.default_rng(0).bytes(500))


def test_truncated_file(rock_midi):
    data = rock_midi.read_bytes()
    assert "not a readable MIDI file" in _bytes_error(data[: len(data) // 2])


def test_wav_renamed_mid():
    wav = b"RIFF" + (36).to_bytes(4, "little") + b"WAVEfmt " + bytes(28)
    assert "looks like an audio file" in _bytes_error(wav)  # midi.read_song is MIDI only; recording.read_source hears it


def test_missing_file(tmp_path):
    with pytest.raises(midi.MidiError, match="Cannot open"):
        midi.read_song(tmp_path / "nope.mid")


def test_file_with_no_notes(tmp_path):
    song = midi.read_song(make_midi(tmp_path / "n.mid", []))
    with pytest.raises(midi.MidiError, match="no notes"):
        midi.song_to_groove(song)
    with pytest.raises(midi.MidiError, match="No drum notes"):
        midi.song_to_hvo(song)


def test_only_a_tempo_track(tmp_path):
    mid = mido.MidiFile(type=1)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)]))
    mid.save(str(tmp_path / "t.mid"))
    with pytest.raises(midi.MidiError, match="no notes"):
        midi.song_to_groove(midi.read_song(tmp_path / "t.mid"))


def test_single_note(tmp_path):
    song = midi.read_song(make_midi(tmp_path / "s.mid", [(0, 60, 80, 0)]))
    groove = midi.song_to_groove(song)
    assert groove.shape == (16, 3) and groove[:, 0].sum() == 1


def test_very_long_file(tmp_path):
    song = midi.read_song(make_midi(tmp_path / "long.mid", rock_beat(400)))
    assert song.n_bars == 400
    assert midi.song_to_groove(song).shape == (6400, 3)


def test_too_long_file_is_refused(tmp_path):
    path = make_midi(tmp_path / "huge.mid", [(0, 36, 90), ((midi.MAX_BARS + 5) * 16 * 120, 36, 90)])
    with pytest.raises(midi.MidiError, match="bars long"):
        midi.read_song(path)


@pytest.mark.parametrize("tpb", [1, 3, 24, 32767])
def test_extreme_ticks_per_beat(tmp_path, tpb):
    notes = [(beat * tpb, 36, 100) for beat in range(8)]
    song = midi.read_song(make_midi(tmp_path / "e.mid", notes, ticks_per_beat=tpb))
    groove = midi.song_to_groove(song)
    assert groove[:, 0].nonzero()[0].tolist() == list(range(0, 32, 4))


def test_tempo_change_does_not_move_notes(tmp_path):
    notes = [(i * 120, 42, 80) for i in range(32)]
    song = midi.read_song(make_midi(tmp_path / "tc.mid", notes, tempos=((0, 80.0), (960, 160.0), (2400, 60.0))))
    assert len(song.tempos) == 3
    assert midi.song_to_groove(song)[:, 0].sum() == 32


@pytest.mark.parametrize("meter, steps", [((3, 4), 36), ((6, 8), 36), ((2, 2), 32), ((4, 4), 32), ((7, 8), 42)])
def test_meter(tmp_path, meter, steps):
    """rock_beat is 32 sixteenths of notes: whole bars of the file's meter cover them."""
    song = midi.read_song(make_midi(tmp_path / "m.mid", rock_beat(), meters=((0, *meter),)))
    assert midi.song_to_groove(song).shape == (steps, 3)
    assert song.bars.meters == (meter,) * song.n_bars


@pytest.mark.parametrize("meter, words", [((7, 16), "16ths"), ((1, 8), "2 sixteenths"), ((17, 8), "34 sixteenths")])
def test_meter_drumgen_does_not_play_is_named(tmp_path, meter, words):
    with pytest.raises(midi.MidiError, match=f"{meter[0]}/{meter[1]} \\(from bar 1\\).*{words}"):
        midi.read_song(make_midi(tmp_path / "m.mid", rock_beat(), meters=((0, *meter),)))


def test_large_file_refused_before_parsing(tmp_path):
    path = tmp_path / "big.mid"
    path.write_bytes(b"MThd" + bytes(midi.MAX_FILE_BYTES))
    with pytest.raises(midi.MidiError, match="MB"):
        midi.read_song(path)


def test_zero_tempo_is_ignored(tmp_path):
    path = make_midi(tmp_path / "z.mid", rock_beat())
    mid = mido.MidiFile(str(path))
    mid.tracks[0].insert(0, mido.MetaMessage("set_tempo", tempo=0))
    mid.save(str(path))
    song = midi.read_song(path)
    assert song.bpm == pytest.approx(120)


def test_groove_from_one_channel_of_a_type0_file(tmp_path):
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    track = mido.MidiTrack()
    for i in range(8):  # channel 1 on every beat, channel 2 on the off-beats
        track.append(mido.Message("note_on", channel=0, note=60, velocity=80, time=0 if i == 0 else 240))
        track.append(mido.Message("note_on", channel=1, note=40, velocity=70, time=240))
    mid.tracks.append(track)
    mid.save(str(tmp_path / "t0.mid"))
    song = midi.read_song(tmp_path / "t0.mid")
    assert midi.song_to_groove(song, channel=1)[:, 0].nonzero()[0].tolist() == list(range(0, 32, 4))
    assert midi.song_to_groove(song, channel=2)[:, 0].nonzero()[0].tolist() == list(range(2, 32, 4))
    assert midi.song_to_groove(song)[:, 0].sum() == 16
    with pytest.raises(midi.MidiError, match="channel 5"):
        midi.song_to_groove(song, channel=5)


def test_drums_found_by_track_name_when_not_on_channel_10(tmp_path):
    named = [(0, mido.MetaMessage("track_name", name="Drum Kit"))]
    named += [(i * 240, mido.Message("note_on", channel=3, note=36, velocity=100)) for i in range(4)]
    path = make_midi(tmp_path / "d.mid", [(0, 60, 80, 0)], extra_tracks=[named])
    hvo, _ = midi.song_to_hvo(midi.read_song(path))
    assert hvo[:, 0].nonzero()[0].tolist() == [0, 2, 4, 6]


def test_mutated_files_never_escape_as_other_errors(rock_midi):
    """Random byte damage: every outcome is a Song or a MidiError, never another exception."""
    data = rock_midi.read_bytes()
    rng = np.random.default_rng(0)
    for _ in range(300):
        damaged = bytearray(data)
        for _ in range(rng.integers(1, 6)):
            damaged[rng.integers(0, len(damaged))] = rng.integers(0, 256)
        try:
            song = midi.read_song(bytes(damaged))
            groove = midi.song_to_groove(song)
            midi.hvo_to_midi(np.zeros((len(groove), 27), np.float32), song, merge=True)
        except midi.MidiError:
            pass


def test_written_notes_of_one_voice_never_overlap():
    hvo = H.empty_hvo(16)
    hvo[[3, 4], 2] = 1
    hvo[[3, 4], 11] = 0.8
    hvo[3, 20], hvo[4, 20] = 0.45, -0.45   # 0.1 step apart, less than a note's length
    track = midi.hvo_to_midi(hvo, bpm=100).tracks[-1]
    tick, sounding = 0, 0
    for msg in track:
        tick += msg.time
        if msg.type == "note_on":
            sounding += 1
            assert sounding == 1
        elif msg.type == "note_off":
            sounding -= 1
    assert sounding == 0


@pytest.mark.parametrize("tpb", [1, 24, 96, 479, 480, 960])
def test_output_resolution_holds_micro_timing(tmp_path, tpb):
    notes = [(beat * tpb, 36, 100) for beat in range(8)]
    bass = [(beat * tpb, mido.Message("note_on", channel=0, note=40, velocity=90)) for beat in range(8)]
    song = midi.read_song(make_midi(tmp_path / "e.mid", notes, ticks_per_beat=tpb, tempos=((0, 100.0), (4 * tpb, 70.0)),
                                    extra_tracks=[bass]))
    hvo = H.empty_hvo(32)
    hvo[1::4, 2] = 1
    hvo[1::4, 11] = 0.7
    hvo[1::4, 20] = 0.2                   # late 16ths: need more than a beat's resolution
    for merge in (False, True):
        out = midi.read_song(midi.midi_to_bytes(midi.hvo_to_midi(hvo, song, merge=merge)))
        assert out.ticks_per_beat >= 480 and out.ticks_per_beat % tpb == 0
        assert [(t * tpb // out.ticks_per_beat, round(b)) for t, b in out.tempos] == [(0, 100), (4 * tpb, 70)]
        back, _ = midi.song_to_hvo(out, track=len(out.tracks) - 1)
        assert np.allclose(back[:32, H.OFFSETS], hvo[:, H.OFFSETS], atol=0.01)
        if merge:  # the copied bass still sounds on the beats
            assert midi.song_to_groove(out, channel=1)[:, 0].nonzero()[0].tolist() == list(range(0, 32, 4))


# --- events at one tick: the last in the file is in force (issue #6) ------------------------

def _tempo_events(mid: mido.MidiFile) -> list[tuple[int, int]]:
    """Every set_tempo of a file as (tick, rounded bpm), track by track in file order."""
    events = []
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                events.append((tick, round(mido.tempo2bpm(msg.tempo))))
    return events


def _onset_seconds(mid: mido.MidiFile) -> list[float]:
    """When each drum note (channel 10) starts, in seconds, as a player (mido) hears the whole file."""
    now, onsets = 0.0, []
    for msg in mid:
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0 and msg.channel == midi.DRUM_CHANNEL:
            onsets.append(now)
    return sorted(onsets)


def _assert_drums_keep_time(src, song: midi.Song, merge: bool = False) -> mido.MidiFile:
    """Drums written for the song's own drums: as long in seconds as the input, each onset at the same second."""
    hvo, _ = midi.song_to_hvo(song)
    out = mido.MidiFile(file=io.BytesIO(midi.midi_to_bytes(midi.hvo_to_midi(hvo, song, merge=merge, note_steps=1.0))))
    source = mido.MidiFile(str(src))
    assert out.length == pytest.approx(source.length, abs=1e-6)
    expected = _onset_seconds(source) * (2 if merge else 1)  # merged: the input's drums and the new ones
    assert _onset_seconds(out) == pytest.approx(sorted(expected), abs=1e-6)
    return out


@pytest.mark.parametrize("merge", [False, True])
def test_tempo_tie_last_in_file_is_in_force(tmp_path, merge):
    src = make_midi(tmp_path / "tie.mid", rock_beat(), tempos=((0, 120.0), (0, 90.0)))
    song = midi.read_song(src)
    assert song.bpm == pytest.approx(90, abs=0.01) and len(song.tempos) == 1
    reference = make_midi(tmp_path / "ref.mid", rock_beat(), tempos=((0, 90.0),))
    assert mido.MidiFile(str(src)).length == pytest.approx(mido.MidiFile(str(reference)).length)  # mido agrees: 90
    out = _assert_drums_keep_time(src, song, merge)
    if not merge:  # merge copies the input's tracks as they are, its tie included
        assert _tempo_events(out) == [(0, 90)]


def test_tempo_ties_later_in_the_song(tmp_path):
    tempos = ((0, 100.0), (0, 80.0), (1920, 140.0), (1920, 60.0), (1920, 70.0))
    src = make_midi(tmp_path / "tie.mid", rock_beat(3), tempos=tempos)
    song = midi.read_song(src)
    assert [(t, round(b)) for t, b in song.tempos] == [(0, 80), (1920, 70)]
    assert _tempo_events(_assert_drums_keep_time(src, song)) == [(0, 80), (1920, 70)]


@pytest.mark.parametrize("first, later", [(120.0, 90.0), (90.0, 120.0)])
def test_tempo_tie_across_tracks_later_track_wins(tmp_path, first, later):
    """Type 1: track 0 has one tempo at tick 0, track 2 another; players merge tracks in order, so track 2's holds."""
    other = [(0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(later)))]
    other += [(i * 480, mido.Message("note_on", channel=0, note=40, velocity=90)) for i in range(8)]
    src = make_midi(tmp_path / "tracks.mid", rock_beat(), tempos=((0, first),), extra_tracks=[other])
    song = midi.read_song(src)
    assert [(t, round(b)) for t, b in song.tempos] == [(0, round(later))]
    for merge in (False, True):
        out = _assert_drums_keep_time(src, song, merge)
        if not merge:
            assert _tempo_events(out) == [(0, round(later))]


@pytest.mark.parametrize("meters, expected", [
    (((0, 3, 4), (0, 4, 4)), [(4, 4)] * 3),              # 3/4 superseded at once: the file is in 4/4
    (((0, 4, 4), (0, 3, 4)), [(3, 4)] * 4),              # 3/4 is in force
    (((0, 4, 4), (1920, 6, 8), (1920, 2, 2)), [(4, 4), (2, 2), (2, 2)]),
    (((0, 4, 4), (1920, 4, 4), (1920, 6, 8)), [(4, 4), (6, 8), (6, 8), (6, 8)]),
])
def test_meter_tie_last_in_file_is_in_force(tmp_path, meters, expected):
    """Two meter events at one tick: the last in the file is in force, in the bars and in the output."""
    song = midi.read_song(make_midi(tmp_path / "m.mid", rock_beat(3), meters=meters))
    assert len(song.time_signatures) == len({t for t, _, _ in meters})
    assert list(song.bars.meters) == expected
    assert midi.song_to_groove(song).shape == (song.bars.n_steps, 3)
    out = midi.hvo_to_midi(midi.song_to_hvo(song)[0], song)
    assert [(m.numerator, m.denominator) for m in out.tracks[0] if m.type == "time_signature"] == \
        [(n, d) for _, n, d in song.time_signatures]


@pytest.mark.parametrize("first, later", [((3, 4), (4, 4)), ((4, 4), (3, 4))])
def test_meter_tie_across_tracks_later_track_wins(tmp_path, first, later):
    other = [(0, mido.MetaMessage("time_signature", numerator=later[0], denominator=later[1]))]
    song = midi.read_song(make_midi(tmp_path / "m.mid", rock_beat(), meters=((0, *first),), extra_tracks=[other]))
    assert [(n, d) for _, n, d in song.time_signatures] == [later]
    assert set(song.bars.meters) == {later}


# --- negative offsets at grid lines ------------------------------------------------------------

def test_negative_offset_at_step_zero_is_written_at_tick_zero():
    """A hit 0.3 step before the very first grid line has no earlier tick to go to: it sounds at tick 0."""
    hvo = H.empty_hvo(16)
    hvo[[0, 4], 0] = 1
    hvo[[0, 4], 9] = 0.8
    hvo[[0, 4], 18] = -0.3
    data = midi.midi_to_bytes(midi.hvo_to_midi(hvo, bpm=100))
    mid = mido.MidiFile(file=io.BytesIO(data))
    assert all(msg.time >= 0 for track in mid.tracks for msg in track)
    song = midi.read_song(data)
    assert song.notes[:, 4].tolist() == [0, 4 * 120 - 36]  # step 4 keeps its -0.3 (36 ticks at 480)
    back, _ = midi.song_to_hvo(song)
    assert back[:, 0].nonzero()[0].tolist() == [0, 4]
    assert back[0, 18] == 0 and back[4, 18] == pytest.approx(-0.3)


def test_note_just_before_a_bar_line_belongs_to_the_next_bar(tmp_path):
    song = midi.read_song(make_midi(tmp_path / "early.mid", [(0, 60, 80, 0), (1920 - 30, 60, 90, 0)]))
    assert song.n_bars == 2  # the early note opens bar 2
    groove = midi.song_to_groove(song)
    assert groove.shape == (32, 3) and groove[:, 0].nonzero()[0].tolist() == [0, 16]
    assert groove[16, 2] == pytest.approx(-0.25) and groove[16, 1] == pytest.approx(90 / 127)


# --- merge when the input has drums of its own; track and channel together -------------------

def test_merge_keeps_the_inputs_own_drums_beside_the_new_ones(tmp_path):
    bass = [(i * 480, mido.Message("note_on", channel=0, note=40, velocity=90)) for i in range(8)]
    song = midi.read_song(make_midi(tmp_path / "d.mid", rock_beat(), extra_tracks=[bass]))
    new = H.empty_hvo(32)
    new[::4, 8] = 1  # a ride on every beat: nothing like the input's drums
    new[::4, 17] = 0.6
    out = midi.read_song(midi.midi_to_bytes(midi.hvo_to_midi(new, song, merge=True)))
    assert [t.name for t in out.tracks][-1] == "drumgen drums"
    kept = out.select(track=1)
    assert (kept == song.select(track=1)).all() and (kept[:, 1] == midi.DRUM_CHANNEL).all()  # untouched
    assert out.select(track=2)[:, 2].tolist() == [40] * 8
    ours = out.select(track=len(out.tracks) - 1)
    assert set(ours[:, 2].tolist()) == {H.OUTPUT_PITCHES[8]} and len(ours) == 8
    plain = midi.read_song(midi.midi_to_bytes(midi.hvo_to_midi(new, song)))
    assert len(plain.notes) == 8  # without merge: the new drums alone


def _two_channel_song(tmp_path) -> midi.Song:
    """Track 1: channel 1 in bar 1, channel 2 in bar 2; track 2: channel 1 in bar 3."""
    notes = [(i * 480, 60, 80, 0) for i in range(4)] + [(1920 + i * 480, 62, 70, 1) for i in range(4)]
    other = [(3840 + i * 480, mido.Message("note_on", channel=0, note=40, velocity=90)) for i in range(4)]
    return midi.read_song(make_midi(tmp_path / "tc.mid", notes, extra_tracks=[other]))


@pytest.mark.parametrize("track, channel, steps", [
    (1, 1, [0, 4, 8, 12]),
    (1, 2, [16, 20, 24, 28]),
    (2, 1, [32, 36, 40, 44]),
    (1, None, list(range(0, 32, 4))),
    (None, 1, [0, 4, 8, 12, 32, 36, 40, 44]),
])
def test_groove_from_a_track_and_a_channel_together(tmp_path, track, channel, steps):
    groove = midi.song_to_groove(_two_channel_song(tmp_path), track, channel)
    assert groove.shape == (48, 3) and groove[:, 0].nonzero()[0].tolist() == steps


def test_track_and_channel_without_common_notes_is_clear(tmp_path):
    with pytest.raises(midi.MidiError, match=r"Track 2 has no notes on channel 2; its notes are on channels \[1\]"):
        midi.song_to_groove(_two_channel_song(tmp_path), track=2, channel=2)


@pytest.mark.parametrize("late, early", [(0.4999, -0.5), (0.499, -0.499), (0.5, -0.5), (0.9, -0.5)])
def test_two_hits_of_one_voice_on_one_tick_are_one_note(late, early):
    """A late 16th and an early next one can round to one tick (or, offsets out of range, cross): one
    note at the louder velocity, never two note-ons with the first's release cutting the second."""
    hvo = H.empty_hvo(16)
    hvo[[3, 4], 0] = 1
    hvo[3, 9], hvo[4, 9] = 0.5, 0.8
    hvo[3, 18], hvo[4, 18] = late, early
    track = midi.hvo_to_midi(hvo).tracks[-1]
    tick, events = 0, []
    for msg in track:
        tick += msg.time
        if msg.type in ("note_on", "note_off"):
            events.append((tick, msg.type, msg.velocity))
    ons = [e for e in events if e[1] == "note_on"]
    offs = [e for e in events if e[1] == "note_off"]
    if len(ons) == 1:
        assert ons[0][2] == round(0.8 * 127) and len(offs) == 1 and offs[0][0] > ons[0][0]
    else:  # two distinct ticks: the first ends before the second starts
        assert len(ons) == 2 and ons[0][0] < ons[1][0] and offs[0][0] <= ons[1][0]


# --- export options (drum map, tracks, humanize, swing, velocity range): tests/test_drum_maps.py has the maps

def _seeded_hvo(steps=32, seed=7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hvo = H.empty_hvo(steps)
    hits = rng.random((steps, 9)) < 0.3
    hvo[:, H.HITS] = hits
    hvo[:, H.VELOCITIES] = hits * rng.random((steps, 9))
    hvo[:, H.OFFSETS] = hits * rng.uniform(-0.5, 0.5, (steps, 9))
    return hvo


def _note_ons(mid: mido.MidiFile) -> list[tuple[int, int, int, int]]:
    """(track, tick, note, velocity) of every note-on."""
    out = []
    for index, track in enumerate(mid.tracks):
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                out.append((index, tick, msg.note, msg.velocity))
    return out


def test_default_export_options_write_the_same_bytes_as_before(tmp_path):
    import hashlib
    hvo = _seeded_hvo()
    plain = midi.midi_to_bytes(midi.hvo_to_midi(hvo, bpm=97))
    # recorded from the writer before export options existed
    assert hashlib.sha256(plain).hexdigest() == "92bb1460292e1b47bbe48b0c3b43e3a02badf0dd62e056d624de2da78f64c4d4"
    assert midi.midi_to_bytes(midi.hvo_to_midi(hvo, bpm=97, options=midi.ExportOptions())) == plain
    song = midi.read_song(make_midi(tmp_path / "s.mid", rock_beat(2, 96), ticks_per_beat=96, tempos=((0, 90.0), (96 * 4, 130.0))))
    for merge in (False, True):
        assert (midi.midi_to_bytes(midi.hvo_to_midi(hvo, song, merge=merge))
                == midi.midi_to_bytes(midi.hvo_to_midi(hvo, song, merge=merge, options=midi.ExportOptions(
                    drum_map="gm", humanize=1, swing=0, velocity_range=None))))


def test_per_voice_tracks_hold_only_their_voice():
    hvo = _seeded_hvo()
    out = midi.hvo_to_midi(hvo, bpm=100, options=midi.ExportOptions(per_voice_tracks=True, drum_map="ad2"))
    assert [t.name for t in out.tracks] == ["tempo"] + [H.VOICE_LABELS[v] for v in H.VOICES]
    for index, track_voice in enumerate(H.VOICES, start=1):
        notes = {note for track, _, note, _ in _note_ons(out) if track == index}
        assert notes <= {drum_maps.AD2.notes[track_voice]}
        assert len([1 for t, *_ in _note_ons(out) if t == index]) == int(hvo[:, H.VOICES.index(track_voice)].sum())
    single = midi.hvo_to_midi(hvo, bpm=100, options=midi.ExportOptions(drum_map="ad2"))
    read = [midi.song_to_hvo(midi.read_song(midi.midi_to_bytes(m)), drum_map="ad2")[0] for m in (out, single)]
    assert (read[0] == read[1]).all()


def test_humanize_0_puts_every_hit_on_the_grid_and_halfway_halves_the_offsets():
    hvo = _seeded_hvo()
    hvo[0, H.OFFSETS] = np.abs(hvo[0, H.OFFSETS])
    on_grid = _note_ons(midi.hvo_to_midi(hvo, options=midi.ExportOptions(humanize=0)))
    assert on_grid and all(tick % 120 == 0 for _, tick, _, _ in on_grid)
    assert sorted(tick // 120 for _, tick, _, _ in on_grid) == sorted(np.nonzero(hvo[:, H.HITS])[0].tolist())
    half, _ = midi.song_to_hvo(midi.read_song(midi.midi_to_bytes(
        midi.hvo_to_midi(hvo, options=midi.ExportOptions(humanize=0.5)))))
    assert np.abs(half[:32, H.OFFSETS] - hvo[:, H.OFFSETS] / 2).max() <= 1 / 120 + 1e-6


def test_humanize_1_is_todays_timing():
    hvo = _seeded_hvo()
    assert (midi.midi_to_bytes(midi.hvo_to_midi(hvo, options=midi.ExportOptions(humanize=1.0)))
            == midi.midi_to_bytes(midi.hvo_to_midi(hvo)))


@pytest.mark.parametrize("grid, swing, moved, delay", [
    ("16th", 1.0, {1}, 40),    # a third of a 16th at 480 ticks a beat: triplet 16ths
    ("16th", 0.5, {1}, 20),
    ("8th", 1.0, {2}, 80),     # a third of an 8th: triplet 8ths
    ("8th", 0.25, {2}, 20),
])
def test_swing_delays_only_the_off_beats_and_by_the_documented_amount(grid, swing, moved, delay):
    hvo = H.empty_hvo(16)
    hvo[:, 0] = 1  # a kick on every 16th, on the grid
    hvo[:, H.N_VOICES] = 0.7
    ons = _note_ons(midi.hvo_to_midi(hvo, options=midi.ExportOptions(swing=swing, swing_grid=grid)))
    pair = {"16th": 2, "8th": 4}[grid]
    for step, (_, tick, _, _) in enumerate(ons):
        assert tick == step * 120 + (delay if step % pair in moved else 0)


def test_swing_goes_on_top_of_the_micro_timing_and_keeps_each_voice_in_order():
    hvo = H.empty_hvo(16)
    hvo[2:4, 0] = 1
    hvo[2:4, H.N_VOICES] = 0.7
    hvo[2, 2 * H.N_VOICES] = 0.45   # a late off-beat 8th ...
    hvo[3, 2 * H.N_VOICES] = -0.45  # ... and an early 16th after it: swung, the 8th passes the 16th
    mid = midi.hvo_to_midi(hvo, options=midi.ExportOptions(swing=1.0, swing_grid="8th"))
    ticks = [t for _, t, _, _ in _note_ons(mid)]
    assert ticks == [306, 374]  # step 3 - 0.45 = 2.55 steps; step 2 + 0.45 + 2/3 = 3.12 steps
    track, now, sounding = mid.tracks[-1], 0, 0
    for msg in track:  # never two notes of the voice at once
        now += msg.time
        sounding += {"note_on": 1, "note_off": -1}.get(msg.type, 0)
        assert sounding in (0, 1)


def test_velocity_range_maps_the_softest_and_loudest_onto_it():
    hvo = H.empty_hvo(16)
    hvo[:8, 1] = 1
    hvo[:8, H.N_VOICES + 1] = np.linspace(0.2, 0.9, 8)
    velocities = [v for *_, v in _note_ons(midi.hvo_to_midi(hvo, options=midi.ExportOptions(velocity_range="40-100")))]
    assert velocities[0] == 40 and velocities[-1] == 100 and velocities == sorted(velocities)
    expanded = [v for *_, v in _note_ons(midi.hvo_to_midi(hvo, options=midi.ExportOptions(velocity_range=(1, 127))))]
    assert (expanded[0], expanded[-1]) == (1, 127)
    hvo[:8, H.N_VOICES + 1] = 0.95  # one loudness: clamped into the range
    assert {v for *_, v in _note_ons(midi.hvo_to_midi(hvo, options=midi.ExportOptions(velocity_range="40-100")))} == {100}


def test_song_to_hvo_with_a_map_counts_what_the_map_does_not_know(tmp_path):
    path = make_midi(tmp_path / "x.mid", [(0, 36, 100), (120, 47, 90), (240, 49, 90)])
    hvo, unmapped = midi.song_to_hvo(midi.read_song(path), drum_map="ad2")
    assert unmapped == {47: 1}  # 47 is AD2's Flexi 1 Hit A: no voice of drumgen's
    assert hvo[0, 0] == 1 and hvo[2, H.VOICES.index("closed_hat")] == 1


def test_voices_a_map_puts_on_one_note_never_cut_each_other(tmp_path):
    kit = tmp_path / "one_tom.json"
    kit.write_text('{"fallback": "gm", "low_tom": 45, "mid_tom": 45, "high_tom": 45}')
    hvo = H.empty_hvo(16)
    for step, voice in ((0, "low_tom"), (1, "mid_tom"), (2, "high_tom"), (2, "low_tom")):
        hvo[step, H.VOICES.index(voice)] = 1
        hvo[step, H.N_VOICES + H.VOICES.index(voice)] = 0.5 + step / 10
    track = midi.hvo_to_midi(hvo, options=midi.ExportOptions(drum_map=str(kit))).tracks[-1]
    now, sounding, ons = 0, 0, []
    for msg in track:
        now += msg.time
        sounding += {"note_on": 1, "note_off": -1}.get(msg.type, 0)
        assert sounding in (0, 1)
        if msg.type == "note_on":
            ons.append((now, msg.velocity))
    assert ons == [(0, 64), (120, 76), (240, 89)]  # two hits on one tick: one note, the louder
