"""Train any drumgen model on the Groove MIDI Dataset, then choose its hit thresholds on validation.

    python train/train.py --data ../shared/data/groove-v1.0.0-midionly.zip --config train/configs/vae.yaml
    python train/train.py --data ../shared/data/groove-v1.0.0-midionly.zip --config train/configs/controlled.yaml
    torchrun --nproc_per_node 2 train/train.py --data ... --config ...     # several processes / GPUs

The YAML names the model kind and holds its config (`model`), the data windows (`data`) and the
training settings (`train`). Progress goes to the terminal, metrics to <out_dir>/metrics.jsonl;
rerunning resumes from <out_dir>/resume.pt. The result is <out_dir>/best.pth (+ .json), with
thresholds chosen on the validation split; copy it to checkpoints/ to ship it.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

import torch
import yaml

from drumgen import data
from drumgen.models.checkpoint import build_model, model_class
from drumgen.models.format import read_checkpoint
from drumgen.thresholds import THRESHOLDS_NOTE, choose_thresholds
from drumgen.training import TrainConfig, load_yaml, train


def apply_override(spec: dict, item: str) -> None:
    """`section.key=value` (value parsed as YAML) into the nested config dict."""
    if "=" not in item:
        raise SystemExit(f"--set wants SECTION.KEY=VALUE, got {item!r}")
    keys, value = item.split("=", 1)
    *path, last = keys.split(".")
    node = spec
    for key in path:
        node = node.setdefault(key, {})
    node[last] = yaml.safe_load(value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="GMD zip (default: download the official one once)")
    parser.add_argument("--config", default="train/configs/vae.yaml")
    parser.add_argument("--out-dir", default=None, help="overrides train.out_dir")
    parser.add_argument("--epochs", type=int, default=None, help="overrides train.epochs")
    parser.add_argument("--cache-dir", default=str(data.DEFAULT_CACHE_DIR))
    parser.add_argument("--no-resume", action="store_true")
    parser.add_argument("--init", default=None, help="start from this checkpoint's weights (overrides the YAML's init)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one config value, e.g. --set model.beta=0.05 --set train.augment.p_full=0.8")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    spec = load_yaml(args.config)
    for item in args.set:
        apply_override(spec, item)
    train_cfg = TrainConfig.from_dict(spec.get("train", {}))
    if args.out_dir:
        train_cfg.out_dir = args.out_dir
    if args.epochs:
        train_cfg.epochs = args.epochs
    data_spec = dict(spec.get("data", {}))
    repeat = int(data_spec.pop("repeat_other_meters", 1))  # the GMD's few minutes of 3/4, 6/8, 5/4, 5/8, seen more often
    windows = {split: data.load_split(split, args.data, cache_dir=args.cache_dir, **data_spec)
               for split in ("train", "validation")}
    if repeat > 1:
        odd = windows["train"].subset(~windows["train"].four_four)
        for _ in range(repeat - 1):
            windows["train"] = windows["train"] + odd
    logging.info("windows: train %d (%d not in 4/4), validation %d (%d)", len(windows["train"]),
                 (~windows["train"].four_four).sum(), len(windows["validation"]), (~windows["validation"].four_four).sum())

    torch.manual_seed(train_cfg.seed)  # the initial weights too: the same command, the same run
    cls = model_class(spec.get("model_kind", "MonotonicGrooveVAE"))
    model = cls(cls.config_class.from_dict(spec.get("model", {})))
    init = args.init or spec.get("init")
    if init:  # fine-tuning: new parameters (none in the checkpoint) keep their initial values
        start = read_checkpoint(init)
        missing, unexpected = model.load_state_dict(model.upgrade_state_dict(start["state_dict"]), strict=False)
        if unexpected:
            raise SystemExit(f"{init} has weights this model does not: {unexpected}")
        model.thresholds = list(start.get("sampling", {}).get("thresholds") or model.thresholds)
        logging.info("weights from %s; new parameters: %s", init, missing or "none")
    meter_note = "every meter (4/4, 3/4, 6/8, 5/4, 5/8)" if data_spec.get("meters") == "all" else "4/4"
    meta = {"data": f"Groove MIDI Dataset v1.0.0 (CC BY 4.0), {meter_note}, published splits",
            "data_windows": spec.get("data", {}),
            "config_file": args.config, "command": " ".join(["python"] + sys.argv), **({"init": str(init)} if init else {})}
    best = train(model, windows["train"], windows["validation"], train_cfg, resume=not args.no_resume, meta=meta,
                 score_fn=lambda m, ws: m.selection_parts(ws))
    if int(os.environ.get("RANK", "0")) != 0:
        return

    model = build_model(read_checkpoint(best))
    validation = windows["validation"].subset(windows["validation"].four_four)  # thresholds as before: 4/4 windows
    validation = validation.head(train_cfg.max_val_windows or spec.get("threshold_windows", 0))
    model.thresholds = [round(float(t), 3) for t in choose_thresholds(model, validation.hvo)]
    model.save(str(best), meta={"thresholds": THRESHOLDS_NOTE})
    logging.info("thresholds chosen on validation: %s -> %s", model.thresholds, best)


if __name__ == "__main__":
    main()
