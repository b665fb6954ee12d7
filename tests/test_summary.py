"""The typed session summary: summary.json round trips, older files load, file names."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from posecoach.outputs.files import SessionFiles
from posecoach.outputs.summary import CueRecord, SessionSummary, Thresholds, as_summary

STORED: dict[str, Any] = {
    "source": "walk.mp4",
    "level": "beginner",
    "height_cm": None,
    "duration_s": 2.261,
    "frames": 135,
    "frames_with_person": 135,
    "fps": 59.7,
    "direction": "backward",
    "backward_time_s": 2.261,
    "forward_time_s": 0.0,
    "standing_time_s": 0.0,
    "view": "side",
    "view_time_s": {"side": 2.261, "front": 0.0, "back": 0.0},
    "steps": 2,
    "cadence_spm": 123.5,
    "step_length_leg": 0.865,
    "step_length_m": None,
    "step_time_s": 0.553,
    "speed_leg_s": 1.694,
    "speed_m_s": None,
    "step_length_symmetry": 0.828,
    "step_time_symmetry": 0.779,
    "trunk_lean_deg_median": -3.08,
    "head_angle_deg_median": 18.86,
    "upright_share": 1.0,
    "head_up_share": 1.0,
    "setting": "overground",
    "handrail_share": None,
    "cues": [
        {"rule": "step_length", "message": "Shorter steps, stay controlled",
         "severity": "warning", "start_s": 1.105, "end_s": None, "guidance": "Start slowly.",
         "priority": 5},
    ],
    "step_list": [
        {"time_s": 0.553, "side": "right", "step_length_leg": 0.889, "step_length_m": None,
         "step_time_s": None},
        {"time_s": 1.105, "side": "left", "step_length_leg": 0.997, "step_length_m": None,
         "step_time_s": 0.553},
    ],
    "gait_events": [{"time_s": 0.184, "side": "right", "kind": "heel_off"}],
    "thresholds": {
        "trunk_max_forward_lean_deg": 12.0,
        "trunk_max_backward_lean_deg": 12.0,
        "head_max_angle_deg": 28.0,
        "step_max_length_leg": 0.65,
    },
    "warnings": ["The video ends early: analysed the first 135 frames."],
    "timed_test": None,
}


def test_a_stored_summary_round_trips_exactly() -> None:
    summary = SessionSummary.from_json(STORED)
    assert summary.to_json() == STORED
    assert list(summary.to_json()) == list(STORED), "keys keep summary.json's order"
    assert json.dumps(summary.to_json()) == json.dumps(STORED)
    assert summary.steps == 2 and summary.view_time_s is not None
    assert summary.view_time_s.side == 2.261
    assert summary.cues[0] == CueRecord("step_length", "Shorter steps, stay controlled",
                                        "warning", 1.105, None, "Start slowly.", 5)
    assert summary.thresholds == Thresholds(12.0, 12.0, 28.0, 0.65)


def test_an_older_summary_with_missing_keys_loads() -> None:
    summary = SessionSummary.from_json({"duration_s": 61.5, "cues": [{"rule": "fall"}]})
    assert summary.duration_s == 61.5
    assert summary.frames is None and summary.view_time_s is None and summary.thresholds is None
    assert summary.step_list == () and summary.warnings == ()
    assert summary.cues == (CueRecord(rule="fall"),)
    stored = summary.to_json()
    assert set(stored) == set(STORED)
    assert stored["steps"] is None and stored["gait_events"] == []


def test_keys_added_later_are_written_only_when_set() -> None:
    unset = SessionSummary.from_json(STORED).to_json()
    assert "direction_reason" not in unset and "body_scale" not in unset
    told = SessionSummary.from_json({**STORED, "direction": "unknown",
                                     "direction_reason": "feet out of frame"})
    stored = told.to_json()
    assert stored["direction_reason"] == "feet out of frame"
    assert list(stored).index("direction_reason") == list(stored).index("direction") + 1
    assert SessionSummary.from_json(stored) == told


def test_malformed_values_read_as_missing_and_nan_writes_null() -> None:
    summary = SessionSummary.from_json({
        "frames": "many", "fps": float("nan"), "upright_share": True, "cues": "none",
        "view_time_s": [1, 2], "warnings": "one", "steps": 2.5,
    })
    assert summary.frames is None and summary.fps is None and summary.upright_share is None
    assert summary.cues == () and summary.view_time_s is None and summary.warnings == ()
    assert summary.steps is None
    nan_summary = SessionSummary(duration_s=math.nan, height_cm=math.inf)
    text = json.dumps(nan_summary.to_json(), allow_nan=False)
    assert '"duration_s": null' in text and '"height_cm": null' in text


def test_as_summary_takes_either_form() -> None:
    summary = SessionSummary.from_json(STORED)
    assert as_summary(summary) is summary
    assert as_summary(STORED) == summary
    assert as_summary(None) == SessionSummary()


def test_session_files_name_every_output(tmp_path: Path) -> None:
    files = SessionFiles(tmp_path)
    assert SessionFiles.OUTPUTS == (
        "annotated.mp4", "landmarks.csv", "metrics.csv", "summary.json", "report.html"
    )
    assert files.summary == tmp_path / "summary.json"
    assert files.annotated == tmp_path / "annotated.mp4"
    assert files.landmarks_partial == tmp_path / "landmarks.csv.partial"
    assert files.plots == tmp_path / "plots.json"
    assert files.report.name == SessionFiles.REPORT
