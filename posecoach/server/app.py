"""The FastAPI application: routers, static files, access checks and JSON errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from posecoach.outputs.files import SessionFiles
from posecoach.outputs.summary import SessionSummary
from posecoach.paths import web_dir as packaged_web_dir
from posecoach.server import (
    routes_api,
    routes_live,
    routes_pages,
    routes_review,
    routes_sessions,
    routes_viewer,
)
from posecoach.server.auth import AccessMiddleware
from posecoach.server.body_limit import BodyLimitMiddleware, body_limits
from posecoach.server.context import ServerContext, ServerLimits, SettingsLoader
from posecoach.server.engine import DefaultEngine, Engine, unusable_outputs
from posecoach.server.errors import add_error_handlers
from posecoach.server.jobs import JobManager
from posecoach.server.storage import SessionRecord, Storage
from posecoach.settings import Settings, load_settings
from posecoach.version import __version__

log = logging.getLogger(__name__)


def default_settings_loader(config: Path | None) -> SettingsLoader:
    """Settings from the defaults, the user's config file, a level and a height."""

    def load(level: str | None, height_cm: float | None) -> Settings:
        return load_settings(config, level, height_cm)

    return load


def _recover(ctx: ServerContext) -> None:
    """Settle the sessions a stop left unfinished, never presenting a broken output as done.

    An upload is analysed again from its kept clip (queued as a job). Any other session is
    rebuilt from the landmarks it recorded when its summary, report or metrics are missing or
    cut short, and its clip finished from the frames whose drawing was deferred; every output
    is then checked (the clip must play to its end) and those that
    are still unusable are recorded as missing, so they are neither listed nor served.
    Finished sessions are checked too, for files deleted or damaged while the server was
    stopped (`Storage.recheck_done`).
    """

    def settings_of(record: SessionRecord) -> Settings:
        """The settings the session started with, else those of its level and height."""
        if record.settings is not None:
            return record.settings
        return ctx.settings_loader(record.level, record.height_cm)

    def finalise(record: SessionRecord) -> SessionSummary | None:
        settings = settings_of(record)
        files = SessionFiles(record.out_dir)
        if not (files.landmarks_partial.is_file() or files.landmarks.is_file()):
            return None
        return ctx.engine.recover(record.out_dir, settings, record.source_name)

    def resume(record: SessionRecord) -> bool:
        settings = settings_of(record)
        return ctx.jobs.resume(record, settings) is not None

    recovered = ctx.storage.recover(finalise, check=unusable_outputs, resume=resume,
                                    settings_of=settings_of)
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
        storage.wait_for_pending(timeout_s=5.0)  # a session's end a lock held back

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
    app.include_router(routes_sessions.router)
    app.include_router(routes_review.router)
    app.include_router(routes_live.router)
    app.include_router(routes_viewer.router)
    app.include_router(routes_pages.router)
    app.mount("/static", StaticFiles(directory=web_dir, check_dir=False), name="static")
    app.add_middleware(AccessMiddleware, token=token, allowed_hosts=allowed_hosts)
    app.add_middleware(BodyLimitMiddleware, limit_for=body_limits(
        limits.max_body_bytes, limits.max_upload_bytes, limits.max_files_per_upload))

    add_error_handlers(app)
    return app
