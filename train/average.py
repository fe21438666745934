"""Average the weights of checkpoints fine-tuned from one another, then choose the hit thresholds on
validation again: a "model soup" (Wortsman et al., ICML 2022).

    python train/average.py A.pth B.pth --data ../shared/data/groove-v1.0.0-midionly.zip -o soup.pth
    python train/average.py A.pth B.pth --weights 0.7,0.3 --data ... -o soup.pth

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
import sys

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
    if len(weights) != n or any(not w >= 0 for w in weights) or sum(weights) <= 0:
        raise SystemExit(f"--weights: {n} numbers, none negative, not all zero; got {text!r}")
    return [w / sum(weights) for w in weights]


def average_states(checkpoints: list[dict], weights: list[float]) -> dict[str, torch.Tensor]:
    """The weighted mean of the checkpoints' weights, in float32 (a float16 release is read as float32).
    ValueError when they are not one model: another kind, or weights of other names or shapes."""
    first = checkpoints[0]
    for other in checkpoints[1:]:
        if other["model_kind"] != first["model_kind"]:
            raise ValueError(f"a {first['model_kind']} and a {other['model_kind']} cannot be averaged")
        a, b = first["state_dict"], other["state_dict"]
        if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
            raise ValueError("the checkpoints are not the same model (their weights differ in names or shapes); "
                             "average fine-tunes of one checkpoint")
    out = {}
    for name, value in first["state_dict"].items():
        if not value.is_floating_point():  # counters and the like: the first's
            out[name] = value
            continue
        out[name] = sum(w * c["state_dict"][name].float() for w, c in zip(weights, checkpoints))
    return out


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
    if len(args.checkpoints) < 2:
        raise SystemExit("give two checkpoints or more")
    torch.set_num_threads(args.threads)

    weights = parse_weights(args.weights, len(args.checkpoints))
    checkpoints = [read_checkpoint(path) for path in args.checkpoints]
    try:
        state = average_states(checkpoints, weights)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    model = build_model({**checkpoints[0], "state_dict": state, "weights": "float32"})
    meta = {**{k: v for k, v in checkpoints[0].get("meta", {}).items() if k in ("data", "data_windows")},
            "command": " ".join(["python"] + sys.argv),
            "average_of": [{"checkpoint": p, "weight": round(w, 4)} for p, w in zip(args.checkpoints, weights)]}
    if not args.keep_thresholds:
        validation = data.load_split("validation", args.data, n_bars=model.config.max_bars, cache_dir=args.cache_dir)
        model.thresholds = [round(float(t), 3) for t in choose_thresholds(model, validation.hvo)]
        meta["thresholds"] = THRESHOLDS_NOTE
        logging.info("thresholds chosen on validation: %s", model.thresholds)
    model.save(args.output, meta=meta)
    print(f"wrote {args.output}: the mean of {len(checkpoints)} checkpoints, weights {[round(w, 4) for w in weights]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
