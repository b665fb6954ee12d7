"""Recovery that tells the truth: after a stop, a session never offers a broken output.

An upload cut short is analysed again from its kept clip; a live session is rebuilt from the
landmarks it recorded; whatever still cannot be completed is recorded as missing, neither
listed nor served, and said in the session's warnings.
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import av
import pytest
from fastapi.testclient import TestClient

from posecoach.outputs.landmarks_csv import write_landmarks_csv
from posecoach.server import create_app
from posecoach.server.engine import clip_plays, unusable_outputs
from posecoach.server.storage import Storage
from posecoach.settings import Settings, TimedTestSettings
from tests.conftest import MOCAP, VIDEO, needs_shared_data
from tests.mocap.projection import load_trial, project_trial
from tests.mocap.timed_walk import floor_marks, held_trial, project_held, timing_truth
from tests.server.conftest import SIDE_CLIP, FakeEngine
from tools.loadtest import ServerProcess

pytestmark = needs_shared_data

WALK_SOURCE = VIDEO / "back_view_people_139s.mp4"
CLIP_S = 30
CLIP_FPS = 5
KILL_AT_S = 6.0
USER_NAME = "Tuesday walk (park).mp4"
TRIAL = MOCAP / "dataset-1_walk-back_normal_001.bvh"


def _frames_and_ends(path: Path) -> tuple[int, float, float]:
    """Decode a whole clip: its frame count and its first and last frame times."""
    times: list[float] = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            times.append(float(frame.pts * frame.time_base))
    return len(times), times[0], times[-1]


@pytest.fixture(scope="module")
def walk_30s(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 30 s real clip (the first 30 s of the back-view walk at 5 frames a second)."""
    path = tmp_path_factory.mktemp("clip") / "walk30.mp4"
    step = None
    with av.open(str(WALK_SOURCE)) as source, av.open(str(path), "w") as out:
        stream_in = source.streams.video[0]
        rate = float(stream_in.average_rate or 10)
        step = max(1, round(rate / CLIP_FPS))
        stream = out.add_stream("libx264", rate=CLIP_FPS)
        stream.width = stream_in.codec_context.width
        stream.height = stream_in.codec_context.height
        stream.pix_fmt = "yuv420p"
        written = 0
        for index, frame in enumerate(source.decode(stream_in)):
            if index % step:
                continue
            image = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
            out.mux(stream.encode(image))
            written += 1
            if written >= CLIP_S * CLIP_FPS:
                break
        out.mux(stream.encode())
    assert step is not None
    return path


def _upload(base: str, filename: str, data: bytes) -> dict[str, Any]:
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
        f"filename=\"{filename}\"\r\nContent-Type: video/mp4\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        f"{base}/api/uploads", data=body, method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 202
        return json.loads(response.read())


