"""Whole-clip analysis: the offline pipeline, the session recorder, and `analyze_video`.

Offline analysis smooths the landmarks with a zero-phase filter, computes the metrics and the
gait over the whole clip, and runs the same rules as the live coach. The annotated clip is drawn
while the video is read, from the live coach's causal view: it shows what the walker would have
been told at that moment. The summary, metrics and report come from the offline analysis.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from posecoach.coach.cues import Cue
from posecoach.coach.gait import GaitSummary, analyze_gait
from posecoach.coach.live import LiveCoach, LiveResult
from posecoach.coach.metrics import METRIC_FIELDS, FrameMetrics, compute_metrics
from posecoach.coach.rules import evaluate_rules
from posecoach.coach.smoothing import smooth_offline
from posecoach.media.video import (
    VideoError,
    VideoFrame,
    VideoReader,
    VideoWriter,
    output_size,
    probe,
)
from posecoach.outputs.files import (
    OutputError,
    atomic_write_json,
    atomic_write_rows,
    describe_os_error,
)
from posecoach.outputs.landmarks_csv import HEADER as LANDMARK_HEADER
from posecoach.outputs.landmarks_csv import format_row, read_landmarks_csv, write_landmarks_csv
from posecoach.outputs.overlay import Overlay
from posecoach.outputs.report import write_report
from posecoach.pipeline.handoff import hand_over
from posecoach.pose.estimator import PoseEstimator
from posecoach.pose.landmarks import PoseSeries
from posecoach.settings import Settings

Progress = Callable[[int, int | None], None]

# The decoded frame feeds both the pose model and the annotated clip when the clip's long side
# is at least this; smaller clips get a frame of their own.
MIN_SHARED_SIDE_PX = 960
_QUEUE_FRAMES = 4


@dataclass
class AnalysisResult:
    """Everything one analysis produced."""

    summary: dict[str, Any]
    metrics: list[FrameMetrics]
    gait: GaitSummary
    cues: list[Cue]
    series: PoseSeries
    out_dir: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)


def _frame_durations(time_s: np.ndarray) -> np.ndarray:
    if len(time_s) == 0:
        return np.zeros(0)
    if len(time_s) == 1:
        return np.ones(1) / 30.0
    dt = np.diff(time_s)
    return np.append(dt, np.median(dt))


def _median(values: list[float] | np.ndarray) -> float | None:
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    return float(np.median(arr)) if arr.size else None


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def build_summary(
    series: PoseSeries,
    metrics: list[FrameMetrics],
    gait: GaitSummary,
    cues: list[Cue],
    settings: Settings,
    source: str = "",
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    """The summary.json content (see the README for each key)."""
    dt = _frame_durations(series.time_s)
    person = np.array([m.has_person for m in metrics], dtype=bool)
    direction = np.array([m.direction for m in metrics])
    view = np.array([m.view for m in metrics])
    backward_s = float(dt[(direction == "backward") & person].sum())
    forward_s = float(dt[(direction == "forward") & person].sum())
    standing_s = float(dt[(direction == "standing") & person].sum())
    moving = backward_s + forward_s
    unknown_s = float(dt[np.isin(direction, ("unknown", "turning")) & person].sum())
    # The direction is only judged where the walker is seen from the side: a back-view clip
    # with a few side-view seconds does not get a direction from them.
    if moving < 0.5 or unknown_s > 2.0 * moving:
        overall_direction = "unknown"
    elif backward_s >= 0.75 * moving:
        overall_direction = "backward"
    elif forward_s >= 0.75 * moving:
        overall_direction = "forward"
    else:
        overall_direction = "mixed"

    view_time = {v: float(dt[(view == v) & person].sum()) for v in ("side", "front", "back")}
    seen = sum(view_time.values())
    if seen <= 0:
        overall_view = "unknown"
    else:
        top = max(view_time, key=view_time.get)
        overall_view = top if view_time[top] >= 0.7 * seen else "mixed"

    # Sagittal posture needs a side view: stray side-view frames in a front or back view clip
    # (a walker turning, a misread frame) are not enough to report it.
    side = person & (view == "side") & (overall_view in ("side", "mixed"))
    trunk = np.array([m.trunk_lean_deg for m in metrics], dtype=float)
    head = np.array([m.head_angle_deg for m in metrics], dtype=float)
    looking_down = np.array([m.looking_down for m in metrics], dtype=bool)
    tu = settings.rules.trunk_upright
    hu = settings.rules.head_up
    trunk_ok = np.isfinite(trunk) & side
    upright = trunk_ok & (trunk <= tu.max_forward_lean_deg) & (trunk >= -tu.max_backward_lean_deg)
    head_ok = np.isfinite(head) & side
    head_up = head_ok & (head <= hu.max_head_angle_deg) & ~looking_down

    judged_steps = bool(gait.steps)
    step_list = [
        {
            "time_s": _round(s.time_s),
            "side": s.side,
            "step_length_leg": _round(s.step_length_leg),
            "step_length_m": _round(s.step_length_m),
            "step_time_s": _round(s.step_time_s),
        }
        for s in gait.steps
    ]
    duration = float(series.time_s[-1] - series.time_s[0] + dt[-1]) if len(series) else 0.0
    return {
        "source": source,
        "level": settings.level,
        "height_cm": settings.height_cm,
        "duration_s": _round(duration),
        "frames": len(series),
        "frames_with_person": int(person.sum()),
        "fps": _round(series.fps, 2),
        "direction": overall_direction,
        "backward_time_s": _round(backward_s),
        "forward_time_s": _round(forward_s),
        "standing_time_s": _round(standing_s),
        "view": overall_view,
        "view_time_s": {k: _round(v) for k, v in view_time.items()},
        "steps": len(gait.steps) if judged_steps else (0 if side.any() else None),
        "cadence_spm": _round(gait.cadence_spm, 1),
        "step_length_leg": _round(gait.step_length_leg),
        "step_length_m": _round(gait.step_length_m),
        "step_time_s": _round(gait.step_time_s),
        "speed_leg_s": _round(gait.speed_leg_s),
        "speed_m_s": _round(gait.speed_m_s),
        "step_length_symmetry": _round(gait.step_length_symmetry),
        "step_time_symmetry": _round(gait.step_time_symmetry),
        "trunk_lean_deg_median": _round(_median(trunk[side]), 2),
        "head_angle_deg_median": _round(_median(head[side]), 2),
        "upright_share": _round(float(upright.sum() / trunk_ok.sum()) if trunk_ok.any() else None),
        "head_up_share": _round(float(head_up.sum() / head_ok.sum()) if head_ok.any() else None),
        "cues": [
            {**c.to_dict(), "start_s": _round(c.start_s), "end_s": _round(c.end_s)} for c in cues
        ],
        "step_list": step_list,
        "gait_events": [
            {"time_s": _round(e.time_s), "side": e.side, "kind": e.kind} for e in gait.events
        ],
        "thresholds": {
            "trunk_max_forward_lean_deg": tu.max_forward_lean_deg,
            "trunk_max_backward_lean_deg": tu.max_backward_lean_deg,
            "head_max_angle_deg": hu.max_head_angle_deg,
            "step_max_length_leg": settings.rules.step_length.max_step_length_leg,
        },
        "warnings": list(warnings or []),
    }


def analyze_series(
    series: PoseSeries,
    settings: Settings,
    source: str = "",
    warnings: list[str] | None = None,
) -> AnalysisResult:
    """Offline analysis of a whole clip's landmarks (no video, no pose model)."""
    smoothed = smooth_offline(series, settings)
    metrics = compute_metrics(smoothed, settings)
    gait = analyze_gait(smoothed, metrics, settings)
    cues = evaluate_rules(metrics, gait.steps, settings)
    warnings = list(warnings or [])
    if not any(m.has_person for m in metrics):
        warnings.append("Nobody was found in the video.")
    summary = build_summary(series, metrics, gait, cues, settings, source, warnings)
    return AnalysisResult(summary, metrics, gait, cues, series)


