"""Background analysis of uploaded clips: one worker thread, progress per job."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from posecoach.errors import OutputError, PosecoachError, user_message
from posecoach.server.budget import (
    BUDGET_S_PER_FRAME,
    MIN_BUDGET_S,
    JobBudget,
    run_within_budget,
)
from posecoach.server.engine import Engine, InputError
from posecoach.server.storage import NoSuchPerson, SessionRecord, Storage, new_id
from posecoach.settings import Settings

log = logging.getLogger(__name__)
JobStatus = Literal["queued", "running", "done", "failed"]
KEPT_CLIP_STEM = "source"
"""An uploaded clip is kept in its session folder as `source<suffix>` (a generated name; the
walker's own name is the session's `source_name`)."""


def kept_clip(out_dir: Path) -> Path | None:
    """The uploaded clip kept in a session folder, or None."""
    for path in sorted(out_dir.glob(f"{KEPT_CLIP_STEM}.*")):
        if path.is_file():
            return path
    return None


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

    def __init__(
        self,
        storage: Storage,
        engine: Engine,
        workers: int = 1,
        budget_min_s: float = MIN_BUDGET_S,
        budget_s_per_frame: float = BUDGET_S_PER_FRAME,
    ) -> None:
        self.storage = storage
        self.engine = engine
        # Each job's time budget (see `posecoach.server.budget`): one stuck job never holds
        # up the queue.
        self.budget_min_s = budget_min_s
        self.budget_s_per_frame = budget_s_per_frame
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
        person_id: str | None = None,
    ) -> Job:
        """Create the session for `clip` (of `person_id`; None: the default person), move the
        clip into its folder, queue its analysis.

        Raises `OutputError` when the session cannot be stored (a full disk), `NoSuchPerson`
        for an unknown person; the clip is then deleted.
        """
        try:
            session = self.storage.create_session(
                "upload", settings.level, settings.height_cm, filename, "analysing",
                person_id=person_id, settings=settings,
            )
        except (OutputError, NoSuchPerson):
            clip.unlink(missing_ok=True)
            raise
        out_dir = session.out_dir
        stored = clip.replace(out_dir / f"{KEPT_CLIP_STEM}{clip.suffix}")
        job = self._add(Job(new_id(), filename, "queued", session_id=session.id))
        self._queue(job, stored, out_dir, settings, frame_count)
        return job

    def resume(self, record: SessionRecord, settings: Settings) -> Job | None:
        """Queue the analysis of an upload a stop cut short again, from its kept clip.

        Whatever the interrupted run left in the session folder is removed first, so only a
        complete analysis is ever offered. None when the clip is no longer there.
        """
        out_dir = record.out_dir
        clip = kept_clip(out_dir)
        if clip is None:
            return None
        info = self.engine.probe(clip)
        _clear_outputs(out_dir, keep=clip)
        job = self._add(
            Job(new_id(), record.source_name or clip.name, "queued", session_id=record.id)
        )
        self._queue(job, clip, out_dir, settings, getattr(info, "frame_count", None))
        log.warning("analysing %s again: the server stopped during its analysis", job.filename)
        return job

    def _queue(
        self, job: Job, clip: Path, out_dir: Path, settings: Settings, frame_count: int | None
    ) -> None:
        future: Future[None] = self._pool.submit(
            self._run, job, clip, out_dir, settings, frame_count
        )
        future.add_done_callback(lambda f: f.exception())

    def _run(
        self, job: Job, clip: Path, out_dir: Path, settings: Settings, frame_count: int | None
    ) -> None:
        """Analyse one clip; whatever happens, the job ends 'done' or 'failed'."""
        job.status = "running"
        try:
            self._analyse(job, clip, out_dir, settings, frame_count)
        except Exception:
            log.exception("analysis job for %s failed", job.filename)
        finally:
            if job.status not in ("done", "failed"):
                job.error = "the analysis failed with an internal error (see the server log)"
                job.status = "failed"

    def _analyse(
        self, job: Job, clip: Path, out_dir: Path, settings: Settings, frame_count: int | None
    ) -> None:
        assert job.session_id is not None

        budget = JobBudget(frame_count, self.budget_min_s, self.budget_s_per_frame)

        def progress(done: int, total: int | None) -> None:
            budget.check(done)
            total = total or frame_count
            if total:
                job.progress = min(0.99, done / total)

        try:
            result = run_within_budget(
                lambda: self.engine.analyze_video(
                    clip, out_dir, settings, progress, source_name=job.filename
                ),
                budget,
            )
        except InputError as exc:
            self._fail(job, str(exc).replace(clip.name, job.filename), clip)
        except (PosecoachError, OSError, MemoryError) as exc:
            message = _failure_words(exc, out_dir)
            log.error("analysis of %s failed: %s", job.filename, message)
            self._fail(job, message, clip)
        except Exception:
            log.exception("analysis of %s failed", job.filename)
            self._fail(
                job, "the analysis failed with an internal error (see the server log)", clip
            )
        else:
            summary = replace(result.summary, source=job.filename)
            try:
                self.storage.update_session(
                    job.session_id,
                    status="done",
                    summary=summary,
                    duration_s=summary.duration_s,
                )
            except OutputError as exc:
                log.error("the result of %s could not be saved: %s", job.filename, exc)
                job.error = (
                    f"the analysis finished but could not be saved ({user_message(exc)}); "
                    "it is listed once the server restarts with free space"
                )
                job.status = "failed"
                return
            job.progress = 1.0
            job.status = "done"

    def _fail(self, job: Job, message: str, clip: Path | None = None) -> None:
        """Mark the job failed with `message`; the session too, when the database can be written.

        Otherwise the next start settles it: the kept `clip` is removed (which also frees
        space), so a failed analysis is not taken for one a stop cut short and run again.
        """
        assert job.session_id is not None
        try:
            self.storage.update_session(job.session_id, status="failed", error=message)
        except OutputError as exc:
            log.error("session %s could not be marked failed: %s", job.session_id, exc)
            if clip is not None:
                clip.unlink(missing_ok=True)
        finally:
            job.error = message
            job.status = "failed"

    def shutdown(self) -> None:
        """Stop taking jobs; wait for the running one."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def _clear_outputs(out_dir: Path, keep: Path) -> None:
    """Remove everything in a session folder but `keep` (an interrupted run's leftovers)."""
    for path in out_dir.iterdir():
        if path == keep:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _failure_words(exc: BaseException, out_dir: Path) -> str:
    """Why an analysis stopped, in words, naming output files without the server's folders."""
    if isinstance(exc, MemoryError):
        return "the analysis ran out of memory"
    message = user_message(exc).replace(f"{out_dir}{os.sep}", "")
    if isinstance(exc, OSError) and not isinstance(exc, PosecoachError):
        return f"the outputs could not be written: {message}"
    return message
