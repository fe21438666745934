"""The page's recordings and taps: what drumgen heard, drawn and said, the musician's corrections, and
a recording or taps made the groove (drumgen.recording does the hearing; nothing here needs a browser).

    page = RecordingPage(drums)                          # a webapp.DrumApp: its request folders and work gate
    path = page.use_recording("take.wav")                # the microphone's (or an upload's) take -> the file input
    path = page.use_taps({"bpm": 100, "meter": "4/4", "taps": [[0.0, 0.9], [0.5, 0.6]]})   # -> a MIDI file
    hearing = corrections(96, "1.2", 0.6, "4/4")         # the controls -> the one JSON value every event takes
    shown, picture, said = page.show("take.wav", hearing)   # the accordion, the picture, the corrections' hints
    png = hearing_figure(recording.hear("take.wav"))     # the envelope, onsets, beats, bars, bar 1

A recording and a tap session enter the page the way a MIDI file does: the recording's path, or the
taps written as the MIDI file of their Song (`song.source`), goes into the page's file input, and
every event reads it from there with the corrections (`hearing`) beside it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from . import meter as M
from . import midi
from . import recording as R
from .page_input import file_path, read_song, user_errors
from .request_files import file_stem
from .tap_pad import METERS

METER_CHOICES = list(METERS)
BPM_INFO, BAR_ONE_INFO = "empty: detect it", "empty: find it"  # the tempo and bar 1 boxes' hints
TEMPO_FACTORS = {0.5: "1/2", 2 / 3: "2/3", 1.5: "3/2", 2.0: "2"}  # the tempo buttons: factor -> label
FIGURE_DPI = 90


def corrections(bpm: Any = None, bar_one: Any = None, sensitivity: Any = None, meter: Any = None) -> dict | None:
    """The page's four controls -> the `hearing` value the events take ({"bpm", "bar_one",
    "sensitivity", "meter"}, only those set; None when none is), checked: ValueError with a sentence."""
    said = {"bpm": bpm, "bar_one": bar_one, "sensitivity": sensitivity, "meter": meter}
    R.parse_hearing(said)  # a bad value is said now, not at the next event
    kept = {k: (v.strip() if isinstance(v, str) else v) for k, v in said.items()
            if v is not None and not (isinstance(v, str) and not v.strip())}
    if kept.get("sensitivity") is not None and float(kept["sensitivity"]) == R.DEFAULT_SENSITIVITY:
        del kept["sensitivity"]
    if kept.get("meter") == "4/4":
        del kept["meter"]
    if kept.get("bpm") in (0, 0.0):
        del kept["bpm"]
    return kept or None


def bar_times(hearing: R.Hearing) -> np.ndarray:
    """The times (s) of the bar lines from bar 1 to the end of the recording."""
    beats = hearing.beats
    index = np.arange(len(beats), dtype=np.float64)
    zero = float(np.interp(hearing.bar_one, beats, index))
    quarters = M.bar_steps(*hearing.meter) / 4
    at = zero + quarters * np.arange(0, (index[-1] - zero) / quarters + 1)
    times = np.interp(at, index, beats)
    return times[times <= hearing.duration + 1e-6]


def hearing_figure(hearing: R.Hearing, width: float = 12.0) -> bytes:
    """PNG: the recording's level (its envelope), each onset as a stem as high as its velocity (grey:
    before bar 1, left out), the beats, the bar lines with their numbers and bar 1 in red; the tempo in
    the title. Drawn under the page's one figure lock (matplotlib's caches are not made for threads)."""
    from .piano_roll import FIGURE_LOCK, figure_to_png

    with FIGURE_LOCK:
        return figure_to_png(_draw(hearing, width), dpi=FIGURE_DPI)


def _draw(hearing: R.Hearing, width: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, 2.8))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    env = np.asarray(hearing.envelope, np.float64)
    peak = float(env.max()) if len(env) else 0.0
    if peak > 0:
        t = np.arange(len(env)) / R.ENVELOPE_RATE
        level = env / peak
        ax.fill_between(t, -level, level, color="#94a3b8", alpha=0.55, linewidth=0, label="level")
    for beat in hearing.beats[(hearing.beats >= 0) & (hearing.beats <= hearing.duration)]:
        ax.axvline(beat, color="#cbd5e1", linewidth=0.6, zorder=1)
    bars = bar_times(hearing)
    every = max(1, int(np.ceil(len(bars) / 24)))
    for number, at in enumerate(bars, start=1):
        first = number == 1
        ax.axvline(at, color="#dc2626" if first else "#334155", linewidth=1.8 if first else 0.9, zorder=2)
        if first or number % every == 0:
            ax.text(at, 1.12, "bar 1" if first else str(number), color="#dc2626" if first else "#334155",
                    fontsize=8, ha="left", va="bottom", clip_on=False)
    kept = hearing.onset_beats() >= -R.PICKUP_SLACK
    heights = hearing.played_velocities
    for mask, colour, label in ((kept, "#ea580c", "onsets (height: velocity)"), (~kept, "#9ca3af", "left out")):
        if mask.any():
            ax.vlines(hearing.onsets[mask], 0, heights[mask], color=colour, linewidth=1.4, zorder=3, label=label)
            ax.plot(hearing.onsets[mask], heights[mask], "o", color=colour, markersize=3, zorder=3)
    ax.set_xlim(0, max(hearing.duration, 1e-3))
    ax.set_ylim(-1.05, 1.1)
    ax.set_yticks([])
    ax.set_xlabel("seconds")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"{hearing.name}: {hearing.bpm:.1f} BPM ({hearing.tempo_from}), {hearing.meter[0]}/{hearing.meter[1]}, "
                 f"bar 1 at {hearing.bar_one:.2f} s, {len(hearing.onsets)} onsets", fontsize=10, pad=16)
    ax.legend(loc="lower right", fontsize=7, frameon=False, ncol=3)
    fig.subplots_adjust(left=0.02, right=0.99, top=0.8, bottom=0.18)
    return fig


def taps_song(value: Any) -> midi.Song:
    """The tap pad's value {"bpm", "meter", "taps": [[seconds from bar 1, velocity], ...]} -> the Song of
    the taps (recording.taps_to_song). Taps in the count-in (before bar 1) may come, as times below 0:
    those up to a 32nd early count as beat 1, the rest are left out. ValueError with a sentence."""
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value) if value.strip() else None
        except ValueError:
            raise ValueError('taps: expected an object {"bpm": 100, "meter": "4/4", "taps": [[seconds, velocity], ...]}') \
                from None
    if not isinstance(value, dict):
        raise ValueError("no taps: press Start, then tap the pad (or any key) along with the click")
    unknown = sorted(set(value) - {"bpm", "meter", "bars", "taps"})
    if unknown:
        raise ValueError(f"unknown tap pad setting {str(unknown[0])[:40]!r}; settings: bpm, meter, bars, taps")
    bpm = R.parse_bpm(value.get("bpm"))
    if bpm is None:
        raise ValueError("the tap pad needs the tempo of its click (BPM)")
    meter = R.parse_meter(value.get("meter"))
    taps = value.get("taps")
    if not isinstance(taps, (list, tuple)) or not taps:
        raise ValueError("no taps: press Start, then tap the pad (or any key) along with the click")
    if len(taps) > R.MAX_TAPS:  # said before a caller's million taps are read one by one
        raise ValueError(f"too many taps ({len(taps)}); the pad takes up to {R.MAX_TAPS}")
    lead = M.bar_steps(*meter) / 4 * 60.0 / bpm  # the count-in: taps are read from its start
    shifted = []
    for tap in taps:
        try:
            t, v = float(tap[0]), float(tap[1])
        except (TypeError, ValueError, IndexError, KeyError):
            raise ValueError(f"a tap must be [seconds, velocity], got {str(tap)[:40]!r}") from None
        if np.isfinite(t) and t >= -lead:
            shifted.append((t + lead, v))
    if not shifted:
        raise ValueError("no tap falls after bar 1: tap after the count-in")
    return R.taps_to_song(shifted, bpm, f"{meter[0]}/{meter[1]}", bar_one=lead)


def hints(hearing: R.Hearing) -> tuple[Any, Any]:
    """Updates of the tempo and bar 1 boxes saying what was heard (their values stay as the musician set them)."""
    return (gr.Number(info=f"heard {hearing.bpm:.1f} BPM ({hearing.tempo_from}); {BPM_INFO}"),
            gr.Number(info=f"heard at {hearing.bar_one:.2f} s ({hearing.bar_one_from}); {BAR_ONE_INFO}"))


def is_recording(file: Any) -> bool:
    """Whether the page's file input holds a recording (False for MIDI, nothing, or a value with no path):
    the one test of what the recording's controls and picture are for."""
    if file is None:
        return False
    try:
        return R.looks_like_audio(file_path(file))
    except (ValueError, TypeError, gr.Error):
        return False


