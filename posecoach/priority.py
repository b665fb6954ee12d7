"""Background threads that give way: the walker's feedback first, the clip's encoding after.

A live session's annotated clip (overlay drawing, H.264 encoding) competes for the same cores
as the pose model that answers each frame. The clip may lag by a second without harm; the
answer may not. Raising the niceness of the clip's own threads lets the scheduler run the
model first whenever both are ready, without slowing either when the cores are free.
"""

from __future__ import annotations

import os
import sys
import threading

BACKGROUND_NICENESS = 10
"""Niceness added to a background thread (0 normal, 19 lowest): well below the model's."""


def lower_this_thread(niceness: int = BACKGROUND_NICENESS) -> bool:
    """Lower the calling thread's scheduling priority by `niceness`; True if it took effect.

    On Linux the niceness of one thread is set through its native id; elsewhere (where a
    process's threads share one priority) nothing changes, and False says so.
    """
    if not hasattr(os, "setpriority") or not sys.platform.startswith("linux"):
        return False
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, current + niceness))
    except OSError:
        return False
    return True
