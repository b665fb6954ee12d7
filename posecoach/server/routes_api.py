"""JSON API: people, uploads and jobs, sessions and their files, check-ins, progress, timed
tests, config."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response

from posecoach.errors import (
    BadRequest,
    Busy,
    Conflict,
    InputError,
    NotFound,
    OutputError,
    PosecoachError,
    UnsupportedMedia,
)
from posecoach.media.timeline import clip_length_s
from posecoach.outputs.clinician_report import CLINICIAN_REPORT
from posecoach.outputs.files import SessionFiles, atomic_write_text
from posecoach.outputs.summary import SessionSummary
from posecoach.outputs.words import summary_in_words
from posecoach.server.context import ServerContext, context_of
from posecoach.server.errors import status_of
from posecoach.server.progression import suggest_next, timed_test_history
from posecoach.server.schemas import (
    ANY_ERROR,
    DIGEST_KEYS,
    CheckIn,
    CheckInSaved,
    ConfigBody,
    JobBody,
    LimitsBody,
    Person,
    PersonCreate,
    PersonPatch,
    Progress,
    ProgressRow,
    SessionDetail,
    SessionListItem,
    Suggestion,
    TimedTestItem,
    UploadAccepted,
    error_responses,
)
from posecoach.server.storage import KEEP, NoSuchPerson, SessionRecord, same_name
from posecoach.server.uploads import receive_files
from posecoach.settings import LEVELS, MAX_HEIGHT_CM, MIN_HEIGHT_CM, Settings

log = logging.getLogger(__name__)
router = APIRouter(
    prefix="/api",
    responses=ANY_ERROR,
)

SESSION_FILES: dict[str, str] = {
    SessionFiles.ANNOTATED: "video/mp4",
    SessionFiles.LANDMARKS: "text/csv; charset=utf-8",
    SessionFiles.METRICS: "text/csv; charset=utf-8",
    SessionFiles.SUMMARY: "application/json",
    SessionFiles.REPORT: "text/html; charset=utf-8",
    CLINICIAN_REPORT: "text/html; charset=utf-8",
}
SETUP_GUIDE = (
    "Choose a clear, flat, open space free from obstacles.",
    "Place the camera to the side of your walking line, at about hip height, level and square "
    "to the line: the side view is the one that can judge posture and step length.",
    "Stand far enough away that your whole body, head to feet, stays in the picture.",
    "On a treadmill: put the camera side-on at hip height, with the belt's whole length in "
    "view; hold the handrails at first, and choose Treadmill under Where (or leave it on "
    "Measure it).",
    "Start slowly: short sessions (5-10 minutes for beginners) at an easy pace.",
    "Keep your head up and shoulders back; glance over your shoulder only briefly.",
    "Listen to your body: if anything hurts, reduce the intensity or stop.",
)




def _session_fields(record: SessionRecord) -> dict[str, Any]:
    """The fields every session body shares, from the record."""
    return {
        "id": record.id,
        "kind": record.kind,
        "created_at": record.created_at,
        "source_name": record.source_name,
        "name": record.name,
        "level": record.level,
        "height_cm": record.height_cm,
        "status": record.status,
        "duration_s": record.duration_s,
        "error": record.error,
        "checkin": record.checkin,
        "missing": list(record.missing),
        "person_id": record.person_id,
        "person_name": record.person_name,
    }


def listed(record: SessionRecord) -> SessionListItem:
    summary = record.summary
    digest = None
    if summary is not None:
        stored = summary.to_json()
        digest = {key: stored[key] for key in DIGEST_KEYS}
    return SessionListItem.model_validate(
        {
            **_session_fields(record),
            "summary": digest,
            "cue_count": len(summary.cues) if summary is not None else 0,
        }
    )


def _detail(record: SessionRecord) -> SessionDetail:
    summary = record.summary
    return SessionDetail.model_validate(
        {
            **_session_fields(record),
            "summary": summary.to_json() if summary is not None else None,
            "sentences": summary_in_words(summary) if summary is not None else [],
            "files": _offered_files(record),
        }
    )


def _offered_files(record: SessionRecord) -> list[str]:
    """The session's output files that may be listed and served: none while an upload is
    being analysed or after its analysis failed (they are incomplete), never one recorded as
    missing."""
    if record.status == "analysing" or (record.kind == "upload" and record.status == "failed"):
        return []
    return [
        name
        for name in SESSION_FILES
        if name not in record.missing and (record.out_dir / name).is_file()
    ]


def session_of(ctx: ServerContext, session_id: str) -> SessionRecord:
    record = ctx.storage.get_session(session_id)
    if record is None:
        raise NotFound("no such session")
    return record


def _person(ctx: ServerContext, person_id: str) -> Person:
    person = ctx.storage.get_person(person_id)
    if person is None:
        raise NoSuchPerson()
    return person


def _default_person_id(ctx: ServerContext) -> str | None:
    """The person progress is shown for when none is asked for: the oldest (None while the
    library has nobody, so reading never writes)."""
    people = ctx.storage.list_people()
    return people[0].id if people else None


def _settings(ctx: ServerContext, level: str | None, height_cm: float | None) -> Settings:
    return ctx.settings_loader(level, height_cm)


def _float_field(fields: dict[str, str], name: str) -> float | None:
    text = fields.get(name, "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{name} must be a number") from None


UPLOAD_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "one or more video clips",
                        },
                        "level": {"type": "string", "description": "training level"},
                        "height_cm": {"type": "number", "description": "the walker's height"},
                        "person_id": {
                            "type": "string",
                            "description": "whose clips these are (default: the default person)",
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/uploads",
    status_code=202,
    openapi_extra=UPLOAD_FORM,
    responses=error_responses(400, 404, 413, 415, 422),
)
async def upload(request: Request) -> UploadAccepted:
    """Receive clips (multipart `files`; `level`, `height_cm` and `person_id` as form fields or
    query parameters), check each one, and queue the good ones. All refused: the worst error.

    The person's level and height are the defaults when the upload gives none.
    """
    ctx = context_of(request)
    received = await receive_files(
        request,
        ctx.uploads_dir,
        max_file_bytes=ctx.limits.max_upload_bytes,
        max_files=ctx.limits.max_files_per_upload,
    )
    fields = {**received.fields, **request.query_params}
    try:
        person_id = fields.get("person_id", "").strip() or None
        person = _person(ctx, person_id) if person_id is not None else None
        height_cm = _float_field(fields, "height_cm")
        settings = _settings(
            ctx,
            fields.get("level") or (person.level if person else None),
            height_cm if height_cm is not None else (person.height_cm if person else None),
        )
    except PosecoachError:
        for item in received.files:
            item.path.unlink(missing_ok=True)
        raise
    jobs: list[JobBody] = []
    problems: list[PosecoachError] = []
    for item in received.files:
        refused, info = await _check_clip(ctx, item.path)
        if refused is not None:
            problem = str(refused).replace(item.path.name, item.filename)
            item.path.unlink(missing_ok=True)
            problems.append(type(refused)(f"{item.filename}: {problem}"))
            jobs.append(JobBody.model_validate(ctx.jobs.rejected(item.filename, problem).to_json()))
            continue
        frames = getattr(info, "frame_count", None)
        try:
            submitted = ctx.jobs.submit(item.path, item.filename, settings, frames,
                                        person_id=person_id)
        except NoSuchPerson as exc:
            problems.append(NoSuchPerson(f"{item.filename}: {exc}"))
            item.path.unlink(missing_ok=True)
            submitted = ctx.jobs.rejected(item.filename, str(exc))
        except OutputError as exc:
            problems.append(_same_kind(exc, f"{item.filename}: {exc}"))
            submitted = ctx.jobs.rejected(item.filename, str(exc))
        jobs.append(JobBody.model_validate(submitted.to_json()))
    if len(problems) == len(received.files):
        worst = max(problems, key=status_of)
        raise _same_kind(worst, "; ".join(str(p) for p in problems))
    return UploadAccepted(jobs=jobs)


def _same_kind(exc: PosecoachError, message: str) -> PosecoachError:
    """An error of the same kind (and so the same status) as `exc`, saying `message`."""
    if isinstance(exc, Busy):
        return Busy(message)
    if isinstance(exc, OutputError):
        return OutputError(exc.errno, message)
    return type(exc)(message)


async def _check_clip(ctx: ServerContext, path: Path) -> tuple[PosecoachError | None, Any]:
    """Why a received clip is refused (None when it is not), and its stream information."""
    try:
        info = await run_in_threadpool(ctx.engine.probe, path)
    except InputError as exc:
        return UnsupportedMedia(str(exc)), None
    # The frame count is what gets decoded, whatever duration the container states.
    duration = clip_length_s(getattr(info, "duration_s", None),
                             getattr(info, "frame_count", None), getattr(info, "fps", None))
    limit = ctx.limits.max_duration_s
    if duration is not None and duration > limit:
        return (
            InputError(
                f"the clip is {duration / 60:.1f} min long; the limit is {limit / 60:.0f} min"
            ),
            info,
        )
    return None, info


@router.get("/jobs/{job_id}", responses=error_responses(404))
def job(job_id: str, request: Request) -> JobBody:
    """Progress of one analysis job."""
    found = context_of(request).jobs.get(job_id)
    if found is None:
        raise NotFound("no such job (jobs are forgotten when the server restarts)")
    return JobBody.model_validate(found.to_json())


PERSON_QUERY = Query(None, description="only this person's (a person id)")


@router.get("/sessions", responses=error_responses(404))
def sessions(request: Request, person_id: str | None = PERSON_QUERY) -> list[SessionListItem]:
    """Every session (or one person's), newest first, with a digest of its summary."""
    ctx = context_of(request)
    if person_id is not None:
        _person(ctx, person_id)
    return [listed(r) for r in ctx.storage.list_sessions(person_id=person_id)]


@router.get("/sessions/{session_id}", responses=error_responses(404))
def session(session_id: str, request: Request) -> SessionDetail:
    """One session with its whole summary, the summary in sentences, and the files it has."""
    return _detail(session_of(context_of(request), session_id))


SESSION_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file",
        "content": {media_type.split(";")[0]: {} for media_type in SESSION_FILES.values()},
    },
    **error_responses(404),
}


