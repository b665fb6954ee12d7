"""One program per library: a second server (or `analyze --person`) on a library in use says
who holds it and changes nothing; the lock goes with its holder, however the holder ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from posecoach.cli import LIBRARY_IN_USE_EXIT, app
from posecoach.server.lock import LOCK_NAME, LibraryInUse, lock_library
from posecoach.server.storage import Storage
from tests.conftest import VIDEO, needs_shared_data
from tools.loadtest import ServerProcess, jpeg_frames
from tools.shared_data import REPO_ROOT

SIDE_CLIP = VIDEO / "side_walk_1080p60.mp4"
HOLDER_CODE = (
    "import sys, time\n"
    "from posecoach.server.lock import lock_library\n"
    "lock = lock_library(sys.argv[1], 'posecoach serve')\n"
    "print('locked', flush=True)\n"
    "time.sleep(600)\n"
)


def _holder(data_dir: Path) -> subprocess.Popen[str]:
    """A process that holds the library's lock until it is killed."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER_CODE, str(data_dir)],
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_second_holder_is_told_who_has_the_library(tmp_path: Path) -> None:
    proc = _holder(tmp_path)
    try:
        with pytest.raises(LibraryInUse) as refused:
            lock_library(tmp_path, "posecoach serve", wait_s=0.3)
        assert f"posecoach serve (process {proc.pid})" in str(refused.value)
        assert str(tmp_path) in str(refused.value)
    finally:
        proc.kill()
        proc.wait()
    # kill -9 frees it: the operating system drops the lock with its holder.
    lock = lock_library(tmp_path, "posecoach serve")
    assert (tmp_path / LOCK_NAME).read_text().split("\n")[0] == str(os.getpid())
    lock.release()


def test_serve_on_a_library_in_use_changes_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    storage = Storage(data_dir / "posecoach.db", data_dir)
    session = storage.create_session("live", "beginner", None, "camera", "recording")
    before = _snapshot(data_dir)
    proc = _holder(data_dir)
    try:
        result = CliRunner().invoke(app, ["serve", "--data-dir", str(data_dir), "--port", "1"])
    finally:
        proc.kill()
        proc.wait()
    assert result.exit_code == LIBRARY_IN_USE_EXIT
    assert f"in use by posecoach serve (process {proc.pid})" in " ".join(result.output.split())
    assert "Traceback" not in result.output
    after = {k: v for k, v in _snapshot(data_dir).items() if k != LOCK_NAME}
    assert after == {k: v for k, v in before.items() if k != LOCK_NAME}
    assert storage.get_session(session.id).status == "recording"


def test_analyze_person_waits_briefly_then_names_the_holder(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    proc = _holder(data_dir)
    try:
        result = CliRunner().invoke(app, ["analyze", str(tmp_path / "none.mp4"), "--person",
                                          "Ann", "--data-dir", str(data_dir)])
    finally:
        proc.kill()
        proc.wait()
    assert result.exit_code == LIBRARY_IN_USE_EXIT
    assert "in use by posecoach serve" in " ".join(result.output.split())
    assert not (data_dir / "posecoach.db").exists()


def _stream_until(ws_url: str, frames: list[bytes], over: threading.Event,
                  first_results: threading.Event) -> dict[str, Any]:
    """A browser-like live session: a frame, its result, the next frame (10 a second), from
    its start until 2 s after `over`, then stop; what the client sent and was told."""
    from websockets.sync.client import connect

    sent, results, over_at = 0, 0, None
    with connect(f"{ws_url}/ws/live", max_size=None, open_timeout=30) as ws:
        ws.send(json.dumps({"type": "start", "level": "beginner", "fps": 10}))
        started = _next(ws, "started")
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if over.is_set():
                over_at = over_at or time.monotonic()
                if time.monotonic() - over_at >= 2.0:
                    break
            ws.send(frames[sent % len(frames)])
            sent += 1
            _next(ws, "result")
            results += 1
            if results >= 5:
                first_results.set()
            time.sleep(0.1)
        ws.send(json.dumps({"type": "stop"}))
        finished = _next(ws, "finished")
    return {"session_id": started["session_id"], "sent": sent, "results": results,
            "finished": finished, "stopped_after_attempt": over_at is not None}


def _next(ws: Any, kind: str) -> dict[str, Any]:
    """The next message of `kind`; an error message fails the test."""
    while True:
        message = json.loads(ws.recv(timeout=60))
        assert message.get("type") != "error", message
        if message.get("type") == kind:
            return message


@needs_shared_data
@pytest.mark.video
def test_a_live_session_records_through_a_second_server(tmp_path: Path) -> None:
    """`make run` twice: the second `serve` (same port, same library, with --sample) exits
    naming the first, while a live session on the first records on and ends done with every
    frame it sent."""
    frames = jpeg_frames(SIDE_CLIP, width=640, limit=60)
    data_dir = tmp_path / "data"
    attempt: dict[str, Any] = {}
    streaming = threading.Event()
    attempt_over = threading.Event()

    def second_server(port: int) -> None:
        try:
            streaming.wait(timeout=120)
            env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
            done = subprocess.run(
                [sys.executable, "-m", "posecoach", "serve", "--host", "127.0.0.1", "--port",
                 str(port), "--data-dir", str(data_dir), "--sample", str(SIDE_CLIP)],
                capture_output=True, text=True, env=env, timeout=300, check=False)
            attempt.update(code=done.returncode, output=done.stderr + done.stdout)
        finally:
            attempt_over.set()

    with ServerProcess(data_dir) as server:
        assert server.proc is not None
        thread = threading.Thread(target=second_server, args=(server.port,), daemon=True)
        thread.start()
        live = _stream_until(server.ws_base, frames, attempt_over, streaming)
        thread.join(timeout=300)
        record = server.get_json(f"/api/sessions/{live['session_id']}")
        sessions = server.get_json("/api/sessions")
        first_pid = server.proc.pid
    assert attempt.get("code") == LIBRARY_IN_USE_EXIT, attempt
    output = " ".join(str(attempt["output"]).split())
    assert f"in use by posecoach serve (process {first_pid})" in output
    assert "analysing the sample" not in output and "Traceback" not in output
    assert live["stopped_after_attempt"]
    assert live["finished"]["status"] == "done"
    assert live["finished"]["frames"] == live["sent"] == live["results"]
    assert record["status"] == "done"
    assert record["summary"]["frames"] == live["sent"]
    assert [s["id"] for s in sessions] == [live["session_id"]], "no sample clip was added"
