"""A clip's analysis with its summary, and the files it is written to.

`analyze_series` adds the summary to the coach's whole-clip analysis
(`posecoach.coach.analysis`); `write_outputs` writes the metrics, summary, plots and report of
one analysis into a session folder, all or nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from posecoach.coach.analysis import analyze_clip
from posecoach.coach.cues import Cue
from posecoach.coach.gait import GaitSummary
from posecoach.coach.metrics import METRIC_FIELDS, MetricsSeries
from posecoach.outputs.clinician_report import CLINICIAN_REPORT, write_clinician_report
from posecoach.outputs.files import (
    SessionFiles,
    StagedOutputs,
    atomic_write_json,
    atomic_write_rows,
)
from posecoach.outputs.landmarks_csv import write_landmarks_csv
from posecoach.outputs.plots import plot_descriptions
from posecoach.outputs.report import write_report
from posecoach.outputs.summary import SessionSummary, build_summary
from posecoach.pose.landmarks import PoseSeries
from posecoach.settings import Settings


@dataclass
class AnalysisResult:
    """Everything one analysis produced; `files` maps each written file's name to its path."""

    summary: SessionSummary
    metrics: MetricsSeries
    gait: GaitSummary
    cues: list[Cue]
    series: PoseSeries
    out_dir: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)


def analyze_series(
    series: PoseSeries,
    settings: Settings,
    source: str = "",
    warnings: list[str] | None = None,
) -> AnalysisResult:
    """Offline analysis of a whole clip's landmarks (no video, no pose model), summarised.

    The times are first made safe (`posecoach.media.timeline`): from the first frame, at a
    camera's frame rate, breaks shortened; what was changed is added to the warnings.
    """
    clip = analyze_clip(series, settings, label=source or "the clip", warnings=warnings)
    summary = build_summary(clip.series, clip.metrics, clip.gait, clip.cues, settings, source,
                            clip.warnings)
    if clip.timed_test is not None:
        summary = dataclasses.replace(summary, timed_test=clip.timed_test)
    return AnalysisResult(summary, clip.metrics, clip.gait, clip.cues, clip.series)


def write_outputs(result: AnalysisResult, out_dir: Path, settings: Settings,
                  landmarks: bool = True) -> dict[str, Path]:
    """Write the landmarks (unless already written), metrics, summary, plots and report.

    The plots are drawn once: the report shows them and the web UI reads them from their file.
    Every file is written aside first and moved into `out_dir` only once all are complete, so a
    failure part-way (a full disk) leaves the folder's previous results as they were.
    """
    staged = StagedOutputs(out_dir)
    try:
        write_outputs_into(result, staged.files, settings, landmarks=landmarks)
        return staged.commit()
    finally:
        staged.discard()


def write_outputs_into(result: AnalysisResult, paths: SessionFiles, settings: Settings,
                       landmarks: bool = True) -> dict[str, Path]:
    """`write_outputs` into the folder of `paths` as it is, one atomic write per file."""
    files: dict[str, Path] = {}
    if landmarks:
        files[paths.LANDMARKS] = write_landmarks_csv(paths.landmarks, result.series)
    files[paths.METRICS] = atomic_write_rows(
        paths.metrics,
        METRIC_FIELDS,
        result.metrics.value_rows(),
    )
    files[paths.SUMMARY] = atomic_write_json(paths.summary, result.summary.to_json())
    plots = plot_descriptions(result.metrics, result.gait, result.cues, settings)
    files[paths.PLOTS] = atomic_write_json(
        paths.plots, {name: svg for name, (svg, _description) in plots.items()}
    )
    files[paths.REPORT] = write_report(
        paths.report, result.summary, result.metrics, result.gait, result.cues, settings,
        plots=plots,
    )
    if result.summary.timed_test is not None:
        files[CLINICIAN_REPORT] = write_clinician_report(
            paths.out_dir / CLINICIAN_REPORT, result.summary, result.metrics, result.gait,
        )
    return files
