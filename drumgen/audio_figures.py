"""How well drumgen hears a recording: the figures of audio in (issue #15), on audio rendered here.

    python -m drumgen.audio_figures --data groove-v1.0.0-midionly.zip [--limit N] [--split test]
                                    [--out runs/figures/audio] [--speed] [--no-drums]

What is played. Grooves from two sources, each written as a MIDI file and rendered with FluidSynth
(`drumgen.audio.render_audio`, the SoundFont in soundfonts/, its reverb and chorus as they are):

* GMD: the monotonic groove (`drumgen.hvo.hvo_to_groove`: the loudest hit of each 16th with its
  velocity and micro-timing) of a stretch of each 4/4 performance of a split (test by default;
  tune on `--split validation`), starting on a bar whose first step has a hit;
* made: a bass line, a piano comping pattern, a strummed guitar (six strings 9 ms apart, down and up
  strums) and a woodblock tap pattern, humanised (offsets ~ N(0, 0.06) steps, varied velocity);

each played by one of four General MIDI patches in turn: fingered bass (program 33), grand piano
(0), steel-string guitar (25), woodblock (115). A stretch lasts about 20 s (8 to 16 bars: 12-27 s),
after 0.5-1.0 s of silence. Tempos are spread evenly from 70 to 180 BPM (np.linspace over the files,
shuffled with a fixed seed): the MIDI is re-timed, not the audio stretched. Every file is heard twice:
clean, and with noise: white or pink noise (alternating) at 20 dB SNR against the music's RMS, plus
a 50 Hz mains hum with two harmonics at 35 dB below it.

The truth comes from the MIDI: onset times are its note-ons through its tempo map (notes closer than
30 ms, a chord or a strum, count as one onset, the first), the tempo is the one written, bar 1 is
tick 0 (after the silence) and the groove is `midi.song_to_groove(midi.read_song(the MIDI))`.

Figures (targets of the issue in brackets):

1. onset F1 within 50 ms, one-to-one matching (pairs taken closest first) [>= 0.95 clean,
   >= 0.90 noisy]; librosa's `onset_detect` with its defaults as a reference;
2. tempo within 4% of the truth (half or double counted as errors) [>= 95% of files];
3. 16th-step groove F1 against the MIDI's groove, hits on the same step of the same bar, with the
   tempo detected and bar 1 found by drumgen's own rule, and with bar 1 given (the true time)
   [>= 0.90];
   beside it, each heard onset's velocity against the MIDI velocity of the note it is matched to
   (the nearest within 50 ms): Spearman rho and the mean absolute error (velocities 0-1);
4. the drums from the audio's groove, as `pipeline.make_drums` has the model hear it (its timing
   steadied: `pipeline.heard_groove`), against the drums from the MIDI's groove (the shipped model
   checkpoints/controlled_gmd.pth, seed 0, the common bars), hit F1 [>= 0.80];
5. with --speed: a 30 s recording (a WAV file) to every output (hear, groove, generate, the drum MIDI:
   `pipeline.make_drums`), after a warm-up, median of 5 on 2 threads [< 2 s].

Rendered audio is cached under OUT/cache (a file per MIDI and noise). The figures go to stdout and
OUT/audio_figures.json.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np

from . import hvo as H
from . import midi, pipeline

PATCHES = {"bass": 33, "piano": 0, "guitar": 25, "woodblock": 115}
MADE = ("bass line", "piano comping", "guitar strum", "woodblock taps")
TEMPO_RANGE = (70.0, 180.0)
TARGET_SECONDS = 20.0
MIN_BARS, MAX_BARS = 8, 16
SNR_DB = 20.0
HUM_DB = 35.0
WINDOW = 0.05            # onset match window, s
CHORD_GAP = 0.03         # truth onsets closer than this are one onset
RATE = 44100
TPB = 480
TARGETS = {"onset_f1_clean": 0.95, "onset_f1_noisy": 0.90, "tempo_within_4pct": 0.95,
           "groove_f1": 0.90, "drums_f1": 0.80, "speed_s": 2.0}


# ------------------------------------------------------------------------------------------ grooves

@dataclass
class Case:
    name: str
    source: str           # "gmd" or "made"
    groove: np.ndarray    # (T, 3), T a multiple of 16
    patch: str
    bpm: float
    lead: float           # seconds of silence before bar 1
    seed: int
    program: int | None = None   # another General MIDI program played as `patch` is (train/onsets.py)
    transpose: int = 0           # semitones
    legato: float = 1.0          # share of the time to the next note a note is held (train/onsets.py: staccato too)


def gmd_grooves(zip_path: str, split: str) -> list[tuple[str, np.ndarray]]:
    """(name, the monotonic groove of the whole performance) for each 4/4 file of a split (most short
    ones are fills of a bar or two: make_cases keeps the files of MIN_BARS or more)."""
    out = []
    with zipfile.ZipFile(zip_path) as z:
        rows = list(csv.DictReader(io.StringIO(z.read("groove/info.csv").decode("utf-8"))))
        for row in rows:
            if row["split"] != split or row["time_signature"] != "4-4":
                continue
            song = midi.read_song(z.read("groove/" + row["midi_filename"]))
            hvo, _ = midi.song_to_hvo(song)
            out.append((row["id"], H.hvo_to_groove(hvo)))
    return out


def gmd_stretch(groove: np.ndarray, n_bars: int) -> np.ndarray | None:
    """n_bars of the groove from the first bar (of the middle of the file when it is long) whose first
    step has a hit; None when the file is too short."""
    bars = len(groove) // 16
    if bars < n_bars:
        return None
    candidates = [b for b in range(bars - n_bars + 1) if groove[16 * b, 0] > 0.5
                  and groove[16 * b: 16 * (b + n_bars), 0].sum() >= 4 * n_bars]
    if not candidates:
        return None
    middle = (bars - n_bars) // 2
    start = min(candidates, key=lambda b: (abs(b - middle) > 2, b))  # near the start of the middle stretch
    return groove[16 * start: 16 * (start + n_bars)].copy()


def made_groove(kind: str, n_bars: int, rng: np.random.Generator) -> np.ndarray:
    """A humanised groove of one of the MADE kinds, n_bars long, a hit on bar 1's first step."""
    patterns = {  # a 2-bar pattern of 32 steps: velocity levels (0 = rest)
        "bass line": [9, 0, 0, 6, 0, 0, 8, 0, 9, 0, 5, 0, 0, 7, 0, 0, 9, 0, 0, 6, 0, 0, 8, 0, 9, 0, 0, 5, 8, 0, 6, 0],
        "piano comping": [9, 0, 0, 0, 0, 0, 7, 0, 0, 0, 8, 0, 0, 0, 6, 0, 9, 0, 0, 6, 0, 0, 0, 0, 8, 0, 0, 0, 7, 0, 0, 0],
        "guitar strum": [9, 0, 6, 0, 8, 0, 6, 5, 0, 5, 7, 0, 8, 0, 6, 0, 9, 0, 6, 0, 8, 0, 6, 5, 0, 5, 7, 0, 8, 0, 6, 5],
        "woodblock taps": [9, 0, 0, 7, 0, 0, 8, 0, 0, 0, 8, 0, 9, 0, 0, 0, 0, 0, 8, 0, 9, 0, 0, 0, 8, 0, 0, 7, 0, 0, 6, 0],
    }
    base = np.tile(np.array(patterns[kind], np.float64), n_bars // 2 + 1)[:16 * n_bars]
    groove = np.zeros((16 * n_bars, 3), np.float32)
    on = base > 0
    if kind != "guitar strum":  # a few variations: drop or add a 16th now and then
        flip = rng.random(len(base)) < 0.04
        flip[::16] = False
        on = on ^ flip
    groove[on, 0] = 1
    level = np.where(base > 0, base, 6) / 9.0
    groove[on, 1] = np.clip(level[on] * rng.uniform(0.8, 1.05, on.sum()), 0.25, 1.0)
    groove[on, 2] = np.clip(rng.normal(0, 0.06, on.sum()), -0.3, 0.3)
    groove[0, 2] = 0.0
    return groove


def bars_for(bpm: float) -> int:
    return int(np.clip(round(TARGET_SECONDS / (240.0 / bpm)), MIN_BARS, MAX_BARS))


def make_cases(zip_path: str, split: str, limit: int, seed: int = 0) -> list[Case]:
    """Half GMD stretches, half made grooves (limit: about that many files in all; 0: every GMD file
    of the split and as many made ones)."""
    grooves = [(name, g) for name, g in gmd_grooves(zip_path, split) if gmd_stretch(g, MIN_BARS) is not None]
    n_gmd = len(grooves) if not limit else min(len(grooves), (limit + 1) // 2)
    pick = np.unique(np.linspace(0, len(grooves) - 1, n_gmd).round().astype(int)) if n_gmd else []
    n_made = n_gmd if not limit else max(limit - len(pick), 0)
    n = len(pick) + n_made
    rng = np.random.default_rng(seed)
    tempos = rng.permutation(np.linspace(*TEMPO_RANGE, max(n, 1)))
    patches = list(PATCHES)
    cases = []
    for i, index in enumerate(pick):
        name, groove = grooves[index]
        bpm = float(tempos[len(cases)])
        stretch = gmd_stretch(groove, bars_for(bpm))
        if stretch is None:  # a shorter file: what it has, at least MIN_BARS
            stretch = gmd_stretch(groove, max(b for b in range(MIN_BARS, bars_for(bpm))
                                              if gmd_stretch(groove, b) is not None))
        cases.append(Case(f"gmd {name}", "gmd", stretch, patches[i % 4], bpm, 0.5 + 0.5 * rng.random(), 1000 + i))
    for j in range(n_made):
        bpm = float(tempos[min(len(cases), n - 1)])
        kind = MADE[j % 4]
        patch = patches[(j + j // 4) % 4]  # every kind meets every patch
        groove = made_groove(kind, bars_for(bpm), rng)
        cases.append(Case(f"made {kind} #{j // 4}", "made", groove, patch, bpm, 0.5 + 0.5 * rng.random(), 2000 + j))
    return cases


# ------------------------------------------------------------------------------------------ MIDI and audio

CHORDS = ([48, 55, 60, 64], [45, 52, 57, 60], [41, 48, 53, 57], [43, 50, 55, 59])   # C Am F G (piano)
STRINGS = ([40, 47, 52, 55, 59, 64], [45, 52, 57, 60, 64], [41, 48, 53, 57, 60, 65], [43, 47, 50, 55, 59, 67])
BASS = (36, 43, 45, 40, 41, 38, 43, 47)
STRUM_GAP = 0.009        # s between strings of a strum


def case_midi(case: Case) -> mido.MidiFile:
    """The case's groove played by its patch at its tempo: tick 0 is bar 1."""
    g = case.groove
    steps = np.flatnonzero(g[:, 0] > 0.5)
    ticks = np.round((steps + g[steps, 2]) * TPB / 4).astype(int)
    ticks = np.maximum(ticks, 0)
    velocities = np.clip(np.round(g[steps, 1] * 127), 1, 127).astype(int)
    per_second = TPB * case.bpm / 60.0
    program = PATCHES[case.patch] if case.program is None else int(case.program)
    events = [(0, mido.Message("program_change", channel=0, program=program))]
    for k, (step, tick, vel) in enumerate(zip(steps, ticks, velocities)):
        nxt = ticks[k + 1] if k + 1 < len(ticks) else tick + TPB
        length = int(max(TPB // 16, min(nxt - tick - TPB // 32, TPB)))
        if case.legato < 1.0:
            length = int(max(TPB // 16, length * case.legato))
        chord = (step // 16) % 4
        if case.patch == "bass":
            pitches, gaps = [BASS[(step // 8) % len(BASS)]], [0]
        elif case.patch == "piano":
            pitches, gaps = CHORDS[chord], [0] * 4
        elif case.patch == "guitar":
            strings = STRINGS[chord]
            down = step % 4 == 0 or step % 2 == 0 and k % 2 == 0
            pitches = strings if down else strings[::-1][:4]
            gaps = [int(round(i * STRUM_GAP * per_second)) for i in range(len(pitches))]
        else:
            pitches, gaps = [76 if step % 16 == 0 else 77], [0]
        for pitch, gap in zip(pitches, gaps):
            v = int(np.clip(vel - 4 * (gap > 0), 1, 127))
            pitch = int(np.clip(pitch + case.transpose, 0, 127))
            events.append((tick + gap, mido.Message("note_on", channel=0, note=pitch, velocity=v)))
            events.append((tick + max(length, gap + TPB // 16), mido.Message("note_off", channel=0, note=pitch)))
    out = mido.MidiFile(type=1, ticks_per_beat=TPB)
    meta = [(0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(case.bpm))),
            (0, mido.MetaMessage("time_signature", numerator=4, denominator=4))]
    for items in (meta, events):
        track, now = mido.MidiTrack(), 0
        for tick, msg in sorted(items, key=lambda e: (e[0], e[1].type == "note_on")):
            track.append(msg.copy(time=int(tick - now)))
            now = tick
        out.tracks.append(track)
    return out


def truth_onsets(mid: mido.MidiFile, lead: float) -> np.ndarray:
    times, now = [], 0.0
    for msg in mid:  # mido yields seconds through the tempo map
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            times.append(now)
    # a chord, or a strum whose strings each extend the run: the first of a run of close notes
    out, last = [], -1.0
    for t in sorted(times):
        if not out or t - last >= CHORD_GAP:
            out.append(t)
        last = t
    return np.array(out) + lead


def one_note_per_onset(mid: mido.MidiFile) -> mido.MidiFile:
    """The MIDI with each chord or strum played as its first note only (the notes truth_onsets counts as
    one onset): the truth groove. Read as it is, a strum's later strings fall on the next 16th at fast
    tempos (six strings span 45 ms, a 16th at 180 BPM 83 ms) and the groove would hold a hit no one played."""
    tempo = next((m.tempo for m in mid.tracks[0] if m.type == "set_tempo"), 500000)
    out = mido.MidiFile(type=mid.type, ticks_per_beat=mid.ticks_per_beat)
    for track in mid.tracks:
        kept, dropped, now, last_on, last_kept = mido.MidiTrack(), set(), 0, None, 0
        for msg in track:
            now += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                t = mido.tick2second(now, mid.ticks_per_beat, tempo)
                run = last_on is not None and t - last_on < CHORD_GAP
                last_on = t
                if run:
                    dropped.add((msg.channel, msg.note))
                    continue
            elif msg.type in ("note_off", "note_on") and (msg.channel, msg.note) in dropped:
                dropped.discard((msg.channel, msg.note))
                continue
            kept.append(msg.copy(time=now - last_kept))
            last_kept = now
        out.tracks.append(kept)
    return out


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spectrum), dtype=np.float64)
    f[0] = 1.0
    return np.fft.irfft(spectrum / np.sqrt(f), n)


def add_noise(y: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Noise at SNR_DB against the music's RMS (over the samples above -60 dBFS) and a 50 Hz hum."""
    mono = y.mean(axis=1)
    loud = np.abs(mono) > 1e-3
    rms = float(np.sqrt(np.mean(mono[loud] ** 2))) if loud.any() else 0.1
    n = len(y)
    noise = rng.standard_normal(n) if kind == "white" else pink_noise(n, rng)
    noise *= rms * 10 ** (-SNR_DB / 20) / np.sqrt(np.mean(noise ** 2))
    t = np.arange(n) / RATE
    hum = np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 100 * t + 1) + 0.3 * np.sin(2 * np.pi * 150 * t + 2)
    hum *= rms * 10 ** (-HUM_DB / 20) / np.sqrt(np.mean(hum ** 2))
    out = y + (noise + hum)[:, None]
    peak = np.abs(out).max()
    return (out * (0.89 / peak if peak > 0.89 else 1.0)).astype(np.float32)


def rendered(case: Case, mid: mido.MidiFile, cache: Path) -> tuple[Path, Path]:
    """(clean WAV, noisy WAV) of the case, cached."""
    import soundfile as sf

    data = midi.midi_to_bytes(mid)
    key = hashlib.sha1(data + f"{case.lead:.4f}|{SNR_DB}|{HUM_DB}|{case.seed}".encode()).hexdigest()[:16]
    clean, noisy = cache / f"{key}-clean.wav", cache / f"{key}-noisy.wav"
    if not (clean.is_file() and noisy.is_file()):
        from .audio import render_audio

        y = render_audio(mid, RATE)
        y = np.concatenate([np.zeros((int(round(case.lead * RATE)), 2), np.float32), y])
        cache.mkdir(parents=True, exist_ok=True)
        sf.write(clean, y, RATE, subtype="PCM_16")
        rng = np.random.default_rng(case.seed)
        sf.write(noisy, add_noise(y, "white" if case.seed % 2 else "pink", rng), RATE, subtype="PCM_16")
    return clean, noisy


# ------------------------------------------------------------------------------------------ scoring

def match_count(found: np.ndarray, truth: np.ndarray, window: float = WINDOW) -> int:
    """One-to-one matches within `window`, pairs taken closest first."""
    found, truth = np.sort(np.asarray(found, np.float64)), np.sort(np.asarray(truth, np.float64))
    pairs = []
    for i, t in enumerate(found):
        lo, hi = np.searchsorted(truth, [t - window, t + window])
        pairs += [(abs(truth[j] - t), i, j) for j in range(lo, hi) if abs(truth[j] - t) <= window]
    pairs.sort()
    used_f, used_t, n = set(), set(), 0
    for _, i, j in pairs:
        if i not in used_f and j not in used_t:
            used_f.add(i)
            used_t.add(j)
            n += 1
    return n


def onset_counts(found, truth) -> tuple[int, int, int]:
    m = match_count(found, truth)
    return m, len(found) - m, len(truth) - m


def f1(tp, fp, fn) -> float:
    return 2 * tp / max(2 * tp + fp + fn, 1e-9)


def groove_counts(found: np.ndarray, truth: np.ndarray) -> tuple[int, int, int]:
    """Hits on the same 16th step (from bar 1) of two grooves, over the truth's length."""
    n = len(truth)
    a = np.zeros(n, bool)
    a[: min(n, len(found))] = found[:n, 0] > 0.5
    b = truth[:, 0] > 0.5
    return int((a & b).sum()), int((a & ~b).sum()), int((~a & b).sum())


def librosa_default_onsets(path: Path) -> np.ndarray:
    import librosa

    y, sr = librosa.load(path, sr=22050, mono=True)
    return librosa.onset.onset_detect(y=y, sr=sr, units="time", backtrack=True)


# ------------------------------------------------------------------------------------------ the run

def evaluate(cases: list[Case], cache: Path, model=None, verbose: bool = False,
             heard_timing: float | None = None) -> dict:
    from . import recording as R

    rows = []
    for case in cases:
        mid = case_midi(case)
        truth_song = midi.read_song(midi.midi_to_bytes(one_note_per_onset(mid)))
        truth_groove = midi.song_to_groove(truth_song)
        onsets_true = truth_onsets(mid, case.lead)
        for condition, path in zip(("clean", "noisy"), rendered(case, mid, cache)):
            row = {"name": case.name, "source": case.source, "patch": case.patch, "bpm": case.bpm,
                   "condition": condition}
            t0 = time.perf_counter()
            try:
                h = R.hear(path)
                error = None
            except R.RecordingError as exc:
                h, error = None, str(exc)
            row["hear_s"] = time.perf_counter() - t0
            row["error"] = error
            found = h.onsets if h is not None else np.zeros(0)
            row["onsets"] = onset_counts(found, onsets_true)
            row["librosa_default"] = onset_counts(librosa_default_onsets(path), onsets_true)
            row["velocity_pairs"] = velocity_pairs(case, h) if h is not None else []
            row["bpm_heard"] = h.bpm if h is not None else float("nan")
            ratio = row["bpm_heard"] / case.bpm
            row["tempo_ok"] = bool(abs(ratio - 1) <= 0.04)
            row["bar_one_heard"] = h.bar_one if h is not None else float("nan")
            row["bar_one_true"] = case.lead
            groove_found = midi.song_to_groove(h.song) if h is not None else np.zeros((0, 3))
            timing = pipeline.HEARD_TIMING_KEPT if heard_timing is None else heard_timing  # as the model hears it
            heard = pipeline.heard_groove(groove_found, h.song.bars, timing) if h is not None else groove_found
            row["groove"] = groove_counts(groove_found, truth_groove)
            try:
                given = R.hear(path, bar_one=case.lead)
                row["groove_bar_one_given"] = groove_counts(midi.song_to_groove(given.song), truth_groove)
            except R.RecordingError:
                row["groove_bar_one_given"] = (0, 0, int(truth_groove[:, 0].sum()))
            if model is not None:
                row["drums"] = drums_counts(model, heard, truth_groove)
                if condition == "clean":  # what costs the figure: the model's sampling, the velocities, the hits
                    row.update(drums_references(model, heard, truth_groove))
            rows.append(row)
            if verbose:
                o, g = row["onsets"], row["groove"]
                print(f"  {case.name:28s} {case.patch:9s} {case.bpm:5.1f} {condition:5s} onset F1 {f1(*o):.3f} "
                      f"(libr {f1(*row['librosa_default']):.3f}) tempo {row['bpm_heard']:6.1f} bar1 "
                      f"{row['bar_one_heard']:.2f}/{case.lead:.2f} groove {f1(*g):.3f} "
                      f"given {f1(*row['groove_bar_one_given']):.3f}"
                      + (f" drums {f1(*row['drums']):.3f}" if 'drums' in row else "") + (f" ERR {error}" if error else ""),
                      flush=True)
    return summarize(rows)


def velocity_pairs(case: Case, h) -> list[tuple[float, float]]:
    """(heard velocity, MIDI velocity) of each heard onset within WINDOW of a note of the case's
    groove (its nearest), both 0-1: how well an onset's velocity follows the played one."""
    g = case.groove
    steps = np.flatnonzero(g[:, 0] > 0.5)
    ticks = np.maximum(np.round((steps + g[steps, 2]) * TPB / 4), 0)
    times = ticks / TPB * 60.0 / case.bpm + case.lead
    played = np.clip(np.round(g[steps, 1] * 127), 1, 127) / 127.0
    heard = h.velocities if h.velocities is not None else np.full(len(h.onsets), np.nan)
    pairs = []
    for t, v in zip(h.onsets, heard):
        j = int(np.argmin(np.abs(times - t))) if len(times) else -1
        if j >= 0 and abs(times[j] - t) <= WINDOW and np.isfinite(v):
            pairs.append((float(v), float(played[j])))
    return pairs


def drums_counts(model, found: np.ndarray, truth: np.ndarray) -> tuple[int, int, int]:
    n = min(len(found), len(truth)) // 16 * 16
    if n == 0:
        return 0, 0, int(truth[:, 0].sum())
    return _hit_counts(_drums(model, found, n), _drums(model, truth, n))


_DRUMS: dict = {}


def _drums(model, groove: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    key = (hashlib.sha1(np.ascontiguousarray(groove[:n], np.float32).tobytes()).hexdigest(), n, seed)
    if key not in _DRUMS:
        _DRUMS.clear() if len(_DRUMS) > 64 else None
        _DRUMS[key] = model.generate(groove[None, :n].astype(np.float32), seed=seed)[0][:, H.HITS] > 0.5
    return _DRUMS[key]


def _hit_counts(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int]:
    return int((a & b).sum()), int((a & ~b).sum()), int((~a & b).sum())


def drums_references(model, found: np.ndarray, truth: np.ndarray) -> dict:
    """Hit F1 against the MIDI groove's drums (seed 0) of: the MIDI groove at seed 1 (the model's
    sampling alone); the MIDI's hits with the audio's velocities; the audio's hits with the MIDI's
    velocities and offsets where the MIDI has a hit there."""
    n = min(len(found), len(truth)) // 16 * 16
    if n == 0:
        return {}
    ref = _drums(model, truth, n)
    f, t = found[:n].astype(np.float32), truth[:n].astype(np.float32)
    heard_v = float(np.median(f[f[:, 0] > 0.5, 1])) if (f[:, 0] > 0.5).any() else 0.7
    midi_hits_audio_v = t.copy()
    midi_hits_audio_v[:, 1] = np.where(t[:, 0] > 0.5, np.where(f[:, 0] > 0.5, f[:, 1], heard_v), 0.0)
    audio_hits_midi_v = f.copy()
    both = (f[:, 0] > 0.5) & (t[:, 0] > 0.5)
    audio_hits_midi_v[both, 1:] = t[both, 1:]
    return {"drums_ref_seed": _hit_counts(_drums(model, t, n, seed=1), ref),
            "drums_ref_audio_velocities": _hit_counts(_drums(model, midi_hits_audio_v, n), ref),
            "drums_ref_audio_hits": _hit_counts(_drums(model, audio_hits_midi_v, n), ref)}


def pooled(rows, key) -> float:
    tp = sum(r[key][0] for r in rows)
    fp = sum(r[key][1] for r in rows)
    fn = sum(r[key][2] for r in rows)
    return f1(tp, fp, fn)


def summarize(rows: list[dict]) -> dict:
    out = {"files": len(rows) // 2, "rows": rows}
    for condition in ("clean", "noisy"):
        sub = [r for r in rows if r["condition"] == condition]
        if not sub:
            continue
        fig = {
            "onset_f1": pooled(sub, "onsets"),
            "onset_f1_file_median": float(np.median([f1(*r["onsets"]) for r in sub])),
            "onset_f1_librosa_defaults": pooled(sub, "librosa_default"),
            "tempo_within_4pct": float(np.mean([r["tempo_ok"] for r in sub])),
            "groove_f1": pooled(sub, "groove"),
            "groove_f1_bar_one_given": pooled(sub, "groove_bar_one_given"),
            "bar_one_within_50ms": float(np.mean([abs(r["bar_one_heard"] - r["bar_one_true"]) <= 0.05 for r in sub])),
            "refused": int(sum(r["error"] is not None for r in sub)),
            "hear_s_median": float(np.median([r["hear_s"] for r in sub])),
        }
        pairs = np.array([p for r in sub for p in r.get("velocity_pairs", [])], np.float64).reshape(-1, 2)
        if len(pairs) > 2:
            from scipy.stats import spearmanr

            fig["velocity_spearman"] = float(spearmanr(pairs[:, 0], pairs[:, 1])[0])
            fig["velocity_mean_abs_error"] = float(np.abs(pairs[:, 0] - pairs[:, 1]).mean())
        if "drums" in sub[0]:
            fig["drums_f1"] = pooled(sub, "drums")
        for key in ("drums_ref_seed", "drums_ref_audio_velocities", "drums_ref_audio_hits"):
            part = [r for r in rows if key in r]
            if part:
                fig[key] = pooled(part, key)
        by = {}
        for group in sorted({r["patch"] for r in sub}) + ["gmd", "made"]:
            part = [r for r in sub if r["patch"] == group or r["source"] == group]
            by[group] = {"onset_f1": pooled(part, "onsets"), "tempo_ok": float(np.mean([r["tempo_ok"] for r in part])),
                         "groove_f1": pooled(part, "groove"), "files": len(part)}
        fig["by"] = by
        out[condition] = fig
    return out


def speed(model) -> dict:
    """A 30 s bass take (a WAV file) to the drums' MIDI through pipeline.make_drums, after warm-up."""
    import tempfile

    import soundfile as sf
    import torch

    from . import pipeline
    from . import recording as R
    from .audio import render_audio

    torch.set_num_threads(2)
    rng = np.random.default_rng(7)
    case = Case("speed", "made", made_groove("bass line", 16, rng), "bass", 128.0, 0.5, 7)
    y = render_audio(case_midi(case), RATE)
    y = np.concatenate([np.zeros((RATE // 2, 2), np.float32), y])[: 30 * RATE]
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "take.wav"
        sf.write(path, y, RATE, subtype="PCM_16")
        for k in range(6):
            R._hear.cache_clear()  # every call hears the file again
            t0 = time.perf_counter()
            part = pipeline.make_drums(model, str(path), seed=0)
            midi.midi_to_bytes(part.drums_midi)
            times.append(time.perf_counter() - t0)
    return {"seconds": len(y) / RATE, "median_s": float(np.median(times[1:])), "first_s": times[0],
            "runs_s": times[1:], "threads": torch.get_num_threads()}


def report(figs: dict) -> str:
    lines = [f"audio figures on {figs['files']} files ({figs.get('split')} split GMD grooves and made grooves), "
             f"tempos {TEMPO_RANGE[0]:g}-{TEMPO_RANGE[1]:g} BPM spread evenly; noisy = white/pink noise at "
             f"{SNR_DB:g} dB SNR + 50 Hz hum at -{HUM_DB:g} dB"]
    lines.append(f"{'figure':34s} {'clean':>8s} {'noisy':>8s}  target")
    names = [("onset_f1", "onset F1 (50 ms)", ">= 0.95 / 0.90"),
             ("onset_f1_file_median", "  median over files", ""),
             ("onset_f1_librosa_defaults", "  librosa onset_detect defaults", "(reference)"),
             ("velocity_spearman", "onset velocity vs MIDI's, Spearman", ""),
             ("velocity_mean_abs_error", "  mean abs error (0-1)", ""),
             ("tempo_within_4pct", "tempo within 4% (share of files)", ">= 0.95"),
             ("bar_one_within_50ms", "bar 1 found within 50 ms", ""),
             ("groove_f1", "groove F1, bar 1 found", ">= 0.90"),
             ("groove_f1_bar_one_given", "groove F1, bar 1 given", ">= 0.90"),
             ("drums_f1", "drums hit F1 (audio vs MIDI)", ">= 0.80"),
             ("drums_ref_seed", "  ref: MIDI groove, seed 1 vs 0", "(clean files)"),
             ("drums_ref_audio_velocities", "  ref: MIDI hits, audio velocities", "(clean files)"),
             ("drums_ref_audio_hits", "  ref: audio hits, MIDI velocities", "(clean files)"),
             ("refused", "files refused", "0"),
             ("hear_s_median", "hear() median s", "")]
    for key, label, target in names:
        if key not in figs.get("clean", {}):
            continue
        c, n = figs["clean"][key], figs.get("noisy", {}).get(key, float("nan"))
        lines.append(f"{label:34s} {c:8.3f} {n:8.3f}  {target}")
    lines.append("by patch / source (clean | noisy): onset F1, tempo ok, groove F1")
    for group in figs["clean"]["by"]:
        c, n = figs["clean"]["by"][group], figs["noisy"]["by"][group]
        lines.append(f"  {group:10s} ({c['files']:3d}) {c['onset_f1']:.3f} {c['tempo_ok']:.3f} {c['groove_f1']:.3f} | "
                     f"{n['onset_f1']:.3f} {n['tempo_ok']:.3f} {n['groove_f1']:.3f}")
    if "speed" in figs:
        s = figs["speed"]
        lines.append(f"speed: a {s['seconds']:.0f} s WAV to the drums' MIDI (make_drums) median {s['median_s']:.3f} s "
                     f"on {s['threads']} threads (first call {s['first_s']:.2f} s; target < 2 s)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drumgen.audio_figures", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the GMD zip (groove-v1.0.0-midionly.zip)")
    parser.add_argument("--split", default="test", choices=("train", "validation", "test"))
    parser.add_argument("--limit", type=int, default=96, help="about this many files (0: the split's every 4/4 file, and as many made)")
    parser.add_argument("--out", default="runs/figures/audio")
    parser.add_argument("--speed", action="store_true", help="also time a 30 s recording to the drums")
    parser.add_argument("--no-drums", action="store_true", help="skip the model (figure 4)")
    parser.add_argument("--checkpoint", default=str(Path(__file__).resolve().parents[1] / "checkpoints" / "controlled_gmd.pth"))
    parser.add_argument("-v", "--verbose", action="store_true", help="a line per file")
    parser.add_argument("--heard-timing", type=float, default=None, metavar="K",
                        help="figure 4 with this share of each onset's own timing kept (pipeline.heard_groove; "
                             "1: as heard; default the pipeline's)")
    parser.add_argument("--onsets", choices=("net", "flux"), default=None,
                        help="the onset detector heard with (default: audio_in's, the net where its checkpoint is)")
    parser.add_argument("--net-threshold", type=float, default=None, metavar="T",
                        help="the net's threshold at sensitivity 0.5 (default audio_in.NET_THRESHOLD; tune on validation)")
    args = parser.parse_args(argv)
    from . import audio_in

    audio_in.ONSET_METHOD = args.onsets
    if args.net_threshold is not None:
        audio_in.NET_THRESHOLD = args.net_threshold
    if args.heard_timing is not None and not 0.0 <= args.heard_timing <= 1.0:
        parser.error(f"--heard-timing must be from 0 to 1, got {args.heard_timing}")
    out = Path(args.out)
    model = None
    if not args.no_drums or args.speed:
        import torch

        from .models.checkpoint import load_model

        torch.set_num_threads(2)
        model = load_model(args.checkpoint)
    t0 = time.perf_counter()
    cases = make_cases(args.data, args.split, args.limit)
    figs = evaluate(cases, out / "cache", None if args.no_drums else model, args.verbose, args.heard_timing)
    figs["split"] = args.split
    figs["onset_method"] = audio_in.onset_method()
    figs["seconds"] = time.perf_counter() - t0
    if args.speed:
        figs["speed"] = speed(model)
    print(report(figs))
    out.mkdir(parents=True, exist_ok=True)
    (out / "audio_figures.json").write_text(json.dumps(figs, indent=1, default=float))
    print(f"({figs['seconds']:.0f} s; figures in {out / 'audio_figures.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