class RecordingPage:
    """The events of the page's recording and tap pad, over a DrumApp (its request folders and gate)."""

    def __init__(self, drums: Any):
        self.drums = drums

    @user_errors
    def use_recording(self, take: Any) -> str:
        """The microphone's take (or an uploaded recording) -> its path, for the page's file input."""
        if take is None or take == "":
            raise ValueError("Record a take (or upload one) first, then Use this recording.")
        path = file_path(take)
        if not R.looks_like_audio(path):
            raise ValueError(f"This is not a recording drumgen reads ({R.AUDIO_FORMATS_SAID}).")
        return path

    @user_errors
    def use_taps(self, value: Any) -> str:
        """The tap pad's value -> the taps' groove as a MIDI file in a request folder (for the file input)."""
        song = taps_song(value)
        midi.check_meter(song)
        bpm = int(round(song.bpm))
        path = self.drums.folders.new() / f"taps_{bpm}bpm_{song.meter_label.replace('/', '-')}.mid"
        midi.write_midi(song.source, path)
        return str(path)

    @user_errors
    def reset(self, file: Any) -> tuple:
        """A new file: no corrections (hearing, tempo, bar 1 (their hints as they start), sensitivity,
        meter), then the accordion of what was heard and its picture: shown, empty, for any recording,
        before it is heard (a recording drumgen cannot hear, say no beat found, is corrected there:
        type its tempo, Hear again), hidden for MIDI or no file; `show` draws the picture once heard."""
        return (None, gr.Number(None, info=BPM_INFO), gr.Number(None, info=BAR_ONE_INFO), R.DEFAULT_SENSITIVITY,
                "4/4", gr.Accordion(visible=is_recording(file), open=True), None)

    @user_errors
    def corrections(self, bpm: Any, bar_one: Any, sensitivity: Any, meter: Any) -> dict | None:
        """The four controls -> the `hearing` value (Hear again)."""
        return corrections(bpm, bar_one, sensitivity, meter)

    @user_errors
    def scale_tempo(self, factor: float, bpm: Any, file: Any, hearing: Any = None) -> float:
        """The tempo box times `factor` (the tempo heard when the box is empty), for Hear again: the tempos a
        beat tracker mistakes for the music's are its half, double, 2/3 and 3/2 (a swung riff heard at 3/2),
        and one click mends them."""
        if not is_recording(file):
            raise ValueError("Load a recording first: the tempo buttons correct the tempo drumgen heard in it.")
        now = R.parse_bpm(bpm)
        if now is None:
            song, _ = read_song(file, hearing)
            now = float(song.recording.bpm)
        new = round(now * float(factor), 2)
        if not R.MIN_BPM <= new <= R.MAX_BPM:
            raise ValueError(f"{now:.1f} BPM x {TEMPO_FACTORS.get(factor, f'{factor:g}')} is {new:g} BPM; drumgen takes "
                             f"{R.MIN_BPM:g} to {R.MAX_BPM:g} BPM. Type the tempo instead.")
        return new

    @user_errors
    def show(self, file: Any, hearing: Any = None) -> tuple:
        """(file, hearing) -> (the accordion of what was heard, shown for a recording only; its picture;
        the tempo box's hint; the bar 1 box's hint)."""
        if not is_recording(file):
            return gr.Accordion(visible=False), None, gr.Number(), gr.Number()
        song, name = read_song(file, hearing)
        heard = song.recording
        with self.drums.gate.slot(song.n_bars):
            png = hearing_figure(heard)
        path = self.drums.folders.new() / f"{file_stem(name)}_heard.png"
        path.write_bytes(png)
        return (gr.Accordion(visible=True, open=True), str(path), *hints(heard))


