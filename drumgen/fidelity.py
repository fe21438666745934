"""Does a model do what its controls ask? Its quality, control fidelity and style, for any checkpoint.

    python -m drumgen.fidelity CKPT [CKPT ...] --data groove-v1.0.0-midionly.zip [--split test] [--limit N]

On the split's 8-bar windows (128 steps), the groove is the monotonic groove of the true drums and
every model is called through the same `generate(groove, controls=..., seed=..., temperature=...)`:

1. quality: hit F1 and the core's figures with the true controls (measured from the true drums, the
   window's style) and with every control free;
2. fidelity, bar by bar, the realised value counted from the output with `controls.measure_controls`
   (the function that defines each control): density and intensity (Spearman rho between the
   requested level and what the bar plays), mutes (does a voice given weight 0 still play?) and
   raised shares (does a voice asked for more of the bar get more of it?);
3. style: does asking for another style change the drums measurably (a style classifier trained on
   the GMD train drums, and a distance ratio against seed noise)?

A model that ignores a control scores rho ~ 0, leaks every mute, raises no share and sits at chance
on style: the figures can fail (tests/test_fidelity.py shows both ways).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import controls as C
from . import hvo as H
from .judges import MIN_STYLE_WINDOWS, StyleClassifier, position_profile, style_features, train_style_classifier
from .metrics import score, spearman

N_BARS = 8
BAR = H.STEPS_PER_BAR
DENSITY_LEVELS = (0.1, 0.3, 0.5, 0.7, 0.9)
INTENSITY_LEVELS = (0.3, 0.45, 0.6, 0.75, 0.9)
SHARE_RAISE = 0.25
STYLES_ASKED = ("rock", "funk", "jazz", "latin", "hiphop")
CORE = ("f1", "window_f1_median", "velocity_mae_tp", "hit_ratio", "f1_kick", "f1_snare", "f1_closed_hat")
TARGETS = {  # the controllable model's targets
    "f1_true_controls": (">=", 0.75),
    "f1_free": (">=", 0.65),
    "density_rho": (">=", 0.90),
    "intensity_rho": (">=", 0.90),
    "mute_leak": ("<=", 0.02),
    "raised_share": (">=", 0.90),
}


# ---------------------------------------------------------------------------------------- helpers

def meets(name: str, value: float) -> bool:
    op, bound = TARGETS[name]
    return bool(np.isfinite(value) and (value >= bound if op == ">=" else value <= bound))


def spread(n_total: int, limit: int) -> np.ndarray:
    """Indices of `limit` windows spread evenly over the split (all when limit is 0): a small run
    still sees many performances and styles, not the first few files."""
    if not limit or limit >= n_total:
        return np.arange(n_total)
    return np.unique(np.linspace(0, n_total - 1, limit).round().astype(int))


def silent_groove_bars(groove: np.ndarray) -> np.ndarray:
    """(N, B) True where the groove has no onset: the drums rest there by design, so those bars
    say nothing about a control."""
    return groove[..., 0].reshape(len(groove), -1, BAR).max(axis=-1) < 0.5


def level_plan(n_items: int, n_bars: int, levels, rng: np.random.Generator) -> np.ndarray:
    """(N, B) requested levels: each window gets every level once (then more at random) in a
    shuffled order, so levels vary within a window and a model cannot follow the groove alone."""
    levels = np.asarray(levels, np.float64)
    plan = np.empty((n_items, n_bars))
    for i in range(n_items):
        row = np.concatenate([levels, rng.choice(levels, max(n_bars - len(levels), 0))])[:n_bars]
        plan[i] = rng.permutation(row)
    return plan


@dataclass
class Generator:
    """A model's `generate` in chunks of `batch` items with one seed and temperature (and, for
    models that learnt the controls, with or without sampling-time steering)."""

    model: Any
    seed: int = 0
    temperature: float = 1.0
    batch: int = 256
    steer: bool | None = None  # None: generate's default

    def __call__(self, groove: np.ndarray, controls: dict | C.Controls | None = None, seed: int | None = None) -> np.ndarray:
        n, length, _ = groove.shape
        ctrl = None if controls is None else C.validate_controls(controls, n, length // BAR)
        out = []
        for start in range(0, n, self.batch):
            part = slice(start, start + self.batch)
            c = None if ctrl is None else C.Controls(*(getattr(ctrl, k)[part] for k in C.CONTROL_KEYS))
            extra = {} if self.steer is None else {"steer": self.steer}
            out.append(self.model.generate(groove[part], controls=c, seed=self.seed if seed is None else seed,
                                           temperature=self.temperature, **extra))
        return np.concatenate(out) if out else np.zeros((0, length, H.HVO_DIM), np.float32)


# ---------------------------------------------------------------------------------------- figures

def true_controls(true_hvo: np.ndarray, styles) -> C.Controls:
    """The true controls of issue #7, measured from the true drums: density, intensity, shares, style
    (fill, a later control, free)."""
    measured = C.controls_from_measure(C.measure_controls(true_hvo), list(styles))
    return C.Controls(measured.density, measured.intensity, measured.instruments, measured.style)


def quality(gen: Generator, true_hvo: np.ndarray, styles) -> tuple[dict, dict, np.ndarray]:
    """Core figures with the true controls and with all free; also the free output (reused as the
    baseline of the mute and share figures, same seed)."""
    groove = H.hvo_to_groove(true_hvo)
    free_hvo = gen(groove)
    return score(gen(groove, true_controls(true_hvo, styles)), true_hvo), score(free_hvo, true_hvo), free_hvo


def with_true_fills(gen: Generator, true_hvo: np.ndarray, styles) -> dict:
    """Hit F1 with every true control, the fill flags the judge hears in the true drums too."""
    return score(gen(H.hvo_to_groove(true_hvo), C.controls_from_measure(C.measure_controls(true_hvo), list(styles))),
                 true_hvo)


def level_fidelity(gen: Generator, groove: np.ndarray, control: str, levels, rng: np.random.Generator) -> dict:
    """Ask each bar for one level of `control` ('density' or 'intensity'), the rest free; Spearman rho
    between requested level and the bar's realised hit count (density) or mean hit velocity
    (intensity), over the bars with an onset in the groove (and, for intensity, with hits).

    Rank correlation, because a control only promises order (a busier level, a busier bar), not a
    scale; pooled over all windows, so it fails if the groove rather than the level decides. The
    levels are 5 ties: with realised values that never tie, even a perfect order gives at most
    sqrt(1 - 1/5**2) = 0.98, so the 0.9 target leaves room for that."""
    n, length, _ = groove.shape
    plan = level_plan(n, length // BAR, levels, rng)
    out = gen(groove, {control: plan})
    measured = C.measure_controls(out)
    counts = C.bar_hit_counts(out).sum(-1)
    silent = silent_groove_bars(groove)
    use = ~silent & (counts > 0) if control == "intensity" else ~silent
    realised = (counts if control == "density" else measured["intensity"])[use]
    per_level = {f"{lv:g}": float(measured[control][use & np.isclose(plan, lv)].mean())
                 if (use & np.isclose(plan, lv)).any() else float("nan") for lv in levels}
    return {"rho": spearman(plan[use], realised), "mae": float(np.abs(measured[control][use] - plan[use]).mean())
            if use.any() else float("nan"), "realised_by_level": per_level, "bars": int(use.sum()),
            "excluded_silent": int(silent.sum()), "excluded_no_hits": int((~silent & ~use).sum())}


def mute_fidelity(gen: Generator, groove: np.ndarray, free_hvo: np.ndarray) -> dict:
    """Weight 0 for one voice per window (voices taken in turn), everything else free. The leak is the
    share of bars where the muted voice still plays, among the bars where it plays in the free output
    (same seed): the bars where a mute has something to silence, so rare voices do not dilute it.
    The share over all bars with an onset in the groove is given beside it."""
    n, length, _ = groove.shape
    voice = np.arange(n) % H.N_VOICES
    instruments = np.full((n, length // BAR, H.N_VOICES), np.nan)
    instruments[np.arange(n), :, voice] = 0.0
    muted = C.bar_hit_counts(gen(groove, {"instruments": instruments}))[np.arange(n), :, voice] > 0  # (N, B)
    free = C.bar_hit_counts(free_hvo)[np.arange(n), :, voice] > 0
    sounding = ~silent_groove_bars(groove)
    by_voice = {}
    for v, name in enumerate(H.VOICES):
        mask = free & (voice == v)[:, None]
        by_voice[name] = float(muted[mask].mean()) if mask.any() else float("nan")
    return {"leak": float(muted[free].mean()) if free.any() else float("nan"), "bars": int(free.sum()),
            "leak_all_bars": float(muted[sounding].mean()) if sounding.any() else float("nan"),
            "bars_all": int(sounding.sum()), "leak_by_voice": by_voice}


def raised_share_fidelity(gen: Generator, groove: np.ndarray, free_hvo: np.ndarray, raise_by: float = SHARE_RAISE) -> dict:
    """One voice per window (in turn) asked for share min(1, free share + raise_by) in every bar, the
    rest free: the share of bars (with hits in the free output and a free share below 0.75) whose
    realised share is larger than the free one (same seed)."""
    n, length, _ = groove.shape
    voice = np.arange(n) % H.N_VOICES
    free_measured = C.measure_controls(free_hvo)
    free_share = free_measured["instruments"][np.arange(n), :, voice]  # (N, B)
    instruments = np.full((n, length // BAR, H.N_VOICES), np.nan)
    instruments[np.arange(n), :, voice] = np.minimum(1.0, free_share + raise_by)
    realised = C.measure_controls(gen(groove, {"instruments": instruments}))["instruments"][np.arange(n), :, voice]
    use = (C.bar_hit_counts(free_hvo).sum(-1) > 0) & (free_share < 0.75)
    up = realised > free_share + 1e-6
    by_voice = {name: float(up[use & (voice == v)[:, None]].mean()) if (use & (voice == v)[:, None]).any()
                else float("nan") for v, name in enumerate(H.VOICES)}
    return {"raised": float(up[use].mean()) if use.any() else float("nan"), "bars": int(use.sum()),
            "mean_gain": float((realised - free_share)[use].mean()) if use.any() else float("nan"),
            "raised_by_voice": by_voice}


# ------------------------------------------------------------------------------------------ style

def style_figures(gen: Generator, groove: np.ndarray, classifier: StyleClassifier | None, styles=STYLES_ASKED) -> dict:
    """Every groove generated with each style asked for (all bars, other controls free), with two seeds.

    (a) accuracy: the classifier (choosing among the styles asked) names the requested style of an
        output; a model that ignores style gives every request the same output, so at most one of them
        is named right: chance, 1 / len(styles).
    (b) distance ratio: mean L1 distance between the position profiles (each voice's hit rate at each
        16th of the bar) of outputs for the same groove with different styles, over the same distance
        between two seeds of one style. Each cross-style pair also uses two different seeds (style a
        with seed s, style b with seed s + 1), so both sides carry the same seed noise and differ only
        in whether the style changed: a model that ignores style gives exactly 1, one that follows it
        more than 1. Per groove, so the groove's own variety cancels; L1 over hit rates reads as
        "hits per bar that moved".
    """
    styles = list(styles)
    seeds = (gen.seed, gen.seed + 1)
    profiles, predicted = {}, {}
    for s in styles:
        for k, seed in enumerate(seeds):
            out = gen(groove, {"style": s}, seed=seed)
            profiles[s, k] = position_profile(out).reshape(len(groove), -1)
            if k == 0 and classifier is not None:
                predicted[s] = classifier.predict(style_features(out), among=styles)
    same = np.mean([np.abs(profiles[s, 0] - profiles[s, 1]).sum(1).mean() for s in styles])
    cross = np.mean([np.abs(profiles[a, 0] - profiles[b, 1]).sum(1).mean() for a in styles for b in styles if a != b])
    out: dict[str, Any] = {"styles": styles, "chance": 1 / len(styles), "distance_cross_style": float(cross),
                           "distance_same_style": float(same),
                           "distance_ratio": float(cross / same) if same > 0 else float("nan")}
    if classifier is not None:
        out["accuracy"] = float(np.mean([np.mean(predicted[s] == s) for s in styles]))
        out["accuracy_by_style"] = {s: float(np.mean(predicted[s] == s)) for s in styles}
        out["confusion"] = {s: {t: int((predicted[s] == t).sum()) for t in styles} for s in styles}
    return out


# ------------------------------------------------------------------------------------------ report

def evaluate_model(model, true_hvo: np.ndarray, window_styles, classifier: StyleClassifier | None = None,
                   styles=STYLES_ASKED, seed: int = 0, temperature: float = 1.0, batch: int = 256,
                   steer: bool | None = None) -> dict:
    """Every figure of one model (anything with `generate(groove, controls=, seed=, temperature=)`)."""
    gen = Generator(model, seed, temperature, batch, steer)
    groove = H.hvo_to_groove(true_hvo)
    rng = np.random.default_rng(seed)
    with_true, free, free_hvo = quality(gen, true_hvo, window_styles)
    density = level_fidelity(gen, groove, "density", DENSITY_LEVELS, rng)
    intensity = level_fidelity(gen, groove, "intensity", INTENSITY_LEVELS, rng)
    mutes = mute_fidelity(gen, groove, free_hvo)
    raised = raised_share_fidelity(gen, groove, free_hvo)
    style = style_figures(gen, groove, classifier, styles)
    figures = {"f1_true_controls": with_true["f1"], "f1_free": free["f1"], "density_rho": density["rho"],
               "intensity_rho": intensity["rho"], "mute_leak": mutes["leak"], "raised_share": raised["raised"]}
    quality_figures = {"true_controls": with_true, "free": free}
    if getattr(model, "follows_fills", False):
        quality_figures["true_controls_and_fills"] = with_true_fills(gen, true_hvo, window_styles)
    return {"figures": figures, "met": {k: meets(k, v) for k, v in figures.items()},
            "quality": quality_figures, "density": density, "intensity": intensity,
            "mutes": mutes, "raised_share": raised, "style": style}


def _cell(value: float, target: str | None = None) -> str:
    text = "n/a" if value is None or not np.isfinite(value) else f"{value:.3f}"
    return text if target is None else f"{text} {'ok' if meets(target, value) else 'MISSED'}"


def format_report(results: dict[str, dict]) -> str:
    """One markdown table, the checkpoints side by side, targets and whether each is met."""
    names = list(results)

    def row(label: str, target: str, get, target_key: str | None = None) -> str:
        cells = []
        for n in names:
            try:
                value = get(results[n])
            except KeyError:
                value = None
            cells.append(_cell(value, target_key if value is not None else None))
        return f"| {label} | {target} | " + " | ".join(cells) + " |"

    def target_text(key: str) -> str:
        op, bound = TARGETS[key]
        return f"{op} {bound:g}"

    lines = ["| figure | target | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for mode, key in (("true controls", "true_controls"), ("all free", "free")):
        tkey = "f1_true_controls" if key == "true_controls" else "f1_free"
        lines.append(row(f"hit F1, {mode}", target_text(tkey), lambda r, k=key: r["quality"][k]["f1"], tkey))
        for m in CORE[1:]:
            lines.append(row(f"  {m}, {mode}", "", lambda r, k=key, m=m: r["quality"][k][m]))
    lines.append(row("hit F1, true controls and the true fill flags (models with fills)", "",
                     lambda r: r["quality"]["true_controls_and_fills"]["f1"]))
    lines.append(row("density: Spearman rho (level vs hits)", target_text("density_rho"),
                     lambda r: r["density"]["rho"], "density_rho"))
    lines.append(row("  density: MAE requested vs realised", "", lambda r: r["density"]["mae"]))
    lines.append(row("intensity: Spearman rho (level vs mean velocity)", target_text("intensity_rho"),
                     lambda r: r["intensity"]["rho"], "intensity_rho"))
    lines.append(row("  intensity: MAE requested vs realised", "", lambda r: r["intensity"]["mae"]))
    lines.append(row("mute leak (bars the free output plays the voice)", target_text("mute_leak"),
                     lambda r: r["mutes"]["leak"], "mute_leak"))
    lines.append(row("  mute leak, all bars with an onset", "", lambda r: r["mutes"]["leak_all_bars"]))
    lines.append(row(f"raised share (+{SHARE_RAISE:g}): bars raised", target_text("raised_share"),
                     lambda r: r["raised_share"]["raised"], "raised_share"))
    lines.append(row("  raised share: mean realised gain", "", lambda r: r["raised_share"]["mean_gain"]))
    first = next(iter(results.values()))["style"]
    lines.append(row(f"style: classifier names the asked style (chance {first['chance']:.3f})", "> chance",
                     lambda r: r["style"]["accuracy"]))
    lines.append(row("style: profile distance, other style / other seed", "> 1", lambda r: r["style"]["distance_ratio"]))
    return "\n".join(lines)


def window_parser(description: str) -> argparse.ArgumentParser:
    """The options every script of figures on the split's 8-bar windows shares."""
    from . import data

    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--data", default=None, help="GMD zip (default: download the official one once)")
    parser.add_argument("--split", default="test", choices=data.SPLITS)
    parser.add_argument("--limit", type=int, default=0, help="use N windows spread evenly over the split (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=1.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    from . import data
    from .models.checkpoint import load_model

    parser = window_parser(__doc__)
    parser.add_argument("--styles", default=",".join(STYLES_ASKED), help="styles to ask for (comma-separated)")
    parser.add_argument("--batch", type=int, default=256, help="windows per generate call")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--steered-only", action="store_true",
                        help="for a model that learnt the controls, skip the run without sampling-time steering")
    parser.add_argument("--json", default=None, help="also write every figure to this file")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    windows = data.load_split(args.split, args.data, n_bars=N_BARS)
    pick = spread(len(windows), args.limit)
    true_hvo, window_styles = windows.hvo[pick], windows.style[pick]
    train = data.load_split("train", args.data, n_bars=N_BARS)
    classifier = train_style_classifier(train.hvo, train.style, seed=args.seed)
    asked = [C.STYLES[C.style_index(s)] for s in args.styles.split(",") if s.strip()]
    dropped = [s for s in asked if s not in classifier.classes]
    asked = [s for s in asked if s in classifier.classes]
    if len(asked) < 2:
        parser.error(f"need at least 2 styles with >= {MIN_STYLE_WINDOWS} train windows; have {asked}")
    real = np.isin(window_styles, asked)
    ceiling = float(np.mean(classifier.predict(style_features(true_hvo[real]), among=asked) == window_styles[real])) \
        if real.any() else float("nan")
    del train

    results, kinds, seconds, paths = {}, {}, {}, {}
    labels = [Path(p).stem for p in args.checkpoints]
    if len(set(labels)) < len(labels):
        labels = list(args.checkpoints)
    for name, path in zip(labels, args.checkpoints):
        model = load_model(path)
        # a model that learnt the controls is shown by itself too: how far it follows them unaided
        variants = [(f"{name} learnt only", False), (f"{name} + steering", True)] \
            if model.learns_controls and not args.steered_only else [(name, None)]
        for label, steer in variants:
            kinds[label], paths[label] = model.kind, str(path)
            start = time.perf_counter()
            results[label] = evaluate_model(model, true_hvo, window_styles, classifier, asked, args.seed,
                                            args.temperature, args.batch, steer)
            seconds[label] = time.perf_counter() - start

    print(f"GMD {args.split}: {len(true_hvo)} windows of {N_BARS} bars, seed {args.seed}, temperature {args.temperature}; "
          + ", ".join(f"{k} = {v} ({seconds[k]:.0f} s)" for k, v in kinds.items()))
    print(format_report(results))
    first = next(iter(results.values()))["density"]
    print(f"density and intensity: {first['bars']} bars with a groove onset used, {first['excluded_silent']} left out "
          "(groove silent: the drums rest there); intensity bars used (with hits): "
          + ", ".join(f"{k} {r['intensity']['bars']}" for k, r in results.items()))
    print(f"style classifier: {len(classifier.classes)} styles with >= {MIN_STYLE_WINDOWS} train windows "
          f"({', '.join(classifier.classes)}); asked: {', '.join(asked)}"
          + (f" (dropped, too few windows: {', '.join(dropped)})" if dropped else "")
          + f"; on the true {args.split} drums of those styles it names {ceiling:.3f} right ({int(real.sum())} windows)")
    for label, r in results.items():
        missed = [k for k, ok in r["met"].items() if not ok]
        print(f"{label}: targets met: " + ("all" if not missed else
                                           f"{len(TARGETS) - len(missed)} of {len(TARGETS)}; missed: {', '.join(missed)}"))
    if args.json:
        report = {"split": args.split, "windows": len(true_hvo), "bars_per_window": N_BARS, "seed": args.seed,
                  "temperature": args.temperature, "targets": {k: list(v) for k, v in TARGETS.items()},
                  "density_levels": list(DENSITY_LEVELS), "intensity_levels": list(INTENSITY_LEVELS),
                  "style_classifier": {"classes": classifier.classes, "asked": asked, "dropped": dropped,
                                       "accuracy_on_true_drums": ceiling, "true_windows": int(real.sum())},
                  "checkpoints": {label: {"path": paths[label], "kind": kinds[label], "seconds": seconds[label],
                                          **results[label]} for label in results}}
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
