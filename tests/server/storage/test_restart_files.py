"""Files a restart finds: a clip whose drawing a kill cut short is finished from the frames
waiting beside it, and a fragmented clip cut in half is caught and not offered."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient

from posecoach.media.writer import VideoWriter
from posecoach.outputs.landmarks_csv import write_landmarks_csv
from posecoach.outputs.summary import SessionSummary
from posecoach.pipeline.recorder import WAITING_FRAMES as RECORDER_WAITING_FRAMES
from posecoach.pose.landmarks import PoseSeries
from posecoach.server import create_app
from posecoach.server.storage import WAITING_FRAMES, Storage
from tests.conftest import MOCAP, ROOT, VIDEO, needs_shared_data
from tests.server.conftest import FakeEngine

pytestmark = needs_shared_data

WALK = VIDEO / "back_view_people_139s.mp4"
TRIAL = MOCAP / "dataset-1_walk-back_normal_001.bvh"


def _decoded(path: Path) -> list[float]:
    """The times of the frames of a clip that decode, up to where it breaks."""
    times: list[float] = []
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                times.append(float(frame.pts * frame.time_base))
    except av.error.FFmpegError:
        pass
    return times


def test_the_recorders_waiting_frames_are_the_ones_recovery_finishes() -> None:
    assert WAITING_FRAMES == RECORDER_WAITING_FRAMES


# ------------------------------------------------------------------ kill -9 while drawing waits

DEFERRED_SESSION = """
import os, signal, sys
from pathlib import Path
import av, cv2
from posecoach.coach.live import LiveCoach
from posecoach.pipeline.recorder import SessionRecorder
from posecoach.server.storage import Storage
from posecoach.settings import load_settings
from tests.mocap.projection import load_trial, project_trial

data, clip, trial = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
settings = load_settings()
storage = Storage(data / "posecoach.db", data)
session = storage.create_session("live", "beginner", None, "browser camera", "recording",
                                 settings=settings)
series, _ = project_trial(load_trial(Path(trial)), noise_px=1.0)
coach = LiveCoach(settings)
recorder = SessionRecorder(session.out_dir, settings, series.fps, "browser camera",
                           fragmented=True, defer_drawing=lambda: True)
with av.open(clip) as container:
    frames = container.decode(video=0)
    for i, time_s in enumerate(series.time_s):
        image = next(frames).to_ndarray(format="rgb24")
        image = cv2.resize(image, (640, 360), interpolation=cv2.INTER_AREA)
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        result = coach.process_people([series.points[i]], float(time_s), series.width,
                                      series.height)
        recorder.add(image, float(time_s), result, jpeg=jpeg.tobytes())
print(session.id, len(series.time_s), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_kill_while_drawing_waits_is_finished_from_the_waiting_frames(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ran = subprocess.run(
        [sys.executable, "-c", DEFERRED_SESSION, str(data_dir), str(WALK), str(TRIAL)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert ran.returncode == -9, ran.stderr
    session_id, frames = ran.stdout.split()
    out_dir = data_dir / "sessions" / session_id
    spool = out_dir / WAITING_FRAMES
    assert spool.stat().st_size > 0, "every frame was waiting to be drawn"

    with TestClient(create_app(data_dir)) as client:
        record = client.get(f"/api/sessions/{session_id}").json()
        served = client.get(f"/api/sessions/{session_id}/files/annotated.mp4")
    assert record["status"] == "done", record
    assert "annotated.mp4" not in record["missing"] and "annotated.mp4" in record["files"]
    assert served.status_code == 200
    assert len(_decoded(out_dir / "annotated.mp4")) == int(frames), "every waiting frame"
    assert not spool.exists(), "the waiting frames are removed once in the clip"
    rows = (out_dir / "landmarks.csv").read_text().count("\n") - 1
    assert 0 < rows <= int(frames)


# ------------------------------------------------------------------ a fragmented clip cut in half

CLIP_FPS = 10
CLIP_S = 10


def _finished_live_session(storage: Storage) -> tuple[str, Path]:
    """A finished live session whose clip is fragmented, as live recordings are, with a frame
    of real footage for each landmark row."""
    session = storage.create_session("live", "beginner", None, "browser camera", "recording")
    out_dir = session.out_dir
    count = CLIP_FPS * CLIP_S
    times = np.arange(count) / CLIP_FPS
    writer = None
    with av.open(str(WALK)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index >= count:
                break
            image = np.ascontiguousarray(frame.to_ndarray(format="rgb24")[::4, ::4])
            if writer is None:
                writer = VideoWriter(out_dir / "annotated.mp4", CLIP_FPS, image.shape[1],
                                     image.shape[0], fragmented=True)
            writer.write(image, float(times[index]))
    assert writer is not None
    writer.close()
    series = PoseSeries(points=np.full((count, 33, 4), np.nan), time_s=times, width=640,
                        height=360, frame_index=np.arange(count))
    write_landmarks_csv(out_dir / "landmarks.csv", series)
    (out_dir / "metrics.csv").write_text("frame,time_s\n0,0.0\n")
    summary = {"duration_s": float(CLIP_S), "warnings": []}
    (out_dir / "summary.json").write_text(json.dumps(summary))
    (out_dir / "report.html").write_text("<!doctype html><html></html>")
    storage.update_session(session.id, status="done", summary=SessionSummary.from_json(summary),
                           duration_s=float(CLIP_S))
    return session.id, out_dir


@pytest.mark.parametrize("kept", [0.5, 0.7])
def test_a_fragmented_clip_cut_short_is_caught_at_restart(tmp_path: Path, kept: float) -> None:
    data_dir = tmp_path / "data"
    storage = Storage(data_dir / "posecoach.db", data_dir)
    session_id, out_dir = _finished_live_session(storage)
    intact_id, _ = _finished_live_session(storage)
    clip = out_dir / "annotated.mp4"
    data = clip.read_bytes()
    clip.write_bytes(data[: int(len(data) * kept)])
    left = _decoded(clip)
    assert left and left[-1] < CLIP_S - 3, "the cut clip plays, without its last seconds"

    with TestClient(create_app(data_dir, engine=FakeEngine())) as client:
        record = client.get(f"/api/sessions/{session_id}").json()
        intact = client.get(f"/api/sessions/{intact_id}").json()
        served = client.get(f"/api/sessions/{session_id}/files/annotated.mp4")
    assert record["missing"] == ["annotated.mp4"] and "annotated.mp4" not in record["files"]
    assert served.status_code == 404
    warning = next(w for w in record["summary"]["warnings"] if "annotated.mp4" in w)
    assert "deleted or damaged" in warning
    assert intact["missing"] == [] and "annotated.mp4" in intact["files"]
