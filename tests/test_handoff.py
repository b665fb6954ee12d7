"""Handing items to a worker thread: waits while it works, gives up once it has stopped."""

from __future__ import annotations

import queue
import threading
import time

from posecoach.media.handoff import hand_over


def test_item_is_queued_while_the_consumer_runs():
    items: queue.Queue[int] = queue.Queue(maxsize=1)
    stop = threading.Event()
    consumer = threading.Thread(target=stop.wait)
    consumer.start()
    try:
        assert hand_over(items, 7, consumer)
        assert items.get_nowait() == 7
    finally:
        stop.set()
        consumer.join()


def test_waits_for_room_while_the_consumer_takes_items():
    items: queue.Queue[int] = queue.Queue(maxsize=1)
    items.put(1)
    taken: list[int] = []

    def consume() -> None:
        time.sleep(0.2)
        taken.append(items.get())
        taken.append(items.get())

    consumer = threading.Thread(target=consume)
    consumer.start()
    assert hand_over(items, 2, consumer)
    consumer.join()
    assert taken == [1, 2]


def test_gives_up_on_a_full_queue_once_the_consumer_has_stopped():
    items: queue.Queue[int] = queue.Queue(maxsize=1)
    items.put(1)
    consumer = threading.Thread(target=lambda: None)
    consumer.start()
    consumer.join()
    assert not hand_over(items, 2, consumer)
    assert not hand_over(items, 3, None)
    assert items.qsize() == 1
