"""The bodies of the JSON API: what each route sends and accepts.

These models are the one description of the shapes the browser reads; FastAPI publishes them
in `/openapi.json` and checks every response against them. docs/http-api.md walks through them.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from posecoach.coach.cues import Severity
from posecoach.coach.rules import rules_for_display
from posecoach.coach.rules.base import OverlayLine
from posecoach.outputs.review import MAX_NOTE_CHARS as MAX_REVIEW_NOTE_CHARS
from posecoach.outputs.review import MeasureKind, PicturePoint
from posecoach.outputs.summary import (
    SessionSummary,
)
from posecoach.server.jobs import JobStatus
from posecoach.server.storage import (
    MAX_HEIGHT_CM,
    MAX_NAME_CHARS,
    MIN_HEIGHT_CM,
    Pain,
    SessionKind,
    SessionStatus,
)
from posecoach.server.storage import Person as Person
from posecoach.server.storage import StoredCheckIn as StoredCheckIn
from posecoach.server.storage.records import SCORE_MAX, SCORE_MIN, Level, Population

Action = Literal["progress", "hold", "ease_off"]
MAX_NOTES_CHARS = 4000
PAIN_CHOICES: tuple[Pain, ...] = ("none", "soreness", "pain")


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer: one sentence meant for the person using the app."""

    detail: str


ANY_ERROR: dict[int | str, dict[str, Any]] = {
    "default": {"model": ErrorBody, "description": "Any error: `{detail}`"}}
"""The `responses` every API router declares: any error has the `ErrorBody` shape."""


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the given error codes, all shaped as `ErrorBody`."""
    return {code: {"model": ErrorBody, "description": HTTPStatus(code).phrase} for code in codes}


# ---------------------------------------------------------------------------- the summary

# The summary and the timed test are declared once, in `posecoach.outputs.summary` and
# `posecoach.coach.timed_test`; the API serves those declarations as they are.

# The few numbers of a summary shown in session lists.
DIGEST_KEYS: tuple[str, ...] = (
    "direction", "view", "backward_time_s", "steps", "cadence_spm", "speed_m_s", "speed_leg_s",
    "step_length_m", "step_length_leg", "upright_share", "head_up_share", "setting",
    "handrail_share",
)
_SUMMARY_FIELDS = SessionSummary.__pydantic_fields__  # type: ignore[attr-defined]
SummaryDigest: type[BaseModel] = create_model(
    "SummaryDigest",
    __doc__="The few numbers of a summary shown in session lists; null where not measured.",
    **{key: (_SUMMARY_FIELDS[key].annotation, None) for key in DIGEST_KEYS},
)


# ---------------------------------------------------------------------------- sessions


class CheckIn(BaseModel):
    """How the walker's body felt after a session."""

    model_config = ConfigDict(extra="forbid")

    pain: Pain
    score: int = Field(ge=SCORE_MIN, le=SCORE_MAX)

    @model_validator(mode="after")
    def _consistent(self) -> CheckIn:
        if self.pain == "none" and self.score != 0:
            raise ValueError("score must be 0 when pain is 'none'")
        return self


class SessionBase(BaseModel):
    """What every session record carries."""

    id: str
    kind: SessionKind
    created_at: str = Field(description="ISO 8601 UTC time the session was created")
    source_name: str = Field(description="the uploaded file's name, or the camera used")
    name: str | None = Field(None, description="the coach's name for the session, if given")
    level: str
    height_cm: float | None
    status: SessionStatus
    duration_s: float | None
    error: str | None = Field(description="why the session failed or was interrupted")
    checkin: StoredCheckIn | None
    missing: list[str] = Field(
        default_factory=list,
        description="output files a stop left missing or incomplete: never listed or served",
    )
    person_id: str | None = Field(None, description="the person the session belongs to")
    person_name: str | None = Field(None, description="that person's name or code")


