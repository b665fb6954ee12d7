"""Storage: schema on first use, WAL, and settling sessions a crash left unfinished."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from posecoach.outputs.summary import SessionSummary
from posecoach.server.storage import Storage, valid_id


def test_schema_is_created_on_first_use_in_wal_mode(tmp_path: Path) -> None:
    db_path = tmp_path / "nested" / "posecoach.db"
    storage = Storage(db_path, tmp_path)
    assert db_path.is_file()
    assert storage.journal_mode() == "wal"
    with sqlite3.connect(db_path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        columns = {row[1] for row in db.execute("PRAGMA table_info(sessions)")}
    assert {"sessions", "checkins"} <= tables
    assert {
        "id", "kind", "created_at", "source_name", "level", "height_cm", "status", "duration_s",
        "out_dir", "summary_json", "error",
    } <= columns
    Storage(db_path, tmp_path)  # opening again keeps the schema


def test_sessions_round_trip_with_latest_checkin(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "db.sqlite", tmp_path)
    record = storage.create_session("live", "beginner", 172.0, "browser camera", "recording")
    assert valid_id(record.id)
    assert Path(record.out_dir) == tmp_path / "sessions" / record.id
    assert Path(record.out_dir).is_dir()
    storage.update_session(record.id, status="done",
                           summary=SessionSummary(duration_s=61.5), duration_s=61.5)
    storage.add_checkin(record.id, "soreness", 4)
    storage.add_checkin(record.id, "none", 0)
    got = storage.get_session(record.id)
    assert got is not None
    assert got.status == "done" and got.summary == SessionSummary(duration_s=61.5)
    assert got.checkin.pain == "none"
    assert [s.id for s in storage.list_sessions(status="done")] == [record.id]
    assert storage.get_session("../../etc/passwd") is None


def test_unfinished_sessions_are_settled_on_start(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "db.sqlite", tmp_path)
    lost = storage.create_session("live", "beginner", None, "browser camera", "recording")
    queued = storage.create_session("upload", "beginner", None, "walk.mp4", "analysing")
    written = storage.create_session("live", "beginner", None, "browser camera", "recording")
    rebuilt = storage.create_session("live", "beginner", None, "browser camera", "recording")
    finished = storage.create_session("upload", "beginner", None, "done.mp4", "done")
    Path(written.out_dir, "summary.json").write_text(json.dumps({"duration_s": 12.0}))

    def finalise(record: dict) -> SessionSummary | None:
        return SessionSummary(duration_s=3.0) if record.id == rebuilt.id else None

    reopened = Storage(tmp_path / "db.sqlite", tmp_path)
    settled = reopened.recover(finalise)
    assert set(settled) == {lost.id, queued.id, written.id, rebuilt.id}
    status = {s.id: s for s in reopened.list_sessions()}
    assert status[lost.id].status == "interrupted"
    assert "stopped" in status[lost.id].error
    assert status[queued.id].status == "interrupted"
    assert status[written.id].status == "done"
    assert status[written.id].duration_s == 12.0
    assert status[rebuilt.id].status == "done"
    assert status[finished.id].status == "done"
    assert reopened.recover(finalise) == []


def test_an_interrupted_upload_is_analysed_again_only_once(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "db.sqlite", tmp_path)
    upload = storage.create_session("upload", "beginner", None, "walk.mp4", "analysing")
    live = storage.create_session("live", "beginner", None, "browser camera", "recording")
    offered: list[str] = []

    def resume(record: dict) -> bool:
        offered.append(record.id)
        return True

    assert set(storage.recover(resume=resume)) == {upload.id, live.id}
    assert offered == [upload.id], "only uploads have a clip to analyse again"
    again = storage.get_session(upload.id)
    assert again is not None and again.status == "analysing"
    assert again.recoveries == 1

    # Stopped again during the second analysis: settled with what is there.
    reopened = Storage(tmp_path / "db.sqlite", tmp_path)
    assert reopened.recover(resume=resume) == [upload.id]
    assert offered == [upload.id]
    settled = reopened.get_session(upload.id)
    assert settled is not None and settled.status == "interrupted"


def test_missing_outputs_are_recorded_and_cleared(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "db.sqlite", tmp_path)
    record = storage.create_session("live", "beginner", None, "browser camera", "recording")
    Path(record.out_dir, "summary.json").write_text(json.dumps({"duration_s": 5.0}))

    def check(out_dir: Path) -> list[str]:
        return ["annotated.mp4"]

    assert storage.recover(check=check) == [record.id]
    got = storage.get_session(record.id)
    assert got is not None and got.status == "done"
    assert got.missing == ("annotated.mp4",)
    assert any("annotated.mp4 was not completed" in w for w in got.summary.warnings)
    storage.update_session(record.id, missing=[])
    cleared = storage.get_session(record.id)
    assert cleared is not None and cleared.missing == ()


def test_a_database_from_an_older_version_gains_the_new_columns(tmp_path: Path) -> None:
    db_path = tmp_path / "posecoach.db"
    with sqlite3.connect(db_path) as db:
        db.executescript(
            """
            CREATE TABLE sessions (
                id TEXT PRIMARY KEY, kind TEXT NOT NULL, created_at TEXT NOT NULL,
                source_name TEXT NOT NULL DEFAULT '', level TEXT NOT NULL, height_cm REAL,
                status TEXT NOT NULL, duration_s REAL, out_dir TEXT NOT NULL,
                summary_json TEXT, error TEXT
            );
            """
        )
        db.execute(
            "INSERT INTO sessions (id, kind, created_at, level, status, out_dir) VALUES"
            " (?, 'live', '2025-01-01T00:00:00+00:00', 'beginner', 'done', ?)",
            ("a" * 32, str(tmp_path / "sessions" / ("a" * 32))),
        )
    storage = Storage(db_path, tmp_path)
    with sqlite3.connect(db_path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(sessions)")}
    assert {"missing", "recoveries"} <= columns
    old = storage.get_session("a" * 32)
    assert old is not None and old.missing == () and old.recoveries == 0


def test_a_finished_session_with_a_timed_test_is_listed_whichever_way_it_finished(
    tmp_path: Path,
) -> None:
    from posecoach.coach.timed_test import TimedTestResult

    storage = Storage(tmp_path / "db.sqlite", tmp_path)
    person = storage.create_person("Rita", height_cm=165.0)
    test = TimedTestResult(timed=True, time_s=5.8, uncertainty_s=0.1, scale_source="height")
    finished = storage.create_session("upload", "beginner", 165.0, "a.mp4", "analysing",
                                      person_id=person.id)
    storage.update_session(finished.id, status="done",
                           summary=SessionSummary(duration_s=9.0, timed_test=test))
    # A live session the server stopped during: settled on start from its summary.json.
    crashed = storage.create_session("live", "beginner", 165.0, "camera", "recording",
                                     person_id=person.id)
    stored = SessionSummary(duration_s=8.0, timed_test=TimedTestResult(reason="no still start"))
    Path(crashed.out_dir, "summary.json").write_text(json.dumps(stored.to_json()))
    assert Storage(tmp_path / "db.sqlite", tmp_path).recover() == [crashed.id]

    listed = storage.timed_tests(person.id)
    assert [(t.session_id, t.timed, t.time_s) for t in listed] == [
        (finished.id, True, 5.8), (crashed.id, False, None)]
    assert listed[0].scale_source == "height" and listed[1].reason == "no still start"
    # Marked done again without a test (a re-analysis): the row goes.
    storage.update_session(finished.id, status="done", summary=SessionSummary(duration_s=9.0))
    assert [t.session_id for t in storage.timed_tests(person.id)] == [crashed.id]
    assert storage.timed_tests(storage.create_person("Sam").id) == []
