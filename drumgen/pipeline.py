"""The one path from a MIDI file to drums, shared by the command line, the app and the tests.

    model = load_default_model()                              # the shipped model (or a checkpoint path)
    spec = ControlSpec(density="0.2-0.9", mute=["ride"], style="funk")
    song, hvo, out = midi_to_drum_midi(model, "groove.mid", controls=spec, seed=3)

A `ControlSpec` is what a user asks for before the song's length is known (text as typed on the
command line, or numbers); `build_controls` turns it into per-bar controls for a song of n bars
(`drumgen.controls`), checked, once the MIDI has been read.
"""
from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import controls as C
from . import hvo as H
from . import midi
from .hvo import voice_name  # noqa: F401  (moving: callers use hvo.voice_name)
from .models.checkpoint import CHECKPOINT_DIR, SHIPPED, default_checkpoint, load_default_model  # noqa: F401

FREE_STYLES = C.FREE_STYLES


def learns_controls(model: Any) -> bool:
    return bool(model.learns_controls)


def model_kind(model: Any) -> str:
    return model.kind


# --- controls ---------------------------------------------------------------------------------------

def _curve(name: str, value: Any, n_bars: int) -> np.ndarray:
    """None (free) | text as on the command line ('0.5', '0.2-0.9', '0.2,0.5,0.9', 'free') | a number |
    per-bar numbers (the last repeated) -> (n_bars,) float64 in [0, 1], NaN = free."""
    try:
        if value is None:
            return np.full(n_bars, np.nan)
        if isinstance(value, str):
            return C.parse_curve(value, n_bars)
        values = H.real_array(value, "values")
        if values.ndim == 0:
            values = values[None]
        if values.ndim != 1 or len(values) == 0:
            raise ValueError(f"expected a number or one number a bar, got shape {values.shape}")
        if len(values) > n_bars:
            raise ValueError(f"{len(values)} values for {n_bars} bars")
        if not np.all(np.isnan(values) | ((values >= 0) & (values <= 1))):
            raise ValueError("values must be numbers between 0 and 1")
        return np.concatenate([values, np.repeat(values[-1:], n_bars - len(values))])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: {exc}") from None


def _names(value: str | Iterable[str] | None) -> list[str]:
    """'ride,crash' or ['ride', 'crash,kick'] -> ['ride', 'crash', 'kick']."""
    if value is None:
        return []
    if not isinstance(value, Iterable) or isinstance(value, Mapping):
        raise ValueError(f"mute: expected voice names ('ride,crash' or a list), got {type(value).__name__}")
    items = [value] if isinstance(value, str) else list(value)
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def parse_weights(items: str | Iterable[str] | None) -> dict[str, str]:
    """Command-line weights -> {voice: value text}: 'snare=0.4', 'snare=0.4,kick=0.6', 'snare=0.2-0.8'
    (a ramp) or 'snare=0.2,0.5,0.9' (one value a bar: a piece without '=' continues the voice before)."""
    if items is not None and not isinstance(items, Iterable):
        raise ValueError(f"weights: expected VOICE=VALUE items or a {{voice: value}} dict, got {type(items).__name__}")
    out: dict[str, str] = {}
    last = None
    for item in [items] if isinstance(items, str) else list(items or []):
        for part in str(item).split(","):
            part = part.strip()
            if "=" in part:
                voice, value = (s.strip() for s in part.split("=", 1))
                if not voice or not value:
                    raise ValueError(f"weight {part!r}: expected VOICE=VALUE, e.g. snare=0.4")
                last = voice_name(voice)
                if last in out:
                    raise ValueError(f"weight for {last} given twice")
                out[last] = value
            elif part and last is not None:
                out[last] += "," + part
            elif part:
                raise ValueError(f"weight {part!r}: expected VOICE=VALUE, e.g. snare=0.4 (voices: {', '.join(H.VOICES)})")
    return out


