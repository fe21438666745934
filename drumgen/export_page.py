"""The page's "Export for your DAW": the take the page shows (the drums MIDI Generate or Regenerate
gave), written again for the drum instrument a musician loads it into, without running a model.

    daw = DawExport(drums)                       # a webapp.DrumApp: its request folders and work gate
    path = daw.export("song.mid", "song_drums_seed7.mid", "ad2", "per_voice", 0.5, 0.3, "16th", 40, 110)
    mix, alone = daw.preview(...)                # the same arguments: the previews as the export plays

The options are `drum_maps.ExportOptions` (a drum map, one track or one per voice, humanize, swing,
a velocity range), read here from what a page or API caller sends, in drumgen's words: a map is one
of drum_maps.MAPS or "file" with a map file uploaded beside it (never a path on the server); a value
out of range, an unknown map or a take that is not the drums of this song is refused with a sentence.
The exported file keeps the song's tempo map, meter and ticks per beat (`midi.hvo_to_midi`), and is
named after the take and the map (`song_drums_seed7_ad2.mid`). The previews of an export are the
export's timing and dynamics played with the General MIDI kit (the page's sound has no other map).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import mido
import numpy as np

from . import audio, drum_maps, midi, previews, takes
from . import hvo as H
from .control_input import shown
from .page_input import number_as_sent, parse_amount, read_song, result_file
from .page_limits import song_seconds
from .request_files import file_stem
from .webapp import DrumApp, user_errors

__all__ = ["DawExport", "describe_map", "describe_options", "export_name", "exported_midi", "map_choices", "read_map",
           "read_options", "read_take"]

MAP_FILE = "file"            # the drum map choice that takes the uploaded map file
MAX_MAP_FILE_BYTES = 64 * 1024
ONE_TRACK, PER_VOICE = "one", "per_voice"
TRACK_CHOICES = (("one track for all drums", ONE_TRACK), ("a track per voice (Kick, Snare, ...)", PER_VOICE))
_TRACK_WORDS = {ONE_TRACK: False, "one_track": False, "single": False,
                PER_VOICE: True, "per_voice_tracks": True, "a_track_per_voice": True, "voices": True}
SWING_GRID_CHOICES = tuple(drum_maps.SWING_GRIDS)  # '16th', '8th'
INTRO = ("The drums of the take above (the drums MIDI), written again for the drum instrument you load them "
         "into; the model does not run again. **Export** writes the file and the previews above play it "
         "(with the page's General MIDI kit).")
MAP_FILE_HELP = ('a .json or .yaml file of {voice: note}, e.g. {"kick": 36, "snare": 38, "fallback": "gm"} '
                 "(voices not given take the fallback map's notes)")


def map_choices() -> list[tuple[str, str]]:
    """(label, value) of each drum map for the dropdown: the built-in maps, then a map from a file."""
    return [(f"{m.name.upper()}: {m.title}", m.name) for m in drum_maps.MAPS.values()] + [
        ("File: a map of your own (upload it beside)", MAP_FILE)]


def read_map(drum_map: Any, map_file: Any = None) -> drum_maps.DrumMap:
    """A map name ('gm', ' AD2 ') -> its DrumMap; 'file' -> the uploaded map file's; ValueError otherwise.
    A name is never read as a path: an API caller chooses among the maps or uploads one."""
    if drum_map is None or (isinstance(drum_map, str) and not drum_map.strip()):
        return drum_maps.GM
    key = H.name_key(drum_map) if isinstance(drum_map, str) else None
    if key in drum_maps.MAPS:
        return drum_maps.MAPS[key]
    if key != MAP_FILE:
        raise ValueError(f"unknown drum map {shown(drum_map)}; maps: {', '.join(drum_maps.MAPS)}, "
                         f"or {MAP_FILE} (with a map file uploaded)")
    if map_file is None:
        raise ValueError(f"Upload a drum map file for the map '{MAP_FILE}': {MAP_FILE_HELP}.")
    path = Path(result_file(map_file))
    if path.stat().st_size > MAX_MAP_FILE_BYTES:
        raise ValueError(f"A drum map file is a few lines; {path.name} is {path.stat().st_size // 1024} KB "
                         f"(at most {MAX_MAP_FILE_BYTES // 1024} KB).")
    return drum_maps.load(path)


def describe_map(drum_map: Any, map_file: Any = None) -> str:
    """Markdown: the chosen map's title, the note of each voice and where the notes come from (or why
    there is no map yet: the sentence of `read_map`)."""
    try:
        chosen = read_map(drum_map, map_file)
    except ValueError as exc:
        return str(exc)
    notes = ", ".join(f"{H.VOICE_LABELS[v].lower()} {chosen.notes[v]}" for v in H.VOICES)
    source = f" *Source: {chosen.source}.*" if chosen.source and chosen is not drum_maps.GM else ""
    return f"**{chosen.name}**: {chosen.title}. Notes: {notes}.{source}"


def _velocity(value: Any, name: str) -> int | None:
    """A velocity as sent (a whole number or numeric text; None or '' -> None) -> 1..127; ValueError otherwise."""
    x = number_as_sent(value)
    if x is None:
        return None
    if not (math.isfinite(x) and x == int(x) and 1 <= x <= 127):
        raise ValueError(f"{name} must be a whole number from 1 to 127, got {shown(value)}")
    return int(x)


def read_options(drum_map: Any = "gm", tracks: Any = ONE_TRACK, humanize: Any = 1.0, swing: Any = 0.0,
                 swing_grid: Any = "16th", velocity_low: Any = None, velocity_high: Any = None,
                 map_file: Any = None) -> drum_maps.ExportOptions:
    """What the page or an API caller sends -> ExportOptions; ValueError with one sentence otherwise.
    tracks: 'one' or 'per_voice'; humanize, swing: 0..1 (None: 1 and 0, as made); velocity_low and
    velocity_high: both (1..127, low <= high) or neither (the dynamics as made)."""
    key = H.name_key(tracks) if isinstance(tracks, str) else tracks
    if key is None or key == "":
        key = ONE_TRACK
    if not isinstance(key, str) or key not in _TRACK_WORDS:
        raise ValueError(f"tracks must be '{ONE_TRACK}' (one track for all drums) or '{PER_VOICE}' "
                         f"(a track per voice), got {shown(tracks)}")
    low, high = _velocity(velocity_low, "velocity_low"), _velocity(velocity_high, "velocity_high")
    if (low is None) != (high is None):
        raise ValueError("Give both velocity_low and velocity_high (the softest and the loudest hit), or neither "
                         "for the dynamics as made.")
    if low is not None and low > high:
        raise ValueError(f"velocity_low ({low}) is above velocity_high ({high}): the softest hit cannot be louder "
                         "than the loudest.")
    grid = "16th" if swing_grid is None or (isinstance(swing_grid, str) and not swing_grid.strip()) else swing_grid
    if not isinstance(grid, (str, int)) or isinstance(grid, bool):
        raise ValueError(f"swing_grid must be 16th or 8th, got {shown(swing_grid)}")
    return drum_maps.ExportOptions(
        drum_map=read_map(drum_map, map_file), per_voice_tracks=_TRACK_WORDS[key],
        humanize=parse_amount(humanize, "humanize", 1.0), swing=parse_amount(swing, "swing", 0.0), swing_grid=str(grid),
        velocity_range=None if low is None else (low, high))


def read_take(take: Any, song: midi.Song) -> np.ndarray:
    """The drums MIDI of a take of `song` (what Generate or Regenerate gave: General MIDI notes on
    channel 10) -> the take (T, 27); ValueError or MidiError with a sentence for a file that is not."""
    if take is None:
        raise ValueError("Generate first: the export is made from the drums MIDI of the take the page shows.")
    take_song = midi.read_song(result_file(take))
    written = takes.export_map(take_song)
    if written is not None:
        raise ValueError(f"This file is an export (drum map {written}): export from the drums MIDI Generate gave "
                         "(the take the page shows), not from an export.")
    if not len(take_song.notes):
        raise ValueError("The take has no drum hits: there is nothing to export.")
    if (take_song.notes[:, 1] != midi.DRUM_CHANNEL).any():
        raise ValueError("This file has other notes than drums (the song with its drums?): export from the drums "
                         "MIDI, the first of the two MIDI files Generate gave.")
    unknown = sorted({int(p) for p in take_song.notes[:, 2]} - set(H.PITCH_TO_VOICE))
    if unknown:
        listed = ", ".join(map(str, unknown[:8])) + (", ..." if len(unknown) > 8 else "")
        raise ValueError(f"The take has drum notes that are not General MIDI drums drumgen writes ({listed}): "
                         "export from the drums MIDI Generate gave, not from a file exported for another map.")
    return takes.take_from_midi(take_song, song)  # another tempo map, or longer than the song: a sentence


EXPORT_MARK = takes.EXPORT_MARK


def describe_options(options: drum_maps.ExportOptions) -> str:
    """One line of what an export was written with (its text event, shown in a DAW's event list)."""
    velocities = "velocities as made" if options.velocity_range is None else \
        "velocities {}-{}".format(*options.velocity_range)
    return (f"{EXPORT_MARK} drum map {options.drum_map.name}, "
            f"{'a track per voice' if options.per_voice_tracks else 'one track'}, humanize {options.humanize:g}, "
            f"swing {options.swing:g} ({options.swing_grid}), {velocities}")


def exported_midi(take: np.ndarray, song: midi.Song, options: drum_maps.ExportOptions) -> mido.MidiFile:
    """The take written as `options` say, at the song's tempo map and meter, marked as an export."""
    out = midi.hvo_to_midi(take, song, options=options)
    out.tracks[0].insert(1, mido.MetaMessage("text", text=describe_options(options), time=0))  # after its name
    return out


def export_name(take: Any, options: drum_maps.ExportOptions) -> str:
    """The exported file's name: the take's (song_drums_seed7) and the map's (ad2): song_drums_seed7_ad2.mid."""
    return f"{file_stem(Path(result_file(take)).name)}_{file_stem(options.drum_map.name)}.mid"


class DawExport:
    """The export's events over a DrumApp (its request folders, its work gate, its audio rate)."""

    def __init__(self, app: DrumApp):
        self.app = app

    def _read(self, file, take, options_args, hearing=None) -> tuple[midi.Song, np.ndarray, drum_maps.ExportOptions]:
        options = read_options(*options_args)
        song, _ = read_song(file, hearing)
        return song, read_take(take, song), options

    @user_errors
    def export(self, file: Any, take: Any, drum_map: Any = "gm", tracks: Any = ONE_TRACK, humanize: Any = 1.0,
               swing: Any = 0.0, swing_grid: Any = "16th", velocity_low: Any = None, velocity_high: Any = None,
               map_file: Any = None, hearing: Any = None) -> str:
        """(the song, the take (its drums MIDI), drum map, tracks, humanize, swing, swing grid, velocity
        low and high, the map file for the map 'file', a recording's corrections (see DrumApp.analyze))
        -> the path of the exported drums MIDI."""
        song, take_hvo, options = self._read(file, take, (drum_map, tracks, humanize, swing, swing_grid,
                                                          velocity_low, velocity_high, map_file), hearing)
        with self.app.gate.slot(song.n_bars):
            path = self.app.folders.new() / export_name(take, options)
            midi.write_midi(exported_midi(take_hvo, song, options), path)
        return str(path)

    @user_errors
    def preview(self, file: Any, take: Any, drum_map: Any = "gm", tracks: Any = ONE_TRACK, humanize: Any = 1.0,
                swing: Any = 0.0, swing_grid: Any = "16th", velocity_low: Any = None, velocity_high: Any = None,
                map_file: Any = None, hearing: Any = None) -> tuple[str | None, str | None]:
        """The same arguments as `export` -> the page's two previews (the drums with the song, the drums
        alone) as the export plays: its timing and dynamics, with the General MIDI kit (with a recording:
        the recording itself); (None, None) where there is no audio (the summary says why)."""
        song, take_hvo, options = self._read(file, take, (drum_map, tracks, humanize, swing, swing_grid,
                                                          velocity_low, velocity_high, map_file), hearing)
        if audio.audio_unavailable_reason() is not None:
            return None, None
        heard = options.with_(drum_map=drum_maps.GM, per_voice_tracks=False)
        drums = midi.hvo_to_midi(take_hvo, song, options=heard)
        end = audio.seconds_at_tick(drums, song.n_steps * drums.ticks_per_beat // H.STEPS_PER_BEAT)
        stem = Path(export_name(take, options)).stem
        with self.app.gate.slot(song.n_bars, song_seconds(song)):
            try:
                return previews.write_previews(song.source, drums, self.app.folders.new(), stem, end,
                                               self.app.audio_rate, recording=getattr(song, "recording", None))
            except audio.AudioUnavailable:  # the SoundFont would not load: Generate's summary says so
                return None, None

