"""The Groove MIDI Dataset: read the zip, keep the published splits, cut windows, cache, augment.

Windows are cut per file inside one split, so no performance is shared between train,
validation and test (a random split over overlapping windows would leak).
"""
from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import urllib.request
import zipfile
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from . import controls as C
from . import hvo as H
from . import meter as M
from . import midi
from .fills import is_fill_file

log = logging.getLogger(__name__)

GMD_URL = "https://storage.googleapis.com/magentadata/datasets/groove/groove-v1.0.0-midionly.zip"
SPLITS = ("train", "validation", "test")
CACHE_VERSION = 1   # 4/4 windows (the published figures' windows); other meters are cached beside them
METER_CACHE_VERSION = 1
DEFAULT_CACHE_DIR = Path(os.environ.get("DRUMGEN_CACHE", Path.home() / ".cache" / "drumgen"))


@dataclass
class WindowSet:
    """Windows of one split: hvo (N, T, 27) and, per window, its file, first bar, style and meter.
    A window starts on a bar line of its file's meter and is T steps long, whatever the meter (a
    window of 3/4 holds 10 2/3 bars of it)."""

    hvo: np.ndarray
    file_index: np.ndarray
    start_bar: np.ndarray
    style: np.ndarray  # primary style name, e.g. "funk"
    files: list[str]
    meter: np.ndarray | None = None  # per window, e.g. "3/4"; None: all 4/4

    def __post_init__(self) -> None:
        if self.meter is None:
            self.meter = np.full(len(self.hvo), "4/4")

    def __len__(self) -> int:
        return len(self.hvo)

    @property
    def four_four(self) -> np.ndarray:
        return self.meter == "4/4"

    def bars_of(self, index) -> list[M.Bars]:
        """Each window's bars (its meter from its first step over the window's steps)."""
        length = self.hvo.shape[1]
        return [_covering(str(m), length) for m in self.meter[np.asarray(index)]]

    def subset(self, keep) -> WindowSet:
        keep = np.asarray(keep)
        return WindowSet(self.hvo[keep], self.file_index[keep], self.start_bar[keep], self.style[keep], self.files,
                         self.meter[keep])

    def __add__(self, other: WindowSet) -> WindowSet:
        """Windows of both (the other's files appended)."""
        return WindowSet(np.concatenate([self.hvo, other.hvo]),
                         np.concatenate([self.file_index, other.file_index + len(self.files)]),
                         np.concatenate([self.start_bar, other.start_bar]), np.concatenate([self.style, other.style]),
                         self.files + other.files, np.concatenate([self.meter, other.meter]))

    @property
    def groove(self) -> np.ndarray:
        return H.hvo_to_groove(self.hvo)

    @cached_property
    def fill_clip_bars(self) -> np.ndarray:
        """(M, 17, 27): the first bar of every fill clip among these windows' files and the step it
        lands on (the next downbeat; often empty, as a clip may stop with the fill)."""
        clip = np.array([is_fill_file(f) for f in self.files], bool)[self.file_index] & (self.start_bar == 0)
        bars = self.hvo[clip, :H.STEPS_PER_BAR + 1]
        return bars[bars[:, :H.STEPS_PER_BAR, H.HITS].sum(axis=(1, 2)) > 0]

    def head(self, n: int) -> WindowSet:
        """The first n windows (all when n is 0), for smoke runs."""
        if not n:
            return self
        return WindowSet(self.hvo[:n], self.file_index[:n], self.start_bar[:n], self.style[:n], self.files,
                         self.meter[:n])


_BARS: dict = {}


def _covering(meter: str, length: int) -> M.Bars:
    if (meter, length) not in _BARS:
        _BARS[meter, length] = M.Bars.covering(meter, length)
    return _BARS[meter, length]


def find_gmd_zip(path: str | os.PathLike | None = None, cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    """The GMD zip at `path`; with no path, a cached copy, downloaded from the official address once."""
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"GMD zip not found at {path}")
        return path
    target = cache_dir / "groove-v1.0.0-midionly.zip"
    if not target.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        log.warning("downloading the Groove MIDI Dataset from %s", GMD_URL)
        try:
            urllib.request.urlretrieve(GMD_URL, target.with_suffix(".part"))
        except OSError as exc:
            raise FileNotFoundError(f"could not download the GMD from {GMD_URL} ({exc}); "
                                    "download it yourself and pass its path (--data PATH)") from None
        target.with_suffix(".part").rename(target)
    return target


