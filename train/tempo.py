"""Fit the tempo chooser's weights (drumgen.audio_tempo.WEIGHTS) on rendered train-split audio.

    python train/tempo.py --data ../shared/data/groove-v1.0.0-midionly.zip [--split validation] [--limit 96]

Each file of drumgen.audio_figures' corpus (the split's GMD grooves and made grooves, clean and noisy)
is heard as drumgen.recording hears it (its onsets, their accents, librosa's tempo estimate b0); the
candidates of audio_tempo.candidates(b0, ...) and their features are the data, the candidate within 4%
of the written tempo each file's target. The weights minimise the softmax loss over each file's
candidates plus 1e-3 times their squared norm, the coherences' weights held >= 0 (more coherence at a
metrical level is never evidence against a tempo) and the misfits' <= 0. It prints the weights (paste them into
audio_tempo.WEIGHTS) and the share of files whose chosen tempo is within 4%, with the old weights and
the new. Never fit on the test split the README reports.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from drumgen import audio_figures as A
from drumgen import audio_in, audio_tempo


def heard(path: Path) -> tuple[float, np.ndarray, np.ndarray]:
    """(b0, onsets, accents) as recording._hear finds them."""
    import librosa

    samples, rate, _ = audio_in.load(None, str(path))
    y = audio_in.resample(audio_in.mono(samples), rate, audio_in.ANALYSIS_RATE)
    env = audio_in.onset_envelope(y, audio_in.ANALYSIS_RATE)
    onsets, _ = audio_in.detect_onsets(y, audio_in.ANALYSIS_RATE, env=env)
    envelope = audio_in.level_envelope(y, audio_in.ANALYSIS_RATE)
    accents = audio_tempo.accents(onsets, envelope, audio_in.ENVELOPE_RATE)
    b0 = float(librosa.feature.tempo(onset_envelope=env, sr=audio_in.ANALYSIS_RATE, hop_length=audio_in.HOP)[0])
    return b0, onsets, accents


def fit(groups: list[tuple[np.ndarray, np.ndarray]], l2: float = 1e-3) -> np.ndarray:
    from scipy.optimize import minimize

    n = len(audio_tempo.FEATURES)
    scale = np.vstack([x for x, _ in groups]).std(0) + 1e-9

    def loss(w):
        total, grad = l2 * np.sum(w ** 2), 2 * l2 * w
        for x, target in groups:
            z = (x / scale) @ w
            p = np.exp(z - z.max())
            p /= p.sum()
            total -= np.log(max(float(p[target].sum()), 1e-12)) / len(groups)
            q = np.zeros_like(p)
            q[target] = p[target] / max(float(p[target].sum()), 1e-12)
            grad += (x / scale).T @ (p - q) / len(groups)
        return total, grad

    bounds = [(0, None) if k < 8 else (None, 0) if k < 10 else (None, None) for k in range(n)]  # misfits <= 0
    w = minimize(loss, np.zeros(n), jac=True, bounds=bounds, method="L-BFGS-B").x
    return w / scale


BEAT_PATTERNS = {  # steps of a 4/4 bar: what people tap or click along to, which the figures' corpus lacks
    "quarters": (0, 4, 8, 12), "quarters, an 8th pickup": (0, 4, 8, 12, 14), "half, two quarters": (0, 8, 12),
    "straight 8ths": (0, 2, 4, 6, 8, 10, 12, 14), "dotted quarters": (0, 6, 12)}


def beat_cases(n: int, seed: int = 7) -> list[A.Case]:
    """n clips of BEAT_PATTERNS, beat 1 loudest, beats louder than the rest, humanised, 70-180 BPM, on
    the four patches in turn (fitted on with the split's corpus, never part of the figures')."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        steps = list(BEAT_PATTERNS.values())[i % len(BEAT_PATTERNS)]
        bpm = float(rng.uniform(*A.TEMPO_RANGE))
        bars = A.bars_for(bpm)
        g = np.zeros((16 * bars, 3), np.float32)
        for bar in range(bars):
            for step in steps:
                k = 16 * bar + step
                g[k, 0] = 1
                g[k, 1] = np.clip((0.9 if step == 0 else 0.7 if step % 4 == 0 else 0.5) * rng.uniform(0.85, 1.05), 0.2, 1)
                g[k, 2] = 0.0 if k == 0 else np.clip(rng.normal(0, 0.05), -0.3, 0.3)
        out.append(A.Case(f"beats {i}", "made", g, list(A.PATCHES)[(i + i // 5) % 4], bpm,
                          0.5 + 0.5 * rng.random(), 5000 + i))
    return out


def corpus(zip_path: str, split: str, limit: int, cache: Path, beats: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(candidates' features, which candidates are within 4%) of each file, clean and noisy. What each
    file was heard as is kept in cache/heard-*.pkl (by the file and the onset detector's setting)."""
    import pickle

    import hashlib

    from drumgen import onset_net

    method = audio_in.onset_method()
    net = hashlib.sha1(onset_net.CHECKPOINT.read_bytes()).hexdigest()[:10] if method == "net" else ""
    memo_path = cache / f"heard-{split}-{limit}-{method}{net}-{audio_in.NET_THRESHOLD}.pkl"
    memo = pickle.loads(memo_path.read_bytes()) if memo_path.is_file() else {}
    files = []
    for case in A.make_cases(zip_path, split, limit) + beat_cases(beats):
        mid = A.case_midi(case)
        for path in A.rendered(case, mid, cache):
            if path.name not in memo:
                memo[path.name] = heard(path)
            b0, onsets, accents = memo[path.name]
            bpms, x = audio_tempo.candidates(b0, onsets, accents)
            files.append((x, np.abs(bpms / case.bpm - 1) <= 0.04))
    memo_path.write_bytes(pickle.dumps(memo))
    return files


def share(files, w) -> float:
    """The share of files whose best-scoring candidate is within 4%."""
    return float(np.mean([bool(len(t) and t[int(np.argmax(x @ w))]) for x, t in files]))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", default="train", choices=("train", "validation"), help="the split fitted on")
    ap.add_argument("--limit", type=int, default=96, help="about this many files of it (each clean and noisy)")
    ap.add_argument("--beat-clips", type=int, default=60, help="clips of BEAT_PATTERNS fitted on besides")
    ap.add_argument("--check", default="validation", choices=("train", "validation", "none"),
                    help="a split the fitted weights are checked on (96 files)")
    ap.add_argument("--out", default="runs/figures/audio")
    args = ap.parse_args(argv)
    files = corpus(args.data, args.split, args.limit, Path(args.out) / "cache", args.beat_clips)
    groups = [(x, t) for x, t in files if t.any() and len(t) > 1]   # the ones a choice can get right or wrong
    w = fit(groups)
    reachable = sum(bool(t.any()) for _, t in files)
    print(f"{args.split} and {args.beat_clips} beat clips: {len(files)} files, the right tempo among the candidates of {reachable}")
    print(f"  within 4% with audio_tempo.WEIGHTS: {share(files, audio_tempo.WEIGHTS):.3f}; "
          f"with the fitted weights: {share(files, w):.3f}")
    if args.check != "none":
        check = corpus(args.data, args.check, 96, Path(args.out) / "cache")
        print(f"{args.check} (not fitted on): within 4% with audio_tempo.WEIGHTS: {share(check, audio_tempo.WEIGHTS):.3f}; "
              f"with the fitted weights: {share(check, w):.3f}")
    print("WEIGHTS = np.array([" + ", ".join(f"{v:.3f}" for v in w) + "])")


if __name__ == "__main__":
    main()
