"""Handing items to a worker thread through a bounded queue without waiting on a dead worker."""

from __future__ import annotations

import queue
import threading
from typing import TypeVar

T = TypeVar("T")

POLL_S = 0.5


def hand_over(items: queue.Queue[T], item: T, consumer: threading.Thread | None) -> bool:
    """Put `item` into `items`, waiting while the queue is full and `consumer` is alive.

    Returns False, without queueing, once the consumer has stopped: a full queue whose reader
    died would otherwise block the producer for ever.
    """
    while consumer is not None and consumer.is_alive():
        try:
            items.put(item, timeout=POLL_S)
            return True
        except queue.Full:
            continue
    return False
