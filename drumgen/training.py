"""One training loop for every drumgen model: each model exposes `make_batch` and `loss(batch, step)`.

The loop keeps what a long CPU run needs: a progress bar, validation after each epoch, the best
checkpoint (by a validation score or reconstruction loss), a resume file, and metrics in a
JSON-lines log. The same loop runs under `torchrun` on several processes or GPUs
(DistributedDataParallel; rank 0 alone writes).
"""
from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from tqdm import tqdm

from .data import AugmentConfig, WindowSet
from .models.base import check_score_weights, weighted_score

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    out_dir: str = "runs/vae"
    epochs: int = 40
    batch_size: int = 64
    lr: float = 1e-3
    min_lr_ratio: float = 0.05
    warmup_steps: int = 300
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    ema_decay: float = 0.999    # validate and save an exponential moving average of the weights (0 = off)
    seed: int = 0
    threads: int = 2
    device: str = "cpu"         # "cuda" trains on a GPU (one per process under torchrun)
    bf16: bool = False          # bf16 autocast for the forward pass
    max_train_windows: int = 0  # 0 = all; small values make smoke runs
    max_val_windows: int = 0
    # the weight of each named part of the model's selection score in the score the best epoch is kept
    # by (parts not named weigh 1); e.g. {"f1_free": 2}: F1 with no controls counts twice
    score_weights: dict[str, float] = field(default_factory=dict)
    keep_epochs: bool = False   # also save every epoch's weights (epoch<N>.pth), to choose among them later
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self):  # a mistyped --set is refused before the first epoch, not after it
        self.score_weights = check_score_weights(self.score_weights)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        d = dict(d)
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {sorted(unknown)}")
        if isinstance(d.get("augment"), dict):
            d["augment"] = AugmentConfig(**d["augment"])
        return cls(**d)


def load_yaml(path: str | Path) -> dict[str, Any]:
    with open(path) as f:
        return yaml.safe_load(f) or {}


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to min_lr_ratio * lr."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def _autocast(cfg: TrainConfig, device: str):
    return torch.autocast(device_type=device, dtype=torch.bfloat16) if cfg.bf16 else nullcontext()


@torch.no_grad()
def validate(model: torch.nn.Module, windows: WindowSet, cfg: TrainConfig, device: str, step: int) -> dict[str, float]:
    """Mean losses by name on the validation windows, built by the model without augmentation."""
    model.eval()
    sums: dict[str, float] = {}
    for start in range(0, len(windows), 256):
        index = np.arange(start, min(start + 256, len(windows)))
        batch = {k: v.to(device) for k, v in model.make_batch(windows, index, None, None).items()}
        with _autocast(cfg, device):
            parts = model.loss(batch, step)
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(index)
    return {f"val_{k}": v / max(len(windows), 1) for k, v in sums.items()}


@torch.no_grad()
def update_ema(ema: dict[str, torch.Tensor], model: torch.nn.Module, decay: float) -> None:
    for name, value in model.state_dict().items():
        if value.dtype.is_floating_point:
            ema[name].lerp_(value, 1.0 - decay)
        else:
            ema[name].copy_(value)


@contextmanager
def weights(model: torch.nn.Module, state: dict[str, torch.Tensor] | None):
    """Run a block with `state` loaded into the model (the EMA weights), then put the live ones back."""
    if state is None:
        yield
        return
    live = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    try:
        yield
    finally:
        model.load_state_dict(live)


class _LossModule(torch.nn.Module):
    """forward = the model's loss, so DistributedDataParallel sees (and syncs) the training step."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        return self.model.loss(batch, step)


def distributed_context(cfg: TrainConfig) -> tuple[int, int, str]:
    """(rank, world size, device). Under `torchrun` (WORLD_SIZE > 1) this joins the process group:
    gloo on CPUs, nccl on GPUs, one GPU per local rank."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, cfg.device
    import torch.distributed as dist

    use_cuda = cfg.device.startswith("cuda") and torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    device = cfg.device
    if use_cuda:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
        torch.cuda.set_device(device)
    return dist.get_rank(), dist.get_world_size(), device


