"""One session at a time over the API: rename, move to another person, delete, and the events
two sessions are aligned at.

Each change is refused in one sentence for a session being recorded or analysed (409) and for
one that is not in the library (404); a move to a missing person is refused too. A delete
takes the session's row, check-ins and folder and nothing else, also when a second process
has the same library open.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from posecoach.outputs.summary import SessionSummary
from posecoach.server import create_app
from posecoach.server.storage import SCHEMA, SessionStatus, Storage
from tests.conftest import FIXTURES
from tests.server.conftest import FAST_LIMITS, ORIGIN, FakeEngine
from tests.server.test_people import OLD_SCHEMA

WRITE = {"origin": ORIGIN}
MISSING_ID = "0" * 32
BACKWARD_CLIP = FIXTURES / "backward_walk_side_1080p60.mp4"


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(tmp_path / "data", engine=FakeEngine(), limits=FAST_LIMITS)
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def backward_walk(analysed: Any) -> Any:
    """The real backward-walking clip through the whole pipeline (pose model included)."""
    return analysed(BACKWARD_CLIP)


def storage_of(client: TestClient) -> Storage:
    return client.app.state.ctx.storage  # type: ignore[attr-defined]


def session_with_files(storage: Storage, result: Any, source_name: str,
                       person_id: str | None = None) -> str:
    """A finished session holding the files a real analysis wrote."""
    record = storage.create_session("upload", "beginner", None, source_name, "analysing",
                                    person_id=person_id)
    for name in ("annotated.mp4", "landmarks.csv", "metrics.csv", "summary.json",
                 "report.html"):
        shutil.copy(result.out_dir / name, record.out_dir / name)
    storage.update_session(record.id, status="done", summary=result.summary,
                           duration_s=result.summary.duration_s)
    storage.add_checkin(record.id, "soreness", 2)
    return record.id


def running(storage: Storage, status: SessionStatus) -> str:
    """A session still recording, or an upload still being analysed."""
    kind = "live" if status == "recording" else "upload"
    return storage.create_session(kind, "beginner", None, "walk.mp4", status).id


CHANGES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("rename", "PUT name", {"name": "Tuesday, hallway"}),
    ("move", "PUT person", None),  # the body is filled with a real person
    ("delete", "DELETE", None),
]


def _call(client: TestClient, how: str, session_id: str,
          body: dict[str, Any] | None) -> Any:
    method, _, tail = how.partition(" ")
    url = f"/api/sessions/{session_id}" + (f"/{tail}" if tail else "")
    return client.request(method, url, json=body, headers=WRITE)


@pytest.mark.parametrize(("verb", "how", "body"), CHANGES)
@pytest.mark.parametrize("status", ["recording", "analysing"])
def test_a_running_session_is_never_changed(app_client: TestClient, verb: str, how: str,
                                            body: dict[str, Any] | None,
                                            status: SessionStatus) -> None:
    storage = storage_of(app_client)
    other = storage.create_person("Ben")
    session_id = running(storage, status)
    before = storage.get_session(session_id)
    response = _call(app_client, how, session_id, body or {"person_id": other.id})
    assert response.status_code == 409, response.text
    detail = response.json()["detail"]
    doing = "being recorded" if status == "recording" else "being analysed"
    assert detail == f"this session is still {doing}: {verb} it once it has finished"
    assert storage.get_session(session_id) == before
    assert before is not None and before.out_dir.is_dir()


@pytest.mark.parametrize(("verb", "how", "body"), CHANGES)
@pytest.mark.parametrize("session_id", [MISSING_ID, "not-an-id", "..%2F..%2Fposecoach.db"])
def test_a_missing_session_is_a_404(app_client: TestClient, verb: str, how: str,
                                    body: dict[str, Any] | None, session_id: str) -> None:
    other = storage_of(app_client).create_person("Ben")
    response = _call(app_client, how, session_id, body or {"person_id": other.id})
    assert response.status_code == 404, response.text
    assert response.json()["detail"] in ("no such session", "Not Found")
    assert "Traceback" not in response.text


def test_a_session_is_renamed_and_named_back_after_its_clip(app_client: TestClient,
                                                            backward_walk: Any) -> None:
    storage = storage_of(app_client)
    session_id = session_with_files(storage, backward_walk, "IMG_0042.MOV")
    renamed = app_client.put(f"/api/sessions/{session_id}/name",
                             json={"name": "  Ada,   week 3  "}, headers=WRITE)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Ada, week 3"
    assert renamed.json()["source_name"] == "IMG_0042.MOV"
    listed = {item["id"]: item for item in app_client.get("/api/sessions").json()}
    assert listed[session_id]["name"] == "Ada, week 3"
    assert app_client.get(f"/api/sessions/{session_id}").json()["name"] == "Ada, week 3"

    for bad in ("x" * 81, "a\u200bb"):
        refused = app_client.put(f"/api/sessions/{session_id}/name", json={"name": bad},
                                 headers=WRITE)
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"].startswith("a session's name")
    cleared = app_client.put(f"/api/sessions/{session_id}/name", json={"name": "  "},
                             headers=WRITE)
    assert cleared.status_code == 200 and cleared.json()["name"] is None


def test_a_session_moves_to_another_person_with_its_checkin_and_timed_test(
        app_client: TestClient, backward_walk: Any) -> None:
    storage = storage_of(app_client)
    ada = storage.create_person("Ada")
    ben = storage.create_person("Ben")
    session_id = session_with_files(storage, backward_walk, "walk.mp4", person_id=ada.id)
    kept = session_with_files(storage, backward_walk, "walk 2.mp4", person_id=ada.id)
    moved = app_client.put(f"/api/sessions/{session_id}/person", json={"person_id": ben.id},
                           headers=WRITE)
    assert moved.status_code == 200, moved.text
    assert (moved.json()["person_id"], moved.json()["person_name"]) == (ben.id, "Ben")
    assert moved.json()["checkin"]["pain"] == "soreness"
    bens = [item["id"] for item in app_client.get(f"/api/sessions?person_id={ben.id}").json()]
    adas = [item["id"] for item in app_client.get(f"/api/sessions?person_id={ada.id}").json()]
    assert (bens, adas) == ([session_id], [kept])
    people = {p["name"]: p["sessions"] for p in app_client.get("/api/people").json()}
    assert people == {"Ada": 1, "Ben": 1}

    for nobody in (MISSING_ID, "someone"):
        refused = app_client.put(f"/api/sessions/{kept}/person", json={"person_id": nobody},
                                 headers=WRITE)
        assert refused.status_code == 404, refused.text
        assert refused.json()["detail"] == "no such person to move the session to"
    assert storage.get_session(kept).person_id == ada.id  # type: ignore[union-attr]


def test_deleting_one_session_removes_its_files_and_nothing_else(
        app_client: TestClient, backward_walk: Any) -> None:
    storage = storage_of(app_client)
    gone = session_with_files(storage, backward_walk, "walk.mp4")
    kept = session_with_files(storage, backward_walk, "walk 2.mp4")
    gone_dir = storage.get_session(gone).out_dir  # type: ignore[union-attr]
    kept_record = storage.get_session(kept)
    assert kept_record is not None
    kept_files = {p.name: p.read_bytes() for p in kept_record.out_dir.iterdir()}
    beside = storage.sessions_dir / "notes.txt"
    beside.write_text("the coach's own file")

    response = app_client.delete(f"/api/sessions/{gone}", headers=WRITE)
    assert response.status_code == 204, response.text
    assert not gone_dir.exists()
    assert app_client.get(f"/api/sessions/{gone}").status_code == 404
    assert app_client.get(f"/api/sessions/{gone}/files/annotated.mp4").status_code == 404
    assert [item["id"] for item in app_client.get("/api/sessions").json()] == [kept]
    assert {p.name: p.read_bytes() for p in kept_record.out_dir.iterdir()} == kept_files
    assert beside.read_text() == "the coach's own file"
    assert sorted(p.name for p in storage.sessions_dir.iterdir()) == sorted([kept, beside.name])
    with sqlite3.connect(storage.db_path) as db:
        left = db.execute("SELECT COUNT(*) FROM checkins WHERE session_id = ?",
                          (gone,)).fetchone()[0]
    assert left == 0
    again = app_client.delete(f"/api/sessions/{gone}", headers=WRITE)
    assert again.status_code == 404 and again.json()["detail"] == "no such session"


def test_a_row_pointing_at_another_sessions_folder_deletes_only_its_own(
        app_client: TestClient, backward_walk: Any) -> None:
    storage = storage_of(app_client)
    victim = session_with_files(storage, backward_walk, "walk.mp4")
    stray = session_with_files(storage, backward_walk, "walk 2.mp4")
    victim_dir = storage.get_session(victim).out_dir  # type: ignore[union-attr]
    with sqlite3.connect(storage.db_path) as db:
        db.execute("UPDATE sessions SET out_dir = ? WHERE id = ?", (str(victim_dir), stray))
    assert app_client.delete(f"/api/sessions/{stray}", headers=WRITE).status_code == 204
    assert (victim_dir / "annotated.mp4").is_file()
    assert not (storage.sessions_dir / stray).exists()
    assert app_client.get(f"/api/sessions/{victim}/files/annotated.mp4").status_code == 200


def test_a_session_another_process_is_analysing_is_not_deleted(app_client: TestClient,
                                                                backward_walk: Any) -> None:
    """A second server on the same library sets the session running: this one sees it."""
    storage = storage_of(app_client)
    session_id = session_with_files(storage, backward_walk, "walk.mp4")
    other_process = Storage(storage.db_path, storage.data_dir)
    other_process.update_session(session_id, status="analysing")
    response = app_client.delete(f"/api/sessions/{session_id}", headers=WRITE)
    assert response.status_code == 409, response.text
    record = storage.get_session(session_id)
    assert record is not None and (record.out_dir / "annotated.mp4").is_file()
    other_process.update_session(session_id, status="done")
    assert app_client.delete(f"/api/sessions/{session_id}", headers=WRITE).status_code == 204


def test_the_events_of_a_real_backward_walk(app_client: TestClient, backward_walk: Any) -> None:
    storage = storage_of(app_client)
    session_id = session_with_files(storage, backward_walk, "walk.mp4")
    events = app_client.get(f"/api/sessions/{session_id}/events")
    assert events.status_code == 200, events.text
    body = events.json()
    summary: SessionSummary = backward_walk.summary
    steps = [step.time_s for step in summary.step_list]
    toes = [e.time_s for e in summary.gait_events if e.kind == "toe_contact"]
    assert summary.direction == "backward" and steps and toes
    assert body["step_times_s"] == steps
    assert body["first_backward_step_s"] == steps[0]
    assert body["first_toe_contact_s"] == min(toes)
    assert body["fps"] == pytest.approx(summary.fps)

    # A session whose metrics say it walked forward has no backward step.
    metrics = storage.get_session(session_id).out_dir / "metrics.csv"  # type: ignore[union-attr]
    metrics.write_text(metrics.read_text().replace(",backward,", ",forward,"))
    assert app_client.get(f"/api/sessions/{session_id}/events").json()[
        "first_backward_step_s"] is None
    assert app_client.get(f"/api/sessions/{MISSING_ID}/events").status_code == 404


SCHEMA_BEFORE_NAMES = SCHEMA.replace(",\n    name TEXT\n", "\n")


@pytest.mark.parametrize("schema", [OLD_SCHEMA, SCHEMA_BEFORE_NAMES],
                         ids=["before-people", "before-session-names"])
def test_an_older_library_is_upgraded_and_its_sessions_renamed(tmp_path: Path,
                                                               schema: str) -> None:
    assert SCHEMA_BEFORE_NAMES != SCHEMA
    db_path = tmp_path / "posecoach.db"
    session_id = "a" * 32
    (tmp_path / "sessions" / session_id).mkdir(parents=True)
    with sqlite3.connect(db_path) as db:
        db.executescript(schema)
        db.execute(
            "INSERT INTO sessions (id, kind, created_at, source_name, level, status, out_dir,"
            " summary_json) VALUES (?, 'upload', '2024-12-01T08:00:00+00:00', 'old clip.mp4',"
            " 'beginner', 'done', ?, ?)",
            (session_id, str(tmp_path / "sessions" / session_id),
             json.dumps({"duration_s": 12.0})),
        )
    storage = Storage(db_path, tmp_path)
    (record,) = storage.list_sessions()
    assert (record.name, record.source_name) == (None, "old clip.mp4")
    assert storage.rename_session(session_id, "first visit").name == "first visit"
    assert Storage(db_path, tmp_path).get_session(session_id).name == "first visit"  # type: ignore[union-attr]
