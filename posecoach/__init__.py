"""posecoach: camera coaching for backward walking.

Analyse a recorded walk: every output (annotated video, landmarks, metrics, report) goes into
the output folder, and the summary comes back typed::

    import posecoach

    settings = posecoach.load_settings(level="beginner", height_cm=172)
    result = posecoach.analyze_video("walk.mp4", "out/walk", settings)
    print(result.summary.steps, result.summary.cadence_spm)

Coach a live camera, one RGB frame (a numpy array) at a time::

    coach = posecoach.LiveCoach(settings)
    try:
        for time_s, frame_rgb in frames:
            for cue in coach.process(frame_rgb, time_s).new_cues:
                print(cue.message)
    finally:
        coach.close()

Every error meant for the user is a `posecoach.PosecoachError`; its text is the message to show.
The pose model is built from the mediapipe wheel on first use, into the user data folder (or
`$POSECOACH_MODELS_DIR`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from posecoach.errors import (
    InputError,
    LandmarksCSVError,
    ModelError,
    OutputError,
    PosecoachError,
    SettingsError,
    VideoError,
)
from posecoach.version import __version__

if TYPE_CHECKING:
    from posecoach.coach.live import LiveCoach
    from posecoach.outputs.results import AnalysisResult
    from posecoach.outputs.summary import SessionSummary
    from posecoach.pipeline.offline import analyze_landmarks_file, analyze_video
    from posecoach.pose.estimator import PoseEstimator
    from posecoach.settings import Settings, load_settings

# Imported on first use, so that `import posecoach` stays fast and does not load mediapipe.
_LAZY: dict[str, str] = {
    "load_settings": "posecoach.settings",
    "Settings": "posecoach.settings",
    "analyze_video": "posecoach.pipeline.offline",
    "analyze_landmarks_file": "posecoach.pipeline.offline",
    "AnalysisResult": "posecoach.outputs.results",
    "SessionSummary": "posecoach.outputs.summary",
    "PoseEstimator": "posecoach.pose.estimator",
    "LiveCoach": "posecoach.coach.live",
}

__all__ = [
    "AnalysisResult",
    "InputError",
    "LandmarksCSVError",
    "LiveCoach",
    "ModelError",
    "OutputError",
    "PoseEstimator",
    "PosecoachError",
    "SessionSummary",
    "Settings",
    "SettingsError",
    "VideoError",
    "__version__",
    "analyze_landmarks_file",
    "analyze_video",
    "load_settings",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'posecoach' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
