"""The terminal text grid of a drum part (drumgen.text_grid)."""
from drumgen import hvo as H
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
