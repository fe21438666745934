"""The validation score training keeps its best epoch by, and its parts, for any checkpoints.

    python -m drumgen.selection CKPT [CKPT ...] --data groove-v1.0.0-midionly.zip

The parts (`RhythmDrivenDrumGen.selection_parts`): hit F1 with the true controls and with none on
256 4/4 validation windows; for a model that edits takes, F1 of bars 3-4 and 7-8 made new and of the
voices around a kept kick and snare; for one with fills, how often fills come as asked; for one that
hears the meter, F1 with none on the split's windows in other meters. Comparing two checkpoints on
it is how a run's epochs are compared (the same windows, the same seed).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np


def main(argv: list[str] | None = None) -> int:
    from . import data
    from .models.checkpoint import build_model
    from .models.format import read_checkpoint

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--data", default=None, help="GMD zip (default: download the official one once)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    windows = data.load_split("validation", args.data, n_bars=8, meters="all")
    for path in args.checkpoints:
        model = build_model(read_checkpoint(path)).eval()
        if model.kind != "RhythmDrivenDrumGen":  # the MonotonicGrooveVAE is chosen on 2-bar 4/4 windows
            print(f"{path}: a {model.kind}; this compares RhythmDrivenDrumGen checkpoints", file=sys.stderr)
            return 2
        parts = model.selection_parts(windows)
        print(f"{path}: score {np.mean(list(parts.values())):.4f} = mean of "
              + ", ".join(f"{k} {v:.4f}" for k, v in parts.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
