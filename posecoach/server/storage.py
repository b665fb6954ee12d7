"""People, their sessions, check-ins and timed tests in SQLite (WAL mode), created on first use.

Every session belongs to a person. A database from before people existed is migrated when
opened: its sessions go to a default person named "Me", and the timed tests in their summaries
are listed. A fresh library creates "Me" the first time a session needs a person.

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
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import ValidationError

from posecoach.coach.timed_test import POPULATIONS, TimedTestResult
from posecoach.errors import InputError, OutputError, describe_os_error
from posecoach.outputs.files import SessionFiles
from posecoach.outputs.summary import SessionSummary, as_summary
from posecoach.settings import LEVELS, Settings

SessionKind = Literal["live", "upload"]
SessionStatus = Literal["recording", "analysing", "done", "failed", "interrupted"]
Pain = Literal["none", "soreness", "pain"]
UNFINISHED: tuple[SessionStatus, ...] = ("recording", "analysing")
_ID_RE = re.compile(r"^[0-9a-f]{32}$")

DEFAULT_PERSON_NAME = "Me"
"""The person a home user's sessions belong to, created when the library first needs one."""
MAX_NAME_CHARS = 80
MIN_HEIGHT_CM, MAX_HEIGHT_CM = 50.0, 260.0
"""A person's height is within these bounds (exclusive), as the settings accept it."""
_POPULATION_SQL = ", ".join(f"'{name}'" for name in POPULATIONS)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS people (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    height_cm REAL,
    level TEXT,
    notes TEXT NOT NULL DEFAULT '',
    population TEXT CHECK (population IS NULL OR population IN ({_POPULATION_SQL})),
    created_at TEXT NOT NULL
);
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
    recoveries INTEGER NOT NULL DEFAULT 0,
    person_id TEXT REFERENCES people (id),
    settings_json TEXT
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
CREATE TABLE IF NOT EXISTS timed_tests (
    session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    timed INTEGER NOT NULL,
    time_s REAL,
    uncertainty_s REAL,
    reason TEXT,
    population TEXT NOT NULL,
    scale_source TEXT
);
CREATE TABLE IF NOT EXISTS output_stamps (
    session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    stamps_json TEXT NOT NULL
);
"""

RecoverFn = Callable[[dict[str, Any]], "SessionSummary | None"]
CheckFn = Callable[[Path], list[str]]
CheckNamedFn = Callable[[Path, list[str]], list[str]]
ResumeFn = Callable[[dict[str, Any]], bool]
MAX_RESUMES = 1
"""How often an interrupted upload is analysed again from its clip on start; a clip that
stops the server every time is then settled with what it left."""
ADDED_COLUMNS = {
    "missing": "TEXT",
    "recoveries": "INTEGER NOT NULL DEFAULT 0",
    "person_id": "TEXT REFERENCES people (id)",
    "settings_json": "TEXT",
}
"""Columns newer than the first schema, added to older databases when opened."""
T = TypeVar("T")
log = logging.getLogger(__name__)

LOW_SPACE_BYTES = 1024**2
"""Below this much free space, a disk error from SQLite is taken to mean the disk is full."""
_SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CANTOPEN = 10, 13, 14
DISK_FULL_MESSAGE = "the disk is full: nothing can be saved until space is freed"


class NoSuchPerson(InputError):
    """A person id that is not in the library."""

    def __init__(self) -> None:
        super().__init__("no such person")


class PersonExists(InputError):
    """A person's name already taken (names are compared without regard to case)."""


class PersonBusy(InputError):
    """A person who cannot be deleted now: one of their sessions is still running."""


class _Keep(Enum):
    KEEP = 0


KEEP = _Keep.KEEP
"""Leaves a field of `Storage.update_person` as it is."""


def clean_person_name(text: str) -> str:
    """A person's name or code as stored: trimmed, one line, 1-80 characters.

    Raises `InputError` saying what is wrong with it.
    """
    name = " ".join(text.split())
    if not name:
        raise InputError("a person needs a name or a code")
    if len(name) > MAX_NAME_CHARS:
        raise InputError(f"a name is at most {MAX_NAME_CHARS} characters long")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name):
        raise InputError("a name cannot contain control characters")
    return name


