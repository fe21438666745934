"""Ways to show drums to a person: a text grid (terminal), a piano-roll picture and audio.

Pictures (matplotlib, Agg backend, no display needed)::

    fig = piano_roll(drums_hvo, groove, title="funk_bass.mid")   # matplotlib Figure
    png = figure_to_png(fig)                                      # PNG bytes; the figure is closed

Sound (FluidSynth with a General MIDI SoundFont; see soundfonts/README.md)::

    reason = audio_unavailable_reason()         # None, or one sentence saying why there is no audio
    mix = render_audio(midi.hvo_to_midi(hvo, song, merge=True))    # drums with the input's own tracks
    drums = render_audio(midi.hvo_to_midi(hvo, song))              # the drums alone
    write_audio(mix, "mix.wav")                                     # or a file-like, format="OGG"/"FLAC"

`render_audio` plays any mido.MidiFile (type 0 or 1) following its tempo map, so the two calls
above are all the app needs: `hvo_to_midi(..., merge=True)` puts the input's tracks and the new
drums into one file, the default gives the drums alone; `render_hvo_audio` does both steps.
One synthesizer with its SoundFont is kept per process (loading a SoundFont is slow) and renders
one song at a time under a lock, reset between songs (notes, programs, controllers, effects), so
concurrent requests are safe and one song sounds the same whenever it is played.
"""
from __future__ import annotations

import ctypes
import io
import math
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from . import hvo as H

if TYPE_CHECKING:  # pragma: no cover
    import mido
    from matplotlib.figure import Figure

    from .midi import Song

SHORT_NAMES = ("KD", "SD", "HH", "OH", "LT", "MT", "HT", "CR", "RD")


def hvo_to_text(hvo: np.ndarray, groove: np.ndarray | None = None, max_bars: int = 4) -> str:
    """A step grid, one row per voice (top: cymbals), one column per 16th; 'X' loud, 'x' medium, '.' soft."""
    hvo = np.asarray(hvo)[: max_bars * H.STEPS_PER_BAR]
    hits, velocities, _ = H.split_hvo(hvo)

    def cell(hit: float, velocity: float) -> str:
        if hit < 0.5:
            return "-"
        return "X" if velocity >= 0.75 else "x" if velocity >= 0.4 else "."

    def row(values_h, values_v) -> str:
        bars = ["".join(cell(h, v) for h, v in zip(values_h[b:b + 16], values_v[b:b + 16]))
                for b in range(0, len(values_h), H.STEPS_PER_BAR)]
        return "|" + "|".join(bars) + "|"

    lines = [f"{SHORT_NAMES[v]} {row(hits[:, v], velocities[:, v])}" for v in reversed(range(H.N_VOICES))]
    if groove is not None:
        groove = np.asarray(groove)[: len(hvo)]
        lines.append("in " + row(groove[:, 0], groove[:, 1]))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Piano roll
# --------------------------------------------------------------------------------------------

VOICE_LABELS = H.VOICE_LABELS
# Rows from the bottom up: kick, snare and toms low, then hats and cymbals on top.
ROLL_ORDER = ("kick", "snare", "low_tom", "mid_tom", "high_tom", "closed_hat", "open_hat", "ride", "crash")
GROOVE_LABEL = "Groove (input)"
BARS_PER_SYSTEM = 8   # a long song wraps into systems (lines) of this many bars, like a score
MAX_SYSTEMS = 8       # ... and at most this many lines: longer songs put more bars on each line
_DRUM_CMAP = "Blues"
_GROOVE_CMAP = "Oranges"
_NOTE_WIDTH = 0.8     # in 16th steps
_NOTE_HEIGHT = 0.72   # in rows


def _layout(n_bars: int, bars_per_system: int, max_systems: int) -> tuple[int, int]:
    """(bars per system, number of systems) for a song of n_bars."""
    per = max(1, min(bars_per_system, n_bars))
    systems = math.ceil(n_bars / per)
    if systems > max_systems:
        per = math.ceil(n_bars / max_systems)
        systems = math.ceil(n_bars / per)
    return per, systems


def _label_every(bars_per_system: int) -> int:
    """Bar numbers on every bar up to 16 bars a line, then every 2nd, 4th, ... (about 16 a line)."""
    every = 1
    while bars_per_system / every > 16:
        every *= 2
    return every


