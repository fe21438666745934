"""Is one checkpoint's hit F1 really above another's, or is the gap the split's noise?

    python -m drumgen.paired A.pth B.pth --data groove-v1.0.0-midionly.zip [--split test] [--seeds 0,1,2]
                             [--true-controls] [--resamples 2000]

Both checkpoints play the split's 8-bar 4/4 windows (the fidelity script's, `drumgen.fidelity`) from the
true drums' monotonic groove, every control free (or, with --true-controls, the controls measured from
the true drums), through the same `generate(groove, controls=..., seed=...)`, at each seed. Hit F1 is
the fidelity script's (micro over every cell of every window and voice), per seed and pooled over the
seeds. The difference B - A comes with a 95% interval from a paired bootstrap over the split's
performances (--by session or drummer: over those instead): the windows of one performance overlap, so
they are drawn together, and both checkpoints are scored on the same draw. Performances of one drummer
are alike too (the test split holds six drummers, one with 48 of its 129 performances), so the interval
over performances is the narrower one; --by drummer gives the wider.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from . import controls as C
from . import hvo as H
from .metrics import f1


def cell_counts(model, true_hvo: np.ndarray, seed: int, styles=None, batch: int = 256) -> np.ndarray:
    """(windows, 3): true positives, false positives and false negatives of each window's hits; styles
    (a style name per window): the true controls, with that style (None: no controls)."""
    from .fidelity import Generator, true_controls

    controls = None if styles is None else true_controls(true_hvo, styles)
    hits = Generator(model, seed, batch=batch)(H.hvo_to_groove(true_hvo), controls)[..., H.HITS] > 0.5
    truth = true_hvo[..., H.HITS] > 0.5
    return np.stack([(hits & truth).sum((1, 2)), (hits & ~truth).sum((1, 2)), (~hits & truth).sum((1, 2))], 1)


GROUPINGS = ("performance", "session", "drummer")


def group_of(path: str, by: str) -> str:
    """A GMD file's group: the file itself, its drummer's session ("drummer1/session2") or its drummer."""
    if by not in GROUPINGS:
        raise ValueError(f"group by one of {GROUPINGS}, got {by!r}")
    parts = path.split("/")
    return path if by == "performance" else "/".join(parts[:2 if by == "session" else 1])


def paired_bootstrap(a: np.ndarray, b: np.ndarray, groups: np.ndarray, resamples: int = 2000,
                     seed: int = 0) -> dict:
    """a, b: (windows, 3) counts of two models on the same windows; groups: each window's performance.
    F1 of each, the difference b - a, its 95% interval over resampled performances and how often b >= a."""
    groups = np.asarray(groups)
    if not len(groups) or len(groups) != len(a) or a.shape != b.shape:
        raise ValueError(f"need counts of both models on the same windows and a group each, got {a.shape}, "
                         f"{b.shape} and {groups.shape}")
    names, index = np.unique(groups, return_inverse=True)
    per_a = np.zeros((len(names), 3))
    per_b = np.zeros((len(names), 3))
    np.add.at(per_a, index, a)
    np.add.at(per_b, index, b)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(names), (int(resamples), len(names)))
    counts = np.bincount((draws + len(names) * np.arange(len(draws))[:, None]).ravel(),
                         minlength=len(draws) * len(names)).reshape(len(draws), len(names))
    ta, tb = counts @ per_a, counts @ per_b                   # (resamples, 3) summed counts per draw
    diff = f1(*tb.T) - f1(*ta.T)
    f_a, f_b = f1(*a.sum(0)), f1(*b.sum(0))
    low, high = np.percentile(diff, [2.5, 97.5])
    return {"f1_a": float(f_a), "f1_b": float(f_b), "difference": float(f_b - f_a), "low": float(low), "high": float(high),
            "b_at_least_a": float(np.mean(diff >= 0)), "performances": int(len(names)), "windows": int(len(a))}


def main(argv: list[str] | None = None) -> int:
    from . import data
    from .fidelity import N_BARS, spread
    from .models.checkpoint import load_model

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", help="the checkpoint compared against (e.g. the release before)")
    parser.add_argument("b", help="the checkpoint in question")
    parser.add_argument("--data", default=None, help="GMD zip (default: download the official one once)")
    parser.add_argument("--split", default="test", choices=data.SPLITS)
    parser.add_argument("--limit", type=int, default=0, help="use N windows spread evenly over the split (0: all)")
    parser.add_argument("--seeds", default="0,1,2", help="seeds, comma-separated (pooled in the interval)")
    parser.add_argument("--true-controls", action="store_true", help="the true controls instead of none")
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--by", default="performance", choices=GROUPINGS, help="what the bootstrap draws")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--seeds must be whole numbers, comma-separated, got {args.seeds!r}")
    if not seeds or len(set(seeds)) < len(seeds) or min(seeds) < 0 or args.resamples < 100:
        parser.error("give one or more different seeds (0 or more) and at least 100 resamples")

    import torch

    torch.set_num_threads(args.threads)
    windows = data.load_split(args.split, args.data, n_bars=N_BARS)
    pick = spread(len(windows), args.limit)
    true_hvo, styles = windows.hvo[pick], windows.style[pick]
    groups = np.array([group_of(windows.files[i], args.by) for i in windows.file_index[pick]])
    models = [load_model(p) for p in (args.a, args.b)]
    counts = {}
    what = "the true controls" if args.true_controls else "no controls"
    print(f"GMD {args.split}: {len(true_hvo)} windows of {N_BARS} bars, drawn by {args.by} "
          f"({len(np.unique(groups))}), {what}; A = {Path(args.a).name}, B = {Path(args.b).name}")
    for seed in seeds:
        counts[seed] = [cell_counts(m, true_hvo, seed, styles if args.true_controls else None) for m in models]
        r = paired_bootstrap(*counts[seed], groups, args.resamples, seed)
        print(f"seed {seed}: F1 A {r['f1_a']:.4f}  B {r['f1_b']:.4f}  B - A {r['difference']:+.4f} "
              f"(95% interval {r['low']:+.4f} .. {r['high']:+.4f}; B >= A in {r['b_at_least_a']:.0%} of resamples)")
    pooled_a = np.concatenate([counts[s][0] for s in seeds])
    pooled_b = np.concatenate([counts[s][1] for s in seeds])
    r = paired_bootstrap(pooled_a, pooled_b, np.tile(groups, len(seeds)), args.resamples)
    print(f"seeds {','.join(map(str, seeds))} pooled: F1 A {r['f1_a']:.4f}  B {r['f1_b']:.4f}  B - A "
          f"{r['difference']:+.4f} (95% interval {r['low']:+.4f} .. {r['high']:+.4f}; "
          f"B >= A in {r['b_at_least_a']:.0%} of resamples)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
