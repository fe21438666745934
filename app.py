"""drumgen demo. Until the web app lands, this runs the command-line demo:

    python app.py [groove.mid] [-o drums.mid]

It turns the groove (default: assets/tapped_rhythm.mid) into drums with the shipped checkpoint,
writes the drum MIDI and prints the drum grid.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from drumgen import midi, pipeline
from drumgen.render import hvo_to_text

ROOT = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="drumgen demo: a MIDI rhythm in, a drum part out")
    parser.add_argument("input", nargs="?", default=str(ROOT / "assets" / "tapped_rhythm.mid"))
    parser.add_argument("-o", "--output", default=str(ROOT / "out" / "drums.mid"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        model = pipeline.load_default_model()
        song, hvo, out = pipeline.midi_to_drum_midi(model, args.input, seed=args.seed)
    except (midi.MidiError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    midi.write_midi(out, args.output)
    shown = min(song.n_bars, 4)
    print(f"{args.input}: {song.n_bars} bars at {song.bpm:.1f} BPM -> {args.output}")
    print(f"first {shown} bars (KD kick ... RD ride; 'in' is your groove; X loud, x medium, . soft):\n")
    print(hvo_to_text(hvo, midi.song_to_groove(song), max_bars=shown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
