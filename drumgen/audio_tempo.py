"""The tempo of a recording from its onsets: candidates from librosa's tempogram estimate and its usual
confusions (1/3 .. 3 times) and the tempos whose 16th or triplet grid fits the onsets best (FIT_PEAKS: the
estimate is sometimes no simple relative of the right tempo), each scored by how a metrical hierarchy at
that tempo explains the onsets.

A candidate's features are coherences, |mean of exp(2 pi i h t / beat)| over 8 s windows, at harmonics
h of its beat: the grid (h = 4, straight 16ths, or h = 3, triplet 8ths, whichever fits better), 1 and 2
the beat and 8th levels, 1/2 the half bar; counted alike and weighted by onset strength (at the true
tempo the strong onsets sit on the beats: at double tempo half the "beats" are weak off-beats, at half
tempo strong beats fall on its off-beats); logs of them, so a linear score weighs their ratios, plus the
tempo (a prior). Swung 16ths at 2:1 lie on straight 16ths at 1.5 times the tempo, so only the accents
tell those apart, and a swung riff may be heard at 1.5 times its tempo (typing the tempo mends it).
The score's weights were fitted on GMD train grooves and made grooves (a softmax over each file's
candidates, the right tempo its target: train/tempo.py), checked on the validation split, never fitted
on the test split the figures report (python -m drumgen.audio_figures)."""
from __future__ import annotations

import numpy as np

RATIOS = (1 / 3, 1 / 2, 2 / 3, 3 / 4, 1, 4 / 3, 3 / 2, 2, 3)
TEMPO_SEARCH = (55.0, 230.0)
CANDIDATE_RANGE = (60.0, 200.0)
WINDOW = 8.0
FIT_PEAKS = 2            # candidates besides b0's relatives: the best-fitting grids' tempos
FLOOR = 0.05             # coherences under this count as this (their logs stay bounded)
HARMONICS = (0.5, 1, 2, 3, 4, 6)
FEATURES = ("half bar", "beat", "8th", "grid", "half bar, by strength", "beat, by strength", "8th, by strength",
            "grid, by strength", "grid misfit", "grid misfit, by strength", "log2(bpm/120)", "log2(bpm/120)^2")
MISFIT_FLOOR = 0.02      # log(1 - grid coherence) bounded: a perfect fit counts as 2% off


def coherences(onsets: np.ndarray, strengths: np.ndarray, bpms: np.ndarray, window: float = WINDOW) -> np.ndarray:
    """(len(bpms), 2, len(HARMONICS)): |mean of exp(2 pi i h t / beat)| over windows of `window` s (half
    overlapping: a drifting tempo still fits each), onsets counted alike [0] or by strength [1]."""
    onsets, strengths = np.asarray(onsets, np.float64), np.asarray(strengths, np.float64)
    freqs = np.asarray(bpms, np.float64)[:, None] / 60.0 * np.asarray(HARMONICS)[None, :]
    total, weight = np.zeros((len(bpms), 2, len(HARMONICS))), np.zeros(2)
    if not len(onsets):
        return total
    for start in np.arange(onsets[0], onsets[-1] + window / 2, window / 2):
        inside = (onsets >= start) & (onsets < start + window)
        if inside.sum() < 4:
            continue
        t, w = onsets[inside] - start, strengths[inside]
        phasor = np.exp(2j * np.pi * freqs[..., None] * t)         # (bpm, harmonic, onset)
        total[:, 0] += np.abs(phasor.sum(-1))
        total[:, 1] += np.abs((phasor * w).sum(-1))
        weight += (len(t), w.sum())
    return total / np.maximum(weight, 1e-9)[None, :, None]


def features(onsets, strengths, bpms) -> np.ndarray:
    if not len(bpms):
        return np.zeros((0, len(FEATURES)))
    c = coherences(onsets, strengths, bpms)
    octave = np.log2(np.asarray(bpms) / 120.0)
    h = HARMONICS.index
    levels = np.concatenate([c[:, :, [h(0.5), h(1), h(2)]],                     # (bpm, alike/strength, 3)
                             np.maximum(c[:, :, h(4)], c[:, :, h(3)])[..., None]], axis=2)  # straight or triplet
    misfit = np.log(np.maximum(1.0 - levels[:, :, 3], MISFIT_FLOOR))     # the onsets between the grid's steps:
    return np.column_stack([np.log(np.maximum(levels.reshape(len(octave), -1), FLOOR)),  # a tempo too slow
                            misfit, octave, octave ** 2])


# fitted by train/tempo.py on the train split (300 files x clean/noisy, onsets from onset_net's first run, strengths from
# accents()), L2 1e-3, the coherences' weights held >= 0 (more coherence at a level is never evidence against a tempo);
# in the order of FEATURES. Checked on the validation split: 95.8% within 4% (the weights before, fitted there on
# the flux detector's onsets: 92.2%)
WEIGHTS = np.array([0.000, 0.000, 0.939, 1.873, 0.317, 1.764, 1.661, 0.303, -3.068, -1.524, -2.953, -1.352])


