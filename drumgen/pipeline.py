"""The one path from a MIDI file to drums, shared by the command line, the app and the tests."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from . import midi

CHECKPOINT_DIR = Path(__file__).resolve().parents[1] / "checkpoints"
DEFAULT_CHECKPOINT = CHECKPOINT_DIR / "mgvae_gmd.pth"


def load_default_model(path: str | os.PathLike | None = None, device: str = "cpu"):
    """The shipped checkpoint (or `path`); never downloads anything."""
    from .models.checkpoint import load_model

    path = Path(path) if path else DEFAULT_CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; train one with train/train_vae.py or pass --checkpoint")
    return load_model(path, device)


def drums_for_song(model: Any, song: midi.Song, track: int | None = None, channel: int | None = None,
                   **generate_kwargs) -> np.ndarray:
    """Song -> groove (all notes, or one track / channel) -> model.generate -> drums HVO (T, 27)."""
    groove = midi.song_to_groove(song, track, channel)
    return model.generate(groove[None], **generate_kwargs)[0]


def midi_to_drum_midi(model: Any, source: str | os.PathLike | bytes, track: int | None = None,
                      channel: int | None = None, merge: bool = False, **generate_kwargs):
    """Read a MIDI file, generate drums for it, return (song, hvo, output MidiFile at the input's tempo)."""
    song = midi.read_song(source)
    hvo = drums_for_song(model, song, track, channel, **generate_kwargs)
    return song, hvo, midi.hvo_to_midi(hvo, song, merge=merge)
