"""Speed of the web page's Generate: from the button to every output, for a 16-bar groove.

    python -m drumgen.bench_app [--model controlled|mgvae | --checkpoint P] [--threads 1] [--through-app]

"Generate" is `webapp.DrumApp.run` as the page calls it: read the MIDI file and the lanes (a
density ramp, an intensity curve, a muted ride, a style), generate, write both MIDI files, draw the
piano roll (PNG) and render both audio previews (FluidSynth, FLAC); median over `--repeats` calls
after a warm-up, with each stage's share. `--through-app` also times the same request through the
real app on a local port with gradio_client (upload, queue, outputs copied to Gradio's cache and
downloaded), as a person's browser would wait for it. The target: under 1 s on 2 CPU cores for
16 bars.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

BARS = 16
TARGET_SECONDS = 1.0
STAGES = ("read", "generate", "midi", "figure", "audio")


def example_lanes(bars: int = BARS) -> dict:
    """The lanes of the case: density 0.3 -> 0.8, an intensity curve, the ride muted (the rest free)."""
    return {"density": [round(0.3 + 0.5 * b / (bars - 1), 3) for b in range(bars)],
            "intensity": [0.5, 0.55, 0.6, 0.7, 0.8] + [0.8] * (bars - 5),
            "ride": [0] * bars}


def _through_app(drums, path: Path, model: str, repeats: int) -> np.ndarray:
    """Seconds of /generate through the real app and gradio_client, `repeats` calls after one warm-up."""
    import socket

    from gradio_client import Client, handle_file

    import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = app.build_app(drums)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, **app.launch_options())
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        args = (handle_file(str(path)), "all", example_lanes(), "funk", model, 1.0, 0)
        client.predict(*args, api_name="/generate")
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            client.predict(*args, api_name="/generate")
            times.append(time.perf_counter() - t)
        return np.array(times)
    finally:
        demo.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=None, help="any model checkpoint; overrides --model")
    parser.add_argument("--model", default=None, help="a shipped model: controlled or mgvae (default: controlled "
                                                      "when its checkpoint is there, else mgvae)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads, as the app sets them (default 1)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--through-app", action="store_true", help="also time /generate through the real app")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

    import torch

    from drumgen import bench, webapp
    from drumgen.audio import audio_unavailable_reason
    from drumgen.models.checkpoint import SHIPPED, default_checkpoint

    torch.set_num_threads(args.threads)
    checkpoint = Path(args.checkpoint or default_checkpoint(args.model))
    name = args.model or ("controlled" if checkpoint == SHIPPED["controlled"] else "mgvae")
    work = Path(tempfile.mkdtemp(prefix="drumgen-bench-app-"))
    path = work / "groove_16_bars.mid"
    path.write_bytes(bench.example_groove_midi(BARS))
    drums = webapp.DrumApp({name: checkpoint}, work_dir=work / "requests")
    t = time.perf_counter()
    drums.warm_up()
    warm_s = time.perf_counter() - t
    kind = drums.model(name).kind
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cpus = os.cpu_count() or 1
    audio = audio_unavailable_reason()
    print(f"{checkpoint}: {kind}; torch {args.threads} thread(s); warm-up (load, first figure, SoundFont) {warm_s:.1f} s")
    print(f"machine: {cpus} CPUs, load average {load:.1f} before the run"
          + (" (other work shares the CPUs: figures are pessimistic)" if load > 0.5 * cpus else ""))
    if audio:
        print(f"audio: {audio} (the audio stage is skipped)")

    def generate():
        return drums.run(str(path), "all", example_lanes(), "funk", name, 1.0, 0)

    generate()
    results = []
    for _ in range(max(1, args.repeats)):
        t = time.perf_counter()
        result = generate()
        results.append((time.perf_counter() - t, result.timings))
    totals = np.array([r[0] for r in results])
    stages = {s: float(np.median([r[1].get(s, 0.0) for r in results])) for s in STAGES}
    total = float(np.median(totals))
    sizes = {label: os.path.getsize(p) / 1024 for label, p in
             (("figure", result.figure), ("mix", result.mix), ("drums audio", result.drums_audio),
              ("drums MIDI", result.drums_midi), ("merged MIDI", result.merged_midi)) if p}
    print(f"\nGenerate, {BARS} bars ({webapp.midi.read_song(path).bpm:.0f} BPM), median of {len(totals)} calls: "
          f"{total * 1e3:.0f} ms (p90 {np.percentile(totals, 90) * 1e3:.0f} ms)")
    print("| stage | median ms | share |")
    print("|---|---|---|")
    for stage in STAGES:
        print(f"| {stage} | {stages[stage] * 1e3:.1f} | {stages[stage] / max(sum(stages.values()), 1e-9):.0%} |")
    print("outputs: " + ", ".join(f"{k} {v:.0f} KB" for k, v in sizes.items()))
    figures = {"checkpoint": str(checkpoint), "kind": kind, "threads": args.threads, "cpus": cpus, "load_average": load,
               "bars": BARS, "calls": len(totals), "median_ms": total * 1e3,
               "p90_ms": float(np.percentile(totals, 90) * 1e3),
               "stages_median_ms": {k: v * 1e3 for k, v in stages.items()}, "output_kb": sizes, "audio": audio is None}
    if args.through_app:
        app_s = _through_app(drums, path, name, max(1, args.repeats))
        figures["through_app_median_ms"] = float(np.median(app_s) * 1e3)
        print(f"through the app (gradio_client on this machine: upload, queue, outputs fetched): median "
              f"{np.median(app_s) * 1e3:.0f} ms of {len(app_s)} calls")
    met = total <= TARGET_SECONDS
    figures["target"] = {"seconds": TARGET_SECONDS, "met": met}
    print(f"target (issue #8): Generate to every output for {BARS} bars in under {TARGET_SECONDS:.0f} s on 2 CPU "
          f"cores: {'met' if met else 'NOT met'} ({total:.2f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
