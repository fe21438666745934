"""Speed and memory of generation: the figures the README and model cards quote.

    python -m drumgen.bench [--model controlled|mgvae | --checkpoint P] [--threads 2]

Latency is wall time of `model.generate` on one busy, humanised groove (no model call is skipped
or cached), median over many calls after a warm-up; any model kind. The RhythmDrivenDrumGen's
cases are 8 bars (the target: median <= 50 ms on 2 threads), 2 and 32 bars; the
MonotonicGrooveVAE's 2, 8 and 32 bars and a batch of 64. For every kind, "16 bars with controls
through the whole MIDI path" times what the command line and the app run: a 16-bar groove MIDI
read from bytes, per-bar controls (a density ramp, an intensity curve, a mute, a style) built for
its bars, generation, and the drum MIDI written to bytes, with each stage's share. Memory is the
peak resident set size of a fresh process that imports drumgen, loads the checkpoint, generates
and runs that path.
"""
from __future__ import annotations

import argparse
import json
import os
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


def example_groove_midi(bars: int = 16, bpm: float = 112.0, seed: int = 0) -> bytes:
    """A deterministic groove MIDI file in memory (type 1, 480 ticks per beat, 4/4): a humanised bass
    line of 8ths with syncopated 16ths, as a musician would bring it. Returns the file's bytes."""
    import mido

    from drumgen import midi

    rng = np.random.default_rng(seed)
    tpb = 480
    events = []
    for step in range(16 * bars):
        if step % 2 and rng.random() > 0.3:
            continue
        tick = max(0, step * tpb // 4 + int(rng.normal(0, 12)))
        note, velocity = int(rng.choice([33, 36, 40, 43, 45])), int(rng.integers(50, 120))
        events += [(tick, mido.Message("note_on", channel=0, note=note, velocity=velocity)),
                   (tick + tpb // 8, mido.Message("note_off", channel=0, note=note, velocity=0))]
    out = mido.MidiFile(type=1, ticks_per_beat=tpb)
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)),
                           mido.MetaMessage("time_signature", numerator=4, denominator=4)])
    track, now = mido.MidiTrack([mido.MetaMessage("track_name", name="bass")]), 0
    for tick, msg in sorted(events, key=lambda e: (e[0], e[1].type == "note_on")):
        track.append(msg.copy(time=tick - now))
        now = tick
    out.tracks += [meta, track]
    return midi.midi_to_bytes(out)


# The controls of the whole-path case: a density ramp, an intensity curve, a mute and a style.
PATH_CONTROLS = dict(density="0.3-0.8", intensity="0.5,0.55,0.6,0.7,0.8", mute="ride", style="funk")
TARGET = ("8 bars x 1 groove", 50.0)  # the latency target: 8 bars for one groove, median <= 50 ms on 2 threads
REGENERATE_CASE, REGENERATE_LIMIT_MS = "regenerate 2 of 32 bars", 100.0


def midi_path(model, data: bytes, controls) -> dict[str, float]:
    """The whole path as the command line and the app run it: MIDI bytes -> groove and controls ->
    drums -> MIDI bytes. Seconds per stage."""
    from drumgen import midi, pipeline

    part = pipeline.make_drums(model, data, controls=controls)
    stages = part.timings
    t = time.perf_counter()
    midi.midi_to_bytes(part.drums_midi)
    stages["write"] += time.perf_counter() - t
    return stages


def time_calls(fn, repeats: int, warmup: int = 50, max_seconds: float | None = None) -> np.ndarray:
    """Wall time (ms) of `repeats` calls after `warmup`; with max_seconds, stops early once that much
    time is spent (after at least 20 calls, or `repeats` if fewer)."""
    for _ in range(warmup):
        fn()
    times = []
    begin = time.perf_counter()
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        if max_seconds is not None and len(times) >= 20 and time.perf_counter() - begin > max_seconds:
            break
    return np.array(times) * 1e3


