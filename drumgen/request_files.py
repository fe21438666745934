"""The files of the page's requests: a new folder for each, and the old ones removed.

Each Generate writes its MIDI, figure and audio in a folder of its own, so requests never share a
file; folders older than `keep_seconds` are removed as new ones are made, and the app's own base
folder goes when the process ends.
"""
from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path


class RequestFolders:
    """A new folder per request under `base`; folders older than keep_seconds go as new ones come."""

    def __init__(self, base: str | os.PathLike | None = None, keep_seconds: float = 2 * 3600):
        self.base = Path(base) if base else Path(tempfile.gettempdir()) / f"drumgen-app-{os.getpid()}"
        self.keep_seconds = float(keep_seconds)
        self._lock = threading.Lock()
        if base is None:  # our own folder: gone when the process ends
            atexit.register(shutil.rmtree, self.base, True)

    def new(self) -> Path:
        self.base.mkdir(parents=True, exist_ok=True)
        self.prune()
        return Path(tempfile.mkdtemp(prefix="req-", dir=self.base))

    def prune(self) -> None:
        cutoff = time.time() - self.keep_seconds
        with self._lock:
            for folder in self.base.glob("req-*"):
                try:
                    if folder.stat().st_mtime < cutoff:
                        shutil.rmtree(folder, ignore_errors=True)
                except OSError:
                    pass


def file_stem(name: str) -> str:
    """A name a person gave a file -> a safe, short stem for the files made from it."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name).stem).strip("._") or "groove"
    return stem[:60]
