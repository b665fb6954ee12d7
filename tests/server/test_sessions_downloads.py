"""Downloads are named after the clip (`<clip>-annotated.mp4`, `<clip>-report.html`), or after
the session's new name once the coach renamed it, made safe for any file system."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from posecoach.outputs.summary import SessionSummary
from posecoach.server import create_app
from tests.conftest import FIXTURES
from tests.server.conftest import FAST_LIMITS, ORIGIN, FakeEngine, finished_session, wait_job
from tests.server.test_sessions_api import session_with_files

WRITE = {"origin": ORIGIN}


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(tmp_path / "data", engine=FakeEngine(), limits=FAST_LIMITS)
    with TestClient(app) as client:
        yield client


def saved_as(response: object) -> tuple[str, str | None]:
    """The disposition type and file name a browser reads from Content-Disposition."""
    header = Message()
    header["content-disposition"] = response.headers["content-disposition"]  # type: ignore[attr-defined]
    return header.get_content_disposition() or "", header.get_filename()


def test_an_uploaded_clip_downloads_under_its_own_name(app_client: TestClient) -> None:
    clip = FIXTURES / "backward_walk_side_1080p60.mp4"
    with clip.open("rb") as fh:
        accepted = app_client.post(
            "/api/uploads", files={"files": ("Ada's walk (week 2).mp4", fh, "video/mp4")},
            headers=WRITE)
    assert accepted.status_code == 202, accepted.text
    job = wait_job(app_client, accepted.json()["jobs"][0]["id"])
    session_id = job["session_id"]
    base = f"/api/sessions/{session_id}/files"
    video = app_client.get(f"{base}/annotated.mp4?download=1")
    report = app_client.get(f"{base}/report.html?download=1")
    assert saved_as(video) == ("attachment", "Ada-s walk (week 2)-annotated.mp4")
    assert saved_as(report) == ("attachment", "Ada-s walk (week 2)-report.html")
    assert saved_as(app_client.get(f"{base}/report.html"))[0] == "inline"

    app_client.put(f"/api/sessions/{session_id}/name", json={"name": "Ada: 3 m test / été"},
                   headers=WRITE)
    renamed = app_client.get(f"{base}/annotated.mp4?download=1")
    assert saved_as(renamed) == ("attachment", "Ada- 3 m test - été-annotated.mp4")


def test_a_real_analysis_downloads_named_after_its_clip(app_client: TestClient,
                                                        analysed: object) -> None:
    result = analysed(FIXTURES / "backward_walk_side_1080p60.mp4")  # type: ignore[operator]
    storage = app_client.app.state.ctx.storage  # type: ignore[attr-defined]
    session_id = session_with_files(storage, result, "C:\\Users\\coach\\IMG_0042.MOV")
    response = app_client.get(f"/api/sessions/{session_id}/files/annotated.mp4?download=1")
    assert response.status_code == 200
    assert response.content == (result.out_dir / "annotated.mp4").read_bytes()
    assert saved_as(response) == ("attachment", "IMG_0042-annotated.mp4")


RECORD = finished_session(1, SessionSummary(), None)
NAMES = [
    # (kind, source_name, coach's name, the file, what it downloads as)
    ("upload", "walk.mp4", None, "annotated.mp4", "walk-annotated.mp4"),
    ("upload", "walk.mp4", None, "report.html", "walk-report.html"),
    ("upload", "/home/ada/clips/back walk.final.MOV", None, "report.html",
     "back walk.final-report.html"),
    ("upload", "..\\..\\evil\".mp4", None, "annotated.mp4", "evil-annotated.mp4"),
    ("upload", "Zoe\u0308 übung.mp4", None, "annotated.mp4", "Zoë übung-annotated.mp4"),
    ("upload", "a\tb\nc.mp4", None, "annotated.mp4", "a b c-annotated.mp4"),
    ("upload", "x" * 300 + ".mp4", None, "annotated.mp4", "x" * 80 + "-annotated.mp4"),
    ("upload", "....mp4", None, "annotated.mp4", f"posecoach-{RECORD.id[:8]}-annotated.mp4"),
    ("upload", "walk.mp4", "Ben <first> try?", "annotated.mp4", "Ben -first- try-annotated.mp4"),
    ("live", "FaceTime HD Camera", None, "annotated.mp4", "live 2025-01-01 1000-annotated.mp4"),
    ("live", "FaceTime HD Camera", "Hallway", "report.html", "Hallway-report.html"),
]


@pytest.mark.parametrize(("kind", "source", "name", "file", "expected"), NAMES)
def test_download_names(kind: str, source: str, name: str | None, file: str,
                        expected: str) -> None:
    record = dataclasses.replace(RECORD, kind=kind, source_name=source, name=name)
    assert record.download_name(file) == expected
