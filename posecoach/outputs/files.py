"""Writing output files safely: atomic replace, clear messages when the disk is full."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any, ClassVar

from posecoach.errors import OutputError, describe_os_error


@dataclass(frozen=True)
class SessionFiles:
    """A session folder and its files: the one place that names them.

    The class attributes are the file names (for a download whitelist, say); an instance gives
    the paths inside one folder, e.g. `SessionFiles(out_dir).summary`.
    """

    ANNOTATED: ClassVar[str] = "annotated.mp4"
    LANDMARKS: ClassVar[str] = "landmarks.csv"
    LANDMARKS_PARTIAL: ClassVar[str] = "landmarks.csv.partial"
    METRICS: ClassVar[str] = "metrics.csv"
    SUMMARY: ClassVar[str] = "summary.json"
    REPORT: ClassVar[str] = "report.html"
    PLOTS: ClassVar[str] = "plots.json"
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


class StagedOutputs:
    """A session's new files, written into a hidden folder inside `out_dir` and moved into place
    together by `commit` once every one is complete.

    Until then the folder's previous results stay as they were: a full disk or a crash part-way
    leaves them intact (and `discard` removes what was staged).
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
            self.folder = Path(tempfile.mkdtemp(prefix=self.PREFIX, dir=self.out_dir))
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


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and inf become null, numpy scalars become Python numbers."""
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_jsonable(value: Any) -> Any:
    """`value` with JSON types only: NaN and inf as null, numpy scalars as Python numbers."""
    return _clean(value)


def atomic_write_json(path: Path | str, data: Any) -> Path:
    return atomic_write_text(path, json.dumps(_clean(data), indent=2, allow_nan=False) + "\n")


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