def _check_person_fields(height_cm: float | None, level: str | None,
                         population: str | None) -> None:
    """Raise `InputError` for a height, level or population a person cannot have."""
    if height_cm is not None and not MIN_HEIGHT_CM < height_cm < MAX_HEIGHT_CM:
        raise InputError(
            f"height_cm must be between {MIN_HEIGHT_CM:g} and {MAX_HEIGHT_CM:g} cm"
        )
    if level is not None and level not in LEVELS:
        raise InputError(f"unknown level {level!r}: choose one of {', '.join(LEVELS)}")
    if population is not None and population not in POPULATIONS:
        raise InputError(
            f"unknown population {population!r}: choose one of {', '.join(POPULATIONS)}"
        )


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
                    listed_tests = _has_table(db, "timed_tests")
                    db.executescript(SCHEMA)
                    _add_columns(db)
                    _migrate(db, list_timed_tests=not listed_tests)
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
        person_id: str | None = None,
        settings: Settings | None = None,
    ) -> dict[str, Any]:
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
                owner = person_id if person_id is not None else _default_person_id(db)
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
        whichever way it finished (live, upload, recovery, command line).
        """
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
            if status == "done":
                _store_timed_test(db, session_id)
                _store_stamps(db, session_id)

    def get_session(self, session_id: str) -> dict[str, Any] | None:
        """A session record with its parsed summary and latest check-in, or None."""
        if not valid_id(session_id):
            return None

        def query(db: sqlite3.Connection) -> dict[str, Any] | None:
            row = db.execute(_sessions_query(db) + " WHERE s.id = ?", (session_id,)).fetchone()
            if row is None:
                return None
            return _record(row, self._checkins(db, [session_id]).get(session_id))

        return self._read(query)

    def list_sessions(
        self, status: SessionStatus | None = None, person_id: str | None = None
    ) -> list[dict[str, Any]]:
        """All sessions (or those with `status`, of `person_id`), newest first, with their
        latest check-in."""
        where: list[str] = []
        args: list[Any] = []
        if status is not None:
            where.append("s.status = ?")
            args.append(status)
        if person_id is not None:
            where.append("s.person_id = ?")
            args.append(person_id)
        clause = f" WHERE {' AND '.join(where)}" if where else ""

        def rows_of(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                _sessions_query(db) + clause + " ORDER BY s.created_at DESC, s.rowid DESC", args
            ).fetchall()
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

    # ------------------------------------------------------------------------ people

    def list_people(self) -> list[dict[str, Any]]:
        """Every person, oldest first, with their number of sessions and the latest one's time."""
        return self._read(lambda db: _people(db))

    def get_person(self, person_id: str) -> dict[str, Any] | None:
        """One person's record, or None."""
        if not valid_id(person_id):
            return None
        found = self._read(lambda db: _people(db, "p.id = ?", (person_id,)))
        return found[0] if found else None

    def find_person(self, name: str) -> dict[str, Any] | None:
        """The person called `name` (compared without regard to case), or None."""
        try:
            key = clean_person_name(name).casefold()
        except InputError:
            return None
        found = self._read(lambda db: _people(db, "p.name_key = ?", (key,)))
        return found[0] if found else None

    def default_person(self) -> dict[str, Any]:
        """The person sessions go to when none is chosen: the only one, else the oldest;
        "Me" is created when the library has nobody yet."""
        with self._connect() as db:
            person_id = _default_person_id(db)
        person = self.get_person(person_id)
        assert person is not None
        return person

    def create_person(
        self,
        name: str,
        height_cm: float | None = None,
        level: str | None = None,
        notes: str = "",
        population: str | None = None,
    ) -> dict[str, Any]:
        """Add a person; raises `PersonExists` when the name is taken, `InputError` for a
        name that cannot be used."""
        name = clean_person_name(name)
        _check_person_fields(height_cm, level, population)
        person_id = new_id()
        try:
            with self._connect() as db:
                db.execute(
                    "INSERT INTO people (id, name, name_key, height_cm, level, notes, population,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (person_id, name, name.casefold(), height_cm, level, notes, population,
                     utc_now()),
                )
        except sqlite3.IntegrityError as exc:
            raise PersonExists(f"there is already a person called {name!r}") from exc
        person = self.get_person(person_id)
        assert person is not None
        return person

    def update_person(
        self,
        person_id: str,
        *,
        name: str | _Keep = KEEP,
        height_cm: float | None | _Keep = KEEP,
        level: str | None | _Keep = KEEP,
        notes: str | _Keep = KEEP,
        population: str | None | _Keep = KEEP,
    ) -> dict[str, Any]:
        """Change the given fields of a person (`KEEP` leaves one as it is; None clears it).

        Raises `NoSuchPerson`, or `PersonExists` when the new name is taken.
        """
        if self.get_person(person_id) is None:
            raise NoSuchPerson()
        _check_person_fields(
            None if isinstance(height_cm, _Keep) else height_cm,
            None if isinstance(level, _Keep) else level,
            None if isinstance(population, _Keep) else population,
        )
        values: dict[str, Any] = {}
        if not isinstance(name, _Keep):
            values["name"] = clean_person_name(name)
            values["name_key"] = values["name"].casefold()
        for column, value in (("height_cm", height_cm), ("level", level), ("notes", notes),
                              ("population", population)):
            if not isinstance(value, _Keep):
                values[column] = value
        if values:
            assignments = ", ".join(f"{key} = ?" for key in values)
            try:
                with self._connect() as db:
                    db.execute(f"UPDATE people SET {assignments} WHERE id = ?",
                               (*values.values(), person_id))
            except sqlite3.IntegrityError as exc:
                raise PersonExists(
                    f"there is already a person called {values['name']!r}"
                ) from exc
        person = self.get_person(person_id)
        if person is None:
            raise NoSuchPerson()
        return person

    def delete_person(self, person_id: str) -> list[str]:
        """Delete a person with their sessions, check-ins, timed tests and session folders;
        return the ids of the sessions removed.

        Raises `NoSuchPerson`, or `PersonBusy` while one of their sessions is still recording
        or being analysed.
        """
        if not valid_id(person_id):
            raise NoSuchPerson()
        with self._lock, self._connect() as db:
            person = db.execute("SELECT name FROM people WHERE id = ?", (person_id,)).fetchone()
            if person is None:
                raise NoSuchPerson()
            rows = db.execute(
                "SELECT id, out_dir, status FROM sessions WHERE person_id = ?", (person_id,)
            ).fetchall()
            if any(row["status"] in UNFINISHED for row in rows):
                raise PersonBusy(
                    f"{person['name']} has a session still recording or being analysed: "
                    "delete them once it has finished"
                )
            db.execute("DELETE FROM sessions WHERE person_id = ?", (person_id,))
            db.execute("DELETE FROM people WHERE id = ?", (person_id,))
        for row in rows:
            self._remove_folder(row["id"], Path(row["out_dir"]))
        return [row["id"] for row in rows]

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

    def _remove_folder(self, session_id: str, out_dir: Path) -> None:
        """Remove a deleted session's folder; only ever one inside the sessions folder."""
        root = self.sessions_dir.resolve()
        for folder in {self.session_dir(session_id), out_dir}:
            try:
                resolved = folder.resolve()
            except OSError:
                continue
            if resolved.parent != root or not resolved.is_dir():
                continue
            shutil.rmtree(resolved, ignore_errors=True)
            if resolved.exists():
                log.warning("the folder of deleted session %s could not be removed", session_id)

    def timed_tests(self, person_id: str) -> list[dict[str, Any]]:
        """A person's timed tests, oldest first: `session_id`, `created_at`, `timed`,
        `time_s`, `uncertainty_s`, `reason`, `population`, `scale_source`."""

        def rows_of(db: sqlite3.Connection) -> list[dict[str, Any]]:
            if not _has_table(db, "timed_tests") or not _has_person_column(db):
                return []
            rows = db.execute(
                "SELECT t.*, s.created_at FROM timed_tests AS t JOIN sessions AS s"
                " ON s.id = t.session_id WHERE s.person_id = ?"
                " ORDER BY s.created_at, s.rowid",
                (person_id,),
            ).fetchall()
            return [{**dict(row), "timed": bool(row["timed"])} for row in rows]

        return self._read(rows_of)

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


    def recheck_done(self, check: CheckNamedFn | None = None) -> list[str]:
        """Record as `missing` the outputs of finished sessions that were deleted or damaged
        while the server was stopped; return the ids of the sessions that lost one.

        Cheap for every session: each output must be present and non-empty, and `summary.json`
        must parse. Only the outputs whose size or modification time differ from when the
        session was finished (or last checked) are given the full `check(out_dir, names)`
        (the clip must play to its end), which takes a tenth of a second or more a clip. A session
        finished before stamps were kept is checked cheaply and has its stamps recorded, so
        later changes are noticed. Names already recorded as missing stay so.
        """
        if self.read_only:
            return []
        lost: list[str] = []
        with self._lock:
            records = self.list_sessions(status="done")
            known = self._read(_all_stamps)
            restamped: dict[str, _Stamps] = {}
            for record in records:
                out_dir = Path(record["out_dir"])
                now = _stamps_of(out_dir)
                before = known.get(record["id"])
                problems = set(_cheap_problems(out_dir, now))
                changed = {name for name, stamp in now.items()
                           if before is not None and before.get(name) != stamp} - problems
                if changed and check is not None:
                    problems.update(check(out_dir, sorted(changed)))
                found = problems - set(record["missing"])
                try:
                    if found:
                        self._mark_damaged(record, sorted(found))
                        lost.append(record["id"])
                except OutputError:
                    break
                if now != before:
                    restamped[record["id"]] = now
            if restamped and not self.read_only:
                try:
                    with self._connect() as db:
                        db.executemany(
                            "INSERT OR REPLACE INTO output_stamps (session_id, stamps_json)"
                            " VALUES (?, ?)",
                            [(sid, json.dumps(stamps)) for sid, stamps in restamped.items()],
                        )
                except OutputError:
                    pass
        return lost

    def _mark_damaged(self, record: dict[str, Any], names: list[str]) -> None:
        """Record `names` as missing from a finished session, said in its warnings."""
        summary = record["summary"]
        if summary is not None:
            summary = replace(summary, warnings=(*summary.warnings, _damaged_words(names)))
        self.update_session(record["id"], summary=summary,
                            missing=sorted({*record["missing"], *names}))


