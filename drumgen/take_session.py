"""The page's takes, one history per browser session: what each new take adds, Undo, Redo, A/B.

The page keeps a `takes.TakeHistory` in `gr.State` (so each session has its own, and nothing is
global). Generate, New variation and Regenerate are the API's own events; after each succeeds the
page records what it showed (`record`: the take from the grid, its audio, MIDI files and summary).
A hand edit on the grid (`hand_edit`) renders the edited take (`DrumApp.render_take`, no model) and
records it. Undo, Redo, A/B and the takes list show a recorded take again with the files it was
shown with (made again, without the model, if they have expired); the grid keeps the bars selected
and the voices locked. Every method here is an event's function (tested without a browser in
tests/test_take_grid.py):

    pages = PageTakes(drums); history = pages.new_history()
    value, *outputs = drums.generate(...);  summary, history, *view = pages.record(value, *outputs[:4], outputs[4], history)
    value, mix, alone, mid, merged, summary, history, *view = pages.undo(file, track, value, history)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import gradio as gr

from . import meter as M
from . import midi, takes
from .page_input import read_song, user_errors
from .take_grid import grid_value, groove_marks, read_grid
from .takes import TakeHistory
from .webapp import PROGRESS, DrumApp


@dataclass
class Shown:
    """What the page showed with a take: what its JSON said of it, the groove's marks, its files."""

    about: dict
    groove: list
    mix: str | None
    alone: str | None
    drums_midi: str | None
    merged_midi: str | None
    summary: str

    @property
    def files(self) -> tuple:
        return self.mix, self.alone, self.drums_midi, self.merged_midi

    def expired(self) -> bool:
        return any(f and not os.path.isfile(f) for f in self.files)


