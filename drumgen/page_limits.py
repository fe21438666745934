"""How much of the machine the page's requests may take, so one caller cannot block the others.

Gradio queues every event (at most QUEUE_SIZE waiting); the heavy ones (analyze, groove, generate,
new variation, the lossless download) share one concurrency group of GRADIO_WORKERS threads, and
inside them a `WorkGate` decides what is worked on: SLOTS requests at once in all, of which at
most LONG_SLOTS long songs (over LONG_BARS bars or LONG_SECONDS of music: the audio preview is most
of the work, so a slow 256-bar song counts as long as a fast 2,048-bar one). A long song costs about a minute (2,048 bars at
830 BPM: ten minutes of music), a 16-bar one about a second, so a short request always finds a
slot that no long song can hold, however many long songs are sent; long songs wait in a lane of
their own, at most LONG_WAITING of them, and one more is refused with a sentence (try again in a
minute) instead of holding a Gradio thread that short requests need. The threads of the group are
enough for the long lane to be full and short requests still to be taken from the queue.
"""
from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

from . import audio, midi
from . import hvo as H

SLOTS = int(os.environ.get("DRUMGEN_CONCURRENCY", "2"))  # requests worked on at once (one per core)
LONG_BARS = 256           # longer songs go in the long lane ...
LONG_SECONDS = 180.0      # ... and so do songs longer than this (audio is most of the work: its seconds count)
LONG_SLOTS = 1            # long songs worked on at once
LONG_WAITING = 2          # long songs waiting for their lane; one more is refused
GRADIO_WORKERS = SLOTS + LONG_SLOTS + LONG_WAITING  # threads of the heavy group: the long lane full, a short request still taken
QUEUE_SIZE = 64           # requests Gradio queues; more are refused by Gradio ("queue is full")
HEAVY = "drumgen-work"    # the one concurrency group of the heavy events
LIGHT = "drumgen-lanes"   # the lane buttons (a few milliseconds each)


class Busy(ValueError):
    """The long-song lane is full: a sentence for the person."""


class WorkGate:
    """`with gate.slot(n_bars, seconds):` waits for a slot: `slots` at once, at most `long_slots` of
    them for songs over `long_bars` bars or `long_seconds` of music, at most `long_waiting` long songs
    waiting (one more raises Busy)."""

    def __init__(self, slots: int = SLOTS, long_bars: int = LONG_BARS, long_slots: int = LONG_SLOTS,
                 long_waiting: int = LONG_WAITING, long_seconds: float = LONG_SECONDS):
        self.slots, self.long_bars, self.long_slots, self.long_waiting = slots, long_bars, long_slots, long_waiting
        self.long_seconds = float(long_seconds)
        self.running = self.running_long = self.waiting_long = 0
        self._cond = threading.Condition()

    def is_long(self, n_bars: int, seconds: float = 0.0) -> bool:
        return n_bars > self.long_bars or seconds > self.long_seconds

    @contextlib.contextmanager
    def slot(self, n_bars: int, seconds: float = 0.0) -> Iterator[None]:
        long = self.is_long(n_bars, seconds)
        with self._cond:
            if long:
                free = self.running < self.slots and self.running_long < self.long_slots
                if not free and self.waiting_long >= self.long_waiting:
                    raise Busy(f"Songs over {self.long_bars} bars or {self.long_seconds / 60:g} minutes take up to a "
                               "minute each and "
                               f"{self.running_long + self.waiting_long} are being made or waiting; "
                               "please try again in a minute (shorter songs are not held up).")
                self.waiting_long += 1
                try:
                    self._cond.wait_for(lambda: self.running < self.slots and self.running_long < self.long_slots)
                finally:
                    self.waiting_long -= 1
                self.running_long += 1
            else:
                self._cond.wait_for(lambda: self.running < self.slots)
            self.running += 1
        try:
            yield
        finally:
            with self._cond:
                self.running -= 1
                self.running_long -= long
                self._cond.notify_all()


def song_seconds(song: midi.Song) -> float:
    """How long a song plays, from its tempo map: the audio preview's length, most of a request's work."""
    if song.source is None:
        return 0.0
    return audio.seconds_at_tick(song.source, song.n_steps * song.ticks_per_beat // H.STEPS_PER_BEAT)