_Stamps = dict[str, list[int]]
"""An output's name -> [size in bytes, modification time in ns]."""


def _stamps_of(out_dir: Path) -> _Stamps:
    """The size and modification time of each output of a session folder that is present."""
    stamps: _Stamps = {}
    for name in SessionFiles.OUTPUTS:
        try:
            info = (out_dir / name).stat()
        except OSError:
            continue
        stamps[name] = [info.st_size, info.st_mtime_ns]
    return stamps


def _cheap_problems(out_dir: Path, stamps: _Stamps) -> list[str]:
    """The outputs that are absent or empty, and the summary when it does not parse."""
    problems = [name for name in SessionFiles.OUTPUTS if stamps.get(name, [0])[0] <= 0]
    if SessionFiles.SUMMARY not in problems and _read_summary(out_dir) is None:
        problems.append(SessionFiles.SUMMARY)
    return problems


def _store_stamps(db: sqlite3.Connection, session_id: str) -> None:
    """Note the stamps of a session's outputs as it is finished."""
    row = db.execute("SELECT out_dir FROM sessions WHERE id = ?", (session_id,)).fetchone()
    if row is None:
        return
    db.execute(
        "INSERT OR REPLACE INTO output_stamps (session_id, stamps_json) VALUES (?, ?)",
        (session_id, json.dumps(_stamps_of(Path(row[0])))),
    )


