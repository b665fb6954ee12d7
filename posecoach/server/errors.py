"""Errors as HTTP answers: one table from the error tree (`posecoach.errors`) to statuses.

Every error answer has the same body, `{"detail": "<one sentence for the user>"}` (schemas'
`ErrorBody`), which the pages show as it is. Routes raise the product's errors and never build
an HTTP error themselves; anything not in the tree is logged with its traceback and answered
with a plain 500.
"""

from __future__ import annotations

import errno
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from posecoach.errors import (
    BadRequest,
    Busy,
    Conflict,
    InputError,
    NotFound,
    OutputError,
    PosecoachError,
    SettingsError,
    TooLarge,
    UnsupportedMedia,
    user_message,
)

log = logging.getLogger(__name__)

STATUS: tuple[tuple[type[PosecoachError], int], ...] = (
    (NotFound, 404),
    (Conflict, 409),
    (TooLarge, 413),
    (UnsupportedMedia, 415),
    (BadRequest, 400),
    (InputError, 422),
    (SettingsError, 422),
    (Busy, 503),
    (OutputError, 500),
    (PosecoachError, 500),
)
"""The status of each kind of error; the first entry the error is an instance of applies."""
DISK_FULL_STATUS = 507
"""An `OutputError` of a full disk or a used-up quota (Insufficient Storage)."""
RETRY_AFTER_S = 2
"""What a `Busy` answer asks the client to wait before trying again."""


def status_of(exc: PosecoachError) -> int:
    """The HTTP status that answers `exc`."""
    if isinstance(exc, OutputError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DISK_FULL_STATUS
    return next(status for kind, status in STATUS if isinstance(exc, kind))


def error_body(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one shape of every error answer."""
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid request"


def add_error_handlers(app: FastAPI) -> None:
    """Answer every error of the app from the table, with the same body."""

    @app.exception_handler(PosecoachError)
    async def ours(request: Request, exc: PosecoachError) -> JSONResponse:
        status = status_of(exc)
        if status >= 500 and not isinstance(exc, OutputError | Busy):
            # a full disk, a read-only folder or a lock is logged once where it is found
            log.error("%s %s failed: %s", request.method, request.url.path, user_message(exc))
        headers = {"Retry-After": str(RETRY_AFTER_S)} if isinstance(exc, Busy) else None
        return error_body(status, user_message(exc), headers)

    @app.exception_handler(StarletteHTTPException)
    async def framework(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        return error_body(exc.status_code, detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_body(422, _validation_message(exc))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_body(500, "internal server error (see the server log)")
