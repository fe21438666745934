"""Train the onset detector (drumgen/onset_net.py) on audio rendered here, then ship it.

    python train/onsets.py --data ../shared/data/groove-v1.0.0-midionly.zip --out runs/onsets
    python train/onsets.py --data ... --out runs/onsets_staccato --staccato --init runs/onsets/best.pth \
        --clips 500 --val-clips 60 --steps 3000 --lr 1e-3 --seed 1        # the shipped one: the card has the commands
    cp runs/onsets_staccato/best.pth checkpoints/onset_net.pth && cp runs/onsets_staccato/best.json checkpoints/onset_net.json

What it hears. Clips of 8 bars (60-200 BPM) after 0.2-1.0 s of silence: GMD train-split grooves (the
monotonic groove of a stretch of a 4/4 performance, from a random bar) and made grooves (the kinds of
drumgen.audio_figures, other seeds), written as MIDI by drumgen.audio_figures.case_midi and rendered
with FluidSynth. Each is played by a General MIDI program of a family (bass, chords, strums,
percussion) OTHER than the four programs the figures use (fingered bass 33, grand piano 0, steel
guitar 25, woodblock 115), transposed -5..+5 semitones. (The SoundFont shares samples between programs:
1 and 2 play program 0's piano samples, 39 program 33's bass samples, 24 one of 25's guitar samples; so
of the figures' four sounds only the woodblock, and nearly the guitar, are new to the detector. The
shipped checkpoint was trained with these FAMILIES; leave out 1, 2, 24 and 39 for a clean measure.)
Every clip is heard three times: as rendered (half of them with reverb) and twice coloured (a random
high- or low-pass, reverb at times) with noise (white, pink or brown at 6-35 dB SNR, a 50 or 60 Hz hum
at times). The truth is the MIDI's note-ons (drumgen.audio_figures.truth_onsets: a chord or a strum
is one onset). Validation: clips made the same way from GMD validation grooves; the epoch kept is the
one with the best onset F1 (within 50 ms) on them.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from drumgen import audio_figures as A
from drumgen import audio_in, onset_net
from drumgen.audio import render_audio

FAMILIES = {  # family (how audio_figures.case_midi plays it) -> other General MIDI programs of its kind
    "bass": (32, 34, 35, 36, 37, 38, 39, 43),
    "piano": (1, 2, 4, 5, 6, 7, 11, 12, 16, 46),
    "guitar": (24, 26, 27, 28, 29, 30, 105, 107),
    "woodblock": (9, 13, 112, 113, 114, 116, 117, 118),
}
HELD_OUT = tuple(A.PATCHES.values())
RENDER_RATE = 44100


def make_cases(grooves: list, n: int, seed: int, staccato: bool = False) -> list[A.Case]:
    rng = np.random.default_rng(seed)
    cases, i = [], -1
    while len(cases) < n:
        i += 1
        bpm = float(rng.uniform(60, 200))
        family = list(FAMILIES)[rng.integers(4)]
        program = int(rng.choice(FAMILIES[family]))
        if rng.random() < 0.7:
            name, groove = grooves[rng.integers(len(grooves))]
            bars = len(groove) // 16
            if bars < 2:
                continue
            start = int(rng.integers(max(bars - 8, 0) + 1))
            g = groove[16 * start: 16 * (start + 8)].copy()
            if g[:, 0].sum() < 4:
                continue
            case = A.Case(f"gmd {name}", "gmd", g, family, bpm, float(rng.uniform(0.2, 1.0)), seed * 100000 + i)
        else:
            kind = A.MADE[rng.integers(4)]
            case = A.Case(f"made {kind}", "made", A.made_groove(kind, 8, rng), family, bpm,
                          float(rng.uniform(0.2, 1.0)), seed * 100000 + i)
        case.program, case.transpose = program, int(rng.integers(-5, 6))
        if staccato and rng.random() < 0.5:   # notes let go well before the next: a release is no onset
            case.legato = float(rng.uniform(0.15, 0.9))
        cases.append(case)
    return cases


def colour(y: np.ndarray, rate: int, rng: np.random.Generator, noisy: bool) -> np.ndarray:
    """The clip as a room, a microphone and a noisy line might make it."""
    import scipy.signal as S

    if rng.random() < 0.5:  # reverb: decaying noise, RT60 0.2-1.2 s
        rt60 = rng.uniform(0.2, 1.2)
        t = np.arange(int(rt60 * rate)) / rate
        ir = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60)
        wet = S.fftconvolve(y, ir)[: len(y)]
        wet *= np.sqrt(np.mean(y ** 2) / max(np.mean(wet ** 2), 1e-12))
        y = y + rng.uniform(0.05, 0.4) * wet
    if not noisy:
        return y
    if rng.random() < 0.6:
        kind = "highpass" if rng.random() < 0.5 else "lowpass"
        cut = rng.uniform(80, 400) if kind == "highpass" else rng.uniform(1500, 8000)
        y = S.sosfilt(S.butter(2, cut, kind, fs=rate, output="sos"), y)
    loud = np.abs(y) > 1e-3
    rms = float(np.sqrt(np.mean(y[loud] ** 2))) if loud.any() else 0.1
    kind = rng.integers(3)
    noise = rng.standard_normal(len(y)) if kind == 0 else A.pink_noise(len(y), rng)
    if kind == 2:
        noise = S.sosfilt(S.butter(1, 20, "highpass", fs=rate, output="sos"), np.cumsum(noise))
    noise *= rms * 10 ** (-rng.uniform(6, 35) / 20) / np.sqrt(np.mean(noise ** 2) + 1e-12)
    y = y + noise
    if rng.random() < 0.5:
        f, t = (50.0, 60.0)[rng.integers(2)], np.arange(len(y)) / rate
        hum = sum(a * np.sin(2 * np.pi * f * k * t + rng.uniform(0, 6)) for k, a in ((1, 1.0), (2, 0.5), (3, 0.3)))
        y = y + hum * rms * 10 ** (-rng.uniform(25, 45) / 20) / np.sqrt(np.mean(hum ** 2))
    return y


def targets(onsets: np.ndarray, frames: int, cfg: onset_net.OnsetNetConfig) -> np.ndarray:
    """1 on the frame nearest each onset, 0.5 on its neighbours (an onset between two frames is both)."""
    out = np.zeros(frames, np.float32)
    f = np.round(np.asarray(onsets) * cfg.rate / cfg.hop).astype(int)
    for d, v in ((-1, 0.5), (1, 0.5), (0, 1.0)):
        k = f + d
        k = k[(k >= 0) & (k < frames)]
        out[k] = np.maximum(out[k], v)
    return out


def build(cases: list[A.Case], cfg: onset_net.OnsetNetConfig, seed: int, variants: int, log) -> list[dict]:
    rng = np.random.default_rng(seed)
    out, t0 = [], time.time()
    for i, case in enumerate(cases):
        mid = A.case_midi(case)
        y = render_audio(mid, RENDER_RATE).mean(axis=1)
        y = np.concatenate([np.zeros(int(round(case.lead * RENDER_RATE)), np.float32), y])
        y = audio_in.resample(y, RENDER_RATE, cfg.rate).astype(np.float64)
        truth = A.truth_onsets(mid, case.lead)
        for v in range(variants):
            heard = colour(y, cfg.rate, rng, noisy=v > 0).astype(np.float32)
            x = onset_net.features(heard, cfg)
            out.append({"x": x.astype(np.float16), "y": targets(truth, x.shape[-1], cfg), "onsets": truth,
                        "name": case.name, "program": case.program, "noisy": v > 0})
        if (i + 1) % 50 == 0:
            log(f"  rendered {i + 1}/{len(cases)} clips ({time.time() - t0:.0f} s)")
    return out


def pick_peaks(act: np.ndarray, threshold: float, cfg: onset_net.OnsetNetConfig) -> np.ndarray:
    return onset_net.peaks(act, threshold, cfg.rate, cfg.hop)[0]


@torch.no_grad()
def score(model, items: list[dict], cfg, thresholds=(0.2, 0.3, 0.4, 0.5, 0.6, 0.7)) -> dict:
    model.eval()
    counts = {t: np.zeros(3) for t in thresholds}
    for item in items:
        act = torch.sigmoid(model(torch.from_numpy(item["x"].astype(np.float32))[None]))[0].numpy()
        for t in thresholds:
            counts[t] += A.onset_counts(pick_peaks(act, t, cfg), item["onsets"])
    model.train()
    return {t: A.f1(*c) for t, c in counts.items()}


def cfg_extra_of(path: str) -> dict:
    """What a checkpoint's training wrote about itself (kept in a fine-tuned one's card)."""
    return onset_net.load(path)[1].extra


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", default="runs/onsets")
    ap.add_argument("--clips", type=int, default=800)
    ap.add_argument("--val-clips", type=int, default=80)
    ap.add_argument("--variants", type=int, default=3)
    ap.add_argument("--steps", type=int, default=8000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--staccato", action="store_true", help="half the clips' notes let go early (0.15-0.9 of the gap)")
    ap.add_argument("--init", default=None, help="start from this checkpoint's weights (fine-tuning)")
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logfile = open(out / "log.txt", "a")

    def log(msg: str) -> None:
        print(msg, flush=True)
        logfile.write(msg + "\n")
        logfile.flush()

    cfg = onset_net.OnsetNetConfig()
    log(f"onsets: {' '.join(sys.argv)}")
    train_cases = make_cases(A.gmd_grooves(args.data, "train"), args.clips, seed=args.seed + 1, staccato=args.staccato)
    val_cases = make_cases(A.gmd_grooves(args.data, "validation"), args.val_clips, seed=args.seed + 2,
                           staccato=args.staccato)
    log(f"{len(train_cases)} train clips, {len(val_cases)} validation clips, {args.variants} hearings each")
    train_items = build(train_cases, cfg, args.seed + 3, args.variants, log)
    val_items = build(val_cases, cfg, args.seed + 4, 2, log)
    model = onset_net.OnsetNet(cfg) if args.init is None else onset_net.load(args.init)[0].train()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.05)
    rng = np.random.default_rng(args.seed + 5)
    lengths = np.array([it["x"].shape[-1] for it in train_items])
    best, t0, running = -1.0, time.time(), 0.0
    for step in range(1, args.steps + 1):
        xs, ys = [], []
        for k in rng.integers(len(train_items), size=args.batch):
            item, n = train_items[k], lengths[k]
            a = int(rng.integers(max(n - args.crop, 0) + 1))
            x = np.zeros((len(cfg.n_ffts), cfg.n_mels, args.crop), np.float32)
            y = np.zeros(args.crop, np.float32)
            seg = item["x"][..., a: a + args.crop]
            x[..., : seg.shape[-1]], y[: seg.shape[-1]] = seg, item["y"][a: a + args.crop]
            xs.append(x)
            ys.append(y)
        logits = model(torch.from_numpy(np.stack(xs)).contiguous(memory_format=torch.channels_last))
        loss = F.binary_cross_entropy_with_logits(logits, torch.from_numpy(np.stack(ys)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
        if step % 100 == 0:
            log(f"step {step}/{args.steps} loss {running:.4f} ({time.time() - t0:.0f} s)")
        if step % 1000 == 0 or step == args.steps:
            f1s = score(model, val_items, cfg)
            t, f = max(f1s.items(), key=lambda kv: kv[1])
            log(f"  validation onset F1 " + " ".join(f"@{k}: {v:.4f}" for k, v in f1s.items()))
            if f > best:
                best = f
                cfg.extra = {"step": step, "validation_onset_f1": round(f, 4), "threshold": t,
                             "train_clips": len(train_cases), "validation_clips": len(val_cases),
                             "variants": args.variants, "held_out_programs": list(HELD_OUT),
                             "command": "python train/onsets.py " + " ".join(sys.argv[1:]),
                             "init": args.init and cfg_extra_of(args.init)}
                onset_net.save(model, cfg, out / "best.pth")
                log(f"  kept (best so far): {json.dumps(cfg.extra)}")
    log(f"done: best validation onset F1 {best:.4f}; {out / 'best.pth'}")


if __name__ == "__main__":
    main()
