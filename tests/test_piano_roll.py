"""The piano-roll picture of a drum part (drumgen.piano_roll), without any UI, in 4/4 and in the song's bars."""
import numpy as np
import pytest
from matplotlib.figure import Figure

from drumgen import hvo as H
from drumgen import meter as M
from drumgen import midi
from drumgen import piano_roll as P

BAR, BEAT = "#4b5563", "#c7cbd1"  # the colours of the bar lines and the beat lines


def test_piano_roll_rows_bars_and_png(rock_midi):
    song = midi.read_song(rock_midi)
    hvo, _ = midi.song_to_hvo(song)
    groove = midi.song_to_groove(song)
    fig = P.piano_roll(hvo, groove, title="rock")
    assert isinstance(fig, Figure)
    (ax,) = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert rows[0] == P.GROOVE_LABEL
    assert rows[1:] == [H.VOICE_LABELS[v] for v in P.ROLL_ORDER]
    assert rows[1] == "Kick" and len(rows) == H.N_VOICES + 1
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2"]
    # one mark per hit: 16 hats + 4 kicks + 4 snares in the drums, 16 onsets in the groove
    marks = [c for c in ax.collections if len(c.get_paths())]
    assert sorted(len(c.get_paths()) for c in marks) == [16, 24]
    png = P.figure_to_png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert 5_000 < len(png) < 2_000_000


def test_piano_roll_without_groove_and_micro_timing():
    hvo = H.empty_hvo(16)
    hvo[4, H.HITS.start + 1] = 1        # snare on beat 2, 0.3 of a step late
    hvo[4, H.VELOCITIES.start + 1] = 0.9
    hvo[4, H.OFFSETS.start + 1] = 0.3
    fig = P.piano_roll(hvo)
    (ax,) = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert len(ax.get_yticklabels()) == H.N_VOICES
    (marks,) = [c for c in ax.collections if len(c.get_paths())]
    x0, y0 = marks.get_paths()[0].vertices.min(axis=0)
    assert x0 == pytest.approx(4.3, abs=1e-5)               # x = step + offset
    assert y0 == pytest.approx(P.ROLL_ORDER.index("snare") - P._NOTE_HEIGHT / 2, abs=1e-5)
    P.close_figure(fig)


def test_piano_roll_long_song_wraps_with_every_bar_numbered():
    rng = np.random.default_rng(0)
    hvo = H.join_hvo(rng.random((32 * 16, 9)) < 0.2, rng.random((32 * 16, 9)), rng.uniform(-0.4, 0.4, (32 * 16, 9)))
    fig = P.piano_roll(hvo, hvo[:, :3], title="32 bars")
    axes = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert len(axes) == 4   # 8 bars a line
    labels = [t.get_text() for a in axes for t in a.get_xticklabels()]
    assert labels == [str(b) for b in range(1, 33)]
    width, height = fig.get_size_inches()
    assert width <= 22 and height < 20
    png = P.figure_to_png(fig)
    assert png[:4] == b"\x89PNG" and len(png) < 3_000_000


def test_piano_roll_rejects_bad_shapes():
    with pytest.raises(ValueError, match="27"):
        P.piano_roll(np.zeros((16, 9)))
    with pytest.raises(ValueError, match="groove"):
        P.piano_roll(H.empty_hvo(16), np.zeros((16, 2)))


def test_no_figure_leak(rock_midi):
    import matplotlib.pyplot as plt

    song = midi.read_song(rock_midi)
    hvo, _ = midi.song_to_hvo(song)
    before = len(plt.get_fignums())
    for _ in range(100):
        P.figure_to_png(P.piano_roll(hvo, midi.song_to_groove(song)), dpi=20)
    assert len(plt.get_fignums()) == before
    fig = plt.figure()  # a pyplot figure is closed too
    P.figure_to_png(fig, dpi=20)
    assert len(plt.get_fignums()) == before


def lines_at(ax, color):
    """The x of the vertical lines of one colour (bar lines #4b5563, beat lines #c7cbd1, 16ths #e5e7eb)."""
    xs = [x for line in ax.lines if line.get_color() == color for x in line.get_xdata() if x == x]
    return sorted({int(x) for x in xs})


def systems(fig):
    return [a for a in fig.axes if a.get_label() != "<colorbar>"]


def meter_labels(ax):
    return [(t.get_text(), t.get_position()[0]) for t in ax.texts if t.get_gid() == P.METER_GID]


def test_piano_roll_in_three_four_wraps_on_bar_lines():
    bars = M.Bars.uniform("3/4", 10)
    fig = P.piano_roll(H.empty_hvo(bars.n_steps), bars=bars)
    first, second = systems(fig)  # 8 bars a line: bars 1-8, then 9-10
    assert lines_at(first, BAR) == list(range(0, 97, 12))
    assert lines_at(first, BEAT) == [x for x in range(0, 96, 4) if x % 12]
    assert [t.get_text() for t in first.get_xticklabels()] == [str(b) for b in range(1, 9)]
    assert list(second.get_xticks()) == [96, 108] and lines_at(second, BAR) == [96, 108, 120]
    assert first.get_xlim()[1] - first.get_xlim()[0] == pytest.approx(second.get_xlim()[1] - second.get_xlim()[0])
    assert meter_labels(first) == [("3/4", pytest.approx(0.15))] and meter_labels(second) == []
    P.close_figure(fig)


def test_piano_roll_in_seven_eight_and_across_meter_changes():
    seven = M.Bars.uniform("7/8", 2)
    (ax,) = systems(fig := P.piano_roll(H.empty_hvo(seven.n_steps), bars=seven))
    assert lines_at(ax, BAR) == [0, 14, 28] and lines_at(ax, BEAT) == [4, 8, 18, 22]  # 2+2+3 eighths
    P.close_figure(fig)
    mixed = M.Bars.from_runs([[4, 4, 1], [2, 4, 1], [3, 4, 2]])
    hvo = H.empty_hvo(mixed.n_steps)
    (ax,) = systems(fig := P.piano_roll(hvo, hvo[:, :3], bars=mixed))
    assert lines_at(ax, BAR) == [0, 16, 24, 36, 48]
    assert lines_at(ax, BEAT) == [4, 8, 12, 20, 28, 32, 40, 44]
    assert list(ax.get_xticks()) == [0, 16, 24, 36] and [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "4"]
    assert [text for text, _ in meter_labels(ax)] == ["4/4", "2/4", "3/4"]
    P.close_figure(fig)


def test_piano_roll_in_four_four_bars_is_the_picture_as_it_was(rock_midi):
    song = midi.read_song(rock_midi)
    hvo, _ = midi.song_to_hvo(song)
    groove = midi.song_to_groove(song)
    bars = M.Bars.four_four(2)
    fig = P.piano_roll(hvo, groove, bars=bars)
    (ax,) = systems(fig)
    assert lines_at(ax, BAR) == [0, 16, 32] and lines_at(ax, BEAT) == [4, 8, 12, 20, 24, 28]
    assert meter_labels(ax) == []
    assert P.figure_to_png(fig, dpi=30) == P.figure_to_png(P.piano_roll(hvo, groove), dpi=30)
