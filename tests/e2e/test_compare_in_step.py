"""Compare in step, in headless Chromium against the real server and two real clips.

Two backward walks are uploaded and analysed by the server (the pose model included): the
fixture's reversed side walk and the two-people side walk reversed here. The compare page lines
them up at the first backward step, one frame step moves both clips, the onion skin draws the
second walker over the first clip, and the page fits a 390 px phone. A library with one
session gets a message instead of two copies of it.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bar_clips import write_pyav
from tests.conftest import FIXTURES, VIDEO, needs_shared_data, running_server
from tests.e2e.layout_checks import layout_faults
from tests.e2e.webcam import read_frames

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900), needs_shared_data]

READY = "() => document.body.dataset.compare === 'ready'"


def _upload(base: str, clip: Path, name: str) -> str:
    """Upload one clip over HTTP and wait for its analysis; the session id."""
    boundary = "posecoach-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"{name}\"\r\nContent-Type: video/mp4\r\n\r\n").encode()
    body += clip.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        f"{base}/api/uploads", data=body, method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "Origin": base})
    with urllib.request.urlopen(request, timeout=120) as resp:
        job_id = json.load(resp)["jobs"][0]["id"]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/api/jobs/{job_id}", timeout=30) as resp:
            job = json.load(resp)
        if job["status"] == "done":
            return str(job["session_id"])
        assert job["status"] != "failed", job
        time.sleep(0.5)
    raise AssertionError(f"{name} was not analysed in time")


def _events(base: str, session_id: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/api/sessions/{session_id}/events", timeout=30) as resp:
        return json.load(resp)


@pytest.fixture(scope="module")
def two_walks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """A server holding two analysed backward walks; (base URL, first id, second id)."""
    folder = tmp_path_factory.mktemp("compare-clips")
    frames, rate = read_frames(VIDEO / "side_walk_two_people_vp9.mp4", 640, 360)
    second = folder / "hallway_backwards.mp4"
    write_pyav(second, frames[::-1], rate=round(rate))
    with running_server(tmp_path_factory.mktemp("compare-data")) as running:
        first_id = _upload(running.base, FIXTURES / "backward_walk_side_1080p60.mp4",
                           "garden_backwards.mp4")
        second_id = _upload(running.base, second, second.name)
        yield running.base, first_id, second_id


def _times(page: Any) -> tuple[float, float]:
    return tuple(page.evaluate(  # type: ignore[return-value]
        "() => ['video-a', 'video-b'].map((id) => document.getElementById(id).currentTime)"))


def test_two_walks_line_up_step_together_and_overlay(two_walks: tuple[str, str, str],
                                                     page: Any, screenshots: Path) -> None:
    base, first, second = two_walks
    events = {key: _events(base, sid) for key, sid in (("a", first), ("b", second))}
    starts = {key: e["first_backward_step_s"] for key, e in events.items()}
    assert all(isinstance(t, float) for t in starts.values()), events
    assert abs(starts["a"] - starts["b"]) > 0.5, "the two walks start stepping at other times"

    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{base}/compare?a={first}&b={second}")
    page.wait_for_function(READY, timeout=60_000)
    a0, b0 = _times(page)
    assert a0 == pytest.approx(starts["a"], abs=0.02)
    assert b0 == pytest.approx(starts["b"], abs=0.02)

    frame_s = 1 / events["a"]["fps"]
    page.click("#step-fwd")
    page.wait_for_function(f"() => document.getElementById('video-a').currentTime > {a0 + 1e-3}")
    page.wait_for_function(f"() => document.getElementById('video-b').currentTime > {b0 + 1e-3}")
    a1, b1 = _times(page)
    assert a1 - a0 == pytest.approx(frame_s, abs=0.25 * frame_s)
    assert b1 - b0 == pytest.approx(frame_s, abs=0.25 * frame_s)
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"() => document.getElementById('video-a').currentTime < {a1 - 1e-3}")
    a2, b2 = _times(page)
    assert (a2, b2) == (pytest.approx(a0, abs=0.01), pytest.approx(b0, abs=0.01))

    # Played together at a shared speed: the gap between the clips stays the lined-up one.
    page.select_option("#speed", "0.5")
    assert page.evaluate("() => ['video-a', 'video-b'].map("
                         "(id) => document.getElementById(id).playbackRate)") == [0.5, 0.5]
    page.click("#play")
    page.wait_for_function(f"() => document.getElementById('video-a').currentTime > {a0 + 0.3}")
    page.click("#play")
    page.wait_for_function("() => document.getElementById('video-b').paused")
    a3, b3 = _times(page)
    assert (b3 - a3) == pytest.approx(b0 - a0, abs=0.15)

    # Lined up at a time picked on each clip.
    page.select_option("#align", "picked")
    page.evaluate("() => { document.getElementById('video-a').currentTime = 1.0; }")
    page.wait_for_function(
        "() => Math.abs(document.getElementById('video-a').currentTime - 1) < 0.01")
    page.click("#pick-here-a")
    page.evaluate("() => { document.getElementById('video-b').currentTime = 4.0; }")
    page.wait_for_function(
        "() => Math.abs(document.getElementById('video-b').currentTime - 4) < 0.01")
    page.click("#pick-here-b")
    page.click("#step-fwd")
    page.wait_for_function("() => document.getElementById('video-a').currentTime > 1.005")
    a4, b4 = _times(page)
    assert (a4 - 1.0, b4 - 4.0) == (pytest.approx(frame_s, abs=0.25 * frame_s),
                                    pytest.approx(frame_s, abs=0.25 * frame_s))

    page.select_option("#align", "first_toe_contact_s")
    page.wait_for_function(
        f"() => Math.abs(document.getElementById('video-a').currentTime"
        f" - {events['a']['first_toe_contact_s']}) < 0.02")
    assert _times(page)[1] == pytest.approx(events["b"]["first_toe_contact_s"], abs=0.02)
    page.select_option("#align", "first_backward_step_s")
    page.wait_for_function(READY)

    assert page.get_attribute("#onion-canvas", "data-lines") in (None, "0")
    page.check("#onion")
    page.wait_for_function(
        "() => Number(document.getElementById('onion-canvas').dataset.lines) >= 10")
    drawn = page.evaluate("""() => {
      const c = document.getElementById('onion-canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4)
        if (d[i] > 200 && d[i + 1] < 120 && d[i + 2] > 180) n += 1;
      return n;
    }""")
    assert drawn > 300, drawn
    rows = page.locator("#compare-table tbody tr").count()
    assert rows >= 10
    page.screenshot(path=str(screenshots / "compare-in-step-1280.png"), full_page=True)
    assert not page.js_errors, page.js_errors


def test_compare_fits_a_phone(two_walks: tuple[str, str, str], page: Any,
                              screenshots: Path) -> None:
    base, first, second = two_walks
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/compare?a={first}&b={second}")
    page.wait_for_function(READY, timeout=60_000)
    page.check("#onion")
    page.wait_for_function(
        "() => Number(document.getElementById('onion-canvas').dataset.lines) >= 10")
    page.screenshot(path=str(screenshots / "compare-in-step-390.png"), full_page=True)
    assert layout_faults(page) == []
    assert not page.js_errors, page.js_errors


@pytest.fixture(scope="module")
def one_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    from tests.e2e.test_people_pages import home_library

    with home_library(tmp_path_factory.mktemp("one-session"),
                      [("dataset-1_walk-back_normal_001.bvh", "only_walk.mp4")]) as seeded:
        yield seeded.base, seeded.sessions["home"][0]


@pytest.mark.parametrize("width", [390, 1280])
def test_one_session_says_what_to_do(one_session: tuple[str, str], page: Any, width: int,
                                     screenshots: Path) -> None:
    base, only = one_session
    page.set_viewport_size({"width": width, "height": 844 if width == 390 else 800})
    page.goto(f"{base}/compare?a={only}&b={only}")
    page.wait_for_function("() => document.body.dataset.compare === 'alone'")
    assert page.is_visible("#alone")
    text = page.inner_text("#alone")
    assert "Compare needs two sessions" in text and "upload a second clip" in text
    assert "only_walk.mp4" in text
    assert not page.is_visible("#video-a") and not page.is_visible("#video-b")
    page.screenshot(path=str(screenshots / f"compare-alone-{width}.png"), full_page=True)
    assert not page.js_errors, page.js_errors


def test_the_review_page_downloads_the_clip_under_its_name(
        two_walks: tuple[str, str, str], playwright_driver: Any, fake_webcam: Path,
        tmp_path: Path) -> None:
    """The browser saves the annotated clip as `<clip>-annotated.mp4`, from the server's
    Content-Disposition, whatever name the page's link suggests."""
    from tests.e2e.conftest import chromium_context

    base, first, _ = two_walks
    with chromium_context(playwright_driver, tmp_path / "profile", fake_webcam,
                          timeout_ms=30_000, accept_downloads=True) as context:
        tab = context.new_page()
        tab.goto(f"{base}/review/{first}")
        link = tab.locator(f'#downloads a[href$="/{first}/files/annotated.mp4"]')
        with tab.expect_download() as saving:
            link.click()
        assert saving.value.suggested_filename == "garden_backwards-annotated.mp4"
