"""The live coach: one frame in, landmarks, metrics and cues out, using only the past.

This is the engine behind the web UI and behind the annotated clip of `posecoach analyze`: pose
estimation, the walker tracker, causal (One Euro) smoothing, metrics over a short trailing
window, steps as they are confirmed, and the rule engine with its persistence and cooldowns.
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, get_type_hints

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, computed_field, create_model
from pydantic.dataclasses import dataclass as pydantic_dataclass

from posecoach.coach.cues import Cue
from posecoach.coach.gait import Step, analyze_gait
from posecoach.coach.metrics import FrameMetrics, MetricsSeries, compute_metrics
from posecoach.coach.rules import RULES_BY_ID, RuleEngine
from posecoach.coach.setting import SettingTracker, WalkSetting
from posecoach.coach.setup_check import SetupChecker, SetupReport, image_brightness
from posecoach.coach.smoothing import LiveSmoother
from posecoach.frame_rate import MAX_FPS
from posecoach.pose.backend import CoreShare
from posecoach.pose.estimator import PoseEstimator
from posecoach.pose.landmarks import PoseFrame, PoseSeries
from posecoach.pose.tracker import WalkerTracker
from posecoach.settings import Settings


@pydantic_dataclass
class LiveCue(Cue):
    """A cue as the pages get it: `praise` is true for a praise rule's cue (good form), which
    the pages show as good news rather than as a fault."""

    praise: bool = False

    @classmethod
    def of(cls, cue: Cue) -> LiveCue:
        rule = RULES_BY_ID.get(cue.rule)
        return cls(**asdict(cue), praise=rule is not None and rule.praise)


@pydantic_dataclass(frozen=True)
class SetupBody(SetupReport):
    """The start-up check as the pages get it, with its verdict and the line to show."""

    passed = computed_field(SetupReport.passed, description="every check passed")  # type: ignore[prop-decorator]
    message = computed_field(SetupReport.message, description="one line to show or say")  # type: ignore[prop-decorator]

    @classmethod
    def of(cls, report: SetupReport) -> SetupBody:
        return cls(**{f.name: getattr(report, f.name) for f in fields(report)})


def _nan_as_null(cls: type) -> type[BaseModel]:
    """The dataclass `cls` as the pages get it: a float field that is NaN (not measured)
    arrives as null, so the pages' schema says "number or null". Built from `cls`'s own
    declaration, and read from an instance's attributes."""
    hints = get_type_hints(cls)
    return create_model(  # type: ignore[call-overload, no-any-return]
        cls.__name__,
        __config__=ConfigDict(from_attributes=True, frozen=True),
        __doc__=cls.__doc__,
        **{f.name: (hints[f.name] | None if hints[f.name] is float else hints[f.name], ...)
           for f in fields(cls)},
    )


MetricsBody = _nan_as_null(FrameMetrics)
StepBody = _nan_as_null(Step)


class LiveResultBody(BaseModel):
    """What the pages draw and speak from after one frame. Landmarks are [x, y, visibility],
    x and y shares (0..1) of the frame's width and height; NaN values are sent as null."""

    model_config = ConfigDict(frozen=True)

    t: float = Field(description="the frame's time, seconds from the session's start")
    width: int = Field(description="the frame's width, pixels")
    height: int = Field(description="the frame's height, pixels")
    person: bool = Field(description="the walker was seen in this frame")
    landmarks: list[tuple[float | None, float | None, float | None]] | None = Field(
        description="the 33 smoothed landmarks; null when nobody was seen")
    metrics: MetricsBody  # type: ignore[valid-type]
    cues: list[LiveCue] = Field(description="the active cues, most urgent first")
    new_cues: list[LiveCue] = Field(description="the cues that start now: speak these")
    steps: list[StepBody] = Field(  # type: ignore[valid-type]
        description="the steps confirmed since the previous result")
    setting: WalkSetting = Field(description="overground or treadmill, as measured or stated")
    on_rails: bool = Field(description="on a treadmill, holding the handrails")
    setup: SetupBody | None = Field(
        description="the start-up check while it runs, and its verdict; else null")


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

    def body(self) -> LiveResultBody:
        """The result as the pages get it."""
        landmarks = None
        if self.frame.has_person:
            w, h = self.frame.width, self.frame.height
            landmarks = [(float(p[0]) / w, float(p[1]) / h, float(p[3]))
                         for p in self.frame.points]
        return LiveResultBody(
            t=self.frame.time_s,
            width=self.frame.width,
            height=self.frame.height,
            person=self.frame.has_person,
            landmarks=landmarks,
            metrics=self.metrics,
            cues=[LiveCue.of(c) for c in self.active_cues],
            new_cues=[LiveCue.of(c) for c in self.new_cues],
            steps=self.new_steps,
            setting=self.setting,
            on_rails=self.on_rails,
            setup=None if self.setup is None else SetupBody.of(self.setup),
        )

    def to_json(self) -> dict[str, Any]:
        """The result as the JSON object the pages get (NaN as null)."""
        data: dict[str, Any] = json.loads(self.body().model_dump_json())
        return data


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
        # A jump of the body (a looped video, another person taken for the walker) restarts the
        # trailing window: nothing is said about direction until a new window has filled.
        self._jumps_seen = 0
        self._window_from_s = -np.inf

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
        if self.smoother.body_jumps != self._jumps_seen:
            self._jumps_seen = self.smoother.body_jumps
            self._restart_window(time_s)
        self._window.append(smoothed)
        while self._window and (time_s - self._window[0].time_s > self.gait_window_s
                                or len(self._window) > self.max_window_frames):
            self._window.popleft()
            self._window_metrics.popleft()
        recent = [f for f in self._window if time_s - f.time_s <= self.metrics_window_s]
        metrics = compute_metrics(
            PoseSeries.from_frames(recent), self.settings, causal=True, last_only=True
        ).row(-1)
        if time_s - self._window_from_s < self.settings.metrics.direction_window_s:
            metrics = replace(metrics, direction="unknown", in_place=False)
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

    def _restart_window(self, time_s: float) -> None:
        """Forget the frames before a jump of the body: they belong to a body somewhere else,
        and a window across the jump reads the jump as walking."""
        self._window.clear()
        self._window_metrics.clear()
        self._window_from_s = time_s

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
