"""Grooves made in each meter, and what drums made for them do there: the probes of
`drumgen.meter_figures` (issue 14). A bass line, taps on the felt beats and a song whose meter
changes, deterministic from a seed; the bar-level periodicity of the drums, the kick or crash on
beat 1, the accents of compound meters."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import hvo as H
from . import meter as M

METERS = ("3/4", "6/8", "12/8", "2/4", "5/4", "7/8", "5/8", "9/8")
KINDS = ("bass", "taps", "song")
READINGS = ("meter", "4/4")  # bars given; the old behaviour forced through (bars=None)
READING_LABELS = {"meter": "in its meter", "4/4": "read as 4/4"}
N_BARS = 8                   # bars of a bass line or taps groove (8 bars of any meter here are whole 4/4 bars too)
N_GROOVES = 16               # grooves per meter, kind and seed
LANDING = [H.VOICES.index(v) for v in ("kick", "crash")]
BACKBONE = [H.VOICES.index(v) for v in ("kick", "snare")]  # what places a bar, without the hats' steady pulse
ACCENT_VOICES = [H.VOICES.index(v) for v in ("kick", "snare", "closed_hat", "open_hat")]
FOUR_FOUR_LAG = H.STEPS_PER_BAR


# ---------------------------------------------------------------------------------------- grooves

def song_bars(meter) -> M.Bars:
    """A song whose meter changes: 4 bars of 4/4, a bar of 2/4, 4 bars of `meter`, 4 bars of 4/4."""
    return M.Bars.from_runs([(4, 4, 4), (2, 4, 1), (*M.parse_meter(meter), 4), (4, 4, 4)])


def _eighths(meter: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, int]:
    """A bar's felt-beat starts and its other eighths (steps from the bar line), and its length."""
    length = M.bar_steps(*meter)
    beats = np.cumsum((0,) + M.beat_groups(*meter)[:-1])
    eighths = np.arange(0, length, 2)
    return beats, eighths[~np.isin(eighths, beats)], length


def bass_line(bars: M.Bars, rng: np.random.Generator) -> np.ndarray:
    """(T, 3) a bass line: a one-bar riff per meter (beat 1 always; the other felt beats with chance
    0.6, the other eighths 0.35), each bar the riff with a few notes changed (beat 1 kept); velocity
    loudest on beat 1, then the felt beats, then the off-beats; timing within a few hundredths of a step."""
    groove = np.zeros((bars.n_steps, H.GROOVE_DIM), np.float32)
    riffs: dict = {}
    for meter, start in zip(bars.meters, bars.starts[:-1]):
        beats, offbeats, length = _eighths(meter)
        if meter not in riffs:
            riff = np.zeros(length, bool)
            riff[beats] = rng.random(len(beats)) < 0.6
            riff[offbeats] = rng.random(len(offbeats)) < 0.35
            riffs[meter] = riff
        bar = riffs[meter].copy()
        places = np.concatenate([beats[1:], offbeats])
        flip = places[rng.random(len(places)) < 0.1]
        bar[flip] = ~bar[flip]
        bar[0] = True
        level = np.full(length, 0.52)
        level[beats] = 0.7
        level[0] = 0.85
        steps = np.nonzero(bar)[0]
        groove[start + steps, 0] = 1.0
        groove[start + steps, 1] = np.clip(level[steps] + rng.normal(0, 0.06, len(steps)), 0.1, 1.0)
        groove[start + steps, 2] = np.clip(rng.normal(0, 0.05, len(steps)), -0.3, 0.3)
    return groove


def taps(bars: M.Bars, rng: np.random.Generator) -> np.ndarray:
    """(T, 3) a tap on every felt beat of every bar, beat 1 accented, slightly humanised."""
    groove = np.zeros((bars.n_steps, H.GROOVE_DIM), np.float32)
    on = np.flatnonzero(bars.beat_starts)
    downbeat = np.isin(on, bars.starts[:-1])
    groove[on, 0] = 1.0
    groove[on, 1] = np.clip(np.where(downbeat, 0.9, 0.6) + rng.normal(0, 0.03, len(on)), 0.1, 1.0)
    groove[on, 2] = np.clip(rng.normal(0, 0.02, len(on)), -0.3, 0.3)
    return groove


