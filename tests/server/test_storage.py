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
    assert valid_id(record["id"])
    assert Path(record["out_dir"]) == tmp_path / "sessions" / record["id"]
    assert Path(record["out_dir"]).is_dir()
    storage.update_session(record["id"], status="done",
                           summary=SessionSummary(duration_s=61.5), duration_s=61.5)
    storage.add_checkin(record["id"], "soreness", 4)
    storage.add_checkin(record["id"], "none", 0)
    got = storage.get_session(record["id"])
    assert got is not None
    assert got["status"] == "done" and got["summary"] == SessionSummary(duration_s=61.5)
    assert got["checkin"]["pain"] == "none"
    assert [s["id"] for s in storage.list_sessions(status="done")] == [record["id"]]
    assert storage.get_session("../../etc/passwd") is None


def test_unfinished_sessions_are_settled_on_start(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "db.sqlite", tmp_path)
    lost = storage.create_session("live", "beginner", None, "browser camera", "recording")
    queued = storage.create_session("upload", "beginner", None, "walk.mp4", "analysing")
    written = storage.create_session("live", "beginner", None, "browser camera", "recording")
    rebuilt = storage.create_session("live", "beginner", None, "browser camera", "recording")
    finished = storage.create_session("upload", "beginner", None, "done.mp4", "done")
    Path(written["out_dir"], "summary.json").write_text(json.dumps({"duration_s": 12.0}))

    def finalise(record: dict) -> SessionSummary | None:
        return SessionSummary(duration_s=3.0) if record["id"] == rebuilt["id"] else None

    reopened = Storage(tmp_path / "db.sqlite", tmp_path)
    settled = reopened.recover(finalise)
    assert set(settled) == {lost["id"], queued["id"], written["id"], rebuilt["id"]}
    status = {s["id"]: s for s in reopened.list_sessions()}
    assert status[lost["id"]]["status"] == "interrupted"
    assert "stopped" in status[lost["id"]]["error"]
    assert status[queued["id"]]["status"] == "interrupted"
    assert status[written["id"]]["status"] == "done"
    assert status[written["id"]]["duration_s"] == 12.0
    assert status[rebuilt["id"]]["status"] == "done"
    assert status[finished["id"]]["status"] == "done"
    assert reopened.recover(finalise) == []
