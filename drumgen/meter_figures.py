"""Does a model play the meter it is given? The figures of issue 14, for any checkpoint.

    python -m drumgen.meter_figures CKPT --data groove-v1.0.0-midionly.zip [--split validation] [--seeds 0,1,2] [--limit N]

Every model is called through `generate(groove, controls=..., seed=..., bars=...)`; "in its meter"
gives the bars (`meter.Bars`), "read as 4/4" is the old behaviour forced through (bars=None: the same
groove as bars of 16 steps). A checkpoint that does not hear the meter (`plays_meters` False) refuses
other bars: then only the 4/4 reading runs, and the report says so.

1. GMD: the split's windows not in 4/4 (8 x 16 = 128 steps from a bar line of the file's meter: in
   the validation split a 3/4 and a 6/8 performance), per meter: hit F1 with every control free and
   with the true controls (density, intensity, instrument shares measured from the true drums in
   their own bars, the window's style; the fill lane free, as in `fidelity`), and the share of bars
   (with hits) that have a kick or crash on beat 1, beside the true drums' share. A 4/4 reading of a
   3/4 window puts its bar lines (and its per-bar controls) in the wrong places.
2. Grooves made in each meter (METERS), deterministic from the seed, of three kinds: a bass line
   (a one-bar riff, varied, always on beat 1, elsewhere on felt beats and off-beat eighths, velocity
   and timing humanised), taps on every felt beat with an accent on beat 1, and a song whose meter
   changes (4 bars of 4/4, a bar of 2/4, 4 bars of the meter, 4 bars of 4/4; a bass line). For the
   drums made for them (every control free):
   (a) bar-level periodicity: the autocorrelation of the drums' hits (all voices summed per step,
       the mean removed) at a lag of one bar against a lag of 16 steps (a 4/4 bar), beside the same
       for the kick and snare alone (the hats' steady eighths repeat at both lags) and for the
       groove's onsets; a model that plays the meter repeats itself every bar, not every 16 steps
       (2/4 is left out: 16 steps are two of its bars);
   (b) the share of playing bars (with any drum hit) with a kick or crash on beat 1; for the songs,
       also of the bars where a new meter starts;
   (c) compound meters (6/8, 9/8, 12/8): kick, snare and hats (velocity x hit, summed) on the
       dotted-quarter beats (steps 0, 6, 12, 18 of the bar) against the other eighths, and the mean
       velocity of the hits there: the accents belong on the dotted quarters; and the backbeat, the
       share of the snare's hits on a dotted quarter after beat 1 (6/8: step 6, where a 3/4 snare
       would fall on step 4).
   All over the seeds (each seed: its own grooves and its own sampling), pooled.
3. Fills in each meter (a model with the fill control): the bass lines and taps of 2., fills asked in
   bars 4 and 8, none in the others, every other control free; the share of playing bars the fill
   judge calls fills where one was asked and where none was (`fills.bar_fill_flags`: a bar of any
   length heard as 16 of its steps), beside the same with the fill lane free; the share of bars 5
   (after the fill of bar 4) with a kick or crash on beat 1.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import controls as C
from . import hvo as H
from . import meter as M
from .edit_figures import FILL_BARS  # fills asked in bars 4 and 8, as in 4/4
from .fidelity import spread
from .meter_probes import (  # noqa: F401
    FOUR_FOUR_LAG,
    KINDS,
    LANDING,
    METERS,
    N_BARS,
    N_GROOVES,
    READING_LABELS,
    READINGS,
    accents,
    bar_mask,
    downbeats,
    groove_figures,
    make_grooves,
    periodicity,
    segment,
    step_hits,
)
from .metrics import score


def plays_meters(model) -> bool:
    """Whether a model (or a loader's Runtime around one) hears the meter and takes bars other than 4/4."""
    for candidate in (model, getattr(model, "model", None)):
        flag = getattr(candidate, "plays_meters", None)
        if flag is not None:
            return bool(flag)
    return False


def plays_fills(model) -> bool:
    """Whether a model (or a loader's Runtime around one) has the fill control."""
    return any(getattr(getattr(c, "config", None), "fill_control", False) for c in (model, getattr(model, "model", None)))


def generate(model, groove: np.ndarray, controls: C.Controls | None, seed: int, bars: M.Bars | None,
             temperature: float = 1.0, batch: int = 64) -> np.ndarray:
    """model.generate in chunks of `batch` items (one seed for all; bars None = read as 4/4)."""
    out = []
    for start in range(0, len(groove), batch):
        part = slice(start, start + batch)
        c = None if controls is None else C.Controls(*(getattr(controls, k)[part] for k in C.CONTROL_KEYS))
        out.append(model.generate(groove[part], controls=c, seed=seed, temperature=temperature, bars=bars))
    return np.concatenate(out) if out else np.zeros(groove.shape[:2] + (H.HVO_DIM,), np.float32)


def true_controls(hvo: np.ndarray, styles, bars: M.Bars | None) -> C.Controls:
    """Density, intensity and instrument shares measured from the true drums in `bars` (None: bars of
    16 steps), the window's style; the fill lane free (as fidelity's true controls)."""
    measured = C.controls_from_measure(C.measure_controls(hvo, bars), list(styles))
    return C.Controls(measured.density, measured.intensity, measured.instruments, measured.style)


def gmd_figures(model, windows, seeds: Sequence[int] = (0,), limit: int = 0, temperature: float = 1.0,
                batch: int = 64) -> dict:
    """Figure 1 on a WindowSet's windows not in 4/4, per meter (at most `limit` of each, spread evenly)."""
    meters = sorted({str(m) for m in windows.meter if m != "4/4"}, key=lambda m: (M.bar_steps(*M.parse_meter(m)), m))
    readings = READINGS if plays_meters(model) else ("4/4",)
    out: dict[str, Any] = {}
    for meter in meters:
        index = np.nonzero(windows.meter == meter)[0]
        index = index[spread(len(index), limit)]
        truth = windows.hvo[index]
        styles = windows.style[index]
        length = truth.shape[1]
        bars = M.Bars.covering(meter, length)
        groove = H.hvo_to_groove(truth)
        row: dict[str, Any] = {"windows": int(len(index)), "performances": int(len(np.unique(windows.file_index[index]))),
                               "true_downbeat": downbeats(truth, bars)["share"]}
        for reading in readings:
            layout = bars if reading == "meter" else None
            if layout is None and length % H.STEPS_PER_BAR:
                continue  # not whole 4/4 bars: no 4/4 reading
            ctrl = true_controls(truth, styles, layout)
            figures: dict[str, list] = {"f1_free": [], "f1_true_controls": [], "downbeat_free": []}
            for seed in seeds:
                free = generate(model, groove, None, seed, layout, temperature, batch)
                given = generate(model, groove, ctrl, seed, layout, temperature, batch)
                figures["f1_free"].append(score(free, truth)["f1"])
                figures["f1_true_controls"].append(score(given, truth)["f1"])
                figures["downbeat_free"].append(downbeats(free, bars)["share"])  # beat 1 where the meter has it
            row[reading] = {k: float(np.mean(v)) for k, v in figures.items()}
            row[reading]["by_seed"] = figures
        out[meter] = row
    return out


def synthetic_figures(model, meters: Sequence[str] = METERS, kinds: Sequence[str] = KINDS, seeds: Sequence[int] = (0,),
                      n_grooves: int = N_GROOVES, n_bars: int = N_BARS, temperature: float = 1.0, batch: int = 64) -> dict:
    """Figure 2: per meter and kind, per reading, the figures of `groove_figures` over every seed's grooves."""
    aware = plays_meters(model)
    out: dict[str, Any] = {}
    for meter in meters:
        out[meter] = {}
        for kind in kinds:
            made = [make_grooves(kind, meter, n_grooves, seed, n_bars) for seed in seeds]
            grooves, bars = np.concatenate([g for g, _ in made]), made[0][1]
            row: dict[str, Any] = {}
            for reading in READINGS:
                if reading == "meter" and not aware:
                    continue
                if reading == "4/4" and (bars.n_steps % H.STEPS_PER_BAR or kind == "song"):
                    continue  # a song that changes meter is no 4/4 song; nor is a groove of part-bars
                layout = bars if reading == "meter" else None
                drums = np.concatenate([generate(model, g, None, seed, layout, temperature, batch)
                                        for (g, _), seed in zip(made, seeds)])
                row[reading] = groove_figures(drums, grooves, bars, meter)
            if row:
                out[meter][kind] = row
    return out


def fill_figures(model, meters: Sequence[str] = METERS, seeds: Sequence[int] = (0,), n_grooves: int = N_GROOVES,
                 n_bars: int = N_BARS, temperature: float = 1.0, batch: int = 64) -> dict:
    """Figure 3: per meter, fills asked in FILL_BARS of the bass lines and taps, judged."""
    from . import fills

    if n_bars <= max(FILL_BARS):
        raise ValueError(f"the fill figure asks fills in bars {FILL_BARS[0] + 1} and {FILL_BARS[1] + 1}: it needs "
                         f"{max(FILL_BARS) + 1} bars or more, got {n_bars}")

    out: dict[str, Any] = {}
    for meter in meters:
        made = [make_grooves(kind, meter, n_grooves, seed, n_bars) for kind in ("bass", "taps") for seed in seeds]
        bars = made[0][1]
        asked = np.isin(np.arange(bars.n_bars), FILL_BARS)
        lane = C.validate_controls({"fill": asked.astype(np.float32)}, n_grooves, bars.n_bars)
        runs = {"asked": [], "free": []}
        for (groove, _), seed in zip(made, list(seeds) * 2):
            runs["asked"].append(generate(model, groove, lane, seed, bars, temperature, batch))
            runs["free"].append(generate(model, groove, None, seed, bars, temperature, batch))
        row: dict[str, Any] = {"grooves": int(sum(len(g) for g, _ in made))}
        for name, drums in ((k, np.concatenate(v)) for k, v in runs.items()):
            pieces = [d[a:b] for d in drums for a, b in zip(bars.starts[:-1], bars.starts[1:])]
            judged = fills.bar_fill_flags(pieces).reshape(len(drums), bars.n_bars) > 0
            playing = np.array([p[:, H.HITS].any() for p in pieces]).reshape(len(drums), bars.n_bars)
            row[name] = {"fill_bars_judged_fill": _share(judged[:, asked][playing[:, asked]]),
                         "other_bars_judged_fill": _share(judged[:, ~asked][playing[:, ~asked]]),
                         "after_fill_kick_or_crash": float((drums[:, bars.starts[FILL_BARS[0] + 1], LANDING] > 0.5)
                                                           .any(-1).mean())}
        out[meter] = row
    return out


def _share(flags: np.ndarray) -> float:
    """The share of True, NaN for none (no playing bar to judge)."""
    return float(flags.mean()) if flags.size else float("nan")


def meter_figures(model, windows=None, seeds: Sequence[int] = (0, 1, 2), limit: int = 0, n_grooves: int = N_GROOVES,
                  meters: Sequence[str] = METERS, kinds: Sequence[str] = KINDS, n_bars: int = N_BARS,
                  temperature: float = 1.0, batch: int = 64) -> dict:
    """Every figure of one model (anything with `generate(groove, controls=, seed=, temperature=, bars=)`);
    windows: a data.WindowSet (its windows not in 4/4 are used) or None (the synthetic figures only).
    limit: at most this many GMD windows per meter and grooves per meter, kind and seed (0: all, n_grooves)."""
    seeds = [int(s) for s in seeds]
    n = min(n_grooves, limit) if limit else n_grooves
    result: dict[str, Any] = {"plays_meters": plays_meters(model), "seeds": seeds, "grooves_per_seed": n,
                              "temperature": temperature}
    if windows is not None:
        result["gmd"] = gmd_figures(model, windows, seeds, limit, temperature, batch)
    result["synthetic"] = synthetic_figures(model, meters, kinds, seeds, n, n_bars, temperature, batch)
    if plays_fills(model) and plays_meters(model) and n_bars > max(FILL_BARS):
        result["fills"] = fill_figures(model, meters, seeds, n, n_bars, temperature, batch)
    return result


# ------------------------------------------------------------------------------------------ report

def _num(value, digits: int = 3) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _seeds(values: list[float]) -> str:
    """Mean over seeds, with the spread (sd) when there are several."""
    values = [v for v in values if np.isfinite(v)]
    if not values:
        return "n/a"
    return f"{np.mean(values):.3f}" + (f" ± {np.std(values):.3f}" if len(values) > 1 else "")


def format_gmd(gmd: dict) -> str:
    lines = ["| meter | windows (performances) | reading | hit F1, all free | hit F1, true controls | "
             "beat 1 kick or crash (free; true drums) |", "|---|---|---|---|---|---|"]
    for meter, row in gmd.items():
        for reading in READINGS:
            if reading not in row:
                continue
            r = row[reading]
            lines.append(f"| {meter} | {row['windows']} ({row['performances']}) | {READING_LABELS[reading]} | "
                         f"{_seeds(r['by_seed']['f1_free'])} | {_seeds(r['by_seed']['f1_true_controls'])} | "
                         f"{_num(r['downbeat_free'])} ({_num(row['true_downbeat'])}) |")
    return "\n".join(lines)


def format_periodicity(synthetic: dict) -> str:
    lines = ["| meter (bar) | kind | reading | drums: r(bar) | drums: r(16) | kick + snare: r(bar) | kick + snare: r(16) | "
             "groove: r(bar) | groove: r(16) |", "|---|---|---|---|---|---|---|---|---|"]
    for meter, kinds in synthetic.items():
        length = M.bar_steps(*M.parse_meter(meter))
        if FOUR_FOUR_LAG % length == 0 or length % FOUR_FOUR_LAG == 0:
            continue  # 2/4: 16 steps are two of its bars
        for kind, row in kinds.items():
            for reading, r in row.items():
                p = r["periodicity"]
                lines.append(f"| {meter} ({length}) | {kind} | {READING_LABELS[reading]} | {_num(p['drums_bar'])} | "
                             f"{_num(p['drums_16'])} | {_num(p['kick_snare_bar'])} | {_num(p['kick_snare_16'])} | "
                             f"{_num(p['groove_bar'])} | {_num(p['groove_16'])} |")
    return "\n".join(lines)


def format_downbeats(synthetic: dict) -> str:
    columns = [(kind, reading) for kind in KINDS for reading in READINGS
               if any(reading in kinds.get(kind, {}) for kinds in synthetic.values())]
    head = [f"{kind}, {READING_LABELS[reading]}" for kind, reading in columns]
    has_song = any("song" in kinds and "meter" in kinds["song"] for kinds in synthetic.values())
    if has_song:
        head.append("song: bars where a meter starts")
    lines = ["| meter | " + " | ".join(head) + " |", "|---|" + "---|" * len(head)]
    for meter, kinds in synthetic.items():
        cells = [_num(kinds.get(kind, {}).get(reading, {}).get("downbeat", {}).get("share")) for kind, reading in columns]
        if has_song:
            cells.append(_num(kinds.get("song", {}).get("meter", {}).get("downbeat_at_changes", {}).get("share")))
        lines.append(f"| {meter} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_accents(synthetic: dict) -> str:
    lines = ["| meter | kind | reading | on dotted quarters | on dotted quarters but beat 1 | other eighths | on / off | "
             "velocity of hits: on / off | snare hits on a dotted quarter but beat 1 |", "|---|---|---|---|---|---|---|---|---|"]
    for meter, kinds in synthetic.items():
        for kind, row in kinds.items():
            for reading, r in row.items():
                if "accents" not in r:
                    continue
                a = r["accents"]
                lines.append(f"| {meter} | {kind} | {READING_LABELS[reading]} | {_num(a['on_beats'])} | "
                             f"{_num(a['on_later_beats'])} | {_num(a['off_beats'])} | {_num(a['ratio'], 2)} | "
                             f"{_num(a['velocity_on_beats'])} / {_num(a['velocity_off_beats'])} | "
                             f"{_num(a.get('snare_on_later_beats', float('nan')))} |")
    return "\n".join(lines)


def format_report(result: dict, name: str = "model") -> str:
    """The tables of one model's figures, with a line on what each is."""
    seeds = ", ".join(map(str, result["seeds"]))
    parts = []
    if not result["plays_meters"]:
        parts.append(f"{name} does not hear the meter (plays_meters False: it refuses bars other than 4/4): only the "
                     "4/4 reading runs, and no song that changes meter")
    if "gmd" in result:
        parts += [f"1. GMD windows not in 4/4 (seeds {seeds}; mean ± sd over seeds): hit F1 against the true drums; "
                  "beat 1 counted in the bars of the window's meter, over the bars with hits", format_gmd(result["gmd"])]
    parts += [f"2. grooves made in each meter ({result['grooves_per_seed']} per meter, kind and seed; seeds {seeds}), "
              "every control free",
              "(a) autocorrelation of the hits per step at a lag of one bar and of 16 steps (one bar should win; "
              "the groove's own beside it)", format_periodicity(result["synthetic"]),
              "(b) playing bars with a kick or crash on beat 1 (songs: the bars in the meter; and the bars where a "
              "new meter starts)", format_downbeats(result["synthetic"]),
              "(c) compound meters: kick, snare and hats, velocity x hit summed, per step on the dotted-quarter beats "
              "against the other eighths (on / off above 1: accents on the dotted quarters)",
              format_accents(result["synthetic"])]
    if "fills" in result:
        parts += ["3. fills asked in bars 4 and 8 of the bass lines and taps, none in the others (the fill judge, "
                  "a bar heard as 16 of its steps; playing bars)", format_fills(result["fills"])]
    return "\n\n".join(parts)


def format_fills(fills_result: dict) -> str:
    lines = ["| meter | grooves | fill asked: judged a fill | none asked: judged a fill | lane free: fill in bars 4, 8 "
             "| lane free: elsewhere | bar 5 starts with a kick or crash |", "|---|---|---|---|---|---|---|"]
    for meter, r in fills_result.items():
        a, f = r["asked"], r["free"]
        lines.append(f"| {meter} | {r['grooves']} | {_num(a['fill_bars_judged_fill'])} | {_num(a['other_bars_judged_fill'])} | "
                     f"{_num(f['fill_bars_judged_fill'])} | {_num(f['other_bars_judged_fill'])} | "
                     f"{_num(a['after_fill_kick_or_crash'])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from . import data
    from .models.checkpoint import load_model

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("--data", default=None, help="GMD zip (default: download the official one once)")
    parser.add_argument("--split", default="validation", choices=data.SPLITS)
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (each: its grooves and its sampling)")
    parser.add_argument("--limit", type=int, default=0,
                        help=f"at most N GMD windows per meter and N grooves per meter, kind and seed "
                             f"(0: every window, {N_GROOVES} grooves)")
    parser.add_argument("--grooves", type=int, default=N_GROOVES, help="grooves per meter, kind and seed")
    parser.add_argument("--meters", default=",".join(METERS), help="meters of the made grooves (comma-separated)")
    parser.add_argument("--no-gmd", action="store_true", help="the made grooves only")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=64, help="items per generate call")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--json", default=None, help="also write every figure to this file")
    args = parser.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        meters = [M.meter_name(M.parse_meter(m)) for m in args.meters.split(",") if m.strip()]
    except ValueError as exc:
        parser.error(str(exc))
    if not seeds:
        parser.error("--seeds: at least one seed")

    import torch

    torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint)
    windows = None if args.no_gmd else data.load_split(args.split, args.data, n_bars=8, meters="other")
    start = time.perf_counter()
    result = meter_figures(model, windows, seeds, args.limit, args.grooves, meters, KINDS, N_BARS, args.temperature,
                           args.batch)
    seconds = time.perf_counter() - start
    print(f"{Path(args.checkpoint).name} ({model.kind}, hears the meter: {'yes' if result['plays_meters'] else 'no'}); "
          + ("" if windows is None else f"GMD {args.split}; ") + f"temperature {args.temperature}; {seconds:.0f} s")
    print(format_report(result, Path(args.checkpoint).stem))
    if args.json:
        Path(args.json).write_text(json.dumps({"checkpoint": str(args.checkpoint), "split": args.split, **result},
                                              indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
