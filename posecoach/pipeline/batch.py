"""Batch analysis of many files: a runner interface with a local process pool as the default.

`analyze_one` is the unit of work: it never raises, it returns a `FileOutcome` whose `error`
says in plain words why a file failed, so one bad file never stops a batch.
"""

from __future__ import annotations

import logging
import multiprocessing
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from posecoach.errors import SettingsError, os_error_words
from posecoach.settings import Settings

if TYPE_CHECKING:
    from posecoach.outputs.batch_table import BatchRow
    from posecoach.outputs.summary import SessionSummary

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".gif", ".mpg", ".mpeg", ".3gp"}
LANDMARKS_SUFFIX = ".csv"


@dataclass
class FileOutcome:
    """One input's result; `error` says in plain words why it failed."""

    path: str
    out_dir: str
    ok: bool
    error: str | None = None
    summary: SessionSummary | None = None
    warnings: tuple[str, ...] = ()


def output_folder(path: Path, out_root: Path) -> Path:
    """One folder per input: `out_root/<name without suffixes>`.

    Bytes of the name that are not UTF-8 become U+FFFD, so the folder's name can be shown.
    """
    from posecoach.media.probe import file_label

    name = path.name
    for suffix in (".landmarks.csv", ".csv"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    else:
        name = path.stem
    name = file_label(name)
    return out_root / (name if name not in ("", ".", "..") else "clip")


def output_folders(paths: Sequence[Path], out_root: Path) -> list[Path]:
    """A folder of its own for each input, decided from the list alone, so a re-run of the same
    list writes into the same folders.

    Each input gets `out_root/<name without suffixes>` (`output_folder`) unless an earlier input
    in the list already has that name (compared without regard to case, for file systems that
    ignore it); it then gets its whole file name (`clip.gif`), else a number (`clip-2`).
    """
    from posecoach.media.probe import file_label

    taken: set[str] = set()
    folders: list[Path] = []
    for path in paths:
        base = output_folder(path, out_root).name
        candidates = [base, file_label(path)]
        candidates += [f"{base}-{n}" for n in range(2, len(paths) + 3)]
        name = next(c for c in candidates if c.casefold() not in taken)
        taken.add(name.casefold())
        folders.append(out_root / name)
    return folders


@dataclass(frozen=True)
class InputProblem:
    """A path given that cannot be analysed at all, and why in plain words."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def _analysable(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES or path.name.endswith(LANDMARKS_SUFFIX)


def _outside(out: Path | None) -> Callable[[Path], bool]:
    """A test of whether a file lies outside the output folder `out` (always, for None)."""
    try:
        resolved = out.resolve() if out is not None else None
    except (OSError, RuntimeError):
        resolved = None

    def outside(file: Path) -> bool:
        if resolved is None:
            return True
        try:
            return not file.resolve().is_relative_to(resolved)
        except (OSError, RuntimeError):
            return True

    return outside


def collect_inputs(paths: Iterable[Path], out_root: Path | None = None,
                   ) -> tuple[list[Path], list[InputProblem]]:
    """Expand folders into the videos and landmark CSVs inside; report missing paths.

    A file named twice (itself, or inside a folder also given) is analysed once. Files inside
    the output folder `out_root` (when it lies in a folder given) are not inputs: a second run
    does not analyse the first run's outputs.
    """
    from posecoach.media.probe import shown_text

    outside = _outside(out_root)
    found: list[Path] = []
    problems: list[InputProblem] = []
    for path in paths:
        shown = shown_text(str(path))
        try:
            path.stat()
        except OSError as exc:  # missing, a name too long, no permission
            problems.append(InputProblem(shown, os_error_words(exc)))
            continue
        if path.is_dir():
            inside = sorted(p for p in _files_in(path) if _analysable(p) and outside(p))
            if not inside:
                problems.append(
                    InputProblem(shown, "no videos or landmark CSV files in this folder")
                )
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            problems.append(InputProblem(shown, "no such file or folder"))
    unique: dict[Path, Path] = {}
    for path in found:
        try:
            key = path.resolve()
        except (OSError, RuntimeError):
            key = path
        unique.setdefault(key, path)
    return list(unique.values()), problems


def is_folder(path: Path) -> bool:
    """Whether `path` is a folder; False where it cannot be looked at (a name too long, say)."""
    try:
        return path.is_dir()
    except OSError:
        return False


def _files_in(folder: Path) -> Iterator[Path]:
    """The files anywhere in `folder`, hidden ones left out."""
    return (p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def skipped_inputs(paths: Iterable[Path], out_root: Path | None = None) -> list[Path]:
    """Files inside the folders given that are neither videos nor landmark CSVs (a batch's table
    lists them as skipped), leaving out what lies in the output folder `out_root`."""
    outside = _outside(out_root)
    skipped: list[Path] = []
    for path in paths:
        if is_folder(path):
            skipped.extend(p for p in sorted(_files_in(path)) if not _analysable(p) and outside(p))
    return skipped


def analyze_one(
    path: str,
    out_dir: str,
    settings: Settings,
    progress: Callable[[int, int | None], None] | None = None,
) -> FileOutcome:
    """Analyse one video or landmarks CSV. Never raises."""
    from posecoach.errors import ModelError, VideoError
    from posecoach.outputs.files import OutputError
    from posecoach.outputs.landmarks_csv import LandmarksCSVError
    from posecoach.pipeline.offline import analyze_landmarks_file, analyze_video
    from posecoach.settings import SettingsError

    try:
        if path.lower().endswith(LANDMARKS_SUFFIX):
            result = analyze_landmarks_file(path, out_dir, settings)
        else:
            result = analyze_video(path, out_dir, settings, progress=progress)
        return FileOutcome(
            path, out_dir, True, summary=result.summary, warnings=result.summary.warnings
        )
    except (VideoError, LandmarksCSVError, OutputError, ModelError, SettingsError) as exc:
        return FileOutcome(path, out_dir, False, error=str(exc))
    except MemoryError:
        return FileOutcome(path, out_dir, False, error="ran out of memory on this file")
    except Exception as exc:  # a bug must not stop the batch; the log keeps the traceback
        log.error("unexpected error on %s\n%s", path, traceback.format_exc())
        message = f"internal error ({type(exc).__name__}): {exc}"
        return FileOutcome(path, out_dir, False, error=message)


def limit_threads() -> None:
    """Keep a worker process to one OpenCV thread, so parallel files do not oversubscribe.

    The pose model already keeps one core busy per file; decoding and encoding keep their own
    threads.
    """
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:  # noqa: BLE001 - only a tuning knob
        log.debug("could not limit OpenCV threads", exc_info=True)


def threads_per_job(settings: Settings, parallel: int) -> Settings:
    """`settings` with the pose model's threads shared out: threads per file x files = cores.

    An explicit `pose.threads` is kept.
    """
    from posecoach.pose.backend import cpu_count

    if settings.pose.threads > 0 or parallel <= 1:
        return settings
    pose = settings.pose.model_copy(update={"threads": max(1, cpu_count() // parallel)})
    return settings.model_copy(update={"pose": pose})


def analyze_in_worker(path: str, out_dir: str, settings: Settings) -> FileOutcome:
    """`analyze_one` for a worker process of a runner."""
    limit_threads()
    return analyze_one(path, out_dir, settings)


def _lost(path: str, out_dir: str, exc: BaseException) -> FileOutcome:
    """The outcome of a file whose worker failed outside `analyze_one` (killed, crashed)."""
    reason = str(exc) or type(exc).__name__
    return FileOutcome(path, out_dir, False, error=f"the worker analysing it stopped: {reason}")


class BatchRunner(Protocol):
    """Runs `analyze_one` over many files and yields outcomes as they finish."""

    def run(self, jobs: list[tuple[str, str]], settings: Settings) -> Iterator[FileOutcome]: ...


class LocalRunner:
    """The default runner: in this process for one job, a pool of processes for more.

    Workers are started fresh (spawn), not forked from a process that may run threads, and
    each keeps OpenCV to one thread.
    """

    def __init__(self, jobs: int = 1) -> None:
        self.jobs = max(1, jobs)

    def run(self, jobs: list[tuple[str, str]], settings: Settings) -> Iterator[FileOutcome]:
        if self.jobs == 1 or len(jobs) <= 1:
            for path, out in jobs:
                yield analyze_one(path, out, settings)
            return
        context = multiprocessing.get_context("spawn")
        workers = min(self.jobs, len(jobs))
        settings = threads_per_job(settings, workers)
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures: dict[Future[FileOutcome], tuple[str, str]] = {
                pool.submit(analyze_in_worker, path, out, settings): (path, out)
                for path, out in jobs
            }
            for future in as_completed(futures):
                try:
                    yield future.result()
                except Exception as exc:  # noqa: BLE001 - a dead worker fails its file only
                    yield _lost(*futures[future], exc)


class DaskRunner:
    """Runs the batch on a Dask cluster (`pip install 'posecoach[dask]'`).

    `address` is a scheduler such as "tcp://scheduler:8786"; None starts a local cluster of
    `workers` processes on this machine. Every worker needs posecoach installed (with the same
    model bundle) and must read the input paths and write the output folder under the same
    paths as this machine (a shared file system).
    """

    def __init__(self, address: str | None = None, workers: int = 2) -> None:
        self.address = address
        self.workers = max(1, workers)

    def run(self, jobs: list[tuple[str, str]], settings: Settings) -> Iterator[FileOutcome]:
        try:
            from dask.distributed import Client, LocalCluster
            from dask.distributed import as_completed as dask_completed
        except ImportError as exc:
            raise SettingsError(
                "the Dask backend needs the dask extra: pip install 'posecoach[dask]'"
            ) from exc
        cluster = None
        if self.address is None:
            cluster = LocalCluster(
                n_workers=self.workers, threads_per_worker=1, processes=True,
                dashboard_address=None,
            )
            client = Client(cluster)
            settings = threads_per_job(settings, self.workers)
        else:
            client = Client(self.address)
        try:
            futures = {
                client.submit(analyze_in_worker, path, out, settings, pure=False): (path, out)
                for path, out in jobs
            }
            for future in dask_completed(list(futures)):
                try:
                    yield future.result()
                except Exception as exc:  # noqa: BLE001 - a lost worker fails its file only
                    yield _lost(*futures[future], exc)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def batch_rows(
    jobs: Sequence[tuple[str, str]],
    outcomes: Iterable[FileOutcome],
    out_root: Path,
    problems: Sequence[InputProblem] = (),
    skipped: Sequence[Path] = (),
    person: str | None = None,
) -> list[BatchRow]:
    """The batch's table: one row per input in the order given (whatever order they finished
    in), then the paths that could not be analysed at all, then the files skipped."""
    from posecoach.media.probe import shown_text
    from posecoach.outputs.batch_table import BatchRow, report_link

    by_path = {outcome.path: outcome for outcome in outcomes}
    rows: list[BatchRow] = []
    for path, out_dir in jobs:
        outcome = by_path.get(path)
        shown = shown_text(path)
        if outcome is None:
            rows.append(BatchRow(file=shown, status="skipped",
                                 reason="not analysed: the batch was stopped", person=person))
        elif outcome.ok and outcome.summary is not None:
            report = report_link(out_root, Path(out_dir))
            rows.append(BatchRow.analysed(shown, outcome.summary, report, person))
        else:
            rows.append(BatchRow(file=shown, status="failed", reason=outcome.error,
                                 person=person))
    rows += [BatchRow(file=p.path, status="failed", reason=p.reason, person=person)
             for p in problems]
    rows += [BatchRow(file=shown_text(str(p)), status="skipped",
                      reason="not a video or landmarks CSV file", person=person)
             for p in skipped]
    return rows


def run_batch(
    jobs: list[tuple[str, str]],
    settings: Settings,
    runner: BatchRunner | None = None,
    on_done: Callable[[FileOutcome], None] | None = None,
) -> list[FileOutcome]:
    """Every job's outcome, in the order they finish (`LocalRunner()` by default)."""
    outcomes = []
    for outcome in (runner or LocalRunner()).run(jobs, settings):
        outcomes.append(outcome)
        if on_done is not None:
            on_done(outcome)
    return outcomes
