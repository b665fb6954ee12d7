"""End-to-end tests of the web UI in headless Chromium against the real posecoach server.

The fake webcam plays a real side-view walk reversed in time (a stand-in for backward walking).
Screenshots of every page go to test-output/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

PAGES = ["/", "/library", "/compare", "/progress"]

# Count pixels on the skeleton overlay canvas that are not fully transparent.
OVERLAY_PIXELS_JS = """() => {
  const c = document.getElementById('overlay');
  if (!c || !c.width || !c.height) return 0;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
  return n;
}"""

# Every form control with no accessible name (label, aria-label(ledby), title or own text).
UNLABELLED_JS = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('input, select, textarea, button')) {
    if (el.type === 'hidden') continue;
    let name = (el.getAttribute('aria-label') || '').trim();
    const by = el.getAttribute('aria-labelledby');
    if (!name && by) name = by.split(/\\s+/)
      .map(id => document.getElementById(id)?.textContent || '').join(' ').trim();
    if (!name && el.labels) name = [...el.labels].map(l => l.textContent).join(' ').trim();
    if (!name && el.tagName === 'BUTTON') name = el.textContent.trim();
    if (!name) name = (el.getAttribute('title') || '').trim();
    if (!name) bad.push(el.outerHTML.slice(0, 120));
  }
  return bad;
}"""


def _debug(page, key: str):
    return page.evaluate(f"() => window.__posecoach && window.__posecoach[{key!r}]")


def _wait_video_playable(page, selector: str, timeout_ms: int = 60_000) -> dict:
    page.wait_for_function(
        """(sel) => { const v = document.querySelector(sel);
                      return v && v.readyState >= 2 && (v.duration > 0); }""",
        arg=selector,
        timeout=timeout_ms,
    )
    return page.evaluate(
        "(sel) => { const v = document.querySelector(sel); return {ready: v.readyState, "
        "duration: v.duration, width: v.videoWidth, height: v.videoHeight, "
        "error: v.error && v.error.code}; }",
        selector,
    )


@pytest.fixture(scope="module")
def live_run(browser_context, server, screenshots: Path) -> dict:
    """Run one live session from the fake webcam; returns what the page saw."""
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server + "/")
    page.wait_for_function("() => document.querySelector('#level').options.length >= 3")
    page.select_option("#level", "beginner")
    page.fill("#height", "175")
    page.click("#start")
    page.wait_for_function("() => window.__posecoach.sessionId !== null", timeout=60_000)
    # The skeleton overlay is drawn from the server's landmarks ...
    page.wait_for_function("() => window.__posecoach.overlaysDrawn >= 3", timeout=120_000)
    # ... and at least one cue arrives and is shown.
    page.wait_for_function(
        "() => window.__posecoach.cuesSeen.length >= 1"
        " && window.__posecoach.cueTextsShown.length >= 1",
        timeout=180_000,
    )
    page.wait_for_function(f"() => ({OVERLAY_PIXELS_JS})() > 200", timeout=30_000)
    overlay_pixels = page.evaluate(OVERLAY_PIXELS_JS)
    info = {
        "overlay_pixels": overlay_pixels,
        "cues": page.evaluate("() => window.__posecoach.cuesSeen.map(c => c.message)"),
        "shown": _debug(page, "cueTextsShown"),
        "spoken": _debug(page, "spoken"),
        "frames_sent": _debug(page, "framesSent"),
        "results": _debug(page, "results"),
        "setup": _debug(page, "setup"),
        "setup_tiles": {
            k: page.locator(f"#setup-{k} .ind-value").text_content()
            for k in ("whole_body", "side_on", "distance", "light")
        },
        "cue_log": page.locator("#cue-log li").all_text_contents(),
        "indicators": {
            k: page.locator(f"#ind-{k} .ind-value").text_content()
            for k in ("inview", "view", "backward", "cadence")
        },
    }
    page.screenshot(path=str(screenshots / "live.png"))
    page.click("#stop")
    page.wait_for_function("() => window.__posecoach.finished === true", timeout=120_000)
    page.wait_for_selector("#after:not([hidden])")
    info["session_id"] = _debug(page, "sessionId")
    info["review_href"] = page.get_attribute("#review-link", "href")
    # One-tap pain check-in.
    page.click("#checkin button[data-pain='none']")
    page.wait_for_function(
        "() => /Saved/.test(document.querySelector('.checkin-result').textContent)"
    )
    info["errors"] = errors
    page.close()
    return info


