"""What a page or API caller sends, read in drumgen's words: the file, the track, the seed, the
temperature, the style and the model. A person's meaning is accepted ('FUNK', ' funk ', 'MGVAE', a
seed typed as '7'); anything else is refused with a sentence that echoes at most a few dozen
characters of what was sent (`control_input.shown`), never changed into something else (a seed of
1.5 is refused, not rounded; track '2.5' is refused, not read as track 2). `user_errors` makes a
page handler fail only with such a sentence; `describe_song` and `track_choices` say what was read.
"""
from __future__ import annotations

import functools
import logging
import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from . import controls as C
from . import midi
from .control_input import shown
from .recording import read_source

ALL_NOTES = "all"
ANY_STYLE = "any"
MAX_TEMPERATURE = 3.0
MAX_SEED = 2**31 - 1
log = logging.getLogger("drumgen.webapp")  # where the page's unexpected errors were always logged
_TRACK = re.compile(r"\s*(?:track\s*)?(\d{1,5})\s*(?::.*)?", flags=re.IGNORECASE | re.DOTALL)


def plural(n: int, word: str) -> str:
    """'1 bar', '2 bars'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def parse_seed(seed: Any) -> int:
    """None or '' -> 0; a whole number 0..2**31-1 (as a number or text) -> int; ValueError otherwise
    (1.5 and true are refused, not rounded)."""
    if seed is None or (isinstance(seed, str) and not seed.strip()):
        return 0
    try:
        x = float(seed) if isinstance(seed, (int, float, str, np.number)) else math.nan
    except (ValueError, OverflowError):
        x = math.nan
    if isinstance(seed, bool) or not math.isfinite(x) or x != int(x) or not 0 <= x <= MAX_SEED:
        raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED}, got {shown(seed)}")
    return int(x)


def parse_temperature(value: Any) -> tuple[float, str | None]:
    """A temperature (number or numeric text) -> (value in 0..3, a note when it was clamped)."""
    try:
        x = float(value) if isinstance(value, (int, float, str, np.number)) and not isinstance(value, bool) else math.nan
    except (ValueError, OverflowError):
        x = math.nan
    if math.isnan(x):
        raise ValueError(f"temperature must be a number from 0 to {MAX_TEMPERATURE:g}, got {shown(value)}")
    clamped = min(max(x, 0.0), MAX_TEMPERATURE)
    note = None if clamped == x else f"temperature {x:g} was clamped to {clamped:g} (0 to {MAX_TEMPERATURE:g})"
    return clamped, note


def number_as_sent(value: Any) -> float | None:
    """A number as sent (a number or numeric text) -> float; None for nothing sent (None or blank
    text); NaN for anything else, so the caller's range check refuses it in its own words."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return float(value) if isinstance(value, (int, float, str, np.number)) and not isinstance(value, bool) else math.nan
    except (ValueError, OverflowError):
        return math.nan


def parse_amount(value: Any, name: str, default: float | None) -> float | None:
    """A 0..1 amount as sent (None or '' -> default) -> float; ValueError outside 0..1."""
    x = number_as_sent(value)
    if x is None:
        return default
    if not 0.0 <= x <= 1.0:  # NaN too
        raise ValueError(f"{name} must be a number from 0 to 1, got {shown(value)}")
    return x


def parse_follow(value: Any) -> float | None:
    """How far Regenerate's new bars lean toward the kept bars around them: None (also blank) -> the
    model's own (`kept_bars_prior`), else a number from 0 to 1 (out of range or not a number: ValueError)."""
    return parse_amount(value, "follow the kept bars", None)


def follow_default(model: Any) -> float:
    """Where the page's "Follow the kept bars" starts: the model's own pull (0 for a model without one)."""
    return float(model.kept_bars_pull or 0.0)


def follow_for(drums: Any, name: Any) -> Any:
    """The slider's value when another model is chosen: that model's own pull (an unknown name: as it is)."""
    try:
        return follow_default(drums.model(name))
    except (ValueError, KeyError, OSError):
        return gr.update()


def leaning(model: Any, follow: float | None, editing: bool = True) -> tuple[str, list[str]]:
    """What a Regenerate's summary says of the pull toward the kept bars: (a clause for its first line,
    notes): the pull used, or a note that the model has none and ignored one asked for (above 0).
    editing: whether some bars are kept and some made new (else there is nothing to lean toward)."""
    own = model.kept_bars_pull
    if not editing:
        return "", []
    if own is None:
        return "", [] if not follow else [f"the {getattr(model, 'kind', 'model')} does not lean toward the "
                                          "kept bars: 'Follow the kept bars' was ignored"]
    return f"; the new bars lean {own if follow is None else follow:.2f} toward the kept bars around them", []


def parse_style(style: Any) -> str:
    """'any' (also None, blank, 'free') or a style of the dataset, case and spaces as a person types them."""
    if style is None or (isinstance(style, str) and C.is_free_style(style)):
        return ANY_STYLE
    if not isinstance(style, str):
        raise ValueError(f"style must be 'any' or a style name, got {shown(style)}")
    try:
        return C.STYLES[C.style_index(style)]
    except ValueError:
        raise ValueError(f"unknown style {shown(style)}; styles: any, {', '.join(C.STYLES)}") from None


