"""The review page in headless Chromium on a real clip: frame stepping, plots that seek the
clip, and an angle measured on a paused frame that is kept, reloaded and shown in the report.

The session is the real side-view walk (../shared/data/video/side_walk_1080p60.mp4, 59.7 fps)
analysed by posecoach with the walker's height, seeded into the library before the server
starts. Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import VIDEO, needs_shared_data, running_server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600), needs_shared_data]

CLIP = VIDEO / "side_walk_1080p60.mp4"
HEIGHT_CM = 178.0


@dataclass(frozen=True)
class Reviewed:
    base: str
    session: str
    out_dir: Path


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reviewed]:
    from posecoach.pipeline.offline import analyze_video
    from posecoach.server.storage import Storage
    from posecoach.settings import load_settings

    data_dir = tmp_path_factory.mktemp("review-e2e")
    storage = Storage(data_dir / "posecoach.db", data_dir)
    record = storage.create_session("upload", "beginner", HEIGHT_CM, CLIP.name, "analysing")
    result = analyze_video(CLIP, record.out_dir, load_settings(height_cm=HEIGHT_CM),
                           source_name=CLIP.name)
    storage.update_session(record.id, status="done", summary=result.summary,
                           duration_s=result.summary.duration_s)
    with running_server(data_dir) as running:
        yield Reviewed(running.base, record.id, record.out_dir)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.load(resp)


def _open(page: Any, reviewed: Reviewed) -> None:
    page.goto(f"{reviewed.base}/review/{reviewed.session}")
    page.wait_for_function(
        "() => { const v = document.querySelector('#player');"
        " return v.readyState >= 2 && v.duration > 0; }", timeout=60_000)
    page.wait_for_function("() => window.__posecoach && window.__posecoach.frames.readout")
    page.wait_for_function("() => window.__posecoach.playheads.length >= 3", timeout=30_000)


def _time(page: Any) -> float:
    return page.evaluate("() => document.querySelector('#player').currentTime")


def test_frame_step_keys_move_one_frame(reviewed: Reviewed, page: Any) -> None:
    frames = _get(f"{reviewed.base}/api/sessions/{reviewed.session}/frames")
    interval = frames["frame_interval_s"]
    assert interval == pytest.approx(1 / 59.7, rel=0.02)
    _open(page, reviewed)
    page.evaluate("() => { const v = document.querySelector('#player'); v.pause();"
                  " v.currentTime = 1.0; }")
    page.wait_for_function(
        "() => Math.abs(document.querySelector('#player').currentTime - 1) < 1e-6")
    page.locator("body").press("ArrowRight")  # onto the middle of the next frame
    page.wait_for_function("() => !document.querySelector('#player').seeking")
    start = _time(page)
    page.locator("body").press("ArrowRight")
    page.wait_for_function("(t) => document.querySelector('#player').currentTime > t", arg=start)
    forward = _time(page)
    assert forward - start == pytest.approx(interval, abs=1e-4)
    page.locator("body").press("ArrowLeft")
    page.wait_for_function("(t) => document.querySelector('#player').currentTime < t", arg=forward)
    assert forward - _time(page) == pytest.approx(interval, abs=1e-4)
    # the buttons do the same, and the readout names the frame shown
    page.click("#step-forward")
    page.wait_for_function("(t) => document.querySelector('#player').currentTime > t + 1e-3",
                           arg=start)
    assert _time(page) - start == pytest.approx(interval, abs=1e-4)
    row = int(page.text_content("#ro-frame").split(" of ")[0]) - 1
    assert frames["time_s"][row] <= _time(page) < frames["time_s"][row] + interval
    lean = frames["trunk_lean_deg"][row]
    shown = page.text_content("#ro-trunk")
    assert lean is None or f"{abs(lean):.1f}°" in shown, (lean, shown)
    # slow motion: the speed keys set the playback rate
    page.locator("body").press("1")
    assert page.evaluate("() => document.querySelector('#player').playbackRate") == 0.25
    page.locator("body").press("3")
    assert page.evaluate("() => document.querySelector('#player').playbackRate") == 1
    assert page.locator(".shortcut-list kbd").count() >= 6
    assert not page.js_errors, page.js_errors


def _axis_times(svg: str) -> tuple[float, float, float, float]:
    """(x of the left end, x of the right end, seconds at the left end, seconds per x) of a
    plot's time axis, read from its labelled ticks and its axes' rectangle."""
    ticks = re.findall(r'<use [^>]*x="([\d.]+)"[^>]*/>\s*</g>\s*</g>\s*<g id="[^"]*text_\d+">\s*'
                       r"<text [^>]*>(\d+):(\d+(?:\.\d+)?)</text>", svg)
    assert len(ticks) >= 2, "the plot has labelled time ticks"
    points = sorted((float(x), int(m) * 60 + float(s)) for x, m, s in ticks)
    (xa, ta), (xb, tb) = points[0], points[-1]
    per_x = (tb - ta) / (xb - xa)
    box = re.search(r'<g id="posture-axes_2">\s*<g id="posture-patch_\d+">\s*<path d="M ([\d.]+)'
                    r" [\d.]+ \s*L ([\d.]+)", svg)
    assert box is not None
    left, right = float(box.group(1)), float(box.group(2))
    return left, right, ta + (left - xa) * per_x, per_x


@pytest.mark.parametrize("width", [1280, 390])
def test_click_on_a_plot_seeks_the_clip(reviewed: Reviewed, page: Any, width: int) -> None:
    """On a wide screen (the report's plots) and a phone (plots drawn for its width)."""
    page.set_viewport_size({"width": width, "height": 800})
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/plots" in r.url else None)
    _open(page, reviewed)
    assert ("width_px=" in asked[-1]) == (width < 800), asked
    plots = _get(asked[-1])
    left, right, t_left, per_x = _axis_times(plots["posture"])
    page.evaluate("() => document.querySelector('#player').pause()")
    patch = page.locator("figure[data-plot='posture'] g[id='posture-axes_2']"
                         " > g[id^='posture-patch'] path").first
    box = patch.bounding_box()
    assert box is not None and box["width"] > 100
    share = 0.7
    expected = t_left + share * (right - left) * per_x
    patch.click(position={"x": share * box["width"], "y": box["height"] / 2}, force=True)
    page.wait_for_function(
        "(t) => Math.abs(document.querySelector('#player').currentTime - t) < 0.03", arg=expected)
    # the playhead of every plot with a time axis stands at that time
    at = left + (_time(page) - t_left) / per_x
    page.wait_for_function(
        """(x) => { const l = document.querySelector("figure[data-plot='posture'] line.playhead");
                    return l.getAttribute('visibility') === 'visible'
                      && Math.abs(Number(l.getAttribute('x1')) - x) < 1; }""", arg=at)
    assert not page.js_errors, page.js_errors


def _measure_angle(page: Any) -> dict:
    """Pause on a frame and click three points with the angle tool; the saved measurement."""
    page.evaluate("() => { const v = document.querySelector('#player'); v.pause();"
                  " v.currentTime = 1.2; }")
    page.wait_for_function("() => !document.querySelector('#player').seeking")
    page.locator("body").press("a")
    assert page.get_attribute("#tool-angle", "aria-pressed") == "true"
    canvas = page.locator("#measure-canvas")
    box = canvas.bounding_box()
    assert box is not None
    # a right angle on the 16:9 picture: vertical, then horizontal from the vertex
    video = page.evaluate("() => { const v = document.querySelector('#player');"
                          " return [v.videoWidth, v.videoHeight]; }")
    scale = min(box["width"] / video[0], box["height"] / video[1])
    pic = (video[0] * scale, video[1] * scale)
    ox, oy = (box["width"] - pic[0]) / 2, (box["height"] - pic[1]) / 2
    for fx, fy in ((0.5, 0.2), (0.5, 0.6), (0.7, 0.6)):
        canvas.click(position={"x": ox + fx * pic[0], "y": oy + fy * pic[1]})
    page.wait_for_selector("#measure-list li[data-id]")
    return page.evaluate("() => window.__posecoach.measure.list[0]")


def test_angle_saved_reloaded_drawn_and_in_the_report(reviewed: Reviewed, page: Any,
                                                      screenshots: Path) -> None:
    _open(page, reviewed)
    made = _measure_angle(page)
    assert made["kind"] == "angle" and made["unit"] == "deg"
    assert made["value"] == pytest.approx(90.0, abs=1.0)
    page.fill("#note", "Reach further back with the left heel.")
    page.click("#save-note")
    page.wait_for_function(
        "() => /saved/i.test(document.querySelector('#note-status').textContent)")
    # kept with the session: a reload lists it and draws it on its frame
    page.reload()
    _open(page, reviewed)
    page.wait_for_selector("#measure-list li[data-id]")
    assert page.input_value("#note") == "Reach further back with the left heel."
    item = page.locator("#measure-list li[data-id]")
    assert item.count() == 1 and f"{made['value']:.1f}°" in item.text_content()
    assert "0:01.2" in item.text_content() or "0:01.1" in item.text_content()
    item.locator(".measure-go").click()
    page.wait_for_function(
        "(id) => window.__posecoach.measure.drawn.includes(id)", arg=made["id"])
    painted = page.evaluate("""() => { const c = document.getElementById('measure-canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }""")
    assert painted > 200
    page.screenshot(path=str(screenshots / "review-measure.png"), full_page=True)
    # one frame on, it is not drawn
    page.locator("body").press("ArrowRight")
    page.wait_for_function("(id) => !window.__posecoach.measure.drawn.includes(id)",
                           arg=made["id"])
    # the report shows the note and the angle
    page.goto(f"{reviewed.base}/api/sessions/{reviewed.session}/files/report.html")
    report = page.content()
    assert "Coach's review" in report
    assert "Reach further back with the left heel." in report
    assert f"{made['value']:.1f}°" in report
    # removed: gone from the page and the report
    _open(page, reviewed)
    page.wait_for_selector("#measure-list li[data-id]")
    page.locator(".measure-remove").click()
    page.wait_for_selector("#measure-list li.empty")
    assert f"{made['value']:.1f}°" not in (reviewed.out_dir / "report.html").read_text()
    assert not page.js_errors, page.js_errors


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)])
def test_review_fits_and_keeps_labels_readable(reviewed: Reviewed, browser_context: Any,
                                               screenshots: Path, width: int,
                                               height: int) -> None:
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size({"width": width, "height": height})
    _open(page, reviewed)
    page.evaluate("() => { const v = document.querySelector('#player'); v.pause();"
                  " v.currentTime = 1.2; }")
    page.wait_for_function("() => !document.querySelector('#player').seeking")
    page.wait_for_timeout(300)
    sizes = page.evaluate("""() => ({
        page: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
        labels: Math.min(...[...document.querySelectorAll('#plots svg text')]
          .map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)
          .filter(h => h > 0)),
      })""")
    assert sizes["page"][0] <= sizes["page"][1], sizes
    assert sizes["labels"] >= 11, sizes
    page.screenshot(path=str(screenshots / f"review-{width}.png"), full_page=True)
    page.close()
    assert not errors, errors
