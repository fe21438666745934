"""Sound of a drum part: FluidSynth with a General MIDI SoundFont (see soundfonts/README.md)::

    reason = audio_unavailable_reason()         # None, or one sentence saying why there is no audio
    mix = render_audio(midi.hvo_to_midi(hvo, song, merge=True))    # drums with the input's own tracks
    drums = render_audio(midi.hvo_to_midi(hvo, song))              # the drums alone
    write_audio(mix, "mix.wav")                                     # or a file-like, format="OGG"/"FLAC"

`render_audio` plays any mido.MidiFile (type 0 or 1) following its tempo map; `render_parts`
plays the song's own tracks and the new drums in one pass on outputs of their own (their sum is the
mix, the drums part is the drums alone), which is what the page does; `render_hvo_audio` makes the
MIDI and plays it. Up to SYNTHS synthesizers with their SoundFont are kept per process (loading a
SoundFont is slow), each rendering one song at a time and reset between songs (notes, programs,
controllers, effects), so concurrent requests are safe, two render at once, and one song sounds the
same whenever it is played.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from . import hvo as H

if TYPE_CHECKING:  # pragma: no cover
    import mido

    from .midi import Song

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
_WRITE_BLOCK = 1 << 16     # frames per write to an audio file
PARTS = 2                 # parts one render keeps apart (the song, the drums)
_EVENT_CALLS = {"note_on": ("fluid_synth_noteon", 3), "note_off": ("fluid_synth_noteoff", 2),  # mido -> FluidSynth
                "control_change": ("fluid_synth_cc", 3), "program_change": ("fluid_synth_program_change", 2),
                "pitchwheel": ("fluid_synth_pitch_bend", 2)}
SYNTHS = 2                # synthesizers per process: two songs render at once, neither waits on the other


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
    return _SOUNDFONT_ERROR  # a SoundFont that would not load, else None


class _Synth:
    """One FluidSynth synthesizer with its SoundFont, made on first use and reused. It has PARTS
    stereo outputs: MIDI channel c of part i plays on synth channel c * PARTS + i, and FluidSynth
    sends synth channel k (and its reverb and chorus) to output k % PARTS, so the parts of one
    render (the song, the drums) come out apart in one pass."""

    def __init__(self) -> None:
        self.key: tuple[str, int] | None = None
        self.fs: Any = None
        self.sfid = -1
        self.process: Any = None
        self.set_type: Any = None
        self.calls: dict[str, Any] = {}  # mido message type -> FluidSynth's call for it (see ready)
        self.rendered = 0  # samples made since the synth was created (FluidSynth works in blocks of 64)

    def ready(self, sample_rate: int) -> None:
        """Make sure a synth for `sample_rate` with the current SoundFont is loaded."""
        global _SOUNDFONT_ERROR
        fluidsynth = _import_fluidsynth()
        soundfont = find_soundfont()
        if soundfont is None:
            raise AudioUnavailable(_no_soundfont_reason())
        key = (str(soundfont), int(sample_rate))
        if key == self.key and self.fs is not None:
            return
        self.close()
        # no audio driver is started: samples are pulled with fluid_synth_process
        fs = fluidsynth.Synth(gain=SYNTH_GAIN, samplerate=float(sample_rate), channels=16 * PARTS,
                              **{"synth.audio-groups": PARTS, "synth.audio-channels": PARTS,
                                 "synth.effects-groups": PARTS})
        sfid = fs.sfload(str(soundfont))
        if sfid is None or sfid < 0:
            fs.delete()
            _SOUNDFONT_ERROR = f"No audio preview: the SoundFont {soundfont} could not be loaded."
            raise AudioUnavailable(_SOUNDFONT_ERROR)
        fl = fluidsynth._fl
        process = fl.fluid_synth_process
        process.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p),
                            ctypes.c_int, ctypes.POINTER(ctypes.c_void_p)]
        process.restype = ctypes.c_int
        set_type = fl.fluid_synth_set_channel_type
        set_type.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        set_type.restype = ctypes.c_int
        # Events go to the same library through ctypes.PyDLL: its calls keep the GIL (microseconds
        # each), so a render beside another thread (the page's figure) does not wait for the GIL
        # after every note; only fluid_synth_process, the work, lets it go.
        direct = ctypes.PyDLL(fl._name)
        for kind, (name, n_args) in _EVENT_CALLS.items():
            call = getattr(direct, name)
            call.argtypes, call.restype = [ctypes.c_void_p] + [ctypes.c_int] * n_args, ctypes.c_int
            self.calls[kind] = functools.partial(call, fs.synth)
        self.fs, self.sfid, self.process, self.set_type, self.key = fs, sfid, process, set_type, key
        _SOUNDFONT_ERROR = None
        self.rendered = 0

    def reset(self) -> None:
        """Silence, GM programs on every channel (the drum kit on each part's channel 10),
        controllers and effects reset, and the synth's next 64-sample block starting at the song's
        sample 0, so events land on the same samples in every render of a file. (Renders still
        differ slightly in the first milliseconds of notes: FluidSynth's voices keep a little state
        between songs.)"""
        self.fs.system_reset()
        for channel in range(16 * PARTS):
            drums = channel // PARTS == DRUM_CHANNEL
            self.set_type(self.fs.synth, channel, 1 if drums else 0)  # CHANNEL_TYPE_DRUM / MELODIC
            self.fs.program_select(channel, self.sfid, DRUM_BANK if drums else 0, 0)
        # events take effect at FluidSynth's next 64-sample block: start each song on a block boundary
        pad = -self.rendered % _FLUID_BLOCK
        if pad:
            self.render([np.zeros((2, pad), np.float32) for _ in range(PARTS)], 0, pad)

    def render(self, outs: list[np.ndarray], start: int, stop: int) -> None:
        """Add samples [start, stop) of every output to `outs`, planar float32 arrays (2, n), one a part."""
        n = stop - start
        if n <= 0:
            return
        rows = [out[side].ctypes.data + start * out.itemsize for out in outs for side in (0, 1)]
        dry = (ctypes.c_void_p * len(rows))(*rows)
        fx = (ctypes.c_void_p * (2 * len(rows)))(*[rows[2 * i + side] for i in range(PARTS) for _ in range(2)
                                                   for side in (0, 1)])  # reverb and chorus of a part: its own output
        if self.process(self.fs.synth, n, len(fx), fx, len(dry), dry) != 0:
            raise RuntimeError("FluidSynth failed to render audio")
        self.rendered += n

    def close(self) -> None:
        if self.fs is not None:
            self.fs.delete()
        self.fs, self.key, self.sfid, self.calls = None, None, -1, {}


def _no_soundfont_reason() -> str:
    return ("No audio preview: no General MIDI SoundFont (.sf2) was found in soundfonts/ or "
            "/usr/share/sounds/sf2/ (Debian: apt-get install csound-soundfont, or put one in soundfonts/).")


_SOUNDFONT_ERROR: str | None = None  # a SoundFont that would not load, for audio_unavailable_reason
_SYNTHS: queue.SimpleQueue = queue.SimpleQueue()  # idle synths; at most SYNTHS are ever made
_MADE = threading.BoundedSemaphore(SYNTHS)


@contextlib.contextmanager
def _synth() -> Iterator[_Synth]:
    """An idle synth for one render (a new one while fewer than SYNTHS exist, else the next to be free)."""
    try:
        synth = _SYNTHS.get_nowait()
    except queue.Empty:
        synth = _Synth() if _MADE.acquire(blocking=False) else _SYNTHS.get()
    try:
        yield synth
    finally:
        _SYNTHS.put(synth)


def _apply(synth: _Synth, msg: Any, channel: int) -> None:
    """Send one mido channel message to the synth on `channel`: notes, controllers, programs and pitch
    bends; other messages (aftertouch, meta, sysex) are ignored."""
    kind = msg.type
    calls = synth.calls
    if kind == "note_on":
        if msg.velocity > 0:
            calls["note_on"](channel, msg.note, msg.velocity)
        else:
            calls["note_off"](channel, msg.note)
    elif kind == "note_off":
        calls["note_off"](channel, msg.note)
    elif kind == "control_change":
        calls["control_change"](channel, msg.control, msg.value)
    elif kind == "program_change":
        calls["program_change"](channel, msg.program)
    elif kind == "pitchwheel":
        calls["pitchwheel"](channel, msg.pitch + 8192)  # FluidSynth's bend is 0..16383, centre 8192


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


def _midi_file(midi_file: Any) -> mido.MidiFile:
    import mido

    if not isinstance(midi_file, mido.MidiFile):
        if isinstance(midi_file, (bytes, bytearray)):
            midi_file = mido.MidiFile(file=io.BytesIO(bytes(midi_file)))
        else:
            midi_file = mido.MidiFile(os.fspath(midi_file))
    if midi_file.type == 2:
        raise ValueError("MIDI type 2 files (independent sequences) cannot be played as one song")
    return midi_file


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
    midi_file = _midi_file(midi_file)
    until = None if until_tick is None else seconds_at_tick(midi_file, int(until_tick))
    out = render_parts([midi_file], sample_rate, tail, until, max_seconds)[0]
    return normalized(out) if normalize else out


def normalized(samples: np.ndarray) -> np.ndarray:
    """The samples with their peak set to -1 dBFS, in place (silence stays silent)."""
    peak = float(np.abs(samples).max()) if len(samples) else 0.0
    if peak > 1e-9:
        samples *= PEAK / peak
    return samples


def render_parts(parts: Sequence[Any], sample_rate: int = 44100, tail: float = TAIL_SECONDS,
                 until_seconds: float | None = None, max_seconds: float = MAX_AUDIO_SECONDS,
                 mono: bool = False) -> list[np.ndarray]:
    """Play up to PARTS MIDI files that share a timeline (e.g. a song's own tracks and its new drums)
    in one FluidSynth pass, each on outputs of its own: one (n, 2) float32 array a part (mono=True:
    (n,), the mean of the two sides, made straight from the synth's buffers), not normalised, all of
    one length (the last event of any part, or until_seconds if later, then `tail`). Their sum is
    the mix, as if the files were one (the synth is linear), and each part is heard alone: the
    drums are rendered once for both previews. Errors as `render_audio`."""
    if not 1 <= len(parts) <= PARTS:
        raise ValueError(f"render_parts plays 1 to {PARTS} files at once, got {len(parts)}")
    sample_rate = int(sample_rate)
    if not 8000 <= sample_rate <= 192000:
        raise ValueError(f"sample_rate must be between 8000 and 192000, got {sample_rate}")
    events, end = [], 0.0
    for part, midi_file in enumerate(_midi_file(f) for f in parts):
        now = 0.0
        for msg in midi_file:  # times in seconds, tempo changes applied
            now += msg.time
            if not msg.is_meta and msg.type != "sysex":
                events.append((now, part, msg))
        end = max(end, now)
    events.sort(key=lambda e: e[0])  # stable: at one time, the first part's events first, each in file order
    if until_seconds is not None:
        end = max(end, float(until_seconds))
    length = end + max(0.0, float(tail))
    if length > max_seconds:
        raise ValueError(f"the song lasts {length / 60:.1f} minutes; audio is made for up to "
                         f"{max_seconds / 60:.0f} minutes")
    n_samples = int(round(length * sample_rate))
    outs = [np.zeros((2, n_samples), dtype=np.float32) for _ in range(PARTS)]
    with _synth() as synth:
        synth.ready(sample_rate)
        synth.reset()
        done = 0
        try:
            for when, part, msg in events:
                # FluidSynth renders whole blocks and applies an event from the next block on: rendering
                # to the end of the event's block first sounds the same, and a block's events share a call
                at = min(-(-int(round(when * sample_rate)) // _FLUID_BLOCK) * _FLUID_BLOCK, n_samples)
                synth.render(outs, done, at)
                done = at
                _apply(synth, msg, msg.channel * PARTS + part if hasattr(msg, "channel") else 0)
            synth.render(outs, done, n_samples)
        finally:
            synth.reset()  # the next song starts from silence even after an error
    if mono:  # (left + right) / 2 straight from the planar buffers (no interleaved copy), which then go
        return [np.multiply(np.add(out[0], out[1]), 0.5, dtype=np.float32) for out in outs[:len(parts)]]
    return [np.ascontiguousarray(out.T) for out in outs[:len(parts)]]


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
    data = np.asarray(samples, dtype=np.float32)
    if isinstance(target, (str, os.PathLike)):
        target = os.fspath(target)
    channels = 1 if data.ndim == 1 else data.shape[1]
    # in blocks (each clipped as it goes, so no copy of the whole is made): libsndfile's Vorbis
    # encoder crashes (a stack overflow) on one write of minutes of audio
    with soundfile.SoundFile(target, "w", int(sample_rate), channels, subtype, format=fmt) as f:
        for start in range(0, len(data), _WRITE_BLOCK):
            f.write(np.clip(data[start:start + _WRITE_BLOCK], -1.0, 1.0))


def audio_to_bytes(samples: np.ndarray, sample_rate: int = 44100, format: str = "WAV") -> bytes:
    """The bytes of an audio file (see write_audio)."""
    buffer = io.BytesIO()
    write_audio(samples, buffer, sample_rate, format)
    return buffer.getvalue()

