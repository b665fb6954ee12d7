"""A queue bounded by the bytes its items hold, for frames that wait to be drawn.

A frame of a live session may wait as its JPEG (tens of kB) or as pixels (hundreds of kB), so
a budget in frames would either waste memory or stall the session; a budget in bytes does
neither.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")

POLL_S = 0.5


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
