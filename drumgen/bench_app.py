"""Speed of the web page's Generate: from the button to every output, for a 16-bar groove.

    python -m drumgen.bench_app [--model controlled|mgvae | --checkpoint P] [--threads 1] [--through-app] [--fairness]

"Generate" is `webapp.DrumApp.run` as the page calls it: read the MIDI file and the lanes (a
density ramp, an intensity curve, a muted ride, a style), generate, write both MIDI files, make the
take's value for the page's grid (drawn in the browser: the PNG piano roll it replaced cost a third of
Generate) and render both audio previews (one FluidSynth pass, mono Ogg Vorbis); median over `--repeats` calls
after a warm-up, with each stage's share. `--through-app` also times the same request through the
real app on a local port with gradio_client (upload, queue, outputs copied to Gradio's cache and
downloaded), as a person's browser would wait for it. `--fairness` sends two worst-case songs
(2,048 bars at 830 BPM) to the real app, then a 16-bar request, and times the short one (issue 17:
under 5 s). Targets (issue 16): 16 bars in under 0.5 s on 2 CPU cores, under 1 s through
gradio_client, the two previews under 1 MB together.
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
TARGET_SECONDS = 0.5
TARGET_APP_SECONDS = 1.0
TARGET_PREVIEW_KB = 1024
FAIR_SECONDS = 5.0
STAGES = ("read", "generate", "midi", "take", "audio")


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


def _fairness(drums, work: Path, model: str) -> dict:
    """Seconds of a 16-bar /generate sent just after two 2,048-bar songs at 830 BPM (and theirs)."""
    import socket
    import threading

    from gradio_client import Client, handle_file

    import app
    from drumgen import bench

    long_path, short_path = work / "long_2048_bars.mid", work / "short_16_bars.mid"
    long_path.write_bytes(bench.example_groove_midi(2048, 830.0))
    short_path.write_bytes(bench.example_groove_midi(BARS))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = app.build_app(drums)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, **app.launch_options())
    url, out = f"http://127.0.0.1:{port}/", {}
    try:
        Client(url, verbose=False).predict(handle_file(str(short_path)), "all", {}, "any", model, 1.0, 0,
                                           api_name="/generate")  # warm

        def call(key, path):
            t = time.perf_counter()
            try:
                Client(url, verbose=False).predict(handle_file(str(path)), "all", {}, "any", model, 1.0, 0,
                                                   api_name="/generate")
                out[key] = time.perf_counter() - t
            except Exception as exc:  # reported in the figures
                out[key] = f"{type(exc).__name__}: {str(exc)[:120]}"

        longs = [threading.Thread(target=call, args=(f"long_{i}_s", long_path)) for i in range(2)]
        for t in longs:
            t.start()
        time.sleep(3.0)  # both long songs are in: one is being made, one waits in the long lane
        call("short_s", short_path)
        for t in longs:
            t.join()
    finally:
        demo.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=None, help="any model checkpoint; overrides --model")
    parser.add_argument("--model", default=None, help="a shipped model: controlled or mgvae (default: controlled "
                                                      "when its checkpoint is there, else mgvae)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads, as the app sets them (default 1)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--through-app", action="store_true", help="also time /generate through the real app")
    parser.add_argument("--fairness", action="store_true", help="also time a 16-bar request behind two 2,048-bar ones")
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
    print(f"{checkpoint}: {kind}; torch {args.threads} thread(s); warm-up (load, matplotlib, SoundFont) {warm_s:.1f} s")
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
             (("mix", result.mix), ("drums audio", result.drums_audio),
              ("drums MIDI", result.drums_midi), ("merged MIDI", result.merged_midi)) if p}
    print(f"\nGenerate, {BARS} bars ({webapp.midi.read_song(path).bpm:.0f} BPM), median of {len(totals)} calls: "
          f"{total * 1e3:.0f} ms (p90 {np.percentile(totals, 90) * 1e3:.0f} ms)")
    print("| stage | median ms | share |")
    print("|---|---|---|")
    for stage in STAGES:
        print(f"| {stage} | {stages[stage] * 1e3:.1f} | {stages[stage] / max(sum(stages.values()), 1e-9):.0%} |")
    sizes["take (JSON)"] = len(json.dumps(result.take)) / 1024
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
    if args.fairness:
        fair = _fairness(drums, work, name)
        figures["fairness"] = fair
        short = fair.get("short_s")
        print(f"fairness: a {BARS}-bar request behind two 2,048-bar songs at 830 BPM answered in "
              + (f"{short:.1f} s" if isinstance(short, float) else str(short))
              + f" (target under {FAIR_SECONDS:.0f} s); the long ones: "
              + ", ".join(f"{v:.0f} s" if isinstance(v, float) else str(v) for k, v in fair.items() if k != "short_s"))
    previews_kb = sizes.get("mix", 0) + sizes.get("drums audio", 0)
    met = total <= TARGET_SECONDS
    figures["target"] = {"seconds": TARGET_SECONDS, "met": met, "previews_kb": previews_kb,
                         "previews_met": previews_kb < TARGET_PREVIEW_KB}
    print(f"target (issue #8, #16): Generate to every output for {BARS} bars in under {TARGET_SECONDS} s on 2 CPU "
          f"cores: {'met' if met else 'NOT met'} ({total:.2f} s); previews {previews_kb:.0f} KB together "
          f"(under {TARGET_PREVIEW_KB} KB: {'met' if previews_kb < TARGET_PREVIEW_KB else 'NOT met'})")
    if args.through_app:
        print(f"  through the app: under {TARGET_APP_SECONDS:.0f} s: "
              f"{'met' if figures['through_app_median_ms'] <= TARGET_APP_SECONDS * 1e3 else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
