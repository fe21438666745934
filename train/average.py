"""Average the weights of checkpoints fine-tuned from one another, then choose the hit thresholds on
validation again: a "model soup" (Wortsman et al., ICML 2022).

    python train/average.py A.pth B.pth --data ../shared/data/groove-v1.0.0-midionly.zip -o soup.pth
    python train/average.py A.pth B.pth --weights 0.7,0.3 --data ... -o soup.pth
    python train/average.py runs/NAME/epoch2.pth --data ... -o chosen.pth   # one: its thresholds chosen, no average

Two fine-tunes of one model lie in one basin of the loss, so the mean of their weights plays as well
as either, often better, and keeps what each learnt (one gains where there is no control, the other
where there are). Checkpoints that did not start from one another have nothing in common weight by
weight: their average is noise, so compare the result (`python -m drumgen.selection`) before using it.
The config and sampling settings are the first checkpoint's; the thresholds are chosen again on the
validation split's 4/4 windows, as train/train.py does after training.
"""
from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

import torch

from drumgen import data
from drumgen.models.checkpoint import build_model
from drumgen.models.format import read_checkpoint
from drumgen.thresholds import THRESHOLDS_NOTE, choose_thresholds


def parse_weights(text: str | None, n: int) -> list[float]:
    """"0.7,0.3" -> [0.7, 0.3] (normalised to sum to 1); None -> equal weights."""
    if text is None:
        return [1.0 / n] * n
    try:
        weights = [float(w) for w in text.split(",")]
    except ValueError:
        raise SystemExit(f"--weights: numbers separated by commas, got {text!r}") from None
    if len(weights) != n or not all(math.isfinite(w) and w >= 0 for w in weights) or not 0 < sum(weights) < math.inf:
        raise SystemExit(f"--weights: {n} finite numbers, none negative, not all zero; got {text!r}")
    return [w / sum(weights) for w in weights]


def average_states(checkpoints: list[dict], weights: list[float]) -> dict[str, torch.Tensor]:
    """The weighted mean of the checkpoints' weights, in float32 (a float16 release is read as float32),
    each first upgraded to the first's model (a checkpoint from before an input was added, beside its
    fine-tune). ValueError when they cannot be one model: another kind, or weights of other names or
    shapes. Two models trained apart pass this check and average to noise: compare the result."""
    first = checkpoints[0]
    for other in checkpoints[1:]:
        if other["model_kind"] != first["model_kind"]:
            raise ValueError(f"a {first['model_kind']} and a {other['model_kind']} cannot be averaged")
    model = build_model(first)
    states = [model.upgrade_state_dict(c["state_dict"]) for c in checkpoints]
    a = states[0]
    for b in states[1:]:
        if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
            raise ValueError("the checkpoints are not the same model (their weights differ in names or shapes); "
                             "average fine-tunes of one checkpoint")
    out = {}
    for name, value in a.items():
        if not value.is_floating_point():  # counters and the like: the first's
            out[name] = value
            continue
        out[name] = sum(w * s[name].float() for w, s in zip(weights, states))
    return out


def threshold_windows(checkpoint: dict) -> dict:
    """The validation windows train/train.py chose the first checkpoint's thresholds on: its data
    settings (window length, hop, fewest hits), 4/4 only; a checkpoint without them: its model's window."""
    spec = checkpoint.get("meta", {}).get("data_windows") or {}
    windows = {k: spec[k] for k in ("n_bars", "hop_bars", "min_hits") if k in spec}
    windows.setdefault("n_bars", int(checkpoint["config"].get("max_bars", 2)))
    return windows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--weights", default=None, help="one per checkpoint, e.g. 0.7,0.3 (default: equal)")
    parser.add_argument("--data", default=None, help="GMD zip, for the thresholds (default: download the official one once)")
    parser.add_argument("--cache-dir", default=str(data.DEFAULT_CACHE_DIR))
    parser.add_argument("--keep-thresholds", action="store_true", help="the first checkpoint's, not chosen again")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if len(args.checkpoints) < 2 and args.keep_thresholds:  # one alone: an epoch a run kept, its thresholds chosen
        raise SystemExit("give two checkpoints or more to average, or one without --keep-thresholds to choose its thresholds")
    torch.set_num_threads(args.threads)

    weights = parse_weights(args.weights, len(args.checkpoints))
    checkpoints = [read_checkpoint(path) for path in args.checkpoints]
    try:
        state = average_states(checkpoints, weights)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    model = build_model({**checkpoints[0], "state_dict": state, "weights": "float32"})
    model.meta = {}  # the first's scores, epoch and command are not this checkpoint's
    meta = {**{k: v for k, v in checkpoints[0].get("meta", {}).items() if k in ("data", "data_windows")},
            "command": " ".join(["python"] + sys.argv),
            "average_of": [{"checkpoint": p, "weight": round(w, 4)} for p, w in zip(args.checkpoints, weights)]}
    if not args.keep_thresholds:
        validation = data.load_split("validation", args.data, cache_dir=args.cache_dir, **threshold_windows(checkpoints[0]))
        model.thresholds = [round(float(t), 3) for t in choose_thresholds(model, validation.hvo)]
        meta["thresholds"] = THRESHOLDS_NOTE
        logging.info("thresholds chosen on validation: %s", model.thresholds)
    model.save(args.output, meta=meta)
    print(f"wrote {Path(args.output).with_suffix('.pth')} (float32; `python -m drumgen.models.format` halves it): the mean of {len(checkpoints)} checkpoints, weights {[round(w, 4) for w in weights]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
