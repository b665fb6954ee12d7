"""Analysing a video file or a landmarks file into a session folder.

The annotated clip is drawn while the video is read, from the live coach's causal view: it
shows what the walker would have been told at that moment. The pose model, the coach and the
encoder run on threads of their own. The summary, metrics, plots and report come from the
offline analysis of the recorded landmarks (`posecoach.outputs.results`).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from posecoach.coach.live import LiveCoach
from posecoach.errors import VideoError
from posecoach.media.handoff import hand_over
from posecoach.media.probe import file_label, output_size, probe
from posecoach.media.reader import VideoFrame, VideoReader
from posecoach.outputs.landmarks_csv import read_landmarks_csv
from posecoach.outputs.results import AnalysisResult, analyze_series, write_outputs
from posecoach.pipeline.recorder import SessionRecorder
from posecoach.pose.backend import cpu_count, pipelined_threads
from posecoach.pose.estimator import PoseEstimator
from posecoach.settings import Settings

Progress = Callable[[int, int | None], None]

# The decoded frame feeds both the pose model and the annotated clip when the clip's long side
# is at least this; smaller clips get a frame of their own.
MIN_SHARED_SIDE_PX = 960
# Frames waiting for the coach thread.
_QUEUE_FRAMES = 4


def pose_input_side(settings: Settings) -> int:
    """Long side of the frames `analyze_video` decodes for the pose model and the clip."""
    shared = max(settings.output.annotated_max_side_px, MIN_SHARED_SIDE_PX)
    return min(settings.pose.max_input_side_px, shared)


def model_threads(settings: Settings) -> int:
    """Threads for the pose model in `analyze_video`: `[pose] threads` when set, else one
    core fewer than this process may use (`pipelined_threads`)."""
    return pipelined_threads(settings.pose.threads)


def decode_threads() -> int:
    """Threads for decoding in `analyze_video`: on one or two cores the reader's own thread
    alone (the other stages keep the cores busy, and frame threads cost a fifth more CPU);
    with more cores the codec's choice."""
    return 1 if cpu_count() <= 2 else 0


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

    The pose model releases the GIL while it infers, so the coach's Python work for frame i
    overlaps the model's work on frame i+1; decoding and encoding run on threads of their own.
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
                self.recorder.add(frame.image, frame.time_s, result, people=people)
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
    source_name: str | None = None,
) -> AnalysisResult:
    """Analyse one video file and write every output into `out_dir`.

    `source_name` names the clip in the summary, the report and the warnings (by default the
    file's own name; an uploaded clip is stored under a generated one).

    Raises `VideoError` for a file that is not a readable video, `OutputError` when outputs
    cannot be written.
    """
    path = Path(path)
    name = source_name or file_label(path)
    # the model loads while the file is probed and its first frames decode
    loading = None if estimator is not None else _ModelLoad(settings)
    try:
        info = probe(path)
    except BaseException:
        if loading is not None:
            loading.discard()
        raise
    total = info.frame_count
    warnings: list[str] = []
    frame_size = output_size(info.width, info.height, settings.pose.max_input_side_px)
    recorder = SessionRecorder(
        Path(out_dir), settings, info.fps, name, fragmented=False,
        threaded=False, staged=True,
    )
    coach: LiveCoach | None = None
    worker: _CoachWorker | None = None
    own_model: PoseEstimator | None = None
    try:
        with VideoReader(path, max_side_px=pose_input_side(settings),
                         max_gap_s=settings.timing.max_gap_s,
                         decode_threads=decode_threads(), info=info) as reader:
            frames = iter(reader)
            if loading is not None:
                estimator = own_model = loading.result()
                loading = None
            assert estimator is not None
            coach = LiveCoach(settings, estimator)
            model = coach.estimator
            worker = _CoachWorker(coach, recorder, frame_size)
            for frame in frames:
                worker.put(frame, model.detect(frame.image, frame.time_s))
                if progress is not None:
                    progress(reader.frames_read, total)
            warnings.extend(reader.timeline_warnings)
            if reader.truncated:
                warnings.append(
                    reader.error_message
                    or f"The video ends early: analysed the first {reader.frames_read} frames."
                )
        worker.close()
        if recorder.frames == 0:
            raise VideoError(f"{name}: no frames could be decoded")
        return recorder.finish([w.replace(file_label(path), name) for w in warnings])
    finally:
        if worker is not None:
            with contextlib.suppress(BaseException):
                worker.close()
        if coach is not None:
            coach.close()
        if own_model is not None:
            own_model.close()
        if loading is not None:
            loading.discard()
        recorder.abandon()


class _ModelLoad:
    """The pose model for `analyze_video`, loaded on its own thread (loading spends most of its
    time in the runtime, outside the interpreter lock, so the probe and the first frames'
    decoding go on meanwhile)."""

    def __init__(self, settings: Settings) -> None:
        self._model: PoseEstimator | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._load, args=(settings,),
                                         name="posecoach-model-load", daemon=True)
        self._thread.start()

    def _load(self, settings: Settings) -> None:
        try:
            self._model = PoseEstimator(settings, threads=model_threads(settings))
        except BaseException as exc:  # noqa: BLE001 - raised again on the caller's thread
            self._error = exc

    def result(self) -> PoseEstimator:
        """The loaded model, or the error loading it raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._model is not None
        return self._model

    def discard(self) -> None:
        """Wait for the load to end and close the model: the analysis stopped before using it."""
        self._thread.join()
        if self._model is not None:
            self._model.close()


def analyze_landmarks_file(
    path: Path | str, out_dir: Path | str, settings: Settings
) -> AnalysisResult:
    """Re-run metrics and rules on an exported landmarks CSV: no video, no pose model."""
    path = Path(path)
    series = read_landmarks_csv(path)
    result = analyze_series(series, settings, file_label(path))
    out = Path(out_dir)
    result.files = write_outputs(result, out, settings, landmarks=False)
    result.out_dir = out
    return result
