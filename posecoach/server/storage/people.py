"""People in the library: athletes or patients, whose sessions and timed tests these are.

Names are stored in Unicode NFC, so a name typed with a composed "é" and one with "e" and a
combining accent are the same person; invisible and direction-changing characters (zero-width
spaces, bidi overrides) are refused, since they make two names that look alike differ.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import unicodedata
from enum import Enum
from pathlib import Path
from typing import Any

from posecoach.coach.timed_test import POPULATIONS
from posecoach.errors import Conflict, InputError, NotFound
from posecoach.server.storage.db import Database, has_table, new_id, utc_now, valid_id
from posecoach.server.storage.records import UNFINISHED, Person
from posecoach.settings import LEVELS, MAX_HEIGHT_CM, MIN_HEIGHT_CM

MAX_NAME_CHARS = 80
log = logging.getLogger(__name__)


class NoSuchPerson(NotFound):
    """A person id that is not in the library."""

    def __init__(self, message: str = "no such person") -> None:
        super().__init__(message)


class PersonExists(Conflict):
    """A person's name already taken (names are compared without regard to case)."""


class PersonBusy(Conflict):
    """A person who cannot be deleted now: one of their sessions is still running."""


class _Keep(Enum):
    KEEP = 0


KEEP = _Keep.KEEP
"""Leaves a field of `Storage.update_person` as it is."""


def clean_person_name(text: str) -> str:
    """A person's name or code as stored: NFC, trimmed, one line, 1-80 characters.

    Raises `InputError` saying what is wrong with it.
    """
    name = clean_name(text, "a name")
    if not name:
        raise InputError("a person needs a name or a code")
    return name


def clean_name(text: str, what: str) -> str:
    """A name as stored (a person's, a session's): NFC, trimmed, one line, at most 80
    characters, empty when only spaces were given.

    Raises `InputError` saying what is wrong with it; `what` names it ("a name").
    """
    name = " ".join(unicodedata.normalize("NFC", text).split())
    if len(name) > MAX_NAME_CHARS:
        raise InputError(f"{what} is at most {MAX_NAME_CHARS} characters long")
    categories = {unicodedata.category(ch) for ch in name}
    if categories & {"Cc", "Cs"}:
        raise InputError(f"{what} cannot contain control characters")
    if "Cf" in categories:
        raise InputError(
            f"{what} cannot contain invisible or text-direction characters (such as zero-width "
            "spaces or right-to-left overrides): type it again without them"
        )
    return name


def same_name(typed: str, stored: str) -> bool:
    """True when `typed` is exactly the stored name, however its accents were composed."""
    return unicodedata.normalize("NFC", typed) == unicodedata.normalize("NFC", stored)


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


class People(Database):
    """People: listed, found by id or name, added, changed and deleted with their sessions."""

    def list_people(self) -> list[Person]:
        """Every person, oldest first, with their number of sessions and the latest one's time."""
        return self._read(lambda db: _people(db))

    def get_person(self, person_id: str) -> Person | None:
        """One person's record, or None."""
        if not valid_id(person_id):
            return None
        found = self._read(lambda db: _people(db, "p.id = ?", (person_id,)))
        return found[0] if found else None

    def find_person(self, name: str) -> Person | None:
        """The person called `name` (compared without regard to case or accent composition),
        or None."""
        try:
            key = clean_person_name(name).casefold()
        except InputError:
            return None
        found = self._read(lambda db: _people(db, "p.name_key = ?", (key,)))
        return found[0] if found else None

    def create_person(
        self,
        name: str,
        height_cm: float | None = None,
        level: str | None = None,
        notes: str = "",
        population: str | None = None,
    ) -> Person:
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
    ) -> Person:
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
        values: dict[str, str | float | None] = {}
        new_name = None if isinstance(name, _Keep) else clean_person_name(name)
        if new_name is not None:
            values["name"] = new_name
            values["name_key"] = new_name.casefold()
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
                raise PersonExists(f"there is already a person called {new_name!r}") from exc
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

    def _remove_folder(self, session_id: str, out_dir: Path) -> None:
        """Remove a deleted session's folder; only ever one inside the sessions folder and
        named after the session (a row pointing at another session's folder loses nothing).

        The folder is first renamed aside (one atomic step), so another process serving or
        checking the session finds it whole or gone, never half-removed, and a new session
        can never be given a folder still being emptied.
        """
        root = self.sessions_dir.resolve()
        for folder in {self.session_dir(session_id), out_dir}:
            try:
                resolved = folder.resolve()
            except OSError:
                continue
            if resolved.parent != root or resolved.name != session_id or not resolved.is_dir():
                continue
            aside = root / f".deleted-{resolved.name}-{new_id()[:8]}"
            try:
                resolved.rename(aside)
            except OSError:
                aside = resolved
            shutil.rmtree(aside, ignore_errors=True)
            if aside.exists():
                log.warning("the folder of deleted session %s could not be removed", session_id)


def _people(db: sqlite3.Connection, where: str = "", args: tuple[Any, ...] = ()
            ) -> list[Person]:
    if not has_table(db, "people"):
        return []
    rows = db.execute(
        "SELECT p.id, p.name, p.height_cm, p.level, p.notes, p.population, p.created_at,"
        " COUNT(s.id) AS sessions, MAX(s.created_at) AS last_session_at"
        " FROM people AS p LEFT JOIN sessions AS s ON s.person_id = p.id"
        + (f" WHERE {where}" if where else "")
        + " GROUP BY p.id ORDER BY p.created_at, p.rowid",
        args,
    ).fetchall()
    return [Person.model_validate(dict(row)) for row in rows]
