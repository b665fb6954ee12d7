"""JSON API of the review page: every frame's measures, and the coach's note and measurements.

The note and measurements live in the session folder's `review.json`
(`posecoach.outputs.review`); each change is also written into the session's report, so the
report served and downloaded shows them. A session that does not exist is refused with 404,
one still being recorded or analysed with 409.
"""

from __future__ import annotations

import threading

from fastapi import APIRouter, Request
from fastapi.responses import Response

from posecoach.errors import Conflict
from posecoach.outputs.files import SessionFiles
from posecoach.outputs.report import add_review
from posecoach.outputs.review import (
    FrameReadout,
    Measurement,
    SessionReview,
    frame_readout,
    new_measurement,
    read_review,
    with_measurement,
    with_note,
    without_measurement,
    write_review,
)
from posecoach.server.context import context_of
from posecoach.server.routes_api import session_of
from posecoach.server.schemas import ANY_ERROR, MeasurementCreate, NoteUpdate, error_responses
from posecoach.server.storage import UNFINISHED, SessionRecord

router = APIRouter(
    prefix="/api/sessions/{session_id}",
    responses=ANY_ERROR,
)
_write_lock = threading.Lock()
"""One change to a review at a time (read, change, write)."""


def _finished(request: Request, session_id: str) -> SessionRecord:
    """The session, refused when it does not exist or is still running."""
    record = session_of(context_of(request), session_id)
    if record.status in UNFINISHED:
        doing = "recorded" if record.status == "recording" else "analysed"
        raise Conflict(f"the session is still being {doing}: review it once it has finished")
    return record


def _save(record: SessionRecord, review: SessionReview) -> SessionReview:
    """Keep the review and show it in the session's report."""
    files = SessionFiles(record.out_dir)
    write_review(files, review)
    if files.report.is_file() and SessionFiles.REPORT not in record.missing:
        add_review(files.report, review)
    return review


@router.get("/frames", responses=error_responses(404, 409))
def frames(session_id: str, request: Request) -> FrameReadout:
    """Every frame's trunk lean, head angle, foot on the ground and cue in force, from the
    session's metrics.csv and summary, with the clip's frame interval."""
    record = _finished(request, session_id)
    return frame_readout(SessionFiles(record.out_dir), record.summary)


@router.get("/review", responses=error_responses(404, 409))
def review(session_id: str, request: Request) -> SessionReview:
    """The coach's note and measurements (empty when none were made)."""
    record = _finished(request, session_id)
    return read_review(SessionFiles(record.out_dir))


@router.put("/review/note", responses=error_responses(404, 409, 422))
def put_note(session_id: str, body: NoteUpdate, request: Request) -> SessionReview:
    """Replace the coach's note; an empty note removes it."""
    record = _finished(request, session_id)
    with _write_lock:
        current = read_review(SessionFiles(record.out_dir))
        return _save(record, with_note(current, body.note))


@router.post("/review/measurements", status_code=201, responses=error_responses(404, 409, 422))
def add_measurement(session_id: str, body: MeasurementCreate, request: Request) -> Measurement:
    """Measure an angle or a distance on one frame and keep it; answers the measurement with
    its value."""
    record = _finished(request, session_id)
    files = SessionFiles(record.out_dir)
    made = new_measurement(files, record.summary, body.kind, body.time_s, body.points)
    with _write_lock:
        _save(record, with_measurement(read_review(files), made))
    return made


@router.get("/review/measurements", responses=error_responses(404, 409))
def measurements(session_id: str, request: Request) -> list[Measurement]:
    """The session's measurements in order of frame time."""
    record = _finished(request, session_id)
    return list(read_review(SessionFiles(record.out_dir)).measurements)


@router.delete(
    "/review/measurements/{measurement_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(404, 409),
)
def delete_measurement(session_id: str, measurement_id: str, request: Request) -> Response:
    """Remove one measurement."""
    record = _finished(request, session_id)
    with _write_lock:
        current = read_review(SessionFiles(record.out_dir))
        _save(record, without_measurement(current, measurement_id))
    return Response(status_code=204)
