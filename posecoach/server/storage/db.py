"""The library's SQLite file (WAL mode): its schema, migrations, connections and failures.

A database from before people existed is migrated when opened: its sessions go to a default
person named "Me", and the timed tests in their summaries are listed. A fresh library creates
"Me" the first time a session needs a person.

A full disk never makes the records unreadable: reads fall back to a connection that needs no
shared-memory file, and writes raise `OutputError` (ENOSPC) until space is freed. A write that
finds the file locked by another writer waits `BUSY_WAIT_S` and then raises `Busy`; a damaged
file or a read-only folder is named in plain words.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import sqlite3
import threading
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from posecoach.coach.timed_test import POPULATIONS, TimedTestResult
from posecoach.errors import Busy, OutputError, describe_os_error
from posecoach.outputs.files import SessionFiles

_ID_RE = re.compile(r"^[0-9a-f]{32}$")
DEFAULT_PERSON_NAME = "Me"
"""The person a home user's sessions belong to, created when the library first needs one."""
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
    settings_json TEXT,
    name TEXT
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

ADDED_COLUMNS = {
    "missing": "TEXT",
    "recoveries": "INTEGER NOT NULL DEFAULT 0",
    "person_id": "TEXT REFERENCES people (id)",
    "settings_json": "TEXT",
    "name": "TEXT",
}
"""Columns newer than the first schema, added to older databases when opened."""
T = TypeVar("T")
log = logging.getLogger(__name__)

LOW_SPACE_BYTES = 1024**2
"""Below this much free space, a disk error from SQLite is taken to mean the disk is full."""
BUSY_WAIT_S = 2.0
"""How long a write waits for another writer's lock before the request is told to retry."""
OWN_WRITERS_WAIT_S = 30.0
"""How long a write waits for this process's earlier writes (each takes milliseconds)."""
DB_MODE = 0o600
"""The library file is readable by its owner only: it holds people's names and health notes."""
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 5, 6, 8
_SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CANTOPEN = 10, 13, 14
DISK_FULL_MESSAGE = "the disk is full: nothing can be saved until space is freed"

Stamps = dict[str, list[int]]
"""An output's name -> [size in bytes, modification time in ns]."""


class LibraryDamaged(OutputError):
    """The library file is not an SQLite database, or its pages are corrupt."""


def new_id() -> str:
    """A fresh session or job id (uuid4, hex)."""
    return uuid.uuid4().hex


def valid_id(value: str) -> bool:
    """True for strings shaped like ids from `new_id`."""
    return bool(_ID_RE.match(value))


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class Database:
    """The library's SQLite file: a short connection per call, thread-safe."""

    busy_wait_s: float = BUSY_WAIT_S

    def __init__(self, db_path: Path, data_dir: Path) -> None:
        self.db_path = Path(db_path)
        self.data_dir = Path(data_dir)
        self.sessions_dir = self.data_dir / "sessions"
        self._lock = threading.Lock()
        self._writing = threading.RLock()
        """One writer of this process at a time, so `busy_wait_s` is spent only on other
        processes' locks."""
        self._schema_ready = False
        self.read_only = False
        """True while the disk is full: records are read, nothing is written."""
        try:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            self.sessions_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(exc.errno, describe_os_error(exc, self.sessions_dir)) from exc
        self._create_private()
        try:
            with self._connect():
                pass
        except LibraryDamaged:
            raise
        except Busy:
            log.warning("%s is locked by another writer: it is set up at the next write",
                        self.db_path)
        except OutputError as exc:
            if not self.read_only:
                log.warning("%s; serving the session history read-only", exc)

    def _create_private(self) -> None:
        """Create the library file readable by its owner only (SQLite gives its journal and
        shared-memory files the same mode)."""
        try:
            fd = os.open(self.db_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, DB_MODE)
        except FileExistsError:
            return
        except OSError:
            return  # the connection says why the folder cannot be written
        os.close(fd)

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
            db = sqlite3.connect(self.db_path, timeout=self.busy_wait_s)
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
        """A connection for writing; raises `OutputError` when the disk is full, the folder is
        read-only or the file is damaged, and `Busy` while another writer holds it."""
        try:
            with self._one_writer(), self._open() as db:
                if not self._schema_ready:
                    db.execute("PRAGMA journal_mode=WAL")
                    listed_tests = _has_table(db, "timed_tests")
                    db.executescript(SCHEMA)
                    _add_columns(db)
                    _migrate(db, list_timed_tests=not listed_tests)
                    self._schema_ready = True
                yield db
        except sqlite3.Error as exc:
            error = self._write_error(exc)
            if error is exc:
                raise
            raise error from exc
        if self.read_only:
            self.read_only = False
            log.warning("there is space on the disk again: sessions are saved again")

    @contextmanager
    def _one_writer(self) -> Iterator[None]:
        """This process's turn to write; `Busy` when the writers before it take too long."""
        if not self._writing.acquire(timeout=OWN_WRITERS_WAIT_S):
            raise Busy()
        try:
            yield
        finally:
            self._writing.release()

    def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """`query` on a normal connection, or, when the disk is full, on one that needs no
        `-shm` file."""
        try:
            with self._open() as db:
                return query(db)
        except sqlite3.Error as exc:
            if _damaged(exc):
                raise self._damaged_error(exc) from exc
            if not _disk_trouble(exc) and self._schema_ready:
                raise
        try:
            with self._open(no_shm=True) as db:
                return query(db)
        except sqlite3.Error as exc:
            if _damaged(exc):
                raise self._damaged_error(exc) from exc
            if not _disk_trouble(exc):
                raise
            raise OutputError(
                errno.EIO, f"the session history cannot be read: {exc}"
            ) from exc

    def _write_error(self, exc: sqlite3.Error) -> Exception:
        """The error a user is shown for a write SQLite refused."""
        code = _sqlite_code(exc)
        if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
            log.warning("the library %s is locked by another writer: %s", self.db_path, exc)
            return Busy()
        if _damaged(exc):
            return self._damaged_error(exc)
        if code != _SQLITE_READONLY and not _disk_trouble(exc):
            return exc
        folder = self._unwritable_folder()
        if folder is not None:
            return OutputError(errno.EROFS, f"cannot write to {folder}: read-only")
        return self._unwritable(exc)

    def _damaged_error(self, exc: sqlite3.Error) -> LibraryDamaged:
        return LibraryDamaged(
            errno.EIO,
            f"the library file {self.db_path} is damaged or is not a posecoach library "
            f"({exc}): move it aside (posecoach then starts a new one) or restore a copy",
        )

    def _unwritable_folder(self) -> Path | None:
        """The library's folder (or file) when it cannot be written to, else None."""
        for path in (self.db_path, self.db_path.parent):
            if path.exists() and not _writable(path):
                return path
        return None

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


