"""Sessions, their check-ins and timed tests.

A session's end (done, failed, interrupted) is never lost to a locked library: when another
writer holds the file past `BUSY_WAIT_S`, the write is kept and retried in the background
until the lock goes, so the library shows the session finished without a restart.
"""

from __future__ import annotations

import errno
import json
import logging
import sqlite3
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from posecoach.errors import Busy, Conflict, NotFound, OutputError, describe_os_error
from posecoach.outputs.summary import SessionSummary, as_summary
from posecoach.server.storage.db import (
    DISK_FULL_MESSAGE,
    default_person_id,
    has_person_column,
    has_table,
    new_id,
    store_stamps,
    store_timed_test,
    utc_now,
    valid_id,
)
from posecoach.server.storage.people import NoSuchPerson, People, clean_name
from posecoach.server.storage.records import (
    UNFINISHED,
    Pain,
    SessionKind,
    SessionRecord,
    SessionStatus,
    StoredCheckIn,
    TimedTestRow,
)
from posecoach.settings import Settings

FINAL: tuple[SessionStatus, ...] = ("done", "failed", "interrupted")
RETRY_EVERY_S = 0.5
"""How often a session's end that met a locked library is written again."""
RETRY_FOR_S = 3600.0
"""How long it is retried; past that, the next start settles the session."""
log = logging.getLogger(__name__)
_SETTLED = f"status NOT IN ({', '.join(repr(status) for status in UNFINISHED)})"
"""SQL: the session is neither being recorded nor being analysed."""


class NoSuchSession(NotFound):
    """A session id that is not in the library."""

    def __init__(self, message: str = "no such session") -> None:
        super().__init__(message)


class SessionRunning(Conflict):
    """A session that cannot be changed now: it is still being recorded or analysed."""


_RUNNING_WORDS: dict[str, str] = {"recording": "being recorded", "analysing": "being analysed"}


@dataclass(frozen=True)
class _SessionChange:
    """The fields of one session to set (None: leave as it is)."""

    status: SessionStatus | None
    summary_json: str | None
    duration_s: float | None
    error: str | None
    missing_json: str | None
    clear_missing: bool

    def columns(self) -> list[tuple[str, str | float | None]]:
        values: list[tuple[str, str | float | None]] = []
        for column, value in (("status", self.status), ("summary_json", self.summary_json),
                              ("duration_s", self.duration_s), ("error", self.error)):
            if value is not None:
                values.append((column, value))
        if self.missing_json is not None or self.clear_missing:
            values.append(("missing", self.missing_json))
        return values


