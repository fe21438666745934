"""The checkpoint format: one plain dict that rebuilds a model by itself, plus a readable JSON beside it.

Schema of the `.pth` (readable with `torch.load(path, weights_only=True)`)::

    {
        "format_version": 2,
        "model_kind": "MonotonicGrooveVAE",      # a key of MODEL_KINDS
        "config": {...},                          # the model's config dataclass as a dict (architecture, loss)
        "sampling": {"thresholds": [9 floats]},   # sampling defaults, chosen after training
        "state_dict": {name: tensor},            # float32, or float16 with "weights": "float16"
        "meta": {...},                            # free-form: training step, scores, data
    }

Format 1 (the first release) kept the thresholds and the device inside "config"; it is read as
format 2. The `.json` beside a `.pth` holds everything but the weights. Training state (optimizer,
step) lives in a separate resume file written by the training loop, never in a released checkpoint.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where a checkpoint is read or written: finding one needs no torch
    import torch

FORMAT_VERSION = 2


WEIGHTS = ("float32", "float16")  # how a checkpoint stores its weights; a model computes in float32 either way


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, meta: dict[str, Any] | None = None,
                    weights: str = "float32") -> Path:
    header = {
        "format_version": FORMAT_VERSION,
        "model_kind": type(model).__name__,
        "config": model.config.to_dict(),
        "sampling": {"thresholds": [float(t) for t in model.thresholds]},
        "meta": meta or {},
    }
    return write_checkpoint(path, header, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, weights)


def write_checkpoint(path: str | os.PathLike, header: dict[str, Any], state: dict[str, Any],
                     weights: str = "float32") -> Path:
    """The .pth (header + weights, written whole or not at all) and the .json beside it. weights
    "float16" halves the file (a release small enough for any host); loading casts back to float32."""
    import torch

    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    path = Path(path)
    if path.suffix != ".pth":
        path = path.with_suffix(".pth")
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {k: v for k, v in header.items() if k not in ("state_dict", "weights")}
    if weights != "float32":
        header["weights"] = weights
        state = {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in state.items()}
    tmp = path.with_suffix(".pth.tmp")
    torch.save({**header, "state_dict": state}, tmp)
    tmp.replace(path)
    path.with_suffix(".json").write_text(json.dumps(header, indent=2, sort_keys=True) + "\n")
    return path


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint dict in the current format (older formats upgraded in memory)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file
        raise ValueError(f"{path} is not a drumgen checkpoint ({type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or "model_kind" not in ckpt or "state_dict" not in ckpt:
        raise ValueError(f"{path} is not a drumgen checkpoint")
    version = ckpt.get("format_version", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"{path} has checkpoint format {version}; this drumgen reads formats up to {FORMAT_VERSION}. "
                         "Update drumgen to load it.")
    if version < 2:
        config = dict(ckpt["config"])
        config.pop("device", None)
        thresholds = config.pop("thresholds", None)
        ckpt = {**ckpt, "format_version": FORMAT_VERSION, "config": config,
                "sampling": {"thresholds": thresholds} if thresholds else {}}
    return ckpt


def main(argv: list[str] | None = None) -> int:
    """`python -m drumgen.models.format CKPT --weights float16 [-o OUT] [--fill-guidance G]`: store a
    checkpoint's weights in half precision (a release under the 10 MiB a Space takes without LFS);
    --fill-guidance, --fill-meters and --kept-bars-prior set sampling settings of the config that training does not use
    (the weights stay as they are)."""
    import argparse

    parser = argparse.ArgumentParser(description="Re-store a drumgen checkpoint's weights.")
    parser.add_argument("checkpoint")
    parser.add_argument("--weights", choices=WEIGHTS, default="float16")
    parser.add_argument("-o", "--output", default=None, help="where to write it (default: in place)")
    parser.add_argument("--fill-guidance", type=float, default=None,
                        help="the controllable model's classifier-free guidance in bars asked to be fills (1 = none)")
    parser.add_argument("--fill-meters", default=None, metavar="M,M,...",
                        help="meters besides 4/4 whose bars take the fill lane (a model trained on 4/4 fills, measured "
                             "to play them there: python -m drumgen.meter_figures); '' for 4/4 only")
    parser.add_argument("--kept-bars-prior", type=float, default=None, metavar="W",
                        help="the controllable model's pull (0-1) of a new cell toward what the kept bars around it play "
                             "(0 = the model alone)")
    args = parser.parse_args(argv)
    ckpt = read_checkpoint(args.checkpoint)
    if args.kept_bars_prior is not None:
        if "known_drums" not in ckpt["config"] or not 0.0 <= args.kept_bars_prior <= 1.0:
            raise SystemExit("--kept-bars-prior: a number from 0 to 1, for the controllable model")
        ckpt["config"]["kept_bars_prior"] = args.kept_bars_prior
    if args.fill_meters is not None:
        from ..meter import meter_name, parse_meter

        if "fill_guidance" not in ckpt["config"]:
            raise SystemExit("--fill-meters: for a model with the fill control")
        try:
            ckpt["config"]["fill_meters"] = [meter_name(parse_meter(m)) for m in args.fill_meters.split(",") if m.strip()]
        except ValueError as exc:
            raise SystemExit(f"--fill-meters: {exc}") from None
    if args.fill_guidance is not None:
        if "fill_guidance" not in ckpt["config"] or not 1.0 <= args.fill_guidance <= 10.0:
            raise SystemExit("--fill-guidance: a number from 1 to 10, for a model with the fill control")
        ckpt["config"]["fill_guidance"] = args.fill_guidance
    out = write_checkpoint(args.output or args.checkpoint, ckpt, ckpt["state_dict"], args.weights)
    print(f"wrote {out}: {out.stat().st_size:,} bytes, weights {args.weights}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