def write_outputs(result: AnalysisResult, out_dir: Path, settings: Settings,
                  landmarks: bool = True) -> dict[str, Path]:
    """Write landmarks.csv (unless already written), metrics.csv, summary.json, report.html."""
    files: dict[str, Path] = {}
    if landmarks:
        files["landmarks.csv"] = write_landmarks_csv(out_dir / "landmarks.csv", result.series)
    files["metrics.csv"] = atomic_write_rows(
        out_dir / "metrics.csv",
        METRIC_FIELDS,
        ([getattr(m, f) for f in METRIC_FIELDS] for m in result.metrics),
    )
    files["summary.json"] = atomic_write_json(out_dir / "summary.json", result.summary)
    files["report.html"] = write_report(
        out_dir / "report.html", result.summary, result.metrics, result.gait, result.cues, settings
    )
    return files


class SessionRecorder:
    """Records a session or clip as it goes, then finalises the outputs.

    The annotated clip and the landmarks CSV are appended frame by frame, so a session cut short
    (a closed tab, a crash) keeps what was already received. `finish` runs the offline analysis
    over the recorded landmarks and writes the remaining outputs; it is safe to call twice.

    With `threaded=True` the overlay is drawn and the frame handed to the encoder on a
    background thread (a bounded queue of a few frames), so `add` returns in well under a
    millisecond; the caller must not change the image after handing it over.
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
    ) -> None:
        self.out_dir = Path(out_dir)
        self.settings = settings
        self.fps = fps if fps and math.isfinite(fps) and fps > 0 else 30.0
        self.source_name = source_name
        self.fragmented = fragmented
        self.overlay = Overlay(settings) if draw else None
        self.threaded = threaded
        self.warnings: list[str] = []
        self._writer: VideoWriter | None = None
        self._csv_path = self.out_dir / "landmarks.csv.partial"
        self._csv_file: Any = None
        self._csv: Any = None
        self._times: list[float] = []
        self._frames: list[int] = []
        self._points: list[np.ndarray] = []
        self._size: tuple[int, int] | None = None
        self._clip_size: tuple[int, int] = (0, 0)
        self._result: AnalysisResult | None = None
        self._draw_queue: queue.Queue[Any] | None = None
        self._draw_thread: threading.Thread | None = None
        self._draw_error: BaseException | None = None
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(exc.errno, describe_os_error(exc, self.out_dir)) from exc

    def _open(self, width: int, height: int) -> None:
        self._size = (width, height)
        out = self.settings.output
        self._clip_size = output_size(width, height, out.annotated_max_side_px)
        self._writer = VideoWriter(
            self.out_dir / "annotated.mp4",
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
            self._draw_queue = queue.Queue(maxsize=_QUEUE_FRAMES)
            self._draw_thread = threading.Thread(
                target=self._draw_loop, name="posecoach-overlay", daemon=True
            )
            self._draw_thread.start()

    def add(self, image_rgb: np.ndarray, time_s: float, result: LiveResult) -> None:
        """Append one frame: record its landmarks and write it, annotated, to the clip.

        The landmarks are in pixels of `result.raw`'s frame size; `image_rgb` may be that frame
        or a smaller copy of it. The overlay is drawn in place on `image_rgb` when it already
        has the clip's size.
        """
        if self._result is not None:
            raise RuntimeError("the session is already finished")
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
        try:
            self._csv.writerow(format_row(raw.index, time_s, width, height, raw.points))
        except OSError as exc:
            raise OutputError(exc.errno, describe_os_error(exc, self._csv_path)) from exc
        cue = result.active_cues[0] if result.active_cues else None
        item = (image_rgb, time_s - self._times[0], result.frame, result.metrics, cue,
                list(result.new_steps))
        if self._draw_queue is None:
            self._draw(*item)
            return
        if not hand_over(self._draw_queue, item, self._draw_thread):
            raise self._draw_error or VideoError("the annotated clip stopped")

    def _draw(self, image_rgb: np.ndarray, clip_time_s: float, frame: Any, metrics: Any,
              cue: Cue | None, steps: list[Any]) -> None:
        """Scale the frame to the clip's size if needed, draw the overlay, and encode it."""
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
            item = self._draw_queue.get()
            if item is None:
                return
            if self._draw_error is not None:
                continue
            try:
                self._draw(*item)
            except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
                self._draw_error = exc

    @property
    def frames(self) -> int:
        return len(self._times)

    def _stop_drawing(self) -> None:
        if self._draw_thread is None or self._draw_queue is None:
            return
        hand_over(self._draw_queue, None, self._draw_thread)
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
        if errors:
            raise OutputError(0, "; ".join(errors))

    def finish(self, warnings: list[str] | None = None) -> AnalysisResult:
        """Close the clip, analyse what was recorded, and write every output."""
        if self._result is not None:
            return self._result
        self._close_streams()
        self.warnings.extend(warnings or [])
        if not self._times:
            raise VideoError("no frames were recorded")
        width, height = self._size or (0, 0)
        series = PoseSeries(
            time_s=np.array(self._times),
            points=np.stack(self._points).astype(np.float64),
            width=width,
            height=height,
            frame_index=np.array(self._frames),
        )
        result = analyze_series(series, self.settings, self.source_name, self.warnings)
        final_csv = self.out_dir / "landmarks.csv"
        try:
            os.replace(self._csv_path, final_csv)
        except OSError as exc:
            raise OutputError(exc.errno, describe_os_error(exc, final_csv)) from exc
        files = {"annotated.mp4": self.out_dir / "annotated.mp4", "landmarks.csv": final_csv}
        files.update(write_outputs(result, self.out_dir, self.settings, landmarks=False))
        result.out_dir = self.out_dir
        result.files = files
        self._result = result
        return result