class Sessions(People):
    """Sessions with their latest check-in, and the timed tests listed from their summaries."""

    def __init__(self, db_path: Path, data_dir: Path) -> None:
        super().__init__(db_path, data_dir)
        self._pending: dict[str, list[_SessionChange]] = {}
        self._pending_lock = threading.Lock()
        self._pending_done = threading.Condition(self._pending_lock)

    def create_session(
        self,
        kind: SessionKind,
        level: str,
        height_cm: float | None,
        source_name: str,
        status: SessionStatus,
        person_id: str | None = None,
        settings: Settings | None = None,
    ) -> SessionRecord:
        """Insert a session of `person_id` (None: the default person) with a new id and an
        (empty) output folder; return its record. `settings` (the session's own, a timed test's
        floor marks included) are kept, so a session a stop cut short is finished with them.

        Raises `NoSuchPerson` for an id that is not in the library.
        """
        if person_id is not None and self.get_person(person_id) is None:
            raise NoSuchPerson()
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
                owner = person_id if person_id is not None else default_person_id(db)
                db.execute(
                    "INSERT INTO sessions (id, kind, created_at, source_name, level, height_cm,"
                    " status, out_dir, person_id, settings_json)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (session_id, kind, utc_now(), source_name, level, height_cm, status,
                     str(out_dir), owner,
                     None if settings is None else settings.model_dump_json()),
                )
        except (OutputError, sqlite3.IntegrityError) as exc:
            with suppress(OSError):
                out_dir.rmdir()
            if isinstance(exc, sqlite3.IntegrityError):
                raise NoSuchPerson() from exc
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
        incomplete; an empty list clears it).

        A session marked 'done' whose summary has a timed test gets its row in `timed_tests`,
        whichever way it finished (live, upload, recovery, command line). A session's end that
        finds the library locked is written in the background once the lock goes (see
        `wait_for_pending`); any other write then raises `Busy`.
        """
        change = _SessionChange(
            status=status,
            summary_json=None if summary is None else json.dumps(summary.to_json()),
            duration_s=duration_s,
            error=error,
            missing_json=json.dumps(sorted(set(missing))) if missing else None,
            clear_missing=missing is not None and not missing,
        )
        if not change.columns():
            return
        with self._pending_lock:
            queued = self._pending.get(session_id)
            if queued is not None:
                queued.append(change)
                return
        try:
            self._write_change(session_id, change)
        except Busy:
            if status not in FINAL:
                raise
            self._retry_later(session_id, change)

    def _write_change(self, session_id: str, change: _SessionChange) -> None:
        values = change.columns()
        assignments = ", ".join(f"{column} = ?" for column, _ in values)
        with self._connect() as db:
            db.execute(
                f"UPDATE sessions SET {assignments} WHERE id = ?",
                (*(value for _, value in values), session_id),
            )
            if change.status == "done":
                store_timed_test(db, session_id)
                store_stamps(db, session_id)

    def _retry_later(self, session_id: str, change: _SessionChange) -> None:
        """Keep writing a session's end (and any later change to it) until the lock goes."""
        with self._pending_lock:
            self._pending.setdefault(session_id, []).append(change)
        log.warning("the library is locked: the end of session %s is saved once it is free",
                    session_id)

        def retry() -> None:
            deadline = time.monotonic() + RETRY_FOR_S
            while True:
                time.sleep(RETRY_EVERY_S)
                with self._pending_lock:
                    changes = list(self._pending.get(session_id, []))
                try:
                    for item in changes:
                        self._write_change(session_id, item)
                except Busy:
                    if time.monotonic() < deadline:
                        continue
                    log.error("the end of session %s could not be saved: the library stayed "
                              "locked; the next start settles it", session_id)
                except Exception:  # noqa: BLE001 - the next start settles the session
                    log.exception("the end of session %s could not be saved", session_id)
                with self._pending_lock:
                    left = self._pending.get(session_id, [])
                    del left[:len(changes)]
                    if left and time.monotonic() < deadline:
                        continue
                    self._pending.pop(session_id, None)
                    self._pending_done.notify_all()
                log.info("the end of session %s is saved", session_id)
                return

        threading.Thread(target=retry, name=f"save-{session_id[:8]}", daemon=True).start()

    def wait_for_pending(self, timeout_s: float) -> bool:
        """Wait until every session's end kept for a locked library is written; False when
        some are still waiting after `timeout_s`."""
        with self._pending_lock:
            return self._pending_done.wait_for(lambda: not self._pending, timeout_s)

    def discard_session(self, session_id: str) -> bool:
        """Remove a live session that recorded nothing (started, then no frame came): its row
        and its folder, so a start and a drop leave no trace in the library. Only a session
        still 'recording' is removed; True when it was."""
        with self._lock, self._connect() as db:
            row = db.execute("SELECT out_dir FROM sessions WHERE id = ? AND status = ?",
                             (session_id, "recording")).fetchone()
            if row is None:
                return False
            db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        self._remove_folder(session_id, Path(row["out_dir"]))
        return True

    def rename_session(self, session_id: str, name: str | None) -> SessionRecord:
        """Give a finished session a name of the coach's (None or blank: its clip's name again).

        Raises `NoSuchSession`, `SessionRunning` while it is recorded or analysed, or
        `InputError` for a name that cannot be used.
        """
        cleaned = clean_name(name or "", "a session's name") or None
        self._change_settled(session_id, "rename", "name = ?", (cleaned,))
        return self._found(session_id)

    def move_session(self, session_id: str, person_id: str) -> SessionRecord:
        """Put a finished session (its check-ins and timed test with it) under another person.

        Raises `NoSuchSession`, `SessionRunning` while it is recorded or analysed, or
        `NoSuchPerson` for a person who is not in the library.
        """
        if not valid_id(person_id):
            raise NoSuchPerson("no such person to move the session to")
        try:
            self._change_settled(session_id, "move", "person_id = ?", (person_id,))
        except sqlite3.IntegrityError as exc:
            raise NoSuchPerson("no such person to move the session to") from exc
        return self._found(session_id)

    def delete_session(self, session_id: str) -> None:
        """Delete one finished session: its row, check-ins, timed test and folder.

        The row goes first, in one statement that also checks the session is not running
        (another process recording or analysing it makes the statement change nothing), then
        the folder, renamed aside before it is emptied. Raises `NoSuchSession` or
        `SessionRunning`.
        """
        if not valid_id(session_id):
            raise NoSuchSession()
        with self._lock, self._connect() as db:
            row = db.execute("SELECT out_dir, status FROM sessions WHERE id = ?",
                             (session_id,)).fetchone()
            if row is None:
                raise NoSuchSession()
            deleted = db.execute(f"DELETE FROM sessions WHERE id = ? AND {_SETTLED}",
                                 (session_id,)).rowcount
            if not deleted:
                raise _running(row["status"], "delete")
        self._remove_folder(session_id, Path(row["out_dir"]))

    def _change_settled(self, session_id: str, verb: str, assignment: str,
                        values: tuple[str | None, ...]) -> None:
        """Set `assignment` on a session that is neither recorded nor analysed (checked in
        the same statement, so another process starting on it cannot slip in between)."""
        if not valid_id(session_id):
            raise NoSuchSession()
        with self._connect() as db:
            changed = db.execute(
                f"UPDATE sessions SET {assignment} WHERE id = ? AND {_SETTLED}",
                (*values, session_id),
            ).rowcount
            if changed:
                return
            row = db.execute("SELECT status FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise NoSuchSession()
        raise _running(row["status"], verb)

    def _found(self, session_id: str) -> SessionRecord:
        record = self.get_session(session_id)
        if record is None:
            raise NoSuchSession()
        return record

    def get_session(self, session_id: str) -> SessionRecord | None:
        """A session record with its parsed summary and latest check-in, or None."""
        if not valid_id(session_id):
            return None

        def query(db: sqlite3.Connection) -> SessionRecord | None:
            row = db.execute(_sessions_query(db) + " WHERE s.id = ?", (session_id,)).fetchone()
            if row is None:
                return None
            return _record(row, _checkins(db, [session_id]).get(session_id))

        return self._read(query)

    def list_sessions(
        self, status: SessionStatus | None = None, person_id: str | None = None
    ) -> list[SessionRecord]:
        """All sessions (or those with `status`, of `person_id`), newest first, with their
        latest check-in."""
        where: list[str] = []
        args: list[str] = []
        if status is not None:
            where.append("s.status = ?")
            args.append(status)
        if person_id is not None:
            where.append("s.person_id = ?")
            args.append(person_id)
        clause = f" WHERE {' AND '.join(where)}" if where else ""

        def rows_of(db: sqlite3.Connection) -> list[SessionRecord]:
            rows = db.execute(
                _sessions_query(db) + clause + " ORDER BY s.created_at DESC, s.rowid DESC", args
            ).fetchall()
            checkins = _checkins(db, [row["id"] for row in rows])
            return [_record(row, checkins.get(row["id"])) for row in rows]

        return self._read(rows_of)

    def add_checkin(self, session_id: str, pain: Pain, score: int) -> StoredCheckIn:
        """Store a check-in for a session; the latest one counts."""
        checkin = StoredCheckIn(pain=pain, score=score, created_at=utc_now())
        with self._connect() as db:
            db.execute(
                "INSERT INTO checkins (session_id, pain, score, created_at) VALUES (?, ?, ?, ?)",
                (session_id, checkin.pain, checkin.score, checkin.created_at),
            )
        return checkin

    def timed_tests(self, person_id: str) -> list[TimedTestRow]:
        """A person's timed tests, oldest first."""

        def rows_of(db: sqlite3.Connection) -> list[TimedTestRow]:
            if not has_table(db, "timed_tests") or not has_person_column(db):
                return []
            rows = db.execute(
                "SELECT t.session_id, s.created_at, t.timed, t.time_s, t.uncertainty_s,"
                " t.reason, t.population, t.scale_source FROM timed_tests AS t"
                " JOIN sessions AS s ON s.id = t.session_id WHERE s.person_id = ?"
                " ORDER BY s.created_at, s.rowid",
                (person_id,),
            ).fetchall()
            return [
                TimedTestRow(
                    session_id=row["session_id"],
                    created_at=row["created_at"],
                    timed=bool(row["timed"]),
                    time_s=row["time_s"],
                    uncertainty_s=row["uncertainty_s"],
                    reason=row["reason"],
                    population=row["population"],
                    scale_source=row["scale_source"],
                )
                for row in rows
            ]

        return self._read(rows_of)


def _running(status: str, verb: str) -> SessionRunning:
    """The refusal to `verb` a session that is `status` ('recording' or 'analysing')."""
    doing = _RUNNING_WORDS.get(status, status)
    return SessionRunning(f"this session is still {doing}: {verb} it once it has finished")


def _checkins(db: sqlite3.Connection, ids: list[str]) -> dict[str, StoredCheckIn]:
    """The latest check-in of each of the sessions `ids` that has one."""
    if not ids:
        return {}
    rows = db.execute(
        "SELECT c.session_id, c.pain, c.score, c.created_at FROM checkins AS c JOIN"
        " (SELECT MAX(id) AS id FROM checkins GROUP BY session_id) AS latest"
        " ON c.id = latest.id"
    ).fetchall()
    wanted = set(ids)
    return {
        row["session_id"]: StoredCheckIn(pain=row["pain"], score=row["score"],
                                   created_at=row["created_at"])
        for row in rows
        if row["session_id"] in wanted
    }


def _sessions_query(db: sqlite3.Connection) -> str:
    """SELECT sessions with their person's name (`s`); a database not yet migrated (read
    while the disk is full) reads with no person."""
    if has_person_column(db) and has_table(db, "people"):
        return ("SELECT s.*, p.name AS person_name FROM sessions AS s"
                " LEFT JOIN people AS p ON p.id = s.person_id")
    return "SELECT s.*, NULL AS person_id, NULL AS person_name FROM sessions AS s"


def _record(row: sqlite3.Row, checkin: StoredCheckIn | None) -> SessionRecord:
    columns = set(row.keys())

    def column(name: str) -> str | float | int | None:
        return row[name] if name in columns else None

    stored_summary = row["summary_json"]
    return SessionRecord(
        id=row["id"],
        kind=row["kind"],
        created_at=row["created_at"],
        source_name=row["source_name"],
        level=row["level"],
        height_cm=row["height_cm"],
        status=row["status"],
        duration_s=row["duration_s"],
        out_dir=Path(row["out_dir"]),
        summary=as_summary(json.loads(stored_summary)) if stored_summary else None,
        error=row["error"],
        missing=_missing_list(column("missing")),
        recoveries=int(column("recoveries") or 0),
        person_id=row["person_id"],
        person_name=row["person_name"],
        checkin=checkin,
        settings=_stored_settings(column("settings_json")),
        name=_text(column("name")),
    )


def _text(stored: object) -> str | None:
    return stored if isinstance(stored, str) and stored else None


def _stored_settings(stored: object) -> Settings | None:
    """A session's kept settings; None when none were kept or they no longer validate (a
    setting renamed since), and the defaults for its level and height then apply."""
    if not isinstance(stored, str) or not stored:
        return None
    try:
        return Settings.model_validate_json(stored)
    except ValidationError:
        return None


def _missing_list(stored: object) -> tuple[str, ...]:
    try:
        names = json.loads(stored) if isinstance(stored, str) and stored else []
    except ValueError:
        return ()
    return tuple(str(name) for name in names) if isinstance(names, list) else ()
