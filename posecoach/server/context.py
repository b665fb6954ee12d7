"""What every route shares: storage, engine, jobs, settings and limits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from posecoach.server.engine import Engine
from posecoach.server.jobs import JobManager
from posecoach.server.storage import Storage
from posecoach.settings import Settings

SettingsLoader = Callable[[str | None, float | None], Settings]
WEB_DIR = Path(__file__).resolve().parents[2] / "web"


@dataclass(frozen=True)
class ServerLimits:
    """Sizes and counts the server accepts."""

    max_upload_bytes: int = 4 * 1024**3
    max_files_per_upload: int = 20
    max_duration_s: float = 2 * 3600.0
    max_frame_bytes: int = 2 * 1024**2
    max_frame_pixels: int = 3840 * 2160
    max_live_sessions: int = 2
    live_fps: float = 15.0


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
    web_dir: Path = WEB_DIR
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