class SessionListItem(SessionBase):
    """A session in `GET /api/sessions`: the digest of its summary and its number of cues."""

    summary: SummaryDigest | None
    cue_count: int


class SessionDetail(SessionBase):
    """One session in full: its summary, the summary in sentences, and its files."""

    summary: SessionSummary | None
    sentences: list[str] = Field(description="the summary in plain words, for the walker")
    files: list[str] = Field(description="the session's output files that exist")


class SessionRename(BaseModel):
    """`PUT /api/sessions/{id}/name`: the coach's name for a session (null or blank: go back
    to the clip's name)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(max_length=4 * MAX_NAME_CHARS)


class SessionMove(BaseModel):
    """`PUT /api/sessions/{id}/person`: the person the session belongs to from now on."""

    model_config = ConfigDict(extra="forbid")

    person_id: str = Field(description="a person id from `GET /api/people`")


class SessionEvents(BaseModel):
    """`GET /api/sessions/{id}/events`: the moments two sessions can be aligned at, in
    seconds from the start of the clip (null when the session has none)."""

    session_id: str
    fps: float | None = Field(description="the clip's frame rate (frames per second)")
    first_backward_step_s: float | None = Field(
        description="the first step taken while walking backwards")
    first_toe_contact_s: float | None = Field(
        description="the first toe contact (backward walking lands on the toe)")
    step_times_s: list[float] = Field(description="every step's time, in order")


# ---------------------------------------------------------------------------- people


class PersonCreate(BaseModel):
    """`POST /api/people`: a new person."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    height_cm: float | None = Field(None, gt=MIN_HEIGHT_CM, lt=MAX_HEIGHT_CM)
    level: Level | None = None
    notes: str = Field("", max_length=MAX_NOTES_CHARS)
    population: Population | None = None


class PersonPatch(BaseModel):
    """`PATCH /api/people/{id}`: the fields to change; null clears height, level or
    population."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=MAX_NAME_CHARS)
    height_cm: float | None = Field(None, gt=MIN_HEIGHT_CM, lt=MAX_HEIGHT_CM)
    level: Level | None = None
    notes: str | None = Field(None, max_length=MAX_NOTES_CHARS)
    population: Population | None = None


class TimedTestItem(BaseModel):
    """One 3-metre backward walk test in a person's history."""

    session_id: str
    created_at: str = Field(description="ISO 8601 UTC time of the session")
    timed: bool
    time_s: float | None = Field(description="null when the test was not timed")
    reason: str | None = Field(description="why it was not timed")
    population: Population = Field(description="whose minimal detectable change applies")
    scale_source: str | None = Field(description="floor_marks or height; null when not timed")
    mdc_s: float | None = Field(
        description="the published minimal detectable change; null where none is published")
    change_s: float | None = Field(description="this time minus the previous timed test's")
    real_change: bool | None = Field(
        description="true when |change_s| exceeds mdc_s; null without both")


# ---------------------------------------------------------------------------- progression


class Suggestion(BaseModel):
    """What to do next session, and why."""

    action: Action
    message: str
    reasons: list[str]


class CheckInSaved(BaseModel):
    """The answer to a check-in: what was stored and the updated suggestion."""

    session_id: str
    checkin: StoredCheckIn
    suggestion: Suggestion


class ProgressRow(BaseModel):
    """One finished session's numbers for the progress charts."""

    id: str
    date: str = Field(description="ISO 8601 UTC time the session was created")
    kind: SessionKind
    level: str
    duration_s: float | None
    backward_time_s: float | None
    speed: float | None = Field(description="metres per second")
    speed_leg_s: float | None = Field(description="leg lengths per second")
    step_length: float | None = Field(description="metres")
    step_length_leg: float | None = Field(description="leg lengths")
    upright_share: float | None
    head_up_share: float | None
    pain: Pain | None
    pain_score: int | None


