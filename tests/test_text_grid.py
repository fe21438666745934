"""The terminal text grid of a drum part (drumgen.text_grid), in 4/4 and in the song's bars."""
from drumgen import hvo as H
from drumgen import meter as M
from drumgen import text_grid as T


def test_grid_rows_cymbals_on_top_and_loudness_marks():
    hvo = H.empty_hvo(32)
    for step, voice, velocity in ((0, "kick", 0.9), (4, "snare", 0.5), (8, "closed_hat", 0.2), (16, "crash", 1.0)):
        v = H.VOICES.index(voice)
        hvo[step, H.HITS.start + v] = 1
        hvo[step, H.VELOCITIES.start + v] = velocity
    lines = T.hvo_to_text(hvo, H.hvo_to_groove(hvo)).splitlines()
    assert [line[:2] for line in lines] == ["RD", "CR", "HT", "MT", "LT", "OH", "HH", "SD", "KD", "in"]
    assert lines[-2] == "KD |X---------------|----------------|"
    assert lines[-3] == "SD |----x-----------|----------------|"
    assert lines[-4] == "HH |--------.-------|----------------|"
    assert lines[1] == "CR |----------------|X---------------|"
    assert lines[-1] == "in |X---x---.-------|X---------------|"


def test_grid_shows_at_most_max_bars_and_no_groove_row_without_one():
    lines = T.hvo_to_text(H.empty_hvo(5 * H.STEPS_PER_BAR), max_bars=2).splitlines()
    assert len(lines) == H.N_VOICES
    assert all(line.count("|") == 3 for line in lines)


def downbeats(bars):
    """A kick on the first step of every bar."""
    hvo = H.empty_hvo(bars.n_steps)
    hvo[bars.starts[:-1], H.HITS.start] = 1
    hvo[bars.starts[:-1], H.VELOCITIES.start] = 0.9
    return hvo


def test_grid_in_three_four_seven_eight_and_a_meter_change():
    lines = T.hvo_to_text(downbeats(M.Bars.uniform("3/4", 2)), bars=M.Bars.uniform("3/4", 2)).splitlines()
    assert lines[0] == "   |3/4         |            |"  # the meter over the first bar
    assert lines[-1] == "KD |X-----------|X-----------|"  # 12 steps a bar
    seven = M.Bars.uniform("7/8", 5)
    lines = T.hvo_to_text(downbeats(seven), bars=seven).splitlines()  # 4 bars shown of 5
    assert lines[0] == "   |7/8           |              |              |              |"
    assert lines[-1] == "KD |X-------------|X-------------|X-------------|X-------------|"
    mixed = M.Bars.from_runs([[4, 4, 1], [2, 4, 1], [3, 4, 2]])
    lines = T.hvo_to_text(downbeats(mixed), H.hvo_to_groove(downbeats(mixed)), bars=mixed).splitlines()
    assert len(lines) == 1 + H.N_VOICES + 1
    assert lines[0] == "   |4/4             |2/4     |3/4         |            |"
    assert lines[-2] == "KD |X---------------|X-------|X-----------|X-----------|"  # bars at steps 0, 16, 24, 36
    assert lines[-1] == "in |X---------------|X-------|X-----------|X-----------|"
    assert T.hvo_to_text(downbeats(mixed), bars=mixed, max_bars=2).splitlines()[-1] == "KD |X---------------|X-------|"


def test_grid_in_four_four_bars_is_the_grid_as_it_was():
    hvo = downbeats(M.Bars.four_four(3))
    assert T.hvo_to_text(hvo, bars=M.Bars.four_four(3)) == T.hvo_to_text(hvo)  # no meter line, 16 steps a bar
    assert T.hvo_to_text(hvo).splitlines()[-1] == "KD |X---------------|X---------------|X---------------|"