def same_onsets(merged: midi.Song, song: midi.Song) -> bool:
    """Whether the song with its drums holds this song's notes (its tempo map and onsets): the merged
    MIDI was made for this recording as heard now."""
    theirs = merged.notes[merged.notes[:, 1] != midi.DRUM_CHANNEL]
    scale = merged.ticks_per_beat / song.ticks_per_beat
    return len(theirs) == len(song.notes) and np.allclose(np.sort(theirs[:, 4]), np.sort(song.notes[:, 4]) * scale,
                                                          atol=1)


def examples() -> list[str]:
    """The example recordings in assets/ (audio files: the page offers them beside the MIDI grooves)."""
    assets = Path(__file__).resolve().parents[1] / "assets"
    return [str(p) for p in sorted(assets.iterdir()) if p.suffix.lower() in R.AUDIO_SUFFIXES] if assets.is_dir() else []


def hear_clicks(bpm: float = 120.0, bars: int = 2, rate: int = 22050) -> None:
    """Hear two bars of clicks (as bytes: not kept by the hearing cache), compiling what hearing needs."""
    import io

    import soundfile

    beat = int(rate * 60 / bpm)
    clip = np.zeros(beat * 4 * bars + rate // 2, np.float32)
    click = np.sin(2 * np.pi * 1000 * np.arange(rate // 50) / rate).astype(np.float32) * np.hanning(rate // 50)
    for start in range(rate // 4, len(clip) - len(click), beat):
        clip[start:start + len(click)] += 0.5 * click.astype(np.float32)
    data = io.BytesIO()
    soundfile.write(data, clip, rate, format="WAV")
    try:
        R.hear(data.getvalue()).song  # noqa: B018
    except R.RecordingError:  # the code has run either way: the warm-up is done
        pass