def _all_stamps(db: sqlite3.Connection) -> dict[str, _Stamps]:
    if not _has_table(db, "output_stamps"):
        return {}
    stamps: dict[str, _Stamps] = {}
    for session_id, stored in db.execute("SELECT session_id, stamps_json FROM output_stamps"):
        try:
            data = json.loads(stored)
        except ValueError:
            continue
        if isinstance(data, dict):
            stamps[str(session_id)] = {str(k): list(v) for k, v in data.items()
                                       if isinstance(v, list)}
    return stamps


def _damaged_words(names: list[str]) -> str:
    """The warning a finished session carries about outputs lost since it was finished."""
    listed = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
    verbs = ("were", "are") if len(names) > 1 else ("was", "is")
    return (
        f"{listed} {verbs[0]} deleted or damaged after this session was finished and "
        f"{verbs[1]} not offered."
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


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone() is not None


def _has_person_column(db: sqlite3.Connection) -> bool:
    return any(row[1] == "person_id" for row in db.execute("PRAGMA table_info(sessions)"))


def _sessions_query(db: sqlite3.Connection) -> str:
    """SELECT sessions with their person's name (`s`); a database not yet migrated (read
    while the disk is full) reads with no person."""
    if _has_person_column(db) and _has_table(db, "people"):
        return ("SELECT s.*, p.name AS person_name FROM sessions AS s"
                " LEFT JOIN people AS p ON p.id = s.person_id")
    return "SELECT s.*, NULL AS person_id, NULL AS person_name FROM sessions AS s"


def _people(db: sqlite3.Connection, where: str = "", args: tuple[Any, ...] = ()
            ) -> list[dict[str, Any]]:
    if not _has_table(db, "people"):
        return []
    rows = db.execute(
        "SELECT p.id, p.name, p.height_cm, p.level, p.notes, p.population, p.created_at,"
        " COUNT(s.id) AS sessions, MAX(s.created_at) AS last_session_at"
        " FROM people AS p LEFT JOIN sessions AS s ON s.person_id = p.id"
        + (f" WHERE {where}" if where else "")
        + " GROUP BY p.id ORDER BY p.created_at, p.rowid",
        args,
    ).fetchall()
    return [dict(row) for row in rows]


def _default_person_id(db: sqlite3.Connection) -> str:
    """The oldest person's id; "Me" is created first when there is nobody."""
    row = db.execute("SELECT id FROM people ORDER BY created_at, rowid LIMIT 1").fetchone()
    if row is not None:
        return str(row[0])
    db.execute(
        "INSERT OR IGNORE INTO people (id, name, name_key, notes, created_at)"
        " VALUES (?, ?, ?, '', ?)",
        (new_id(), DEFAULT_PERSON_NAME, DEFAULT_PERSON_NAME.casefold(), utc_now()),
    )
    row = db.execute("SELECT id FROM people ORDER BY created_at, rowid LIMIT 1").fetchone()
    return str(row[0])


def _migrate(db: sqlite3.Connection, list_timed_tests: bool) -> None:
    """Put sessions without a person under the default person, and list the timed tests of
    finished sessions when the table is new."""
    db.execute("CREATE INDEX IF NOT EXISTS sessions_person ON sessions (person_id)")
    if db.execute("SELECT 1 FROM sessions WHERE person_id IS NULL LIMIT 1").fetchone():
        person_id = _default_person_id(db)
        db.execute("UPDATE sessions SET person_id = ? WHERE person_id IS NULL", (person_id,))
    if list_timed_tests:
        done = db.execute(
            "SELECT id FROM sessions WHERE status = 'done' AND summary_json LIKE '%timed_test%'"
        ).fetchall()
        for row in done:
            _store_timed_test(db, str(row[0]))


def _store_timed_test(db: sqlite3.Connection, session_id: str) -> None:
    """Write (or clear) the `timed_tests` row of a finished session from its summary."""
    row = db.execute("SELECT summary_json FROM sessions WHERE id = ?", (session_id,)).fetchone()
    try:
        data = json.loads(row[0]) if row is not None and row[0] else None
    except ValueError:
        data = None
    stored = data.get("timed_test") if isinstance(data, dict) else None
    if not isinstance(stored, dict):
        db.execute("DELETE FROM timed_tests WHERE session_id = ?", (session_id,))
        return
    result = TimedTestResult.from_json(stored)
    db.execute(
        "INSERT OR REPLACE INTO timed_tests (session_id, timed, time_s, uncertainty_s, reason,"
        " population, scale_source) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (session_id, int(result.timed and result.time_s is not None), result.time_s,
         result.uncertainty_s, result.reason, result.population, result.scale_source),
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
    record["settings"] = _stored_settings(record.pop("settings_json", None))
    return record


def _stored_settings(stored: str | None) -> Settings | None:
    """A session's kept settings; None when none were kept or they no longer validate (a
    setting renamed since), and the defaults for its level and height then apply."""
    if not stored:
        return None
    try:
        return Settings.model_validate_json(stored)
    except ValidationError:
        return None


def _missing_list(stored: str | None) -> list[str]:
    try:
        names = json.loads(stored) if stored else []
    except ValueError:
        return []
    return [str(name) for name in names] if isinstance(names, list) else []