class ProgressUnits(BaseModel):
    """The units of the progress rows' numbers."""

    speed: str = "m/s"
    step_length: str = "m"
    speed_leg_s: str = "leg lengths/s"
    step_length_leg: str = "leg lengths"


class Progress(BaseModel):
    """`GET /api/progress`: finished sessions oldest first, and the suggestion."""

    sessions: list[ProgressRow]
    units: ProgressUnits = Field(default_factory=ProgressUnits)
    suggestion: Suggestion


# ---------------------------------------------------------------------------- jobs


class JobBody(BaseModel):
    """One uploaded clip's analysis as the browser polls it."""

    id: str
    filename: str
    status: JobStatus
    progress: float = Field(ge=0, le=1)
    session_id: str | None = Field(description="set once the clip was accepted")
    error: str | None


class UploadAccepted(BaseModel):
    """`POST /api/uploads`: one job per clip, refused clips as failed jobs."""

    jobs: list[JobBody]


# ---------------------------------------------------------------------------- config


class CheckInOptions(BaseModel):
    """The check-in's choices."""

    pain: list[Pain] = Field(default_factory=lambda: list(PAIN_CHOICES))
    score_min: int = SCORE_MIN
    score_max: int = SCORE_MAX


class LimitsBody(BaseModel):
    """Sizes and rates the server accepts."""

    max_upload_bytes: int
    max_files_per_upload: int
    max_duration_s: float
    max_frame_bytes: int
    live_fps: float


class RuleBody(BaseModel):
    """One coaching rule as the pages show it."""

    id: str
    label: str
    severity: Severity
    lines: list[OverlayLine] = Field(description="the overlay lines its active cue turns red")


def _rules() -> list[RuleBody]:
    return [RuleBody(**rule) for rule in rules_for_display()]


class ConfigBody(BaseModel):
    """`GET /api/config`: what the pages need before the walker starts."""

    levels: list[str]
    default_level: str
    suggested_minutes: dict[str, float] = Field(description="per level")
    setup_guide: list[str]
    checkin: CheckInOptions = Field(default_factory=CheckInOptions)
    source: bool = Field(description="true when the server has its own camera or stream")
    limits: LimitsBody
    rules: list[RuleBody] = Field(default_factory=_rules)
    height_cm_between: tuple[float, float] = Field(
        description="a walker's height in centimetres lies strictly between these two")


# ---------------------------------------------------------------------------- phone and viewer

class LanInfo(BaseModel):
    """`GET /api/lan`: how a phone reaches this server (`posecoach serve --lan`)."""

    lan: bool = Field(description="true when the server listens for phones over HTTPS")
    phone_url: str | None = Field(description="the live page's address with the token (QR code)")
    viewer_url: str | None = Field(description="the viewer page's address with the token")
    self_signed: bool = Field(description="true when phones warn once about the certificate")


# ---------------------------------------------------------------------------- the coach's review
# The stored shapes (`SessionReview`, `Measurement`, `FrameReadout`) are declared once, in
# `posecoach.outputs.review`; the API serves them as they are.


class NoteUpdate(BaseModel):
    """`PUT /api/sessions/{id}/review/note`: the coach's note (empty removes it)."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(max_length=MAX_REVIEW_NOTE_CHARS)


class MeasurementCreate(BaseModel):
    """`POST /api/sessions/{id}/review/measurements`: points clicked on the frame shown at
    `time_s`, as shares of the picture's width and height (three for an angle, its vertex in
    the middle; two for a distance)."""

    model_config = ConfigDict(extra="forbid")

    kind: MeasureKind
    time_s: float = Field(ge=0, allow_inf_nan=False)
    points: list[PicturePoint] = Field(min_length=2, max_length=3)

    @model_validator(mode="after")
    def _inside(self) -> MeasurementCreate:
        if any(not (0.0 <= p.x <= 1.0 and 0.0 <= p.y <= 1.0) for p in self.points):
            raise ValueError("every point must lie on the picture (shares from 0 to 1)")
        return self