@pytest.fixture(scope="module")
def uploaded_session(browser_context, server, side_clip: Path) -> str:
    """Upload a clip on the library page and wait for its analysis; returns the session id."""
    page = browser_context.new_page()
    page.goto(server + "/library")
    page.set_input_files("#files", str(side_clip))
    page.click("#upload-btn")
    link = page.locator(".job a.review-link")
    link.wait_for(timeout=300_000)
    href = link.get_attribute("href")
    link.click()
    page.wait_for_url(re.compile(r"/review/[^/]+$"))
    _wait_video_playable(page, "#player")
    page.close()
    return href.rsplit("/", 1)[-1]


def test_live_session_draws_skeleton_and_shows_cues(live_run: dict) -> None:
    assert live_run["overlay_pixels"] > 200, live_run
    assert live_run["results"] >= 3 and live_run["frames_sent"] >= live_run["results"]
    assert live_run["cues"], "no cue arrived"
    assert any(text.strip() for text in live_run["shown"]), "no cue text was shown"
    assert live_run["cue_log"], "the cue log is empty"
    # new cues are spoken (speechSynthesis), besides the spoken start prompt
    assert set(live_run["cues"]) <= set(live_run["spoken"])
    assert live_run["indicators"]["inview"] in ("Yes", "No", "No one seen")
    assert not live_run["errors"], live_run["errors"]


def test_live_session_checks_the_setup_first(live_run: dict) -> None:
    setup = live_run["setup"]
    assert setup is not None and setup["done"] is True, setup
    checks = {c["name"]: c for c in setup["checks"]}
    assert set(checks) == {"whole_body", "side_on", "distance", "light"}
    assert checks["side_on"]["passed"] is True
    assert live_run["setup_tiles"]["side_on"] == "OK"


def test_live_session_keeps_the_walker_in_view(browser_context, server) -> None:
    """The fake webcam loops the walk: he reappears at the other edge each time round, and the
    model sees him in every frame, so nearly every result from his first one on has him."""
    page = browser_context.new_page()
    page.goto(server + "/")
    page.wait_for_function("() => document.querySelector('#level').options.length >= 3")
    page.click("#start")
    page.wait_for_function("() => window.__posecoach.personSeen.length >= 150", timeout=300_000)
    seen = _debug(page, "personSeen")
    page.click("#stop")
    page.wait_for_function("() => window.__posecoach.finished === true", timeout=120_000)
    page.close()
    assert True in seen, "the walker was never seen"
    seen = seen[seen.index(True):]
    share = sum(seen) / len(seen)
    assert share >= 0.95, f"the walker in {share:.0%} of {len(seen)} results"


def test_recording_listed_and_plays_on_review(
    live_run: dict, page, server, screenshots: Path
) -> None:
    sid = live_run["session_id"]
    assert sid and live_run["review_href"] == f"/review/{sid}"
    page.goto(server + "/library")
    row = page.locator(f"tr[data-session='{sid}']")
    row.wait_for()
    assert "live" in row.text_content()
    page.wait_for_timeout(300)
    page.screenshot(path=str(screenshots / "library.png"), full_page=True)
    row.locator("a", has_text="Review").click()
    page.wait_for_url(f"**/review/{sid}")
    video = _wait_video_playable(page, "#player")
    assert video["width"] > 0 and video["duration"] > 0, video
    # the check-in made on the live page is shown here
    assert "no pain" in page.locator(".checkin-result").text_content().lower()
    assert not page.js_errors, page.js_errors


