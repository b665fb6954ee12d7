"""Background analysis of uploaded clips: one worker thread, progress per job."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from posecoach.server.engine import Engine, InputError
from posecoach.server.storage import Storage, new_id
from posecoach.settings import Settings

log = logging.getLogger(__name__)
JobStatus = Literal["queued", "running", "done", "failed"]


@dataclass
class Job:
    """One clip's analysis as the client polls it."""

    id: str
    filename: str
    status: JobStatus
    session_id: str | None = None
    progress: float = 0.0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The `GET /api/jobs/{id}` body."""
        return {
            "id": self.id,
            "filename": self.filename,
            "status": self.status,
            "progress": round(self.progress, 4),
            "session_id": self.session_id,
            "error": self.error,
        }


class JobManager:
    """Queues analyses on a single worker so uploads never compete with each other for CPU."""

    def __init__(self, storage: Storage, engine: Engine, workers: int = 1) -> None:
        self.storage = storage
        self.engine = engine
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="posecoach-job")

    def get(self, job_id: str) -> Job | None:
        """A job by id, or None."""
        with self._lock:
            return self._jobs.get(job_id)

    def _add(self, job: Job) -> Job:
        with self._lock:
            self._jobs[job.id] = job
        return job

    def rejected(self, filename: str, error: str) -> Job:
        """Record a clip refused before analysis (for example, not a video)."""
        return self._add(Job(new_id(), filename, "failed", error=error))

    def submit(
        self,
        clip: Path,
        filename: str,
        settings: Settings,
        frame_count: int | None = None,
    ) -> Job:
        """Create the session for `clip`, move the clip into its folder, queue its analysis."""
        session = self.storage.create_session(
            "upload", settings.level, settings.height_cm, filename, "analysing"
        )
        out_dir = Path(session["out_dir"])
        stored = clip.replace(out_dir / f"source{clip.suffix}")
        job = self._add(Job(new_id(), filename, "queued", session_id=session["id"]))
        future: Future[None] = self._pool.submit(
            self._run, job, stored, out_dir, settings, frame_count
        )
        future.add_done_callback(lambda f: f.exception())
        return job

    def _run(
        self, job: Job, clip: Path, out_dir: Path, settings: Settings, frame_count: int | None
    ) -> None:
        job.status = "running"
        assert job.session_id is not None

        def progress(done: int, total: int | None) -> None:
            total = total or frame_count
            if total:
                job.progress = min(0.99, done / total)

        try:
            result = self.engine.analyze_video(clip, out_dir, settings, progress)
        except InputError as exc:
            self._fail(job, str(exc).replace(clip.name, job.filename))
        except OSError as exc:
            log.exception("analysis of %s could not write its outputs", job.filename)
            self._fail(job, f"the outputs could not be written: {exc.strerror or exc}")
        except Exception:
            log.exception("analysis of %s failed", job.filename)
            self._fail(job, "the analysis failed with an internal error (see the server log)")
        else:
            summary = dict(getattr(result, "summary", None) or {})
            summary["source"] = job.filename
            self.storage.update_session(
                job.session_id,
                status="done",
                summary=summary,
                duration_s=summary.get("duration_s"),
            )
            job.progress = 1.0
            job.status = "done"

    def _fail(self, job: Job, message: str) -> None:
        assert job.session_id is not None
        self.storage.update_session(job.session_id, status="failed", error=message)
        job.error = message
        job.status = "failed"

    def shutdown(self) -> None:
        """Stop taking jobs; wait for the running one."""
        self._pool.shutdown(wait=True, cancel_futures=True)