def choose_tempo(b0: float, onsets: np.ndarray, strengths: np.ndarray) -> float:
    """The candidate (see candidates) with the best metrical score; b0 itself when there is none."""
    bpms, x = candidates(b0, onsets, strengths)
    if not len(bpms):
        return float(b0)
    return float(bpms[int(np.argmax(x @ WEIGHTS))])


def candidates(b0: float, onsets: np.ndarray, strengths: np.ndarray, peaks: int = FIT_PEAKS) -> tuple[np.ndarray, np.ndarray]:
    """(bpms, their features): b0's relatives, each moved to the best straight or triplet fit within 3%,
    and the `peaks` best local maxima of the straight or triplet fit in CANDIDATE_RANGE, less those within
    3% of a candidate already there: librosa's estimate is sometimes none of the right tempo's simple
    relatives (a 164.9 BPM groove heard at 136)."""
    grid = TEMPO_SEARCH[0] * 2 ** np.arange(0, np.log2(TEMPO_SEARCH[1] / TEMPO_SEARCH[0]), 0.002)
    c = coherences(onsets, strengths, grid)
    fit = np.maximum(c[:, 0, HARMONICS.index(4)], c[:, 0, HARMONICS.index(3)])
    out = []
    for k in RATIOS:
        near = np.flatnonzero((grid >= b0 * k * 0.97) & (grid <= b0 * k * 1.03))
        if not len(near) or not CANDIDATE_RANGE[0] <= b0 * k <= CANDIDATE_RANGE[1]:
            continue
        out.append(float(grid[near[np.argmax(fit[near])]]))
    top = np.flatnonzero((fit[1:-1] > fit[:-2]) & (fit[1:-1] >= fit[2:])) + 1
    top = top[(grid[top] >= CANDIDATE_RANGE[0]) & (grid[top] <= CANDIDATE_RANGE[1])]
    for bpm in grid[top[np.argsort(fit[top], kind="stable")[::-1][:max(int(peaks), 0)]]]:
        if not out or np.min(np.abs(np.asarray(out) / bpm - 1)) > 0.03:
            out.append(float(bpm))
    out = np.unique(np.round(out, 3))
    return out, features(onsets, strengths, out)


def estimate_tempo(env: np.ndarray, onsets: np.ndarray, rate: int, strengths: np.ndarray | None = None) -> float:
    """The tempo (BPM): librosa's tempogram estimate proposes (it and its usual confusions, 1/3 .. 3
    times), the onsets' metrical hierarchy decides (choose_tempo)."""
    import librosa

    from .audio_in import HOP

    b0 = float(librosa.feature.tempo(onset_envelope=env, sr=rate, hop_length=HOP)[0])
    strengths = np.ones(len(onsets)) if strengths is None else strengths
    return choose_tempo(b0, onsets, strengths)


def steady_tempo(onsets: np.ndarray, strengths: np.ndarray, bpm: float, spread: float = 0.015) -> float:
    """bpm moved within +-spread to where the beat, 8th, triplet and 16th levels together explain the
    onsets of the whole recording best (a steady take: one tempo for all of it, so its fine value matters:
    0.1% off is a 16th off after 60 beats)."""
    onsets, strengths = np.asarray(onsets, np.float64), np.asarray(strengths, np.float64)
    grid = float(bpm) * np.linspace(1 - spread, 1 + spread, 301)
    t = onsets - onsets[0]
    total = np.zeros(len(grid))
    for h in (1, 2, 3, 4):
        total += np.abs((np.exp(2j * np.pi * (grid[:, None] / 60.0 * h) * t[None, :]) * strengths).sum(1))
    return float(grid[int(np.argmax(total))])


def accents(onsets: np.ndarray, envelope: np.ndarray, envelope_rate: int, after: float = 0.05) -> np.ndarray:
    """Each onset's loudness, 0-1: the peak level over the `after` s from it (the level envelope's),
    in dB mapped from 40 dB under the loudest onset (0) to the loudest (1). The flux's strengths rise
    from each band's own floor and so flatten accents; a level keeps a downbeat louder than a ghost."""
    frames = np.round(np.asarray(onsets) * envelope_rate).astype(int)
    span = max(1, int(round(after * envelope_rate)))
    peaks = np.array([float(envelope[max(f, 0): max(f, 0) + span].max(initial=0.0)) for f in frames])
    db = 20 * np.log10(np.maximum(peaks, 1e-6) / max(float(peaks.max(initial=0.0)), 1e-6))
    return np.clip(1 + db / 40.0, 0.0, 1.0)
