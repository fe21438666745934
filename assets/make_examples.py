"""Writes the example grooves in assets/ (deterministic; rerun to rebuild them).

    python assets/make_examples.py
"""
from pathlib import Path

import mido
import numpy as np

HERE = Path(__file__).resolve().parent
TPB = 480
SIXTEENTH = TPB // 4


def write(name: str, bpm: float, notes: list[tuple[float, int, int, int]], program: int = 0) -> None:
    """notes: (position in 16ths, pitch, velocity, length in 16ths) on channel 1."""
    mid = mido.MidiFile(type=1, ticks_per_beat=TPB)
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)),
                           mido.MetaMessage("time_signature", numerator=4, denominator=4)])
    mid.tracks.append(meta)
    events = []
    for pos, pitch, vel, length in notes:
        start = max(0, int(round(pos * SIXTEENTH)))
        events.append((start, 1, mido.Message("note_on", channel=0, note=pitch, velocity=vel)))
        events.append((start + int(length * SIXTEENTH), 0, mido.Message("note_off", channel=0, note=pitch, velocity=0)))
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=name.replace("_", " ")),
                            mido.Message("program_change", channel=0, program=program)])
    now = 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=tick - now))
        now = tick
    mid.tracks.append(track)
    mid.save(str(HERE / f"{name}.mid"))


def main() -> None:
    rng = np.random.default_rng(7)
    # A rhythm tapped on one key: a syncopated two-bar figure, played four times, slightly loose.
    figure = [0, 3, 6, 8, 10, 14, 16, 19, 22, 24, 27, 30]
    accents = {0: 110, 8: 100, 16: 105, 24: 100}
    tapped = [(bar * 32 + s + rng.normal(0, 0.08), 60, accents.get(s, 75) + int(rng.integers(-8, 8)), 1)
              for bar in range(4) for s in figure]
    write("tapped_rhythm", 100, tapped)
    # A funk bass line (electric bass, program 33), swung 16ths.
    line = [(0, 40, 2), (3, 40, 1), (4, 52, 1), (6, 40, 1), (8, 43, 2), (10, 45, 1), (11, 47, 1), (14, 40, 1),
            (16, 40, 2), (19, 40, 1), (20, 52, 1), (22, 50, 1), (24, 47, 2), (27, 45, 1), (28, 43, 2), (30, 42, 1)]
    bass = [(rep * 32 + s + (0.12 if s % 2 else 0) + rng.normal(0, 0.04), p, int(rng.integers(80, 115)), d)
            for rep in range(4) for s, p, d in line]
    write("funk_bass", 96, bass, program=33)


if __name__ == "__main__":
    main()
