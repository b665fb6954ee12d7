"""Whole-clip analysis of a walk's landmarks: no video, no pose model, no files.

The times are made safe, the landmarks smoothed with a zero-phase filter, and the metrics, the
gait and the same rules as the live coach run over the whole clip; with `[timed_test] run` the
3-metre backward walk is timed too. `posecoach.outputs.results` turns this into the summary
and the files.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from posecoach.coach.cues import Cue
from posecoach.coach.gait import GaitSummary, analyze_gait
from posecoach.coach.metrics import MetricsSeries, compute_metrics
from posecoach.coach.rules import evaluate_rules
from posecoach.coach.smoothing import smooth_offline
from posecoach.coach.timed_test import TimedTestResult, time_backward_walk
from posecoach.media.timeline import safe_timeline
from posecoach.pose.landmarks import PoseSeries
from posecoach.settings import Settings


@dataclass(frozen=True)
class MeasuredSeries:
    """A series with safe times, smoothed over the whole clip, and its per-frame metrics."""

    series: PoseSeries
    smoothed: PoseSeries
    metrics: MetricsSeries
    warnings: list[str]


@dataclass(frozen=True)
class ClipAnalysis:
    """What the coach finds over a whole clip; `warnings` says what was changed or missing."""

    series: PoseSeries
    smoothed: PoseSeries
    metrics: MetricsSeries
    gait: GaitSummary
    cues: list[Cue]
    timed_test: TimedTestResult | None
    warnings: list[str]


def measure_series(series: PoseSeries, settings: Settings, label: str = "the clip"
                   ) -> MeasuredSeries:
    """Safe times (`posecoach.media.timeline`; what was changed is in `warnings`), zero-phase
    smoothing and the metrics: what every whole-clip analysis starts from."""
    timeline = safe_timeline(series.time_s, max_gap_s=settings.timing.max_gap_s, label=label)
    if not np.array_equal(timeline.time_s, series.time_s):
        series = dataclasses.replace(series, time_s=timeline.time_s)
    smoothed = smooth_offline(series, settings)
    return MeasuredSeries(series, smoothed, compute_metrics(smoothed, settings),
                          list(timeline.warnings))


def analyze_clip(series: PoseSeries, settings: Settings, label: str = "the clip",
                 warnings: list[str] | None = None) -> ClipAnalysis:
    """Measure a whole clip's landmarks, find its steps and judge it by the rules.

    `label` names the clip in the warnings; `warnings` (earlier ones, e.g. the decoder's) come
    first in the result's.
    """
    measured = measure_series(series, settings, label=label)
    series, smoothed, metrics = measured.series, measured.smoothed, measured.metrics
    found = [*(warnings or []), *measured.warnings]
    gait = analyze_gait(smoothed, metrics, settings)
    cues = evaluate_rules(list(metrics.rows()), gait.steps, settings)
    if not metrics.has_person.any():
        found.append("Nobody was found in the video.")
    timed = time_backward_walk(smoothed, metrics, settings) if settings.timed_test.run else None
    return ClipAnalysis(series, smoothed, metrics, gait, cues, timed, found)
