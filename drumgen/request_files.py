"""The files of the page's requests: a new folder for each, old ones removed, the total bounded.

Each Generate writes its MIDI, figure and audio in a folder of its own, so requests never share a
file. By default the folders live in Gradio's upload folder (`drumgen-app-PID/` there), so Gradio
serves each file where it was written instead of copying it into its cache: every output is
written once. Folders older than `keep_seconds` are removed as new ones are made, and the oldest
go first while all of them together hold more than `max_bytes`. The app's own base folder goes
when the process ends (atexit, and SIGTERM / SIGINT once `remove_on_signals()` is called from the
main thread), and the base folders of processes that are gone (killed with -9, a crash) are swept
when a new one starts.
"""
from __future__ import annotations

import atexit
import contextlib
import os
import re
import secrets
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

PREFIX = "drumgen-app-"
MAX_BYTES = int(float(os.environ.get("DRUMGEN_MAX_DISK_MB", "1024")) * 2**20)  # all request folders together
MIN_SECONDS = 120.0  # a request's files outlive the size cap this long (being made, being fetched)


def served_folder() -> Path:
    """Gradio's upload folder (GRADIO_TEMP_DIR, else /tmp/gradio): files there are served as they are."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # someone else's process, or unknown: keep its folder
        return True
    return True


def sweep_dead(parents: list[Path] | None = None) -> list[Path]:
    """Remove the base folders (PREFIX + pid) of processes that no longer run; the folders removed."""
    removed = []
    for parent in parents or [served_folder(), Path(tempfile.gettempdir())]:
        for folder in parent.glob(PREFIX + "*"):
            pid = folder.name[len(PREFIX):]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
    return removed


class RequestFolders:
    """A new folder per request under `base`; folders older than keep_seconds go as new ones come,
    and the oldest go while the total is over max_bytes (checked as each request starts, so the
    requests in flight can pass it by their own files)."""

    def __init__(self, base: str | os.PathLike | None = None, keep_seconds: float = 2 * 3600,
                 max_bytes: int = MAX_BYTES, min_seconds: float = MIN_SECONDS):
        self.own = base is None
        self.base = Path(base) if base else served_folder() / f"{PREFIX}{os.getpid()}"
        self.keep_seconds = float(keep_seconds)
        self.max_bytes = int(max_bytes)
        self.min_seconds = float(min_seconds)
        self._lock = threading.Lock()
        if self.own:  # our own folder: gone when the process ends; those of dead processes go now
            sweep_dead()
            atexit.register(self.remove_all)

    def new(self) -> Path:
        self.base.mkdir(parents=True, exist_ok=True)
        self.prune()
        # a name nobody can guess: Gradio serves whatever is in its folder to whoever names it
        folder = self.base / f"req-{time.time_ns():020d}-{secrets.token_hex(8)}"
        folder.mkdir()
        return folder

    def prune(self) -> None:
        """Remove folders older than keep_seconds, then the oldest while the total is over max_bytes,
        but never one younger than min_seconds: a request being made or its files being fetched."""
        now = time.time()
        cutoff = now - self.keep_seconds
        with self._lock:
            folders = []
            for folder in self.base.glob("req-*"):
                try:
                    mtime = folder.stat().st_mtime
                    if mtime < cutoff:
                        shutil.rmtree(folder, ignore_errors=True)
                    else:
                        folders.append((mtime, folder, _size(folder)))
                except OSError:
                    pass
            total = sum(size for *_, size in folders)
            for mtime, folder, size in sorted(folders, key=lambda f: f[:2]):
                if total <= self.max_bytes or mtime > now - self.min_seconds:
                    break
                shutil.rmtree(folder, ignore_errors=True)
                total -= size

    def total_bytes(self) -> int:
        return sum(_size(f) for f in self.base.glob("req-*")) if self.base.is_dir() else 0

    def remove_all(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    def remove_on_signals(self) -> None:
        """Remove the base folder on SIGTERM (kill, docker stop, a Space restart) and SIGINT (Ctrl-C)
        too, then let the signal do what it did before. Call from the main thread."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(signum)
            if previous == signal.SIG_IGN:  # the process does not stop on it (e.g. started with & from a script)
                continue

            def handler(num, frame, previous=previous):
                self.remove_all()
                if callable(previous):
                    previous(num, frame)
                elif previous != signal.SIG_IGN:  # the default: end the process as the signal does
                    signal.signal(num, signal.SIG_DFL)
                    os.kill(os.getpid(), num)

            signal.signal(signum, handler)


def _size(folder: Path) -> int:
    total = 0
    for entry in os.scandir(folder):
        with contextlib.suppress(OSError):
            total += entry.stat(follow_symlinks=False).st_size
    return total


def file_stem(name: str) -> str:
    """A name a person gave a file -> a safe, short stem for the files made from it."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name).stem).strip("._") or "groove"
    return stem[:60]