def _get_bytes(base: str, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"{base}{path}", timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_session(server: ServerProcess, session_id: str, status: str,
                  timeout_s: float = 600.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    record: dict[str, Any] = {}
    while time.monotonic() < deadline:
        record = server.get_json(f"/api/sessions/{session_id}")
        if record["status"] == status:
            return record
        assert record["status"] == "analysing", record
        assert record["files"] == [], "nothing is offered while the clip is analysed"
        time.sleep(0.5)
    raise AssertionError(f"session {session_id} is still {record.get('status')}")


@pytest.mark.video
def test_kill_9_during_an_upload_analysis_analyses_it_again(
    tmp_path: Path, walk_30s: Path
) -> None:
    frames, _, _ = _frames_and_ends(walk_30s)
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir).start()
    try:
        job = _upload(server.base, USER_NAME, walk_30s.read_bytes())["jobs"][0]
        assert job["session_id"], job
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            state = server.get_json(f"/api/jobs/{job['id']}")
            assert state["status"] in ("queued", "running"), state
            if state["progress"] * CLIP_S >= KILL_AT_S:
                break
            time.sleep(0.1)
        server.kill()
    finally:
        server.kill()
    session_id = job["session_id"]
    session_dir = data_dir / "sessions" / session_id
    # What the kill left: no annotated clip in place that plays.
    annotated = session_dir / "annotated.mp4"
    assert not annotated.is_file() or not clip_plays(annotated)

    with ServerProcess(data_dir, port=server.port) as restarted:
        first = restarted.get_json(f"/api/sessions/{session_id}")
        assert first["status"] in ("analysing", "done"), first
        record = _wait_session(restarted, session_id, "done")
        status, clip = _get_bytes(restarted.base,
                                  f"/api/sessions/{session_id}/files/annotated.mp4")
        report_status, report = _get_bytes(restarted.base,
                                           f"/api/sessions/{session_id}/files/report.html")
    assert record["missing"] == []
    assert {"annotated.mp4", "landmarks.csv", "metrics.csv", "summary.json",
            "report.html"} <= set(record["files"])
    # The whole clip was analysed again, not the 6 s the first run reached.
    assert record["summary"]["frames"] == frames
    assert record["summary"]["source"] == USER_NAME
    assert record["source_name"] == USER_NAME
    assert status == 200
    served = tmp_path / "served.mp4"
    served.write_bytes(clip)
    assert clip_plays(served)
    decoded, first_s, last_s = _frames_and_ends(served)
    assert decoded == frames
    assert first_s == pytest.approx(0.0, abs=0.01)
    assert last_s == pytest.approx((frames - 1) / CLIP_FPS, abs=0.25)
    assert report_status == 200 and b"Tuesday walk (park).mp4" in report
    assert unusable_outputs(session_dir) == []

    # The state a kill just after summary.json leaves: no report, still 'analysing'. The
    # upload was already analysed again once, so this time the report is rebuilt from the
    # recorded landmarks.
    (session_dir / "report.html").unlink()
    with sqlite3.connect(data_dir / "posecoach.db") as db:
        db.execute("UPDATE sessions SET status = 'analysing' WHERE id = ?", (session_id,))
    with ServerProcess(data_dir, port=server.port) as restarted:
        record = restarted.get_json(f"/api/sessions/{session_id}")
        report_status, report = _get_bytes(restarted.base,
                                           f"/api/sessions/{session_id}/files/report.html")
    assert record["status"] == "done", record
    assert record["missing"] == []
    assert "report.html" in record["files"]
    assert report_status == 200 and report.rstrip().endswith(b"</html>")
    assert record["summary"]["frames"] == frames


# ---------------------------------------------------------------------------- in process


def _landmarks(out_dir: Path) -> int:
    """Write a real walk's landmarks (motion capture seen from the side); the frame count."""
    series, _ = project_trial(load_trial(TRIAL), noise_px=1.0)
    write_landmarks_csv(out_dir / "landmarks.csv", series)
    return len(series.time_s)


def _open(data_dir: Path, engine: FakeEngine | None = None) -> TestClient:
    return TestClient(create_app(data_dir, engine=engine or FakeEngine()))


def _wait_done(client: TestClient, session_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        record = client.get(f"/api/sessions/{session_id}").json()
        if record["status"] != "analysing":
            return record
        time.sleep(0.05)
    raise AssertionError("the analysis was not run again")


def test_upload_cut_after_its_summary_is_analysed_again(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    storage = Storage(data_dir / "posecoach.db", data_dir)
    session = storage.create_session("upload", "beginner", None, USER_NAME, "analysing")
    out_dir = Path(session.out_dir)
    (out_dir / "source.mp4").write_bytes(SIDE_CLIP.read_bytes())
    (out_dir / "summary.json").write_text(json.dumps({"duration_s": 1.0}))
    (out_dir / "annotated.mp4").write_bytes(SIDE_CLIP.read_bytes()[:5000])
    hidden = out_dir / ".partial-left-behind"
    hidden.mkdir()
    (hidden / "annotated.mp4").write_bytes(b"\0" * 100)

    with _open(data_dir) as client:
        record = _wait_done(client, session.id)
    assert record["status"] == "done", record
    assert record["missing"] == []
    assert {"annotated.mp4", "summary.json", "report.html"} <= set(record["files"])
    assert record["summary"]["duration_s"] == 2.0  # the new analysis, not the old summary
    assert (out_dir / "source.mp4").read_bytes() == SIDE_CLIP.read_bytes()
    assert not hidden.exists()


def test_live_session_cut_after_its_summary_gets_its_report_rebuilt(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    storage = Storage(data_dir / "posecoach.db", data_dir)
    session = storage.create_session("live", "beginner", 170.0, "browser camera", "recording")
    out_dir = Path(session.out_dir)
    frames = _landmarks(out_dir)
    (out_dir / "annotated.mp4").write_bytes(SIDE_CLIP.read_bytes())
    (out_dir / "summary.json").write_text(json.dumps({"duration_s": 1.0}))
    assert "report.html" in unusable_outputs(out_dir)

    with _open(data_dir) as client:
        record = client.get(f"/api/sessions/{session.id}").json()
        report = client.get(f"/api/sessions/{session.id}/files/report.html")
    assert record["status"] == "done"
    assert record["missing"] == []
    assert set(record["files"]) == {"annotated.mp4", "landmarks.csv", "metrics.csv",
                                    "summary.json", "report.html"}
    assert report.status_code == 200 and "</html>" in report.text
    assert record["summary"]["frames"] == frames
    assert any("recovered" in w for w in record["summary"]["warnings"])


def test_a_clip_that_does_not_play_is_neither_listed_nor_served(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    storage = Storage(data_dir / "posecoach.db", data_dir)
    session = storage.create_session("live", "beginner", None, "browser camera", "recording")
    out_dir = Path(session.out_dir)
    _landmarks(out_dir)
    # An MP4 whose writer was killed: the data without the index at its end.
    data = SIDE_CLIP.read_bytes()
    (out_dir / "annotated.mp4").write_bytes(data[: len(data) * 6 // 10])

    with _open(data_dir) as client:
        record = client.get(f"/api/sessions/{session.id}").json()
        served = client.get(f"/api/sessions/{session.id}/files/annotated.mp4")
        listed = next(s for s in client.get("/api/sessions").json() if s["id"] == session.id)
    assert record["status"] == "done"
    assert record["missing"] == ["annotated.mp4"] and listed["missing"] == ["annotated.mp4"]
    assert "annotated.mp4" not in record["files"]
    assert {"landmarks.csv", "summary.json", "report.html"} <= set(record["files"])
    assert served.status_code == 404
    assert "incomplete" in served.json()["detail"]
    warning = next(w for w in record["summary"]["warnings"] if "annotated.mp4" in w)
    assert "not offered" in warning
    assert any("annotated.mp4" in s for s in record["sentences"])


def test_session_with_nothing_usable_is_interrupted_and_offers_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    storage = Storage(data_dir / "posecoach.db", data_dir)
    session = storage.create_session("live", "beginner", None, "browser camera", "recording")
    out_dir = Path(session.out_dir)
    data = SIDE_CLIP.read_bytes()
    (out_dir / "annotated.mp4").write_bytes(data[:4096])

    with _open(data_dir) as client:
        record = client.get(f"/api/sessions/{session.id}").json()
        served = client.get(f"/api/sessions/{session.id}/files/annotated.mp4")
    assert record["status"] == "interrupted"
    assert record["files"] == []
    assert "annotated.mp4" in record["missing"]
    assert served.status_code == 404


def test_timed_test_session_cut_short_is_timed_with_its_own_floor_marks(tmp_path: Path) -> None:
    """A live 3-metre test stopped mid-way is rebuilt with the settings it started with (its
    floor marks), not the defaults of its level and height, and its time is listed."""
    held = held_trial(str(MOCAP / "dataset-1_walk-back_active_001.bvh"))
    series, camera = project_held(held, noise_px=1.0, seed=5)
    truth = timing_truth(held)
    assert truth.time_s is not None
    timed = TimedTestSettings(run=True, floor_marks_px=tuple(floor_marks(held, camera)),
                              trials=1)
    settings = Settings(timed_test=timed)
    data_dir = tmp_path / "data"
    storage = Storage(data_dir / "posecoach.db", data_dir)
    session = storage.create_session("live", "beginner", None, "browser camera", "recording",
                                     settings=settings)
    assert storage.get_session(session.id).settings == settings
    write_landmarks_csv(Path(session.out_dir) / "landmarks.csv", series)

    with _open(data_dir) as client:
        record = client.get(f"/api/sessions/{session.id}").json()
        tests = client.get(f"/api/people/{record['person_id']}/timed-tests").json()
    assert record["status"] == "done"
    result = record["summary"]["timed_test"]
    assert result is not None and result["scale_source"] == "floor_marks"
    assert abs(result["time_s"] - truth.time_s) <= 0.2
    assert [t["session_id"] for t in tests] == [session.id] and tests[0]["timed"]


# ---------------------------------------------------------------------------- finished sessions


def _finished(storage: Storage) -> tuple[str, Path]:
    """A finished live session with a complete set of outputs (a real clip that plays)."""
    from posecoach.outputs.summary import SessionSummary

    session = storage.create_session("live", "beginner", None, "browser camera", "recording")
    out_dir = Path(session.out_dir)
    (out_dir / "annotated.mp4").write_bytes(SIDE_CLIP.read_bytes())
    _landmarks(out_dir)
    (out_dir / "metrics.csv").write_text("frame,time_s\n0,0.0\n")
    summary = {"duration_s": 2.0, "warnings": []}
    (out_dir / "summary.json").write_text(json.dumps(summary))
    (out_dir / "report.html").write_text("<!doctype html><html></html>")
    storage.update_session(session.id, status="done",
                           summary=SessionSummary.from_json(summary), duration_s=2.0)
    return session.id, out_dir


def test_finished_session_files_lost_while_stopped_are_not_offered(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    storage = Storage(data_dir / "posecoach.db", data_dir)
    deleted, cut, garbled, intact, older = (_finished(storage) for _ in range(5))
    assert clip_plays(cut[1] / "annotated.mp4")

    with _open(data_dir) as client:
        before = {s["id"]: s for s in client.get("/api/sessions").json()}
    assert all(before[sid]["missing"] == [] for sid, _ in (deleted, cut, garbled, intact, older))
    # A session finished by a version that kept no stamps of its outputs.
    with sqlite3.connect(data_dir / "posecoach.db") as db:
        db.execute("DELETE FROM output_stamps WHERE session_id = ?", (older[0],))

    # While the server is stopped: a report deleted, a clip cut short (still a large file) and
    # a summary overwritten.
    (deleted[1] / "report.html").unlink()
    data = SIDE_CLIP.read_bytes()
    (cut[1] / "annotated.mp4").write_bytes(data[: len(data) * 6 // 10])
    (garbled[1] / "summary.json").write_text('{"duration_s": 2.0, "warn')

    with _open(data_dir) as client:
        records = {sid: client.get(f"/api/sessions/{sid}").json()
                   for sid, _ in (deleted, cut, garbled, intact, older)}
        listed = {s["id"]: s for s in client.get("/api/sessions").json()}
        clip = client.get(f"/api/sessions/{cut[0]}/files/annotated.mp4")
        report = client.get(f"/api/sessions/{deleted[0]}/files/report.html")
    assert records[deleted[0]]["missing"] == ["report.html"]
    assert records[cut[0]]["missing"] == ["annotated.mp4"]
    assert records[garbled[0]]["missing"] == ["summary.json"]
    assert records[intact[0]]["missing"] == [] and records[older[0]]["missing"] == []
    assert listed[cut[0]]["missing"] == ["annotated.mp4"]
    assert "annotated.mp4" not in records[cut[0]]["files"]
    assert "summary.json" not in records[garbled[0]]["files"]
    assert clip.status_code == 404 and report.status_code == 404
    for sid, name in ((deleted[0], "report.html"), (cut[0], "annotated.mp4")):
        record = records[sid]
        assert record["status"] == "done"
        warning = next(w for w in record["summary"]["warnings"] if name in w)
        assert "deleted or damaged" in warning and "not offered" in warning

    # The older session was stamped at that start, so a clip cut short since is found at the
    # next; nothing else is new, and no warning is repeated.
    (older[1] / "annotated.mp4").write_bytes(data[: len(data) * 6 // 10])
    with _open(data_dir) as client:
        older_again = client.get(f"/api/sessions/{older[0]}").json()
        cut_again = client.get(f"/api/sessions/{cut[0]}").json()
        intact_again = client.get(f"/api/sessions/{intact[0]}").json()
    assert older_again["missing"] == ["annotated.mp4"]
    assert cut_again["missing"] == ["annotated.mp4"] and intact_again["missing"] == []
    assert sum("deleted or damaged" in w for w in cut_again["summary"]["warnings"]) == 1
