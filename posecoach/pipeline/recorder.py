"""Recording a session or clip frame by frame, then finalising its outputs.

The annotated clip and the landmarks CSV grow as frames arrive, so a session cut short keeps
what was already received; `SessionRecorder.finish` runs the offline analysis over the recorded
landmarks and writes the remaining outputs.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from posecoach.coach.analysis import measure_series
from posecoach.coach.cues import Cue
from posecoach.coach.live import LiveResult
from posecoach.coach.timed_test import (
    TimedTestResult,
    TrialResult,
    keep_reported_trials,
    moving_at_end,
    same_walk,
    time_backward_walk,
)
from posecoach.errors import OutputError, PosecoachError, VideoError, describe_os_error
from posecoach.frame_rate import fps_or_default
from posecoach.media.jpeg import decode_jpeg
from posecoach.media.probe import output_size
from posecoach.media.writer import VideoWriter
from posecoach.outputs.files import SessionFiles, StagedOutputs
from posecoach.outputs.landmarks_csv import HEADER as LANDMARK_HEADER
from posecoach.outputs.landmarks_csv import format_row, write_landmarks_csv
from posecoach.outputs.overlay import Overlay
from posecoach.outputs.results import (
    AnalysisResult,
    analyze_series,
    write_outputs,
    write_outputs_into,
)
from posecoach.pipeline.backlog import Backlog, FrameSpool, Spooled
from posecoach.pose.landmarks import PoseSeries
from posecoach.pose.tracker import follow_walker_offline
from posecoach.settings import Settings

# Frames waiting for the overlay thread, unless its drawing may be deferred.
_QUEUE_FRAMES = 4
# What a frame waiting in the spool holds in memory (its place and its overlay), roughly.
_SPOOLED_BYTES = 2048
# How often a deferred overlay thread looks again whether it may draw.
_DEFER_POLL_S = 0.1
# Frames whose drawing was deferred wait here, beside the clip, until drawn.
WAITING_FRAMES = SessionFiles.WAITING_FRAMES


@dataclass(frozen=True)
class TrialsSoFar:
    """The timed test over a recording so far, and whether the walker is moving at its end."""

    result: TimedTestResult
    walking: bool

    def to_json(self) -> dict[str, Any]:
        return {"timed_test": self.result.to_json(), "walking": self.walking}


class SessionRecorder:
    """Records a session or clip as it goes, then finalises the outputs.

    The annotated clip and the landmarks CSV are appended frame by frame, so a session cut short
    (a closed tab, a crash) keeps what was already received. `finish` runs the offline analysis
    over the recorded landmarks and writes the remaining outputs; it is safe to call twice.

    With `staged=True` (a clip analysed into a folder that may hold earlier results) every
    file, the clip included, is written aside and moved into `out_dir` only when all are
    complete; a failure or `abandon` removes them and leaves the previous results intact. Live
    sessions write in place instead, so a crash still leaves a playable partial clip.

    With `threaded=True` the overlay is drawn and the frame handed to the encoder on a
    background thread (a bounded queue of a few frames), so `add` returns in well under a
    millisecond; the caller must not change the image after handing it over.

    With `defer_drawing` (live sessions) the overlay thread draws nothing while
    `defer_drawing()` is true (several sessions share the cores, and the walkers' feedback
    comes first) until the sessions thin out or `finish` catches up. Frames given with their
    JPEG then wait in `WAITING_FRAMES` beside the clip (removed once all are drawn; left, as a
    playable MJPEG stream, if the process dies first); frames given as pixels wait in memory,
    and are drawn once they fill half of `[output] recording_backlog_mb`.
    """

    def __init__(
        self,
        out_dir: Path,
        settings: Settings,
        fps: float,
        source_name: str = "",
        fragmented: bool = True,
        draw: bool = True,
        threaded: bool = True,
        staged: bool = False,
        defer_drawing: Callable[[], bool] | None = None,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.paths = SessionFiles(self.out_dir)
        self.settings = settings
        self.fps = fps_or_default(fps)
        self.source_name = source_name
        self.fragmented = fragmented
        self.overlay = Overlay(settings) if draw else None
        self.defer_drawing = defer_drawing
        self.threaded = threaded or defer_drawing is not None
        self._closing = threading.Event()
        self._spool = FrameSpool(self.out_dir / WAITING_FRAMES) if defer_drawing else None
        self.warnings: list[str] = []
        self._writer: VideoWriter | None = None
        self._staging: StagedOutputs | None = None
        self._csv_file: Any = None
        self._csv: Any = None
        self._times: list[float] = []
        self._frames: list[int] = []
        self._points: list[np.ndarray] = []
        # every frame's people, when given: the walker is chosen again with hindsight at the end
        self._people: list[list[np.ndarray]] = []
        self._size: tuple[int, int] | None = None
        self._clip_size: tuple[int, int] = (0, 0)
        self._result: AnalysisResult | None = None
        self._draw_queue: Backlog[Any] | None = None
        self._draw_thread: threading.Thread | None = None
        self._draw_error: BaseException | None = None
        self._stopped_by: PosecoachError | None = None  # the write error that stopped the recording
        # Timed trials told to the walker during the session, kept in the final result.
        self._reported: list[TrialResult] = []
        self._reported_lock = threading.Lock()
        if staged:
            self._staging = StagedOutputs(self.out_dir)
            self._written = self._staging.files
        else:
            try:
                self.out_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OutputError(exc.errno, describe_os_error(exc, self.out_dir)) from exc
            self._written = self.paths
        self._csv_path = self._written.landmarks_partial

    def _open(self, width: int, height: int) -> None:
        self._size = (width, height)
        out = self.settings.output
        self._clip_size = output_size(width, height, out.annotated_max_side_px)
        self._writer = VideoWriter(
            self._written.annotated,
            self.fps,
            *self._clip_size,
            crf=out.crf,
            preset=out.preset,
            fragmented=self.fragmented,
        )
        try:
            self._csv_file = self._csv_path.open("w", newline="", encoding="utf-8")
        except OSError as exc:
            raise OutputError(exc.errno, describe_os_error(exc, self._csv_path)) from exc
        self._csv = csv.writer(self._csv_file, lineterminator="\n")
        self._csv.writerow(LANDMARK_HEADER)
        if self.threaded:
            if self.defer_drawing is not None:
                budget = out.recording_backlog_mb * 2**20
            else:
                budget = _QUEUE_FRAMES * width * height * 3
            self._draw_queue = Backlog(budget)
            self._draw_thread = threading.Thread(
                target=self._draw_loop, name="posecoach-overlay", daemon=True
            )
            self._draw_thread.start()

    def add(self, image_rgb: np.ndarray, time_s: float, result: LiveResult,
            jpeg: bytes | None = None, people: list[np.ndarray] | None = None) -> None:
        """Append one frame: record its landmarks and write it, annotated, to the clip.

        The landmarks are in pixels of `result.raw`'s frame size; `image_rgb` may be that frame
        or a smaller copy of it. The overlay is drawn in place on `image_rgb` when it already
        has the clip's size. `jpeg`, the JPEG `image_rgb` was decoded from, lets a recorder
        whose drawing is deferred now keep the frame compressed until it is drawn. `people`,
        every person the model found in the frame (in the same pixels), lets `finish` choose
        the walker again with hindsight over the whole recording (a file, not a live session).

        A frame that cannot be written (a full disk) stops the recording: `finish` then raises
        the same error and leaves what was written as it is, never passed off as complete.
        """
        if self._result is not None:
            raise RuntimeError("the session is already finished")
        try:
            self._add(image_rgb, time_s, result, jpeg, people)
        except PosecoachError as exc:
            self._stopped_by = exc
            raise

    def _add(self, image_rgb: np.ndarray, time_s: float, result: LiveResult,
             jpeg: bytes | None, people: list[np.ndarray] | None) -> None:
        if self._draw_error is not None:
            raise self._draw_error
        raw = result.raw
        if raw.width > 0 and raw.height > 0:
            width, height = raw.width, raw.height
        else:
            height, width = image_rgb.shape[:2]
        if self._size is None:
            self._open(width, height)
        if self._times and time_s <= self._times[-1]:
            return
        self._times.append(time_s)
        self._frames.append(raw.index)
        self._points.append(raw.points.astype(np.float32))
        if people is not None:
            self._people.append(people)
        try:
            self._csv.writerow(format_row(raw.index, time_s, width, height, raw.points))
        except OSError as exc:
            raise OutputError(exc.errno, describe_os_error(exc, self._csv_path)) from exc
        cue = result.active_cues[0] if result.active_cues else None
        picture: np.ndarray | Spooled = image_rgb
        nbytes = image_rgb.nbytes
        if jpeg is not None and self._spool is not None and self._drawing_deferred():
            picture = self._spool.append(jpeg)  # it may wait long: on disk, as it came
            nbytes = _SPOOLED_BYTES
        item = (picture, time_s - self._times[0], result.frame, result.metrics, cue,
                list(result.new_steps))
        if self._draw_queue is None:
            self._draw(*item)
            return
        if not self._draw_queue.put(item, nbytes, self._draw_thread):
            raise self._draw_error or VideoError("the annotated clip stopped")

    def _draw(self, picture: np.ndarray | Spooled, clip_time_s: float, frame: Any, metrics: Any,
              cue: Cue | None, steps: list[Any]) -> None:
        """Scale the frame to the clip's size if needed, draw the overlay, and encode it."""
        if isinstance(picture, Spooled):
            assert self._spool is not None
            image_rgb = decode_jpeg(self._spool.read(picture))
        else:
            image_rgb = picture
        clip = image_rgb
        if (clip.shape[1], clip.shape[0]) != self._clip_size:
            clip = cv2.resize(image_rgb, self._clip_size, interpolation=cv2.INTER_AREA)
        if self.overlay is not None:
            self.overlay.draw(clip, frame, metrics, cue, steps)
        assert self._writer is not None
        self._writer.write(clip, clip_time_s)

    def _draw_loop(self) -> None:
        assert self._draw_queue is not None
        while True:
            item = self._next_to_draw()
            if item is None:
                return
            if self._draw_error is not None:
                continue
            try:
                self._draw(*item)
            except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
                self._draw_error = exc

    def _next_to_draw(self) -> Any:
        """The next frame to draw, once drawing is not deferred or cannot wait any longer."""
        backlog = self._draw_queue
        assert backlog is not None
        while (not self._closing.is_set() and backlog.bytes < backlog.max_bytes // 2
               and self._drawing_deferred()):
            self._closing.wait(_DEFER_POLL_S)
        return backlog.get()

    def _drawing_deferred(self) -> bool:
        """Whether drawing waits now (several live sessions share the cores)."""
        return self.defer_drawing is not None and self.defer_drawing()

    @property
    def frames(self) -> int:
        """Frames recorded so far."""
        return len(self._times)

    def _stop_drawing(self) -> None:
        if self._draw_thread is None or self._draw_queue is None:
            return
        self._closing.set()
        self._draw_queue.put(None, 0, self._draw_thread)
        self._draw_thread.join()
        self._draw_thread = None

    def _close_streams(self) -> None:
        errors: list[str] = []
        self._stop_drawing()
        if self._draw_error is not None:
            errors.append(str(self._draw_error) or type(self._draw_error).__name__)
            self._draw_error = None
        if self._writer is not None:
            try:
                self._writer.close()
            except VideoError as exc:
                errors.append(str(exc))
            self._writer = None
        if self._csv_file is not None:
            try:
                self._csv_file.close()
            except OSError as exc:
                errors.append(describe_os_error(exc, self._csv_path))
            self._csv_file = None
        if self._spool is not None:
            # every waiting frame is in the clip now, unless drawing failed
            self._spool.close(keep=bool(errors))
        if errors:
            raise OutputError(0, "; ".join(errors))

    def _choose_walker_with_hindsight(self) -> None:
        """With every frame's people recorded, the walker is the person the whole recording
        points to (`follow_walker_offline`), not whoever the live tracker followed as frames
        came: a clip and the same clip played backwards then follow the same person. The
        landmarks file is rewritten to match; the annotated clip stays as it was drawn."""
        n = len(self._times)
        if n == 0 or len(self._people) != n or self._size is None:
            return
        width, height = self._size
        chosen = follow_walker_offline(self._people, np.array(self._times), width, height,
                                       self.settings.tracking.lost_after_s)
        self._points = [p.astype(np.float32) for p in chosen]
        write_landmarks_csv(self._csv_path, self._series())

    def _series(self) -> PoseSeries:
        """The landmarks recorded so far as one series."""
        n = min(len(self._times), len(self._frames), len(self._points))
        width, height = self._size or (0, 0)
        return PoseSeries(
            time_s=np.array(self._times[:n], dtype=float),
            points=np.stack(self._points[:n]).astype(np.float64),
            width=width,
            height=height,
            frame_index=np.array(self._frames[:n]),
        )

    def time_trials(self) -> TrialsSoFar:
        """The 3-metre backward walk test over what is recorded so far, timed as `finish` times
        the whole session (safe times, zero-phase smoothing, metrics), so each trial can be
        reported as soon as it is walked; and whether the walker is moving now, when an
        untimed last trial may still be under way. Safe to call from another thread while
        frames are added."""
        cfg = self.settings.timed_test
        if min(len(self._times), len(self._points)) < 3:
            return TrialsSoFar(TimedTestResult(
                reason="not timed: nothing has been recorded yet", distance_m=cfg.distance_m,
                population=cfg.population, scoring=cfg.scoring, trials_asked=cfg.trials,
            ), walking=False)
        measured = measure_series(self._series(), self.settings)
        result = time_backward_walk(measured.smoothed, measured.metrics, self.settings)
        self._remember(result)
        return TrialsSoFar(result,
                           walking=moving_at_end(measured.smoothed, measured.metrics, cfg))

    def _remember(self, result: TimedTestResult) -> None:
        """Keep the timed trials of `result`, which the walker is told; a later timing of
        the same walk replaces the earlier one."""
        timed = [tr for tr in result.trials if tr.timed and tr.start_s is not None]
        with self._reported_lock:
            for trial in timed:
                self._reported = [tr for tr in self._reported
                                  if not same_walk(tr, trial)] + [trial]

    @property
    def reported_trials(self) -> tuple[TrialResult, ...]:
        """The timed trials reported during the session, in the order first timed."""
        with self._reported_lock:
            return tuple(self._reported)

    def abandon(self) -> None:
        """Close the files of a recording that will not be finished, keeping what was written."""
        if self._result is None:
            with contextlib.suppress(OutputError):
                self._close_streams()
            if self._staging is not None:
                self._staging.discard()

    def finish(self, warnings: list[str] | None = None) -> AnalysisResult:
        """Close the clip, analyse what was recorded, and write every output."""
        if self._result is not None:
            return self._result
        with contextlib.suppress(OutputError) if self._stopped_by else contextlib.nullcontext():
            self._close_streams()
        if self._stopped_by is not None:
            raise self._stopped_by
        self.warnings.extend(warnings or [])
        if not self._times:
            raise VideoError("no frames were recorded")
        self._choose_walker_with_hindsight()
        series = self._series()
        result = analyze_series(series, self.settings, self.source_name, self.warnings)
        reported = self.reported_trials
        if reported and result.summary.timed_test is not None:
            timed = keep_reported_trials(result.summary.timed_test, reported,
                                         self.settings.timed_test)
            result.summary = dataclasses.replace(result.summary, timed_test=timed)
        final_csv = self._written.landmarks
        try:
            os.replace(self._csv_path, final_csv)
        except OSError as exc:
            raise OutputError(exc.errno, describe_os_error(exc, final_csv)) from exc
        if self._staging is not None:
            write_outputs_into(result, self._written, self.settings, landmarks=False)
            files = self._staging.commit()
            # Landmarks an earlier, interrupted recording left here are superseded now.
            with contextlib.suppress(OSError):
                self.paths.landmarks_partial.unlink(missing_ok=True)
        else:
            files = {SessionFiles.ANNOTATED: self.paths.annotated,
                     SessionFiles.LANDMARKS: final_csv}
            files.update(write_outputs(result, self.out_dir, self.settings, landmarks=False))
        result.out_dir = self.out_dir
        result.files = files
        self._result = result
        return result