def _writable(path: Path) -> bool:
    """True when `path` can be written, read-only mounts included (root bypasses modes but
    not a read-only file system)."""
    if not os.access(path, os.W_OK):
        return False
    try:
        return not os.statvfs(path).f_flag & os.ST_RDONLY
    except OSError:
        return True


def has_table(db: sqlite3.Connection, name: str) -> bool:
    """True when the database has the table `name`."""
    return db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone() is not None


_has_table = has_table


def has_person_column(db: sqlite3.Connection) -> bool:
    """True once the sessions table has its person (a database not yet migrated has not)."""
    return any(row[1] == "person_id" for row in db.execute("PRAGMA table_info(sessions)"))


def default_person_id(db: sqlite3.Connection) -> str:
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
    """Put sessions without a person under the default person, list the timed tests of
    finished sessions when the table is new, and store names in NFC (as they are now kept)."""
    db.execute("CREATE INDEX IF NOT EXISTS sessions_person ON sessions (person_id)")
    _compose_names(db)
    if db.execute("SELECT 1 FROM sessions WHERE person_id IS NULL LIMIT 1").fetchone():
        person_id = default_person_id(db)
        db.execute("UPDATE sessions SET person_id = ? WHERE person_id IS NULL", (person_id,))
    if list_timed_tests:
        done = db.execute(
            "SELECT id FROM sessions WHERE status = 'done' AND summary_json LIKE '%timed_test%'"
        ).fetchall()
        for row in done:
            store_timed_test(db, str(row[0]))


def _compose_names(db: sqlite3.Connection) -> None:
    """Store people's names in Unicode NFC, as names are now kept, so a name typed with
    composed accents finds a person added with decomposed ones. A name whose composed form
    another person already has is left as it is."""
    for person_id, name in db.execute("SELECT id, name FROM people").fetchall():
        composed = unicodedata.normalize("NFC", name)
        if composed == name:
            continue
        try:
            db.execute("UPDATE people SET name = ?, name_key = ? WHERE id = ?",
                       (composed, composed.casefold(), person_id))
        except sqlite3.IntegrityError:
            log.warning("two people are called %r once accents are composed: both kept",
                        composed)


def store_timed_test(db: sqlite3.Connection, session_id: str) -> None:
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


def stamps_of(out_dir: Path) -> Stamps:
    """The size and modification time of each output of a session folder that is present."""
    stamps: Stamps = {}
    for name in SessionFiles.OUTPUTS:
        try:
            info = (out_dir / name).stat()
        except OSError:
            continue
        stamps[name] = [info.st_size, info.st_mtime_ns]
    return stamps


def store_stamps(db: sqlite3.Connection, session_id: str) -> None:
    """Note the stamps of a session's outputs as it is finished."""
    row = db.execute("SELECT out_dir FROM sessions WHERE id = ?", (session_id,)).fetchone()
    if row is None:
        return
    db.execute(
        "INSERT OR REPLACE INTO output_stamps (session_id, stamps_json) VALUES (?, ?)",
        (session_id, json.dumps(stamps_of(Path(row[0])))),
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


def _damaged(exc: sqlite3.Error) -> bool:
    """True for a file that is not an SQLite database, or one whose pages are corrupt."""
    return _sqlite_code(exc) in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
