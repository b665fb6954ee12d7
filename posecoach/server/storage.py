"""Session and check-in records in SQLite (WAL mode), created on first use.

A full disk never makes the records unreadable: reads fall back to a connection that needs no
shared-memory file, and writes raise `OutputError` (ENOSPC) until space is freed.
"""

from __future__ import annotations

import errno
import json
import logging
import re
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from posecoach.errors import OutputError, describe_os_error
from posecoach.outputs.files import SessionFiles
from posecoach.outputs.summary import SessionSummary, as_summary

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

RecoverFn = Callable[[dict[str, Any]], "SessionSummary | None"]
CheckFn = Callable[[Path], list[str]]
ResumeFn = Callable[[dict[str, Any]], bool]
MAX_RESUMES = 1
"""How often an interrupted upload is analysed again from its clip on start; a clip that
stops the server every time is then settled with what it left."""
ADDED_COLUMNS = {"missing": "TEXT", "recoveries": "INTEGER NOT NULL DEFAULT 0"}
"""Columns newer than the first schema, added to older databases when opened."""
T = TypeVar("T")
log = logging.getLogger(__name__)

LOW_SPACE_BYTES = 1024**2
"""Below this much free space, a disk error from SQLite is taken to mean the disk is full."""
_SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CANTOPEN = 10, 13, 14
DISK_FULL_MESSAGE = "the disk is full: nothing can be saved until space is freed"


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
        self._schema_ready = False
        self.read_only = False
        """True while the disk is full: records are read, nothing is written."""
        try:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            self.sessions_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(exc.errno, describe_os_error(exc, self.sessions_dir)) from exc
        try:
            with self._connect():
                pass
        except OutputError as exc:
            if not self.read_only:
                log.warning("%s; serving the session history read-only", exc)

    @contextmanager
    def _open(self, no_shm: bool = False) -> Iterator[sqlite3.Connection]:
        """A short connection in a transaction.

        With `no_shm` it reads only, under exclusive locking, which keeps the WAL index in
        memory: no `-shm` file has to be created or grown, so it works on a full disk. A
        database that was never created then reads as empty.
        """
        if no_shm and not _has_content(self.db_path):
            db = sqlite3.connect(":memory:")
            db.executescript(SCHEMA)
        else:
            db = sqlite3.connect(self.db_path, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            if no_shm:
                db.execute("PRAGMA locking_mode=EXCLUSIVE")
                db.execute("PRAGMA query_only=ON")
            db.execute("PRAGMA foreign_keys=ON")
            with db:
                yield db
        finally:
            db.close()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for writing; raises `OutputError` when the disk is full."""
        try:
            with self._open() as db:
                if not self._schema_ready:
                    db.execute("PRAGMA journal_mode=WAL")
                    db.executescript(SCHEMA)
                    _add_columns(db)
                    self._schema_ready = True
                yield db
        except sqlite3.Error as exc:
            if not _disk_trouble(exc):
                raise
            raise self._unwritable(exc) from exc
        if self.read_only:
            self.read_only = False
            log.warning("there is space on the disk again: sessions are saved again")

    def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """`query` on a normal connection, or, when the disk is full, on one that needs no
        `-shm` file."""
        try:
            with self._open() as db:
                return query(db)
        except sqlite3.Error as exc:
            if not _disk_trouble(exc) and self._schema_ready:
                raise
        try:
            with self._open(no_shm=True) as db:
                return query(db)
        except sqlite3.Error as exc:
            if not _disk_trouble(exc):
                raise
            raise OutputError(
                errno.EIO, f"the session history cannot be read: {exc}"
            ) from exc

    def _unwritable(self, exc: sqlite3.Error) -> OutputError:
        """The error for a write SQLite refused; a full disk switches to read-only."""
        if _sqlite_code(exc) == _SQLITE_FULL or self.disk_full():
            if not self.read_only:
                self.read_only = True
                log.warning(
                    "the disk holding %s is full: serving read-only until space is freed",
                    self.data_dir,
                )
            return OutputError(errno.ENOSPC, DISK_FULL_MESSAGE)
        return OutputError(errno.EIO, f"the session history cannot be written: {exc}")

    def disk_full(self) -> bool:
        """True when the disk holding the data folder has (almost) no space left."""
        try:
            return shutil.disk_usage(self.data_dir).free < LOW_SPACE_BYTES
        except OSError:
            return False

    def journal_mode(self) -> str:
        """The database's journal mode ('wal' once created)."""
        return self._read(lambda db: str(db.execute("PRAGMA journal_mode").fetchone()[0]))

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
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise OutputError(errno.ENOSPC, DISK_FULL_MESSAGE) from exc
            raise OutputError(exc.errno, describe_os_error(exc, out_dir)) from exc
        try:
            with self._connect() as db:
                db.execute(
                    "INSERT INTO sessions (id, kind, created_at, source_name, level, height_cm,"
                    " status, out_dir) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (session_id, kind, utc_now(), source_name, level, height_cm, status,
                     str(out_dir)),
                )
        except OutputError:
            with suppress(OSError):
                out_dir.rmdir()
            raise
        record = self.get_session(session_id)
        assert record is not None
        return record

    def update_session(
        self,
        session_id: str,
        *,
        status: SessionStatus | None = None,
        summary: SessionSummary | None = None,
        duration_s: float | None = None,
        error: str | None = None,
        missing: list[str] | None = None,
    ) -> None:
        """Set the given fields of a session (`missing`: the output files that are absent or
        incomplete; an empty list clears it)."""
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = status
        if summary is not None:
            values["summary_json"] = json.dumps(summary.to_json())
        if duration_s is not None:
            values["duration_s"] = duration_s
        if error is not None:
            values["error"] = error
        if missing is not None:
            values["missing"] = json.dumps(sorted(set(missing))) if missing else None
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

        def query(db: sqlite3.Connection) -> dict[str, Any] | None:
            row = db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if row is None:
                return None
            return _record(row, self._checkins(db, [session_id]).get(session_id))

        return self._read(query)

    def list_sessions(self, status: SessionStatus | None = None) -> list[dict[str, Any]]:
        """All sessions (or those with `status`), newest first, with their latest check-in."""
        query = "SELECT * FROM sessions"
        args: tuple[Any, ...] = ()
        if status is not None:
            query += " WHERE status = ?"
            args = (status,)

        def rows_of(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(query + " ORDER BY created_at DESC, rowid DESC", args).fetchall()
            checkins = self._checkins(db, [row["id"] for row in rows])
            return [_record(row, checkins.get(row["id"])) for row in rows]

        return self._read(rows_of)

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

    def recover(
        self,
        finalise: RecoverFn | None = None,
        check: CheckFn | None = None,
        resume: ResumeFn | None = None,
    ) -> list[str]:
        """Settle sessions a crash left 'recording' or 'analysing'; return their ids.

        The session's outputs are checked with `check(out_dir)` (the names of the missing or
        incomplete ones): a session whose `summary.json` was written and whose outputs are all
        complete is 'done'. Otherwise an upload is offered to `resume(record)`, at most
        `MAX_RESUMES` times: when it queues the analysis again from the kept clip, the session
        stays 'analysing'. Any other session keeps its summary when every file written with it
        is complete; otherwise `finalise(record)` may rebuild them and return the summary. A
        session with a summary is 'done', with what is still unusable recorded as `missing`;
        without one it is 'interrupted'. While the disk is full nothing is settled (the next
        start does it).
        """
        if self.read_only:
            return []
        settled: list[str] = []
        with self._lock:
            stale = [
                record
                for status in UNFINISHED
                for record in self.list_sessions(status=status)
            ]
            for record in stale:
                if self.read_only:
                    break
                out_dir = Path(record["out_dir"])
                summary = _read_summary(out_dir)
                missing = check(out_dir) if check is not None else []
                try:
                    if (summary is not None and not missing) or not self._resume(record, resume):
                        self._settle(record, summary, missing, finalise, check)
                except OutputError:
                    break
                settled.append(record["id"])
        return settled

    def _resume(self, record: dict[str, Any], resume: ResumeFn | None) -> bool:
        """Offer an interrupted upload to `resume`; True when its analysis was queued again."""
        if resume is None or record["kind"] != "upload":
            return False
        if record.get("recoveries", 0) >= MAX_RESUMES:
            return False
        with self._connect() as db:
            db.execute(
                "UPDATE sessions SET recoveries = recoveries + 1 WHERE id = ?", (record["id"],)
            )
        try:
            return bool(resume(record))
        except Exception:  # noqa: BLE001 - recovery is best effort
            log.warning("the analysis of %s could not be queued again", record["id"],
                        exc_info=True)
            return False

    def _settle(
        self,
        record: dict[str, Any],
        summary: SessionSummary | None,
        missing: list[str],
        finalise: RecoverFn | None,
        check: CheckFn | None,
    ) -> None:
        """Mark one unfinished session 'done' (with what is missing) or 'interrupted'."""
        out_dir = Path(record["out_dir"])
        rebuild = summary is None or bool(REBUILT_WITH_SUMMARY.intersection(missing))
        if rebuild and finalise is not None:
            try:
                rebuilt = finalise(record)
            except Exception:  # noqa: BLE001 - recovery is best effort
                log.warning("session %s could not be rebuilt", record["id"], exc_info=True)
                rebuilt = None
            if rebuilt is not None:
                summary = rebuilt
                missing = check(out_dir) if check is not None else []
        if summary is None:
            self.update_session(
                record["id"],
                status="interrupted",
                error="the server stopped before this session was finalised",
                missing=missing,
            )
            return
        if missing:
            summary = replace(summary, warnings=(*summary.warnings, _missing_words(missing)))
        self.update_session(
            record["id"],
            status="done",
            summary=summary,
            duration_s=summary.duration_s,
            missing=missing,
        )


REBUILT_WITH_SUMMARY = frozenset(
    {SessionFiles.SUMMARY, SessionFiles.REPORT, SessionFiles.METRICS}
)
"""Outputs the analysis of the recorded landmarks writes again (with the summary)."""


def _missing_words(missing: list[str]) -> str:
    """The warning a recovered session carries about the files it lacks."""
    names = sorted(set(missing))
    listed = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
    verbs = ("were", "are") if len(names) > 1 else ("was", "is")
    return (
        f"The server stopped before this session was finished: {listed} {verbs[0]} not "
        f"completed and {verbs[1]} not offered."
    )


def _add_columns(db: sqlite3.Connection) -> None:
    """Add the columns a database made by an older version lacks."""
    have = {row[1] for row in db.execute("PRAGMA table_info(sessions)")}
    for name, kind in ADDED_COLUMNS.items():
        if name not in have:
            db.execute(f"ALTER TABLE sessions ADD COLUMN {name} {kind}")


def _sqlite_code(exc: sqlite3.Error) -> int:
    """The primary SQLite result code of an error (0 when unknown)."""
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def _has_content(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def _disk_trouble(exc: sqlite3.Error) -> bool:
    """True for SQLite errors a full or failing disk causes (I/O, full, cannot open)."""
    return _sqlite_code(exc) in (_SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CANTOPEN)


def _read_summary(out_dir: Path) -> SessionSummary | None:
    path = SessionFiles(out_dir).summary
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return SessionSummary.from_json(data) if isinstance(data, dict) else None


def _record(row: sqlite3.Row, checkin: dict[str, Any] | None) -> dict[str, Any]:
    record = dict(row)
    record.pop("summary_json")
    record["summary"] = as_summary(json.loads(row["summary_json"])) if row["summary_json"] else None
    record["checkin"] = checkin
    record["missing"] = _missing_list(record.get("missing"))
    record["recoveries"] = int(record.get("recoveries") or 0)
    return record


def _missing_list(stored: str | None) -> list[str]:
    try:
        names = json.loads(stored) if stored else []
    except ValueError:
        return []
    return [str(name) for name in names] if isinstance(names, list) else []
