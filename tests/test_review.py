"""The coach's review (posecoach.outputs.review and its section of the report): the frame
readout's foot on the ground and cue in force, the angle of three points, and the review
written into a report, on the real side-view walk analysed by posecoach."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from posecoach.outputs.files import SessionFiles
from posecoach.outputs.report import REVIEW_START, add_review, with_review
from posecoach.outputs.review import (
    Measurement,
    PicturePoint,
    SessionReview,
    angle_deg,
    cues_in_force,
    feet_down,
    frame_readout,
    read_review,
    with_note,
    write_review,
)
from posecoach.outputs.summary import CueRecord, SessionSummary
from tests.conftest import VIDEO, needs_shared_data

CLIP = VIDEO / "side_walk_1080p60.mp4"


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, SessionSummary]]:
    from posecoach.pipeline.offline import analyze_video
    from posecoach.settings import load_settings

    out = tmp_path_factory.mktemp("review-clip")
    result = analyze_video(CLIP, out, load_settings(height_cm=178.0))
    yield out, result.summary


@needs_shared_data
def test_the_foot_down_follows_the_real_gait_events(analysed: tuple[Path, SessionSummary]) -> None:
    out, summary = analysed
    events = [e for e in summary.gait_events if e.time_s is not None]
    assert len(events) >= 4
    readout = frame_readout(SessionFiles(out), summary)
    times = list(readout.time_s)
    known = [f for f in readout.foot_down if f is not None]
    assert known, "both feet's state is known once each has an event"
    checked = 0
    for event in events:
        after = [k for k, t in enumerate(times) if t >= float(event.time_s) - 1e-4]
        if not after:
            continue
        i = after[0]  # the first frame showing the event
        later = [e for e in events if e.side == event.side and e.time_s > event.time_s]
        if later and float(later[0].time_s) <= times[i] + 1e-4:
            continue  # the next event of that foot falls in the same frame
        down = readout.foot_down[i]
        if down is None:
            continue
        if event.kind in ("toe_contact", "heel_contact"):
            assert down in (event.side, "both"), (event, down)
        else:
            assert down not in (event.side, "both"), (event, down)
        checked += 1
    assert checked >= len(events) // 2


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (0.5, None),   # before any cue
        (1.0, 0),      # only the first
        (1.5, 1),      # both: priority 2 beats priority 5
        (2.5, 0),      # the urgent one has ended
        (4.0, 2),      # open-ended, still active at the end
    ],
)
def test_the_most_urgent_cue_in_force(t: float, expected: int | None) -> None:
    cues = [
        CueRecord("head_up", "Head up", "warning", 1.0, 3.0, "", 5),
        CueRecord("fall", "Stop", "critical", 1.2, 2.0, "", 2),
        CueRecord("in_frame", "Step back into view", "warning", 3.5, None, "", 4),
    ]
    assert cues_in_force([t], cues) == [expected]


def test_feet_down_before_both_feet_are_known() -> None:
    from posecoach.outputs.summary import GaitEventRecord

    events = [GaitEventRecord(0.1, "left", "toe_contact"),
              GaitEventRecord(0.3, "right", "heel_off"),
              GaitEventRecord(0.5, "left", "heel_off"),
              GaitEventRecord(0.7, "right", "toe_contact")]
    assert feet_down([0.0, 0.2, 0.4, 0.6, 0.8], events) == [None, None, "left", "neither",
                                                            "right"]


@pytest.mark.parametrize(
    ("a", "vertex", "c", "degrees"),
    [
        ((0, -1), (0, 0), (1, 0), 90.0),
        ((-1, 0), (0, 0), (1, 0), 180.0),
        ((1, 1), (0, 0), (1, 0), 45.0),
        ((1, 0), (0, 0), (1, -1), 45.0),
        ((-1, -1), (0, 0), (-1, 1), 90.0),
    ],
)
def test_angle_at_the_middle_point(a: tuple, vertex: tuple, c: tuple, degrees: float) -> None:
    assert angle_deg(a, vertex, c) == pytest.approx(degrees)


@needs_shared_data
def test_the_review_is_kept_and_written_into_the_report(
        analysed: tuple[Path, SessionSummary], tmp_path: Path) -> None:
    out, _summary = analysed
    files = SessionFiles(tmp_path)
    assert read_review(files) == SessionReview()
    files.review.write_text("{not json")
    assert read_review(files) == SessionReview()
    measurement = Measurement("m1", "angle", 1.2, 71, (PicturePoint(0.1, 0.2),) * 3, 123.4, "deg",
                              "2026-01-01T00:00:00+00:00")
    review = with_note(SessionReview(measurements=(measurement,)), "  Keep the chin level.  ")
    write_review(files, review)
    assert read_review(files) == review and review.note == "Keep the chin level."
    report = tmp_path / "report.html"
    report.write_text((out / "report.html").read_text())
    add_review(report, review)
    page = report.read_text()
    assert page.count(REVIEW_START) == 1
    assert "Keep the chin level." in page and "123.4\u00b0" in page
    assert page.index("Coach's review") < page.index("Limits of single-camera measurement")
    add_review(report, SessionReview())
    emptied = report.read_text()
    assert "Keep the chin level." not in emptied and emptied.count(REVIEW_START) == 1
    assert emptied.rstrip().endswith("</html>")


def test_a_report_from_before_reviews_gets_its_section() -> None:
    old = "<main><section aria-labelledby=\"h-limits\"><h2>Limits</h2></section><footer>f</footer>"
    review = SessionReview(note="Note <one>")
    page = with_review(old, review)
    assert page.index("Note &lt;one&gt;") < page.index("h-limits")
    assert with_review(page, review) == page