def build_controls(n_bars: int, density: Any = None, intensity: Any = None, mute: str | Iterable[str] | None = None,
                   weights: Mapping[str, Any] | str | Iterable[str] | None = None, style: str | None = None) -> dict:
    """Per-bar controls for a song of n_bars, as `generate(controls=...)` takes them; only what is set.

    density, intensity: a curve as `controls.parse_curve` reads it ('0.5', '0.2-0.9' a ramp over the
    song, '0.2,0.5,0.9' one value a bar with the last repeated, 'free'), a number, or per-bar numbers.
    mute: voice names ('ride,crash' or a list): weight 0, so they never play. weights: {voice: value}
    (value as for density: that voice's share of each bar's hits) or command-line 'VOICE=VALUE' items.
    style: one of controls.STYLES, or 'any' / None (the model chooses). Voices: drumgen.hvo.VOICES
    (also 'hat' / 'hihat' for closed_hat). Raises ValueError with one clear line for anything wrong.
    """
    if not isinstance(n_bars, (int, np.integer)) or isinstance(n_bars, bool) or n_bars < 1:
        raise ValueError(f"controls need a song of at least one bar, got {n_bars}")
    out: dict[str, Any] = {}
    for name, value in (("density", density), ("intensity", intensity)):
        values = _curve(name, value, n_bars)
        if np.isfinite(values).any():
            out[name] = values
    if weights is not None and not isinstance(weights, Mapping):
        weights = parse_weights(weights)
    instruments: dict[str, np.ndarray] = {}
    for voice, value in (weights or {}).items():
        key = voice_name(voice)
        if key in instruments:
            raise ValueError(f"weight for {key} given twice")
        instruments[key] = _curve(f"weight {key}", value, n_bars)
    weighted = set(instruments)
    for voice in _names(mute):
        key = voice_name(voice)
        if key in instruments and key in weighted:
            raise ValueError(f"{key} is both muted and given a weight; pick one")
        instruments[key] = np.zeros(n_bars)
    if instruments:
        if all(v in instruments and not instruments[v].any() for v in H.VOICES):
            raise ValueError("every voice is muted (or weighted 0): nothing would play")
        total = np.nansum(np.stack(list(instruments.values())), axis=0)
        if (total > 1 + 1e-6).any():
            bar = int(np.argmax(total > 1 + 1e-6))
            raise ValueError(f"weights add up to {total[bar]:.2f} in bar {bar + 1}; a weight is a voice's share "
                             "of the bar's hits, so together they can be at most 1")
        out["instruments"] = {v: instruments[v] for v in H.VOICES if v in instruments}
    if style is not None and (not isinstance(style, str) or style.strip().lower() not in FREE_STYLES):
        if isinstance(style, str):
            try:
                out["style"] = C.STYLES[C.style_index(style)]
            except ValueError:
                raise ValueError(f"unknown style {style!r}; styles: any, {', '.join(C.STYLES)}") from None
        else:
            out["style"] = style  # per-bar names: checked by validate_controls
    C.validate_controls(out, 1, n_bars)
    return out


@dataclass
class ControlSpec:
    """What a user asks for, before the song's length is known (see build_controls for the forms);
    `resolve(n_bars)` gives the per-bar controls. Empty: the model decides everything."""

    density: Any = None
    intensity: Any = None
    mute: Any = None
    weights: Any = None
    style: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.weights, (str, list, tuple)):
            self.weights = parse_weights(self.weights)
        build_controls(midi.MAX_BARS, self.density, self.intensity, self.mute, self.weights, self.style)  # checks
        # all but "more values than bars", so bad input is refused before a model is loaded or a file read

    def resolve(self, n_bars: int) -> dict:
        return build_controls(n_bars, self.density, self.intensity, self.mute, self.weights, self.style)

    def sets_style(self) -> bool:
        return self.style is not None and not (isinstance(self.style, str) and self.style.strip().lower() in FREE_STYLES)


def ignored_controls(model: Any, controls: ControlSpec | Mapping | None) -> list[str]:
    """Controls this model will not follow (today: style, for a model that did not learn the controls)."""
    if controls is None or learns_controls(model):
        return []
    if isinstance(controls, ControlSpec):
        return ["style"] if controls.sets_style() else []
    return ["style"] if isinstance(controls, Mapping) and controls.get("style") is not None else []


def controls_for_song(controls: ControlSpec | Mapping | C.Controls | None, n_bars: int) -> dict | C.Controls | None:
    """A ControlSpec resolved for n_bars; per-bar controls (a dict or Controls) as they are."""
    return controls.resolve(n_bars) if isinstance(controls, ControlSpec) else controls


# --- generation --------------------------------------------------------------------------------------

def drums_for_song(model: Any, song: midi.Song, track: int | None = None, channel: int | None = None,
                   controls: ControlSpec | Mapping | C.Controls | None = None, **generate_kwargs) -> np.ndarray:
    """Song -> groove (all notes, or one track / channel) -> model.generate -> drums HVO (T, 27)."""
    groove = midi.song_to_groove(song, track, channel)
    ctrl = controls_for_song(controls, groove.shape[0] // H.STEPS_PER_BAR)
    return model.generate(groove[None], ctrl, **generate_kwargs)[0]


def midi_to_drum_midi(model: Any, source: str | os.PathLike | bytes, track: int | None = None,
                      channel: int | None = None, merge: bool = False,
                      controls: ControlSpec | Mapping | C.Controls | None = None,
                      timings: dict | None = None, **generate_kwargs):
    """Read a MIDI file (path or bytes), generate drums for it, return (song, hvo, output MidiFile at
    the input's tempo). controls: a ControlSpec (resolved once the song's bars are known) or per-bar
    controls for exactly the song's bars. generate_kwargs: seed, temperature, thresholds, max_hits,
    keep_groove_timing, rest_in_silent_bars. timings: a dict to fill with the seconds of each stage
    ('read': MIDI -> groove and controls, 'generate', 'write': drums -> MidiFile)."""
    t0 = time.perf_counter()
    song = midi.read_song(source)
    groove = midi.song_to_groove(song, track, channel)
    ctrl = controls_for_song(controls, groove.shape[0] // H.STEPS_PER_BAR)
    t1 = time.perf_counter()
    hvo = model.generate(groove[None], ctrl, **generate_kwargs)[0]
    t2 = time.perf_counter()
    out = midi.hvo_to_midi(hvo, song, merge=merge)
    if timings is not None:
        timings.update(read=t1 - t0, generate=t2 - t1, write=time.perf_counter() - t2)
    return song, hvo, out