def make_grooves(kind: str, meter, n: int, seed: int, n_bars: int = N_BARS) -> tuple[np.ndarray, M.Bars]:
    """n grooves (n, T, 3) of one kind in one meter, and their bars; the same for the same arguments."""
    meter = M.parse_meter(meter)
    if kind == "song":
        bars = song_bars(meter)
    elif kind in ("bass", "taps"):
        bars = M.Bars.uniform(meter, n_bars)
    else:
        raise ValueError(f"kind: one of {KINDS}, got {kind!r}")
    rng = np.random.default_rng([seed, KINDS.index(kind), meter[0], meter[1]])
    make = taps if kind == "taps" else bass_line
    grooves = np.stack([make(bars, rng) for _ in range(n)]) if n else np.zeros((0, bars.n_steps, 3), np.float32)
    return grooves, bars


# ---------------------------------------------------------------------------------------- figures

def periodicity(x: np.ndarray, lag: int) -> float:
    """Mean over items of the autocorrelation of per-step values x (N, T) (or (T,)) at `lag`: each
    item's mean removed, the correlation of x[t] with x[t + lag] over the T - lag pairs (their
    products over the root of both sides' sums of squares: in [-1, 1], and no lag favoured for having
    more pairs). Items with nothing varying on either side are left out; NaN if none is left."""
    x = np.atleast_2d(np.asarray(x, np.float64))
    if not 0 < lag < x.shape[1]:
        return float("nan")
    x = x - x.mean(axis=1, keepdims=True)
    a, b = x[:, :-lag], x[:, lag:]
    power = np.sqrt((a ** 2).sum(axis=1) * (b ** 2).sum(axis=1))
    use = power > 1e-12
    if not use.any():
        return float("nan")
    return float(((a[use] * b[use]).sum(axis=1) / power[use]).mean())


def step_hits(hvo: np.ndarray, voices: Sequence[int] | None = None) -> np.ndarray:
    """(N, T): the drums' hits per step, all voices (or those `voices`) summed."""
    hits = hvo[..., H.HITS] > 0.5
    return (hits if voices is None else hits[..., list(voices)]).sum(-1).astype(np.float64)


def bar_mask(bars: M.Bars, meter=None) -> np.ndarray:
    """(B,) the bars in `meter` (all with None)."""
    if meter is None:
        return np.ones(bars.n_bars, bool)
    meter = M.parse_meter(meter)
    return np.array([m == meter for m in bars.meters], bool)


def downbeats(hvo: np.ndarray, bars: M.Bars, which: np.ndarray | None = None) -> dict:
    """Of the playing bars (any hit) among `which` (B,) bool (default all): how many have a kick or a
    crash on their first step, the share, and the bars."""
    which = np.ones(bars.n_bars, bool) if which is None else np.asarray(which, bool)
    n, length, _ = hvo.shape
    starts = bars.starts[:-1][which]
    starts = starts[starts < length]
    index, _ = M.step_bars(bars, n, length)
    playing = M.bar_sums((hvo[..., H.HITS] > 0.5).any(-1), index, bars.n_bars) > 0          # (N, B)
    playing = playing[:, np.nonzero(which)[0][:len(starts)]]
    landed = (hvo[:, starts][..., LANDING] > 0.5).any(-1) & playing
    count = int(playing.sum())
    return {"share": float(landed.sum() / count) if count else float("nan"), "bars": count}


