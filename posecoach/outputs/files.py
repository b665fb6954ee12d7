"""Writing output files safely: atomic replace, clear messages when the disk is full."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from posecoach.errors import OutputError, describe_os_error
from posecoach.jsonable import to_jsonable


@dataclass(frozen=True)
class SessionFiles:
    """A session folder and its files: the one place that names them.

    The class attributes are the file names (for a download whitelist, say); an instance gives
    the paths inside one folder, e.g. `SessionFiles(out_dir).summary`.
    """

    ANNOTATED: ClassVar[str] = "annotated.mp4"
    LANDMARKS: ClassVar[str] = "landmarks.csv"
    LANDMARKS_PARTIAL: ClassVar[str] = "landmarks.csv.partial"
    # A live session's frames whose drawing was deferred, as they came (an MJPEG stream).
    WAITING_FRAMES: ClassVar[str] = "frames-waiting.mjpeg"
    METRICS: ClassVar[str] = "metrics.csv"
    SUMMARY: ClassVar[str] = "summary.json"
    REPORT: ClassVar[str] = "report.html"
    PLOTS: ClassVar[str] = "plots.json"
    # The coach's note and measurements (posecoach.outputs.review).
    REVIEW: ClassVar[str] = "review.json"
    # What a finished session offers the user, in the order it is listed.
    OUTPUTS: ClassVar[tuple[str, ...]] = (ANNOTATED, LANDMARKS, METRICS, SUMMARY, REPORT)

    out_dir: Path

    @property
    def annotated(self) -> Path:
        """The annotated clip (MP4)."""
        return self.out_dir / self.ANNOTATED

    @property
    def landmarks(self) -> Path:
        """Every frame's landmarks (CSV)."""
        return self.out_dir / self.LANDMARKS

    @property
    def landmarks_partial(self) -> Path:
        """The landmarks of a session still recording, renamed to `landmarks` at the end."""
        return self.out_dir / self.LANDMARKS_PARTIAL

    @property
    def metrics(self) -> Path:
        """Every frame's metrics (CSV)."""
        return self.out_dir / self.METRICS

    @property
    def summary(self) -> Path:
        """The session's summary (JSON)."""
        return self.out_dir / self.SUMMARY

    @property
    def report(self) -> Path:
        """The self-contained HTML report."""
        return self.out_dir / self.REPORT

    @property
    def plots(self) -> Path:
        """The report's plots as `{name: inline SVG}` (JSON), for the web UI."""
        return self.out_dir / self.PLOTS

    def plots_at(self, width_px: int) -> Path:
        """The plots drawn for a screen `width_px` wide (JSON as `plots`), made on request."""
        return self.out_dir / f"plots-{width_px}px.json"

    @property
    def review(self) -> Path:
        """The coach's note and measurements (JSON)."""
        return self.out_dir / self.REVIEW


@dataclass(frozen=True)
class Writer:
    """The process staging a session's files: its id, when it started and on which machine.

    The start time tells a process from a later one given the same id; `start_ticks` is 0 where
    the system does not say (then only the id is checked).
    """

    pid: int
    start_ticks: int
    host: str

    @classmethod
    def current(cls) -> Writer:
        return cls(os.getpid(), _start_ticks(os.getpid()) or 0, _host_tag())

    def tag(self) -> str:
        return f"{self.pid}-{self.start_ticks}-{self.host}"

    def gone(self) -> bool:
        """True only when this process has provably ended: on this machine, and its id is free,
        a zombie's, or now another process's (a different start time). Unknown means running."""
        if self.host != _host_tag():
            return False
        if self.pid == os.getpid():
            return self.start_ticks != (_start_ticks(self.pid) or 0)
        stat = _proc_stat(self.pid)
        if stat is not None:
            state, ticks = stat
            return state in ("Z", "X") or (self.start_ticks != 0 and ticks != self.start_ticks)
        if Path("/proc/self/stat").is_file():
            return True  # /proc lists every process: this one is not there
        if os.name != "posix":
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False


_STAGING_NAME = re.compile(r"^\.partial-(\d+)-(\d+)-([0-9a-f]{8})-[^/]+$")


