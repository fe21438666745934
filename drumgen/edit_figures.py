"""How well a model edits a take: the figures of regenerating bars and locking voices, for any checkpoint.

    python -m drumgen.edit_figures CKPT [CKPT ...] --data groove-v1.0.0-midionly.zip [--split test] [--limit N]
    python -m drumgen.edit_figures CKPT --data ... --split validation --follow-kept-bars 0,0.3,0.5   # the sweep

On the split's 8-bar windows (the fidelity script's), the take is the true drums and the groove
their monotonic groove; every model is called through `generate(groove, keep=take, keep_mask=mask)`:

1. kept cells: the share of kept cells that come out exactly as the take has them (must be 1);
2. regenerate two bars (bars 3-4, then bars 7-8) with the other six true: hit F1 in those bars,
   beside the same bars generated with no drums known, and beside copying other bars of the take
   into them (the two bars before; bars 5-6), which a model that hears the take should beat;
3. lock kick and snare (true) and regenerate the rest: F1 of the other voices, beside their F1
   with nothing known;
4. seams: F1 of each 2-bar span across a boundary between regenerated and kept bars, beside the
   F1 of the regenerated bars themselves;
5. fills (windows of beat performances): fills asked in bars 4 and 8 (phrase ends), none in the
   others, every other control free; the share of bars the fill judge (`drumgen.fills`) calls a
   fill where one was asked and where none was, beside the same with the fill lane free; the share
   of bars 5 (after the fill of bar 4) with a crash or kick on the downbeat; the mean timing offset
   of the hits in the fill bars and the others (fills stay on the song's grid);
6. loops (windows whose bar 5 plays what bar 1 does, hit F1 >= LOOP_SIMILAR: there the drummer's
   bar 4 led back into bar 1): the 4-bar loop of bars 1-4 made loop-ready and not; F1 of the seam
   (the made bars 4 and 1 against the true bars 4 and 5) beside the inner seams' (bars 1-2, 2-3, 3-4).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from . import fills
from . import hvo as H
from .fidelity import N_BARS, spread, window_parser
from .metrics import score
from .takes import keep_mask

BAR = H.STEPS_PER_BAR
REGENERATED = ((2, 3), (6, 7))  # 0-based: bars 3-4 and bars 7-8
LOCKED = ("kick", "snare")
FILL_BARS = (3, 7)    # 0-based: fills asked in bars 4 and 8
LOOP_BARS = 4         # the loop of the loop figure: bars 1-4
LOOP_SIMILAR = 0.8    # a window's bar 5 repeats bar 1 when their hit F1 is at least this
LANDING = [H.VOICES.index(v) for v in ("kick", "crash")]


def bars_of(hvo: np.ndarray, bars) -> np.ndarray:
    """The steps of some bars of every window, joined: (N, len(bars) * 16, 27)."""
    return np.concatenate([hvo[:, b * BAR:(b + 1) * BAR] for b in bars], axis=1)


def f1(pred: np.ndarray, true: np.ndarray) -> float:
    return score(pred, true)["f1"]


def voices_f1(pred: np.ndarray, true: np.ndarray, voices) -> float:
    """Hit F1 of some voices only (the other voices' hits blanked on both sides)."""
    keep = np.zeros(H.N_VOICES, bool)
    keep[[H.VOICES.index(v) for v in voices]] = True
    mask = np.tile(keep, 3)
    return f1(pred * mask, true * mask)


def edit_figures(model, true_hvo: np.ndarray, seed: int = 0, temperature: float = 1.0, batch: int = 256) -> dict:
    """Every figure of one model (anything with `generate(groove, keep=, keep_mask=, seed=, temperature=)`)."""
    groove = H.hvo_to_groove(true_hvo)
    n, length, _ = true_hvo.shape

    def generate(mask: np.ndarray | None) -> np.ndarray:
        extra = {} if mask is None else {"keep": true_hvo, "keep_mask": mask}
        return _in_batches(model, groove, batch, seed=seed, temperature=temperature, **extra)

    free = generate(None)
    figures: dict = {"windows": int(n), "kept_cells": 0, "kept_identical": 0}

    def count_kept(out: np.ndarray, mask: np.ndarray) -> None:
        cells = np.broadcast_to(np.tile(mask, 3), out.shape)
        figures["kept_cells"] += int(cells.sum())
        figures["kept_identical"] += int((out[cells] == true_hvo[cells]).sum())

    for bars in REGENERATED:
        mask = keep_mask(length, regenerate=list(bars))
        out = generate(mask)
        count_kept(out, mask)
        first, last = bars[0], bars[-1]
        key = f"bars_{first + 1}_{last + 1}"
        before = [first - 2, first - 1]
        copies = {"copy_two_bars_before": bars_of(true_hvo, before) if first >= 2 else None,
                  "copy_bars_5_6": bars_of(true_hvo, [4, 5])}
        truth = bars_of(true_hvo, bars)
        figures[key] = {"f1_regenerated": f1(bars_of(out, bars), truth), "f1_nothing_known": f1(bars_of(free, bars), truth),
                        **{k: f1(v, truth) for k, v in copies.items() if v is not None}}
        seams = [(first - 1, first)] + ([(last, last + 1)] if last + 1 < length // BAR else [])
        figures[key]["seams_f1"] = {f"bars_{a + 1}_{b + 1}": f1(bars_of(out, [a, b]), bars_of(true_hvo, [a, b]))
                                    for a, b in seams}
    mask = keep_mask(length, regenerate=None, lock=list(LOCKED))
    out = generate(mask)
    count_kept(out, mask)
    others = [v for v in H.VOICES if v not in LOCKED]
    figures["lock_kick_snare"] = {"f1_other_voices": voices_f1(out, true_hvo, others),
                                  "f1_other_voices_nothing_known": voices_f1(free, true_hvo, others)}
    figures["kept_share"] = figures["kept_identical"] / max(figures["kept_cells"], 1)
    return figures


def _mean(values: np.ndarray) -> float:
    """The mean, 0 for nothing (a model that plays nothing has no fill bars and no offsets)."""
    return float(values.mean()) if values.size else 0.0


def _in_batches(model, groove: np.ndarray, batch: int = 256, keep: np.ndarray | None = None, **kwargs) -> np.ndarray:
    """generate() over `batch` windows at a time (and their rows of the take `keep` and of a per-window
    `keep_mask`, if given)."""
    mask = kwargs.pop("keep_mask", None)

    def part(i):
        rows = {} if keep is None else {"keep": keep[i:i + batch]}
        if mask is not None:
            rows["keep_mask"] = mask[i:i + batch] if np.ndim(mask) == 3 else mask
        return rows
    return np.concatenate([model.generate(groove[i:i + batch], **part(i), **kwargs) for i in range(0, len(groove), batch)])


def fill_figures(model, true_hvo: np.ndarray, seed: int = 0, temperature: float = 1.0) -> dict:
    """Figure 5 on windows of beat performances (N, 128, 27)."""
    groove = H.hvo_to_groove(true_hvo)
    n, length, _ = true_hvo.shape
    asked = np.zeros(length // BAR, bool)
    asked[list(FILL_BARS)] = True
    out = _in_batches(model, groove, controls={"fill": asked.astype(np.float32)}, seed=seed, temperature=temperature)
    free = _in_batches(model, groove, seed=seed, temperature=temperature)
    playing = (out[..., H.HITS].reshape(n, -1, BAR, H.N_VOICES).sum(axis=(2, 3)) > 0)  # judged bars: with hits
    judged, judged_free = fills.fill_flags(out) > 0, fills.fill_flags(free) > 0
    after = FILL_BARS[0] + 1
    offsets = np.abs(out[..., H.OFFSETS])[out[..., H.HITS] > 0.5].reshape(-1)
    bar_of_hit = np.nonzero(out[..., H.HITS] > 0.5)[1] // BAR
    in_fill = np.isin(bar_of_hit, FILL_BARS)
    return {"windows": int(n),
            "asked_fill_judged_fill": _mean(judged[:, asked][playing[:, asked]]),
            "asked_none_judged_fill": _mean(judged[:, ~asked][playing[:, ~asked]]),
            "free_judged_fill_in_fill_bars": float(judged_free[:, asked].mean()),
            "free_judged_fill_elsewhere": float(judged_free[:, ~asked].mean()),
            "downbeat_after_fill_kick_or_crash": float((out[:, after * BAR, LANDING] > 0.5).any(-1).mean()),
            "true_downbeat_kick_or_crash": float((true_hvo[:, after * BAR, LANDING] > 0.5).any(-1).mean()),
            "mean_abs_offset_fill_bars": _mean(offsets[in_fill]),
            "mean_abs_offset_other_bars": _mean(offsets[~in_fill]),
            **bar_shape("fill_bars", out, asked), **bar_shape("other_bars", out, ~asked)}


def bar_shape(name: str, hvo: np.ndarray, bars: np.ndarray) -> dict:
    """What the chosen bars (a mask over bar indices) play: hits a bar, the toms' and the hats' share."""
    n = len(hvo)
    hits = hvo[..., H.HITS].reshape(n, -1, BAR, H.N_VOICES)[:, bars] > 0.5       # (N, b, 16, 9)
    per_voice = hits.sum(axis=(0, 1, 2)).astype(float)
    total = max(per_voice.sum(), 1.0)
    toms, hats = [H.VOICES.index(v) for v in ("low_tom", "mid_tom", "high_tom")], [H.VOICES.index("closed_hat")]
    return {f"hits_per_bar_{name}": float(per_voice.sum() / max(hits.shape[0] * hits.shape[1], 1)),
            f"tom_share_{name}": float(per_voice[toms].sum() / total), f"hat_share_{name}": float(per_voice[hats].sum() / total)}


def loop_windows(true_hvo: np.ndarray) -> np.ndarray:
    """Windows whose bar 5 plays what bar 1 does (hit F1 >= LOOP_SIMILAR), as a boolean mask."""
    first, fifth = bars_of(true_hvo, [0]), bars_of(true_hvo, [LOOP_BARS])
    return np.array([f1(fifth[i:i + 1], first[i:i + 1]) >= LOOP_SIMILAR for i in range(len(true_hvo))], bool)


def loop_figures(model, true_hvo: np.ndarray, seed: int = 0, temperature: float = 1.0) -> dict:
    """Figure 6 on windows from `loop_windows`."""
    loop = true_hvo[:, :LOOP_BARS * BAR]
    groove = H.hvo_to_groove(loop)
    truth_seam = bars_of(true_hvo, [LOOP_BARS - 1, LOOP_BARS])
    out = {"windows": int(len(true_hvo))}
    for name, flag in (("loop_ready", True), ("plain", False)):
        made = _in_batches(model, groove, seed=seed, temperature=temperature, loop=flag)
        inner = [f1(bars_of(made, [b, b + 1]), bars_of(loop, [b, b + 1])) for b in range(LOOP_BARS - 1)]
        out[name] = {"seam_f1": f1(bars_of(made, [LOOP_BARS - 1, 0]), truth_seam),
                     "inner_seams_f1": float(np.mean(inner)), "last_bar_f1": f1(bars_of(made, [LOOP_BARS - 1]),
                                                                                 bars_of(loop, [LOOP_BARS - 1]))}
    return out


def format_report(results: dict[str, dict]) -> str:
    names = list(results)
    rows = [("kept cells identical (share)", lambda r: r["kept_share"])]
    for first, last in ((b[0] + 1, b[-1] + 1) for b in REGENERATED):
        key = f"bars_{first}_{last}"
        rows += [(f"bars {first}-{last} regenerated, the rest true: F1", lambda r, k=key: r[k]["f1_regenerated"]),
                 ("  the same bars with nothing known", lambda r, k=key: r[k]["f1_nothing_known"]),
                 ("  copying bars 5-6 into them", lambda r, k=key: r[k]["copy_bars_5_6"])]
        if first > 2 and first - 2 != 5:  # bars 5-6 are already a row
            rows.append((f"  copying bars {first - 2}-{first - 1} into them",
                         lambda r, k=key: r[k]["copy_two_bars_before"]))
        rows.append(("  seams (2-bar spans across the boundaries)",
                     lambda r, k=key: min(r[k]["seams_f1"].values())))
    rows += [("kick and snare locked, the rest new: F1 of the others", lambda r: r["lock_kick_snare"]["f1_other_voices"]),
             ("  the other voices with nothing known", lambda r: r["lock_kick_snare"]["f1_other_voices_nothing_known"])]
    if all("fills" in r for r in results.values()):
        rows += [("fill asked (bars 4, 8): judged a fill", lambda r: r["fills"]["asked_fill_judged_fill"]),
                 ("  no fill asked (other bars): judged a fill", lambda r: r["fills"]["asked_none_judged_fill"]),
                 ("  fill lane free: judged a fill in bars 4, 8", lambda r: r["fills"]["free_judged_fill_in_fill_bars"]),
                 ("  fill lane free: judged a fill elsewhere", lambda r: r["fills"]["free_judged_fill_elsewhere"]),
                 ("  bar 5 lands with a kick or crash on beat 1", lambda r: r["fills"]["downbeat_after_fill_kick_or_crash"]),
                 ("  hits a bar in fill bars", lambda r: r["fills"]["hits_per_bar_fill_bars"]),
                 ("  hits a bar in the other bars", lambda r: r["fills"]["hits_per_bar_other_bars"]),
                 ("  toms' share of the hits in fill bars", lambda r: r["fills"]["tom_share_fill_bars"]),
                 ("  toms' share in the other bars", lambda r: r["fills"]["tom_share_other_bars"]),
                 ("  mean abs offset (steps) in fill bars", lambda r: r["fills"]["mean_abs_offset_fill_bars"]),
                 ("  mean abs offset (steps) in other bars", lambda r: r["fills"]["mean_abs_offset_other_bars"])]
    if all("loops" in r for r in results.values()):
        rows += [("4-bar loop-ready: F1 of the seam bar 4 -> bar 1", lambda r: r["loops"]["loop_ready"]["seam_f1"]),
                 ("  its inner seams (mean)", lambda r: r["loops"]["loop_ready"]["inner_seams_f1"]),
                 ("  not loop-ready: the seam", lambda r: r["loops"]["plain"]["seam_f1"]),
                 ("  not loop-ready: inner seams (mean)", lambda r: r["loops"]["plain"]["inner_seams_f1"])]
    lines = ["| figure | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines += [f"| {label} | " + " | ".join(f"{get(results[n]):.3f}" for n in names) + " |" for label, get in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from . import data
    from .models.checkpoint import load_model

    parser = window_parser(__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None)
    parser.add_argument("--fill-guidance", default=None, metavar="G,G,...",
                        help="instead: the fill figures and F1 with the true controls and fills of each checkpoint "
                             "at each fill guidance (how the shipped model's was chosen, on validation)")
    parser.add_argument("--follow-kept-bars", default=None, metavar="W,W,...",
                        help="instead: bars made new (3-4, 7-8, both, 5-8) with each pull toward the kept bars around "
                             "them, and how often two seeds make the same bars (how the shipped model's was chosen, on "
                             "validation)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    windows = data.load_split(args.split, args.data, n_bars=N_BARS)
    pick = spread(len(windows), args.limit)
    true_hvo = windows.hvo[pick]
    beats = true_hvo[~np.array([fills.is_fill_file(windows.files[i]) for i in windows.file_index[pick]], bool)]
    if args.follow_kept_bars:
        return follow_sweep(args, [float(w) for w in args.follow_kept_bars.split(",")], true_hvo)
    if args.fill_guidance:
        return guidance_sweep(args, [float(g) for g in args.fill_guidance.split(",")], true_hvo,
                              windows.style[pick], beats)
    loops = beats[loop_windows(beats)]
    results = {}
    for path in args.checkpoints:
        model = load_model(path)
        name = Path(path).stem if Path(path).stem not in results else f"{Path(path).parent.name}/{Path(path).stem}"
        results[name] = {**edit_figures(model, true_hvo, args.seed, args.temperature),
                                    "fills": fill_figures(model, beats, args.seed, args.temperature),
                                    "loops": loop_figures(model, loops, args.seed, args.temperature)}
    print(f"GMD {args.split}: {len(true_hvo)} windows of {N_BARS} bars ({len(beats)} of beat performances for the "
          f"fills, {len(loops)} of them whose bar 5 repeats bar 1 for the loops), seed {args.seed}, "
          f"temperature {args.temperature}")
    clips = windows.fill_clip_bars[:, :BAR]
    real = {**bar_shape("fill_clips", clips, np.ones(1, bool)), **bar_shape("beat_bars", beats[:, :BAR], np.ones(1, bool))}
    print(f"for scale, the split's own fill clips ({len(clips)}): {real['hits_per_bar_fill_clips']:.1f} hits a bar, toms "
          f"{real['tom_share_fill_clips']:.2f} of them; its beat bars: {real['hits_per_bar_beat_bars']:.1f} hits, toms "
          f"{real['tom_share_beat_bars']:.2f}")
    print(format_report(results))
    if args.json:
        Path(args.json).write_text(json.dumps({**results, "real_drums": real}, indent=2))
    return 0


def guidance_sweep(args, guidances: list[float], true_hvo: np.ndarray, styles, beats: np.ndarray) -> int:
    """For each checkpoint and guidance: fills asked and judged fills, none asked and judged fills, a
    fill bar's hits and toms' share, and hit F1 with the true controls and the true fill flags."""
    from .fidelity import Generator, with_true_fills
    from .models.checkpoint import load_model

    print(f"GMD {args.split}: {len(true_hvo)} windows of {N_BARS} bars ({len(beats)} for the fills), seed {args.seed}")
    print("| checkpoint | fill guidance | fill asked: judged fills | none asked: judged fills | hits / toms' share in "
          "fill bars | F1, true controls and fills |\n|---|---|---|---|---|---|")
    for path in args.checkpoints:
        runtime = load_model(path, cache=False)  # a private copy: its guidance is set here
        for g in guidances:
            runtime.model.config.fill_guidance = g
            f = fill_figures(runtime, beats, args.seed, args.temperature)
            f1 = with_true_fills(Generator(runtime, args.seed, args.temperature, 256, None), true_hvo, styles)["f1"]
            print(f"| {Path(path).stem} | {g:g} | {f['asked_fill_judged_fill']:.3f} | {f['asked_none_judged_fill']:.3f} | "
                  f"{f['hits_per_bar_fill_bars']:.1f} / {f['tom_share_fill_bars']:.2f} | {f1:.3f} |")
    return 0


FOLLOW_CASES = ((2, 3), (6, 7), (2, 3, 6, 7), (4, 5, 6, 7))  # 0-based bars made new, the rest true


def follow_sweep(args, weights: list[float], true_hvo: np.ndarray) -> int:
    """For each checkpoint and pull toward the kept bars (`follow_kept_bars`): hit F1 of the bars made
    new in each of FOLLOW_CASES and their mean (the choice), the share of windows whose bars 3-4
    made new come out the same with two seeds (what a pull costs in variety), and the share whose
    bars 3-4, made again (next seed) in a take the model made itself, come out as they were (what a
    musician pressing Regenerate meets)."""
    from .models.checkpoint import load_model

    groove = H.hvo_to_groove(true_hvo)
    length = true_hvo.shape[1]
    cases = ", ".join("-".join(str(b + 1) for b in bars) for bars in FOLLOW_CASES)
    print(f"GMD {args.split}: {len(true_hvo)} windows of {N_BARS} bars, seed {args.seed} (and {args.seed + 1}), "
          f"temperature {args.temperature}")
    print(f"| checkpoint | follow kept bars | F1 of the bars made new ({cases}) | mean | bars 3-4 alike for two seeds | "
          "bars 3-4 of the model's own take made again: unchanged |")
    print("|---|---|---|---|---|---|")
    for path in args.checkpoints:
        model = load_model(path)
        own = _in_batches(model, groove, seed=args.seed, temperature=args.temperature)  # a take the model made
        for w in weights:
            def made(bars, seed=args.seed):
                mask = keep_mask(length, regenerate=list(bars))
                return mask, _in_batches(model, groove, seed=seed, temperature=args.temperature, keep=true_hvo,
                                         keep_mask=mask, follow_kept_bars=w)
            scores, outs = [], []
            for bars in FOLLOW_CASES:
                mask, out = made(bars)
                new = np.tile(~mask, 3)
                scores.append(f1(out * new, true_hvo * new))
                outs.append(out)
            one, other = outs[0], made(FOLLOW_CASES[0], args.seed + 1)[1]
            steps = slice(FOLLOW_CASES[0][0] * BAR, (FOLLOW_CASES[0][-1] + 1) * BAR)
            alike = np.mean([np.array_equal(a[steps, :9], b[steps, :9]) for a, b in zip(one, other)])
            again = _in_batches(model, groove, seed=args.seed + 1, temperature=args.temperature, keep=own,
                                keep_mask=keep_mask(length, regenerate=[2, 3]), follow_kept_bars=w)
            unchanged = np.mean([np.array_equal(a[steps, :9], b[steps, :9]) for a, b in zip(again, own)])
            print(f"| {Path(path).stem} | {w:g} | {' / '.join(f'{x:.3f}' for x in scores)} | {np.mean(scores):.4f} | "
                  f"{alike:.3f} | {unchanged:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
