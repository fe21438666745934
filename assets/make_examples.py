"""Writes the example grooves in assets/ (deterministic; rerun to rebuild them).

    python assets/make_examples.py
"""
from pathlib import Path

import mido
import numpy as np

HERE = Path(__file__).resolve().parent
TPB = 480
SIXTEENTH = TPB // 4


def write(name: str, bpm: float, notes: list[tuple[float, int, int, int]], program: int = 0,
          more: tuple[tuple[str, list, int, int], ...] = (), channel: int = 0, track_name: str | None = None,
          meters: tuple[tuple[int, int, int], ...] = ((0, 4, 4),)) -> None:
    """notes: (position in 16ths, pitch, velocity, length in 16ths) on MIDI channel `channel` (0-based)
    in a track named `track_name` (default: after the file); `more`: further (name, notes, program,
    channel) tracks; meters: (position in 16ths, numerator, denominator) time signatures."""
    mid = mido.MidiFile(type=1, ticks_per_beat=TPB)
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))])
    now = 0
    for pos, n, d in meters:
        meta.append(mido.MetaMessage("time_signature", numerator=n, denominator=d, time=pos * SIXTEENTH - now))
        now = pos * SIXTEENTH
    mid.tracks.append(meta)
    first = (track_name or name.replace("_", " "), notes, program, channel)
    for name_, notes_, program_, channel_ in (first, *more):
        mid.tracks.append(_track(name_, notes_, program_, channel_))
    mid.save(str(HERE / f"{name}.mid"))


