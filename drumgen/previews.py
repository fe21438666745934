"""The page's audio: two light previews for the browser, and lossless audio on request.

    mix, drums = write_previews(song.source, drums_midi, folder, "groove", end_seconds)  # two .ogg
    flac = write_lossless(merged_midi_path, folder)                                       # the mix, FLAC

The previews are mono Ogg Vorbis (every current browser plays it; about a tenth of FLAC's size;
mono: half the encoding of stereo) at PREVIEW_RATE, rendered in one FluidSynth pass
(`audio.render_parts`: the song's own tracks and the drums on outputs of their own; their sum is
the mix, the drums part is the drums alone) and encoded side by side (the encoder releases the
GIL). Lossless audio (stereo FLAC at 44.1 kHz) is made only when asked for, from the MIDI file of
the song with the drums.

A song heard in a recording (`recording=` its `recording.Hearing`) is not synthesised: the drums alone
are rendered and mixed with the recording itself (`mix_with_recording`: delayed to bar 1, levels
balanced), for the previews and for the lossless audio alike.
"""
from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from . import audio

PREVIEW_FORMAT = "OGG"      # Vorbis
PREVIEW_RATE = 32000        # Vorbis keeps up to ~15 kHz at this rate anyway; a third less to render and encode
PREVIEW_MONO = True         # half the encoding of stereo; the synth's side signal is ~20 dB below its mid
LOSSLESS_FORMAT = "FLAC"
LOSSLESS_RATE = 44100
_RENDER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="drumgen-render")   # a request's previews
_ENCODER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="drumgen-encode")  # its second encoding


def start_previews(*args: Any, **kwargs: Any) -> Future:
    """write_previews(*args, **kwargs) in a thread of its own (it runs beside the figure): a Future of its paths."""
    return _RENDER.submit(write_previews, *args, **kwargs)


def write_previews(song_midi: Any, drums_midi: Any, folder: Path, stem: str, end_seconds: float | None = None,
                   sample_rate: int = PREVIEW_RATE, mono: bool = PREVIEW_MONO, recording: Any = None) -> tuple[str, str]:
    """(the drums with the song, the drums alone) as Ogg files in `folder` (mono by default); with a
    `recording` (the song's recording.Hearing) the first is the drums mixed with the recording itself.
    AudioUnavailable or ValueError (too long, ...) as `audio.render_parts` raises them."""
    if recording is not None:
        drums = audio.render_parts([drums_midi], sample_rate, until_seconds=end_seconds, mono=mono)[0]
        mix = mix_with_recording(drums, recording, sample_rate)
    else:
        song_part, drums = audio.render_parts([song_midi, drums_midi], sample_rate, until_seconds=end_seconds,
                                              mono=mono)
        song_part += drums
        mix = audio.normalized(song_part)
        del song_part
    drums = audio.normalized(drums)
    paths = folder / f"{stem}_with_drums.ogg", folder / f"{stem}_drums.ogg"
    later = _ENCODER.submit(audio.write_audio, drums, paths[1], sample_rate, PREVIEW_FORMAT)
    audio.write_audio(mix, paths[0], sample_rate, PREVIEW_FORMAT)
    later.result()
    return str(paths[0]), str(paths[1])


def write_lossless(merged: Any, name: str | os.PathLike, folder: Path, sample_rate: int = LOSSLESS_RATE,
                   recording: Any = None) -> str:
    """The song with its drums (a mido.MidiFile the page made, or its path) as FLAC in `folder`,
    named after the MIDI file `name`. With a `recording` (the song's recording.Hearing), the drums of
    `merged` (its channel 10) mixed with the recording itself."""
    if recording is not None:
        drums = audio.render_parts([drums_only(merged)], sample_rate)[0]
        samples = mix_with_recording(drums, recording, sample_rate)
    else:
        samples = audio.render_audio(merged, sample_rate=sample_rate)
    path = folder / (Path(name).stem + ".flac")
    audio.write_audio(samples, path, sample_rate, LOSSLESS_FORMAT)
    return str(path)


def drums_only(merged: Any) -> Any:
    """A MIDI file (mido.MidiFile or a path) with only its drums (channel 10) and its meta events: the
    song with its drums, less the song (for a recording, whose own sound is mixed in instead)."""
    import mido

    source = merged if isinstance(merged, mido.MidiFile) else mido.MidiFile(os.fspath(merged))
    out = mido.MidiFile(type=source.type if source.type != 2 else 1, ticks_per_beat=source.ticks_per_beat)
    for track in source.tracks:
        kept, carry = mido.MidiTrack(), 0
        for msg in track:
            carry += msg.time
            if msg.is_meta or getattr(msg, "channel", audio.DRUM_CHANNEL) == audio.DRUM_CHANNEL:
                kept.append(msg.copy(time=carry))
                carry = 0
        out.tracks.append(kept)
    return out


DRUMS_OVER_RECORDING = 0.9  # the drums' loudness (RMS while playing) against the recording's in a mix
_ACTIVE = 10 ** (-40 / 20)  # samples this far under a part's peak are its silences (left out of its level)


def _level(samples: np.ndarray) -> float:
    """RMS of a part while it plays (its silences left out), 0 for silence."""
    x = np.abs(samples if samples.ndim == 1 else samples.mean(axis=1))
    peak = float(x.max()) if len(x) else 0.0
    if peak <= 1e-9:
        return 0.0
    playing = x[x > peak * _ACTIVE]
    return float(np.sqrt(np.mean(np.square(playing, dtype=np.float64))))


def mix_with_recording(drums: np.ndarray, hearing: Any, sample_rate: int, normalize: bool = True) -> np.ndarray:
    """The drums (samples (n,) or (n, 2), tick 0 at their sample 0) mixed with the recording they were
    made for (a recording.Hearing): the drums delayed by `hearing.bar_one` seconds (tick 0 is bar 1 in
    the recording), the recording (mono, at `sample_rate`) under them from its start, the drums' level
    set to DRUMS_OVER_RECORDING of the recording's, the mix normalised to -1 dBFS. As long as the longer
    of the two; the shape of `drums` ((n,) or (n, 2), the recording on both sides)."""
    drums = np.asarray(drums, np.float32)
    recording = hearing.read_samples(int(sample_rate))
    delay = max(0, int(round(float(hearing.bar_one) * sample_rate)))
    n = max(len(recording), delay + len(drums))
    shape = (n,) if drums.ndim == 1 else (n, drums.shape[1])
    mix = np.zeros(shape, np.float32)
    mine, theirs = _level(recording), _level(drums)
    gain = DRUMS_OVER_RECORDING * mine / theirs if mine > 0 and theirs > 0 else 1.0
    mix[delay:delay + len(drums)] += drums * np.float32(gain)
    mix[:len(recording)] += recording if drums.ndim == 1 else recording[:, None]
    return audio.normalized(mix) if normalize else mix
