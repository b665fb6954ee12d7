"""HTTP API with a fake engine: uploads, jobs, files, check-ins, progress, config, errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from posecoach.outputs.words import summary_in_words
from posecoach.server import create_app, run_server
from posecoach.server.engine import InputError
from posecoach.server.schemas import DIGEST_KEYS
from tests.conftest import ROOT
from tests.server.conftest import (
    FAST_LIMITS,
    ORIGIN,
    SIDE_CLIP,
    FakeEngine,
    wait_job,
)


def upload(client: TestClient, *files: tuple[str, bytes], **params: str):
    return client.post(
        "/api/uploads",
        files=[("files", (name, data, "video/mp4")) for name, data in files],
        params=params,
        headers={"origin": ORIGIN},
    )


@pytest.fixture(scope="module")
def done_session(client: TestClient) -> str:
    response = upload(client, ("side walk.mp4", SIDE_CLIP.read_bytes()))
    assert response.status_code == 202, response.text
    (job,) = response.json()["jobs"]
    finished = wait_job(client, job["id"])
    assert finished["status"] == "done", finished
    assert finished["progress"] == 1.0
    return finished["session_id"]


def test_upload_runs_to_done_and_lists_the_session(client: TestClient, done_session: str) -> None:
    listed = client.get("/api/sessions").json()
    assert done_session in [s["id"] for s in listed]
    record = client.get(f"/api/sessions/{done_session}").json()
    assert record["kind"] == "upload"
    assert record["source_name"] == "side walk.mp4"
    assert record["summary"]["source"] == "side walk.mp4"
    assert record["status"] == "done"
    assert "out_dir" not in record
    assert {"annotated.mp4", "summary.json", "report.html"} <= set(record["files"])


def test_session_records_have_one_shape(
    client: TestClient, done_session: str, data_dir: Path
) -> None:
    record = client.get(f"/api/sessions/{done_session}").json()
    stored = json.loads((data_dir / "sessions" / done_session / "summary.json").read_text())
    assert record["sentences"] == summary_in_words(stored) and record["sentences"]
    assert record["created_at"].endswith("+00:00")
    listed = next(s for s in client.get("/api/sessions").json() if s["id"] == done_session)
    assert set(listed["summary"]) == set(DIGEST_KEYS)
    assert listed["cue_count"] == len(record["summary"]["cues"])
    assert "sentences" not in listed and "files" not in listed


def test_every_json_route_declares_its_body(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            responses = operation["responses"]
            error = responses["default"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)
            if "204" in responses:
                assert "content" not in responses["204"], (method, path)
                continue
            ok = responses.get("200") or responses.get("201") or responses["202"]
            content = ok["content"]
            if path.endswith("/files/{name}"):
                assert {"video/mp4", "text/csv", "text/html"} <= set(content), path
                continue
            if path.endswith(".svg"):
                assert set(content) == {"image/svg+xml"}, path
                continue
            assert content["application/json"]["schema"], (method, path)
            error = operation["responses"]["default"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)


def test_upload_never_uses_the_client_file_name_as_a_path(client: TestClient,
                                                          data_dir: Path) -> None:
    response = upload(client, ("../../evil.mp4", SIDE_CLIP.read_bytes()))
    assert response.status_code == 202
    job = wait_job(client, response.json()["jobs"][0]["id"])
    assert job["filename"] == "evil.mp4"
    assert not (data_dir.parent / "evil.mp4").exists()
    out_dir = data_dir / "sessions" / job["session_id"]
    assert (out_dir / "source.mp4").is_file()


def test_files_download_inline_and_as_attachment(client: TestClient, done_session: str) -> None:
    response = client.get(f"/api/sessions/{done_session}/files/summary.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    attachment = client.get(f"/api/sessions/{done_session}/files/report.html?download=1")
    assert attachment.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in attachment.headers["content-security-policy"]


@pytest.mark.parametrize(
    "name",
    [
        "../posecoach.db",
        "..%2F..%2Fposecoach.db",
        "%2e%2e%2fposecoach.db",
        "..%252F..%252Fposecoach.db",
        "source.mp4",
        "plots.json",
        "summary.json%00.html",
        "..\\..\\posecoach.db",
    ],
)
def test_path_traversal_is_refused(client: TestClient, done_session: str, name: str) -> None:
    response = client.get(f"/api/sessions/{done_session}/files/{name}")
    assert response.status_code in (400, 404)
    assert set(response.json()) == {"detail"}


@pytest.mark.parametrize("session_id", ["..", "..%2F..", "%2e%2e", "not-an-id", "0" * 31])
def test_bad_session_ids_are_404(client: TestClient, session_id: str) -> None:
    response = client.get(f"/api/sessions/{session_id}/files/summary.json")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_text_file_renamed_mp4_is_refused_with_a_message(client: TestClient) -> None:
    response = upload(client, ("notes.mp4", b"these are my notes, not a video\n" * 20))
    assert response.status_code == 415
    detail = response.json()["detail"]
    assert detail.startswith("notes.mp4: ")
    assert "text file" in detail
    assert re.search(r"[0-9a-f]{32}", detail) is None


def test_mixed_upload_queues_good_clips_and_reports_bad_ones(client: TestClient) -> None:
    response = upload(client, ("good.mp4", SIDE_CLIP.read_bytes()), ("bad.mp4", b"nope" * 100))
    assert response.status_code == 202
    good, bad = response.json()["jobs"]
    assert bad["status"] == "failed" and bad["error"]
    assert client.get(f"/api/jobs/{bad['id']}").json()["error"] == bad["error"]
    assert wait_job(client, good["id"])["status"] == "done"


def test_oversized_upload_is_413(client: TestClient, data_dir: Path) -> None:
    before = set((data_dir / "uploads").glob("*"))
    big = b"\0" * (FAST_LIMITS.max_upload_bytes + 1)
    response = upload(client, ("huge.mp4", big))
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert set((data_dir / "uploads").glob("*")) == before


def test_upload_without_files_or_multipart_is_400(client: TestClient) -> None:
    response = client.post("/api/uploads", content=b"{}", headers={"content-type": "text/plain"})
    assert response.status_code == 400
    response = client.post("/api/uploads", files={"level": (None, "beginner")})
    assert response.status_code == 400
    assert "no files" in response.json()["detail"]


def test_upload_with_unknown_level_is_422(client: TestClient) -> None:
    response = upload(client, ("a.mp4", SIDE_CLIP.read_bytes()), level="expert")
    assert response.status_code == 422
    assert "unknown level" in response.json()["detail"]


def test_too_long_clip_is_refused(tmp_path: Path) -> None:
    limits = FAST_LIMITS.__class__(max_upload_bytes=10_000_000, max_duration_s=1.0)
    app = create_app(tmp_path, engine=FakeEngine(), limits=limits)
    with TestClient(app) as client:
        response = upload(client, ("long.mp4", SIDE_CLIP.read_bytes()))
    assert response.status_code == 422
    assert "the limit is" in response.json()["detail"]


def test_unknown_job_is_404(client: TestClient) -> None:
    assert client.get("/api/jobs/nope").status_code == 404


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"pain": "agony", "score": 3}, "pain"),
        ({"pain": "soreness", "score": 11}, "score"),
        ({"pain": "soreness", "score": -1}, "score"),
        ({"pain": "soreness", "score": 2.5}, "score"),
        ({"pain": "none", "score": 5}, "score must be 0"),
        ({"pain": "soreness"}, "score"),
        ({"pain": "none", "score": 0, "extra": 1}, "extra"),
    ],
)
def test_checkin_validation(client: TestClient, done_session: str, body: dict,
                            fragment: str) -> None:
    response = client.post(f"/api/sessions/{done_session}/checkin", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str) and fragment in detail


def test_checkin_and_progress(client: TestClient, done_session: str) -> None:
    missing = client.post(f"/api/sessions/{'0' * 32}/checkin", json={"pain": "none", "score": 0})
    assert missing.status_code == 404
    response = client.post(f"/api/sessions/{done_session}/checkin",
                           json={"pain": "soreness", "score": 2})
    assert response.status_code == 200
    assert response.json()["checkin"]["pain"] == "soreness"
    assert response.json()["suggestion"]["action"] in ("progress", "hold", "ease_off")
    progress = client.get("/api/progress").json()
    row = next(s for s in progress["sessions"] if s["id"] == done_session)
    assert row["pain"] == "soreness" and row["pain_score"] == 2
    assert row["duration_s"] == 2.0 and row["upright_share"] == 0.9
    for key in ("date", "backward_time_s", "speed", "step_length", "head_up_share"):
        assert key in row
    dates = [s["date"] for s in progress["sessions"]]
    assert dates == sorted(dates)
    client.post(f"/api/sessions/{done_session}/checkin", json={"pain": "pain", "score": 6})
    assert client.get("/api/progress").json()["suggestion"]["action"] == "ease_off"


def test_plots(client: TestClient, done_session: str) -> None:
    response = client.get(f"/api/sessions/{done_session}/plots")
    assert response.status_code == 200
    assert "posture" in response.json()


def test_config(client: TestClient) -> None:
    config = client.get("/api/config").json()
    assert config["levels"] == ["beginner", "intermediate", "advanced"]
    assert config["suggested_minutes"] == {"beginner": 5, "intermediate": 10, "advanced": 15}
    assert config["setup_guide"] and config["source"] is False
    assert {"id": "head_up", "label": "Head up", "severity": "warning",
            "lines": ["head"]} in config["rules"]


def test_pages_and_static(client: TestClient, done_session: str) -> None:
    web = ROOT / "web"
    for url, name in [("/", "index.html"), ("/library", "library.html"),
                      (f"/review/{done_session}", "review.html"),
                      ("/compare?a=1&b=2", "compare.html"), ("/progress", "progress.html"),
                      ("/people", "people.html"), ("/timed-test", "timed-test.html")]:
        response = client.get(url)
        if (web / name).is_file():
            assert response.status_code == 200, url
            assert response.headers["content-type"].startswith("text/html")
        else:
            assert response.status_code == 404 and "missing" in response.json()["detail"]
    assert client.get("/review/..%2F..%2Fetc").status_code == 404
    if (web / "layout.html").is_file():
        page = client.get("/progress").text
        assert page.count("<nav") == 1 and page.count("<main") == 1
        assert "<title>Progress · posecoach</title>" in page
        assert '<a href="/progress" aria-current="page">' in page
        assert "/static/js/progress.js" in page and "{{" not in page
        for url, script in [("/people", "people.js"), ("/timed-test", "timedtest.js")]:
            page = client.get(url).text
            assert f"/static/js/{script}" in page and page.count("<nav") == 1, url
            assert f'<a href="{url}" aria-current="page">' in page, url
    assert client.get("/static/../pyproject.toml").status_code == 404
    assert client.get("/static/nothing-here.js").status_code == 404


def test_errors_are_json(client: TestClient) -> None:
    response = client.get("/api/nothing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
    response = client.post("/api/sessions/x/checkin", content=b"{not json",
                           headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], str)


def test_unexpected_errors_are_500_json_without_internals(tmp_path: Path) -> None:
    class Broken(FakeEngine):
        def probe(self, path: Path):
            raise RuntimeError("secret internal detail /etc/shadow")

    app = create_app(tmp_path, engine=Broken(), limits=FAST_LIMITS)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = upload(client, ("a.mp4", b"data"))
    assert response.status_code == 500
    assert "secret" not in response.text
    assert set(response.json()) == {"detail"}


def test_cross_origin_writes_are_refused(client: TestClient) -> None:
    response = client.post("/api/uploads", files=[("files", ("a.mp4", b"x"))],
                           headers={"origin": "http://evil.example"})
    assert response.status_code == 403


def test_token_is_required_when_set(tmp_path: Path) -> None:
    app = create_app(tmp_path, engine=FakeEngine(), token="s3cret")
    with TestClient(app) as client:
        assert client.get("/api/config").status_code == 401
        wrong = client.get("/api/config", headers={"authorization": "Bearer wrong"})
        assert wrong.status_code == 401
        ok = client.get("/api/config", headers={"authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        page = client.get("/progress?token=s3cret", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/progress"
        assert "posecoach_token=s3cret" in page.headers.get("set-cookie", "")
        assert "httponly" in page.headers["set-cookie"].lower()
        assert client.get("/api/config").status_code == 200  # the cookie now carries it
    with TestClient(app) as fresh:
        assert fresh.get("/").status_code == 401


def test_binding_off_loopback_needs_a_token(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--token"):
        run_server(host="0.0.0.0", port=0, data_dir=tmp_path)
    with pytest.raises(ValueError, match="empty"):
        run_server(host="127.0.0.1", port=0, data_dir=tmp_path, token=" ")


@pytest.fixture(scope="module")
def clip_with_a_break(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small clip whose timestamps jump by 20 s half-way (the warning names the clip)."""
    import fractions

    import av
    import numpy as np

    path = tmp_path_factory.mktemp("break") / "break.mp4"
    tick = fractions.Fraction(1, 1000)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.time_base = tick
        for i in range(40):
            frame = av.VideoFrame.from_ndarray(
                np.full((120, 160, 3), i * 5, np.uint8), format="rgb24"
            )
            frame.pts, frame.time_base = i * 100 + (20_000 if i >= 20 else 0), tick
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path.read_bytes()


