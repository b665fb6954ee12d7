"""Keeping the pose runtime's native start-up chatter off the user's console."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

_quiet_lock = threading.Lock()
_quiet_depth = 0
_saved_stderr_fd: int | None = None


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence the C++ start-up chatter MediaPipe and TFLite print straight to file descriptor 2.

    The redirect is process-wide, so overlapping uses (a landmarker loading on another thread)
    share it: the first one in redirects, the last one out restores.
    """
    global _quiet_depth, _saved_stderr_fd
    if os.environ.get("POSECOACH_DEBUG"):
        yield
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    with _quiet_lock:
        if _quiet_depth == 0:
            sys.stderr.flush()
            _saved_stderr_fd = os.dup(fd)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _saved_stderr_fd is not None:
                os.dup2(_saved_stderr_fd, fd)
                os.close(_saved_stderr_fd)
                _saved_stderr_fd = None
