"""Every page fits a 390x844 phone and a 1280x800 laptop, in headless Chromium against the real
server.

Two people are seeded before the server starts, with sessions whose summaries come from real
motion capture (../shared/data/mocap, projected to a side camera and analysed offline) under
the long clip names phones give: Ada's carry timed 3-metre backward walk tests. Each page (the
live page, the timed test, the library, a session's review, a compare of two sessions, progress,
people, the big screen, and a batch's index.html) is checked for:

- no box wider than its room: no element's content is wider than the element (scrollWidth over
  clientWidth), and no element reaches outside the window sideways;
- no word split across lines: each run of letters and digits sits on one line, unless that
  run alone is wider than its block (then only breaking it makes it fit);
- on the live page, once Start is pressed with the fake camera, the camera picture and the cue
  in the window without scrolling, during the start-up check and while coaching.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from posecoach.outputs.batch_table import write_batch_table
from tests.conftest import needs_shared_data, running_server
from tests.e2e.layout_checks import OVERFLOW_JS, SMALL_TEXT_JS, SPLIT_JS
from tests.e2e.test_people_pages import Seeded, _summary
from tests.test_batch_table import table_rows

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900), needs_shared_data]

VIEWPORTS = [(390, 844), (1280, 800)]

# (mocap trial, a timed test?, the clip's name as a phone gives it)
ADA_CLIPS = (
    ("dataset-1_walk-back_old_001.bvh", True, "PXL_20261130_091512345.LONG_EXPOSURE-01.COVER.mp4"),
    ("dataset-1_walk-back_active_001.bvh", True, "VID_20261201_101500_backward_walk_hallway.mp4"),
    ("dataset-1_walk-back_normal_001.bvh", False,
     "WhatsApp_Video_2026-12-02_at_13.45.12_backwards_overground.mp4"),
)
BEN_CLIPS = (
    ("dataset-1_walk_normal_001.bvh", False, "IMG_4821_backward_walking_in_the_kitchen.MOV"),
)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    from posecoach.server.storage import Storage

    data_dir = tmp_path_factory.mktemp("layout-data")
    storage = Storage(data_dir / "posecoach.db", data_dir)
    result = Seeded("", data_dir)
    for name, height_cm, population, clips in (
        ("Ada Overground-Lovelace", 152.0, "stroke", ADA_CLIPS),
        ("Ben", 146.0, None, BEN_CLIPS),
    ):
        person = storage.create_person(
            name, height_cm=height_cm, level="beginner", population=population,
            notes="Walks overground in the hallway; treadmill on Thursdays at the physiotherapist")
        result.people[name] = person.id
        result.sessions[name] = []
        for bvh, timed, clip in clips:
            summary = _summary(bvh, timed, height_cm, population)
            record = storage.create_session("upload", "beginner", height_cm, clip, "analysing",
                                            person_id=person.id)
            storage.update_session(record.id, status="done", summary=summary,
                                   duration_s=summary.duration_s)
            result.sessions[name].append(record.id)
    with running_server(data_dir) as running:
        result.base = running.base
        yield result


@pytest.fixture(scope="module")
def batch_index(tmp_path_factory: pytest.TempPathFactory, settings: Any) -> Path:
    out, rows = table_rows(tmp_path_factory.mktemp("layout-batch"), settings)
    return write_batch_table(out, rows, title="posecoach: clips").index


# Boxes whose content is wider than they are, and boxes that reach outside the window.
# Elements that take no room (display none, visually hidden, closed details) are skipped.
def _check_fits(page: Any, what: str, width: int, screenshots: Path) -> None:
    """Screenshot `page`, then assert nothing on it is wider than its room and no word is split."""
    page.screenshot(path=str(screenshots / f"layout-{what}-{width}.png"), full_page=True)
    fit = page.evaluate(OVERFLOW_JS)
    splits = page.evaluate(SPLIT_JS)
    where = f"{what} at {width} px"
    assert fit["page"] <= fit["window"], f"{where} scrolls sideways: {fit}"
    assert fit["wide"] == [], f"{where} has boxes wider than their room: {fit['wide']}"
    assert fit["outside"] == [], f"{where} reaches outside the window: {fit['outside']}"
    assert splits == [], f"{where} splits words: {splits}"


def _pages(seeded: Seeded) -> dict[str, tuple[str, str]]:
    """Page name -> (address, a script that is true once the page has drawn its content)."""
    ada, ben = seeded.sessions["Ada Overground-Lovelace"], seeded.sessions["Ben"]
    rows = "() => document.querySelectorAll('{}').length > {}".format
    return {
        "live": ("/", "() => document.querySelector('#level').options.length >= 3"),
        "timed-test": ("/timed-test", "() => document.readyState === 'complete'"),
        "library": ("/library", rows("#sessions-body tr[data-session]", 0)),
        "review": (f"/review/{ada[0]}", rows("#words li", 0)),
        "compare": (f"/compare?a={ada[0]}&b={ada[1]}", rows("#compare-table tbody tr", 1)),
        "compare-people": (f"/compare?a={ada[2]}&b={ben[0]}", rows("#compare-table tbody tr", 1)),
        "progress": ("/progress", rows("#timed-table tbody tr[data-session]", 0)),
        "people": ("/people", rows(".people-table tbody tr", 1)),
        "viewer": ("/viewer", "() => document.readyState === 'complete'"),
    }


PAGE_NAMES = ["live", "timed-test", "library", "review", "compare", "compare-people", "progress",
              "people", "viewer"]


def _open(page: Any, seeded: Seeded, what: str, width: int, height: int) -> None:
    """Open page `what` in a window of width x height and wait until it has drawn."""
    address, ready = _pages(seeded)[what]
    page.set_viewport_size({"width": width, "height": height})
    page.goto(seeded.base + address)
    page.wait_for_function(ready, timeout=60_000)
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
@pytest.mark.parametrize("what", PAGE_NAMES)
def test_the_page_fits(seeded: Seeded, page: Any, screenshots: Path, what: str, width: int,
                       height: int) -> None:
    _open(page, seeded, what, width, height)
    if what == "progress":  # the table of all numbers, open
        page.click("#table-heading ~ details summary")
    _check_fits(page, what, width, screenshots)
    assert page.js_errors == []


# charts.js draws every chart 600 units wide with 12-unit labels, so on a phone, where the chart
# is about 340 px wide, its labels are under 7 px; it needs to draw at the size it is shown.
@pytest.mark.parametrize(("what", "width", "height"), [
    ("progress", 390, 844), ("progress", 1280, 800),
    ("review", 390, 844), ("review", 1280, 800)])
def test_chart_text_is_readable(seeded: Seeded, page: Any, what: str, width: int,
                                height: int) -> None:
    """Every chart label is at least 11 px high on screen."""
    _open(page, seeded, what, width, height)
    small = page.evaluate(SMALL_TEXT_JS)
    assert small == [], f"{what} at {width} px has chart text under 11 px on screen: {small[:8]}"


@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_the_batch_index_fits(batch_index: Path, page: Any, screenshots: Path, width: int,
                              height: int) -> None:
    page.set_viewport_size({"width": width, "height": height})
    page.goto(batch_index.as_uri())
    _check_fits(page, "batch-index", width, screenshots)


IN_VIEW_JS = """(sel) => {
  const r = document.querySelector(sel).getBoundingClientRect();
  return {top: r.top, bottom: r.bottom, height: r.height, window: window.innerHeight,
          scrolled: window.scrollY};
}"""


@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_the_camera_and_cue_are_in_view_during_setup_and_coaching(
        browser_context: Any, server: str, screenshots: Path, width: int, height: int) -> None:
    """After Start, through the start-up check and into coaching, the camera picture and the
    cue are both wholly inside the window without any scrolling."""
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(server + "/")
        page.wait_for_function("() => document.querySelector('#level').options.length >= 3")
        page.click("#start")
        page.wait_for_function("() => window.__posecoach.setup !== null", timeout=120_000)
        page.wait_for_selector("#setup-check:not([hidden])")
        stages = {"setup": None, "coaching": None}
        stages["setup"] = _camera_and_cue(page)
        page.screenshot(path=str(screenshots / f"layout-live-setup-{width}.png"))
        page.wait_for_function("() => window.__posecoach.overlaysDrawn >= 10", timeout=120_000)
        page.wait_for_function("() => window.__posecoach.setup && window.__posecoach.setup.done",
                               timeout=120_000)
        stages["coaching"] = _camera_and_cue(page)
        page.screenshot(path=str(screenshots / f"layout-live-coaching-{width}.png"))
        fit = page.evaluate(OVERFLOW_JS)
        page.click("#stop")
        page.wait_for_function("() => window.__posecoach.finished === true", timeout=120_000)
    finally:
        page.close()
    for stage, boxes in stages.items():
        for sel, box in boxes.items():
            assert box["scrolled"] == 0, (stage, sel, box)
            assert box["height"] > MIN_HEIGHT_PX[sel], f"{sel} too small during {stage}: {box}"
            assert box["top"] >= 0 and box["bottom"] <= box["window"] + 1, \
                f"{sel} is not wholly in view during {stage} at {width}x{height}: {box}"
    assert fit["page"] <= fit["window"] and fit["wide"] == [] and fit["outside"] == [], fit
    assert errors == []


MIN_HEIGHT_PX = {"#viewer": 150, "#cue": 30}


def _camera_and_cue(page: Any) -> dict[str, dict]:
    return {sel: page.evaluate(IN_VIEW_JS, sel) for sel in MIN_HEIGHT_PX}


@pytest.fixture(scope="module")
def live_session(browser_context: Any, server: str) -> str:
    """A short live session from the fake camera, stopped and saved: its id."""
    page = browser_context.new_page()
    try:
        page.goto(server + "/")
        page.wait_for_function("() => document.querySelector('#level').options.length >= 3")
        page.click("#start")
        page.wait_for_function("() => window.__posecoach.overlaysDrawn >= 30", timeout=120_000)
        page.click("#stop")
        page.wait_for_function("() => window.__posecoach.finished === true", timeout=120_000)
        return str(page.evaluate("() => window.__posecoach.sessionId"))
    finally:
        page.close()


# On a phone the review page shows each plot 810 px wide in a box that scrolls sideways (to keep
# its labels readable); a plot drawn for the phone's width would fit.
@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_the_review_of_a_live_session_fits(live_session: str, server: str, page: Any,
                                           screenshots: Path, width: int, height: int) -> None:
    """The review page of a recorded session, with its clip, cue list and plots."""
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{server}/review/{live_session}")
    page.wait_for_function("() => document.querySelectorAll('#plots .plot svg').length > 0",
                           timeout=60_000)
    page.wait_for_load_state("networkidle")
    _check_fits(page, "review-live", width, screenshots)
    assert page.js_errors == []


@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_the_review_plots_text_is_readable(live_session: str, server: str, page: Any,
                                           width: int, height: int) -> None:
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{server}/review/{live_session}")
    page.wait_for_function("() => document.querySelectorAll('#plots .plot svg').length > 0",
                           timeout=60_000)
    small = page.evaluate(SMALL_TEXT_JS)
    assert small == [], f"review at {width} px has plot text under 11 px on screen: {small[:8]}"


@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_the_timed_test_camera_and_instruction_are_in_view(
        browser_context: Any, server: str, screenshots: Path, width: int, height: int) -> None:
    """On the timed test page, once the camera is on (setting up and marking the floor), the
    picture and the instruction are wholly in view without scrolling."""
    page = browser_context.new_page()
    try:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(server + "/timed-test")
        page.click("#camera-on")
        page.wait_for_function("() => !document.querySelector('#mark').disabled", timeout=60_000)
        page.screenshot(path=str(screenshots / f"layout-timed-test-camera-{width}.png"))
        boxes = {sel: page.evaluate(IN_VIEW_JS, sel) for sel in ("#viewer", "#say")}
    finally:
        page.close()
    for sel, box in boxes.items():
        assert box["scrolled"] == 0 and box["height"] > MIN_HEIGHT_PX.get(sel, 30), (sel, box)
        assert box["top"] >= 0 and box["bottom"] <= box["window"] + 1, (sel, box)
