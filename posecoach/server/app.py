"""The FastAPI application: routers, static files, access checks and JSON errors."""

from __future__ import annotations

import errno
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from posecoach.errors import OutputError, user_message
from posecoach.outputs.files import SessionFiles
from posecoach.outputs.summary import SessionSummary
from posecoach.paths import web_dir as packaged_web_dir
from posecoach.server import routes_api, routes_live, routes_pages, routes_viewer
from posecoach.server.auth import AccessMiddleware
from posecoach.server.context import ServerContext, ServerLimits, SettingsLoader
from posecoach.server.engine import DefaultEngine, Engine, unusable_outputs
from posecoach.server.jobs import JobManager
from posecoach.server.storage import Storage
from posecoach.settings import Settings, load_settings
from posecoach.version import __version__

log = logging.getLogger(__name__)


def default_settings_loader(config: Path | None) -> SettingsLoader:
    """Settings from the defaults, the user's config file, a level and a height."""

    def load(level: str | None, height_cm: float | None) -> Settings:
        return load_settings(config, level, height_cm)

    return load


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid request"


def _recover(ctx: ServerContext) -> None:
    """Settle the sessions a stop left unfinished, never presenting a broken output as done.

    An upload is analysed again from its kept clip (queued as a job). Any other session is
    rebuilt from the landmarks it recorded when its summary, report or metrics are missing or
    cut short; every output is then checked (the clip must play to its end) and those that
    are still unusable are recorded as missing, so they are neither listed nor served.
    Finished sessions are checked too, for files deleted or damaged while the server was
    stopped (`Storage.recheck_done`).
    """

    def settings_of(record: dict) -> Settings:
        """The settings the session started with, else those of its level and height."""
        kept = record.get("settings")
        return kept if isinstance(kept, Settings) else ctx.settings_loader(
            record["level"], record["height_cm"]
        )

    def finalise(record: dict) -> SessionSummary | None:
        settings = settings_of(record)
        out_dir = Path(record["out_dir"])
        files = SessionFiles(out_dir)
        if not (files.landmarks_partial.is_file() or files.landmarks.is_file()):
            return None
        return ctx.engine.recover(out_dir, settings, record["source_name"])

    def resume(record: dict) -> bool:
        settings = settings_of(record)
        return ctx.jobs.resume(record, settings) is not None

    recovered = ctx.storage.recover(finalise, check=unusable_outputs, resume=resume)
    if recovered:
        log.warning("settled %d session(s) left unfinished by a previous run", len(recovered))
    damaged = ctx.storage.recheck_done(check=unusable_outputs)
    if damaged:
        log.warning("%d finished session(s) lost output files while the server was stopped",
                    len(damaged))


def create_app(
    data_dir: Path,
    settings_loader: SettingsLoader | None = None,
    source: str | None = None,
    token: str | None = None,
    *,
    config: Path | None = None,
    engine: Engine | None = None,
    limits: ServerLimits | None = None,
    web_dir: Path | None = None,
    db_path: Path | None = None,
    allowed_hosts: frozenset[str] | None = None,
) -> FastAPI:
    """Build the app over `data_dir` (database `posecoach.db`, folders `sessions/`, `uploads/`).

    Sessions a crash left unfinished are settled before the app is returned. With
    `allowed_hosts`, requests for any other Host are refused.
    """
    data_dir = Path(data_dir)
    web_dir = packaged_web_dir() if web_dir is None else web_dir
    storage = Storage(db_path or data_dir / "posecoach.db", data_dir)
    engine = engine or DefaultEngine()
    limits = limits or ServerLimits()
    jobs = JobManager(storage, engine, budget_min_s=limits.job_budget_min_s,
                      budget_s_per_frame=limits.job_budget_s_per_frame)
    ctx = ServerContext(
        data_dir=data_dir,
        storage=storage,
        engine=engine,
        jobs=jobs,
        settings_loader=settings_loader or default_settings_loader(config),
        limits=limits,
        source=source,
        web_dir=web_dir,
        token_required=token is not None,
    )
    _recover(ctx)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.shutdown()

    app = FastAPI(
        title="posecoach",
        summary="The web UI's JSON API (bodies in posecoach/server/schemas.py).",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.include_router(routes_api.router)
    app.include_router(routes_live.router)
    app.include_router(routes_viewer.router)
    app.include_router(routes_pages.router)
    app.mount("/static", StaticFiles(directory=web_dir, check_dir=False), name="static")
    app.add_middleware(AccessMiddleware, token=token, allowed_hosts=allowed_hosts)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(exc)}, status_code=422)

    @app.exception_handler(OutputError)
    async def not_saved(_request: Request, exc: OutputError) -> JSONResponse:
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        return JSONResponse({"detail": user_message(exc)}, status_code=507 if full else 500)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal server error (see the server log)"}, 500)

    return app
