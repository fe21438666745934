"""The validation score training keeps its best epoch by, and its parts, for any checkpoints.

    python -m drumgen.selection CKPT [CKPT ...] --data groove-v1.0.0-midionly.zip [--weights f1_free=3]

The parts (`RhythmDrivenDrumGen.selection_parts`): hit F1 with the true controls and with none on
256 4/4 validation windows; for a model that edits takes, F1 of bars 3-4 and 7-8 made new and of the
voices around a kept kick and snare; for one with fills, how often fills come as asked; for one that
hears the meter, F1 with none on the split's windows in other meters. Comparing two checkpoints on
it is how a run's epochs are compared (the same windows, the same seed). The score is the mean of
the parts, weighed as `--weights` says (training's `score_weights`; default: each part 1). A run's
`epoch<N>.pth` holds the thresholds training started with, not ones chosen for it (`best.pth` gets
them after training): `python train/average.py epoch<N>.pth --data ... -o chosen.pth` chooses them.
"""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from . import data
    from .models.base import check_score_weights, weighted_score
    from .models.checkpoint import build_model
    from .models.format import read_checkpoint

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--data", default=None, help="GMD zip (default: download the official one once)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--weights", default="", metavar="PART=W,...",
                        help="weigh parts in the score as training's score_weights do, e.g. f1_free=3")
    args = parser.parse_args(argv)
    try:
        weights = check_score_weights(dict(item.split("=", 1) for item in args.weights.split(",") if item))
    except ValueError as error:
        parser.error(f"--weights: {error} (PART=WEIGHT, comma-separated)")

    import torch

    torch.set_num_threads(args.threads)
    windows = data.load_split("validation", args.data, n_bars=8, meters="all")
    for path in args.checkpoints:
        model = build_model(read_checkpoint(path)).eval()
        if model.kind != "RhythmDrivenDrumGen":  # the MonotonicGrooveVAE is chosen on 2-bar 4/4 windows
            print(f"{path}: a {model.kind}; this compares RhythmDrivenDrumGen checkpoints", file=sys.stderr)
            return 2
        parts = model.selection_parts(windows)
        try:
            value = weighted_score(parts, weights)
        except ValueError as error:
            parser.error(f"--weights: {error}")
        print(f"{path}: score {value:.4f} = {'weighed ' if weights else ''}mean of "
              + ", ".join(f"{k} {v:.4f}" for k, v in parts.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
