"""Session and check-in records in SQLite (WAL mode), created on first use."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

SessionKind = Literal["live", "upload"]
SessionStatus = Literal["recording", "analysing", "done", "failed", "interrupted"]
Pain = Literal["none", "soreness", "pain"]
UNFINISHED: tuple[SessionStatus, ...] = ("recording", "analysing")
_ID_RE = re.compile(r"^[0-9a-f]{32}$")

SCHEMA = """
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
    error TEXT
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

RecoverFn = Callable[[dict[str, Any]], "dict[str, Any] | None"]


def new_id() -> str:
    """A fresh session or job id (uuid4, hex)."""
    return uuid.uuid4().hex


def valid_id(value: str) -> bool:
    """True for strings shaped like ids from `new_id`."""
    return bool(_ID_RE.match(value))


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class Storage:
    """Sessions and check-ins in one SQLite file: a short connection per call, thread-safe."""

    def __init__(self, db_path: Path, data_dir: Path) -> None:
        self.db_path = Path(db_path)
        self.data_dir = Path(data_dir)
        self.sessions_dir = self.data_dir / "sessions"
        self._lock = threading.Lock()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.sessions_dir.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.db_path, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys=ON")
        try:
            with db:
                yield db
        finally:
            db.close()

    def journal_mode(self) -> str:
        """The database's journal mode ('wal' once created)."""
        with self._connect() as db:
            return str(db.execute("PRAGMA journal_mode").fetchone()[0])

    def session_dir(self, session_id: str) -> Path:
        """The output folder of a session."""
        return self.sessions_dir / session_id

    def create_session(
        self,
        kind: SessionKind,
        level: str,
        height_cm: float | None,
        source_name: str,
        status: SessionStatus,
    ) -> dict[str, Any]:
        """Insert a session with a new id and an (empty) output folder; return its record."""
        session_id = new_id()
        out_dir = self.session_dir(session_id)
        out_dir.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(
                "INSERT INTO sessions (id, kind, created_at, source_name, level, height_cm,"
                " status, out_dir) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, kind, utc_now(), source_name, level, height_cm, status, str(out_dir)),
            )
        record = self.get_session(session_id)
        assert record is not None
        return record

    def update_session(
        self,
        session_id: str,
        *,
        status: SessionStatus | None = None,
        summary: dict[str, Any] | None = None,
        duration_s: float | None = None,
        error: str | None = None,
    ) -> None:
        """Set the given fields of a session."""
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = status
        if summary is not None:
            values["summary_json"] = json.dumps(summary)
        if duration_s is not None:
            values["duration_s"] = duration_s
        if error is not None:
            values["error"] = error
        if not values:
            return
        assignments = ", ".join(f"{key} = ?" for key in values)
        with self._connect() as db:
            db.execute(
                f"UPDATE sessions SET {assignments} WHERE id = ?", (*values.values(), session_id)
            )

    def get_session(self, session_id: str) -> dict[str, Any] | None:
        """A session record with its parsed summary and latest check-in, or None."""
        if not valid_id(session_id):
            return None
        with self._connect() as db:
            row = db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if row is None:
                return None
            checkins = self._checkins(db, [session_id])
        return _record(row, checkins.get(session_id))

    def list_sessions(self, status: SessionStatus | None = None) -> list[dict[str, Any]]:
        """All sessions (or those with `status`), newest first, with their latest check-in."""
        query = "SELECT * FROM sessions"
        args: tuple[Any, ...] = ()
        if status is not None:
            query += " WHERE status = ?"
            args = (status,)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY created_at DESC, rowid DESC", args).fetchall()
            checkins = self._checkins(db, [row["id"] for row in rows])
        return [_record(row, checkins.get(row["id"])) for row in rows]

    def add_checkin(self, session_id: str, pain: Pain, score: int) -> dict[str, Any]:
        """Store a check-in for a session; the latest one counts."""
        created_at = utc_now()
        with self._connect() as db:
            db.execute(
                "INSERT INTO checkins (session_id, pain, score, created_at) VALUES (?, ?, ?, ?)",
                (session_id, pain, score, created_at),
            )
        return {"pain": pain, "score": score, "created_at": created_at}

    @staticmethod
    def _checkins(db: sqlite3.Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        rows = db.execute(
            "SELECT c.session_id, c.pain, c.score, c.created_at FROM checkins AS c JOIN"
            " (SELECT MAX(id) AS id FROM checkins GROUP BY session_id) AS latest"
            " ON c.id = latest.id"
        ).fetchall()
        wanted = set(ids)
        return {
            row["session_id"]: {
                "pain": row["pain"],
                "score": row["score"],
                "created_at": row["created_at"],
            }
            for row in rows
            if row["session_id"] in wanted
        }

    def recover(self, finalise: RecoverFn | None = None) -> list[str]:
        """Settle sessions a crash left 'recording' or 'analysing'; return their ids.

        A session whose `summary.json` was written is marked 'done' with it. Otherwise
        `finalise(record)` may rebuild the outputs and return the summary; when it cannot,
        the session is marked 'interrupted'.
        """
        with self._lock:
            stale = [
                record
                for status in UNFINISHED
                for record in self.list_sessions(status=status)
            ]
            for record in stale:
                summary = _read_summary(Path(record["out_dir"]))
                if summary is None and finalise is not None:
                    try:
                        summary = finalise(record)
                    except Exception:  # noqa: BLE001 - recovery is best effort
                        summary = None
                if summary is not None:
                    self.update_session(
                        record["id"],
                        status="done",
                        summary=summary,
                        duration_s=_as_float(summary.get("duration_s")),
                    )
                else:
                    self.update_session(
                        record["id"],
                        status="interrupted",
                        error="the server stopped before this session was finalised",
                    )
        return [record["id"] for record in stale]


def _as_float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _read_summary(out_dir: Path) -> dict[str, Any] | None:
    path = out_dir / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _record(row: sqlite3.Row, checkin: dict[str, Any] | None) -> dict[str, Any]:
    record = dict(row)
    record.pop("summary_json")
    record["summary"] = json.loads(row["summary_json"]) if row["summary_json"] else None
    record["checkin"] = checkin
    return record