def piano_roll(drums_hvo: np.ndarray, groove: np.ndarray | None = None, title: str | None = None,
               bars_per_system: int = BARS_PER_SYSTEM, max_systems: int = MAX_SYSTEMS) -> Figure:
    """A piano roll of a drum part (T, 27), with the groove (T, 3) as its own lane at the bottom.

    One row per voice (kick at the bottom, cymbals on top), one mark per hit: it starts at
    step + micro-timing offset (so a hit ahead of or behind the beat sits off the 16th grid line)
    and its colour shows the velocity (darker = louder). Bar lines carry 1-based bar numbers;
    beats and 16ths are gridlines. Songs longer than `bars_per_system` bars wrap onto several
    lines (at most `max_systems`, then each line holds more bars).

    The figure is a plain matplotlib Figure on the Agg canvas (not registered with pyplot, so
    nothing accumulates); `figure_to_png` turns it into PNG bytes.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    drums = np.asarray(drums_hvo, dtype=np.float32)
    if drums.ndim != 2 or drums.shape[1] != H.HVO_DIM:
        raise ValueError(f"drums_hvo must have shape (T, {H.HVO_DIM}), got {drums.shape}")
    if groove is not None:
        groove = np.asarray(groove, dtype=np.float32)
        if groove.ndim != 2 or groove.shape[1] != H.GROOVE_DIM:
            raise ValueError(f"groove must have shape (T, {H.GROOVE_DIM}), got {groove.shape}")
    n_steps = max(len(drums), len(groove) if groove is not None else 0, 1)
    n_bars = math.ceil(n_steps / H.STEPS_PER_BAR)
    per, n_systems = _layout(n_bars, bars_per_system, max_systems)
    steps_per_system = per * H.STEPS_PER_BAR
    every = _label_every(per)

    # rows: drums 0..8 from the bottom up, the groove lane below them (with a gap)
    voice_rows = {H.VOICES.index(v): r for r, v in enumerate(ROLL_ORDER)}
    groove_y = -1.5
    labels = [VOICE_LABELS[v] for v in ROLL_ORDER]
    ticks = list(range(H.N_VOICES))
    if groove is not None:
        labels = [GROOVE_LABEL, *labels]
        ticks = [groove_y, *ticks]
    y_low = (groove_y if groove is not None else 0) - 0.6

    # marks: (x, y, velocity) for the drums and the groove
    hits, velocities, offsets = H.split_hvo(drums)
    steps, voices = np.nonzero(hits > 0.5)
    d_x = steps + offsets[steps, voices]
    d_y = np.array([voice_rows[v] for v in voices], dtype=np.float32)
    d_v = velocities[steps, voices]
    if groove is not None:
        g_steps = np.nonzero(groove[:, 0] > 0.5)[0]
        g_x, g_v = g_steps + groove[g_steps, 2], groove[g_steps, 1]
    else:
        g_x = g_v = np.zeros(0, np.float32)

    # size: about 1.35 inches a bar, 8 to 22 inches wide; 0.27 inch a row. Margins are fixed in
    # inches (no layout engine: constrained layout took a third of the time of a 16-bar figure).
    width = float(np.clip(2.2 + 1.35 * per, 8.0, 22.0))
    rows_height = 0.27 * (H.N_VOICES + (2 if groove is not None else 0)) + 0.55
    top, bottom, gap = (0.45 if title else 0.12), 0.42, 0.3
    height = rows_height * n_systems + top + bottom
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    left, right = 1.0, 1.05
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height, bottom=bottom / height,
                        hspace=gap / (rows_height - gap) if n_systems > 1 else 0.0)
    axes = fig.subplots(n_systems, 1, squeeze=False)[:, 0]
    norm = Normalize(0.0, 1.0)
    drum_cmap = _truncated_cmap(_DRUM_CMAP, 0.35, 1.0)
    groove_cmap = _truncated_cmap(_GROOVE_CMAP, 0.35, 1.0)

    def boxes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x0, x1 = x, x + _NOTE_WIDTH
        y0, y1 = y - _NOTE_HEIGHT / 2, y + _NOTE_HEIGHT / 2
        return np.stack([np.stack([x0, y0], -1), np.stack([x0, y1], -1),
                         np.stack([x1, y1], -1), np.stack([x1, y0], -1)], axis=1)

    def vlines(ax, xs, y0: float, y1: float, **style) -> None:
        """Vertical lines at xs from y0 to y1 (data) as ONE Line2D (NaN-separated), not one artist each."""
        xs = np.asarray(list(xs), np.float64)
        if len(xs):
            ax.plot(np.repeat(xs, 3), np.tile([y0, y1, np.nan], len(xs)), scalex=False, scaley=False, **style)

    for s, ax in enumerate(axes):
        start = s * steps_per_system
        end = start + steps_per_system
        last = min(end, n_bars * H.STEPS_PER_BAR)
        x_lim = (start - 0.6, end + 0.2)
        y_lim = (y_low, H.N_VOICES - 0.4)
        ax.set_xlim(*x_lim)
        ax.set_ylim(*y_lim)
        # shading every other drum row, and the groove lane, up to the song's end
        x_end = last + 0.2
        for r in range(0, H.N_VOICES, 2):
            ax.add_patch(Rectangle((x_lim[0], r - 0.5), x_end - x_lim[0], 1.0, color="#f3f4f6", lw=0, zorder=0))
        if groove is not None:
            ax.add_patch(Rectangle((x_lim[0], groove_y - 0.5), x_end - x_lim[0], 1.0, color="#fff4e8", lw=0, zorder=0))
            ax.plot([x_lim[0], x_end], [-0.5, -0.5], color="#9ca3af", lw=0.8, zorder=1, scalex=False, scaley=False)
        # grid: 16ths (only where they are wide enough), beats, bars
        if per <= 8:
            vlines(ax, (x for x in range(start, last) if x % H.STEPS_PER_BEAT), *y_lim, color="#e5e7eb", lw=0.5, zorder=1)
        vlines(ax, (x for x in range(start, last, H.STEPS_PER_BEAT) if x % H.STEPS_PER_BAR), *y_lim,
               color="#c7cbd1", lw=0.8, zorder=1)
        vlines(ax, range(start, last + 1, H.STEPS_PER_BAR), *y_lim, color="#4b5563", lw=1.2, zorder=1)
        # the marks of this system (a hit pushed across the line stays on its own line)
        for x, y, v, cmap in ((d_x, d_y, d_v, drum_cmap),
                              (g_x, np.full(len(g_x), groove_y, np.float32), g_v, groove_cmap)):
            keep = (x >= start - 0.5) & (x < end - 0.5) if s < n_systems - 1 else (x >= start - 0.5)
            if s == 0:
                keep |= x < start
            if not keep.any():
                continue
            colors = cmap(norm(v[keep]))
            colors[:, 3] = 0.45 + 0.55 * np.clip(v[keep], 0, 1)
            ax.add_collection(PolyCollection(boxes(x[keep], y[keep]), facecolors=colors,
                                             edgecolors=(0.1, 0.1, 0.15, 0.55), linewidths=0.4, zorder=3),
                              autolim=False)
        # axes: voice names left, bar numbers at the bar lines
        ax.set_yticks(ticks, labels, fontsize=8)
        bar_ticks = [b * H.STEPS_PER_BAR for b in range(start // H.STEPS_PER_BAR, last // H.STEPS_PER_BAR)
                     if b % every == 0]
        ax.set_xticks(bar_ticks, [str(b // H.STEPS_PER_BAR + 1) for b in bar_ticks], fontsize=8)
        ax.tick_params(axis="both", length=0, pad=3)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.spines["bottom"].set_color("#9ca3af")
    axes[-1].set_xlabel("bar", fontsize=8, labelpad=2)
    bar = fig.colorbar(ScalarMappable(norm, drum_cmap), ax=list(axes), fraction=0.015, pad=0.01,
                       shrink=min(0.8, 1.6 / n_systems), anchor=(0.0, 1.0), aspect=12)
    bar.set_label("velocity (darker = louder)", fontsize=8)
    bar.set_ticks([0, 0.5, 1], labels=["0", "64", "127"], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.08 / height, va="top")
    return fig


def _truncated_cmap(name: str, low: float, high: float):
    from matplotlib import colormaps
    from matplotlib.colors import LinearSegmentedColormap

    base = colormaps[name]
    return LinearSegmentedColormap.from_list(f"{name}_{low}_{high}", base(np.linspace(low, high, 64)))


def figure_to_png(fig: Figure, dpi: int = 100, close: bool = True) -> bytes:
    """PNG bytes of a figure; closes it afterwards (also when pyplot made it) unless close=False."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    finally:
        if close:
            close_figure(fig)
    return buffer.getvalue()


