"""The analysis engine as the server sees it, behind one small interface.

`DefaultEngine` imports the real engine modules (`posecoach.coach.live`,
`posecoach.pipeline`, `posecoach.media`) on first use, so the server starts without loading
the pose model's runtime. Tests may pass any object with the same methods.
"""

from __future__ import annotations

import math
import shutil
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from posecoach.errors import InputError
from posecoach.outputs.files import SessionFiles
from posecoach.outputs.summary import SessionSummary
from posecoach.settings import Settings

ProgressFn = Callable[[int, "int | None"], None]


class LiveCoachLike(Protocol):
    """What the server needs from `posecoach.coach.live.LiveCoach`."""

    def detect(self, image_rgb: np.ndarray, time_s: float) -> Any:
        """The pose model's people in one frame (the slow part; runs on its own thread)."""
        ...

    def process_people(self, people: Any, time_s: float, width: int, height: int) -> Any:
        """Everything after the model for one frame: the result sent to the client."""
        ...

    def finish(self, end_s: float) -> list[Any]: ...


class AnalysisLike(Protocol):
    """What the server needs from `posecoach.outputs.results.AnalysisResult`."""

    @property
    def summary(self) -> SessionSummary: ...


class RecorderLike(Protocol):
    """What the server needs from `posecoach.pipeline.recorder.SessionRecorder`."""

    def add(self, image_rgb: np.ndarray, time_s: float, result: Any,
            jpeg: bytes | None = None) -> None: ...

    def finish(self) -> AnalysisLike: ...


class Engine(Protocol):
    """The engine calls the server makes."""

    def probe(self, path: Path) -> Any: ...

    def analyze_video(
        self,
        path: Path,
        out_dir: Path,
        settings: Settings,
        progress: ProgressFn | None,
        source_name: str | None = None,
    ) -> AnalysisLike: ...

    def live_coach(self, settings: Settings) -> LiveCoachLike: ...

    def recorder(
        self, out_dir: Path, settings: Settings, fps: float, source_name: str,
        defer_drawing: Callable[[], bool] | None = None,
    ) -> RecorderLike: ...

    def camera_reader(self, source: str) -> Iterable[Any]: ...

    def recover(self, out_dir: Path, settings: Settings, source_name: str) -> SessionSummary: ...

    def plots(self, out_dir: Path, settings: Settings, width_in: float = 9.0) -> dict[str, str]: ...


SPOOL_BUDGET_BYTES = 512 * 2**20
"""The disk a live session's frames waiting to be drawn may take; past it they are drawn as
they come."""
SPOOL_MIN_FREE_BYTES = 1024 * 2**20
"""Frames stop waiting on disk when the disk has less than this free."""


def spool_guard(
    defer_drawing: Callable[[], bool],
    spool: Path,
    budget_bytes: int,
    note: Callable[[str], None],
    min_free_bytes: int = SPOOL_MIN_FREE_BYTES,
) -> Callable[[], bool]:
    """`defer_drawing`, except once the waiting frames in `spool` reach `budget_bytes` or the
    disk runs low: drawing then keeps up (no more frames wait on disk), and `note` is told
    why, once."""
    told: list[str] = []

    def deferred() -> bool:
        if not defer_drawing():
            return False
        try:
            size = spool.stat().st_size
        except OSError:
            size = 0
        try:
            free = shutil.disk_usage(spool.parent).free
        except OSError:
            free = min_free_bytes
        if size < budget_bytes and free >= min_free_bytes:
            return True
        if not told:
            why = (f"reached their {budget_bytes / 2**20:.0f} MB disk budget"
                   if size >= budget_bytes else "found the disk nearly full")
            told.append(why)
            note(f"The frames waiting to be drawn into the annotated clip {why}: the rest "
                 "of the clip was drawn as it was recorded, which may have slowed the live "
                 "feedback.")
        return False

    return deferred


