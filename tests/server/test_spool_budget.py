"""A live session's frames waiting to be drawn stay within their disk budget."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import pytest

from posecoach.coach.live import LiveCoach
from posecoach.server.engine import DefaultEngine
from posecoach.server.storage import WAITING_FRAMES
from posecoach.settings import load_settings
from tests.conftest import MOCAP, VIDEO, needs_shared_data
from tests.mocap.projection import load_trial, project_trial

pytestmark = needs_shared_data

BUDGET_BYTES = 64 * 1024


def test_waiting_frames_stop_at_their_budget_with_a_note(tmp_path: Path) -> None:
    settings = load_settings()
    series, _ = project_trial(load_trial(MOCAP / "dataset-1_walk-back_normal_001.bvh"),
                              noise_px=1.0)
    engine = DefaultEngine()
    engine.spool_budget_bytes = BUDGET_BYTES
    recorder = engine.recorder(tmp_path, settings, series.fps, "browser camera",
                               defer_drawing=lambda: True)
    coach = LiveCoach(settings)
    spool = tmp_path / WAITING_FRAMES
    largest = 0
    with av.open(str(VIDEO / "back_view_people_139s.mp4")) as container:
        frames = container.decode(video=0)
        for i, time_s in enumerate(series.time_s):
            image = cv2.resize(next(frames).to_ndarray(format="rgb24"), (640, 360),
                               interpolation=cv2.INTER_AREA)
            ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            assert ok
            largest = max(largest, len(jpeg))
            result = coach.process_people([series.points[i]], float(time_s), series.width,
                                          series.height)
            recorder.add(image, float(time_s), result, jpeg=jpeg.tobytes())
    assert len(series.time_s) * largest > 2 * BUDGET_BYTES, "the session would go past it"
    assert 0 < spool.stat().st_size <= BUDGET_BYTES + largest
    result = recorder.finish()
    assert not spool.exists()
    note = next(w for w in result.summary.warnings if "disk budget" in w)
    assert "drawn as it was recorded" in note
    assert result.summary.frames == pytest.approx(len(series.time_s), abs=1)
