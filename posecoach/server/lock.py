"""One program at a time writes a library: a lock on a file in its data folder.

The lock is the operating system's (`flock` on POSIX, `msvcrt.locking` on Windows): it belongs
to the open file, so it goes when the process ends, however it ends (`kill -9`, a crash, a
power cut), and a stale lock file never keeps a library locked. The file holds the holder's
process id and what it runs, so a second program can say who has the library. It is taken
before anything in the library is read or written (the start-up recovery of the server above
all: run by a second server, it would settle the first one's running sessions).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from posecoach.errors import PosecoachError, describe_os_error

LOCK_NAME = "posecoach.lock"
POLL_S = 0.1


class LibraryInUse(PosecoachError):
    """Another program holds the library's lock."""

    def __init__(self, data_dir: Path, holder: str) -> None:
        self.data_dir = data_dir
        self.holder = holder
        super().__init__(
            f"the library in {data_dir} is in use by {holder}: stop that first, or use "
            "another --data-dir"
        )


def _try_lock(handle: IO[str]) -> bool:
    """Take the lock on `handle` without waiting; False when another process has it."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(path: Path) -> str:
    """Who holds the lock, as its file says: "posecoach serve (process 1234)"."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    pid, _, what = text.strip().partition("\n")
    what = " ".join(what.split())[:200] or "another posecoach"
    return f"{what} (process {pid.strip()})" if pid.strip().isdigit() else what


@dataclass
class LibraryLock:
    """The held lock of one library; `release()` (or the process's end) gives it back."""

    data_dir: Path
    path: Path
    _handle: IO[str] | None

    def release(self) -> None:
        """Give the library back (closing the file releases the operating system's lock)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    @property
    def held(self) -> bool:
        return self._handle is not None


def lock_library(data_dir: Path, what: str, wait_s: float = 0.0) -> LibraryLock:
    """Lock the library in `data_dir` for this process, doing `what` ("posecoach serve").

    Waits up to `wait_s` for another holder to finish; then raises `LibraryInUse` naming it.
    The folder is made when missing (the library starts there). Nothing else in it is read or
    changed, whatever the outcome. Raises `OutputError`-worded `PosecoachError` when the lock
    file cannot be opened.
    """
    data_dir = Path(data_dir)
    path = data_dir / LOCK_NAME
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        # "a": never truncates the holder's pid before the lock is ours.
        handle = path.open("a+", encoding="utf-8")
    except OSError as exc:
        raise PosecoachError(describe_os_error(exc, path)) from None
    deadline = time.monotonic() + wait_s
    while not _try_lock(handle):
        if time.monotonic() >= deadline:
            handle.close()
            raise LibraryInUse(data_dir, _holder(path))
        time.sleep(POLL_S)
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n{what}\n")
        handle.flush()
    except OSError:
        pass  # the lock holds without the note of who holds it
    return LibraryLock(data_dir, path, handle)


@contextlib.contextmanager
def library_locked(data_dir: Path, what: str, wait_s: float = 0.0) -> Iterator[LibraryLock]:
    """`lock_library` for the length of a `with` block."""
    lock = lock_library(data_dir, what, wait_s)
    try:
        yield lock
    finally:
        lock.release()