def _rss_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, in MB, from /proc (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def _memory_child(checkpoint: str, threads: int) -> None:
    """Any model kind: import, load, generate 2, 8 and 32 bars and the 16-bar MIDI path with controls."""
    import torch

    torch.set_num_threads(threads)
    import drumgen.models.base  # noqa: F401  (the library's own imports, before the model counts)
    from drumgen.control_input import ControlSpec
    from drumgen.models.checkpoint import load_default_model

    before = _rss_mb("VmRSS")
    model = load_default_model(checkpoint)
    for bars in (2, 8, 32):
        model.generate(example_groove(bars))
    midi_path(model, example_groove_midi(16), ControlSpec(**PATH_CONTROLS))
    print(json.dumps({"rss_before_load_mb": before, "rss_after_mb": _rss_mb("VmRSS"), "peak_mb": _rss_mb("VmHWM")}))


def _cases(kind: str, repeats: int) -> list[tuple[int, int, int]]:
    """(bars, batch, calls) of a model kind: the VAE's 2, 8 and 32 bars and a batch of 64; an
    autoregressive model's 8 bars first (the target), then 2 and 32."""
    if kind == "RhythmDrivenDrumGen":
        return [(8, 1, repeats), (2, 1, repeats), (32, 1, repeats // 4)]
    return [(2, 1, repeats), (8, 1, repeats // 4), (32, 1, repeats // 10), (2, 64, repeats // 20)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=None, help="any model checkpoint; overrides --model")
    parser.add_argument("--model", default=None, help="a shipped model: controlled or mgvae (default: controlled "
                                                      "when its checkpoint is there, else mgvae)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1000, help="calls per case (fewer for long cases)")
    parser.add_argument("--max-seconds", type=float, default=15.0, help="stop a case after this long (>= 20 calls)")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        _memory_child(args.checkpoint, args.threads)
        return 0

    import torch

    from drumgen.control_input import ControlSpec, ignored_controls
    from drumgen.models.checkpoint import default_checkpoint, load_default_model

    torch.set_num_threads(args.threads)
    checkpoint = str(args.checkpoint or default_checkpoint(args.model))
    t = time.perf_counter()
    model = load_default_model(checkpoint)
    load_ms = (time.perf_counter() - t) * 1e3
    kind = model.kind
    params = model.n_parameters
    print(f"{checkpoint}: {kind}, {params / 1e6:.2f} M parameters, loaded in {load_ms:.0f} ms; torch {torch.__version__}, "
          f"{args.threads} threads, {torch.get_num_threads()} in use")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cpus = os.cpu_count() or 1
    print(f"machine: {cpus} CPUs, load average {load:.1f} before the run"
          + (" (other work shares the CPUs: figures are pessimistic)" if load > 0.5 * cpus else ""))
    figures: dict = {"checkpoint": checkpoint, "kind": kind, "threads": args.threads, "parameters": params,
                     "load_ms": load_ms, "cpus": cpus, "load_average": load, "cases": {}}
    print("| case | median ms | p90 ms | per bar ms | calls |")
    print("|---|---|---|---|---|")
    for bars, batch, repeats in _cases(kind, args.repeats):
        groove = np.repeat(example_groove(bars), batch, axis=0)
        calls = max(repeats, 5)
        ms = time_calls(lambda g=groove: model.generate(g), calls, warmup=min(20, calls), max_seconds=args.max_seconds)
        name = f"{bars} bars x {batch} groove{'s' if batch > 1 else ''}"
        print(f"| {name} | {np.median(ms):.3f} | {np.percentile(ms, 90):.3f} | {np.median(ms) / (bars * batch):.3f} "
              f"| {len(ms)} |")
        figures["cases"][name] = {"median_ms": float(np.median(ms)), "p90_ms": float(np.percentile(ms, 90)),
                                  "calls": len(ms)}

    # a take edited: 2 bars of a 32-bar take made new, the rest kept (the musician's main loop)
    from drumgen.takes import keep_mask

    groove = example_groove(32)
    take = model.generate(groove, seed=0)
    mask = keep_mask(groove.shape[1], regenerate=[14, 15])[None]
    calls = max(args.repeats // 20, 5)
    ms = time_calls(lambda: model.generate(groove, seed=1, keep=take, keep_mask=mask), calls, warmup=min(5, calls),
                    max_seconds=args.max_seconds)
    name = REGENERATE_CASE
    print(f"| {name} | {np.median(ms):.3f} | {np.percentile(ms, 90):.3f} | {np.median(ms) / 2:.3f} | {len(ms)} |")
    figures["cases"][name] = {"median_ms": float(np.median(ms)), "p90_ms": float(np.percentile(ms, 90)), "calls": len(ms)}

    # 16 bars with controls through the whole MIDI path, as the command line and the app run it
    data, spec = example_groove_midi(16), ControlSpec(**PATH_CONTROLS)
    calls = max(args.repeats // 10, 5)
    for _ in range(min(5, calls)):
        midi_path(model, data, spec)
    runs, begin = [], time.perf_counter()
    while len(runs) < calls and not (len(runs) >= 20 and time.perf_counter() - begin > args.max_seconds):
        t = time.perf_counter()
        stages = midi_path(model, data, spec)
        runs.append({"total": time.perf_counter() - t, **stages})
    median = {k: float(np.median([r[k] for r in runs]) * 1e3) for k in runs[0]}
    p90 = float(np.percentile([r["total"] for r in runs], 90) * 1e3)
    shares = ", ".join(f"{k} {median[k]:.2f} ms ({100 * median[k] / median['total']:.0f}%)"
                       for k in ("read", "generate", "write"))
    controls = " ".join(f"{k}={v}" for k, v in PATH_CONTROLS.items())
    if ignored_controls(model, spec):
        controls += f" ({', '.join(ignored_controls(model, spec))} ignored by this model)"
    print(f"| 16 bars with controls, whole MIDI path | {median['total']:.3f} | {p90:.3f} | {median['total'] / 16:.3f} "
          f"| {len(runs)} |")
    print(f"whole path (MIDI bytes in -> drums -> MIDI bytes out; {controls}): {shares}")
    figures["midi_path_16_bars"] = {"median_ms": median["total"], "p90_ms": p90, "calls": len(runs),
                                    "stages_median_ms": {k: median[k] for k in ("read", "generate", "write")},
                                    "controls": PATH_CONTROLS}

    name, limit = TARGET
    value = figures["cases"][name]["median_ms"]
    met = value <= limit
    threads = f"{args.threads} thread{'s' if args.threads != 1 else ''}"
    print(f"target (issue #7): {name}, median <= {limit:.0f} ms on {threads}: {value:.2f} ms -> "
          f"{'met' if met else 'NOT met'}")
    figures["target"] = {"case": name, "limit_ms": limit, "median_ms": value, "met": bool(met)}
    value = figures["cases"][REGENERATE_CASE]["median_ms"]
    print(f"target (issue #13): {REGENERATE_CASE}, median <= {REGENERATE_LIMIT_MS:.0f} ms on {threads}: {value:.2f} ms -> "
          f"{'met' if value <= REGENERATE_LIMIT_MS else 'NOT met'}")
    figures["regenerate_target"] = {"case": REGENERATE_CASE, "limit_ms": REGENERATE_LIMIT_MS, "median_ms": value,
                                    "met": bool(value <= REGENERATE_LIMIT_MS)}

    child = subprocess.run([sys.executable, "-m", "drumgen.bench", "--memory-child", "--checkpoint", checkpoint,
                            "--threads", str(args.threads)], capture_output=True, text=True, check=True)
    mem = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"memory: peak RSS {mem['peak_mb']:.0f} MB for a process that imports drumgen, loads the checkpoint, "
          f"generates 2, 8 and 32 bars and runs the 16-bar MIDI path; loading + generating add "
          f"{mem['rss_after_mb'] - mem['rss_before_load_mb']:.0f} MB to the {mem['rss_before_load_mb']:.0f} MB of the imports")
    figures["memory"] = mem
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
