"""Writes that must not be lost, tried again in the background until they succeed.

A live session's outcome that cannot be saved when it ends (a full disk, a database another
program holds) is saved as soon as it can be, without a restart: until then the session reads
`recording`, afterwards `done`, or `failed` with its reason.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from posecoach.errors import user_message

log = logging.getLogger(__name__)
RETRY_INTERVAL_S = 2.0
"""How often a write is tried again."""
GIVE_UP_S = 7 * 24 * 3600.0
"""After this the write is left to the next start's recovery (the server's lifetime, in effect)."""


def retry_in_background(write: Callable[[], None], what: str,
                        interval_s: float | None = None,
                        give_up_s: float = GIVE_UP_S) -> threading.Thread:
    """Call `write()` every `interval_s` on a daemon thread until it returns without raising.

    `what` names the write in the log: one line when it is first retried, one when it
    succeeds; the failures in between are not logged one by one (they would flood the log).
    """

    def run() -> None:
        deadline = time.monotonic() + give_up_s
        tries = 0
        last = "no try was made"
        while time.monotonic() < deadline:
            time.sleep(RETRY_INTERVAL_S if interval_s is None else interval_s)
            tries += 1
            try:
                write()
            except Exception as exc:  # noqa: BLE001 - tried again until it works
                last = user_message(exc)
                continue
            log.warning("saved %s after %d more tries", what, tries)
            return
        log.error("gave up saving %s (%s); the next start settles it", what, last)

    log.warning("%s could not be saved; trying again every %g s", what,
                RETRY_INTERVAL_S if interval_s is None else interval_s)
    thread = threading.Thread(target=run, name="posecoach-retry", daemon=True)
    thread.start()
    return thread
