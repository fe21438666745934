"""What the web page does, as plain functions and one class, so tests call them without a browser.

`app.py` lays the page out and wires each event to a method of a `DrumApp`:

    drums = DrumApp({"mgvae": "checkpoints/mgvae_gmd.pth"})      # model name -> checkpoint
    info, tracks, roll_png, lanes = drums.analyze("song.mid")
    lanes = set_lane(lanes, "density", "ramp_up", 0.9)            # or painted on the page
    take, mix, alone, mid, merged, summary = drums.generate("song.mid", "all", lanes, "any", "mgvae", 1.0, 0)
    take["take"]["hits"].append([0, "crash", 1.0, 0.0])            # or clicked on the page's grid
    take, mix, alone, mid, merged, summary = drums.edit("song.mid", "all", take)
    take["bars"] = [5, 6]                                          # or selected on the grid
    seed, take, *_ = drums.regenerate("song.mid", "all", take, "", [], lanes, "any", "mgvae", 1.0, None)

Per-bar controls travel as one JSON-able dict, `{lane: [value or None per bar]}` (drumgen.lanes
says what the lanes mean and how a caller's value is checked, clamped and padded); a take as the
take grid's value `{"take": take JSON, "groove": ..., "bars": [...], "locked": [...]}`
(drumgen.take_grid; drumgen.takes for the take's JSON). Generate walks the one path (`pipeline.make_drums`;
Regenerate `pipeline.regenerate_drums`), an edit without a model (`pipeline.take_part`); the page's own
(the take's value, the audio, the summary, a folder per request) is here.

Every method an event calls raises `gr.Error` with a sentence for a person (MidiError's text for a
bad file), never a traceback; each request writes its files in its own new folder, and folders older than
`keep_seconds` are removed as new ones are made. Models are loaded once per process and shared.
"""
from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from . import audio, midi, pipeline, previews, takes
from . import controls as C
from . import hvo as H
from . import page_input as P
from .control_input import voice_names
from .lanes import LANE_SHAPES, LaneSpec, check_lanes, describe_lanes, free_lanes, set_lane
from .models.checkpoint import SHIPPED, shipped_models
from .page_input import (
    ALL_NOTES,
    ANY_STYLE,
    MAX_SEED,
    describe_song,
    file_path,
    parse_track,
    plural,
    read_song,
    result_file,
    track_choices,
    user_errors,
)
from .page_limits import WorkGate, song_seconds
from .piano_roll import FIGURE_LOCK, figure_to_png, piano_roll
from .recording_page import hear_clicks, same_onsets
from .request_files import RequestFolders, file_stem
from .take_grid import Edit, grid_value, read_edit, read_grid

MAX_TEMPERATURE, parse_seed = P.MAX_TEMPERATURE, P.parse_seed  # the page's names, as before
__all__ = ["DrumApp", "Result", "examples", "file_path", "parse_seed", "parse_track", "read_song", "track_choices",
           "describe_song", "user_errors"]

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
STYLE_CHOICES = (ANY_STYLE, *C.STYLES)
AUDIO_RATE = previews.PREVIEW_RATE  # the previews (Ogg Vorbis); the lossless download is 44.1 kHz FLAC
FIGURE_DPI = 90
MODEL_LABELS = {
    "controlled": "Controllable model (learnt controls and style)",
    "mgvae": "MonotonicGrooveVAE (controls applied while sampling; no style)",
}
NO_FILE = "Upload a MIDI file or pick an example: its tempo, meter, bars and tracks appear here."
PROGRESS = gr.Progress()  # Gradio sees this default and reports the event's progress through it
_FIGURE_LOCK = FIGURE_LOCK  # matplotlib's text and font caches are not made for threads (one lock for every figure)


# --- the app ------------------------------------------------------------------------------------------

@dataclass
class Result:
    """Everything one Generate (or edit) makes; `outputs` is what the page shows, in the event's
    output order. take: the take grid's value (the take's JSON, the groove, bars and voices chosen)."""

    take: dict
    mix: str | None
    drums_audio: str | None
    drums_midi: str
    merged_midi: str
    summary: str
    seed: int | None
    hvo: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def outputs(self) -> tuple:
        return self.take, self.mix, self.drums_audio, self.drums_midi, self.merged_midi, self.summary


