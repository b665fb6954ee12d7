"""The review API on a real clip: every frame's readout, the coach's note and measurements
kept in review.json and shown in the report, and clean refusals for a session that does not
exist or is still running.

The session is the real side-view walk (../shared/data/video/side_walk_1080p60.mp4) analysed
by posecoach with the walker's height given, so distances come in metres.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from posecoach.outputs.files import SessionFiles
from posecoach.outputs.summary import SessionSummary
from posecoach.server import create_app
from tests.conftest import needs_shared_data
from tests.server.conftest import SIDE_CLIP, FakeEngine

pytestmark = needs_shared_data

HEIGHT_CM = 178.0
MISSING = "0" * 32


@dataclass(frozen=True)
class Library:
    client: TestClient
    done: str
    running: dict[str, str]   # status -> session id
    out_dir: Path
    summary: SessionSummary


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    from posecoach.pipeline.offline import analyze_video
    from posecoach.settings import load_settings

    data_dir = tmp_path_factory.mktemp("review-data")
    app = create_app(data_dir, engine=FakeEngine())
    storage = app.state.ctx.storage
    record = storage.create_session("upload", "beginner", HEIGHT_CM, SIDE_CLIP.name, "analysing")
    result = analyze_video(SIDE_CLIP, record.out_dir, load_settings(height_cm=HEIGHT_CM),
                           source_name=SIDE_CLIP.name)
    storage.update_session(record.id, status="done", summary=result.summary,
                           duration_s=result.summary.duration_s)
    running = {
        status: storage.create_session("live" if status == "recording" else "upload",
                                       "beginner", None, "camera", status).id
        for status in ("recording", "analysing")
    }
    with TestClient(app) as client:
        yield Library(client, record.id, running, record.out_dir, result.summary)


def test_frames_read_metrics_csv(library: Library) -> None:
    response = library.client.get(f"/api/sessions/{library.done}/frames")
    assert response.status_code == 200, response.text
    body = response.json()
    metrics_rows = SessionFiles(library.out_dir).metrics.read_text().strip().splitlines()[1:]
    assert len(body["time_s"]) == len(metrics_rows) == library.summary.frames
    for column in ("trunk_lean_deg", "head_angle_deg", "foot_down", "cue", "view"):
        assert len(body[column]) == len(body["time_s"]), column
    # one frame of a 59.7 fps clip
    assert body["frame_interval_s"] == pytest.approx(1 / 59.7, rel=0.02)
    # the per-frame angles are those of metrics.csv, and their median is the summary's
    lean = [v for v in body["trunk_lean_deg"] if v is not None]
    assert lean, "the side view measures the trunk lean"
    median = sorted(lean)[len(lean) // 2]
    assert median == pytest.approx(library.summary.trunk_lean_deg_median, abs=1.5)
    # a walk has frames with one foot down and both feet down
    feet = set(body["foot_down"]) - {None}
    assert {"left", "right"} & feet and len(feet) >= 2, feet
    assert body["length_unit"] == "m"


def test_note_is_kept_and_shown_in_the_report(library: Library) -> None:
    url = f"/api/sessions/{library.done}/review/note"
    note = "Heels land late on the left <b>: ask for a longer reach back."
    response = library.client.put(url, json={"note": f"  {note}\n"})
    assert response.status_code == 200, response.text
    assert response.json()["note"] == note
    assert response.json()["note_saved_at"]
    again = library.client.get(f"/api/sessions/{library.done}/review").json()
    assert again["note"] == note
    stored = json.loads(SessionFiles(library.out_dir).review.read_text())
    assert stored["note"] == note
    report = library.client.get(f"/api/sessions/{library.done}/files/report.html").text
    assert "Coach's review" in report and "ask for a longer reach back" in report
    assert "<b>" not in report.split("posecoach:review")[1]  # escaped
    # a new note replaces the old one in the report; an empty one removes it
    library.client.put(url, json={"note": "Second thought."})
    report = SessionFiles(library.out_dir).report.read_text()
    assert "Second thought." in report and "longer reach back" not in report
    assert report.rstrip().endswith("</html>")
    library.client.put(url, json={"note": ""})
    assert library.client.get(f"/api/sessions/{library.done}/review").json()["note"] == ""


def test_angle_and_distance_measured_listed_and_removed(library: Library) -> None:
    base = f"/api/sessions/{library.done}/review/measurements"
    t = 1.0
    # a right angle in the picture's pixels: 1920 x 1080, so shares differ along x and y
    right = {"kind": "angle", "time_s": t,
             "points": [{"x": 0.5, "y": 0.2}, {"x": 0.5, "y": 0.5}, {"x": 0.5 + 0.3 * 1080 / 1920,
                                                                    "y": 0.5}]}
    angle = library.client.post(base, json=right)
    assert angle.status_code == 201, angle.text
    made = angle.json()
    assert made["unit"] == "deg" and made["value"] == pytest.approx(90.0, abs=0.1)
    frames = library.client.get(f"/api/sessions/{library.done}/frames").json()
    assert made["time_s"] <= t < made["time_s"] + frames["frame_interval_s"] + 1e-6
    # a distance of one leg length in the picture is the walker's leg in metres
    metrics = SessionFiles(library.out_dir).metrics.read_text().splitlines()
    header = metrics[0].split(",")
    rows = [r.split(",") for r in metrics[1:]]
    legs = [float(r[header.index("leg_length_px")]) for r in rows
            if r[header.index("leg_length_px")]
            and abs(float(r[header.index("time_s")]) - t) <= 0.5]
    leg_px = statistics.median(legs)
    span = leg_px / 1080
    distance = library.client.post(base, json={
        "kind": "distance", "time_s": t, "points": [{"x": 0.4, "y": 0.1},
                                                    {"x": 0.4, "y": 0.1 + span}]})
    assert distance.status_code == 201, distance.text
    leg_m = library.summary.body_scale.leg_m
    assert distance.json()["unit"] == "m"
    assert distance.json()["value"] == pytest.approx(leg_m, abs=0.002)
    listed = library.client.get(base).json()
    assert [m["id"] for m in listed] == [made["id"], distance.json()["id"]]
    report = SessionFiles(library.out_dir).report.read_text()
    assert "90.0\u00b0" in report and f"{leg_m:.2f} m" in report
    # removed: gone from the list, the file and the report
    gone = library.client.delete(f"{base}/{made['id']}")
    assert gone.status_code == 204
    assert [m["id"] for m in library.client.get(base).json()] == [distance.json()["id"]]
    assert "90.0\u00b0" not in SessionFiles(library.out_dir).report.read_text()
    again = library.client.delete(f"{base}/{made['id']}")
    assert again.status_code == 404
    assert again.json()["detail"] == "no such measurement in this session"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"kind": "angle", "time_s": 1.0, "points": [{"x": 0.1, "y": 0.1}, {"x": 0.2, "y": 0.2}]},
         "the angle tool takes 3 points"),
        ({"kind": "distance", "time_s": 1.0,
          "points": [{"x": 0.1, "y": 0.1}, {"x": 1.4, "y": 0.2}]}, "on the picture"),
        ({"kind": "distance", "time_s": 99.0,
          "points": [{"x": 0.1, "y": 0.1}, {"x": 0.2, "y": 0.2}]}, "outside the clip"),
        ({"kind": "ruler", "time_s": 1.0,
          "points": [{"x": 0.1, "y": 0.1}, {"x": 0.2, "y": 0.2}]}, "kind"),
    ],
)
def test_bad_measurements_refused(library: Library, body: dict, words: str) -> None:
    response = library.client.post(f"/api/sessions/{library.done}/review/measurements",
                                   json=body)
    assert response.status_code == 422, response.text
    assert words in response.json()["detail"]


def _calls(session_id: str) -> list[tuple[str, str, dict | None]]:
    base = f"/api/sessions/{session_id}"
    return [
        ("GET", f"{base}/frames", None),
        ("GET", f"{base}/review", None),
        ("PUT", f"{base}/review/note", {"note": "A note."}),
        ("GET", f"{base}/review/measurements", None),
        ("POST", f"{base}/review/measurements",
         {"kind": "angle", "time_s": 0.5,
          "points": [{"x": 0.1, "y": 0.1}, {"x": 0.2, "y": 0.2}, {"x": 0.3, "y": 0.1}]}),
        ("DELETE", f"{base}/review/measurements/abc", None),
    ]


@pytest.mark.parametrize("index", range(6))
def test_missing_session_refused(library: Library, index: int) -> None:
    method, url, body = _calls(MISSING)[index]
    response = library.client.request(method, url, json=body)
    assert response.status_code == 404, response.text
    assert response.json() == {"detail": "no such session"}


@pytest.mark.parametrize("status", ["recording", "analysing"])
@pytest.mark.parametrize("index", range(6))
def test_running_session_refused(library: Library, status: str, index: int) -> None:
    session_id = library.running[status]
    method, url, body = _calls(session_id)[index]
    response = library.client.request(method, url, json=body)
    assert response.status_code == 409, response.text
    doing = "recorded" if status == "recording" else "analysed"
    assert response.json()["detail"] == (
        f"the session is still being {doing}: review it once it has finished")
    folder = library.client.app.state.ctx.storage.get_session(session_id).out_dir
    assert not SessionFiles(folder).review.exists()


def test_note_too_long_refused(library: Library) -> None:
    response = library.client.put(f"/api/sessions/{library.done}/review/note",
                                  json={"note": "x" * 4001})
    assert response.status_code == 422
    assert "note" in response.json()["detail"]
    assert "x" * 4001 not in SessionFiles(library.out_dir).review.read_text()


def test_plots_drawn_for_a_phone_are_narrow_readable_and_kept(library: Library) -> None:
    """`?width_px=` draws the session's plots that wide from its landmarks, once."""
    from posecoach.server.engine import DefaultEngine

    ctx = library.client.app.state.ctx
    fake, ctx.engine = ctx.engine, DefaultEngine()
    try:
        url = f"/api/sessions/{library.done}/plots"
        narrow = library.client.get(url, params={"width_px": 347}).json()
        kept = SessionFiles(library.out_dir).plots_at(340)  # widths are kept in 10 px steps
        assert kept.is_file()
        assert library.client.get(url, params={"width_px": 345}).json() == narrow
    finally:
        ctx.engine = fake
    assert set(narrow) == {"posture", "step_length", "cadence", "cues", "direction_view"}
    for key, svg in narrow.items():
        width_pt = float(re.search(r'viewBox="0 0 ([\d.]+) ', svg).group(1))
        # shown 340 px wide, a 9 pt label is at least 11 px high
        assert 340 / width_pt * 9 >= 11, (key, width_pt)
        assert re.search(r'id="[^"]*xtick_2"', svg) or ">no data<" in svg, key
    for width_px in (10, 100_000):
        assert library.client.get(url, params={"width_px": width_px}).status_code == 422
