"""Checkpoints: one plain dict that rebuilds a model by itself, plus a readable JSON beside it.

Schema of the `.pth` (readable with `torch.load(path, weights_only=True)`)::

    {
        "format_version": 1,
        "model_kind": "MonotonicGrooveVAE",      # key of MODEL_KINDS
        "config": {...},                          # the model's config dataclass as a dict
        "state_dict": {name: tensor},
        "meta": {...},                            # free-form: training step, scores, data
    }

The `.json` beside it holds everything but the weights. Training state (optimizer, step) lives
in a separate resume file written by the training loop, never in a released checkpoint.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

FORMAT_VERSION = 1
MODEL_KINDS: dict[str, type] = {}


def register(cls: type) -> type:
    MODEL_KINDS[cls.__name__] = cls
    return cls


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, meta: dict[str, Any] | None = None) -> Path:
    path = Path(path)
    if path.suffix != ".pth":
        path = path.with_suffix(".pth")
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {
        "format_version": FORMAT_VERSION,
        "model_kind": type(model).__name__,
        "config": model.config.to_dict(),
        "meta": meta or {},
    }
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    tmp = path.with_suffix(".pth.tmp")
    torch.save({**header, "state_dict": state}, tmp)
    tmp.replace(path)
    path.with_suffix(".json").write_text(json.dumps(header, indent=2, sort_keys=True) + "\n")
    return path


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or "model_kind" not in ckpt:
        raise ValueError(f"{path} is not a drumgen checkpoint")
    if ckpt.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{path} has checkpoint format {ckpt['format_version']}; this drumgen reads up to {FORMAT_VERSION}")
    return ckpt


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Rebuild any registered model from its checkpoint; no training code is needed."""
    from . import vae  # noqa: F401  (registers the model kinds)

    ckpt = read_checkpoint(path)
    kind = ckpt["model_kind"]
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r} in {path}; known: {sorted(MODEL_KINDS)}")
    cls = MODEL_KINDS[kind]
    config = cls.config_class.from_dict({**ckpt["config"], "device": str(device)})
    model = cls(config)
    model.load_state_dict(ckpt["state_dict"])
    model.meta = ckpt.get("meta", {})
    model = model.to(device).eval()
    return model.prepare_inference() if hasattr(model, "prepare_inference") else model
