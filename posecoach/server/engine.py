"""The analysis engine as the server sees it, behind one small interface.

`DefaultEngine` imports the real engine modules (`posecoach.coach.live`,
`posecoach.pipeline.offline`, `posecoach.media`) on first use, so the server starts and
serves pages even while they are missing. Tests may pass any object with the same methods.
"""

from __future__ import annotations

import importlib.util
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
    """What the server needs from `posecoach.pipeline.offline.AnalysisResult`."""

    @property
    def summary(self) -> SessionSummary: ...


class RecorderLike(Protocol):
    """What the server needs from `posecoach.pipeline.recorder.SessionRecorder`."""

    def add(self, image_rgb: np.ndarray, time_s: float, result: Any) -> None: ...

    def finish(self) -> AnalysisLike: ...


class Engine(Protocol):
    """The engine calls the server makes."""

    def probe(self, path: Path) -> Any: ...

    def analyze_video(
        self, path: Path, out_dir: Path, settings: Settings, progress: ProgressFn | None
    ) -> AnalysisLike: ...

    def live_coach(self, settings: Settings) -> LiveCoachLike: ...

    def recorder(
        self, out_dir: Path, settings: Settings, fps: float, source_name: str
    ) -> RecorderLike: ...

    def camera_reader(self, source: str) -> Iterable[Any]: ...

    def recover(self, out_dir: Path, settings: Settings, source_name: str) -> SessionSummary: ...

    def plots(self, out_dir: Path, settings: Settings) -> dict[str, str]: ...


def engine_available() -> bool:
    """True when the engine modules the server uses are importable."""
    names = ("posecoach.coach.live", "posecoach.pipeline.offline", "posecoach.media.reader",
             "posecoach.pose.estimator")
    return all(importlib.util.find_spec(name) is not None for name in names)


class DefaultEngine:
    """The real engine; `VideoError` from it becomes `InputError`."""

    def probe(self, path: Path) -> Any:
        """Read a clip's stream information."""
        from posecoach.errors import VideoError
        from posecoach.media.probe import probe

        try:
            return probe(path)
        except VideoError as exc:
            raise InputError(str(exc)) from exc

    def analyze_video(
        self, path: Path, out_dir: Path, settings: Settings, progress: ProgressFn | None
    ) -> AnalysisLike:
        """Analyse a clip into `out_dir`."""
        from posecoach.errors import VideoError
        from posecoach.pipeline.offline import analyze_video

        try:
            return analyze_video(path, out_dir, settings, progress=progress)
        except VideoError as exc:
            raise InputError(str(exc)) from exc

    def live_coach(self, settings: Settings) -> LiveCoachLike:
        """A per-session live coach (pose model, causal smoothing, rules)."""
        from posecoach.coach.live import LiveCoach

        return LiveCoach(settings, num_poses=settings.pose.live_num_poses)

    def recorder(
        self, out_dir: Path, settings: Settings, fps: float, source_name: str
    ) -> RecorderLike:
        """A recorder writing the annotated clip and the session outputs."""
        from posecoach.pipeline.recorder import SessionRecorder

        return SessionRecorder(out_dir, settings, fps, source_name, fragmented=True)

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
        from posecoach.pipeline.offline import analyze_series, write_outputs

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

    def plots(self, out_dir: Path, settings: Settings) -> dict[str, str]:
        """The report's plots as inline SVG, drawn again from the session's landmarks.

        Only for a session folder without its plots file (written by an older version).
        """
        from posecoach.outputs.landmarks_csv import read_landmarks_csv
        from posecoach.outputs.plots import render_plots
        from posecoach.pipeline.offline import analyze_series

        result = analyze_series(read_landmarks_csv(SessionFiles(out_dir).landmarks), settings)
        return render_plots(result.metrics, result.gait, result.cues, settings)
