"""People: each session and timed test belongs to one person, people never mix, an older
library migrates to "Me", and deleting a person (confirmed by name) removes their files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from posecoach.coach.timed_test import MDC, TimedTestResult
from posecoach.outputs.summary import SessionSummary
from posecoach.server import create_app
from posecoach.server.storage import NoSuchPerson, Storage
from tests.server.conftest import FAST_LIMITS, ORIGIN, SIDE_CLIP, FakeEngine, wait_job

GOOD = {"upright_share": 0.9, "head_up_share": 0.9, "cues": []}
WRITE = {"origin": ORIGIN}

OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('live', 'upload')),
    created_at TEXT NOT NULL,
    source_name TEXT NOT NULL DEFAULT '',
    level TEXT NOT NULL,
    height_cm REAL,
    status TEXT NOT NULL
        CHECK (status IN ('recording', 'analysing', 'done', 'failed', 'interrupted')),
    duration_s REAL,
    out_dir TEXT NOT NULL,
    summary_json TEXT,
    error TEXT,
    missing TEXT,
    recoveries INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sessions_created ON sessions (created_at);
CREATE TABLE IF NOT EXISTS checkins (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    pain TEXT NOT NULL CHECK (pain IN ('none', 'soreness', 'pain')),
    score INTEGER NOT NULL CHECK (score BETWEEN 0 AND 10),
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS checkins_session ON checkins (session_id);
"""
"""The schema before people existed, as released."""


def timed(time_s: float | None, reason: str | None = None,
          population: str = "community") -> dict[str, Any]:
    """A summary's `timed_test` as the analysis writes it."""
    return TimedTestResult(timed=time_s is not None, time_s=time_s, reason=reason,
                           scale_source="height" if time_s is not None else None,
                           population=population).to_json()


def finished(storage: Storage, person_id: str | None, day: int, pain: str = "none",
             score: int = 0, duration_s: float = 300.0, level: str = "beginner",
             **summary: Any) -> str:
    """A finished session of `person_id` on 2025-01-`day`, with a check-in."""
    record = storage.create_session("upload", level, None, f"day {day}.mp4", "analysing",
                                    person_id=person_id)
    when = f"2025-01-{day:02d}T10:00:00+00:00"
    data = {**GOOD, "duration_s": duration_s, **summary}
    Path(record.out_dir, "summary.json").write_text(json.dumps(data))
    storage.update_session(record.id, status="done", summary=SessionSummary.from_json(data),
                           duration_s=duration_s)
    storage.add_checkin(record.id, pain, score)  # type: ignore[arg-type]
    with sqlite3.connect(storage.db_path) as db:
        db.execute("UPDATE sessions SET created_at = ? WHERE id = ?", (when, record.id))
        db.execute("UPDATE checkins SET created_at = ? WHERE session_id = ?",
                   (when, record.id))
    return record.id


@pytest.fixture
def app_client(tmp_path: Path) -> TestClient:
    app = create_app(tmp_path / "data", engine=FakeEngine(), limits=FAST_LIMITS)
    with TestClient(app) as client:
        yield client  # type: ignore[misc]


def storage_of(client: TestClient) -> Storage:
    return client.app.state.ctx.storage  # type: ignore[attr-defined]