@router.get(
    "/sessions/{session_id}/files/{name}",
    response_class=FileResponse,
    responses=SESSION_FILE_RESPONSES,
)
def session_file(
    session_id: str, name: str, request: Request, download: bool = False
) -> FileResponse:
    """One of the session's output files (whitelisted names only)."""
    ctx = context_of(request)
    media_type = SESSION_FILES.get(name)
    if media_type is None:
        raise NotFound("no such file")
    record = session_of(ctx, session_id)
    path = record.out_dir / name
    if name in record.missing:
        raise NotFound(
            f"{name} of this session is incomplete: the server stopped before it was finished"
        )
    if record.status == "analysing":
        raise NotFound(f"{name} is not ready: the clip is still being analysed")
    if name not in _offered_files(record):
        raise NotFound(f"{name} is not available for this session")
    headers = {"X-Content-Type-Options": "nosniff"}
    if name == SessionFiles.REPORT:
        headers["Content-Security-Policy"] = "sandbox allow-scripts"
    return FileResponse(
        path,
        media_type=media_type,
        headers=headers,
        filename=record.download_name(name),
        content_disposition_type="attachment" if download else "inline",
    )


MIN_PLOT_WIDTH_PX, MAX_PLOT_WIDTH_PX = 240, 1200
PLOT_WIDTH_STEP_PX = 10
PLOT_WIDTH_IN = 9.0
"""The report's plot width in inches, as the analysis draws them."""
PLOT_PX_PER_IN = 72 * 1.3
"""A plot asked for by width is shown at 1.3 CSS px per point (72 points an inch), so its
smallest (9 pt) text is 11.7 px on screen, 11 px still if its box is a scroll bar narrower."""


