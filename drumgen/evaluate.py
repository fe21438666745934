"""Scores of a checkpoint on GMD windows, beside two baselines: the figures the README and model cards quote.

    python -m drumgen.evaluate checkpoints/mgvae_gmd.pth --data ../shared/data/groove-v1.0.0-midionly.zip

Each window's groove is the monotonic groove of its true drums; the model is called through
`generate` with its default settings (seed 0, temperature 1, thresholds from the checkpoint).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

import numpy as np

from . import hvo as H
from .metrics import score
from .thresholds import THRESHOLDS_NOTE, choose_thresholds


def baseline_hat(groove: np.ndarray) -> np.ndarray:
    """Every groove onset on the closed hat."""
    drums = np.zeros(groove.shape[:2] + (H.HVO_DIM,), np.float32)
    v = H.VOICES.index("closed_hat")
    drums[..., v], drums[..., H.N_VOICES + v], drums[..., 2 * H.N_VOICES + v] = groove[..., 0], groove[..., 1], groove[..., 2]
    return drums


def baseline_rock(groove: np.ndarray) -> np.ndarray:
    """Kick on beats 1 and 3, snare on 2 and 4, closed hat on every groove onset."""
    drums = baseline_hat(groove)
    step = np.arange(groove.shape[1]) % H.STEPS_PER_BAR
    for voice, steps in (("kick", (0, 8)), ("snare", (4, 12))):
        v = H.VOICES.index(voice)
        on = np.isin(step, steps)
        drums[:, on, v] = 1.0
        drums[:, on, H.N_VOICES + v] = np.where(groove[:, on, 0] > 0.5, groove[:, on, 1], 0.8)
        drums[:, on, 2 * H.N_VOICES + v] = groove[:, on, 2]
    return drums


def evaluate(generate: Callable[[np.ndarray], np.ndarray], true_hvo: np.ndarray) -> dict[str, float]:
    return score(generate(H.hvo_to_groove(true_hvo)), true_hvo)


def score_songs(generate: Callable[..., np.ndarray], songs: list[np.ndarray], variety: bool = False) -> dict[str, float]:
    """Whole performances, each generated from its full groove in one call (stitched windows, the
    command line's case), scored over all their cells together. With `variety`, also the
    seed-to-seed hit difference: the share of hits that differ between seeds 0 and 1 (of the hits
    of either), i.e. how much of what temperature adds survives into a song."""
    pred = np.concatenate([generate(H.hvo_to_groove(s)[None])[0] for s in songs])
    full = score(pred[None], np.concatenate(songs)[None])
    out = {k: full[k] for k in ("precision", "recall", "f1", "f1_kick", "f1_snare", "f1_closed_hat",
                                "velocity_mae_tp", "hit_ratio")}
    if variety:
        a, b = (np.concatenate([generate(H.hvo_to_groove(s)[None], seed=k)[0] for s in songs])[:, H.HITS] > 0.5
                for k in (0, 1))
        out["seed_to_seed_hit_difference"] = float((a ^ b).sum() / max((a | b).sum(), 1))
    return out


TARGETS = {  # the bar a shipped checkpoint must clear on the test split
    "f1": (">=", 0.65), "window_f1_median": (">=", 0.65), "f1_kick": (">=", 0.60), "f1_snare": (">=", 0.66),
    "f1_closed_hat": (">=", 0.73), "velocity_mae_tp": ("<=", 0.12), "hit_ratio": ("in", (0.90, 1.10)),
    "offset_std": (">=", 0.12), "swingness": (">=", 0.22),
}


def meets(name: str, value: float) -> bool:
    op, bound = TARGETS[name]
    if op == ">=":
        return value >= bound
    if op == "<=":
        return value <= bound
    return bound[0] <= value <= bound[1]


def format_table(results: dict[str, dict[str, float]], targets: bool = True) -> str:
    names = list(results)
    keys = list(next(iter(results.values())))
    lines = ["| metric | " + " | ".join(names) + " | target |", "|---" * (len(names) + 2) + "|"]
    for k in keys:
        target = ""
        if targets and k in TARGETS:
            op, bound = TARGETS[k]
            target = f"{bound[0]:.2f}-{bound[1]:.2f}" if op == "in" else f"{op} {bound:.2f}"
        lines.append(f"| {k} | " + " | ".join(f"{results[n][k]:.3f}" for n in names) + f" | {target} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from . import data
    from .models.checkpoint import load_model

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("--data", default=None, help="GMD zip (default: download the official one once)")
    parser.add_argument("--split", default="test", choices=data.SPLITS)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0, help="score only the first N windows")
    parser.add_argument("--set-thresholds", action="store_true",
                        help="first choose the per-voice thresholds on the validation split and save them into "
                             "the checkpoint (as training does at its end)")
    parser.add_argument("--songs", action="store_true",
                        help="also score whole performances, each generated in one call (slower)")
    parser.add_argument("--stitch", default=None, choices=("crossfade", "average"),
                        help="how a MonotonicGrooveVAE joins overlapping windows of a song (default: the model's)")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    model = load_model(args.checkpoint, cache=False)  # a private copy: its stitch rule and thresholds are set here
    if args.stitch:
        if model.stitch_rule is None:
            parser.error(f"--stitch: the {model.kind} does not stitch windows (each continues from the last)")
        model.stitch_rule = args.stitch
    windows = data.load_split(args.split, args.data)
    true_hvo = windows.hvo[: args.limit or None]
    if args.set_thresholds:
        chosen = choose_thresholds(model, data.load_split("validation", args.data).hvo)
        model.thresholds = [round(float(t), 3) for t in chosen]
        model.save(args.checkpoint, meta={"thresholds": THRESHOLDS_NOTE})
        print(f"thresholds chosen on validation and saved: {model.thresholds}")
    results = {
        "drumgen": evaluate(lambda g: model.generate(g, seed=args.seed, temperature=args.temperature), true_hvo),
        "hat baseline": evaluate(baseline_hat, true_hvo),
        "kick/snare/hat baseline": evaluate(baseline_rock, true_hvo),
    }
    print(f"{args.checkpoint} on GMD {args.split}: {len(true_hvo)} two-bar windows, "
          f"seed {args.seed}, temperature {args.temperature}")
    print(format_table(results))
    missed = [k for k in TARGETS if not meets(k, results["drumgen"][k])]
    print("targets met: all" if not missed else f"targets missed: {', '.join(missed)}")
    report = {"split": args.split, "windows": len(true_hvo), "seed": args.seed, "temperature": args.temperature,
              "results": results}
    if args.songs:
        songs = [item["hvo"] for item in data.read_gmd(data.find_gmd_zip(args.data)) if item["split"] == args.split]
        song_results = {
            "drumgen": score_songs(lambda g, seed=args.seed: model.generate(g, seed=seed, temperature=args.temperature),
                                   songs, variety=True),
            "kick/snare/hat baseline": score_songs(baseline_rock, songs),
        }
        print(f"\nwhole performances of the {args.split} split ({len(songs)} files), each generated in one call:")
        song_results["kick/snare/hat baseline"]["seed_to_seed_hit_difference"] = 0.0
        print(format_table(song_results, targets=False))
        report["songs"] = song_results
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
