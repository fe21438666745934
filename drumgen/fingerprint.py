"""The drums the shipped models make, kept so a change meant to keep behaviour can show that it does.

    python -m drumgen.fingerprint --data groove-v1.0.0-midionly.zip -o before.npz   # on the old code
    python -m drumgen.fingerprint --data groove-v1.0.0-midionly.zip -o after.npz    # on the new code
    python -m drumgen.fingerprint --compare before.npz after.npz                    # exit 1 if any differ

What is recorded, for each shipped model:
* every `generate` call the fidelity script makes on its windows (GMD split, 8-bar windows: true
  controls, all free, density and intensity plans, mutes, raised shares, styles; with and without
  steering for a model that learnt the controls), each output HVO whole;
* the example grooves in assets/ through the command line's path (`drumgen.cli.main`: controls as
  typed) and through the page's Generate (`DrumApp.generate`: lanes as a caller sends them), each
  written MIDI file as bytes, the page's summary text and its audio as samples.

Only public entry points are called (load_model, generate, the CLI, the page's Generate), so the
same script runs on the code before and after a reshape. `--compare` says which records differ and
by how much; bit for bit means every array and every byte equal.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLI_CASES = {  # name -> command-line options
    "free": [],
    "shaped": ["--density", "0.2-0.9", "--intensity", "0.5,0.6,0.8", "--mute", "ride,crash", "--weight", "snare=0.25",
               "--style", "funk", "--seed", "3"],
    "weights": ["--weight", "kick=0.3,hat=0.2-0.5", "--temperature", "1.5", "--seed", "5"],
    "silent_bars": ["--play-silent-bars", "--intensity", "0.9", "--seed", "2"],
}
LANE_CASES = {  # name -> (lanes as a caller sends them, style, temperature, seed)
    "free": (None, "any", 1.0, 0),
    "painted": ({"density": [0.2, 0.4, 0.6, 0.8], "intensity": 0.7, "ride": [0, 0], "snare": [None, 0.3]},
                "rock", 1.0, 7),
    "clamped": ({"density": [1.4, -0.2, "0.5"], "kick": [0.8, 0.8], "closed_hat": [0.6, 0.6], "Open-Hat": 0.1},
                "funk", 2.5, 11),
    "text": ('{"intensity": [0.3, null, 0.9], "hihat": 0.5}', "jazz", 0.0, 1),
}


def shipped(name: str) -> Path:
    return ROOT / "checkpoints" / f"{name}_gmd.pth"


class Recorder:
    """A model whose every generate output is kept in order."""

    def __init__(self, model, prefix: str, records: dict):
        self.model, self.prefix, self.records = model, prefix, records

    def generate(self, groove, controls=None, **kwargs):
        out = self.model.generate(groove, controls, **kwargs)
        self.records[f"{self.prefix}/call{len([k for k in self.records if k.startswith(self.prefix + '/')]):03d}"] = out
        return out


def fidelity_records(checkpoint: Path, name: str, data_zip: str | None, split: str, limit: int, records: dict) -> None:
    from . import data, fidelity
    from .models.checkpoint import load_model

    windows = data.load_split(split, data_zip, n_bars=fidelity.N_BARS)
    pick = fidelity.spread(len(windows), limit)
    model = load_model(checkpoint)
    learns = model.learns_controls
    for steer in ((False, True) if learns else (None,)):
        label = f"fidelity/{name}/" + {None: "default", False: "learnt_only", True: "steered"}[steer]
        fidelity.evaluate_model(Recorder(model, label, records), windows.hvo[pick], windows.style[pick], None,
                                fidelity.STYLES_ASKED, 0, 1.0, 256, steer)


def example_records(name: str, records: dict, work: Path) -> None:
    import gradio as gr
    import soundfile

    from . import cli, webapp

    examples = sorted((ROOT / "assets").glob("*.mid"))
    for example in examples:
        for case, options in CLI_CASES.items():
            out = work / f"cli_{name}_{example.stem}_{case}.mid"
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                code = cli.main(["generate", str(example), "-o", str(out), "--model", name, "--merge", *options])
            records[f"cli/{name}/{example.stem}/{case}"] = np.frombuffer(out.read_bytes() if code == 0 else b"", np.uint8)
    drums = webapp.DrumApp({name: shipped(name)}, work_dir=work / f"app_{name}")
    for example in examples:
        for case, (lanes, style, temperature, seed) in LANE_CASES.items():
            key = f"app/{name}/{example.stem}/{case}"
            try:
                _png, mix, alone, drums_mid, merged_mid, summary = drums.generate(
                    str(example), "all", lanes, style, name, temperature, seed, progress=None)
            except gr.Error as refused:  # a model that does not play the example's meter says so: kept as said
                records[key + "/refused"] = np.frombuffer(str(refused.message).encode(), np.uint8)
                continue
            records[key + "/drums_mid"] = np.frombuffer(Path(drums_mid).read_bytes(), np.uint8)
            records[key + "/merged_mid"] = np.frombuffer(Path(merged_mid).read_bytes(), np.uint8)
            records[key + "/summary"] = np.frombuffer(summary.encode(), np.uint8)
            for label, path in (("mix", mix), ("alone", alone)):
                if path:
                    records[f"{key}/{label}"] = soundfile.read(path, dtype="int16")[0]


def compare(a_path: str, b_path: str) -> int:
    a, b = np.load(a_path), np.load(b_path)
    keys = sorted(set(a.files) | set(b.files))
    differ = []
    for key in keys:
        if key not in a.files or key not in b.files:
            differ.append(f"{key}: only in {'the first' if key in a.files else 'the second'}")
            continue
        x, y = a[key], b[key]
        if x.shape != y.shape or x.dtype != y.dtype:
            differ.append(f"{key}: shape/dtype {x.shape} {x.dtype} vs {y.shape} {y.dtype}")
        elif not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            diff = np.abs(x.astype(np.float64) - y.astype(np.float64))
            differ.append(f"{key}: {int((diff > 0).sum())} of {x.size} values differ (max {diff.max():g})")
    print(f"{len(keys)} records, {len(keys) - len(differ)} identical, {len(differ)} differ")
    for line in differ:
        print("  " + line)
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", help="where to write the records (.npz)")
    parser.add_argument("--data", default=None, help="GMD zip (for the fidelity windows)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=0, help="fidelity windows spread over the split (0: all)")
    parser.add_argument("--models", default="controlled,mgvae")
    parser.add_argument("--skip-fidelity", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"))
    args = parser.parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    if not args.output:
        parser.error("-o/--output or --compare is needed")
    import torch

    torch.set_num_threads(args.threads)
    records: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            if not args.skip_fidelity:
                fidelity_records(shipped(name), name, args.data, args.split, args.limit, records)
            example_records(name, records, Path(tmp))
    np.savez_compressed(args.output, **{k.replace("/", "|"): v for k, v in records.items()})
    print(f"wrote {args.output}: {len(records)} records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