@router.get("/sessions/{session_id}/plots", responses=error_responses(404, 409))
async def plots(
    session_id: str,
    request: Request,
    width_px: int | None = Query(None, ge=MIN_PLOT_WIDTH_PX, le=MAX_PLOT_WIDTH_PX),
) -> dict[str, str]:
    """The session's plots as `{name: svg}`, as the analysis wrote them; `{}` when it has none.

    A session folder from an older version without the plots file gets them drawn once from
    its landmarks and saved. With `width_px` (a phone's plot width in CSS pixels) the same
    plots are drawn that wide with the same fonts, so their labels stay readable on a small
    screen; they are drawn on the first request for a width and kept in the session folder.
    """
    ctx = context_of(request)
    record = session_of(ctx, session_id)
    if record.status != "done":
        raise Conflict(f"the session is {record.status}: no plots")
    out_dir = record.out_dir
    width_in = PLOT_WIDTH_IN
    if width_px is None:
        stored = SessionFiles(out_dir).plots
    else:
        width_px -= width_px % PLOT_WIDTH_STEP_PX  # a few cached widths, never wider than asked
        stored = SessionFiles(out_dir).plots_at(width_px)
        width_in = width_px / PLOT_PX_PER_IN
    try:
        saved = json.loads(stored.read_text(encoding="utf-8"))
        if width_px is not None and _older(stored, SessionFiles(out_dir).landmarks):
            saved = None  # the session was analysed again since these were drawn
    except (OSError, ValueError):
        saved = None
    if isinstance(saved, dict):
        return saved
    settings = _settings(ctx, record.level, record.height_cm)
    try:
        rendered = await run_in_threadpool(ctx.engine.plots, out_dir, settings, width_in)
    except Exception:  # noqa: BLE001 - a session without usable landmarks has no plots
        log.warning("drawing the plots of %s failed", session_id, exc_info=True)
        return {}
    try:
        atomic_write_text(stored, json.dumps(rendered))
    except OSError:
        log.warning("could not save the plots of %s", session_id)
    return rendered