def _host_tag() -> str:
    """A short fixed tag of this machine's name (an output folder may be on a shared disk)."""
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks since boot) of a process from Linux's /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def _start_ticks(pid: int) -> int | None:
    stat = _proc_stat(pid)
    return stat[1] if stat is not None else None


def staging_writer(folder: Path) -> Writer | None:
    """The process a staging folder's name says is writing it; None for any other name."""
    match = _STAGING_NAME.match(folder.name)
    if match is None:
        return None
    return Writer(int(match.group(1)), int(match.group(2)), match.group(3))


def remove_dead_staging(out_dir: Path) -> list[Path]:
    """Remove the staging folders in `out_dir` whose writer has provably ended (killed before it
    could clean up); those of running processes, and any whose writer is unknown, stay."""
    removed: list[Path] = []
    try:
        entries = list(Path(out_dir).iterdir())
    except OSError:
        return removed
    for entry in entries:
        writer = staging_writer(entry)
        if writer is None or not entry.is_dir() or entry.is_symlink() or not writer.gone():
            continue
        shutil.rmtree(entry, ignore_errors=True)
        if not entry.exists():
            removed.append(entry)
    return removed


class StagedOutputs:
    """A session's new files, written into a hidden folder inside `out_dir` and moved into place
    together by `commit` once every one is complete.

    Until then the folder's previous results stay as they were: a full disk or a crash part-way
    leaves them intact (and `discard` removes what was staged). The folder's name holds the
    writing process (`Writer`), so the staging folders of a run that was killed are removed by
    the next one into the same folder, and never those of a run still going.
    """

    PREFIX: ClassVar[str] = ".partial-"
    # Moved in this order: the summary, which marks a finished session, comes last.
    COMMIT_ORDER: ClassVar[tuple[str, ...]] = (
        SessionFiles.ANNOTATED, SessionFiles.LANDMARKS, SessionFiles.METRICS,
        SessionFiles.PLOTS, SessionFiles.REPORT, SessionFiles.SUMMARY,
    )

    def __init__(self, out_dir: Path | str) -> None:
        self.out_dir = Path(out_dir)
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            remove_dead_staging(self.out_dir)
            prefix = f"{self.PREFIX}{Writer.current().tag()}-"
            self.folder = Path(tempfile.mkdtemp(prefix=prefix, dir=self.out_dir))
        except OSError as exc:
            raise OutputError(exc.errno, describe_os_error(exc, self.out_dir)) from exc
        self.files = SessionFiles(self.folder)

    def commit(self) -> dict[str, Path]:
        """Move every staged file into `out_dir`, replacing the previous ones; name -> path."""
        staged = {p.name for p in self.folder.iterdir() if p.is_file()}
        order = [n for n in self.COMMIT_ORDER if n in staged]
        order = sorted(staged - set(order)) + order
        moved: dict[str, Path] = {}
        for name in order:
            target = self.out_dir / name
            try:
                os.replace(self.folder / name, target)
            except OSError as exc:
                raise OutputError(exc.errno, describe_os_error(exc, target)) from exc
            moved[name] = target
        self.discard()
        return moved

    def discard(self) -> None:
        """Remove the staging folder and whatever is still in it."""
        shutil.rmtree(self.folder, ignore_errors=True)


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    """Write to a temporary file in the same folder, then rename over `path`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(exc.errno, describe_os_error(exc, path)) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(exc.errno, describe_os_error(exc, path)) from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


# Lone surrogates: how Python keeps the bytes of a file name that are not UTF-8.
_SURROGATES = re.compile("[\ud800-\udfff]")


def atomic_write_text(path: Path | str, text: str) -> Path:
    """`atomic_write_bytes` of `text` as UTF-8; characters it cannot hold become U+FFFD."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        data = _SURROGATES.sub("\ufffd", text).encode("utf-8")
    return atomic_write_bytes(path, data)


def atomic_write_json(path: Path | str, data: Any) -> Path:
    return atomic_write_text(path, json.dumps(to_jsonable(data), indent=2, allow_nan=False) + "\n")


def _csv_cell(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.4f}"
    if value is None:
        return ""
    return str(value)


def atomic_write_rows(
    path: Path | str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return atomic_write_text(path, buf.getvalue())