def train(model: torch.nn.Module, train_set: WindowSet, val_set: WindowSet, cfg: TrainConfig,
          resume: bool = True, meta: dict[str, Any] | None = None,
          score_fn: Callable[[torch.nn.Module, WindowSet], float | dict[str, float]] | None = None) -> Path:
    """Train `model` (any DrumModel: the loop only calls `make_batch` and `loss`); returns the path
    of the best checkpoint (`out_dir/best.pth`).

    "Best" is the highest `score_fn(model, validation windows)` when one is given (what the model
    is judged by, e.g. hit F1: the BCE on validation turns up long before F1 stops improving),
    else the lowest validation reconstruction loss. A score_fn may return named parts: each is
    logged, and the score is their mean weighed by `cfg.score_weights`. Under `torchrun` every process trains on its
    own shard of each epoch's batches (DistributedDataParallel averages the gradients); rank 0
    alone validates, writes checkpoints, logs and the resume file."""
    torch.set_num_threads(cfg.threads)
    rank, world, device = distributed_context(cfg)
    model.to(device)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_set = train_set.head(cfg.max_train_windows)
    val_set = val_set.head(cfg.max_val_windows)
    steps_per_epoch = max(1, len(train_set) // (cfg.batch_size * world))
    total_steps = steps_per_epoch * cfg.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    order_rng = np.random.default_rng(cfg.seed)               # the same on every rank: one shared epoch order
    rng = np.random.default_rng([cfg.seed, rank])             # augmentation: each rank its own
    torch.manual_seed(cfg.seed + rank)
    step, epoch, best = 0, 0, float("inf")

    ema = {k: v.detach().clone() for k, v in model.state_dict().items()} if cfg.ema_decay else None
    resume_path = out / "resume.pt"
    if resume and resume_path.is_file():
        state = torch.load(resume_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, epoch, best = state["step"], state["epoch"], state["best"]
        if state.get("score_weights", {}) != cfg.score_weights:  # a best of another mean compares with nothing now
            log.warning("score_weights changed since %s was written (%s -> %s): the best so far is forgotten",
                        resume_path, state.get("score_weights", {}), cfg.score_weights)
            best = float("inf")
        ema = state.get("ema", ema)
        numpy_rng = state["numpy_rng"]  # every rank's; older resume files: one state for all
        numpy_rng = numpy_rng if isinstance(numpy_rng, list) else [numpy_rng]
        order_rng.bit_generator.state = state.get("order_rng", numpy_rng[0])  # those files drew the order from it too
        if rank < len(numpy_rng):
            rng.bit_generator.state = numpy_rng[rank]
        torch_rng = state.get("torch_rng")  # every rank's (older resume files: rank 0's alone)
        torch_rng = torch_rng if isinstance(torch_rng, list) else [torch_rng]
        if rank < len(torch_rng) and torch_rng[rank] is not None:  # sampling and dropout go on where they were
            torch.set_rng_state(torch_rng[rank].cpu())
        log.info("resumed from %s at epoch %d, step %d", resume_path, epoch, step)
    if rank == 0:
        (out / "train_config.json").write_text(json.dumps({"train": cfg.to_dict(), "model": model.config.to_dict(),
                                                           "world_size": world}, indent=2))
    stepper: torch.nn.Module = _LossModule(model)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        # find_unused_parameters: a model may hold parameters its loss leaves out in some configurations
        # (the controlled model's hidden_beat without history_dropout); DDP would fail on the second step
        stepper = DistributedDataParallel(stepper, device_ids=[device] if device.startswith("cuda") else None,
                                          find_unused_parameters=True)

    while epoch < cfg.epochs:
        model.train()
        order = order_rng.permutation(len(train_set))
        sums: dict[str, float] = {}
        t0 = time.time()
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False, mininterval=5,
                   disable=rank != 0)
        for i in bar:
            first = (i * world + rank) * cfg.batch_size
            batch = model.make_batch(train_set, order[first:first + cfg.batch_size], rng, cfg.augment)
            batch = {k: v.to(device) for k, v in batch.items()}
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, total_steps, cfg)
            with _autocast(cfg, device):
                parts = stepper(batch, step)
            optimizer.zero_grad(set_to_none=True)
            parts["loss"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            step += 1
            if ema is not None:
                update_ema(ema, model, min(cfg.ema_decay, (1 + step) / (10 + step)))
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v.item()
            if i % 20 == 0:
                bar.set_postfix(loss=f"{parts['loss'].item():.4f}")
        epoch += 1
        rng_states, torch_states = _gather_rng_states(rng, world)
        if rank == 0:
            record = {"epoch": epoch, "step": step, "lr": lr_at(step, total_steps, cfg), "seconds": round(time.time() - t0, 1)}
            record.update({f"train_{k}": v / steps_per_epoch for k, v in sums.items()})
            with weights(model, ema):
                record.update(validate(model, val_set, cfg, device, step))
                if score_fn is not None:
                    model.eval()
                    result = score_fn(model, val_set)
                    if isinstance(result, dict):
                        taken = {f"val_{k}" for k in result} & (set(record) | {"val_score"})
                        if taken:
                            raise ValueError(f"selection parts named as a logged figure: {sorted(taken)}")
                        record.update({f"val_{k}": float(v) for k, v in result.items()})
                        result = weighted_score(result, cfg.score_weights)
                    record["val_score"] = float(result)
                loss_like = -record["val_score"] if score_fn is not None else record["val_recon"]
                improved = loss_like < best
                saved_meta = {**(meta or {}), "epoch": epoch, "step": step, "val_recon": record["val_recon"],
                              "val_score": record.get("val_score")}
                if improved:
                    best = loss_like
                    model.save(str(out / "best.pth"), meta=saved_meta)
                if cfg.keep_epochs:
                    model.save(str(out / f"epoch{epoch}.pth"), meta=saved_meta)
            record["best"] = improved
            with open(out / "metrics.jsonl", "a") as metrics_log:
                metrics_log.write(json.dumps(record) + "\n")
            log.info("epoch %d  train %.4f  val recon %.4f  val score %s%s  (%.0fs)", epoch, record["train_loss"],
                     record["val_recon"], record.get("val_score", "-"), "  *best*" if improved else "", record["seconds"])
            tmp = resume_path.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "epoch": epoch,
                        "best": best, "score_weights": cfg.score_weights, "ema": ema, "order_rng": order_rng.bit_generator.state, "numpy_rng": rng_states,
                        # rank 0's after validation, which draws latents from it as it would going on
                        "torch_rng": [torch.get_rng_state()] + torch_states[1:]}, tmp)
            tmp.replace(resume_path)
        if world > 1:
            import torch.distributed as dist

            dist.barrier()
    if world > 1:  # leave the group together: a rank exiting with it alive can abort in gloo's teardown
        import torch.distributed as dist

        dist.destroy_process_group()
    return out / "best.pth"


def _gather_rng_states(rng: np.random.Generator, world: int) -> tuple[list[dict], list[torch.Tensor]]:
    """Every rank's augmentation RNG state and torch RNG state, so a resumed run continues each rank's streams."""
    if world == 1:
        return [rng.bit_generator.state], [torch.get_rng_state()]
    import torch.distributed as dist

    states: list = [None] * world
    dist.all_gather_object(states, (rng.bit_generator.state, torch.get_rng_state()))
    return [s[0] for s in states], [s[1] for s in states]
