"""The whole pipeline on real footage: direction, view, outputs and their formats."""

from __future__ import annotations

import csv
import json

import av
import numpy as np
import pytest

from posecoach.coach.metrics import METRIC_FIELDS
from posecoach.outputs.landmarks_csv import HEADER, read_landmarks_csv
from posecoach.outputs.plots import PLOT_TITLES
from posecoach.outputs.results import analyze_series
from posecoach.settings import load_settings
from tests.conftest import FIXTURES, VIDEO

pytestmark = pytest.mark.video

SUMMARY_KEYS = {
    "direction", "backward_time_s", "steps", "cadence_spm", "step_length_leg", "step_length_m",
    "trunk_lean_deg_median", "head_angle_deg_median", "view", "cues", "frames",
    "frames_with_person",
}


def test_forward_clip_reads_forward(analysed):
    summary = analysed(VIDEO / "side_walk_1080p60.mp4").summary
    assert summary.direction == "forward"
    assert summary.view == "side"
    assert summary.backward_time_s < 0.5
    kinds = {e.kind for e in summary.gait_events}
    assert kinds <= {"heel_contact", "toe_off"} and "heel_contact" in kinds


def test_same_frames_reversed_read_backward(analysed):
    """The fixture is side_walk_1080p60.mp4 with its frames reversed (a backward-walking
    stand-in: the walker keeps facing the same way while the pelvis travels the other way)."""
    summary = analysed(FIXTURES / "backward_walk_side_1080p60.mp4").summary
    assert summary.direction == "backward"
    assert summary.view == "side"
    assert summary.backward_time_s > 1.0
    assert summary.steps >= 2
    assert 0.3 < summary.step_length_leg < 1.5
    # backward gait: the toes land first and the heel leaves last
    kinds = [e.kind for e in summary.gait_events]
    assert set(kinds) <= {"toe_contact", "heel_off"} and kinds.count("toe_contact") >= 2


@pytest.mark.parametrize("clip", [VIDEO / "side_walk_1080p60.mp4",
                                  FIXTURES / "backward_walk_side_1080p60.mp4"])
def test_steady_walk_steps_alternate_and_no_partial_step_counts(analysed, clip):
    """The man in these clips walks steadily: no low bump of the ankle separation (where the
    clip starts or ends mid-stride) counts as a step, and the cadence is a walking one."""
    summary = analysed(clip).summary
    steps = summary.step_list
    lengths = [s.step_length_leg for s in steps]
    assert len(steps) >= 3
    assert min(lengths) >= 0.4 * float(np.median(lengths))
    assert 90 <= summary.cadence_spm <= 135


def test_back_view_clip_reads_back_and_claims_no_step_length(analysed):
    summary = analysed(VIDEO / "back_view_people_139s.mp4").summary
    assert summary.view == "back"
    assert summary.direction == "unknown", "direction is judged from the side only"
    assert summary.trunk_lean_deg_median is None
    assert summary.step_length_leg is None
    assert summary.step_length_m is None
    rules = {c.rule for c in summary.cues}
    assert "camera_view" in rules, "a back view asks the walker to turn sideways"


def test_outputs_and_formats(analysed):
    result = analysed(FIXTURES / "backward_walk_side_1080p60.mp4")
    out = result.out_dir
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) >= SUMMARY_KEYS
    assert summary["frames"] == 135 and summary["frames_with_person"] > 120
    assert summary["step_length_m"] is None, "no height given"
    for cue in summary["cues"]:
        assert {"rule", "message", "severity", "start_s", "end_s"} <= set(cue)

    with (out / "landmarks.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == HEADER and len(rows) == 136
    series = read_landmarks_csv(out / "landmarks.csv")
    assert (series.width, series.height) == (1920, 1080)

    with (out / "metrics.csv").open() as fh:
        metric_rows = list(csv.DictReader(fh))
    assert tuple(metric_rows[0]) == METRIC_FIELDS and len(metric_rows) == 135

    with av.open(str(out / "annotated.mp4")) as clip:
        stream = clip.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        frames = sum(1 for _ in clip.decode(video=0))
    assert frames == 135

    html = (out / "report.html").read_text()
    assert "<svg" in html and "http://" not in html and "https://" not in html

    plots = json.loads((out / "plots.json").read_text())
    assert set(plots) == set(PLOT_TITLES)
    assert all(svg in html for svg in plots.values()), "the report shows the same plots"
    assert summary == result.summary.to_json()


def test_height_gives_metres(analysed):
    result = analysed(FIXTURES / "backward_walk_side_1080p60.mp4")
    tall = analyze_series(result.series, load_settings(height_cm=180))
    scale = tall.summary.body_scale  # the walker's own leg-to-height, measured in the picture
    assert scale is not None and scale.leg_m is not None and scale.sources[0] == "height given"
    assert tall.summary.step_length_m == pytest.approx(
        tall.summary.step_length_leg * scale.leg_m, rel=0.05
    )
    assert 0.2 < tall.summary.step_length_m < 1.4