def _older(path: Path, than: Path) -> bool:
    """True when `than` exists and was written after `path`."""
    try:
        return path.stat().st_mtime < than.stat().st_mtime
    except FileNotFoundError:
        return False


@router.post("/sessions/{session_id}/checkin", responses=error_responses(404, 422))
def checkin(session_id: str, body: CheckIn, request: Request) -> CheckInSaved:
    """Store the pain check-in for a session and return the updated suggestion."""
    ctx = context_of(request)
    record = session_of(ctx, session_id)
    stored = ctx.storage.add_checkin(session_id, body.pain, body.score)
    suggestion = _suggestion(ctx, record.person_id)
    return CheckInSaved.model_validate(
        {"session_id": session_id, "checkin": stored, "suggestion": suggestion}
    )


def _suggestion(
    ctx: ServerContext, person_id: str | None, records: list[SessionRecord] | None = None
) -> Suggestion:
    """The next step for one person, at their level and height (else their latest
    session's)."""
    if records is None:
        records = ctx.storage.list_sessions(status="done", person_id=person_id)
    person = ctx.storage.get_person(person_id) if person_id is not None else None
    latest = records[0] if records else None
    level = (person.level if person else None) or (latest.level if latest else None)
    height = (person.height_cm if person else None) or (latest.height_cm if latest else None)
    return Suggestion.model_validate(suggest_next(records, _settings(ctx, level, height)),
                                     from_attributes=True)


@router.get("/progress", responses=error_responses(404))
def progress(request: Request, person_id: str | None = PERSON_QUERY) -> Progress:
    """One person's finished sessions for the charts (oldest first) and their progression
    suggestion; without `person_id`, the default person's."""
    ctx = context_of(request)
    if person_id is not None:
        _person(ctx, person_id)
    else:
        person_id = _default_person_id(ctx)
    records = ctx.storage.list_sessions(status="done", person_id=person_id)
    series = []
    for record in reversed(records):
        summary = record.summary or SessionSummary()
        checkin = record.checkin
        series.append(
            ProgressRow(
                id=record.id,
                date=record.created_at,
                kind=record.kind,
                level=record.level,
                duration_s=record.duration_s or summary.duration_s,
                backward_time_s=summary.backward_time_s,
                speed=summary.speed_m_s,
                speed_leg_s=summary.speed_leg_s,
                step_length=summary.step_length_m,
                step_length_leg=summary.step_length_leg,
                upright_share=summary.upright_share,
                head_up_share=summary.head_up_share,
                pain=checkin.pain if checkin else None,
                pain_score=checkin.score if checkin else None,
            )
        )
    return Progress(sessions=series, suggestion=_suggestion(ctx, person_id, records))


