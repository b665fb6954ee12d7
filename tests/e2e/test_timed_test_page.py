"""The live "Timed test" page in headless Chromium against the real posecoach server.

The fake webcam plays the real side-view walk (../shared/data/video/side_walk_1080p60.mp4)
reversed in time, a stand-in for walking backwards, after 1.5 s of its first frame held still:
the walker stands on the start line, then walks backwards across the picture. The walker then
stands for a second and walks forwards back to the start line (the clip in its own order), as
between trials of the real test, so Chromium's loop goes on without the walker jumping back:
each loop is one trial. The test marks the floor lines by clicking the frozen camera frame at
points 340 px apart at the walker's feet (the walk covers about 425 px), starts the test for a
chosen person, and waits for a trial with a time; the result must be stored under that person.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import SIDE_CLIP, chromium_context
from tests.e2e.webcam import read_frames, write_y4m

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

FRAME_W, FRAME_H = 640, 360
HOLD_S = 1.5
END_HOLD_S = 1.0
# Frame pixels: the start line through the standing walker's heels (pelvis x about 106), the
# far line 340 px further along the walk; each line from above the feet to the bottom edge.
MARKS_PX = [(108, 300), (108, 356), (448, 300), (448, 356)]


def held_backward_walk_y4m(src: Path, dest: Path) -> Path:
    """`src` reversed in time at about 30 fps, its first frame held still for `HOLD_S`; then
    its first frame held for `END_HOLD_S` and `src` in its own order, back to the start."""
    frames, rate = read_frames(src, FRAME_W, FRAME_H)
    every = 2 if rate > 45 else 1
    forwards = frames[::every]
    walk = forwards[::-1]
    fps = rate / every
    start = [walk[0]] * int(round(HOLD_S * fps))
    end = [forwards[0]] * int(round(END_HOLD_S * fps))
    return write_y4m(dest, start + walk + end + forwards, fps)


def _api(server: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        server + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Origin": server},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture(scope="module")
def walker_context(tmp_path_factory: pytest.TempPathFactory, shared_data: Path,
                   playwright_driver: Any):
    webcam = held_backward_walk_y4m(SIDE_CLIP, tmp_path_factory.mktemp("webcam") / "held.y4m")
    with chromium_context(
        playwright_driver, tmp_path_factory.mktemp("chromium-timed"), webcam,
        timeout_ms=30_000, viewport={"width": 1366, "height": 900}, accept_downloads=False,
    ) as context:
        yield context


def _click_frame_px(page: Any, selector: str, x_px: float, y_px: float) -> None:
    box = page.locator(selector).bounding_box()
    size = page.evaluate(f"() => {{ const c = document.querySelector({selector!r}); "
                         "return [c.width, c.height]; }")
    page.mouse.click(box["x"] + x_px * box["width"] / size[0],
                     box["y"] + y_px * box["height"] / size[1])


def test_a_live_trial_is_timed_and_stored_under_the_person(
    walker_context: Any, server: str, screenshots: Path
) -> None:
    other = _api(server, "/api/people", {"name": "Another walker", "height_cm": 160})
    person = _api(server, "/api/people", {"name": "Timed test walker", "height_cm": 178,
                                          "population": "community"})
    page = walker_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server + "/timed-test")
    page.wait_for_function(
        "(id) => [...document.querySelectorAll('#person option')].some(o => o.value === id)",
        arg=person["id"])
    page.select_option("#person", person["id"])
    assert page.input_value("#height") == "178"

    page.click("#camera-on")
    page.wait_for_function("() => !document.querySelector('#mark').disabled", timeout=60_000)
    page.click("#mark")
    page.wait_for_function("() => document.querySelector('#mark-canvas').width === 640")
    for x, y in MARKS_PX[:3]:
        _click_frame_px(page, "#mark-canvas", x, y)
    page.click("#mark-redo")          # a slip: mark again from the first point
    for x, y in MARKS_PX:
        _click_frame_px(page, "#mark-canvas", x, y)
    marks = page.evaluate("() => window.__timedtest.marks")
    assert [v for point in marks for v in point] == pytest.approx(
        [v for point in MARKS_PX for v in point], abs=1.0)
    assert page.text_content("#marking-state") == "Both lines marked."
    page.screenshot(path=str(screenshots / "timed-test-marks.png"))
    page.click("#mark-done")
    assert page.text_content("#scale-state") == "the marked floor lines"

    # Every text the trials box shows, from Start on.
    page.evaluate("""() => { const box = document.querySelector('#trials-box');
      window.__trialTexts = [];
      new MutationObserver(() => window.__trialTexts.push(box.textContent.trim()))
        .observe(box, {subtree: true, childList: true, characterData: true}); }""")
    page.click("#start")
    page.wait_for_function("() => window.__timedtest.sessionId !== null", timeout=60_000)
    session_id = page.evaluate("() => window.__timedtest.sessionId")
    page.wait_for_function("() => window.__timedtest.spoken.includes('Go')", timeout=30_000)
    assert [w for w in page.evaluate("() => window.__timedtest.spoken") if w in "321"] == [
        "3", "2", "1"]
    page.wait_for_function(
        "() => (window.__timedtest.trials?.trials || []).some(t => t.timed)", timeout=240_000)
    trial = next(t for t in page.evaluate("() => window.__timedtest.trials.trials") if t["timed"])
    assert 1.0 < trial["time_s"] < 4.0, trial
    assert page.locator("#trial-list li[data-timed=true]").count() >= 1
    shown = page.evaluate("() => window.__trialTexts")
    assert not [t for t in shown if "no backward walk" in t], "no verdict before anyone moved"
    assert any("Waiting for the walker" in t or "under way" in t for t in shown), shown
    live_lines = page.locator("#trial-list li").all_text_contents()
    timed_line = next(line for line in live_lines if f"Trial {trial['number']} " in line)
    assert "not timed" not in timed_line and "covered only" not in timed_line, live_lines
    assert "covered only" not in page.text_content("#trial-note"), "no stale verdict under it"
    page.screenshot(path=str(screenshots / "timed-test-trial.png"))
    if page.is_visible("#finish") and page.is_enabled("#finish"):
        page.click("#finish")
    page.wait_for_function("() => window.__timedtest.finished !== null", timeout=120_000)
    page.wait_for_selector("#result:not([hidden])")
    finished = page.evaluate("() => window.__timedtest.finished")
    final = finished["timed_test"]
    assert finished["status"] == "done" and final["timed"], final
    assert final["scale_source"] == "floor_marks"
    assert page.text_content("#result-time").startswith(f"{final['time_s']:.2f} s")
    assert page.locator("#interpretation li").count() == len(final["interpretation"]) > 0
    # The list after Finish is the result's, each trial with its part in the score, and the
    # result says which trials make the score.
    lines = page.locator("#trial-list li").all_text_contents()
    assert len(lines) == len(final["trials"]), (lines, final["trials"])
    for line, t in zip(lines, final["trials"], strict=True):
        assert line.startswith(f"Trial {t['number']} ("), line
        assert any(role in line for role in ("practice", "scores", "counted, not timed",
                                             "extra, not counted")), line
    scoring = [line.split(" (")[0].removeprefix("Trial ") for line in lines if "(scores)" in line]
    assert len(scoring) == final["trials_counted"] >= 1, lines
    how = page.text_content("#result-time .result-how")
    assert all(n in how for n in scoring) and "trial" in how, how
    page.screenshot(path=str(screenshots / "timed-test-result.png"))

    listed = _api(server, f"/api/sessions?person_id={person['id']}")
    assert [s["id"] for s in listed] == [session_id]
    assert session_id not in [s["id"] for s in
                              _api(server, f"/api/sessions?person_id={other['id']}")]
    tests = _api(server, f"/api/people/{person['id']}/timed-tests")
    assert [(t["session_id"], t["time_s"]) for t in tests] == [(session_id, final["time_s"])]
    assert errors == []
    page.close()
