"""How training windows are changed: the grooves a musician brings (a voice or two, jittered), the
drums' own variations that a control explains (voices thinned, louder or softer), fills spliced in,
bars re-cut into other meters, taps in place of a groove, and the keep masks of takes to edit. Each
takes drums (N, T, 27) and a generator, so a run is reproducible from its seed."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import hvo as H
from . import meter as M


@dataclass
class AugmentConfig:
    """How training grooves are made from drums: a musician's groove is rarely the whole kit."""

    p_full: float = 0.5          # groove of all voices (the evaluation's case)
    p_keep_voice: float = 0.5    # otherwise each voice joins the groove with this chance
    velocity_jitter: float = 0.1  # std of a per-window gain and of per-hit noise on groove velocities
    offset_jitter: float = 0.02   # std (steps) of noise on groove offsets
    drum_gain: float = 0.0        # drums and groove together: velocities x U(1 - g, 1 + g) per window


def augment_drums(hvo: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Label-preserving changes to the target drums themselves: the same part played softer or harder."""
    if cfg.drum_gain <= 0:
        return hvo
    hvo = hvo.copy()
    gain = rng.uniform(1 - cfg.drum_gain, 1 + cfg.drum_gain, (len(hvo), 1, 1)).astype(np.float32)
    scaled = np.clip(hvo[..., H.VELOCITIES] * gain, 1 / 127, 1.0)
    hvo[..., H.VELOCITIES] = np.where(hvo[..., H.HITS] > 0, scaled, 0.0)
    return hvo


def augmented_grooves(hvo: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Grooves (N, T, 3) for a batch of drums (N, T, 27): full, or from a random voice subset, jittered."""
    n = len(hvo)
    keep = rng.random((n, H.N_VOICES)) < cfg.p_keep_voice
    keep[rng.random(n) < cfg.p_full] = True
    hits = hvo[..., H.HITS]
    present = hits.max(axis=1) > 0  # (N, 9) voices that play in the window
    empty = ~(keep & present).any(axis=1)
    if empty.any():  # keep at least one playing voice
        idx = np.nonzero(empty)[0]
        choice = [rng.choice(np.nonzero(present[i])[0]) if present[i].any() else 0 for i in idx]
        keep[idx, choice] = True
    mask = np.concatenate([keep, keep, keep], axis=1).astype(np.float32)[:, None, :]
    groove = H.hvo_to_groove(hvo * mask)
    hit = groove[..., 0]
    gain = 1.0 + cfg.velocity_jitter * rng.standard_normal((n, 1))
    velocity = groove[..., 1] * gain + cfg.velocity_jitter * 0.5 * rng.standard_normal(hit.shape)
    offset = groove[..., 2] + cfg.offset_jitter * rng.standard_normal(hit.shape)
    groove[..., 1] = np.clip(velocity, 0.02, 1.0) * hit
    groove[..., 2] = np.clip(offset, -0.5, 0.4999) * hit
    return groove


def remove_voices(hvo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A plausible sparser part for the same groove: each window (N, T, 27) loses each of its
    playing voices with chance 1/2 (keeping at least one), in the whole window for half of the
    windows and bar by bar for the others, so a model learns to follow a change from one bar to
    the next (a drummer dropping the hats in bar 3)."""
    n, length, _ = hvo.shape
    bars = length // H.STEPS_PER_BAR
    hits = hvo[..., H.HITS].reshape(n, bars, H.STEPS_PER_BAR, H.N_VOICES)
    playing = hits.max(axis=2) > 0                                             # (N, bars, 9)
    per_window = rng.random((n, 1, H.N_VOICES)) < 0.5
    per_bar = rng.random((n, bars, H.N_VOICES)) < 0.5
    drop = playing & np.where((rng.random(n) < 0.5)[:, None, None], per_bar, per_window)
    for i, b in zip(*np.nonzero(playing.any(-1) & ~(playing & ~drop).any(-1))):  # never empty a bar
        drop[i, b, rng.choice(np.nonzero(playing[i, b])[0])] = False
    keep = np.repeat(~drop, H.STEPS_PER_BAR, axis=1)                            # (N, T, 9)
    return hvo * np.tile(keep, 3).astype(np.float32)


def shift_loudness(hvo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same part louder or softer than its groove: one gain in [0.55, 1.45] for the window or,
    for half of the windows, one per bar."""
    n, length, _ = hvo.shape
    bars = length // H.STEPS_PER_BAR
    gain = np.where((rng.random(n) < 0.5)[:, None], rng.uniform(0.55, 1.45, (n, bars)), rng.uniform(0.55, 1.45, (n, 1)))
    gain = np.repeat(gain, H.STEPS_PER_BAR, axis=1)[..., None].astype(np.float32)  # (N, T, 1)
    out = hvo.copy()
    out[..., H.VELOCITIES] = np.clip(hvo[..., H.VELOCITIES] * gain, 1 / 127, 1.0) * hvo[..., H.HITS]
    return out


def splice_fills(hvo: np.ndarray, clips: np.ndarray, rng: np.random.Generator, share: float,
                 where: np.ndarray | None = None, layouts: list | None = None) -> np.ndarray:
    """A `share` of the windows (N, T, 27) get one bar replaced by a fill clip (clips (M, 17, 27),
    `WindowSet.fill_clip_bars`): at the end of a 4-bar phrase for half of them, anywhere for the
    others; the hits the clip lands with on the next downbeat are laid over that step. A model so
    learns fills inside a song's flow, not only as the lone clips the GMD records them as. `where`
    (N,) bool: the windows that may get one. `layouts`: each window's bars (`meter.Bars`; None: 16
    steps a bar); a clip is a bar of 4/4, so in a bar of another length it is fitted as a drummer
    would play it there (`fit_fill`)."""
    n, length, _ = hvo.shape
    drawn = rng.random(n) < share if len(clips) else np.zeros(n, bool)
    if where is not None:
        drawn &= np.asarray(where, bool)
    chosen = np.nonzero(drawn)[0] if len(clips) else np.zeros(0, int)
    if not len(chosen):
        return hvo
    out = hvo.copy()
    for i in chosen:
        if layouts is None:
            starts = np.arange(0, length + 1, H.STEPS_PER_BAR)
        else:
            starts = np.asarray(layouts[i].starts)
        starts = starts[starts <= length]
        n_bars = len(starts) - 1
        if n_bars < 1:
            continue
        phrase_ends = np.arange(3, n_bars, 4) if n_bars >= 4 else np.array([n_bars - 1])
        bar = int(rng.choice(phrase_ends)) if rng.random() < 0.5 else int(rng.integers(0, n_bars))
        clip = clips[rng.integers(len(clips))]
        start, landing = int(starts[bar]), int(starts[bar + 1])
        out[i, start:landing] = fit_fill(clip[:H.STEPS_PER_BAR], hvo[i, start:landing])
        if landing < length:
            lands = np.tile(clip[H.STEPS_PER_BAR, H.HITS] > 0, 3)
            out[i, landing] = np.where(lands, clip[H.STEPS_PER_BAR], out[i, landing])
    return out


def fit_fill(clip: np.ndarray, beat_bar: np.ndarray) -> np.ndarray:
    """A one-bar fill of 4/4 (16, 27) fitted to a bar of len(beat_bar) steps: a fill builds to the
    bar's end, so a shorter bar plays the clip's last steps (a 3/4 fill is the last three beats of a
    4/4 one) and a longer bar plays its own groove first, then the whole clip (a 5/4 fill is a beat
    of time, then the fill). The shape `fills.judged_steps` hears a bar of any length in."""
    steps = len(beat_bar)
    if steps <= H.STEPS_PER_BAR:
        return clip[H.STEPS_PER_BAR - steps:].copy()
    return np.concatenate([beat_bar[:steps - H.STEPS_PER_BAR], clip])


# 4/4 bars re-cut into bars of other meters (a bar of 4/4 with its last eighth left out is a bar of
# 7/8, as drummers often count it; with its last beat left out, one of 3/4; with its last beat
# played again, one of 5/4): the GMD has no 7/8 or 2/4 and little 5/4 or 5/8
METER_RECUTS = {"7/8": 14, "3/4": 12, "2/4": 8, "5/8": 10, "5/4": 20}


def recut_bars(hvo: np.ndarray, steps: int, length: int | None = None) -> np.ndarray:
    """A 4/4 window (T, 27) as bars of `steps` sixteenths: each bar's first `steps` (fewer than 16),
    or the bar and its last steps - 16 again (more), joined and cut or padded with silence to T
    (or `length`)."""
    length = len(hvo) if length is None else length
    bars = hvo[: len(hvo) // H.STEPS_PER_BAR * H.STEPS_PER_BAR].reshape(-1, H.STEPS_PER_BAR, H.HVO_DIM)
    if steps <= H.STEPS_PER_BAR:
        pieces = bars[:, :steps]
    else:
        pieces = np.concatenate([bars, bars[:, 2 * H.STEPS_PER_BAR - steps:]], axis=1)
    out = H.empty_hvo(length)
    joined = pieces.reshape(-1, H.HVO_DIM)[:length]
    out[: len(joined)] = joined
    return out


def _near(position: np.ndarray, centre: float, tolerance: float) -> np.ndarray:
    return np.abs((position - centre + 0.5) % 1.0 - 0.5) < tolerance


def triplet_feel(hvo: np.ndarray, min_triplets: int = 16, ratio: float = 3.0) -> np.ndarray:
    """(N,) bool: windows (N, T, 27) of 4/4 played in triplets (a shuffle, a swing, a 12/8 ballad
    written as 4/4): at least `min_triplets` hits a third or two thirds into a beat, and `ratio`
    times as many there as on its straight eighths and sixteenths. The GMD writes such songs as
    4/4; they are the 6/8 and 12/8 it has little of (710 train windows of them, 44 of 6/8)."""
    hits = hvo[..., H.HITS] > 0
    in_beat = ((np.arange(hvo.shape[1])[:, None] + hvo[..., H.OFFSETS]) / H.STEPS_PER_BEAT) % 1.0
    triplets = (hits & (_near(in_beat, 1 / 3, 0.07) | _near(in_beat, 2 / 3, 0.07))).sum(axis=(1, 2))
    straight = (hits & (_near(in_beat, 0.25, 0.06) | _near(in_beat, 0.5, 0.06) | _near(in_beat, 0.75, 0.06)))
    return (triplets >= min_triplets) & (triplets >= ratio * straight.sum(axis=(1, 2)))


def stretch_to_compound(hvo: np.ndarray, length: int | None = None) -> np.ndarray:
    """A 4/4 window in triplets (T, 27) as the same part in 12/8 (or 6/8): each beat of 4 sixteenths
    becomes a dotted quarter of 6, so its triplet eighths land on eighths (steps 0, 2, 4 of the
    beat) and a backbeat on 2 and 4 lands on the second dotted quarter of each 6/8 bar; the time
    in seconds is the same at a dotted-quarter tempo equal to the quarter's. Cut to T steps (or
    `length`)."""
    length = len(hvo) if length is None else length
    steps, voices = np.nonzero(hvo[:, H.HITS] > 0)
    stretched = (steps + hvo[steps, H.OFFSETS.start + voices]) * 1.5
    new_steps = np.maximum(np.floor(stretched + 0.5).astype(np.int64), 0)  # a downbeat played early stays on it
    offsets = np.clip(stretched - new_steps, -0.5, 0.4999)
    velocities = hvo[steps, H.VELOCITIES.start + voices]
    return H.place_onsets(length, new_steps, offsets, velocities, voices, H.N_VOICES)


COMPOUND = ("6/8", "12/8", "9/8")  # the meters a 4/4 window in triplets can be played in


def compound_bars(window: np.ndarray, meter: str, length: int | None = None) -> np.ndarray:
    """A 4/4 window in triplets (16 k, 27) played in a compound meter: each beat a dotted quarter
    (`stretch_to_compound`); for 9/8 each bar's first three beats (`recut_bars` to 3/4 first: kick,
    backbeat, kick). Cut to `length` (default the window's)."""
    length = len(window) if length is None else length
    if meter == "9/8":
        window = recut_bars(window, 12, length=len(window) // H.STEPS_PER_BAR * 12)
    return stretch_to_compound(window, length=length)


def recut_meters(hvo: np.ndarray, meters: list[str], rng: np.random.Generator, share: float,
                 where: np.ndarray, compound: float = 0.0, changes: float = 0.0,
                 compound_meters: tuple[str, ...] = COMPOUND[:2]) -> tuple[np.ndarray, list[M.Bars]]:
    """A `share` of the 4/4 windows (`where`) re-cut into bars of a meter of METER_RECUTS (each as
    likely), and 6/8 windows read as 12/8 (two bars of 6/8 in one) as often: (drums, bars of each).
    First, a `compound` share of the 4/4 windows in triplets (`triplet_feel`) are played in one of
    `compound_meters` (6/8 or 12/8 by default; 9/8 too where asked: `compound_bars`, each as likely).
    A `changes` share of the re-cut windows change meter (`change_meter`): a song's bars of 4/4
    before or after them."""
    length = hvo.shape[1]
    out, meters, layouts = hvo.copy(), list(meters), [None] * len(hvo)
    where = np.asarray(where, bool).copy()
    if compound > 0:
        drawn = where & (rng.random(len(hvo)) < compound)
        for i in np.nonzero(drawn)[0][triplet_feel(hvo[drawn])]:
            meters[i] = compound_meters[int(rng.integers(len(compound_meters)))]
            out[i], layouts[i] = _played_in(hvo[i], meters[i], rng, changes)
            where[i] = False  # in its compound meter now, not re-cut again below
    names = list(METER_RECUTS)
    for i in np.nonzero(rng.random(len(hvo)) < share)[0]:
        if where[i]:
            meters[i] = names[rng.integers(len(names))]
            out[i], layouts[i] = _played_in(hvo[i], meters[i], rng, changes)
        elif meters[i] == "6/8":
            meters[i] = "12/8"
    return out, [bars or M.Bars.covering(m, length) for bars, m in zip(layouts, meters)]


def _played_in(window: np.ndarray, meter: str, rng: np.random.Generator, changes: float) -> tuple[np.ndarray, M.Bars]:
    if changes > 0 and rng.random() < changes:
        return change_meter(window, meter, int(rng.integers(1, 5)), bool(rng.random() < 0.5))
    if meter in COMPOUND:
        return compound_bars(window, meter), M.Bars.covering(meter, len(window))
    return recut_bars(window, METER_RECUTS[meter]), M.Bars.covering(meter, len(window))


def play_bars(bars: np.ndarray, meter: str) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Whole bars of 4/4 (16 k, 27) played in `meter` (4/4, one of METER_RECUTS or COMPOUND): the
    drums, uncut, and their bars' meters."""
    n = len(bars) // H.STEPS_PER_BAR
    if meter == "4/4":
        return bars[:n * H.STEPS_PER_BAR], [M.FOUR_FOUR] * n
    steps = M.bar_steps(*M.parse_meter(meter))
    if meter in COMPOUND:  # each beat half as long again (9/8: three beats of each 4/4 bar)
        played = compound_bars(bars[:n * H.STEPS_PER_BAR], meter, length=n * (18 if meter == "9/8" else 24))
    else:
        played = recut_bars(bars[:n * H.STEPS_PER_BAR], steps, length=n * steps)
    return played, [M.parse_meter(meter)] * (len(played) // steps)


def change_meter(window: np.ndarray, meter: str, four_four_bars: int, four_four_first: bool) -> tuple[np.ndarray, M.Bars]:
    """A 4/4 window (T, 27) as a song that changes meter: its first `four_four_bars` bars of 4/4 and
    then the rest played in `meter`, or (not four_four_first) that many of its bars played in
    `meter` and then the rest in 4/4, as a verse in 6/8 going to a chorus in 4/4. Cut or padded
    with silence to T; the bars cover T (the last meter's bars where it is silence)."""
    length, cut = len(window), four_four_bars * H.STEPS_PER_BAR
    first, second = (("4/4", meter) if four_four_first else (meter, "4/4"))
    drums_a, bars_a = play_bars(window[:cut], first)
    drums_b, bars_b = play_bars(window[cut:], second)
    joined = np.concatenate([drums_a, drums_b])[:length]
    out = H.empty_hvo(length)
    out[:len(joined)] = joined
    meters = bars_a + bars_b
    while sum(M.bar_steps(*m) for m in meters) < length:
        meters.append(meters[-1])
    lengths = np.cumsum([M.bar_steps(*m) for m in meters])
    return out, M.Bars(tuple(meters[:int(np.searchsorted(lengths, length)) + 1]))


def tap_grooves(groove: np.ndarray, drums: np.ndarray, layouts: list[M.Bars], rng: np.random.Generator,
                share: float, where: np.ndarray) -> np.ndarray:
    """A `share` of the windows (`where`) get, instead of their groove (N, T, 3), what a musician with
    no MIDI taps along to them (the page's tap pad, a click of the felt beats): in each bar the drums
    play in, a tap on every felt beat with beat 1 louder, on every felt beat evenly, or on every eighth
    (beat 1 louder in half of those), a third each; a level per window, timing loose by a few
    hundredths of a step. A groove that says only where the beats are: the drums must come from the
    meter (6/8's backbeat on its second dotted quarter), not from a part the groove already plays."""
    out = groove.copy()
    length = groove.shape[1]
    drawn = np.nonzero(np.asarray(where, bool) & (rng.random(len(groove)) < share))[0]
    for i in drawn:
        bars = layouts[i]
        bar = bars.bar_of_step(length)
        playing = np.bincount(bar[drums[i, :, H.HITS].any(-1) & (bar >= 0)], minlength=bars.n_bars) > 0
        kind = int(rng.integers(3))
        steps = np.arange(min(length, bars.n_steps))
        on = bars.beat_starts[steps] if kind < 2 else (bars.step_position[steps] % 2 == 0)
        on &= playing[bars.step_bar[steps]]
        at = steps[on]
        downbeat = bars.step_position[at] == 0
        level = rng.uniform(0.4, 0.8)
        accent = rng.uniform(0.1, 0.3) if kind == 0 or (kind == 2 and rng.random() < 0.5) else 0.0
        out[i] = 0.0
        out[i, at, 0] = 1.0
        out[i, at, 1] = np.clip(level + accent * downbeat + rng.normal(0, 0.05, len(at)), 0.05, 1.0)
        out[i, at, 2] = np.clip(rng.normal(0, rng.uniform(0.01, 0.08), len(at)), -0.5, 0.4999)
    return out


def random_keep_masks(n: int, n_steps: int, rng: np.random.Generator, share: float = 0.6,
                      step_bar: np.ndarray | None = None, max_spans: int = 1) -> np.ndarray:
    """(n, n_steps, 9) bool keep masks for training a model to edit takes, True = known: for a `share`
    of the windows, one of (in equal parts) a span of 1-4 bars to make new with the rest known, a few
    voices known everywhere (1-4 of them), both (a span new but for a few locked voices), or single
    cells known at random; the other windows know nothing (free generation stays as it was).
    step_bar (n, n_steps): each step's bar (`meter.step_bars`, -1 past the bars), so spans are the
    song's bars in any meter; None: bars of 16 steps. max_spans > 1: a window's new bars may be
    several spans apart (1 to max_spans of them, as "regenerate 3-4 and 7-8"), each 1-4 bars."""
    if step_bar is None:
        step_bar = np.broadcast_to(np.arange(n_steps) // H.STEPS_PER_BAR, (n, n_steps))
    bars_of = np.asarray(step_bar).max(axis=1) + 1 if n else np.zeros(0, np.int64)
    mask = np.zeros((n, max(int(bars_of.max()) if n else 0, 1), H.N_VOICES), bool)
    kind = np.where(rng.random(n) < share, rng.integers(0, 4, n), -1)
    for i in np.nonzero(kind >= 0)[0]:
        n_bars = int(bars_of[i])
        length = int(rng.integers(1, min(4, n_bars) + 1))
        first = int(rng.integers(0, n_bars - length + 1))
        span = np.ones(n_bars, bool)
        span[first:first + length] = False
        if max_spans > 1 and kind[i] in (0, 2):  # drawn only then: max_spans 1 draws as before
            for _ in range(int(rng.integers(1, max_spans + 1)) - 1):
                length = int(rng.integers(1, min(4, n_bars) + 1))
                first = int(rng.integers(0, n_bars - length + 1))
                span[first:first + length] = False
        voices = np.zeros(H.N_VOICES, bool)
        voices[rng.choice(H.N_VOICES, int(rng.integers(1, 5)), replace=False)] = True
        if kind[i] == 0:
            mask[i, :n_bars] = span[:, None]
        elif kind[i] == 1:
            mask[i, :n_bars] = voices[None, :]
        elif kind[i] == 2:
            mask[i, :n_bars] = span[:, None] | voices[None, :]
    steps = M.per_step(mask, np.asarray(step_bar))
    cells = (kind == 3)[:, None, None] & (rng.random((n, n_steps, H.N_VOICES)) < rng.uniform(0.2, 0.8, (n, 1, 1)))
    return steps | cells
