"""drumgen.fidelity: every figure, each shown able both to
pass (a fake model that obeys its controls exactly) and to fail (one that ignores them)."""
import json

import numpy as np
import pytest
import torch

from drumgen import controls as C
from drumgen import fidelity as F
from drumgen import hvo as H
from drumgen import judges as J

BASE_SHARES = np.array([0.3, 0.2, 0.25, 0.05, 0.04, 0.04, 0.04, 0.04, 0.04])  # every voice plays when free


class Obeying:
    """Plays exactly what the controls ask: round(counts_from_density) hits a bar (18 + seed % 3 when
    free), shares as set (free voices split the rest like BASE_SHARES, muted ones get none), the
    intensity as every velocity, and hit positions shifted by the style. Rests where the groove does."""

    def generate(self, groove, controls=None, seed=0, temperature=1.0):
        n, length, _ = groove.shape
        c = C.validate_controls(controls, n, length // F.BAR)
        silent = F.silent_groove_bars(groove)
        out = np.zeros((n, length // F.BAR, F.BAR, H.HVO_DIM), np.float32)
        for i, b in np.ndindex(c.shape):
            if silent[i, b]:
                continue
            k = round(float(C.counts_from_density(c.density[i, b]))) if np.isfinite(c.density[i, b]) else 18 + seed % 3
            share = c.instruments[i, b].astype(np.float64)
            free = np.isnan(share)
            rest = np.where(free, BASE_SHARES, 0.0)
            share = np.where(free, (1 - np.nansum(share)) * rest / max(rest.sum(), 1e-9), share)
            style = max(int(c.style[i, b]), 0)
            velocity = c.intensity[i, b] if np.isfinite(c.intensity[i, b]) else 0.7
            for v in range(H.N_VOICES):
                steps = (3 * style + 5 * v + np.arange(min(round(share[v] * k), F.BAR))) % F.BAR
                out[i, b, steps, v], out[i, b, steps, H.N_VOICES + v] = 1.0, velocity
        return out.reshape(n, length, H.HVO_DIM)


class Ignoring:
    """Random drums that depend on the seed only."""

    def generate(self, groove, controls=None, seed=0, temperature=1.0):
        rng = np.random.default_rng(seed)
        hits = rng.random(groove.shape[:2] + (H.N_VOICES,)) < 0.15
        return H.join_hvo(hits, rng.uniform(0.1, 1.0, hits.shape), np.zeros(hits.shape))


def _grooves(n=18, seed=0):
    rng = np.random.default_rng(seed)
    groove = np.zeros((n, F.N_BARS * F.BAR, 3), np.float32)
    on = rng.random(groove.shape[:2]) < 0.5
    on[0, :F.BAR] = False  # one silent bar: left out and counted
    groove[..., 0], groove[..., 1] = on, on * rng.uniform(0.3, 1.0, on.shape)
    return groove


def test_figures_pass_for_a_model_that_obeys():
    torch.set_num_threads(1)
    groove = _grooves()
    gen = F.Generator(Obeying(), batch=7)  # chunks that do not divide the batch
    rng = np.random.default_rng(0)
    density = F.level_fidelity(gen, groove, "density", F.DENSITY_LEVELS, rng)
    assert density["rho"] == pytest.approx(1.0) and density["excluded_silent"] == 1
    assert density["bars"] == len(groove) * F.N_BARS - 1
    intensity = F.level_fidelity(gen, groove, "intensity", F.INTENSITY_LEVELS, rng)
    assert intensity["rho"] == pytest.approx(1.0) and intensity["mae"] < 1e-6
    free = gen(groove)
    mutes = F.mute_fidelity(gen, groove, free)
    assert mutes["leak"] == 0 and mutes["bars"] > 0 and mutes["leak_all_bars"] == 0
    raised = F.raised_share_fidelity(gen, groove, free)
    assert raised["raised"] == 1.0 and raised["mean_gain"] > 0.15


def test_figures_fail_for_a_model_that_ignores_controls():
    groove = _grooves()
    gen = F.Generator(Ignoring())
    rng = np.random.default_rng(0)
    assert abs(F.level_fidelity(gen, groove, "density", F.DENSITY_LEVELS, rng)["rho"]) < 0.2
    assert abs(F.level_fidelity(gen, groove, "intensity", F.INTENSITY_LEVELS, rng)["rho"]) < 0.2
    free = gen(groove)
    assert F.mute_fidelity(gen, groove, free)["leak"] == 1.0
    assert F.raised_share_fidelity(gen, groove, free)["raised"] == 0.0


def test_style_figures_tell_a_style_following_model_from_one_that_ignores_style():
    groove = _grooves(n=10)
    styles = ["rock", "funk", "jazz"]
    outputs = [Obeying().generate(groove, {"style": s}, seed=seed) for s in styles for seed in (0, 1)]
    labels = np.repeat(styles, 2 * len(groove))
    clf = J.StyleClassifier(styles).fit(J.style_features(np.concatenate(outputs)), labels)
    follows = F.style_figures(F.Generator(Obeying()), groove, clf, styles)
    assert follows["accuracy"] == 1.0 and follows["distance_ratio"] > 2
    ignores = F.style_figures(F.Generator(Ignoring()), groove, clf, styles)
    assert ignores["accuracy"] == pytest.approx(1 / 3)  # one output for every request: exactly chance
    assert ignores["distance_ratio"] == pytest.approx(1.0)


def test_quality_on_true_drums_of_an_obeying_model():
    """With the true controls, a model that plays them back scores the core figures it should."""
    true = Obeying().generate(_grooves(n=4), {"style": "rock"})
    groove = H.hvo_to_groove(true)
    with_true, free, free_hvo = F.quality(F.Generator(Obeying()), true, ["rock"] * 4)
    assert with_true["f1"] == pytest.approx(1.0) and with_true["velocity_mae_tp"] < 1e-6
    assert free_hvo.shape == true.shape and 0 <= free["f1"] <= 1
    assert np.array_equal(F.silent_groove_bars(groove), F.silent_groove_bars(_grooves(n=4)))


def test_command_prints_the_table_and_writes_json(gmd_zip, tmp_path, capsys):
    from drumgen.models.controlled import RhythmDrivenDrumGen, tiny_config

    torch.set_num_threads(1)
    torch.manual_seed(0)
    path = tmp_path / "tiny_ctrl.pth"
    RhythmDrivenDrumGen(tiny_config(max_bars=8)).save(str(path))
    out = tmp_path / "fidelity.json"
    assert F.main([str(path), "--data", str(gmd_zip), "--limit", "16", "--threads", "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| figure | target | tiny_ctrl learnt only | tiny_ctrl + steering |" in text
    assert "density: Spearman rho" in text and "targets met" in text
    report = json.loads(out.read_text())
    assert report["checkpoints"]["tiny_ctrl + steering"]["figures"]["density_rho"] > 0.9  # steering meets the levels
    figures = report["checkpoints"]["tiny_ctrl learnt only"]["figures"]
    assert report["windows"] == 16 and set(figures) == set(F.TARGETS)
    assert report["style_classifier"]["asked"] == list(F.STYLES_ASKED)
    assert figures["mute_leak"] == 0  # a weight of 0 is enforced at sampling, whatever the weights
