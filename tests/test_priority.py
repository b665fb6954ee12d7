"""A background thread lowered by `lower_this_thread` runs at a higher niceness than the rest."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from posecoach.priority import BACKGROUND_NICENESS, lower_this_thread


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux's")
def test_only_the_calling_thread_is_lowered():
    seen: dict[str, int] = {}

    def background() -> None:
        before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        assert lower_this_thread()
        seen["before"] = before
        seen["after"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    main_before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread = threading.Thread(target=background)
    thread.start()
    thread.join()
    assert seen["after"] == min(19, seen["before"] + BACKGROUND_NICENESS)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main_before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux's")
@pytest.mark.parametrize("background", [True, False])
def test_only_a_live_recording_encodes_on_a_lowered_thread(tmp_path, background):
    import time

    import numpy as np

    from posecoach.media.writer import VideoWriter

    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    writer = VideoWriter(tmp_path / "clip.mp4", 30.0, 64, 48, fragmented=True,
                         background=background)
    try:
        writer.write(np.zeros((48, 64, 3), np.uint8))
        tid = writer._thread.native_id
        assert tid is not None
        lowered = min(19, own + BACKGROUND_NICENESS)
        deadline = time.monotonic() + 30.0  # the thread lowers itself as it starts
        niceness = os.getpriority(os.PRIO_PROCESS, tid)
        while background and niceness != lowered and time.monotonic() < deadline:
            time.sleep(0.01)
            niceness = os.getpriority(os.PRIO_PROCESS, tid)
    finally:
        writer.close()
    assert niceness == (lowered if background else own)