def parse_loop(value: Any) -> bool:
    """The loop-ready box: True / False (None and '' are False; 'true', 'yes', '1' from a caller too)."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("", "false", "no", "0", "off"):
        return False
    if text in ("true", "yes", "1", "on"):
        return True
    raise ValueError(f"loop: true or false, got {shown(value)}")


def parse_model(name: Any, models: Mapping[str, Any]) -> str:
    """A model's name as a person types it ('MGVAE', ' mgvae ') -> its key; None or '' -> the first."""
    if name is None or (isinstance(name, str) and not name.strip()):
        return next(iter(models))
    found = {str(k).lower(): k for k in models}.get(str(name).strip().lower()) if isinstance(name, str) else None
    if found is None:
        raise ValueError(f"unknown model {shown(name)}; models: {', '.join(models)}")
    return found


def file_path(file: Any) -> str:
    """What a gr.File input gives (a path, or a dict / object with a path) -> the path; gr.Error if none."""
    if isinstance(file, Mapping):
        file = file.get("path") or file.get("name")
    elif file is not None and not isinstance(file, (str, os.PathLike)):
        file = getattr(file, "path", None) or getattr(file, "name", None)
    if not file:
        raise gr.Error("Upload a MIDI file (.mid) or pick an example groove first.", print_exception=False)
    return os.fspath(file)


def result_file(file: Any) -> str:
    """The path of a file the page made earlier (a take, the song with its drums); a sentence, not a
    path, when it has gone (results are kept two hours, fewer when the page's disk is full)."""
    path = file_path(file)
    if not os.path.isfile(path):
        raise ValueError("This result has expired (results are kept for two hours, fewer on a busy page): "
                         "Generate again.")
    return path


def read_song(file: Any, hearing: Any = None) -> tuple[midi.Song, str]:
    """(Song, file name) with the meter map checked, so a meter drumgen cannot play (or a meter change
    inside a bar) is said as soon as the file is loaded. A recording is heard (`hearing`: the musician's
    corrections of tempo, bar 1, sensitivity and meter, see recording.parse_hearing)."""
    path = file_path(file)
    song = read_source(path, hearing)
    if song.n_bars == 0:
        raise midi.MidiError("The file has no notes to make a groove from.")
    midi.check_meter(song)
    return song, Path(path).name


def parse_track(track: Any, song: midi.Song) -> int | None:
    """'all' / None / '' -> None (all notes); a track number (a whole number, or text such as '2' or
    'track 2: bass') -> int, checked against the song's tracks with notes. 2.5 or '1/..' are refused."""
    if track is None or (isinstance(track, str) and track.strip().lower() in ("", ALL_NOTES, "all notes")):
        return None
    refuse = ValueError(f"track must be 'all' or a track number, got {shown(track)}")
    if isinstance(track, bool):
        raise refuse
    if isinstance(track, (int, np.integer)):
        if not 0 <= track < 100000:
            raise refuse
        index = int(track)
    elif isinstance(track, float):
        if not (math.isfinite(track) and track == int(track) and 0 <= track < 100000):
            raise refuse
        index = int(track)
    else:
        found = _TRACK.fullmatch(str(track)) if isinstance(track, str) else None
        if not found:
            raise refuse
        index = int(found.group(1))
    song.select(index)  # MidiError naming the tracks with notes when there is none
    return index


def user_errors(fn: Callable) -> Callable:
    """Let a handler fail only with gr.Error: a bad file or value says why in its own words
    (MidiError, ValueError), anything else is logged with its traceback and reported in one line."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (midi.MidiError, ValueError, FileNotFoundError) as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception as exc:  # a bug, not the user's fault
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"drumgen failed unexpectedly ({type(exc).__name__}: {str(exc)[:200]}); please report it.",
                           print_exception=False) from None

    return wrapper


# --- songs ------------------------------------------------------------------------------------------

def track_choices(song: midi.Song) -> list[tuple[str, str]]:
    """(label, value) pairs for the groove dropdown: all notes, then each track with notes."""
    total = int(len(song.notes))
    return [(f"all notes ({total})", ALL_NOTES)] + [(t.describe(), str(t.index)) for t in song.tracks if t.n_notes]


def describe_song(song: midi.Song, name: str) -> str:
    """Markdown: what drumgen understood of a file; for a recording, what it heard (the tempo, bar 1,
    the onsets, and its notes: a pickup left out, clipping)."""
    heard = getattr(song, "recording", None)
    if heard is not None:
        bars = f"{song.n_bars} bar{'s' if song.n_bars != 1 else ''} of {song.meter_label}"
        lines = [f"**{name}** (a recording): {bars} from bar 1 at {heard.bpm:.1f} BPM",
                 heard.describe()[0].upper() + heard.describe()[1:]]
        if heard.notes:
            lines.append("**Note:** " + "; ".join(heard.notes) + ".")
        lines.append("Not right? Correct the tempo, bar 1, the sensitivity or the meter under *What drumgen heard*, "
                     "then Hear again.")
        return "\n\n".join(lines)
    tempos = [bpm for _, bpm in song.tempos] or [midi.DEFAULT_BPM]
    tempo = f"{tempos[0]:.1f} BPM".replace(".0 ", " ")
    if len(tempos) > 1:
        tempo += f" ({len(tempos) - 1} tempo change{'s' if len(tempos) > 2 else ''}, {min(tempos):.0f}–{max(tempos):.0f} BPM)"
    elif not song.tempos:
        tempo += " (no tempo in the file: MIDI's default)"
    meter = song.meter_label if song.time_signatures else "4/4 (none given)"
    tracks = [t for t in song.tracks if t.n_notes]
    lines = [f"**{name}**: {song.n_bars} bar{'s' if song.n_bars != 1 else ''} of {meter} at {tempo}, "
             f"{song.ticks_per_beat} ticks per beat",
             f"{len(tracks)} track{'s' if len(tracks) != 1 else ''} with notes: "
             + "; ".join(t.describe() for t in tracks)]
    return "\n\n".join(lines)
