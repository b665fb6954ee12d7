"""The records the library hands out: one declaration each, typed, never dicts read by key.

`Person` and `StoredCheckIn` are served as they are by the JSON API (their JSON is the API's); a
`SessionRecord` carries the parsed summary and kept settings, which the routes shape into
their list and detail bodies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
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
