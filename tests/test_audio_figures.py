"""The audio figures' scoring on one rendered file: onsets, tempo, groove and velocities against the MIDI."""
import numpy as np

from drumgen import audio_figures as AF
from tests.test_audio import needs_fluidsynth


@needs_fluidsynth
def test_a_rendered_bass_line_scores_its_onsets_tempo_and_velocities(tmp_path):
    rng = np.random.default_rng(3)
    case = AF.Case("made bass line #0", "made", AF.made_groove("bass line", 8, rng), "bass", 112.0, 0.6, 2000)
    figs = AF.evaluate([case], tmp_path / "cache")
    assert figs["files"] == 1 and len(list((tmp_path / "cache").glob("*.wav"))) == 2
    for condition in ("clean", "noisy"):
        fig = figs[condition]
        assert fig["onset_f1"] > 0.9 and fig["tempo_within_4pct"] == 1.0 and fig["groove_f1"] > 0.85
        assert fig["velocity_spearman"] > 0.6 and fig["velocity_mean_abs_error"] < 0.15  # loud notes heard loud
    pairs = figs["rows"][0]["velocity_pairs"]
    assert len(pairs) > 0.8 * case.groove[:, 0].sum() and all(0 < v <= 1 and 0 < w <= 1 for v, w in pairs)
    assert "onset velocity vs MIDI's, Spearman" in AF.report({**figs, "split": "made"})
