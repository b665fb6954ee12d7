"""Every WebSocket message, both ways, declared once.

The pages' sockets: `/ws/live` (a browser camera), `/ws/source` (the server's own camera) and
`/ws/view` (a big screen watching a phone's session). Each message is a JSON object whose
`type` names it. What a page sends is read with `parse_live` or `parse_viewer`, which turn any
mistake into one sentence for the user (`InputError`); what the server sends is built from the
models below and written with `dumps`. `tools/ws_schema.py` publishes them, with the HTTP
bodies' shapes, as web/schema.json for the pages.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from posecoach.coach.live import LiveResultBody
from posecoach.coach.timed_test import POPULATIONS, FloorMarks, TimedTestResult
from posecoach.errors import InputError

SpeakWhere = Literal["phone", "viewer", "both"]
SPEAK_CHOICES: tuple[str, ...] = get_args(SpeakWhere)
TEST_3M_BACKWARD = "3m-backward"
MIN_FPS = 1
MAX_FPS = 60
# A finite JSON number (an integer reads as a float); not text, not true, not 1e999.
JsonNumber = Annotated[float, Strict(), AllowInfNan(False)]


def _absent_if_none(value: Any) -> bool:
    return value is None


# A field left out of the message, rather than sent as null, when it has no value.
OMITTED_IF_NONE: Any = {"exclude_if": _absent_if_none}


# ---------------------------------------------------------------------------- from the pages


class _Incoming(BaseModel):
    """A message from a page; keys it does not know are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class StartMessage(_Incoming):
    """Start a session (`/ws/live`, `/ws/source`): what the walker set on the page. Left out
    (or null), the person's own values, then the server's, apply."""

    type: Literal["start"]
    level: str | None = Field(None, description="a level of GET /api/config")
    height_cm: JsonNumber | None = Field(None, description="the walker's height")
    speak: SpeakWhere | None = Field(None, description="where cues are spoken (phone)")
    setting: Literal["auto", "overground", "treadmill"] | None = None
    person_id: str | None = Field(None, description="whose session this is")
    fps: JsonNumber | None = Field(None, ge=MIN_FPS, le=MAX_FPS,
                                   description="the rate the page sends frames at")
    test: str | None = Field(None, description=f"{TEST_3M_BACKWARD!r} for the timed test")
    floor_marks_px: tuple[JsonNumber, ...] | None = Field(
        None, description="the timed test's two floor lines: x1,y1,x2,y2,x3,y3,x4,y4 (pixels "
                          "of the frames sent)")
    population: str | None = Field(None, description="whose published cut-offs apply")

    @field_validator("test")
    @classmethod
    def _known_test(cls, value: str | None) -> str | None:
        if value is not None and value != TEST_3M_BACKWARD:
            raise ValueError(f"unknown test {value!r}: the test offered is {TEST_3M_BACKWARD}")
        return value

    @field_validator("floor_marks_px")
    @classmethod
    def _usable_marks(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is not None:
            try:
                FloorMarks.from_values([float(v) for v in value])
            except InputError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("population")
    @classmethod
    def _known_population(cls, value: str | None) -> str | None:
        if value is not None and value not in POPULATIONS:
            raise ValueError(f"unknown population {value!r}: choose one of "
                             f"{', '.join(POPULATIONS)}")
        return value


class StopMessage(_Incoming):
    """Stop the session and save it (`/ws/live`, `/ws/source`)."""

    type: Literal["stop"]


class PingMessage(_Incoming):
    """Are you there? Answered with `pong`."""

    type: Literal["ping"]


class SpeakChoice(_Incoming):
    """Say where the session's cues are spoken (the phone, or a viewer about the session it
    watches)."""

    type: Literal["speak"]
    speak: SpeakWhere


class TimeTrialsMessage(_Incoming):
    """Time the trials of a timed test walked so far (`/ws/live`); answered with `trials`."""

    type: Literal["time_trials"]


class FrameNumberMessage(_Incoming):
    """The number the page gives the next binary frame (`/ws/live`); the frame's result
    carries it back as `frame_no`, so the page can draw each result on its own frame."""

    type: Literal["frame_no"]
    frame_no: int = Field(ge=0, description="the page's own number for the next frame")


class WatchMessage(_Incoming):
    """A viewer: watch this running session."""

    type: Literal["watch"]
    session_id: str


class UnwatchMessage(_Incoming):
    """A viewer: stop watching."""

    type: Literal["unwatch"]


LiveIn = Annotated[
    StartMessage | StopMessage | PingMessage | SpeakChoice | TimeTrialsMessage
    | FrameNumberMessage,
    Field(discriminator="type"),
]
ViewerIn = Annotated[
    WatchMessage | UnwatchMessage | SpeakChoice | PingMessage, Field(discriminator="type"),
]
_LIVE_IN: TypeAdapter[Any] = TypeAdapter(LiveIn)
_VIEWER_IN: TypeAdapter[Any] = TypeAdapter(ViewerIn)


def _words(error: ValidationError) -> str:
    """A validation error as a sentence: the first problem, with the key it is about."""
    first = error.errors(include_url=False)[0]
    if first["type"] == "union_tag_invalid":
        tag = first.get("input", {}).get("type") if isinstance(first.get("input"), dict) else None
        expected = first.get("ctx", {}).get("expected_tags", "")
        return f"unknown message type {tag!r}: send one of {expected}"
    if first["type"] == "union_tag_not_found":
        return "a message needs a type"
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "value_error":
        return message
    # The location names the message type (the tag), then the key.
    key = ".".join(str(part) for part in first["loc"][1:])
    return f"{key}: {message[:1].lower()}{message[1:]}" if key else message


def _parse(adapter: TypeAdapter[Any], data: dict[str, Any]) -> Any:
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        raise InputError(_words(exc)) from None


def parse_live(data: dict[str, Any]) -> Any:
    """A recording page's message (`LiveIn`); `InputError` saying what is wrong."""
    return _parse(_LIVE_IN, data)


def parse_viewer(data: dict[str, Any]) -> Any:
    """A viewer's message (`ViewerIn`); `InputError` saying what is wrong."""
    return _parse(_VIEWER_IN, data)


# ---------------------------------------------------------------------------- to the pages


class _Outgoing(BaseModel):
    """A message the server sends."""

    model_config = ConfigDict(frozen=True)


class StartedMessage(_Outgoing):
    """The session started and was saved under `session_id`."""

    type: Literal["started"] = "started"
    session_id: str
    speak: SpeakWhere | None = Field(None, description="where its cues are spoken (the "
                                     "browser camera's session only)", **OMITTED_IF_NONE)


class ResultMessage(LiveResultBody):
    """One frame's result: what the coach knows after it (see `LiveResultBody`)."""

    model_config = ConfigDict(frozen=True)

    type: Literal["result"] = "result"
    seq: int = Field(ge=0, description="the result's number in the session, from 0")
    dropped: int = Field(ge=0, description="frames skipped so far because the model was busy")
    server_ms: float | None = Field(
        None, description="milliseconds from the frame's arrival to this result",
        **OMITTED_IF_NONE)
    frame_no: int | None = Field(
        None, ge=0, description="the page's number of the frame this result was computed "
        "from (its `frame_no` message); the big screen gets the frame under the same number",
        **OMITTED_IF_NONE)

    @classmethod
    def of(cls, body: LiveResultBody, seq: int, dropped: int,
           server_ms: float | None = None, frame_no: int | None = None) -> ResultMessage:
        """The message for one frame's result body."""
        return cls(**dict(body), seq=seq, dropped=dropped, server_ms=server_ms,
                   frame_no=frame_no)


class FrameMessage(_Outgoing):
    """A frame of the server's own camera, to show under its result."""

    type: Literal["frame"] = "frame"
    seq: int = Field(ge=0, description="the seq of the result that follows")
    jpeg: str = Field(description="the frame as a base64 JPEG")


class TrialsMessage(_Outgoing):
    """The answer to `time_trials`: the timed test over the session so far."""

    type: Literal["trials"] = "trials"
    session_id: str
    timed_test: TimedTestResult
    walking: bool = Field(description="the walker is moving now, so an untimed last trial "
                                      "may still be under way")


class FinishedMessage(_Outgoing):
    """The session ended: saved (`done`) or not (`failed`, with the reason)."""

    type: Literal["finished"] = "finished"
    session_id: str
    status: Literal["done", "failed"] = "done"
    frames: int | None = Field(None, ge=0, description="results sent", **OMITTED_IF_NONE)
    dropped: int | None = Field(None, ge=0, description="frames skipped", **OMITTED_IF_NONE)
    error: str | None = Field(None, description="why it failed", **OMITTED_IF_NONE)
    timed_test: TimedTestResult | None = Field(
        None, description="a timed test's result over the whole session", **OMITTED_IF_NONE)


class ErrorMessage(_Outgoing):
    """Something the user should know; the session goes on unless the socket closes."""

    type: Literal["error"] = "error"
    message: str


class PongMessage(_Outgoing):
    """The answer to `ping`."""

    type: Literal["pong"] = "pong"


class SpeakMessage(_Outgoing):
    """Where a session's cues are spoken now (to its phone and its viewers)."""

    type: Literal["speak"] = "speak"
    session_id: str
    speak: SpeakWhere


class LiveSessionItem(BaseModel):
    """One running session from a browser camera, which a viewer can watch."""

    session_id: str
    level: str
    source_name: str
    started_at: str
    speak: SpeakWhere = Field(description="where its cues are spoken")
    viewers: int = Field(ge=0)


class SessionsMessage(_Outgoing):
    """A viewer: the running sessions, oldest first, sent at once and on every change."""

    type: Literal["sessions"] = "sessions"
    sessions: list[LiveSessionItem]


class WatchingMessage(_Outgoing):
    """A viewer: now watching this session."""

    type: Literal["watching"] = "watching"
    session: LiveSessionItem


LiveOut = Annotated[
    StartedMessage | ResultMessage | FrameMessage | TrialsMessage | FinishedMessage
    | SpeakMessage | ErrorMessage | PongMessage,
    Field(discriminator="type"),
]
ViewerOut = Annotated[
    SessionsMessage | WatchingMessage | ResultMessage | FinishedMessage | SpeakMessage
    | ErrorMessage | PongMessage,
    Field(discriminator="type"),
]
def dumps(message: BaseModel) -> str:
    """A message's JSON text: NaN and infinity as null."""
    return message.model_dump_json()


def schemas() -> dict[str, TypeAdapter[Any]]:
    """The unions of every socket's messages, by direction, for the published schema."""
    return {"LiveIn": _LIVE_IN, "LiveOut": TypeAdapter(LiveOut),
            "ViewerIn": _VIEWER_IN, "ViewerOut": TypeAdapter(ViewerOut)}


def to_json(message: BaseModel) -> dict[str, Any]:
    """A message as the JSON object the page receives."""
    result: dict[str, Any] = json.loads(dumps(message))
    return result
