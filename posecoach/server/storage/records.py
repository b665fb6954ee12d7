"""The records the library hands out: one declaration each, typed, never dicts read by key.

`Person` and `StoredCheckIn` are served as they are by the JSON API (their JSON is the API's); a
`SessionRecord` carries the parsed summary and kept settings, which the routes shape into
their list and detail bodies.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from posecoach.outputs.summary import SessionSummary
from posecoach.settings import Settings

SessionKind = Literal["live", "upload"]
SessionStatus = Literal["recording", "analysing", "done", "failed", "interrupted"]
Pain = Literal["none", "soreness", "pain"]
Level = Literal["beginner", "intermediate", "advanced"]
Population = Literal["community", "nursing_home", "parkinsons", "stroke", "ms"]
UNFINISHED: tuple[SessionStatus, ...] = ("recording", "analysing")
SCORE_MIN = 0
SCORE_MAX = 10
MAX_DOWNLOAD_STEM_CHARS = 80
_UNSAFE_IN_FILE_NAME = re.compile(r"[^\w .()+-]+")
"""Anything but letters, digits, spaces and a few safe marks: replaced in download names."""


class Person(BaseModel):
    """An athlete or a patient: the sessions and timed tests are theirs."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str = Field(description="a name or a code, unique without regard to case")
    height_cm: float | None = Field(description="the default height for their sessions")
    level: Level | None = Field(description="the default level for their sessions")
    notes: str
    population: Population | None = Field(
        description="whose published cut-offs and minimal detectable change apply")
    created_at: str = Field(description="ISO 8601 UTC time the person was added")
    sessions: int = Field(ge=0, description="how many sessions they have")
    last_session_at: str | None = Field(description="when their latest session was created")


class StoredCheckIn(BaseModel):
    """A check-in as stored: the latest one given for a session counts."""

    model_config = ConfigDict(frozen=True)

    pain: Pain
    score: int = Field(ge=SCORE_MIN, le=SCORE_MAX)
    created_at: str = Field(description="ISO 8601 UTC time the check-in was given")


@dataclass(frozen=True)
class SessionRecord:
    """One session as stored, with its parsed summary, latest check-in and kept settings.

    `name` is the one the coach gave it (None: it goes by its clip's `source_name`).
    `missing` names the output files a stop or a later loss left absent or incomplete: they
    are never listed or served. `settings` are the session's own (None when none were kept or
    they no longer validate: the defaults of its level and height then apply).
    """

    id: str
    kind: SessionKind
    created_at: str
    source_name: str
    level: str
    height_cm: float | None
    status: SessionStatus
    duration_s: float | None
    out_dir: Path
    summary: SessionSummary | None
    error: str | None
    missing: tuple[str, ...]
    recoveries: int
    person_id: str | None
    person_name: str | None
    checkin: StoredCheckIn | None
    settings: Settings | None
    name: str | None = None

    def download_name(self, file_name: str) -> str:
        """What a download of one of its files is called: `<clip>-annotated.mp4`, with the
        coach's name for the session, else its clip's name without the extension (a live
        session: "live" and its start), made safe for every file system."""
        if self.name:
            title = self.name
        elif self.kind == "upload" and self.source_name:
            title = PureWindowsPath(self.source_name).stem
        else:
            title = f"live {self.created_at[:16].replace('T', ' ').replace(':', '')}"
        one_line = " ".join(unicodedata.normalize("NFC", title).split())
        stem = _UNSAFE_IN_FILE_NAME.sub("-", one_line).strip(" .-")
        stem = stem[:MAX_DOWNLOAD_STEM_CHARS].strip(" .-")
        return f"{stem or 'posecoach-' + self.id[:8]}-{file_name}"


@dataclass(frozen=True)
class TimedTestRow:
    """One listed 3-metre backward walk test of a finished session."""

    session_id: str
    created_at: str
    timed: bool
    time_s: float | None
    uncertainty_s: float | None
    reason: str | None
    population: str
    scale_source: str | None
