"""Property tests: any HVO survives the trip to a MIDI file and back."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from drumgen import hvo as H
from drumgen import midi


@st.composite
def drum_parts(draw):
    bars = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    density = draw(st.floats(0.0, 0.6))
    rng = np.random.default_rng(seed)
    steps = 16 * bars
    hits = rng.random((steps, 9)) < density
    hvo = H.empty_hvo(steps)
    hvo[:, H.HITS] = hits
    hvo[:, H.VELOCITIES] = hits * rng.integers(1, 128, (steps, 9)) / 127
    offsets = rng.uniform(-0.45, 0.45, (steps, 9))
    offsets[0] = np.abs(offsets[0])  # nothing before the file's start
    hvo[:, H.OFFSETS] = hits * offsets
    return hvo


@settings(max_examples=60, deadline=None, derandomize=True)
@given(hvo=drum_parts(), bpm=st.floats(30, 300), tpb=st.sampled_from([96, 120, 480, 960, 1024]))
def test_hvo_midi_roundtrip(hvo, bpm, tpb):
    song = midi.Song(tpb, np.zeros((0, 5), np.int64), [(0, bpm)], [(0, 4, 4)])
    data = midi.midi_to_bytes(midi.hvo_to_midi(hvo, song))
    back_song = midi.read_song(data)
    assert abs(back_song.bpm - bpm) < 0.01
    if H.hit_count(hvo) == 0:
        assert len(back_song.notes) == 0
        return
    back, unmapped = midi.song_to_hvo(back_song)
    assert not unmapped
    steps = len(hvo)
    back = np.pad(back, ((0, max(0, steps - len(back))), (0, 0)))  # a file ends with its last bar that plays
    assert (back[:steps, H.HITS] == hvo[:, H.HITS]).all() and H.hit_count(back) == H.hit_count(hvo)
    assert np.abs(back[:steps, H.VELOCITIES] - hvo[:, H.VELOCITIES]).max() < 1e-6
    one_tick = 4 / back_song.ticks_per_beat  # in steps
    assert np.abs(back[:steps, H.OFFSETS] - hvo[:, H.OFFSETS]).max() <= one_tick / 2 + 1e-6


@settings(max_examples=40, deadline=None, derandomize=True)
@given(hvo=drum_parts())
def test_groove_of_written_drums_is_the_monotonic_groove(hvo):
    """Reading the written drums as 'any MIDI' gives the same groove as flattening the HVO."""
    data = midi.midi_to_bytes(midi.hvo_to_midi(hvo, bpm=120))
    song = midi.read_song(data)
    if H.hit_count(hvo) == 0:
        return
    groove = midi.song_to_groove(song)[: len(hvo)]
    expected = H.hvo_to_groove(hvo)
    assert not expected[len(groove):, 0].any()  # the file ends with its last bar that plays
    expected = expected[: len(groove)]
    assert (groove[:, 0] == expected[:, 0]).all()
    assert np.allclose(groove[:, 1], expected[:, 1], atol=1e-6)
