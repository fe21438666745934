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
from .augment import (  # noqa: F401  (named here by callers from before augment.py)
    METER_RECUTS,
    AugmentConfig,
    augment_drums,
    augmented_grooves,
    random_keep_masks,
    recut_bars,
    recut_meters,
    remove_voices,
    shift_loudness,
    splice_fills,
)
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