class DefaultEngine:
    """The real engine; `VideoError` from it becomes `InputError`."""

    spool_budget_bytes: int = SPOOL_BUDGET_BYTES

    def probe(self, path: Path) -> Any:
        """Read a clip's stream information."""
        from posecoach.errors import VideoError
        from posecoach.media.probe import probe

        try:
            return probe(path)
        except VideoError as exc:
            raise InputError(str(exc)) from exc

    def analyze_video(
        self,
        path: Path,
        out_dir: Path,
        settings: Settings,
        progress: ProgressFn | None,
        source_name: str | None = None,
    ) -> AnalysisLike:
        """Analyse a clip into `out_dir`; `source_name` is the name the walker knows it by."""
        from posecoach.errors import VideoError
        from posecoach.pipeline.offline import analyze_video

        try:
            return analyze_video(
                path, out_dir, settings, progress=progress, source_name=source_name
            )
        except VideoError as exc:
            raise InputError(str(exc)) from exc

    def live_coach(self, settings: Settings) -> LiveCoachLike:
        """A per-session live coach (pose model, causal smoothing, rules); the sessions running
        at once share the cores."""
        from posecoach.coach.live import LiveCoach
        from posecoach.pose.backend import LIVE_CORES

        return LiveCoach(settings, num_poses=settings.pose.live_num_poses, check_setup=True,
                         share=LIVE_CORES)

    def recorder(
        self, out_dir: Path, settings: Settings, fps: float, source_name: str,
        defer_drawing: Callable[[], bool] | None = None,
    ) -> RecorderLike:
        """A recorder writing the annotated clip and the session outputs; while
        `defer_drawing()` is true the clip's drawing waits, so the walker's feedback gets the
        cores, its frames waiting on disk within `spool_budget_bytes`."""
        from posecoach.pipeline.recorder import WAITING_FRAMES, SessionRecorder

        if defer_drawing is None:
            return SessionRecorder(out_dir, settings, fps, source_name, fragmented=True)

        made: list[weakref.ref[SessionRecorder]] = []  # weak: no cycle keeps it alive

        def note(text: str) -> None:
            recorder = made[0]() if made else None
            if recorder is not None:
                recorder.warnings.append(text)  # said in the session's summary

        guarded = spool_guard(defer_drawing, out_dir / WAITING_FRAMES,
                              self.spool_budget_bytes, note)
        recorder = SessionRecorder(out_dir, settings, fps, source_name, fragmented=True,
                                   defer_drawing=guarded)
        made.append(weakref.ref(recorder))
        return recorder

    def camera_reader(self, source: str) -> Iterable[Any]:
        """Frames from a server-side camera index, file or stream URL."""
        from posecoach.errors import VideoError
        from posecoach.media.camera import CameraReader

        try:
            return CameraReader(source)
        except VideoError as exc:
            raise InputError(str(exc)) from exc

    def recover(self, out_dir: Path, settings: Settings, source_name: str) -> SessionSummary:
        """Finalise a session a crash cut short, from the landmarks recorded so far.

        Returns the summary; raises when there is nothing usable.
        """
        from posecoach.outputs.files import atomic_write_text
        from posecoach.outputs.landmarks_csv import read_landmarks_csv
        from posecoach.outputs.results import analyze_series, write_outputs

        files = SessionFiles(out_dir)
        partial = files.landmarks_partial
        final = files.landmarks
        if partial.is_file():
            text = partial.read_text(encoding="utf-8")
            complete = text[: text.rfind("\n") + 1]
            atomic_write_text(final, complete)
            partial.unlink()
        series = read_landmarks_csv(final)
        result = analyze_series(
            series, settings, source_name, ["The session was cut short and recovered."]
        )
        write_outputs(result, out_dir, settings, landmarks=False)
        return result.summary

    def plots(self, out_dir: Path, settings: Settings, width_in: float = 9.0) -> dict[str, str]:
        """The report's plots as inline SVG, drawn again from the session's landmarks.

        For a session folder without its plots file (written by an older version), and for
        figures `width_in` inches wide to fit a narrow screen.
        """
        from posecoach.outputs.landmarks_csv import read_landmarks_csv
        from posecoach.outputs.plots import render_plots
        from posecoach.outputs.results import analyze_series

        result = analyze_series(read_landmarks_csv(SessionFiles(out_dir).landmarks), settings)
        return render_plots(result.metrics, result.gait, result.cues, settings, width_in)