def _track(name: str, notes: list[tuple[float, int, int, int]], program: int, channel: int) -> mido.MidiTrack:
    events = []
    for pos, pitch, vel, length in notes:
        start = max(0, int(round(pos * SIXTEENTH)))
        events.append((start, 1, mido.Message("note_on", channel=channel, note=pitch, velocity=vel)))
        events.append((start + int(length * SIXTEENTH), 0,
                       mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=name)])
    if channel != 9:  # channel 10 plays the drum kit: no program
        track.append(mido.Message("program_change", channel=channel, program=program))
    now = 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=tick - now))
        now = tick
    return track


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

    rng = np.random.default_rng(11)  # its own generator: the files above stay as they were
    # A 16-bar song with two tracks (a bass line and keys), to choose the groove from: an 8-bar verse
    # (roots in 8ths, a push into each bar), an 8-bar chorus (busier 16ths, keys stabbing the off-beats)
    # and a last-bar fill. A minor: Am F C G.
    roots = [45, 41, 48, 43]
    verse = [(0, 0, 2), (3, 0, 1), (4, 0, 2), (8, 0, 2), (10, 12, 1), (12, 0, 2), (14, 7, 1), (15, 0, 1)]
    chorus = [(0, 0, 1), (2, 0, 1), (3, 12, 1), (6, 0, 1), (8, 0, 1), (10, 7, 1), (11, 0, 1), (12, 12, 1),
              (14, 0, 1), (15, 10, 1)]
    fill = [(0, 0, 1), (2, 3, 1), (4, 5, 1), (6, 7, 1), (8, 10, 1), (9, 12, 1), (10, 10, 1), (11, 7, 1),
            (12, 5, 1), (13, 3, 1), (14, 2, 1), (15, 0, 1)]
    bass16, keys = [], []
    for bar in range(16):
        root = roots[bar % 4]
        pattern = fill if bar == 15 else chorus if bar >= 8 else verse
        for s, interval, d in pattern:
            accent = 112 if s in (0, 8) else 92
            bass16.append((bar * 16 + s + rng.normal(0, 0.05), root + interval, accent + int(rng.integers(-10, 8)), d))
        chord = [root + 24, root + 24 + (3 if root in (45,) else 4), root + 31]
        if bar < 8:   # a sustained chord on each bar line
            keys += [(bar * 16 + rng.normal(0, 0.03), p, 70 + int(rng.integers(-6, 6)), 15) for p in chord]
        elif bar < 15:  # stabs on the off-beats of 2 and 4
            keys += [(bar * 16 + s + rng.normal(0, 0.03), p, 88 + int(rng.integers(-8, 8)), 1)
                     for s in (6, 14) for p in chord]
    write("bass_and_keys", 110, bass16, program=33, more=(("keys", keys, 4, 1),), track_name="bass")
    # A 4-bar son clave (3-2) on the claves of the General MIDI drum kit (channel 10), straight.
    clave = [(bar * 32 + s, 75, 100 if s in (0, 16) else 88, 1) for bar in range(2) for s in (0, 6, 12, 20, 24)]
    write("son_clave", 105, clave, channel=9)

    rng = np.random.default_rng(13)  # the meters' examples, each from its own generator
    # A waltz bass line in 3/4 (acoustic bass, program 32): root on 1, fifth on 2 and 3, 16 bars.
    waltz = []
    for bar in range(16):
        root = (43, 48, 50, 43)[bar // 4 % 4]
        for beat, interval in ((0, 0), (4, 7), (8, 12)):
            waltz.append((bar * 12 + beat + rng.normal(0, 0.05), root + interval,
                          (108 if beat == 0 else 80) + int(rng.integers(-8, 8)), 3))
    write("waltz_bass", 132, waltz, program=32, meters=((0, 3, 4),))
    # A 6/8 ballad's piano left hand: eighths in two groups of three, the first of each louder, 8 bars.
    ballad = []
    for bar in range(8):
        root = (45, 41, 48, 43)[bar % 4]
        for i, interval in enumerate((0, 7, 12, 16, 12, 7)):
            ballad.append((bar * 12 + 2 * i + rng.normal(0, 0.06), root + interval,
                           (100 if i in (0, 3) else 70) + int(rng.integers(-6, 6)), 2))
    write("ballad_6_8", 66, ballad, meters=((0, 6, 8),))
    # A riff whose meter changes: 4 bars of 4/4, a bar of 2/4, 4 bars of 7/8 (2+2+3), 4 of 4/4.
    riff, at = [], 0
    for meter, count in (((4, 4), 4), ((2, 4), 1), ((7, 8), 4), ((4, 4), 4)):
        steps = meter[0] * 16 // meter[1]
        hits = {16: (0, 3, 6, 8, 10, 14), 8: (0, 3, 6), 14: (0, 3, 4, 8, 11)}[steps]
        for _ in range(count):
            riff += [(at + s + rng.normal(0, 0.04), 40 + (12 if s == 8 else 0), (110 if s == 0 else 88)
                      + int(rng.integers(-8, 8)), 1) for s in hits]
            at += steps
    write("changing_meters", 120, riff, program=33, meters=((0, 4, 4), (64, 2, 4), (72, 7, 8), (128, 4, 4)))


def recording() -> None:
    """bass_take.ogg: a recording for the page's example (the bass riff below played through drumgen's
    SoundFont, mono, half a second of silence before bar 1, as a take starts), 4 bars at 100 BPM."""
    import sys

    sys.path.insert(0, str(HERE.parent))
    from drumgen import audio

    rng = np.random.default_rng(15)
    riff = []
    for bar in range(4):
        root = (40, 40, 45, 43)[bar]
        for step, interval, velocity in ((0, 0, 118), (3, 0, 84), (6, 12, 96), (8, 0, 112), (10, 7, 86), (12, 0, 104),
                                         (14, 10, 80)):
            riff.append((bar * 16 + step + rng.normal(0, 0.04), root + interval, velocity + int(rng.integers(-6, 6)), 2))
    write("bass_take_source", 100, riff, program=33)
    source = HERE / "bass_take_source.mid"
    samples = audio.render_audio(source, sample_rate=22050).mean(axis=1)
    source.unlink()
    lead = np.zeros(int(0.5 * 22050), np.float32)
    audio.write_audio(audio.normalized(np.concatenate([lead, samples]) * 0.7) * 0.7, HERE / "bass_take.ogg", 22050,
                      "OGG")


if __name__ == "__main__":
    main()
    recording()
