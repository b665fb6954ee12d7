"""A full data folder: the server keeps serving what it has, refuses writes with 507 and a plain
message, fails jobs with their reason, tells the live page, and works again once space is freed.

Two ways to fill the disk, and every test runs with both: a small tmpfs filled to the last
page (needs root; skipped cleanly otherwise), and monkeypatching, where SQLite cannot create its
shared-memory file (the error a full disk gives), the disk reports no free space, and the
engine's writes fail with ENOSPC.
"""

from __future__ import annotations

import errno
import json
import logging
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient

from posecoach.errors import OutputError
from posecoach.server import create_app
from posecoach.server.storage import Storage
from posecoach.settings import Settings
from tests.diskfull import fill_disk
from tests.server.conftest import FAST_LIMITS, ORIGIN, FakeEngine, receive_until, wait_job
from tests.test_disk_full import _mount_tmpfs

SQLITE_IOERR_SHMSIZE = 4874
TMPFS_SIZE = "2m"


class Disk:
    """The disk holding a data folder, filled and freed on demand."""

    def __init__(self, root: Path, real: bool) -> None:
        self.root = root
        self.real = real
        self.full = False
        self._filler = root / "filler.bin"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def fill(self) -> None:
        """Use up every free byte (tmpfs) or pretend to (monkeypatched)."""
        self.full = True
        if not self.real:
            return
        fill_disk(self._filler)
        assert shutil.disk_usage(self.root).free == 0

    def free(self) -> None:
        """Give the space back."""
        self.full = False
        self._filler.unlink(missing_ok=True)

    def write_check(self) -> None:
        """What a write does on this disk: fails with ENOSPC while it is full."""
        if self.full and not self.real:
            raise OSError(errno.ENOSPC, "No space left on device")


def _patch_full_disk(disk: Disk, monkeypatch: pytest.MonkeyPatch) -> None:
    real_usage = shutil.disk_usage
    real_open = Storage._open

    def usage(path: Any) -> Any:
        found = real_usage(path)
        return found._replace(free=0) if disk.full else found

    @contextmanager
    def open_db(self: Storage, no_shm: bool = False) -> Iterator[sqlite3.Connection]:
        if disk.full and not no_shm:
            error = sqlite3.OperationalError("disk I/O error")
            error.sqlite_errorcode = SQLITE_IOERR_SHMSIZE  # type: ignore[attr-defined]
            raise error
        with real_open(self, no_shm) as db:
            yield db

    monkeypatch.setattr(shutil, "disk_usage", usage)
    monkeypatch.setattr(Storage, "_open", open_db)


@pytest.fixture(params=["tmpfs", "patched"])
def disk(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Disk]:
    if request.param == "patched":
        found = Disk(tmp_path, real=False)
        _patch_full_disk(found, monkeypatch)
        yield found
        return
    mount = tmp_path / "small"
    if not _mount_tmpfs(mount, TMPFS_SIZE):
        pytest.skip("cannot mount a tmpfs here (needs root and permission to mount)")
    try:
        yield Disk(mount, real=True)
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