CLIP_END_WINDOW_S = 3.0
"""A clip plays to its end when a frame decodes within this many seconds of its stated end."""


def clip_plays(path: Path, recorded_s: float | None = None) -> bool:
    """True when the clip opens, its first frame decodes and so does one near its end.

    The end is the one its container states, or `recorded_s` (seconds from its first frame
    to its last, as the session's landmarks recorded them) when that is later: a fragmented
    recording cut in half states only the length of what is left, and is caught by comparing
    with the landmarks. A clip whose writer was killed before it finished (an MP4 without its
    index, or one cut short inside its data) fails; a fragmented recording with only its last
    fragment damaged passes, since it plays up to there.
    """
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return False
            stream = container.streams.video[0]
            first = next(container.decode(stream), None)
            if first is None:
                return False
            end_s = _stated_end_s(container, stream)
            if recorded_s is not None and first.pts is not None and first.time_base is not None:
                recorded_end_s = float(first.pts * first.time_base) + recorded_s
                end_s = recorded_end_s if end_s is None else max(end_s, recorded_end_s)
            if end_s is None or end_s <= CLIP_END_WINDOW_S:
                return True
            container.seek(int((end_s - CLIP_END_WINDOW_S) * av.time_base))
            last_s = -math.inf
            try:
                for frame in container.decode(stream):
                    if frame.pts is not None and frame.time_base is not None:
                        last_s = float(frame.pts * frame.time_base)
            except av.error.FFmpegError:
                pass
            return last_s >= end_s - CLIP_END_WINDOW_S
    except (av.error.FFmpegError, OSError, ValueError):
        return False


def recorded_span_s(landmarks: Path) -> float | None:
    """Seconds from the first to the last frame a landmarks CSV records (its `time_s`
    column), read from its first and last lines only; None when it cannot be read."""
    try:
        with landmarks.open("rb") as fh:
            fh.readline()
            first = fh.readline()
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            tail = fh.read().splitlines()
    except OSError:
        return None
    complete = [line for line in tail if line.count(b",") > 1]
    try:
        start_s = float(first.split(b",")[1])
        end_s = float(complete[-1].split(b",")[1])
    except (IndexError, ValueError):
        return None
    span = end_s - start_s
    return span if math.isfinite(span) and span >= 0 else None


def _stated_end_s(container: Any, stream: Any) -> float | None:
    """The clip's end in seconds as its container states it, or None when it does not."""
    if stream.duration is not None and stream.time_base is not None:
        start = stream.start_time or 0
        return float((start + stream.duration) * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000
    return None


def unusable_outputs(out_dir: Path, names: Iterable[str] = SessionFiles.OUTPUTS) -> list[str]:
    """The output files of a finished session (`SessionFiles.OUTPUTS`, or those of `names`)
    that are missing or incomplete: a clip that does not play to the end its landmarks
    record, a summary that does not parse, a report or table that is empty or cut short."""
    files = SessionFiles(out_dir)
    problems: list[str] = []
    for name in names:
        path = out_dir / name
        if not path.is_file():
            problems.append(name)
        elif path == files.annotated:
            recorded = files.landmarks if files.landmarks.is_file() else files.landmarks_partial
            if not clip_plays(path, recorded_span_s(recorded)):
                problems.append(name)
        elif path == files.summary:
            if _read_json_object(path) is None:
                problems.append(name)
        elif path == files.report:
            if not _ends_with(path, b"</html>"):
                problems.append(name)
        elif not _has_rows(path):
            problems.append(name)
    return problems


def _read_json_object(path: Path) -> dict[str, Any] | None:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _ends_with(path: Path, marker: bytes) -> bool:
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 256))
            return fh.read().rstrip().lower().endswith(marker)
    except OSError:
        return False


def _has_rows(path: Path) -> bool:
    """True for a table with its header line and at least the start of a row."""
    try:
        with path.open("rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return False
    return head.count(b"\n") >= 1 and len(head.split(b"\n", 1)[1]) > 0