def test_an_uploaded_clip_keeps_its_name_in_summary_report_and_warnings(
    real_client: TestClient, clip_with_a_break: bytes
) -> None:
    name = "Tuesday walk (park).mp4"
    response = upload(real_client, (f"phone/clips/{name}", clip_with_a_break))
    assert response.status_code == 202, response.text
    job = wait_job(real_client, response.json()["jobs"][0]["id"])
    assert job["status"] == "done", job
    assert job["filename"] == name
    session_id = job["session_id"]
    record = real_client.get(f"/api/sessions/{session_id}").json()
    summary_file = real_client.get(f"/api/sessions/{session_id}/files/summary.json").json()
    report = real_client.get(f"/api/sessions/{session_id}/files/report.html").text
    assert record["source_name"] == name
    assert record["summary"]["source"] == name and summary_file["source"] == name
    assert any(f"timestamps of {name}" in w for w in summary_file["warnings"])
    assert f"<title>Backward-walking report: {name}" in report
    stored = [p.name for p in Path(real_client.app.state.ctx.data_dir, "sessions",
                                   session_id).iterdir()]
    assert name not in stored, "the clip is stored under a generated name"
    for text in (json.dumps(summary_file), json.dumps(record), report):
        assert "source.mp4" not in text


def test_a_failed_upload_offers_none_of_its_partial_files(tmp_path: Path) -> None:
    class FailsHalfWay(FakeEngine):
        def analyze_video(self, path, out_dir, settings, progress,  # type: ignore[no-untyped-def]
                          source_name=None):
            (out_dir / "annotated.mp4").write_bytes(SIDE_CLIP.read_bytes()[:4096])
            (out_dir / "landmarks.csv.partial").write_text("frame,time_s\n0,0.0\n")
            raise InputError(f"{path.name} ends early: the file is damaged after 0.5 s")

    app = create_app(tmp_path / "data", engine=FailsHalfWay(), limits=FAST_LIMITS)
    with TestClient(app) as client:
        response = upload(client, ("my walk.mp4", SIDE_CLIP.read_bytes()))
        job = wait_job(client, response.json()["jobs"][0]["id"])
        assert job["status"] == "failed"
        assert job["error"].startswith("my walk.mp4 ends early"), job["error"]
        record = client.get(f"/api/sessions/{job['session_id']}").json()
        served = client.get(f"/api/sessions/{job['session_id']}/files/annotated.mp4")
    assert record["status"] == "failed" and record["files"] == []
    assert served.status_code == 404


def test_settle_heap_sets_the_start_up_heap_aside_from_collection() -> None:
    """In a fresh interpreter (freezing is for the whole process): after `settle_heap` the
    start-up objects and the modules a live session needs are frozen, and a full collection
    then walks only what came after."""
    import subprocess
    import sys

    code = (
        "import gc, sys\n"
        "from posecoach.server import settle_heap, SESSION_MODULES\n"
        "assert gc.get_freeze_count() == 0\n"
        "settle_heap()\n"
        "assert all(m in sys.modules for m in SESSION_MODULES)\n"
        "frozen = gc.get_freeze_count()\n"
        "tracked = len(gc.get_objects())\n"
        "print(frozen, tracked)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    frozen, tracked = (int(v) for v in out.stdout.split())
    assert frozen > 50_000
    assert tracked < frozen / 10