# ---------------------------------------------------------------------------- people


@router.get("/people")
def people(request: Request) -> list[Person]:
    """Everyone in the library, oldest first, with their number of sessions."""
    return context_of(request).storage.list_people()


@router.post("/people", status_code=201, responses=error_responses(409, 422))
def add_person(body: PersonCreate, request: Request) -> Person:
    """Add a person; 409 when the name (compared without regard to case) is taken."""
    return context_of(request).storage.create_person(
        body.name, body.height_cm, body.level, body.notes, body.population)


@router.get("/people/{person_id}", responses=error_responses(404))
def person(person_id: str, request: Request) -> Person:
    """One person."""
    return _person(context_of(request), person_id)


@router.patch("/people/{person_id}", responses=error_responses(404, 409, 422))
def change_person(person_id: str, body: PersonPatch, request: Request) -> Person:
    """Change the fields given; null clears the height, level or population."""
    given = body.model_fields_set
    if "name" in given and body.name is None:
        raise InputError("a person needs a name or a code")
    return context_of(request).storage.update_person(
        person_id,
        name=body.name if "name" in given and body.name is not None else KEEP,
        height_cm=body.height_cm if "height_cm" in given else KEEP,
        level=body.level if "level" in given else KEEP,
        notes=(body.notes or "") if "notes" in given else KEEP,
        population=body.population if "population" in given else KEEP,
    )


@router.delete(
    "/people/{person_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(400, 404, 409),
)
def delete_person(
    person_id: str,
    request: Request,
    confirm: str = Query("", description="the person's exact name, to confirm"),
) -> Response:
    """Delete a person with all their sessions, files and timed tests; `confirm` must be
    their exact name (however its accents were composed). 409 while one of their sessions is
    still running."""
    ctx = context_of(request)
    found = _person(ctx, person_id)
    if not same_name(confirm, found.name):
        raise BadRequest(
            f"deleting {found.name} removes all their sessions and files: "
            "confirm with their exact name"
        )
    ctx.storage.delete_person(person_id)
    return Response(status_code=204)


@router.get("/people/{person_id}/timed-tests", responses=error_responses(404))
def timed_tests(person_id: str, request: Request) -> list[TimedTestItem]:
    """A person's 3-metre backward walk tests, oldest first, with the change since the
    previous one against the published minimal detectable change for their population."""
    ctx = context_of(request)
    found = _person(ctx, person_id)
    history = timed_test_history(ctx.storage.timed_tests(person_id), found.population)
    return [TimedTestItem.model_validate(point, from_attributes=True) for point in history]


@router.get("/config")
def config(request: Request) -> ConfigBody:
    """Levels, suggested minutes per level, the set-up guide, and the server's limits."""
    ctx = context_of(request)
    default = _settings(ctx, None, None)
    minutes = {level: _settings(ctx, level, None).session.suggested_minutes for level in LEVELS}
    limits = ctx.limits
    return ConfigBody(
        levels=list(LEVELS),
        default_level=default.level,
        suggested_minutes=minutes,
        setup_guide=list(SETUP_GUIDE),
        height_cm_between=(MIN_HEIGHT_CM, MAX_HEIGHT_CM),
        source=ctx.source is not None,
        limits=LimitsBody(
            max_upload_bytes=limits.max_upload_bytes,
            max_files_per_upload=limits.max_files_per_upload,
            max_duration_s=limits.max_duration_s,
            max_frame_bytes=limits.max_frame_bytes,
            live_fps=limits.live_fps,
        ),
    )
