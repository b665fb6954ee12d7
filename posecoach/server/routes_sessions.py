"""JSON API for one session at a time: rename it, move it to another person, delete it, and
the moments two sessions are aligned at on the compare page.

A session being recorded or analysed is never changed (409), a session or person that is not
in the library is a 404; every refusal is one sentence through the error table.
"""

from __future__ import annotations

import bisect
import csv
import logging
import math
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from posecoach.outputs.files import SessionFiles
from posecoach.outputs.summary import SessionSummary
from posecoach.server.context import context_of
from posecoach.server.routes_api import listed, session_of
from posecoach.server.schemas import (
    ANY_ERROR,
    SessionEvents,
    SessionListItem,
    SessionMove,
    SessionRename,
    error_responses,
)

log = logging.getLogger(__name__)
router = APIRouter(
    prefix="/api/sessions",
    responses=ANY_ERROR,
)




@router.put("/{session_id}/name", responses=error_responses(404, 409, 422))
def rename(session_id: str, body: SessionRename, request: Request) -> SessionListItem:
    """Rename a finished session; downloads are named after it from then on."""
    return listed(context_of(request).storage.rename_session(session_id, body.name))


@router.put("/{session_id}/person", responses=error_responses(404, 409, 422))
def move(session_id: str, body: SessionMove, request: Request) -> SessionListItem:
    """Move a finished session, its check-ins and timed test to another person."""
    return listed(context_of(request).storage.move_session(session_id, body.person_id.strip()))


@router.delete(
    "/{session_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(404, 409),
)
def delete(session_id: str, request: Request) -> Response:
    """Delete one finished session with its files, check-ins and timed test."""
    context_of(request).storage.delete_session(session_id)
    return Response(status_code=204)


@router.get("/{session_id}/events", responses=error_responses(404))
def events(session_id: str, request: Request) -> SessionEvents:
    """The first backward step, the first toe contact and every step of a session, from its
    summary and the walking direction in its metrics."""
    record = session_of(context_of(request), session_id)
    summary = record.summary or SessionSummary()
    steps = [step.time_s for step in summary.step_list if _finite(step.time_s)]
    toe = [event.time_s for event in summary.gait_events
           if event.kind == "toe_contact" and _finite(event.time_s)]
    backward = _backward_times(SessionFiles(record.out_dir).metrics) if steps else None
    first_backward = next(
        (t for t in steps if backward is not None and backward.going_backward(t)), None)
    return SessionEvents(
        session_id=record.id,
        fps=summary.fps,
        first_backward_step_s=first_backward,
        first_toe_contact_s=min(toe) if toe else None,
        step_times_s=[float(t) for t in steps if t is not None],
    )


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


class _Directions:
    """Each frame's time and walking direction, from a session's metrics.csv."""

    def __init__(self, times_s: list[float], directions: list[str]) -> None:
        self.times_s = times_s
        self.directions = directions

    def going_backward(self, time_s: float | None) -> bool:
        """True when the frame nearest `time_s` was walking backwards."""
        if time_s is None or not self.times_s:
            return False
        after = bisect.bisect_left(self.times_s, time_s)
        near = [i for i in (after - 1, after) if 0 <= i < len(self.times_s)]
        nearest = min(near, key=lambda i: abs(self.times_s[i] - time_s))
        return self.directions[nearest] == "backward"


def _backward_times(path: Path) -> _Directions | None:
    """The time and direction columns of a metrics.csv; None when it cannot be read."""
    times: list[float] = []
    directions: list[str] = []
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = csv.reader(fh)
            header = next(rows, [])
            if "time_s" not in header or "direction" not in header:
                return None
            at_time, at_direction = header.index("time_s"), header.index("direction")
            for row in rows:
                try:
                    times.append(float(row[at_time]))
                except (IndexError, ValueError):
                    continue
                directions.append(row[at_direction] if at_direction < len(row) else "unknown")
    except (OSError, UnicodeDecodeError, csv.Error):
        log.warning("the metrics of session %s could not be read", path.parent.name)
        return None
    return _Directions(times, directions)