def _path(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("path")
    return None if value in (None, "") else str(value)


def label_of(about: dict) -> str:
    """'Generate, seed 3', 'Regenerate: new drums in bars 5–6, seed 812', 'hand edit: 1 hit added in bar 3'."""
    made = str(about.get("made") or "a take")
    return f"{made}, seed {about['seed']}" if about.get("seed") is not None and "hand edit" not in made else made


class PageTakes:
    """The functions of the page's takes events, around a DrumApp (which renders takes)."""

    def __init__(self, drums: DrumApp):
        self.drums = drums

    @staticmethod
    def new_history() -> TakeHistory:
        return TakeHistory()

    @staticmethod
    def view(history: TakeHistory) -> tuple:
        """Updates of the Undo, Redo and A/B buttons and the takes list."""
        ab = f"A/B: hear take {history.other}" if history.can_swap else "A/B"
        return (gr.Button(interactive=history.can_undo), gr.Button(interactive=history.can_redo),
                gr.Button(ab, interactive=history.can_swap),
                gr.Dropdown(choices=history.choices(), value=history.current, interactive=len(history) > 1))

    @user_errors
    def new_song(self, file: Any, value: Any, history: Any, hearing: Any = None) -> tuple:
        """A new file: its groove on the grid and no take, a new history -> (grid value, history, *view).
        A take that fits the file (its length and tempo map, and the grid's groove one of the file's:
        the same song loaded again, or a Generate that came first) stays, with its history."""
        if file is None:
            history = self.new_history()
            return {}, history, *self.view(history)
        song, _ = read_song(file, hearing)
        take, _, _ = read_grid(value) if isinstance(value, dict) else (None, None, None)
        if isinstance(history, TakeHistory) and history.current is not None and take is not None \
                and _same_groove(value.get("groove"), song):
            try:
                takes.take_for_song(take, song)
                return gr.skip(), history, *self.view(history)
            except ValueError:
                pass
        history = self.new_history()
        return grid_value(None, midi.song_to_groove(song), meters=song.bars), history, *self.view(history)

    @user_errors
    def record(self, value: Any, mix: Any, alone: Any, drums_midi: Any, merged_midi: Any, summary: Any,
               history: Any) -> tuple:
        """After Generate, New variation or Regenerate: keep the take the grid shows with its files ->
        (the summary with the take's number, history, *view)."""
        history = history if isinstance(history, TakeHistory) else self.new_history()
        take, _, _ = read_grid(value)
        if take is None:
            return summary, history, *self.view(history)
        shown = _share_groove(self._shown(value, mix, alone, drums_midi, merged_midi, summary), history)
        number = history.add(takes.take_from_json(take), label_of(shown.about), shown)
        return self._numbered(history, number), history, *self.view(history)

    @user_errors
    def hand_edit(self, file: Any, track: Any, value: Any, history: Any, hearing: Any = None,
                  progress: Any = PROGRESS) -> tuple:
        """The grid's hits changed by hand: render the new take, keep it -> (mix, drums alone, drums
        MIDI, song + drums MIDI, summary, history, *view)."""
        history = history if isinstance(history, TakeHistory) else self.new_history()
        take, _, _ = read_grid(value)
        if take is None:
            raise ValueError("Generate first: there is no take to edit.")
        new = takes.take_from_json(take)
        old = history.take() if history.current is not None else None
        if old is not None and old.shape == new.shape and (old == new).all():
            shown = history.entry().shown
            return *shown.files, self._numbered(history, history.current), history, *self.view(history)
        change = "hand edit" if old is None else f"hand edit: {takes.describe_change(old, new, bars=takes.take_bars(take))}"
        result = self.drums.render_take(file, track, value, progress, made=change, hearing=hearing)
        shown = _share_groove(self._shown(result.take, result.mix, result.drums_audio, result.drums_midi,
                                          result.merged_midi, result.summary), history)
        number = history.add(result.hvo, label_of(shown.about), shown)
        return *shown.files, self._numbered(history, number), history, *self.view(history)

    def undo(self, file: Any, track: Any, value: Any, history: Any, hearing: Any = None) -> tuple:
        """Show the take the current one was made from -> (grid value, mix, drums alone, drums MIDI,
        song + drums MIDI, summary, history, *view)."""
        return self._go(file, track, value, history, "undo", hearing=hearing)

    def redo(self, file: Any, track: Any, value: Any, history: Any, hearing: Any = None) -> tuple:
        """Show again the take last undone -> as undo."""
        return self._go(file, track, value, history, "redo", hearing=hearing)

    def swap(self, file: Any, track: Any, value: Any, history: Any, hearing: Any = None) -> tuple:
        """A/B: show the take shown before this one -> as undo."""
        return self._go(file, track, value, history, "swap", hearing=hearing)

    def show(self, file: Any, track: Any, value: Any, history: Any, chosen: Any, hearing: Any = None) -> tuple:
        """Show the take chosen in the takes list -> as undo."""
        return self._go(file, track, value, history, "show", chosen, hearing)

    @user_errors
    def select_bars(self, value: Any, text: Any) -> dict:
        """Bars typed ('5-8, 12') -> the grid's value with them selected."""
        take, _, locked = read_grid(value)
        if take is None:
            raise ValueError("Generate first: bars are selected on the take.")
        n_bars = _n_bars(take)
        bars = [b + 1 for b in takes.parse_bars(text, n_bars)]
        return {**value, "bars": bars} if isinstance(value, dict) and "take" in value else grid_value(take, [], bars)

    @user_errors
    def _go(self, file, track, value, history, how, chosen=None, hearing=None) -> tuple:
        history = history if isinstance(history, TakeHistory) else self.new_history()
        if history.current is None:
            raise ValueError("Generate first: there are no takes yet.")
        if how == "show":
            try:
                history.show(int(chosen))
            except (TypeError, ValueError, KeyError):
                raise ValueError(f"There is no take {str(chosen)[:20]} in this session.") from None
        else:
            getattr(history, how)()
        entry = history.entry()
        shown = entry.shown
        _, bars, locked = read_grid(value)
        take = takes.take_to_json(entry.take(), **shown.about)
        grid = grid_value(take, shown.groove, bars if isinstance(bars, list) else [], locked if isinstance(locked, list) else [])
        if shown.expired():  # made again from the take, with no model (results are kept two hours)
            result = self.drums.render_take(file, track, grid, made=shown.about.get("made", "a take"), hearing=hearing)
            entry.shown = shown = Shown(shown.about, shown.groove, result.mix, result.drums_audio, result.drums_midi,
                                        result.merged_midi, shown.summary)
            grid = result.take
        return grid, *shown.files, self._numbered(history, entry.number), history, *self.view(history)

    @staticmethod
    def _shown(value, mix, alone, drums_midi, merged_midi, summary) -> Shown:
        take = value["take"] if isinstance(value, dict) and isinstance(value.get("take"), dict) else value
        about = {k: take[k] for k in ("seed", "model", "made", "tempo_map", "meters")
                 if isinstance(take, dict) and k in take}
        groove = value.get("groove", []) if isinstance(value, dict) else []
        return Shown(about, groove if isinstance(groove, list) else [], _path(mix), _path(alone), _path(drums_midi),
                     _path(merged_midi), str(summary or ""))

    @staticmethod
    def _numbered(history: TakeHistory, number: int) -> str:
        entry = history.entry(number)
        return f"**Take {number}** · {entry.label}\n\n{entry.shown.summary}"


def _n_bars(take: Any) -> int:
    """The bars of a take's JSON: its 'meters' runs ([[numerator, denominator, bars], ...]) when it has
    them, else bars of 16 steps (4/4)."""
    runs = take.get("meters")
    if runs is None:
        return int(take.get("steps", 0)) // 16
    try:
        return M.Bars.from_runs(runs).n_bars
    except (TypeError, ValueError) as exc:
        raise ValueError(f"take: 'meters' must be [[numerator, denominator, bars], ...] as drumgen wrote it ({exc})") \
            from None


def _same_groove(marks: Any, song: midi.Song) -> bool:
    """Whether the grid's groove marks are the groove of this song, from all its notes or one track
    (two songs of one length and tempo are not the same song)."""
    if not isinstance(marks, list):
        return False
    tracks = [None] + [t.index for t in song.tracks if t.n_notes]
    return any(marks == groove_marks(midi.song_to_groove(song, track)) for track in tracks)


def _share_groove(shown: Shown, history: TakeHistory) -> Shown:
    """The takes of one song share one groove list (a long song's is megabytes: kept once, not per take)."""
    if history.current is not None:
        before = history.entry().shown
        if isinstance(before, Shown) and before.groove == shown.groove:
            shown.groove = before.groove
    return shown