class DiskEngine(FakeEngine):
    """The fake engine, writing its outputs on `disk`; it can fill the disk mid-analysis."""

    def __init__(self, disk: Disk) -> None:
        super().__init__(delay_s=0.0)
        self.disk = disk
        self.fill_during_analysis = False

    def analyze_video(self, path: Path, out_dir: Path, settings: Settings, progress: Any,
                      source_name: str | None = None) -> Any:
        if self.fill_during_analysis:
            progress(3, 4)
            self.disk.fill()
        self.disk.write_check()
        return super().analyze_video(path, out_dir, settings, progress)


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A 2 s, 64x64 clip of a few KB: small enough for a nearly full disk."""
    path = tmp_path_factory.mktemp("clip") / "tiny.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(20):
            image = np.full((64, 64, 3), i * 10, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.read_bytes()


def _upload(client: TestClient, clip: bytes, name: str = "walk.mp4") -> Any:
    return client.post(
        "/api/uploads",
        files=[("files", (name, clip, "video/mp4"))],
        headers={"origin": ORIGIN},
    )


def _checkin(client: TestClient, session_id: str) -> Any:
    return client.post(
        f"/api/sessions/{session_id}/checkin",
        json={"pain": "soreness", "score": 2},
        headers={"origin": ORIGIN},
    )


def _done_session(client: TestClient, clip: bytes) -> str:
    response = _upload(client, clip)
    assert response.status_code == 202, response.text
    job = wait_job(client, response.json()["jobs"][0]["id"], timeout_s=60)
    assert job["status"] == "done", job
    return str(job["session_id"])


def _plain_full_disk(response: Any) -> None:
    assert response.status_code == 507, response.text
    detail = response.json()["detail"]
    assert "disk is full" in detail
    assert "Errno" not in detail and "Traceback" not in detail and "sqlite" not in detail.lower()


def _leftover_uploads(disk: Disk) -> list[str]:
    uploads = disk.data_dir / "uploads"
    return sorted(p.name for p in uploads.iterdir()) if uploads.is_dir() else []


# ---------------------------------------------------------------- storage


def test_storage_reads_on_a_full_disk_and_writes_again_after(disk: Disk) -> None:
    storage = Storage(disk.data_dir / "posecoach.db", disk.data_dir)
    kept = storage.create_session("upload", "beginner", 170.0, "walk.mp4", "done")
    storage.add_checkin(kept.id, "none", 0)
    disk.fill()
    assert [r.id for r in storage.list_sessions()] == [kept.id]
    found = storage.get_session(kept.id)
    assert found is not None and found.checkin.pain == "none"
    assert storage.journal_mode() == "wal"
    with pytest.raises(OutputError, match="disk is full") as caught:
        storage.create_session("live", "beginner", None, "camera", "recording")
    assert caught.value.errno == errno.ENOSPC and "Errno" not in str(caught.value)
    with pytest.raises(OutputError, match="disk is full"):
        storage.update_session(kept.id, status="failed")
    with pytest.raises(OutputError, match="disk is full"):
        storage.add_checkin(kept.id, "pain", 5)
    assert storage.read_only
    assert len(list(storage.sessions_dir.iterdir())) == 1, "no folder for a session not stored"
    disk.free()
    added = storage.create_session("live", "beginner", None, "camera", "recording")
    assert not storage.read_only
    assert [r.id for r in storage.list_sessions()] == [added.id, kept.id]
    assert storage.get_session(kept.id).status == "done"  # type: ignore[union-attr]


def test_a_fresh_data_folder_on_a_full_disk_reads_as_empty(disk: Disk) -> None:
    disk.data_dir.mkdir()
    disk.fill()
    storage = Storage(disk.data_dir / "posecoach.db", disk.data_dir)
    assert storage.read_only
    assert storage.list_sessions() == []
    assert storage.get_session("0" * 32) is None
    disk.free()
    storage.create_session("upload", "beginner", None, "walk.mp4", "done")
    assert len(storage.list_sessions()) == 1


# ---------------------------------------------------------------- the HTTP API


def test_full_disk_serves_read_only_then_works_again(disk: Disk, tiny_clip: bytes) -> None:
    engine = DiskEngine(disk)
    with TestClient(create_app(disk.data_dir, engine=engine, limits=FAST_LIMITS)) as client:
        session_id = _done_session(client, tiny_clip)
        assert _checkin(client, session_id).status_code == 200
        disk.fill()

        listed = client.get("/api/sessions")
        assert listed.status_code == 200 and [s["id"] for s in listed.json()] == [session_id]
        one = client.get(f"/api/sessions/{session_id}")
        assert one.status_code == 200 and one.json()["checkin"]["pain"] == "soreness"
        progress = client.get("/api/progress")
        assert progress.status_code == 200 and len(progress.json()["sessions"]) == 1
        summary = client.get(f"/api/sessions/{session_id}/files/summary.json")
        assert summary.status_code == 200 and summary.json()["duration_s"] == 2.0

        _plain_full_disk(_checkin(client, session_id))
        _plain_full_disk(_upload(client, tiny_clip))
        streamed = client.post(  # no Content-Length: the disk fills while it is written
            "/api/uploads",
            content=iter([_multipart_head(), tiny_clip, b"\r\n--XyZ--\r\n"]),
            headers={"origin": ORIGIN, "content-type": "multipart/form-data; boundary=XyZ"},
        )
        _plain_full_disk(streamed)
        assert "free)" not in streamed.json()["detail"], "refused while it was written"
        assert _leftover_uploads(disk) == []
        assert [s["id"] for s in client.get("/api/sessions").json()] == [session_id]

        disk.free()
        second = _done_session(client, tiny_clip)
        assert _checkin(client, second).status_code == 200
        assert {s["id"] for s in client.get("/api/sessions").json()} == {session_id, second}


def _multipart_head() -> bytes:
    return (
        b"--XyZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"walk.mp4\"\r\n"
        b"Content-Type: video/mp4\r\n\r\n"
    )


def test_an_upload_larger_than_the_free_space_is_refused_before_it_is_read(
    disk: Disk, tiny_clip: bytes
) -> None:
    with TestClient(create_app(disk.data_dir, engine=DiskEngine(disk))) as client:
        disk.fill()
        response = _upload(client, tiny_clip)
        _plain_full_disk(response)
        assert "bytes free)" in response.json()["detail"]
        assert _leftover_uploads(disk) == []


def test_a_job_fails_with_its_reason_when_the_disk_fills(
    disk: Disk, tiny_clip: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    engine = DiskEngine(disk)
    app = create_app(disk.data_dir, engine=engine, limits=FAST_LIMITS)
    with TestClient(app) as client:
        engine.fill_during_analysis = True
        with caplog.at_level(logging.ERROR, logger="posecoach"):
            response = _upload(client, tiny_clip)
            assert response.status_code == 202, response.text
            job = wait_job(client, response.json()["jobs"][0]["id"], timeout_s=60)
        assert job["status"] == "failed", job
        assert "disk is full" in job["error"] and "Errno" not in job["error"], job["error"]
        assert job["progress"] < 1.0
        logged = [r.getMessage() for r in caplog.records if "disk is full" in r.getMessage()]
        assert logged, "the failure is logged"
        assert not any(r.exc_info for r in caplog.records), "a full disk logs no traceback"
        engine.fill_during_analysis = False
        disk.free()
    with TestClient(create_app(disk.data_dir, engine=engine, limits=FAST_LIMITS)) as client:
        record = client.get(f"/api/sessions/{job['session_id']}").json()
        assert record["status"] in ("failed", "interrupted"), record


def test_a_restart_with_a_full_disk_serves_the_history(
    disk: Disk, tiny_clip: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(create_app(disk.data_dir, engine=DiskEngine(disk))) as client:
        session_id = _done_session(client, tiny_clip)
    stale = Storage(disk.data_dir / "posecoach.db", disk.data_dir).create_session(
        "live", "beginner", None, "camera", "recording"
    )
    disk.fill()
    with caplog.at_level(logging.INFO, logger="posecoach"):
        app = create_app(disk.data_dir, engine=DiskEngine(disk))
    lines = [r for r in caplog.records if r.name.startswith("posecoach")]
    assert len(lines) == 1 and "full" in lines[0].getMessage(), [r.getMessage() for r in lines]
    assert lines[0].exc_info is None
    with TestClient(app) as client:
        listed = {s["id"]: s["status"] for s in client.get("/api/sessions").json()}
        assert listed == {session_id: "done", stale.id: "recording"}, "settled later"
        _plain_full_disk(_checkin(client, session_id))
        disk.free()
        assert _checkin(client, session_id).status_code == 200
    assert any("again" in r.getMessage() for r in caplog.records), "the recovery is logged"
    with TestClient(create_app(disk.data_dir, engine=DiskEngine(disk))) as client:
        settled = client.get(f"/api/sessions/{stale.id}").json()
        assert settled["status"] == "interrupted"


# ---------------------------------------------------------------- the live socket


def test_the_live_page_is_told_when_the_disk_is_full(disk: Disk) -> None:
    from tests.server.conftest import synthetic_jpeg

    app = create_app(disk.data_dir, engine=DiskEngine(disk), limits=FAST_LIMITS)
    frame = synthetic_jpeg()
    with TestClient(app) as client:
        disk.fill()
        with client.websocket_connect("/ws/live") as ws:
            ws.send_text(json.dumps({"type": "start"}))
            refused = ws.receive_json()
            assert refused["type"] == "error" and "disk is full" in refused["message"], refused
            disk.free()
            ws.send_text(json.dumps({"type": "start"}))
            started, _ = receive_until(ws, "started")
            for _ in range(3):
                ws.send_bytes(frame)
                receive_until(ws, "result")
            disk.fill()
            ws.send_text(json.dumps({"type": "stop"}))
            finished, before = receive_until(ws, "finished")
        errors = [m["message"] for m in before if m["type"] == "error"]
        errors += [finished.get("error") or ""]
        assert any("disk is full" in message for message in errors), (errors, finished)
        assert all("Errno" not in message for message in errors)
        assert client.get(f"/api/sessions/{started['session_id']}").status_code == 200
        disk.free()
        assert app.state.ctx.acquire_live(), "the live slot was given back"


def test_a_session_ended_on_a_full_disk_is_settled_once_space_is_freed(
    disk: Disk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No restart needed: the outcome that could not be saved is saved once there is room."""
    import time

    from posecoach.server import retry
    from tests.server.conftest import synthetic_jpeg

    monkeypatch.setattr(retry, "RETRY_INTERVAL_S", 0.05)
    app = create_app(disk.data_dir, engine=DiskEngine(disk), limits=FAST_LIMITS)
    with TestClient(app) as client:
        with client.websocket_connect("/ws/live") as ws:
            ws.send_text(json.dumps({"type": "start"}))
            started, _ = receive_until(ws, "started")
            for _ in range(3):
                ws.send_bytes(synthetic_jpeg())
                receive_until(ws, "result")
            disk.fill()
            ws.send_text(json.dumps({"type": "stop"}))
            receive_until(ws, "finished")
        session_id = started["session_id"]
        assert client.get(f"/api/sessions/{session_id}").json()["status"] == "recording"
        disk.free()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            record = client.get(f"/api/sessions/{session_id}").json()
            if record["status"] != "recording":
                break
            time.sleep(0.05)
        assert record["status"] in ("done", "failed"), record
        if record["status"] == "failed":
            assert record["error"], record
