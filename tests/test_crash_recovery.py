"""Nothing lost: `kill -9` of a real server in the middle of a live session.

The recording is written as it goes (fragmented MP4, landmarks appended), so after the kill the
clip plays up to within 2 s of the last result the client received and the landmarks are there;
on the next start the session is rebuilt from them (or marked interrupted).
"""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import av
import pytest

from posecoach.server.engine import clip_plays, engine_available
from posecoach.server.storage import Storage
from tests.conftest import VIDEO, needs_shared_data
from tools.loadtest import ClientStats, ServerProcess, jpeg_frames, live_client

SIDE_CLIP = VIDEO / "side_walk_1080p60.mp4"
STREAM_S = 6.0
MAX_LOSS_S = 2.0

pytestmark = [
    pytest.mark.video,
    needs_shared_data,
    pytest.mark.skipif(not engine_available(), reason="needs the pose engine"),
]


def _decoded_times(path: Path) -> list[float]:
    """Timestamps of the frames that decode, stopping quietly at a damaged tail."""
    times: list[float] = []
    with av.open(str(path)) as container:
        try:
            for frame in container.decode(video=0):
                if frame.pts is not None and frame.time_base is not None:
                    times.append(float(frame.pts * frame.time_base))
        except av.error.FFmpegError:
            pass
    return times


def test_kill_9_mid_session_keeps_the_recording_and_recovers(tmp_path: Path) -> None:
    frames = jpeg_frames(SIDE_CLIP, width=640)
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir).start()
    killed: list[float] = []

    def kill_when_long_enough(stats: ClientStats) -> None:
        assert stats.first_result_t is not None and stats.last_result_t is not None
        if not killed and stats.last_result_t - stats.first_result_t >= STREAM_S:
            killed.append(stats.last_result_t)
            server.kill()

    try:
        stats = live_client(server.ws_base, frames, seconds=120.0, fps=15.0, stop=False,
                            on_result=kill_when_long_enough)
    finally:
        server.kill()
    assert killed, f"the session never ran {STREAM_S} s: {stats.errors}\n{server.log_tail()}"
    assert stats.session_id is not None and stats.first_result_t is not None
    assert stats.errors, "the client must have seen the connection drop"
    last_t = killed[0]
    session_dir = data_dir / "sessions" / stats.session_id

    # The clip plays up to within 2 s of the last result the client received.
    times = _decoded_times(session_dir / "annotated.mp4")
    assert times, "annotated.mp4 has no playable frame"
    assert times[-1] >= (last_t - stats.first_result_t) - MAX_LOSS_S, (times[-1], last_t)

    # The landmarks recorded so far are on disk.
    with (session_dir / "landmarks.csv.partial").open(newline="") as fh:
        rows = [row for row in csv.reader(fh)]
    assert rows[0][:4] == ["frame", "time_s", "width", "height"]
    complete = [r for r in rows[1:] if len(r) == len(rows[0])]
    assert len(complete) > 10
    assert float(complete[-1][1]) >= last_t - MAX_LOSS_S

    # The database survived the kill (WAL) and still says the session was recording.
    with sqlite3.connect(data_dir / "posecoach.db") as db:
        (status,) = db.execute(
            "SELECT status FROM sessions WHERE id = ?", (stats.session_id,)
        ).fetchone()
        assert status == "recording"
    assert Storage(data_dir / "posecoach.db", data_dir).journal_mode() == "wal"

    # On the next start the session is rebuilt from what was recorded.
    with ServerProcess(data_dir, port=server.port) as restarted:
        record = restarted.get_json(f"/api/sessions/{stats.session_id}")
        listed = restarted.get_json("/api/sessions")
    assert record["status"] in ("done", "interrupted")
    assert record["status"] == "done", "landmarks were recorded, so the session is recovered"
    summary = record["summary"]
    assert summary["frames"] >= len(complete) - 1
    assert summary["duration_s"] >= STREAM_S - MAX_LOSS_S
    assert any("recovered" in w for w in summary["warnings"])
    assert {"annotated.mp4", "landmarks.csv", "summary.json", "report.html"} <= set(
        record["files"]
    )
    # The recording the kill cut short plays up to its last fragment, so it is offered.
    assert record["missing"] == []
    assert clip_plays(session_dir / "annotated.mp4")
    assert not (session_dir / "landmarks.csv.partial").exists()
    assert [s["id"] for s in listed].count(stats.session_id) == 1
