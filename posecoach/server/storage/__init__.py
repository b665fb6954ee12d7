"""The library: people, their sessions, check-ins and timed tests in one SQLite file.

One module per concern, each handing out the typed records of `records`:
- `db`: the file, its schema and migrations, connections and their failures;
- `people`: people, their names and fields;
- `sessions`: sessions, check-ins and timed tests;
- `recovery`: settling what a stop left unfinished, and re-checking finished sessions' files.
`Storage` is all of them over one file.
"""

from __future__ import annotations

from posecoach.server.storage.db import (
    BUSY_WAIT_S,
    DEFAULT_PERSON_NAME,
    DISK_FULL_MESSAGE,
    LOW_SPACE_BYTES,
    SCHEMA,
    LibraryDamaged,
    new_id,
    utc_now,
    valid_id,
)
from posecoach.server.storage.people import (
    KEEP,
    MAX_HEIGHT_CM,
    MAX_NAME_CHARS,
    MIN_HEIGHT_CM,
    NoSuchPerson,
    PersonBusy,
    PersonExists,
    clean_person_name,
    same_name,
)
from posecoach.server.storage.records import (
    UNFINISHED,
    Pain,
    Person,
    SessionKind,
    SessionRecord,
    SessionStatus,
    StoredCheckIn,
    TimedTestRow,
)
from posecoach.server.storage.recovery import (
    MAX_RESUMES,
    REBUILT_WITH_SUMMARY,
    WAITING_FRAMES,
    Recovery,
    finish_clip_from_spool,
)
from posecoach.server.storage.sessions import NoSuchSession, SessionRunning


class Storage(Recovery):
    """Sessions, people, check-ins and timed tests in one SQLite file: a short connection per
    call, thread-safe."""


__all__ = [
    "BUSY_WAIT_S",
    "DEFAULT_PERSON_NAME",
    "DISK_FULL_MESSAGE",
    "KEEP",
    "LibraryDamaged",
    "LOW_SPACE_BYTES",
    "MAX_HEIGHT_CM",
    "MAX_NAME_CHARS",
    "MAX_RESUMES",
    "MIN_HEIGHT_CM",
    "REBUILT_WITH_SUMMARY",
    "SCHEMA",
    "UNFINISHED",
    "WAITING_FRAMES",
    "StoredCheckIn",
    "NoSuchPerson",
    "NoSuchSession",
    "Pain",
    "Person",
    "PersonBusy",
    "PersonExists",
    "SessionKind",
    "SessionRecord",
    "SessionRunning",
    "SessionStatus",
    "Storage",
    "TimedTestRow",
    "clean_person_name",
    "finish_clip_from_spool",
    "new_id",
    "same_name",
    "utc_now",
    "valid_id",
]
