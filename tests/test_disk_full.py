"""A full disk while writing outputs: a clear message, a non-zero exit or a failed session, and
nothing already recorded thrown away.

Two ways to fill the disk: a small tmpfs (needs root; skipped cleanly otherwise) and
monkeypatching `os.fsync`, which every atomic output write goes through.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from posecoach.cli import app as cli_app
from posecoach.outputs.files import OutputError, atomic_write_json, atomic_write_text
from posecoach.server import create_app
from tests.conftest import FIXTURES, needs_shared_data
from tests.diskfull import fill_disk
from tests.server.conftest import clip_jpegs, receive_until
from tools.net import free_port

SAMPLE = FIXTURES / "backward_walk_side_1080p60.mp4"
needs_clip = needs_shared_data


def _mount_tmpfs(where: Path, size: str) -> bool:
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
    )
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 300 KiB tmpfs; skipped where mounting is not permitted."""
    mount = tmp_path / "small"
    if not _mount_tmpfs(mount, "300k"):
        pytest.skip("cannot mount a tmpfs here (needs root and permission to mount)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _no_space(*_args: object, **_kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def _playable_frames(path: Path) -> int:
    """Frames that decode before the damaged tail, if any."""
    count = 0
    with av.open(str(path)) as container:
        try:
            for _ in container.decode(video=0):
                count += 1
        except av.error.FFmpegError:
            pass
    return count


# ---------------------------------------------------------------- atomic writes


def test_atomic_write_keeps_the_old_file_when_the_disk_is_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "summary.json"
    atomic_write_json(target, {"frames": 10})
    monkeypatch.setattr(os, "fsync", _no_space)
    with pytest.raises(OutputError, match="disk is full") as caught:
        atomic_write_text(target, "{}")
    assert caught.value.errno == errno.ENOSPC
    assert json.loads(target.read_text()) == {"frames": 10}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"], "no temp files left"


def test_atomic_write_on_a_full_tmpfs(small_disk: Path) -> None:
    atomic_write_text(small_disk / "keep.txt", "kept")
    with pytest.raises(OutputError, match="disk is full"):
        atomic_write_text(small_disk / "big.bin", "x" * 400_000)
    assert (small_disk / "keep.txt").read_text() == "kept"
    assert not (small_disk / "big.bin").exists()
    assert [p.name for p in small_disk.iterdir()] == ["keep.txt"]


# ---------------------------------------------------------------- the command line


@needs_clip
@pytest.mark.video
def test_cli_analyze_with_fsync_failing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "fsync", _no_space)
    result = CliRunner().invoke(cli_app, ["analyze", str(SAMPLE), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "disk is full" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@needs_clip
@pytest.mark.video
def test_cli_analyze_onto_a_full_tmpfs(small_disk: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "posecoach", "analyze", str(SAMPLE), str(SAMPLE.with_name("x.csv")),
         "--out", str(small_disk / "out")],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "disk is full" in proc.stderr
    out = small_disk / "out" / SAMPLE.stem
    left = {p.name for p in out.iterdir()} if out.is_dir() else set()
    assert not any(name.endswith(".tmp") for name in left), left
    if "landmarks.csv.partial" in left:
        rows = (out / "landmarks.csv.partial").read_text().splitlines()
        assert rows[0].startswith("frame,time_s,width,height")


# ---------------------------------------------------------------- a live session


@needs_clip
@pytest.mark.video
def test_live_session_on_a_full_disk_keeps_what_was_recorded(
    small_disk: Path, tmp_path: Path
) -> None:
    app = create_app(small_disk, db_path=tmp_path / "posecoach.db")
    frames = clip_jpegs(limit=135, every=1)
    errors: list[str] = []
    results_before = results_after = 0
    with TestClient(app) as client:
        with client.websocket_connect("/ws/live") as ws:
            ws.send_text(json.dumps({"type": "start", "level": "beginner", "fps": 30}))
            started, _ = receive_until(ws, "started")
            for _ in range(6):
                for frame in frames:
                    ws.send_bytes(frame)
                    reply = ws.receive_json()
                    if reply["type"] == "error":
                        errors.append(reply["message"])
                    elif reply["type"] != "result":
                        continue
                    elif errors:
                        results_after += 1
                    else:
                        results_before += 1
                if results_after > 20:
                    break
            ws.send_text(json.dumps({"type": "stop"}))
            finished, rest = receive_until(ws, "finished")
            errors += [m["message"] for m in rest if m["type"] == "error"]
        record = client.get(f"/api/sessions/{started['session_id']}").json()
    assert errors, "the disk never filled up"
    assert len(errors) == 1 and "disk is full" in errors[0], errors
    assert "coaching goes on" in errors[0]
    assert results_before > 0 and results_after > 20, "coaching goes on after the disk is full"
    assert finished["status"] == "failed" and "disk is full" in finished["error"]
    assert record["status"] == "failed" and "disk is full" in record["error"]
    out_dir = small_disk / "sessions" / started["session_id"]
    kept = {p.name for p in out_dir.iterdir()}
    assert {"annotated.mp4", "landmarks.csv.partial"} <= kept, kept
    assert _playable_frames(out_dir / "annotated.mp4") > 0
    rows = (out_dir / "landmarks.csv.partial").read_text().splitlines()
    assert rows[0].startswith("frame,time_s") and len(rows) > 1


# ---------------------------------------------------------------- the server


def _fill(disk: Path) -> None:
    fill_disk(disk / "filler.bin")


def test_serve_starts_on_a_full_disk_with_one_plain_line(small_disk: Path) -> None:
    import time
    import urllib.error
    import urllib.request

    from posecoach.server.storage import Storage

    data = small_disk / "data"
    session = Storage(data / "posecoach.db", data).create_session(
        "upload", "beginner", None, "walk.mp4", "done"
    )
    _fill(small_disk)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "posecoach", "serve", "--port", str(port), "--data-dir", str(data)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        listed = None
        deadline = time.monotonic() + 120
        while listed is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{base}/api/sessions", timeout=5) as response:
                    listed = json.loads(response.read())
            except OSError:
                time.sleep(0.5)
        assert listed is not None, "the server did not answer"
        assert [s["id"] for s in listed] == [session.id]
        checkin = urllib.request.Request(
            f"{base}/api/sessions/{session.id}/checkin",
            data=b'{"pain": "none", "score": 0}',
            headers={"content-type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(checkin, timeout=10)
        assert refused.value.code == 507
        assert "disk is full" in json.loads(refused.value.read())["detail"]
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert "Traceback" not in out + err, err
    lines = [line for line in (out + err).splitlines() if "full" in line]
    assert len(lines) == 1 and "disk" in lines[0], out + err


# ---------------------------------------------------------------- a re-run into earlier results


@pytest.fixture(scope="module")
def earlier_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished analysis of the sample clip, as a re-run would find it in its folder."""
    out = tmp_path_factory.mktemp("earlier")
    result = CliRunner().invoke(cli_app, ["analyze", str(SAMPLE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / SAMPLE.stem


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _assert_untouched(folder: Path, before: dict[str, bytes], frames: int) -> None:
    """The earlier results are all there, unchanged, the clip still playable; nothing else."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(before), "partial files left"
    for name, data in before.items():
        assert (folder / name).read_bytes() == data, f"{name} was changed"
    assert _playable_frames(folder / "annotated.mp4") == frames


def _leave_free(disk: Path, free_bytes: int) -> None:
    """Fill the disk, then give back `free_bytes`."""
    _fill(disk)
    filler = disk / "filler.bin"
    os.truncate(filler, max(0, filler.stat().st_size - free_bytes))


@needs_clip
@pytest.mark.video
@pytest.mark.parametrize("free_kib", [300, 1300], ids=["clip-cut-short", "reports-cut-short"])
def test_rerun_onto_a_full_tmpfs_keeps_the_earlier_results(
    earlier_results: Path, tmp_path: Path, free_kib: int
) -> None:
    disk = tmp_path / "small"
    if not _mount_tmpfs(disk, "4m"):
        pytest.skip("cannot mount a tmpfs here (needs root and permission to mount)")
    try:
        folder = disk / "out" / SAMPLE.stem
        shutil.copytree(earlier_results, folder)
        before = _snapshot(folder)
        frames = _playable_frames(folder / "annotated.mp4")
        _leave_free(disk, free_kib * 1024)
        proc = subprocess.run(
            [sys.executable, "-m", "posecoach", "analyze", str(SAMPLE), "--out",
             str(disk / "out")],
            capture_output=True, text=True, timeout=600,
        )
        assert proc.returncode == 1, proc.stderr
        assert "disk is full" in proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr
        assert "Errno" not in proc.stderr
        _assert_untouched(folder, before, frames)
        (disk / "filler.bin").unlink()
        again = subprocess.run(
            [sys.executable, "-m", "posecoach", "analyze", str(SAMPLE), "--out",
             str(disk / "out")],
            capture_output=True, text=True, timeout=600,
        )
        assert again.returncode == 0, again.stderr
        assert sorted(p.name for p in folder.iterdir()) == sorted(before)
        assert _playable_frames(folder / "annotated.mp4") == frames
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@needs_clip
@pytest.mark.video
@pytest.mark.parametrize("where", ["clip", "outputs"])
def test_rerun_with_writes_failing_keeps_the_earlier_results(
    earlier_results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    from posecoach.media.writer import VideoWriter

    folder = tmp_path / "out" / SAMPLE.stem
    shutil.copytree(earlier_results, folder)
    before = _snapshot(folder)
    frames = _playable_frames(folder / "annotated.mp4")
    if where == "clip":
        mux = VideoWriter._mux
        calls = {"n": 0}

        def mux_until_full(self: VideoWriter, packets: object) -> None:
            calls["n"] += 1
            if calls["n"] > 20:
                _no_space()
            mux(self, packets)

        monkeypatch.setattr(VideoWriter, "_mux", mux_until_full)
    else:
        monkeypatch.setattr(os, "fsync", _no_space)
    result = CliRunner().invoke(cli_app, ["analyze", str(SAMPLE), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert "disk is full" in result.output and "Errno" not in result.output
    _assert_untouched(folder, before, frames)