def accents(hvo: np.ndarray, bars: M.Bars, which: np.ndarray | None = None) -> dict:
    """Kick, snare and hats on the felt-beat starts of the bars in `which` against their other
    eighths: the mean per step of velocity x hit (summed over those voices), on the beats, on the
    beats but beat 1, and off them; the mean velocity of the hits there; and on / off. Besides, the
    backbeat: the share of the snare's hits in those bars that fall on a felt beat after beat 1 (6/8:
    its fourth eighth, not the third, where 3/4 puts it)."""
    which = np.ones(bars.n_bars, bool) if which is None else np.asarray(which, bool)
    played = (hvo[..., H.HITS] > 0.5)[..., ACCENT_VOICES]
    energy = (hvo[..., H.VELOCITIES][..., ACCENT_VOICES] * played).sum(-1)               # (N, T)
    count = played.sum(-1)
    on, off, later, inside = [], [], [], []
    for b in np.nonzero(which)[0]:
        beats, offbeats, length = _eighths(bars.meters[b])
        start = int(bars.starts[b])
        on += (start + beats).tolist()
        later += (start + beats[1:]).tolist()
        off += (start + offbeats).tolist()
        inside += range(start, start + length)
    snare = hvo[..., H.HITS][..., H.VOICES.index("snare")] > 0.5
    inside = [s for s in inside if s < hvo.shape[1]]
    snare_hits = int(snare[:, inside].sum()) if inside else 0

    def per_step(steps) -> float:
        steps = [s for s in steps if s < hvo.shape[1]]
        return float(energy[:, steps].mean()) if steps and len(hvo) else float("nan")

    def velocity(steps) -> float:
        steps = [s for s in steps if s < hvo.shape[1]]
        hits = count[:, steps].sum() if steps else 0
        return float(energy[:, steps].sum() / hits) if hits else float("nan")

    out = {"on_beats": per_step(on), "on_later_beats": per_step(later), "off_beats": per_step(off),
           "velocity_on_beats": velocity(on), "velocity_off_beats": velocity(off)}
    out["ratio"] = out["on_beats"] / out["off_beats"] if out["off_beats"] > 0 else float("nan")
    backbeats = [s for s in later if s < hvo.shape[1]]
    out["snare_on_later_beats"] = float(snare[:, backbeats].sum() / snare_hits) if snare_hits else float("nan")
    return out


def segment(bars: M.Bars, meter) -> slice:
    """The steps of the first run of bars in `meter` (all of a groove in one meter)."""
    mask = bar_mask(bars, meter)
    first = int(np.argmax(mask))
    last = first
    while last + 1 < bars.n_bars and mask[last + 1]:
        last += 1
    return slice(int(bars.starts[first]), int(bars.starts[last + 1]))


def groove_figures(hvo: np.ndarray, groove: np.ndarray, bars: M.Bars, meter) -> dict:
    """Figures (a) to (c) of drums (N, T, 27) made for grooves (N, T, 3) laid out in `bars`, on the bars in `meter`."""
    meter = M.parse_meter(meter)
    length = M.bar_steps(*meter)
    steps = segment(bars, meter)
    drums, onsets = step_hits(hvo)[:, steps], (groove[..., 0] > 0.5).astype(np.float64)[:, steps]
    backbone = step_hits(hvo, BACKBONE)[:, steps]
    which = bar_mask(bars, meter)
    out = {"items": int(len(hvo)), "bar_steps": length,
           "periodicity": {"drums_bar": periodicity(drums, length), "drums_16": periodicity(drums, FOUR_FOUR_LAG),
                           "kick_snare_bar": periodicity(backbone, length),
                           "kick_snare_16": periodicity(backbone, FOUR_FOUR_LAG),
                           "groove_bar": periodicity(onsets, length), "groove_16": periodicity(onsets, FOUR_FOUR_LAG)},
           "downbeat": downbeats(hvo, bars, which),
           "hits_per_bar": float((hvo[..., H.HITS] > 0.5)[:, steps].sum() / max(len(hvo) * int(which.sum()), 1))}
    if not bars.is_four_four and len(set(bars.meters)) > 1:  # a song: the bars where a new meter starts
        changes = np.zeros(bars.n_bars, bool)
        changes[1:] = [a != b for a, b in zip(bars.meters[1:], bars.meters[:-1])]
        out["downbeat_at_changes"] = downbeats(hvo, bars, changes)
        out["downbeat_all_bars"] = downbeats(hvo, bars)
    if meter[1] == 8 and meter[0] % 3 == 0:
        out["accents"] = accents(hvo, bars, which)
    return out


# ---------------------------------------------------------------------------------------- models