def pose_input_side(settings: Settings) -> int:
    """Long side of the frames `analyze_video` decodes for the pose model and the clip."""
    shared = max(settings.output.annotated_max_side_px, MIN_SHARED_SIDE_PX)
    return min(settings.pose.max_input_side_px, shared)


def _scale_people(people: list[np.ndarray], sx: float, sy: float) -> list[np.ndarray]:
    """Landmarks from a scaled-down frame in the full frame's pixels (z scales with x)."""
    if sx == 1.0 and sy == 1.0:
        return people
    for pts in people:
        pts[:, 0] *= sx
        pts[:, 1] *= sy
        pts[:, 2] *= sx
    return people


class _CoachWorker:
    """Runs the live coach and the recorder on their own thread, one frame behind the model.

    MediaPipe releases the GIL while it infers, so the coach's Python work for frame i
    overlaps the model's work on frame i+1.
    """

    def __init__(self, coach: LiveCoach, recorder: SessionRecorder,
                 frame_size: tuple[int, int]) -> None:
        self.coach = coach
        self.recorder = recorder
        self.frame_size = frame_size
        self.error: BaseException | None = None
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=_QUEUE_FRAMES)
        self._thread = threading.Thread(target=self._run, name="posecoach-coach", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        width, height = self.frame_size
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self.error is not None:
                continue
            frame, people = item
            try:
                h, w = frame.image.shape[:2]
                people = _scale_people(people, width / w, height / h)
                result = self.coach.process_people(people, frame.time_s, width, height)
                self.recorder.add(frame.image, frame.time_s, result)
            except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
                self.error = exc

    def put(self, frame: VideoFrame, people: list[np.ndarray]) -> None:
        """Queue one frame and its people; raises what the worker ran into."""
        if self.error is not None:
            raise self.error
        if not hand_over(self._queue, (frame, people), self._thread):
            raise self.error or VideoError("the analysis stopped")

    def close(self) -> None:
        """Wait for the queued frames; raises what the worker ran into."""
        if hand_over(self._queue, None, self._thread):
            self._thread.join()
        if self.error is not None:
            raise self.error


def analyze_video(
    path: Path | str,
    out_dir: Path | str,
    settings: Settings,
    progress: Progress | None = None,
    estimator: PoseEstimator | None = None,
) -> AnalysisResult:
    """Analyse one video file and write every output into `out_dir`.

    Raises `VideoError` for a file that is not a readable video, `OutputError` when outputs
    cannot be written.
    """
    path = Path(path)
    info = probe(path)
    total = info.frame_count
    warnings: list[str] = []
    frame_size = output_size(info.width, info.height, settings.pose.max_input_side_px)
    coach = LiveCoach(settings, estimator)
    recorder = SessionRecorder(
        Path(out_dir), settings, info.fps, path.name, fragmented=False, threaded=False
    )
    worker: _CoachWorker | None = None
    try:
        model = coach.estimator
        worker = _CoachWorker(coach, recorder, frame_size)
        with VideoReader(path, max_side_px=pose_input_side(settings)) as reader:
            for frame in reader:
                worker.put(frame, model.detect(frame.image, frame.time_s))
                if progress is not None:
                    progress(reader.frames_read, total)
            if reader.truncated:
                warnings.append(
                    reader.error_message
                    or f"The video ends early: analysed the first {reader.frames_read} frames."
                )
        worker.close()
        if recorder.frames == 0:
            raise VideoError(f"{path.name}: no frames could be decoded")
        return recorder.finish(warnings)
    finally:
        if worker is not None:
            with contextlib.suppress(BaseException):
                worker.close()
        coach.close()
        if recorder._result is None:
            with contextlib.suppress(OutputError):
                recorder._close_streams()


def analyze_landmarks_file(
    path: Path | str, out_dir: Path | str, settings: Settings
) -> AnalysisResult:
    """Re-run metrics and rules on an exported landmarks CSV: no video, no pose model."""
    path = Path(path)
    series = read_landmarks_csv(path)
    result = analyze_series(series, settings, path.name)
    out = Path(out_dir)
    result.files = write_outputs(result, out, settings, landmarks=False)
    result.out_dir = out
    return result
