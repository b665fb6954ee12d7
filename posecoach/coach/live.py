"""The live coach: one frame in, landmarks, metrics and cues out, using only the past.

This is the engine behind the web UI and behind the annotated clip of `posecoach analyze`: pose
estimation, the walker tracker, causal (One Euro) smoothing, metrics over a short trailing
window, steps as they are confirmed, and the rule engine with its persistence and cooldowns.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from posecoach.coach.cues import Cue
from posecoach.coach.gait import Step, analyze_gait
from posecoach.coach.metrics import FrameMetrics, MetricsSeries, compute_metrics
from posecoach.coach.rules import RuleEngine
from posecoach.coach.setting import SettingTracker, WalkSetting
from posecoach.coach.setup_check import SetupChecker, SetupReport, image_brightness
from posecoach.coach.smoothing import LiveSmoother
from posecoach.frame_rate import MAX_FPS
from posecoach.jsonable import to_jsonable
from posecoach.pose.backend import CoreShare
from posecoach.pose.estimator import PoseEstimator
from posecoach.pose.landmarks import PoseFrame, PoseSeries
from posecoach.pose.tracker import WalkerTracker
from posecoach.settings import Settings


@dataclass
class LiveResult:
    """What the live coach knows after one frame."""

    raw: PoseFrame                 # the walker's landmarks as the model gave them
    frame: PoseFrame               # causally smoothed landmarks
    metrics: FrameMetrics
    new_cues: list[Cue] = field(default_factory=list)     # start now: speak these
    active_cues: list[Cue] = field(default_factory=list)  # most urgent first
    new_steps: list[Step] = field(default_factory=list)
    setting: WalkSetting = "overground"   # as measured over the last few seconds (or stated)
    on_rails: bool = False                # on a treadmill, holding the handrails
    setup: SetupReport | None = None      # the start-up check while it runs, and its verdict

    def to_json(self) -> dict:
        """The JSON message the web UI draws and speaks from."""
        pts = self.frame.points
        landmarks = None
        if self.frame.has_person:
            landmarks = [
                [float(p[0]) / self.frame.width, float(p[1]) / self.frame.height, float(p[3])]
                for p in pts
            ]
        return to_jsonable(
            {
                "t": self.frame.time_s,
                "width": self.frame.width,
                "height": self.frame.height,
                "person": self.frame.has_person,
                "landmarks": landmarks,
                "metrics": self.metrics,
                "cues": [c.to_dict() for c in self.active_cues],
                "new_cues": [c.to_dict() for c in self.new_cues],
                "steps": self.new_steps,
                "setting": self.setting,
                "on_rails": self.on_rails,
                "setup": self.setup.to_dict() if self.setup is not None else None,
            }
        )


class LiveCoach:
    """Pose -> walker -> causal smoothing -> metrics -> rules, one frame at a time."""

    def __init__(
        self,
        settings: Settings,
        estimator: PoseEstimator | None = None,
        gait_window_s: float = 4.0,
        gait_every_s: float = 0.2,
        num_poses: int | None = None,
        check_setup: bool = False,
        share: CoreShare | None = None,
    ) -> None:
        self.settings = settings
        self._estimator = estimator
        self._num_poses = num_poses
        self._share = share
        self._owns_estimator = estimator is None
        self.tracker = WalkerTracker(settings.tracking.lost_after_s)
        self.smoother = LiveSmoother(settings)
        self.rules = RuleEngine(settings)
        # With check_setup the first seconds check the camera set-up; coaching starts after.
        self.setup_checker = SetupChecker(settings) if check_setup else None
        self._brightness: dict[float, float] = {}  # frame time -> brightness, during the check
        self.walk_setting = SettingTracker(settings)
        # Metrics need a short trailing window (the direction window plus margin); steps need a
        # few seconds, and are looked for a few times a second rather than every frame.
        self.metrics_window_s = max(1.5, 1.5 * settings.metrics.direction_window_s)
        self.gait_window_s = max(gait_window_s, self.metrics_window_s)
        self.gait_every_s = gait_every_s
        # The window also holds at most as many frames as a camera's top rate fills, so no
        # sequence of timestamps makes it grow without bound.
        self.max_window_frames = math.ceil(self.gait_window_s * MAX_FPS) + 1
        self._window: deque[PoseFrame] = deque()
        self._window_metrics: deque[FrameMetrics] = deque()
        self._last_gait_s = -np.inf
        self._last_step_s = -np.inf
        self._frames = 0

    @property
    def estimator(self) -> PoseEstimator:
        if self._estimator is None:
            self._estimator = PoseEstimator(self.settings, num_poses=self._num_poses,
                                            share=self._share)
        return self._estimator

    def load_model(self) -> None:
        """Load the pose model now, so the first frame does not wait for it."""
        _ = self.estimator

    def detect(self, image_rgb: np.ndarray, time_s: float) -> list[np.ndarray]:
        """The pose model's people in one RGB frame (pixels of that frame)."""
        if self.setup_checker is not None and not self.setup_checker.done:
            self._brightness[time_s] = image_brightness(image_rgb)
        return self.estimator.detect(image_rgb, time_s)

    def process(self, image_rgb: np.ndarray, time_s: float) -> LiveResult:
        """Run the whole live pipeline on one RGB frame taken at `time_s` seconds."""
        people = self.detect(image_rgb, time_s)
        height, width = image_rgb.shape[:2]
        return self.process_people(people, time_s, width, height)

    def process_people(
        self, people: list[np.ndarray], time_s: float, width: int, height: int
    ) -> LiveResult:
        """The pipeline after pose estimation: for landmarks from the model or from a file."""
        walker = self.tracker.update(people, time_s, width, height)
        raw = PoseFrame(self._frames, time_s, width, height, walker)
        self._frames += 1
        smoothed = self.smoother.update(raw)
        self._window.append(smoothed)
        while self._window and (time_s - self._window[0].time_s > self.gait_window_s
                                or len(self._window) > self.max_window_frames):
            self._window.popleft()
            self._window_metrics.popleft()
        recent = [f for f in self._window if time_s - f.time_s <= self.metrics_window_s]
        metrics = compute_metrics(
            PoseSeries.from_frames(recent), self.settings, causal=True, last_only=True
        ).row(-1)
        self._window_metrics.append(metrics)
        new_steps: list[Step] = []
        if time_s - self._last_gait_s >= self.gait_every_s:
            self._last_gait_s = time_s
            new_steps = self._confirmed_steps()
        setup = self._check_setup(raw)
        if setup is None:
            new_cues = self.rules.update(metrics, new_steps)
            active = self.rules.active
        else:
            new_cues, active = [], []
        setting = self.walk_setting.update(metrics)
        return LiveResult(raw, smoothed, metrics, new_cues, active, new_steps,
                          setting, self.walk_setting.on_rails, setup)

    def _check_setup(self, raw: PoseFrame) -> SetupReport | None:
        """The start-up check's report for this frame; None once coaching has begun."""
        checker = self.setup_checker
        if checker is None or checker.done:
            return None
        brightness = self._brightness.pop(raw.time_s, None)
        report = checker.update(raw.points, raw.time_s, raw.width, raw.height, brightness)
        if report.done:
            self._brightness.clear()
        return report

    def _confirmed_steps(self) -> list[Step]:
        """Steps found in the trailing window that were not reported before."""
        if len(self._window) < 5:
            return []
        series = PoseSeries.from_frames(list(self._window))
        metrics = MetricsSeries.from_rows(self._window_metrics)
        gait = analyze_gait(series, metrics, self.settings)
        gap = 0.8 * self.settings.gait.min_step_time_s
        new = []
        for step in gait.steps:
            if step.time_s > self._last_step_s + gap:
                new.append(step)
                self._last_step_s = step.time_s
        return new

    def finish(self, end_s: float) -> list[Cue]:
        """Close the active cues and return every cue of the session."""
        return self.rules.finish(end_s)

    def close(self) -> None:
        """Release the pose model and the trailing window; the coach takes no more frames."""
        if self._owns_estimator and self._estimator is not None:
            self._estimator.close()
            self._estimator = None
        self._window.clear()
        self._window_metrics.clear()