def add_person(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/api/people", json=body, headers=WRITE)
    assert response.status_code == 201, response.text
    return response.json()


# ---------------------------------------------------------------------------- no mixing


def test_two_peoples_sessions_never_mix(app_client: TestClient) -> None:
    storage = storage_of(app_client)
    ana = add_person(app_client, name="Ana", height_cm=160, level="beginner")
    ben = add_person(app_client, name="Ben", height_cm=190, level="advanced")
    ana_ids = {finished(storage, ana["id"], day) for day in (1, 3, 5)}
    # Ben's sessions are newer and his last check-in is pain: mixed in, Ana would ease off.
    ben_ids = {finished(storage, ben["id"], 6, duration_s=900.0),
               finished(storage, ben["id"], 7, "pain", 7, duration_s=900.0)}

    for person, ids in ((ana, ana_ids), (ben, ben_ids)):
        listed = app_client.get("/api/sessions", params={"person_id": person["id"]}).json()
        assert {s["id"] for s in listed} == ids
        assert {s["person_name"] for s in listed} == {person["name"]}
        progress = app_client.get("/api/progress", params={"person_id": person["id"]}).json()
        assert {row["id"] for row in progress["sessions"]} == ids
    everyone = {s["id"] for s in app_client.get("/api/sessions").json()}
    assert everyone == ana_ids | ben_ids

    ana_next = app_client.get("/api/progress", params={"person_id": ana["id"]}).json()
    assert ana_next["suggestion"]["action"] == "progress", ana_next["suggestion"]
    ben_next = app_client.get("/api/progress", params={"person_id": ben["id"]}).json()
    assert ben_next["suggestion"]["action"] == "ease_off"

    # A check-in on Ana's session answers with Ana's suggestion, not Ben's.
    latest = max(ana_ids, key=lambda i: storage.get_session(i).created_at)  # type: ignore[union-attr]
    saved = app_client.post(f"/api/sessions/{latest}/checkin", json={"pain": "none", "score": 0},
                            headers=WRITE).json()
    assert saved["suggestion"]["action"] == "progress"

    people = {p["name"]: p for p in app_client.get("/api/people").json()}
    assert people["Ana"]["sessions"] == 3 and people["Ben"]["sessions"] == 2
    assert people["Ben"]["last_session_at"].startswith("2025-01-07")


def test_the_suggestion_uses_the_persons_level(app_client: TestClient) -> None:
    storage = storage_of(app_client)
    cleo = add_person(app_client, name="Cleo", level="intermediate")
    for day in (1, 2, 3):
        finished(storage, cleo["id"], day, duration_s=600.0, level="beginner")
    suggestion = app_client.get("/api/progress",
                                params={"person_id": cleo["id"]}).json()["suggestion"]
    assert suggestion["action"] == "progress"
    assert "advanced level" in suggestion["message"], suggestion


def test_progress_without_a_person_is_the_default_persons(app_client: TestClient) -> None:
    storage = storage_of(app_client)
    mine = finished(storage, None, 1)
    other = add_person(app_client, name="Dan")
    finished(storage, other["id"], 2)
    me = app_client.get("/api/people").json()[0]
    assert me["name"] == "Me" and storage.get_session(mine).person_id == me["id"]  # type: ignore[union-attr]
    rows = app_client.get("/api/progress").json()["sessions"]
    assert [row["id"] for row in rows] == [mine]


def test_unknown_people_are_404_in_plain_words(app_client: TestClient) -> None:
    unknown = "0" * 32
    for url in (f"/api/people/{unknown}", f"/api/people/{unknown}/timed-tests",
                f"/api/sessions?person_id={unknown}", f"/api/progress?person_id={unknown}",
                "/api/people/not-an-id"):
        response = app_client.get(url)
        assert response.status_code == 404, url
        assert response.json() == {"detail": "no such person"}
    with pytest.raises(NoSuchPerson):
        storage_of(app_client).create_session("live", "beginner", None, "camera", "recording",
                                              person_id=unknown)


def test_names_are_unique_without_regard_to_case(app_client: TestClient) -> None:
    add_person(app_client, name="Éva Kovács", population="ms")
    taken = app_client.post("/api/people", json={"name": "  éva   KOVÁCS "}, headers=WRITE)
    assert taken.status_code == 409 and "already" in taken.json()["detail"]
    for body in ({"name": "   "}, {"name": "x", "level": "expert"}, {"name": "x", "height_cm": 20},
                 {"name": "x", "population": "astronauts"}, {"name": "bell\x07"}):
        response = app_client.post("/api/people", json=body, headers=WRITE)
        assert response.status_code == 422, body
        assert isinstance(response.json()["detail"], str)


def test_people_are_changed_field_by_field(app_client: TestClient) -> None:
    fay = add_person(app_client, name="Fay", height_cm=170, level="beginner", notes="left knee")
    add_person(app_client, name="Gus")
    url = f"/api/people/{fay['id']}"
    changed = app_client.patch(url, json={"height_cm": 171.5, "population": "stroke"},
                               headers=WRITE).json()
    assert changed["height_cm"] == 171.5 and changed["population"] == "stroke"
    assert changed["level"] == "beginner" and changed["notes"] == "left knee"
    cleared = app_client.patch(url, json={"level": None}, headers=WRITE).json()
    assert cleared["level"] is None and cleared["height_cm"] == 171.5
    assert app_client.patch(url, json={"name": "gus"}, headers=WRITE).status_code == 409
    assert app_client.patch(url, json={"name": None}, headers=WRITE).status_code == 422
    assert app_client.get(url).json()["name"] == "Fay"


# ---------------------------------------------------------------------------- uploads


def test_an_upload_belongs_to_its_person_with_their_height(app_client: TestClient,
                                                           tmp_path: Path) -> None:
    hana = add_person(app_client, name="Hana", height_cm=158, level="intermediate")
    files = [("files", ("walk.mp4", SIDE_CLIP.read_bytes(), "video/mp4"))]
    response = app_client.post("/api/uploads", files=files, data={"person_id": hana["id"]},
                               headers=WRITE)
    assert response.status_code == 202, response.text
    job = wait_job(app_client, response.json()["jobs"][0]["id"])
    record = app_client.get(f"/api/sessions/{job['session_id']}").json()
    assert record["person_id"] == hana["id"] and record["person_name"] == "Hana"
    assert record["height_cm"] == 158 and record["level"] == "intermediate"

    uploads = tmp_path / "data" / "uploads"
    before = set(uploads.glob("*"))
    unknown = app_client.post("/api/uploads", files=files, params={"person_id": "f" * 32},
                              headers=WRITE)
    assert unknown.status_code == 404 and unknown.json()["detail"] == "no such person"
    assert set(uploads.glob("*")) == before


# ---------------------------------------------------------------------------- timed tests


class TimedEngine(FakeEngine):
    """Analyses every clip as a timed 3-metre backward walk of 6.4 s."""

    def analyze_video(self, path: Path, out_dir: Path, settings: Any, progress: Any,
                      source_name: str | None = None) -> Any:
        summary = {**GOOD, "duration_s": 9.0, "timed_test": timed(6.4, population="stroke")}
        (out_dir / "summary.json").write_text(json.dumps(summary))
        return SimpleNamespace(summary=SessionSummary.from_json(summary))


def test_timed_tests_are_listed_per_person_with_the_mdc(app_client: TestClient) -> None:
    storage = storage_of(app_client)
    pia = add_person(app_client, name="Pia", population="parkinsons")
    olga = add_person(app_client, name="Olga", population="community")
    finished(storage, pia["id"], 1, timed_test=timed(12.0))
    finished(storage, pia["id"], 2)                                   # no test that day
    finished(storage, pia["id"], 3, timed_test=timed(None, "the walk covered only 2.1 m"))
    finished(storage, pia["id"], 4, timed_test=timed(9.5))
    finished(storage, pia["id"], 5, timed_test=timed(9.0))
    finished(storage, olga["id"], 6, timed_test=timed(4.0))
    finished(storage, olga["id"], 7, timed_test=timed(7.0))

    tests = app_client.get(f"/api/people/{pia['id']}/timed-tests").json()
    mdc_s = MDC["parkinsons"].mdc_s
    assert [t["time_s"] for t in tests] == [12.0, None, 9.5, 9.0]
    assert all(t["mdc_s"] == mdc_s and t["population"] == "parkinsons" for t in tests)
    assert [t["timed"] for t in tests] == [True, False, True, True]
    assert tests[1]["reason"] == "the walk covered only 2.1 m" and tests[1]["change_s"] is None
    assert tests[0]["change_s"] is None and tests[0]["real_change"] is None
    assert tests[2]["change_s"] == pytest.approx(-2.5) and tests[2]["real_change"] is True
    assert tests[3]["change_s"] == pytest.approx(-0.5) and tests[3]["real_change"] is False
    dates = [t["created_at"] for t in tests]
    assert dates == sorted(dates)

    others = app_client.get(f"/api/people/{olga['id']}/timed-tests").json()
    assert [t["time_s"] for t in others] == [4.0, 7.0]
    assert others[1]["change_s"] == pytest.approx(3.0)
    assert others[1]["mdc_s"] is None and others[1]["real_change"] is None


def test_an_uploaded_timed_test_is_stored_under_its_person(tmp_path: Path) -> None:
    app = create_app(tmp_path / "data", engine=TimedEngine(), limits=FAST_LIMITS)
    with TestClient(app) as client:
        ivy = add_person(client, name="Ivy")
        files = [("files", ("test.mp4", SIDE_CLIP.read_bytes(), "video/mp4"))]
        response = client.post("/api/uploads", files=files, data={"person_id": ivy["id"]},
                               headers=WRITE)
        job = wait_job(client, response.json()["jobs"][0]["id"])
        assert job["status"] == "done", job
        (test,) = client.get(f"/api/people/{ivy['id']}/timed-tests").json()
        me = client.post("/api/people", json={"name": "Jo"}, headers=WRITE).json()
        assert client.get(f"/api/people/{me['id']}/timed-tests").json() == []
    assert test["session_id"] == job["session_id"] and test["time_s"] == 6.4
    # Ivy has no population: the test's own (stroke) gives the MDC.
    assert test["population"] == "stroke" and test["mdc_s"] == MDC["stroke"].mdc_s


# ---------------------------------------------------------------------------- deleting


def test_deleting_a_person_needs_their_exact_name_and_removes_their_files(
    app_client: TestClient, tmp_path: Path
) -> None:
    storage = storage_of(app_client)
    kim = add_person(app_client, name="Kim Lee")
    lou = add_person(app_client, name="Lou")
    kims = [finished(storage, kim["id"], day, timed_test=timed(5.0 + day)) for day in (1, 2)]
    lous = finished(storage, lou["id"], 3, timed_test=timed(6.0))
    folders = [tmp_path / "data" / "sessions" / i for i in kims]
    assert all(folder.is_dir() for folder in folders)
    url = f"/api/people/{kim['id']}"

    for confirm in (None, "", "kim lee", "Kim", "Kim Lee "):
        params = {} if confirm is None else {"confirm": confirm}
        refused = app_client.delete(url, params=params, headers=WRITE)
        assert refused.status_code == 400, confirm
        assert "exact name" in refused.json()["detail"]
    assert all(folder.is_dir() for folder in folders)

    gone = app_client.delete(url, params={"confirm": "Kim Lee"}, headers=WRITE)
    assert gone.status_code == 204 and gone.content == b""
    assert not any(folder.exists() for folder in folders)
    assert app_client.get(url).status_code == 404
    assert [s["id"] for s in app_client.get("/api/sessions").json()] == [lous]
    assert (tmp_path / "data" / "sessions" / lous).is_dir()
    with sqlite3.connect(storage.db_path) as db:
        for table in ("checkins", "timed_tests"):
            left = {row[0] for row in db.execute(f"SELECT session_id FROM {table}")}
            assert left == {lous}, table
    assert [p["name"] for p in app_client.get("/api/people").json()] == ["Lou"]


def test_a_person_with_a_running_session_is_not_deleted(app_client: TestClient) -> None:
    storage = storage_of(app_client)
    max_ = add_person(app_client, name="Max")
    running = storage.create_session("live", "beginner", None, "camera", "recording",
                                     person_id=max_["id"])
    busy = app_client.delete(f"/api/people/{max_['id']}", params={"confirm": "Max"},
                             headers=WRITE)
    assert busy.status_code == 409 and "still recording" in busy.json()["detail"]
    assert storage.get_session(running.id) is not None
    assert Path(running.out_dir).is_dir()


# ---------------------------------------------------------------------------- migration


def test_a_library_from_before_people_opens_with_every_session_under_me(tmp_path: Path) -> None:
    db_path = tmp_path / "posecoach.db"
    sessions = tmp_path / "sessions"
    old: dict[str, dict[str, Any]] = {}
    with sqlite3.connect(db_path) as db:
        db.executescript(OLD_SCHEMA)
        for n, (kind, status, summary) in enumerate([
            ("live", "done", {**GOOD, "duration_s": 61.5}),
            ("upload", "done", {**GOOD, "duration_s": 12.0, "timed_test": timed(7.25)}),
            ("upload", "failed", None),
            ("live", "interrupted", None),
        ]):
            session_id = f"{n + 1:x}" * 32
            (sessions / session_id).mkdir(parents=True)
            row = {
                "id": session_id, "kind": kind, "created_at": f"2024-12-0{n + 1}T08:00:00+00:00",
                "source_name": f"clip {n}.mp4", "level": "beginner", "height_cm": 168.0 + n,
                "status": status, "duration_s": summary["duration_s"] if summary else None,
                "out_dir": str(sessions / session_id),
                "summary_json": json.dumps(summary) if summary else None,
                "error": None if summary else "the analysis failed", "missing": None,
                "recoveries": 0,
            }
            db.execute(f"INSERT INTO sessions ({', '.join(row)}) VALUES "
                       f"({', '.join('?' * len(row))})", tuple(row.values()))
            old[session_id] = row
        db.execute("INSERT INTO checkins (session_id, pain, score, created_at) VALUES"
                   " (?, 'soreness', 2, '2024-12-01T09:00:00+00:00')", ("1" * 32,))

    storage = Storage(db_path, tmp_path)
    records = {r.id: r for r in storage.list_sessions()}
    assert set(records) == set(old)
    (me,) = storage.list_people()
    assert me.name == "Me" and me.sessions == len(old)
    for session_id, row in old.items():
        record = records[session_id]
        for key in ("kind", "created_at", "source_name", "level", "height_cm", "status",
                    "duration_s", "out_dir", "error"):
            assert getattr(record, key) == (Path(row[key]) if key == "out_dir" else row[key]), key
        assert record.person_id == me.id and record.person_name == "Me"
        stored = json.loads(row["summary_json"]) if row["summary_json"] else None
        assert (record.summary.to_json()["duration_s"] if record.summary else None) == (
            stored["duration_s"] if stored else None)
    assert records["1" * 32].checkin.pain == "soreness"
    (test,) = storage.timed_tests(me.id)
    assert test.session_id == "2" * 32 and test.time_s == 7.25

    again = Storage(db_path, tmp_path)
    again.create_session("live", "beginner", None, "camera", "recording")
    assert [p.name for p in again.list_people()] == ["Me"], "Me is created once"
    assert again.list_people()[0].sessions == len(old) + 1


def test_a_fresh_library_creates_me_on_first_need(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "posecoach.db", tmp_path)
    assert storage.list_people() == []
    record = storage.create_session("live", "beginner", None, "camera", "recording")
    (me,) = storage.list_people()
    assert me.name == "Me" and record.person_id == me.id
    nora = storage.create_person("Nora")
    later = storage.create_session("live", "beginner", None, "camera", "recording")
    assert later.person_id == me.id, "the oldest person is the default"
    mine = storage.create_session("live", "beginner", None, "camera", "recording",
                                  person_id=nora.id)
    assert mine.person_name == "Nora"
    assert [r.id for r in storage.list_sessions(person_id=nora.id)] == [mine.id]