def read_gmd(zip_path: str | os.PathLike, meters: str = "4/4") -> list[dict]:
    """The GMD's performances as dicts of their info.csv row plus the full 'hvo' and 'bars' (meter.Bars):
    meters "4/4" (the published figures' set), "other" (every other meter) or "all"."""
    if meters not in ("4/4", "other", "all"):
        raise ValueError(f"meters: '4/4', 'other' or 'all', got {meters!r}")
    items = []
    unmapped: Counter = Counter()
    with zipfile.ZipFile(zip_path) as z:
        rows = list(csv.DictReader(io.StringIO(z.read("groove/info.csv").decode("utf-8"))))
        for row in rows:
            is_44 = row["time_signature"] == "4-4"
            if (meters == "4/4" and not is_44) or (meters == "other" and is_44):
                continue
            song = midi.read_song(z.read("groove/" + row["midi_filename"]))
            hvo, lost = midi.song_to_hvo(song)
            unmapped.update(lost)
            items.append({**row, "hvo": hvo, "bars": song.bars})
    if unmapped:
        log.warning("drum pitches with no voice, left out: %s", dict(unmapped))
    return items


def cut_windows(hvo: np.ndarray, n_bars: int = 2, hop_bars: int = 1, min_hits: int = 4,
                bars: M.Bars | None = None) -> list[tuple[int, np.ndarray]]:
    """(first bar, window) for every window of n_bars x 16 steps starting on each hop's bar line
    (bars: the file's, default 16 steps each); windows running past the end are zero-padded;
    windows with fewer than min_hits hits are skipped."""
    length = n_bars * H.STEPS_PER_BAR
    if bars is None:
        starts = np.arange(-(-len(hvo) // H.STEPS_PER_BAR)) * H.STEPS_PER_BAR
        count = max(len(starts) - n_bars + 1, 1)
    else:  # every window that fits in the file's bars (at least one)
        starts = bars.starts[:-1]
        count = max(int((starts + length <= bars.n_steps).sum()), 1)
    out = []
    for bar in range(0, count, hop_bars):
        window = H.empty_hvo(length)
        piece = hvo[starts[bar]: starts[bar] + length]
        window[: len(piece)] = piece
        if H.hit_count(window) >= min_hits:
            out.append((bar, window))
    return out


def build_windows(items: list[dict], split: str, n_bars: int = 2, hop_bars: int = 1, min_hits: int = 4) -> WindowSet:
    hvos, file_index, start_bar, style, files, meter = [], [], [], [], [], []
    for item in (i for i in items if i["split"] == split):
        layout = item.get("bars")
        if layout is not None and len(set(layout.meters)) > 1:
            raise ValueError(f"{item['midi_filename']}: a meter change inside a GMD file ({layout.label()})")
        four_four = layout is None or layout.is_four_four
        name = "4/4" if four_four else M.meter_name(layout.meters[0])
        for bar, window in cut_windows(item["hvo"], n_bars, hop_bars, min_hits, None if four_four else layout):
            hvos.append(window)
            file_index.append(len(files))
            start_bar.append(bar)
            style.append(item["style"].split("/")[0])
            meter.append(name)
        files.append(item["midi_filename"])
    length = n_bars * H.STEPS_PER_BAR
    return WindowSet(
        hvo=np.stack(hvos) if hvos else np.zeros((0, length, H.HVO_DIM), np.float32),
        file_index=np.array(file_index, np.int64),
        start_bar=np.array(start_bar, np.int64),
        style=np.array(style),
        files=files,
        meter=np.array(meter if meter else [], dtype="<U5"),
    )


def load_split(split: str, zip_path: str | os.PathLike | None = None, n_bars: int = 2, hop_bars: int = 1,
               min_hits: int = 4, cache_dir: str | os.PathLike = DEFAULT_CACHE_DIR, meters: str = "4/4") -> WindowSet:
    """Windows of one published split, from a cache file when one was made for the same zip and
    settings. meters: "4/4" (the windows every published figure uses), "other" (the GMD's other
    meters: 3/4, 6/8, 5/4, 5/8) or "all" (both; the other meters' windows after the 4/4 ones)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if meters == "all":
        return (load_split(split, zip_path, n_bars, hop_bars, min_hits, cache_dir)
                + load_split(split, zip_path, n_bars, hop_bars, min_hits, cache_dir, meters="other"))
    if meters not in ("4/4", "other"):
        raise ValueError(f"meters: '4/4', 'other' or 'all', got {meters!r}")
    cache_dir = Path(cache_dir)
    zip_path = find_gmd_zip(zip_path, cache_dir)
    settings = f"{zip_path.stat().st_size}|{n_bars}|{hop_bars}|{min_hits}"
    tag = f"{CACHE_VERSION}|{settings}" if meters == "4/4" else f"meters{METER_CACHE_VERSION}|{settings}"
    key = hashlib.sha1(tag.encode()).hexdigest()[:12]
    prefix = "gmd" if meters == "4/4" else "gmd-meters"
    cache = cache_dir / f"{prefix}-{split}-{key}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as f:
            return WindowSet(f["hvo"], f["file_index"], f["start_bar"], f["style"], [str(name) for name in f["files"]],
                             f["meter"] if "meter" in f.files else None)
    log.info("preparing GMD %s windows (%s) from %s", split, meters, zip_path)
    items = read_gmd(zip_path, meters)
    cache_dir.mkdir(parents=True, exist_ok=True)
    result = None
    for name in SPLITS:  # one pass over the zip fills the cache of every split
        ws = build_windows(items, name, n_bars, hop_bars, min_hits)
        path = cache_dir / f"{prefix}-{name}-{key}.npz"
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")  # processes preparing at once (torchrun) never share it
        np.savez_compressed(tmp, hvo=ws.hvo, file_index=ws.file_index, start_bar=ws.start_bar,
                            style=ws.style, files=np.array(ws.files), meter=ws.meter)
        tmp.replace(path)
        if name == split:
            result = ws
    return result


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
                 where: np.ndarray | None = None) -> np.ndarray:
    """A `share` of the windows (N, T, 27) get one bar replaced by a fill clip (clips (M, 17, 27),
    `WindowSet.fill_clip_bars`): at the end of a 4-bar phrase for half of them, anywhere for the
    others; the hits the clip lands with on the next downbeat are laid over that step. A model so
    learns fills inside a song's flow, not only as the lone clips the GMD records them as. `where`
    (N,) bool: the windows that may get one (4/4 ones: a clip is a bar of 4/4)."""
    n, length, _ = hvo.shape
    n_bars = length // H.STEPS_PER_BAR
    drawn = rng.random(n) < share
    if where is not None:
        drawn &= np.asarray(where, bool)
    chosen = np.nonzero(drawn)[0] if len(clips) else np.zeros(0, int)
    if not len(chosen):
        return hvo
    out = hvo.copy()
    phrase_ends = np.arange(3, n_bars, 4) if n_bars >= 4 else np.array([n_bars - 1])
    for i in chosen:
        bar = int(rng.choice(phrase_ends)) if rng.random() < 0.5 else int(rng.integers(0, n_bars))
        clip = clips[rng.integers(len(clips))]
        start = bar * H.STEPS_PER_BAR
        out[i, start:start + H.STEPS_PER_BAR] = clip[:H.STEPS_PER_BAR]
        landing = start + H.STEPS_PER_BAR
        if landing < length:
            lands = np.tile(clip[H.STEPS_PER_BAR, H.HITS] > 0, 3)
            out[i, landing] = np.where(lands, clip[H.STEPS_PER_BAR], out[i, landing])
    return out


# 4/4 bars re-cut into bars of other meters (a bar of 4/4 with its last eighth left out is a bar of
# 7/8, as drummers often count it; with its last beat left out, one of 3/4; with its last beat
# played again, one of 5/4): the GMD has no 7/8 or 2/4 and little 5/4 or 5/8
METER_RECUTS = {"7/8": 14, "3/4": 12, "2/4": 8, "5/8": 10, "5/4": 20}


def recut_bars(hvo: np.ndarray, steps: int) -> np.ndarray:
    """A 4/4 window (T, 27) as bars of `steps` sixteenths: each bar's first `steps` (fewer than 16),
    or the bar and its last steps - 16 again (more), joined and cut or padded with silence to T."""
    length = len(hvo)
    bars = hvo[: length // H.STEPS_PER_BAR * H.STEPS_PER_BAR].reshape(-1, H.STEPS_PER_BAR, H.HVO_DIM)
    if steps <= H.STEPS_PER_BAR:
        pieces = bars[:, :steps]
    else:
        pieces = np.concatenate([bars, bars[:, 2 * H.STEPS_PER_BAR - steps:]], axis=1)
    out = H.empty_hvo(length)
    joined = pieces.reshape(-1, H.HVO_DIM)[:length]
    out[: len(joined)] = joined
    return out


def recut_meters(hvo: np.ndarray, meters: list[str], rng: np.random.Generator, share: float,
                 where: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """A `share` of the 4/4 windows (`where`) re-cut into bars of a meter of METER_RECUTS (each as
    likely), and 6/8 windows read as 12/8 (two bars of 6/8 in one) as often: (drums, meter of each)."""
    out, meters = hvo.copy(), list(meters)
    names = list(METER_RECUTS)
    for i in np.nonzero(rng.random(len(hvo)) < share)[0]:
        if where[i]:
            name = names[rng.integers(len(names))]
            out[i], meters[i] = recut_bars(hvo[i], METER_RECUTS[name]), name
        elif meters[i] == "6/8":
            meters[i] = "12/8"
    return out, meters


def random_keep_masks(n: int, n_steps: int, rng: np.random.Generator, share: float = 0.6) -> np.ndarray:
    """(n, n_steps, 9) bool keep masks for training a model to edit takes, True = known: for a `share`
    of the windows, one of (in equal parts) a span of 1-4 bars to make new with the rest known, a few
    voices known everywhere (1-4 of them), both (a span new but for a few locked voices), or single
    cells known at random; the other windows know nothing (free generation stays as it was)."""
    n_bars = n_steps // H.STEPS_PER_BAR
    mask = np.zeros((n, n_bars, H.N_VOICES), bool)
    kind = np.where(rng.random(n) < share, rng.integers(0, 4, n), -1)
    for i in np.nonzero(kind >= 0)[0]:
        length = int(rng.integers(1, min(4, n_bars) + 1))
        first = int(rng.integers(0, n_bars - length + 1))
        span = np.ones(n_bars, bool)
        span[first:first + length] = False
        voices = np.zeros(H.N_VOICES, bool)
        voices[rng.choice(H.N_VOICES, int(rng.integers(1, 5)), replace=False)] = True
        if kind[i] == 0:
            mask[i] = span[:, None]
        elif kind[i] == 1:
            mask[i] = voices[None, :]
        elif kind[i] == 2:
            mask[i] = span[:, None] | voices[None, :]
    steps = np.repeat(mask, H.STEPS_PER_BAR, axis=1)
    cells = (kind == 3)[:, None, None] & (rng.random((n, n_steps, H.N_VOICES)) < rng.uniform(0.2, 0.8, (n, 1, 1)))
    return steps | cells


def control_tables(items: list[dict]) -> tuple[tuple[str, ...], np.ndarray, int]:
    """The GMD's primary styles and the density table (controls.STYLES, controls.DENSITY_TABLE) as
    the data give them, and the number of train bars with hits the table comes from."""
    styles = tuple(sorted({item["style"].split("/")[0] for item in items}))
    counts = np.concatenate([C.bar_hit_counts(i["hvo"]).sum(-1) for i in items if i["split"] == "train"])
    return styles, C.density_table(counts), int((counts > 0).sum())


def main(argv: list[str] | None = None) -> int:
    """`python -m drumgen.data --data PATH`: prepare (and cache) the windows of every split;
    with --control-tables, recompute controls.STYLES and controls.DENSITY_TABLE from the GMD instead."""
    import argparse

    parser = argparse.ArgumentParser(description="Prepare GMD windows for training and evaluation.")
    parser.add_argument("--data", default=None, help="GMD zip (default: download the official one once)")
    parser.add_argument("--cache-dir", default=str(DEFAULT_CACHE_DIR))
    parser.add_argument("--bars", type=int, default=2)
    parser.add_argument("--control-tables", action="store_true",
                        help="print the control tables the data give and whether drumgen/controls.py holds them")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.control_tables:
        styles, table, bars = control_tables(read_gmd(find_gmd_zip(args.data)))
        print(f"STYLES = {styles!r}")
        print(f"DENSITY_TABLE = {[float(x) for x in table]!r}  # from {bars} train bars with hits")
        same = styles == C.STYLES and np.array_equal(table, C.DENSITY_TABLE)
        print("matches drumgen/controls.py" if same else "differs from drumgen/controls.py")
        return 0
    for split in SPLITS:
        ws = load_split(split, args.data, n_bars=args.bars, cache_dir=args.cache_dir)
        hits = int(ws.hvo[..., H.HITS].sum())
        print(f"{split:>10}: {len(ws):6d} windows of {args.bars} bars from {len(ws.files)} files, {hits} hits")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
