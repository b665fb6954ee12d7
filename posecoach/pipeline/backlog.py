"""Frames that wait to be drawn: a queue bounded by bytes, and a file for JPEGs that wait long.

A frame of a live session may wait as pixels (hundreds of kB) or as its JPEG (tens of kB), so a
budget in frames would either waste memory or stall the session; a budget in bytes does
neither. Frames that wait while several sessions share the cores go to a `FrameSpool` on disk,
and only their place in it waits in memory.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Generic, TypeVar

from posecoach.errors import OutputError, describe_os_error
from posecoach.media.handoff import POLL_S

T = TypeVar("T")


class Backlog(Generic[T]):
    """A first-in first-out queue bounded by the bytes its items hold.

    `put` waits while the backlog is over its budget and the consumer is alive (an item larger
    than the whole budget is taken when the backlog is empty); it returns False, without
    queueing, once the consumer has stopped. `None` is the end marker and costs nothing.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(1, int(max_bytes))
        self._items: deque[tuple[T | None, int]] = deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self.peak_bytes = 0
        self.peak_items = 0

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    @property
    def bytes(self) -> int:
        """Bytes held now."""
        with self._cond:
            return self._bytes

    def put(self, item: T | None, nbytes: int, consumer: threading.Thread | None) -> bool:
        """Queue `item` holding `nbytes`; False once `consumer` has stopped."""
        nbytes = 0 if item is None else max(0, int(nbytes))
        with self._cond:
            while (item is not None and self._items and self._bytes + nbytes > self.max_bytes):
                if consumer is None or not consumer.is_alive():
                    return False
                self._cond.wait(POLL_S)
            if consumer is None or not consumer.is_alive():
                return False
            self._items.append((item, nbytes))
            self._bytes += nbytes
            self.peak_bytes = max(self.peak_bytes, self._bytes)
            self.peak_items = max(self.peak_items, len(self._items))
            self._cond.notify_all()
            return True

    def get(self) -> T | None:
        """The oldest item, waiting for one; `None` is the end marker."""
        with self._cond:
            while not self._items:
                self._cond.wait()
            item, nbytes = self._items.popleft()
            self._bytes -= nbytes
            self._cond.notify_all()
            return item


@dataclass(frozen=True)
class Spooled:
    """A frame waiting in a `FrameSpool`: where its JPEG starts, and its length in bytes."""

    offset: int
    length: int


class FrameSpool:
    """JPEGs waiting to be drawn, appended to one file and read back by position.

    Frames that may wait minutes are kept on disk rather than in memory. The file is the JPEGs
    one after another, an MJPEG stream that video tools play (`ffmpeg -f mjpeg -i FILE`), so
    frames not yet drawn when the process dies are still there. Safe to append on one thread
    while another reads.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file: BinaryIO | None = None
        self._size = 0
        self._lock = threading.Lock()

    def append(self, data: bytes) -> Spooled:
        """Write one JPEG at the end of the file; `OutputError` when it cannot be written."""
        with self._lock:
            try:
                if self._file is None:
                    self._file = self.path.open("w+b", buffering=0)
                self._file.seek(self._size)
                view = memoryview(data)
                while view:
                    written = self._file.write(view)
                    view = view[written or len(view):]
            except OSError as exc:
                raise OutputError(exc.errno, describe_os_error(exc, self.path)) from exc
            item = Spooled(self._size, len(data))
            self._size += len(data)
            return item

    def read(self, item: Spooled) -> bytes:
        """The JPEG `item` points at."""
        with self._lock:
            if self._file is None:
                raise OutputError(0, f"{self.path.name} is closed")
            try:
                self._file.seek(item.offset)
                return self._file.read(item.length)
            except OSError as exc:
                raise OutputError(exc.errno, describe_os_error(exc, self.path)) from exc

    def close(self, keep: bool = False) -> None:
        """Close the file; remove it unless `keep` (frames that were never drawn)."""
        with self._lock:
            if self._file is not None:
                with contextlib.suppress(OSError):
                    self._file.close()
                self._file = None
            if not keep:
                with contextlib.suppress(OSError):
                    self.path.unlink(missing_ok=True)
