"""What every route shares: storage, engine, jobs, settings and limits."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from starlette.requests import HTTPConnection

from posecoach.errors import SettingsError
from posecoach.paths import web_dir as packaged_web_dir
from posecoach.server.budget import BUDGET_S_PER_FRAME, MIN_BUDGET_S
from posecoach.server.engine import Engine
from posecoach.server.jobs import JobManager
from posecoach.server.storage import Storage
from posecoach.settings import Settings

SettingsLoader = Callable[[str | None, float | None], Settings]


@dataclass(frozen=True)
class ServerLimits:
    """Sizes and counts the server accepts."""

    max_upload_bytes: int = 4 * 1024**3
    max_files_per_upload: int = 20
    max_duration_s: float = 2 * 3600.0
    max_frame_bytes: int = 2 * 1024**2
    max_frame_pixels: int = 3840 * 2160
    max_body_bytes: int = 1_000_000
    """The largest request body of any route but uploads (JSON bodies are a few kB)."""
    max_live_sessions: int = 2
    live_fps: float = 15.0
    job_budget_min_s: float = MIN_BUDGET_S
    """The least time an upload's analysis may take before it is stopped."""
    job_budget_s_per_frame: float = BUDGET_S_PER_FRAME
    """Time allowed for each frame of an upload, when that adds up to more than the least."""

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_files_per_upload", "max_frame_bytes",
                     "max_frame_pixels", "max_live_sessions", "max_body_bytes"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1")
        if not self.max_duration_s > 0 or not 0 < self.live_fps <= 120:
            raise SettingsError("max_duration_s must be positive and live_fps within 0-120")
        if not self.job_budget_min_s > 0 or not self.job_budget_s_per_frame >= 0:
            raise SettingsError("job_budget_min_s must be positive and job_budget_s_per_frame "
                                "at least 0")

    def with_env(self, environ: Mapping[str, str] | None = None) -> ServerLimits:
        """These limits with any `POSECOACH_MAX_UPLOAD_MB`, `POSECOACH_MAX_DURATION_MIN`,
        `POSECOACH_MAX_FILES_PER_UPLOAD`, `POSECOACH_MAX_LIVE_SESSIONS`,
        `POSECOACH_JOB_BUDGET_MIN` or `POSECOACH_JOB_BUDGET_S_PER_FRAME` applied.

        Raises `SettingsError` (a `ValueError`) with the variable's name for a value that is not
        a positive number.
        """
        environ = os.environ if environ is None else environ
        changes: dict[str, float | int] = {}
        for var, name, scale, kind in ENV_LIMITS:
            text = environ.get(var, "").strip()
            if not text:
                continue
            try:
                value = float(text)
            except ValueError:
                raise SettingsError(f"{var} must be a number, got {text!r}") from None
            if not value > 0 or value == float("inf"):
                raise SettingsError(f"{var} must be a positive number, got {text!r}")
            if value > LARGEST_LIMIT:
                raise SettingsError(f"{var} is too large ({text}): at most {LARGEST_LIMIT:g} "
                                    "(already no practical limit)")
            changes[name] = kind(value * scale)
        return replace(self, **changes) if changes else self


LARGEST_LIMIT = 1e9
"""The largest value a `POSECOACH_MAX_*` or `POSECOACH_JOB_*` variable takes."""

ENV_LIMITS: tuple[tuple[str, str, float, type], ...] = (
    ("POSECOACH_MAX_UPLOAD_MB", "max_upload_bytes", 1e6, int),
    ("POSECOACH_MAX_DURATION_MIN", "max_duration_s", 60.0, float),
    ("POSECOACH_MAX_FILES_PER_UPLOAD", "max_files_per_upload", 1.0, int),
    ("POSECOACH_MAX_LIVE_SESSIONS", "max_live_sessions", 1.0, int),
    ("POSECOACH_JOB_BUDGET_MIN", "job_budget_min_s", 60.0, float),
    ("POSECOACH_JOB_BUDGET_S_PER_FRAME", "job_budget_s_per_frame", 1.0, float),
)


@dataclass
class ServerContext:
    """State shared by the routes of one app."""

    data_dir: Path
    storage: Storage
    engine: Engine
    jobs: JobManager
    settings_loader: SettingsLoader
    limits: ServerLimits
    source: str | None = None
    web_dir: Path = field(default_factory=packaged_web_dir)
    token_required: bool = False
    source_lock: threading.Lock = field(default_factory=threading.Lock)
    _live_lock: threading.Lock = field(default_factory=threading.Lock)
    _live_count: int = 0

    @property
    def uploads_dir(self) -> Path:
        """Where uploads are received before they join their session folder."""
        return self.data_dir / "uploads"

    def acquire_live(self) -> bool:
        """Take a live-session slot; False when all are in use."""
        with self._live_lock:
            if self._live_count >= self.limits.max_live_sessions:
                return False
            self._live_count += 1
            return True

    def release_live(self) -> None:
        """Give back a live-session slot."""
        with self._live_lock:
            self._live_count = max(0, self._live_count - 1)

    def several_live_sessions(self) -> bool:
        """Whether more than one live session runs now (they share the cores)."""
        return self._live_count > 1


def context_of(connection: HTTPConnection) -> ServerContext:
    """The context of the app serving a request or a WebSocket."""
    return connection.app.state.ctx
