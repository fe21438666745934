"""Loading models: the registry of model kinds, the loader and its cache, the shipped models by name.

A checkpoint (`drumgen.models.format`) names its kind; `load_model` finds the kind's class here,
imports its module only then, and hands out a `Runtime` (the model with its fast path), one per
file version and device. The shipped checkpoints are found by name ('controlled', 'mgvae').
"""
from __future__ import annotations

import importlib
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .format import read_checkpoint

if TYPE_CHECKING:  # torch is imported where a checkpoint is read or written: finding one needs no torch
    import torch

CHECKPOINT_DIR = Path(__file__).resolve().parents[2] / "checkpoints"
# The shipped models by name: the controlled one (per-bar controls and style, learnt) when it is there.
SHIPPED: dict[str, Path] = {
    "controlled": CHECKPOINT_DIR / "controlled_gmd.pth",   # RhythmDrivenDrumGen
    "mgvae": CHECKPOINT_DIR / "mgvae_gmd.pth",             # MonotonicGrooveVAE (controls applied at sampling, no style)
}

# Every model kind and where it lives, so a checkpoint can name its kind and be loaded without
# importing every model first (and without relying on which modules happen to be imported).
MODEL_KINDS: dict[str, str] = {
    "MonotonicGrooveVAE": "drumgen.models.vae:MonotonicGrooveVAE",
    "RhythmDrivenDrumGen": "drumgen.models.controlled:RhythmDrivenDrumGen",
}


def model_class(kind: str) -> type:
    """The class of a model kind, imported on first use."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known: {sorted(MODEL_KINDS)}")
    module, name = MODEL_KINDS[kind].split(":")
    return getattr(importlib.import_module(module), name)


def build_model(ckpt: dict[str, Any], device: str | torch.device = "cpu") -> torch.nn.Module:
    """The nn.Module of a checkpoint dict, in eval mode on `device` (training code uses this one)."""
    cls = model_class(ckpt["model_kind"])
    model = cls(cls.config_class.from_dict(ckpt["config"]))
    model.load_state_dict(model.upgrade_state_dict(ckpt["state_dict"]))
    if ckpt.get("sampling", {}).get("thresholds"):
        model.thresholds = [float(t) for t in ckpt["sampling"]["thresholds"]]
    model.meta = ckpt.get("meta", {})
    return model.to(device).eval()


# One loaded model per (file, its version on disk, device): loading again returns the same one,
# so an app or a test suite that loads a checkpoint many times does not grow its memory. A version
# is the inode as well as mtime and size: a save replaces the file by a new one, and two saves
# within one tick of the file system's clock (milliseconds) can leave mtime and size as they were.
_CACHE: OrderedDict[tuple, Any] = OrderedDict()
_CACHE_SIZE = 4
_CACHE_LOCK = threading.Lock()


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu", cache: bool = True):
    """A model ready to generate (a `Runtime`: `.generate`, `.save`, `.config`, `.model`); no training code needed.

    With `cache` (the default) every caller of one file gets the same shared Runtime, whose settings
    cannot be changed (pass thresholds to `generate`); cache=False gives a private one to tune and save."""
    from .runtime import Runtime  # here, not above: finding a checkpoint needs no torch

    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    stat = path.stat()
    device = str(device)
    key = (str(path), stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size, device)
    if not cache:
        return Runtime(build_model(read_checkpoint(path), device))
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        runtime = Runtime(build_model(read_checkpoint(path), device), shared=True)
        for old in [k for k in _CACHE if k[0] == key[0] and k[-1] == key[-1]]:  # an older version of the file
            del _CACHE[old]
        _CACHE[key] = runtime
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return runtime


def default_checkpoint(model: str | None = None) -> Path:
    """The shipped checkpoint of a model name ('controlled' or 'mgvae'); None: the controlled one
    when its file exists, else the MonotonicGrooveVAE's."""
    if model is None:
        return SHIPPED["controlled"] if SHIPPED["controlled"].is_file() else SHIPPED["mgvae"]
    key = str(model).strip().lower()
    if key not in SHIPPED:
        raise ValueError(f"unknown model {model!r}; choose one of: {', '.join(SHIPPED)}")
    return SHIPPED[key]


def load_default_model(path: str | os.PathLike | None = None, device: str = "cpu", model: str | None = None):
    """A checkpoint `path`, else the shipped checkpoint of `model` (see default_checkpoint); never downloads."""
    shipped = default_checkpoint(model)  # also checks the name when `path` overrides it
    path = Path(path) if path else shipped
    if not path.is_file():
        hint = " (not shipped yet: use --model mgvae)" if path == SHIPPED["controlled"] else ""
        raise FileNotFoundError(f"no checkpoint at {path}{hint}; train one with train/train.py or pass --checkpoint")
    return load_model(path, device)


def shipped_models() -> dict[str, Path]:
    """The shipped checkpoints that exist, the default first (the controllable model when it is there)."""
    found = {key: path for key, path in SHIPPED.items() if path.is_file()}
    default = default_checkpoint()
    return dict(sorted(found.items(), key=lambda kv: kv[1] != default))


def load_variational_mgt_model(path: str | os.PathLike, device: str = "cpu"):
    """Restore a MonotonicGrooveVAE written by its `save`, ready to generate (a `Runtime`); needs no
    training code. Refuses checkpoints of other kinds."""
    runtime = load_model(path, device)
    if runtime.kind != "MonotonicGrooveVAE":
        raise ValueError(f"{path} holds a {runtime.kind}, not a MonotonicGrooveVAE")
    return runtime