def close_figure(fig: Figure) -> None:
    """Release a figure: drop it from pyplot's registry when pyplot knows it, and clear it."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)
    fig.clear()


# --------------------------------------------------------------------------------------------
# Audio
# --------------------------------------------------------------------------------------------

SOUNDFONT_DIR = Path(__file__).resolve().parents[1] / "soundfonts"
# Searched after soundfonts/ (and $DRUMGEN_SOUNDFONT): Debian's and other common places.
SYSTEM_SOUNDFONTS = (
    "/usr/share/sounds/sf2/sf_GMbank.sf2",         # Debian csound-soundfont (public domain, 4 MB)
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",        # Debian fluid-soundfont-gm (MIT, 140 MB)
    "/usr/share/sounds/sf2/TimGM6mb.sf2",          # Debian timgm6mb-soundfont (GPL-2, 6 MB)
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
)
DRUM_CHANNEL = 9          # MIDI channel 10
DRUM_BANK = 128           # General MIDI drum kits in a SoundFont
TAIL_SECONDS = 1.0        # after the last event, for decays and reverb
MAX_AUDIO_SECONDS = 600.0  # longer songs are refused (10 minutes of stereo float32 is ~210 MB)
PEAK = 0.89               # peak level after normalising (-1 dBFS)
SYNTH_GAIN = 0.4          # FluidSynth's master gain (renders are float, so nothing clips inside)
AUDIO_FORMATS = ("WAV", "OGG", "FLAC")
_FLUID_BLOCK = 64         # FluidSynth renders in blocks of this many samples


class AudioUnavailable(RuntimeError):
    """No audio can be made here: FluidSynth or a SoundFont is missing (the message says which)."""


def find_soundfont() -> Path | None:
    """The SoundFont to play with: $DRUMGEN_SOUNDFONT, else the first .sf2 in soundfonts/, else a
    system one (SYSTEM_SOUNDFONTS); None when there is none."""
    env = os.environ.get("DRUMGEN_SOUNDFONT")
    if env and Path(env).is_file():
        return Path(env)
    if SOUNDFONT_DIR.is_dir():
        local = sorted(p for p in SOUNDFONT_DIR.iterdir() if p.suffix.lower() == ".sf2" and p.is_file())
        if local:
            return local[0]
    for candidate in SYSTEM_SOUNDFONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    return None


def _import_fluidsynth() -> Any:
    """The pyfluidsynth module; raises AudioUnavailable with the reason when it cannot load."""
    try:
        import fluidsynth
    except ImportError as exc:
        if "FluidSynth library" in str(exc):
            raise AudioUnavailable(
                "No audio preview: the FluidSynth library is not installed "
                "(Debian: apt-get install libfluidsynth3).") from exc
        raise AudioUnavailable(
            "No audio preview: the Python package pyfluidsynth is not installed "
            f"(pip install pyfluidsynth) ({exc}).") from exc
    except OSError as exc:  # the library is there but cannot be loaded
        raise AudioUnavailable(f"No audio preview: the FluidSynth library cannot be loaded ({exc}).") from exc
    if not hasattr(fluidsynth, "Synth") or not hasattr(fluidsynth, "_fl"):
        raise AudioUnavailable(
            "No audio preview: the module named 'fluidsynth' is not pyfluidsynth "
            "(pip uninstall fluidsynth; pip install pyfluidsynth).")
    return fluidsynth


def audio_unavailable_reason() -> str | None:
    """None when audio can be made here, else one sentence for a person saying why not and what to
    install. Cheap: it looks for the library and a SoundFont file without loading the SoundFont."""
    try:
        _import_fluidsynth()
    except AudioUnavailable as exc:
        return str(exc)
    if find_soundfont() is None:
        return _no_soundfont_reason()
    return _SYNTH.error  # a SoundFont that would not load, else None


class _Synth:
    """One FluidSynth synthesizer with its SoundFont, made on first use and reused."""

    def __init__(self) -> None:
        self.key: tuple[str, int] | None = None
        self.fs: Any = None
        self.sfid = -1
        self.write_float: Any = None
        self.rendered = 0  # samples made since the synth was created (FluidSynth works in blocks of 64)
        self.error: str | None = None  # a SoundFont that would not load, for audio_unavailable_reason

    def ready(self, sample_rate: int) -> None:
        """Make sure a synth for `sample_rate` with the current SoundFont is loaded (under the lock)."""
        fluidsynth = _import_fluidsynth()
        soundfont = find_soundfont()
        if soundfont is None:
            raise AudioUnavailable(_no_soundfont_reason())
        key = (str(soundfont), int(sample_rate))
        if key == self.key and self.fs is not None:
            return
        self.close()
        fs = fluidsynth.Synth(gain=SYNTH_GAIN, samplerate=float(sample_rate), channels=16)
        # no audio driver is started: samples are pulled with fluid_synth_write_float
        sfid = fs.sfload(str(soundfont))
        if sfid is None or sfid < 0:
            fs.delete()
            self.error = f"No audio preview: the SoundFont {soundfont} could not be loaded."
            raise AudioUnavailable(self.error)
        write_float = fluidsynth._fl.fluid_synth_write_float
        write_float.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        write_float.restype = ctypes.c_int
        self.fs, self.sfid, self.write_float, self.key, self.error = fs, sfid, write_float, key, None
        self.rendered = 0

    def reset(self) -> None:
        """Silence, GM programs on every channel (drum kit on channel 10), controllers and effects
        reset, and the synth's next 64-sample block starting at the song's sample 0, so events land
        on the same samples in every render of a file. (Renders still differ by a few per cent in
        the first milliseconds of notes: FluidSynth's voices keep a little state between songs.)"""
        self.fs.system_reset()
        for channel in range(16):
            if channel == DRUM_CHANNEL:
                self.fs.program_select(channel, self.sfid, DRUM_BANK, 0)
            else:
                self.fs.program_select(channel, self.sfid, 0, 0)
        # events take effect at FluidSynth's next 64-sample block: start each song on a block boundary
        pad = -self.rendered % _FLUID_BLOCK
        if pad:
            self.render(np.zeros((pad, 2), np.float32), 0, pad)

    def render(self, out: np.ndarray, start: int, stop: int) -> None:
        """Write samples [start, stop) of the stereo float32 array `out` (n, 2)."""
        n = stop - start
        if n <= 0:
            return
        base = out.ctypes.data + start * out.strides[0]
        if self.write_float(self.fs.synth, n, base, 0, 2, base, 1, 2) != 0:
            raise RuntimeError("FluidSynth failed to render audio")
        self.rendered += n

    def close(self) -> None:
        if self.fs is not None:
            self.fs.delete()
        self.fs, self.key, self.sfid = None, None, -1


def _no_soundfont_reason() -> str:
    return ("No audio preview: no General MIDI SoundFont (.sf2) was found in soundfonts/ or "
            "/usr/share/sounds/sf2/ (Debian: apt-get install csound-soundfont, or put one in soundfonts/).")


_SYNTH = _Synth()
_SYNTH_LOCK = threading.Lock()


def _apply(fs: Any, msg: Any) -> None:
    """Send one mido channel message to the synth; other messages (meta, sysex) are ignored."""
    kind = msg.type
    if kind == "note_on":
        if msg.velocity > 0:
            fs.noteon(msg.channel, msg.note, msg.velocity)
        else:
            fs.noteoff(msg.channel, msg.note)
    elif kind == "note_off":
        fs.noteoff(msg.channel, msg.note)
    elif kind == "control_change":
        fs.cc(msg.channel, msg.control, msg.value)
    elif kind == "program_change":
        fs.program_change(msg.channel, msg.program)
    elif kind == "pitchwheel":
        fs.pitch_bend(msg.channel, msg.pitch)


def seconds_at_tick(midi_file: mido.MidiFile, tick: int) -> float:
    """The time in seconds of a tick of a type 0/1 file, through its tempo map (any track's set_tempo)."""
    import mido

    changes = []
    for track in midi_file.tracks:
        now = 0
        for msg in track:
            now += msg.time
            if msg.type == "set_tempo":
                changes.append((now, msg.tempo))
    changes.sort(key=lambda c: c[0])
    seconds, last, tempo = 0.0, 0, 500000  # MIDI's default: 120 BPM
    for at, new in changes:
        if at >= tick:
            break
        seconds += mido.tick2second(at - last, midi_file.ticks_per_beat, tempo)
        last, tempo = at, new
    return seconds + mido.tick2second(tick - last, midi_file.ticks_per_beat, tempo)


def render_audio(midi_file: mido.MidiFile | str | os.PathLike | bytes, sample_rate: int = 44100,
                 tail: float = TAIL_SECONDS, normalize: bool = True, until_tick: int | None = None,
                 max_seconds: float = MAX_AUDIO_SECONDS) -> np.ndarray:
    """Play a MIDI file through FluidSynth: stereo float32 samples (n, 2) at `sample_rate`.

    The whole file is rendered in one synth, following its tempo map (mido yields each event's
    time in seconds), drums on channel 10 with the SoundFont's standard kit and other channels
    with the General MIDI programs the file selects. The audio lasts until the file's last event,
    or until `until_tick` if that is later (e.g. the end of the last bar), then `tail` seconds more
    let the last notes ring. With normalize=True the peak is set to -1 dBFS (silence stays silent).
    Raises AudioUnavailable (FluidSynth or SoundFont missing) or ValueError (a file that cannot be
    played: type 2, or longer than max_seconds).
    """
    import mido

    if not isinstance(midi_file, mido.MidiFile):
        if isinstance(midi_file, (bytes, bytearray)):
            midi_file = mido.MidiFile(file=io.BytesIO(bytes(midi_file)))
        else:
            midi_file = mido.MidiFile(os.fspath(midi_file))
    if midi_file.type == 2:
        raise ValueError("MIDI type 2 files (independent sequences) cannot be played as one song")
    sample_rate = int(sample_rate)
    if not 8000 <= sample_rate <= 192000:
        raise ValueError(f"sample_rate must be between 8000 and 192000, got {sample_rate}")
    events = []
    now = 0.0
    for msg in midi_file:  # times in seconds, tempo changes applied
        now += msg.time
        if not msg.is_meta and msg.type != "sysex":
            events.append((now, msg))
    if until_tick is not None:
        now = max(now, seconds_at_tick(midi_file, int(until_tick)))
    length = now + max(0.0, float(tail))
    if length > max_seconds:
        raise ValueError(f"the song lasts {length / 60:.1f} minutes; audio is made for up to "
                         f"{max_seconds / 60:.0f} minutes")
    n_samples = int(round(length * sample_rate))
    out = np.zeros((n_samples, 2), dtype=np.float32)
    with _SYNTH_LOCK:
        _SYNTH.ready(sample_rate)
        _SYNTH.reset()
        done = 0
        try:
            for when, msg in events:
                at = min(int(round(when * sample_rate)), n_samples)
                _SYNTH.render(out, done, at)
                done = at
                _apply(_SYNTH.fs, msg)
            _SYNTH.render(out, done, n_samples)
        finally:
            _SYNTH.reset()  # the next song starts from silence even after an error
    if normalize:
        peak = float(np.abs(out).max()) if len(out) else 0.0
        if peak > 1e-9:
            out *= PEAK / peak
    return out


def render_hvo_audio(hvo: np.ndarray, song: Song | None = None, with_input: bool = False,
                     sample_rate: int = 44100, **kwargs: Any) -> np.ndarray:
    """The drums of an HVO (T, 27) as audio, at the song's tempo map (120 BPM without a song): alone
    (default) or with the input's own tracks (with_input=True, i.e. `hvo_to_midi(hvo, song,
    merge=True)`). The audio lasts at least to the end of the HVO's last bar (then the tail)."""
    from .midi import hvo_to_midi

    out = hvo_to_midi(hvo, song, merge=with_input)
    kwargs.setdefault("until_tick", len(hvo) * out.ticks_per_beat // H.STEPS_PER_BEAT)
    return render_audio(out, sample_rate=sample_rate, **kwargs)


def write_audio(samples: np.ndarray, target: str | os.PathLike | BinaryIO, sample_rate: int = 44100,
                format: str = "WAV") -> None:
    """Write samples (n, 2) or (n,) to a path or a binary file-like as WAV (16-bit), OGG (Vorbis) or FLAC."""
    import soundfile

    fmt = format.upper()
    if fmt not in AUDIO_FORMATS:
        raise ValueError(f"format must be one of {', '.join(AUDIO_FORMATS)}, got {format!r}")
    subtype = {"WAV": "PCM_16", "OGG": "VORBIS", "FLAC": "PCM_16"}[fmt]
    data = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    if isinstance(target, (str, os.PathLike)):
        target = os.fspath(target)
    soundfile.write(target, data, int(sample_rate), format=fmt, subtype=subtype)


def audio_to_bytes(samples: np.ndarray, sample_rate: int = 44100, format: str = "WAV") -> bytes:
    """The bytes of an audio file (see write_audio)."""
    buffer = io.BytesIO()
    write_audio(samples, buffer, sample_rate, format)
    return buffer.getvalue()