def test_upload_reaches_review(uploaded_session: str, page, server, screenshots: Path) -> None:
    page.goto(f"{server}/review/{uploaded_session}")
    video = _wait_video_playable(page, "#player")
    assert video["duration"] > 0
    page.wait_for_function("() => document.querySelectorAll('#words li').length > 0")
    page.wait_for_function("() => !document.querySelector('#plots .empty')", timeout=30_000)
    downloads = page.locator("#downloads a").evaluate_all(
        "els => els.map(a => a.getAttribute('href'))"
    )
    assert any(h.endswith("/summary.json") for h in downloads), downloads
    # clicking a cue in the timeline seeks the clip (when the analysis produced cues)
    items = page.locator(".cue-item")
    if items.count():
        target = float(items.last.get_attribute("data-start"))
        items.last.click()
        page.wait_for_function(
            "(t) => Math.abs(document.querySelector('#player').currentTime - t) < 0.6", arg=target
        )
    page.evaluate("() => document.querySelector('#player').pause()")
    page.screenshot(path=str(screenshots / "review.png"), full_page=True)
    assert not page.js_errors, page.js_errors


def test_compare_and_progress(
    live_run: dict, uploaded_session: str, page, server, screenshots: Path
) -> None:
    page.goto(f"{server}/compare?a={live_run['session_id']}&b={uploaded_session}")
    page.wait_for_function("() => document.querySelectorAll('#compare-table tbody tr').length > 5")
    _wait_video_playable(page, "#video-a")
    _wait_video_playable(page, "#video-b")
    page.screenshot(path=str(screenshots / "compare.png"), full_page=True)
    page.goto(f"{server}/progress")
    page.wait_for_function("() => document.querySelectorAll('#charts svg').length === 6")
    page.wait_for_function(
        "() => !/Loading/.test(document.querySelector('#suggestion').textContent)"
    )
    assert page.locator("#charts circle").count() >= 2
    assert page.locator("#suggestion").text_content().strip()
    page.screenshot(path=str(screenshots / "progress.png"), full_page=True)
    assert not page.js_errors, page.js_errors


def test_keyboard_tab_to_start_and_enter(live_run: dict, page, server) -> None:
    page.goto(server + "/")
    page.wait_for_function("() => document.querySelector('#level').options.length >= 3")
    for _ in range(25):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement && document.activeElement.id") == "start":
            break
    else:
        pytest.fail("Tab never reached the Start button")
    focus_ring = page.evaluate("() => getComputedStyle(document.activeElement).boxShadow")
    assert focus_ring and focus_ring != "none", "no visible focus on the Start button"
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__posecoach.sessionId !== null", timeout=60_000)
    # focus moved to Stop, so Enter stops the session
    assert page.evaluate("() => document.activeElement.id") == "stop"
    page.wait_for_function("() => window.__posecoach.results >= 1", timeout=60_000)
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__posecoach.finished === true", timeout=120_000)
    page.wait_for_selector("#after:not([hidden])")
    assert not page.js_errors, page.js_errors


@pytest.mark.parametrize("path", [*PAGES, "review"])
def test_every_control_has_a_label(path: str, live_run: dict, page, server) -> None:
    url = f"{server}/review/{live_run['session_id']}" if path == "review" else server + path
    page.goto(url)
    page.wait_for_load_state("networkidle")
    assert page.evaluate(UNLABELLED_JS) == []
    # landmarks and a heading on every page, and live regions for cues and errors
    assert page.locator("main").count() == 1 and page.locator("nav").count() >= 1
    assert page.locator("h1").count() == 1
    assert page.locator("#errors[role='alert']").count() == 1
    if path == "/":
        assert page.get_attribute("#cue", "aria-live") == "polite"
        assert page.get_attribute("#mute", "aria-pressed") in ("true", "false")
    assert not page.js_errors, page.js_errors
