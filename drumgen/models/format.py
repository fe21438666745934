"""The checkpoint format: one plain dict that rebuilds a model by itself, plus a readable JSON beside it.

Schema of the `.pth` (readable with `torch.load(path, weights_only=True)`)::

    {
        "format_version": 2,
        "model_kind": "MonotonicGrooveVAE",      # a key of MODEL_KINDS
        "config": {...},                          # the model's config dataclass as a dict (architecture, loss)
        "sampling": {"thresholds": [9 floats]},   # sampling defaults, chosen after training
        "state_dict": {name: tensor},
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


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, meta: dict[str, Any] | None = None) -> Path:
    import torch

    path = Path(path)
    if path.suffix != ".pth":
        path = path.with_suffix(".pth")
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {
        "format_version": FORMAT_VERSION,
        "model_kind": type(model).__name__,
        "config": model.config.to_dict(),
        "sampling": {"thresholds": [float(t) for t in model.thresholds]},
        "meta": meta or {},
    }
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
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
