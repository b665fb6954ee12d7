"""Nothing lost: `kill -9` of a real server in the middle of a live session.

The recording is written as it goes (fragmented MP4, landmarks appended), so after the kill the
clip plays up to within 2 s of the last result the client received and the landmarks are there;
on the next start the session is rebuilt from them (or marked interrupted). A `posecoach analyze`
killed the same way leaves its staging folder, which the next run into the same folder removes.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from posecoach.outputs.files import (
    SessionFiles,
    StagedOutputs,
    Writer,
    remove_dead_staging,
    staging_writer,
)
from posecoach.outputs.summary import SessionSummary
from posecoach.server.engine import clip_plays
from posecoach.server.storage import Storage
from tests.conftest import VIDEO, needs_shared_data
from tools.loadtest import ClientStats, ServerProcess, jpeg_frames, live_client

SIDE_CLIP = VIDEO / "side_walk_1080p60.mp4"
STREAM_S = 6.0
MAX_LOSS_S = 2.0

ROOT = Path(__file__).resolve().parents[1]
LONG_CLIP = VIDEO / "back_view_people_139s.mp4"
pytestmark = [pytest.mark.video, needs_shared_data]


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


def _staging_folders(out_dir: Path) -> set[Path]:
    return set(out_dir.glob(StagedOutputs.PREFIX + "*")) if out_dir.is_dir() else set()


def _wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


HOLD_STAGING = """
import sys
from posecoach.outputs.files import StagedOutputs
staged = StagedOutputs(sys.argv[1])
staged.files.summary.write_text("{}")
print(staged.folder, flush=True)
sys.stdin.read()
"""


def test_kill_9_mid_analysis_leaves_a_staging_folder_the_next_run_removes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    clip_dir = out / LONG_CLIP.stem
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "posecoach", "analyze", "--out", str(out)]

    # A run killed part-way: its staging folder, holding the clip written so far, stays behind.
    killed = subprocess.Popen([*command, str(LONG_CLIP)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: any((f / SessionFiles.ANNOTATED).is_file()
                              and (f / SessionFiles.ANNOTATED).stat().st_size > 0
                              for f in _staging_folders(clip_dir)), 300, "the analysis to start")
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
    assert killed.returncode == -signal.SIGKILL
    (dead,) = _staging_folders(clip_dir)
    writer = staging_writer(dead)
    assert writer is not None and writer.pid == killed.pid and writer.gone()

    # A writer still running, in the same folder.
    holder = subprocess.Popen([sys.executable, "-c", HOLD_STAGING, str(clip_dir)], cwd=ROOT,
                              env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        live = Path(holder.stdout.readline().strip())
        assert live.is_dir() and live != dead
        live_writer = staging_writer(live)
        assert live_writer is not None and not live_writer.gone()

        # The next run into the same --out (a short clip under the same name, so the same folder).
        short = tmp_path / "clips" / LONG_CLIP.name
        short.parent.mkdir()
        short.symlink_to(SIDE_CLIP)
        done = subprocess.run([*command, str(short)], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        assert not dead.exists(), "the killed run's staging folder is removed"
        assert live.is_dir() and (live / SessionFiles.SUMMARY).is_file(), (
            "a running writer's staging folder is never touched")
        assert _staging_folders(clip_dir) == {live}
        assert SessionSummary.from_json(
            json.loads((clip_dir / SessionFiles.SUMMARY).read_text())).frames > 0
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_only_staging_folders_of_ended_processes_are_removed(tmp_path: Path) -> None:
    me = Writer.current()
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    gone_pid = int(finished.stdout)
    mine = tmp_path / f"{StagedOutputs.PREFIX}{me.tag()}-abc"
    ended = tmp_path / f"{StagedOutputs.PREFIX}{gone_pid}-{me.start_ticks}-{me.host}-abc"
    # This process's id with another start time: an earlier process the id was given to.
    reused = tmp_path / f"{StagedOutputs.PREFIX}{me.pid}-{me.start_ticks + 1}-{me.host}-abc"
    elsewhere = tmp_path / f"{StagedOutputs.PREFIX}{gone_pid}-1-{'0' * 8}-abc"
    unnamed = tmp_path / f"{StagedOutputs.PREFIX}k3j4h5"
    for folder in (mine, ended, reused, elsewhere, unnamed):
        folder.mkdir()
        (folder / SessionFiles.SUMMARY).write_text("{}")
    if _pid_running(gone_pid):
        pytest.skip("the finished process's id was given to another process meanwhile")
    removed = set(remove_dead_staging(tmp_path))
    expected = {ended, reused}
    assert removed == expected
    assert not any(f.exists() for f in expected)
    assert mine.is_dir() and elsewhere.is_dir() and unnamed.is_dir()


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
