"""Speed and memory of generation: the figures the README and model cards quote.

    python -m drumgen.bench [--checkpoint checkpoints/mgvae_gmd.pth] [--threads 2]

Latency is wall time of `model.generate` on one real GMD-like groove (no model call is skipped
or cached), median over many calls after a warm-up. Memory is the peak resident set size of a
fresh process that imports drumgen, loads the checkpoint and generates.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def example_groove(bars: int, seed: int = 0) -> np.ndarray:
    """A busy, humanised groove (N=1, T=16*bars, 3): 8ths with ghost 16ths, varied velocity and timing."""
    rng = np.random.default_rng(seed)
    steps = 16 * bars
    groove = np.zeros((1, steps, 3), np.float32)
    on = (np.arange(steps) % 2 == 0) | (rng.random(steps) < 0.3)
    groove[0, on, 0] = 1
    groove[0, on, 1] = rng.uniform(0.3, 1.0, on.sum())
    groove[0, on, 2] = rng.uniform(-0.2, 0.2, on.sum())
    return groove


def time_calls(fn, repeats: int, warmup: int = 50) -> np.ndarray:
    for _ in range(warmup):
        fn()
    times = np.empty(repeats)
    for i in range(repeats):
        t = time.perf_counter()
        fn()
        times[i] = time.perf_counter() - t
    return times * 1e3  # ms


def _rss_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, in MB, from /proc (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def _memory_child(checkpoint: str, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    import drumgen.models.base  # noqa: F401  (the library's own imports, before the model counts)

    before = _rss_mb("VmRSS")
    from drumgen.pipeline import load_default_model

    model = load_default_model(checkpoint)
    model.generate(example_groove(2))
    model.generate(example_groove(32))
    print(json.dumps({"rss_before_load_mb": before, "rss_after_mb": _rss_mb("VmRSS"), "peak_mb": _rss_mb("VmHWM")}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1000)
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        _memory_child(args.checkpoint, args.threads)
        return 0

    import torch

    from drumgen.pipeline import DEFAULT_CHECKPOINT, load_default_model

    torch.set_num_threads(args.threads)
    checkpoint = args.checkpoint or str(DEFAULT_CHECKPOINT)
    t = time.perf_counter()
    model = load_default_model(checkpoint)
    load_ms = (time.perf_counter() - t) * 1e3
    params = sum(p.numel() for p in model.model.parameters())
    print(f"{checkpoint}: {params / 1e6:.2f} M parameters, loaded in {load_ms:.0f} ms; torch {torch.__version__}, "
          f"{args.threads} threads, {torch.get_num_threads()} in use")
    figures: dict = {"checkpoint": checkpoint, "threads": args.threads, "parameters": params, "load_ms": load_ms, "cases": {}}
    print("| case | median ms | p90 ms | per bar ms |")
    print("|---|---|---|---|")
    for bars, batch, repeats in ((2, 1, args.repeats), (8, 1, args.repeats // 4), (32, 1, args.repeats // 10),
                                 (2, 64, args.repeats // 20)):
        groove = np.repeat(example_groove(bars), batch, axis=0)
        ms = time_calls(lambda g=groove: model.generate(g), max(repeats, 20), warmup=20)
        name = f"{bars} bars x {batch} groove{'s' if batch > 1 else ''}"
        print(f"| {name} | {np.median(ms):.3f} | {np.percentile(ms, 90):.3f} | {np.median(ms) / (bars * batch):.3f} |")
        figures["cases"][name] = {"median_ms": float(np.median(ms)), "p90_ms": float(np.percentile(ms, 90))}
    child = subprocess.run([sys.executable, "-m", "drumgen.bench", "--memory-child", "--checkpoint", checkpoint,
                            "--threads", str(args.threads)], capture_output=True, text=True, check=True)
    mem = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"memory: peak RSS {mem['peak_mb']:.0f} MB for a process that imports drumgen, loads the checkpoint and "
          f"generates 2 and 32 bars; loading + generating add {mem['rss_after_mb'] - mem['rss_before_load_mb']:.0f} MB "
          f"to the {mem['rss_before_load_mb']:.0f} MB of the imports")
    figures["memory"] = mem
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