class DrumApp:
    """The page's functions over a set of models {name: checkpoint path}; the first is the default.
    work_dir: where request folders go (default: Gradio's upload folder, so Gradio serves the files
    where they are written); keep_seconds, max_bytes: how long and how much they are kept."""

    def __init__(self, models: Mapping[str, str | os.PathLike] | None = None, device: str = "cpu",
                 work_dir: str | os.PathLike | None = None, keep_seconds: float = 2 * 3600,
                 audio_rate: int = AUDIO_RATE, max_bytes: int | None = None, gate: WorkGate | None = None):
        models = shipped_models() if models is None else models
        if not models:
            raise FileNotFoundError("no model checkpoint found; expected one of: "
                                    + ", ".join(str(p) for p in SHIPPED.values()))
        self.models = {str(k): Path(p) for k, p in models.items()}
        self.device = device
        limit = {} if max_bytes is None else {"max_bytes": max_bytes}
        self.folders = RequestFolders(work_dir, keep_seconds, **limit)
        self.audio_rate = int(audio_rate)
        self.gate = gate or WorkGate()

    # models
    @property
    def default_model(self) -> str:
        return next(iter(self.models))

    def model_choices(self) -> list[tuple[str, str]]:
        return [(MODEL_LABELS.get(k, k), k) for k in self.models]

    def model(self, name: Any = None):
        """The loaded model of a name (loaded once per process: checkpoint.load_model caches it)."""
        from .models.checkpoint import load_model

        return load_model(self.models[P.parse_model(name, self.models)], self.device)

    def warm_up(self) -> None:
        """Load every model, matplotlib and the SoundFont, and hear clicks (librosa compiles on first use), now."""
        hear_clicks()
        groove = np.zeros((H.STEPS_PER_BAR, H.GROOVE_DIM), np.float32)
        groove[::4] = [1.0, 0.8, 0.0]
        for name in self.models:
            hvo = self.model(name).generate(groove[None])[0]
        with _FIGURE_LOCK:
            figure_to_png(piano_roll(hvo, groove), dpi=20)
        if audio.audio_unavailable_reason() is None:
            drums = midi.hvo_to_midi(hvo)
            audio.render_parts([drums, drums], sample_rate=self.audio_rate)

    # events
    @user_errors
    def analyze(self, file: Any, hearing: Any = None) -> tuple[str, Any, str, dict]:
        """A file (MIDI or a recording; hearing: a recording's corrections {"bpm", "bar_one",
        "sensitivity", "meter"}, each optional, or None) -> (what was understood, the groove choices, the
        groove's piano roll, free lanes); no file (the upload was cleared) -> the page as it starts."""
        if file is None:
            return NO_FILE, gr.Dropdown(choices=[(ALL_NOTES, ALL_NOTES)], value=ALL_NOTES), None, {}
        song, name = read_song(file, hearing)
        with self.gate.slot(song.n_bars):
            choices = track_choices(song)
            figure = self._groove_figure(song, name, None)
        return describe_song(song, name), gr.Dropdown(choices=choices, value=ALL_NOTES), figure, free_lanes(song.n_bars)

    @user_errors
    def groove(self, file: Any, track: Any, hearing: Any = None) -> str:
        """The piano roll of the groove made from all notes or one track."""
        song, name = read_song(file, hearing)
        track_index = parse_track(track, song)
        with self.gate.slot(song.n_bars):
            return self._groove_figure(song, name, track_index)

    def _groove_figure(self, song: midi.Song, name: str, track: int | None) -> str:
        groove = midi.song_to_groove(song, track)
        source = "all notes" if track is None else f"track {track}"
        title = f"{name}: the groove from {source} ({plural(int(groove[:, 0].sum()), 'onset')})"
        path = self.folders.new() / f"{file_stem(name)}_groove.png"
        with _FIGURE_LOCK:
            path.write_bytes(figure_to_png(piano_roll(H.empty_hvo(len(groove)), groove, title=title, bars=song.bars),
                                                  dpi=FIGURE_DPI))
        return str(path)

    @user_errors
    def set_lane(self, lanes: Any, lane: Any, shape: Any, level: Any) -> dict:
        """(lanes, lane, shape, level) -> new lanes (see set_lane)."""
        return set_lane(lanes, lane, shape, level)

    def lane_shaper(self, shape: str) -> Callable[[Any, Any, Any], dict]:
        """The event function of one shape's button: (lanes, lane, level) -> new lanes."""
        if shape not in LANE_SHAPES:
            raise ValueError(f"unknown lane shape {shape!r}; shapes: {', '.join(LANE_SHAPES)}")

        @user_errors
        def shape_lane(lanes: Any, lane: Any, level: Any) -> dict:
            return set_lane(lanes, lane, shape, level)

        shape_lane.__name__ = f"lane_{shape}"
        return shape_lane

    @user_errors
    def free_all(self, lanes: Any) -> dict:
        """Every lane free again, for as many bars as the lanes span (lanes checked as /generate does)."""
        return free_lanes(check_lanes(lanes))

    @user_errors
    def generate(self, file: Any, track: Any, lanes: Any, style: Any, model: Any, temperature: Any, seed: Any,
                 loop: Any = False, hearing: Any = None, progress: Any = PROGRESS) -> tuple:
        """(file, track, lanes, style, model, temperature, seed, loop (the last bar leads back into the
        first), hearing (a recording's corrections, see analyze)) -> (the take (the grid's value), audio
        of the drums with the song (with a recording: the recording itself), audio of the drums alone,
        drums MIDI, song + drums MIDI, summary)."""
        return self.run(file, track, lanes, style, model, temperature, seed, progress, loop=loop,
                        hearing=hearing).outputs

    @user_errors
    def new_variation(self, file: Any, track: Any, lanes: Any, style: Any, model: Any, temperature: Any,
                      loop: Any = False, hearing: Any = None, progress: Any = PROGRESS) -> tuple:
        """Generate with a new random seed: (seed, *generate's outputs)."""
        seed = secrets.randbelow(MAX_SEED + 1)
        return (seed, *self.run(file, track, lanes, style, model, temperature, seed, progress, loop=loop,
                                hearing=hearing).outputs)

    @user_errors
    def lossless(self, merged_midi: Any, file: Any = None, hearing: Any = None) -> str:
        """The MIDI of the song with its drums (Generate's last file) -> the same as lossless audio (FLAC);
        with a recording (file, hearing as Generate had them): the recording itself with those drums."""
        reason = audio.audio_unavailable_reason()
        if reason:
            raise ValueError(reason)
        if merged_midi is None:
            raise ValueError("Generate first: the lossless audio is made from the song with its drums.")
        merged, _ = read_song(result_file(merged_midi))
        recording = None
        if file is not None:
            song, _ = read_song(file, hearing)
            recording = getattr(song, "recording", None)
            if recording is not None and not same_onsets(merged, song):
                raise ValueError("The song with its drums was not made for this recording (or with other "
                                 "corrections): Generate again.")
        with self.gate.slot(merged.n_bars, song_seconds(merged)):
            return previews.write_lossless(merged.source, file_path(merged_midi), self.folders.new(),
                                           recording=recording)

    @user_errors
    def regenerate(self, file: Any, track: Any, take: Any, bars: Any, lock: Any, lanes: Any, style: Any, model: Any,
                   temperature: Any, seed: Any = None, loop: Any = False, hearing: Any = None, follow: Any = None,
                   progress: Any = PROGRESS) -> tuple:
        """New drums for some bars and voices of a take, the rest kept bit for bit: (file, track, the take (the
        grid's value, a take's JSON or its drums MIDI file), bars ('5-8, 12'; empty: the bars the grid's value
        selects, or every bar), voices to lock (names or 'kick,snare'; empty: the grid's locked voices), lanes,
        style, model, temperature, seed (empty: new ones until the bars change), loop, hearing, follow (0-1: how
        far the new bars lean toward the kept bars around them; empty: the model's own)) -> (seed, *generate's
        outputs), the take output the new take."""
        asked = not (seed is None or (isinstance(seed, str) and not seed.strip()))
        fresh = None if asked else (lambda: secrets.randbelow(MAX_SEED + 1))
        result = self.run(file, track, lanes, style, model, temperature, fresh() if fresh else seed, progress, take=take,
                          bars=bars, lock=lock, loop=loop, hearing=hearing, fresh_seed=fresh, follow=follow)
        return (result.seed, *result.outputs)

    @user_errors
    def edit(self, file: Any, track: Any, take: Any, hearing: Any = None, progress: Any = PROGRESS) -> tuple:
        """A take edited by hand, rendered without a model: (file, track, the take (the grid's value or
        a take's JSON, as an object or text), hearing (a recording's corrections)) -> generate's outputs
        for it (the take as sent, its audio, its MIDI files, a summary)."""
        return self.render_take(file, track, take, progress, hearing=hearing).outputs

    def render_take(self, file: Any, track: Any, take: Any, progress: Callable | None = None,
                    made: str = "hand edit", hearing: Any = None) -> Result:
        """What `edit` does, as a Result: MIDI, the take's value, audio; the grid's bars and locks kept."""
        step = progress or (lambda *a, **k: None)
        t0 = time.perf_counter()
        song, name = read_song(file, hearing)
        track_index = parse_track(track, song)
        value, bars, locked = read_grid(take)
        if value is None:
            raise ValueError("Generate first: there is no take to edit.")
        hvo = takes.take_for_song(value, song)
        selected = [b + 1 for b in takes.parse_bars(bars, song.n_bars)] if bars not in (None, "") else []
        locked = voice_names(locked) if locked not in (None, "", []) else []
        about = {"made": made}  # what the take says of itself, if it is what drumgen wrote
        if isinstance(value.get("seed"), int) and not isinstance(value.get("seed"), bool):
            about["seed"] = value["seed"]
        if isinstance(value.get("model"), str) and len(value["model"]) <= 40:
            about["model"] = value["model"]
        read_s = time.perf_counter() - t0
        with self.gate.slot(song.n_bars, song_seconds(song)):
            part = pipeline.take_part(song, hvo, track_index)
            result = self._render(part, name, "edited", about, f"{made} · no model", [], [], step, selected, locked)
        result.timings["read"] += read_s
        return result

    def run(self, file: Any, track: Any, lanes: Any, style: Any = ANY_STYLE, model: Any = None,
            temperature: Any = 1.0, seed: Any = 0, progress: Callable | None = None, take: Any = None,
            bars: Any = None, lock: Any = None, loop: Any = False, hearing: Any = None,
            fresh_seed: Callable[[], int] | None = None, follow: Any = None) -> Result:
        """The whole Generate: read, generate, MIDI, the take's value, audio; each stage's seconds in
        Result.timings. With a take (the grid's value, a take's JSON or its drums MIDI), only the bars
        and voices asked for are made new (Regenerate; fresh_seed: `pipeline.regenerate_drums`)."""
        step = progress or (lambda *a, **k: None)
        step(0.0, desc="reading the groove")
        t0 = time.perf_counter()
        seed, loop, follow = parse_seed(seed), P.parse_loop(loop), P.parse_follow(follow)
        temperature, clamped = P.parse_temperature(temperature)
        style = P.parse_style(style)
        song, name = read_song(file, hearing)
        track_index = parse_track(track, song)
        reading = LaneSpec(lanes, style).for_song(song.n_bars)
        edit = None if take is None and bars is None and lock is None else read_edit(song, take, bars, lock)
        runtime = self.model(model)
        read_s = time.perf_counter() - t0
        with self.gate.slot(song.n_bars, song_seconds(song)):
            result = self._make(song, name, track_index, reading, runtime, style, temperature, seed, step,
                                [clamped] if clamped else [], edit, loop, fresh_seed, follow)
        result.timings["read"] += read_s
        return result

    def _make(self, song, name, track_index, reading, runtime, style, temperature, seed, step, said,
              edit: Edit | None = None, loop: bool = False, fresh_seed: Callable | None = None, follow: Any = None) -> Result:
        step(0.15, desc=f"generating {plural(song.n_bars, 'bar')} of drums")
        keep = (None, None) if edit is None else (edit.take, edit.keep_mask)
        part, seed = pipeline.regenerate_drums(runtime, song, *keep, seed, fresh_seed, track=track_index, controls=reading,
                                               temperature=temperature, loop=loop,
                                               **({} if edit is None else {"follow_kept_bars": follow}))
        lean, lean_notes = P.leaning(runtime, follow, edit is not None and 0 < len(edit.bars) < song.n_bars)
        notes = list(part.reading.notes) + said + lean_notes
        if not C.is_free_style(style) and not runtime.learns_controls:
            notes.append(f"the {runtime.kind} has no style: '{style}' was ignored "
                         "(the controllable model follows it)")
        if any(x is not None for x in (part.reading.lanes or {}).get("fill", [])) and not runtime.follows_fills:
            notes.append(f"the {runtime.kind} was not trained with fills: the fill lane was ignored")
        lines = ["**Controls applied:** " + ("; ".join(describe_lanes(part.reading.lanes)) or "none (every lane free)")
                 + f"; **style** {style}" + ("; **loop-ready**: the last bar leads back into the first" if loop else "")]
        if edit is not None:
            lines.insert(0, f"**Regenerated:** {edit.said}; every other cell as the take had it{lean}")
        about = {"seed": seed, "model": runtime.kind, "made": "Generate" if edit is None else f"Regenerate: {edit.said}"}
        return self._render(part, name, f"seed{seed}", about,
                            f"{runtime.kind} · seed {seed} · temperature {temperature:.2f}", lines, notes, step,
                            edit.bars if edit else (), edit.locked if edit else ())

    def _render(self, part: pipeline.DrumPart, name: str, tag: str, about: dict, head: str, lines: list[str],
                notes: list[str], step: Callable, bars=(), locked=()) -> Result:
        """A take's outputs: both MIDI files, the grid's value, both audio previews, the summary."""
        song, hvo, track_index = part.song, part.hvo, part.track
        timings = {"read": part.timings["read"], "generate": part.timings["generate"]}
        t = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal t
            now = time.perf_counter()
            timings[stage], t = timings.get(stage, 0.0) + now - t, now

        step(0.35, desc="writing MIDI")
        folder = self.folders.new()
        stem = file_stem(name)
        drums_out, merged_out = part.drums_midi, part.merged_midi
        drums_midi, merged_midi = folder / f"{stem}_drums_{tag}.mid", folder / f"{stem}_with_drums_{tag}.mid"
        midi.write_midi(drums_out, drums_midi)
        midi.write_midi(merged_out, merged_midi)
        lap("midi")
        timings["midi"] += part.timings["write"]

        step(0.45, desc="rendering audio")
        mix = drums_audio = sound = None
        reason = audio.audio_unavailable_reason()
        if reason is None:  # audio renders and encodes outside the GIL, beside the take's value
            end = audio.seconds_at_tick(drums_out, song.n_steps * drums_out.ticks_per_beat // H.STEPS_PER_BEAT)
            sound = previews.start_previews(song.source, drums_out, folder, stem, end, self.audio_rate,
                                            recording=getattr(song, "recording", None))
        take = grid_value(takes.song_take_json(hvo, song, **about), part.groove, bars, locked)
        lap("take")
        if sound is not None:
            try:
                mix, drums_audio = sound.result()
            except (audio.AudioUnavailable, ValueError) as exc:
                reason = str(exc) if isinstance(exc, audio.AudioUnavailable) else f"No audio preview: {exc}."
        lap("audio")

        hits = int(H.hit_count(hvo))
        meter = "" if song.bars.is_four_four else f" of {song.meter_label}"
        heard = getattr(song, "recording", None)  # a recording's tempo map has a tempo a beat: its median shown
        bpm = song.bpm if heard is None else heard.bpm
        lines = [f"**{plural(hits, 'drum hit')}** over {plural(part.n_bars, 'bar')}{meter} at {bpm:.0f} BPM for **{name}** "
                 f"(groove: {'all notes' if track_index is None else f'track {track_index}'}) · {head}", *lines]
        if notes:
            lines.append("**Note:** " + "; ".join(notes) + ".")
        if reason:
            lines.append(reason)
        step(1.0, desc="done")
        return Result(take, mix, drums_audio, str(drums_midi), str(merged_midi), "\n\n".join(lines),
                      about.get("seed"), hvo, timings)


def examples() -> list[str]:
    """The example grooves in assets/, the one with several tracks first."""
    order = ["bass_and_keys.mid", "funk_bass.mid", "tapped_rhythm.mid", "son_clave.mid", "waltz_bass.mid",
             "ballad_6_8.mid", "changing_meters.mid"]
    found = sorted(ASSETS.glob("*.mid"), key=lambda p: (order.index(p.name) if p.name in order else len(order), p.name))
    return [str(p) for p in found]
