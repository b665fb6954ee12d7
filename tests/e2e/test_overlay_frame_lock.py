"""The overlay on its own frame, in Chromium with a fake camera whose frames carry their own
number (a bar code across the top of each picture, tests/e2e/frame_code.py).

The truth comes from the socket, not from the page's drawing: each result the server sends
names the number of the frame it was computed from (`frame_no`), and the number in the JPEG
handed to the socket under that name is read in Python (the page may keep two frames in
flight). The page, and the big screen, report the number read from the pixels of the frame each
result was drawn on, at the moment it was drawn; screenshots check that the frame drawn on is
what the screen shows. They must be the same: 0 frames
apart. The big screen then follows the session through: its review link when it ends, and the
next session without a reload. The timed-test page is held to the same.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.conftest import needs_shared_data
from tests.e2e import frame_code
from tests.e2e.conftest import chromium_context

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900), needs_shared_data]
LOCKED_ON_PHONE = 60
LOCKED_ON_SCREEN = 30
LOCKED_IN_TEST = 30

# Installed in a page: each overlay drawn reports its result's seq and the number read from
# the frame canvas it was drawn on.
HOOK_JS = """
([hook, read, blocks, bits, bar]) => {
  const reader = eval(read);
  window.__drawn = [];
  window[hook].onOverlay = (msg, canvas) => {
    window.__drawn.push({ seq: msg.seq, code: reader(canvas, blocks, bits, bar) });
  };
}
"""

# Installed before the phone's page loads, under the page's code: every JPEG handed to a
# WebSocket is kept, under the number of the `frame_no` message sent just before it, and each
# result's seq is paired with the number it echoes.
SOCKET_TRUTH_JS = """
(() => {
  const sent = [];
  const sentAs = {};
  const resultFrom = {};
  let number = null;
  window.__sentFrames = sent;
  window.__resultFrom = resultFrom;
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (data instanceof Blob) {
      sent.push(data);
      if (number !== null) sentAs[number] = sent.length - 1;
      number = null;
    } else {
      const m = JSON.parse(data);
      if (m.type === "frame_no") number = m.frame_no;
    }
    return send.call(this, data);
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (ev) => {
        if (typeof ev.data !== "string") return;
        const m = JSON.parse(ev.data);
        if (m.type === "result" && m.frame_no in sentAs) resultFrom[m.seq] = sentAs[m.frame_no];
      });
    }
  };
})();
"""
SENT_FRAMES_JS = """
(indices) => Promise.all(indices.map((i) => window.__sentFrames[i].arrayBuffer().then((b) => {
  let s = "";
  for (const byte of new Uint8Array(b)) s += String.fromCharCode(byte);
  return btoa(s);
})))
"""


@pytest.fixture(scope="module")
def numbered_webcam(tmp_path_factory: pytest.TempPathFactory, side_clip: Path) -> Path:
    return frame_code.numbered_walk_y4m(
        side_clip, tmp_path_factory.mktemp("numbered") / "numbered_walk.y4m")


@pytest.fixture(scope="module")
def numbered_context(tmp_path_factory: pytest.TempPathFactory, numbered_webcam: Path,
                     playwright_driver: Any) -> Any:
    with chromium_context(
        playwright_driver, tmp_path_factory.mktemp("chromium-numbered"), numbered_webcam,
        timeout_ms=120_000, viewport={"width": 1280, "height": 800},
    ) as context:
        yield context


def _sent_numbers(page: Any, indices: list[int]) -> dict[int, int | None]:
    """The number read (in Python) from each JPEG the page handed to its socket, by index."""
    encoded = page.evaluate(SENT_FRAMES_JS, indices)
    numbers = {}
    for index, b64 in zip(indices, encoded, strict=True):
        jpeg = np.frombuffer(base64.b64decode(b64), dtype=np.uint8)
        picture = cv2.cvtColor(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        numbers[index] = frame_code.read(picture)
    return numbers


def _hook(page: Any, name: str) -> None:
    page.wait_for_function(f"window.{name} !== undefined")
    page.evaluate(HOOK_JS, [name, frame_code.READ_CANVAS_JS, frame_code.BLOCKS,
                            frame_code.BITS, frame_code.BAR_FRACTION])


def _numbers_on_screen(page: Any, shots: int = 6) -> list[int | None]:
    """The number of the picture on screen in the camera box, from screenshots (the frame is
    shown whole, letterboxed, 16:9 like the camera's)."""
    numbers = []
    for _ in range(shots):
        png = np.frombuffer(page.locator("#viewer").screenshot(), dtype=np.uint8)
        shot = cv2.cvtColor(cv2.imdecode(png, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        height, width = shot.shape[:2]
        scale = min(width / 640, height / 360)
        w, h = round(640 * scale), round(360 * scale)
        x, y = (width - w) // 2, (height - h) // 2
        numbers.append(frame_code.read(cv2.resize(shot[y:y + h, x:x + w], (640, 360))))
        page.wait_for_timeout(150)
    return numbers


def _frames_apart(drawn: list[dict[str, Any]], truth: dict[int, int | None]) -> list[int]:
    """Per overlay drawn: how many frames its picture is from the one its result came from."""
    apart = []
    for item in drawn:
        computed_from = truth.get(item["seq"])
        assert computed_from is not None and item["code"] is not None, (item, computed_from)
        apart.append(item["code"] - computed_from)
    return apart


def test_each_result_is_drawn_on_its_own_frame_and_the_big_screen_follows_through(
    numbered_context: Any, server: str, screenshots: Path
) -> None:
    errors: list[str] = []
    viewer = numbered_context.new_page()
    viewer.on("pageerror", lambda exc: errors.append(f"viewer: {exc}"))
    viewer.goto(f"{server}/viewer")
    viewer.wait_for_function("window.__posecoachViewer.connected")
    _hook(viewer, "__posecoachViewer")

    phone = numbered_context.new_page()
    phone.on("pageerror", lambda exc: errors.append(f"phone: {exc}"))
    phone.add_init_script(SOCKET_TRUTH_JS)
    phone.goto(f"{server}/?inflight=2")
    _hook(phone, "__posecoach")
    phone.click("#start")
    phone.wait_for_function(f"window.__posecoach.framesLocked >= {LOCKED_ON_PHONE}")
    viewer.wait_for_function(f"window.__posecoachViewer.framesLocked >= {LOCKED_ON_SCREEN}")
    first_id = phone.evaluate("window.__posecoach.sessionId")

    # What the screen shows is a frame that was analysed and drawn on, never the newer live
    # video under it.
    screen_numbers = {"live": _numbers_on_screen(phone), "viewer": _numbers_on_screen(viewer)}
    on_phone = phone.evaluate("window.__drawn")
    on_screen = viewer.evaluate("window.__drawn")
    assert len(on_phone) >= LOCKED_ON_PHONE and len(on_screen) >= LOCKED_ON_SCREEN
    # The walker moves: the frames drawn on are many different pictures, not one held still.
    assert len({item["code"] for item in on_phone}) >= LOCKED_ON_PHONE // 2
    result_from = {int(seq): index for seq, index in
                   phone.evaluate("window.__resultFrom").items()}
    sent = _sent_numbers(phone, sorted(set(result_from.values())))
    truth = {seq: sent[index] for seq, index in result_from.items()}
    assert set(_frames_apart(on_phone, truth)) == {0}
    assert set(_frames_apart(on_screen, truth)) == {0}
    for name, drawn in (("live", on_phone), ("viewer", on_screen)):
        read_back = [n for n in screen_numbers[name] if n is not None]
        assert len(read_back) >= 3, (name, screen_numbers[name])
        assert set(read_back) <= {item["code"] for item in drawn}, (name, read_back)

    # What is on the phone's screen is the analysed frame, not the live video under it.
    assert phone.is_visible("#frame-canvas")
    assert "behind" in (phone.get_attribute("#video", "class") or "")
    # The big screen has the phone's tiles, the setting one included.
    assert viewer.is_visible("#ind-setting")
    assert viewer.evaluate("window.__posecoachViewer.setup") is not None
    labels = "[...document.querySelectorAll('#%s .ind-label')].map((n) => n.textContent)"
    assert viewer.evaluate(labels % "setup-check") == phone.evaluate(labels % "setup-check")
    assert viewer.evaluate(labels % "walker-status") == phone.evaluate(labels % "walker-status")
    for name, page in (("live", phone), ("viewer", viewer)):
        page.screenshot(path=str(screenshots / f"overlay-{name}-1280x800.png"))
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(screenshots / f"overlay-{name}-390x844.png"))
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.set_viewport_size({"width": 1280, "height": 800})

    # Stop: the big screen links to the session's review and waits for the next one.
    phone.click("#stop")
    phone.wait_for_function("window.__posecoach.finished === true")
    viewer.wait_for_selector("#after:not([hidden])")
    assert viewer.get_attribute("#review-link", "href") == f"/review/{first_id}"
    assert "No phone is streaming yet" not in viewer.inner_text("#picker")
    viewer.screenshot(path=str(screenshots / "overlay-viewer-ended-1280x800.png"))

    # The next session shows by itself, in the same page.
    viewer.evaluate("window.__viewerPageKept = true")
    phone.click("#start")
    phone.wait_for_function(
        f"window.__posecoach.sessionId && window.__posecoach.sessionId !== '{first_id}'")
    second_id = phone.evaluate("window.__posecoach.sessionId")
    viewer.wait_for_function(f"window.__posecoachViewer.watching === '{second_id}'")
    viewer.wait_for_function("window.__posecoachViewer.framesLocked >= "
                             f"{LOCKED_ON_SCREEN + 5}")
    assert viewer.evaluate("window.__viewerPageKept") is True
    assert viewer.is_hidden("#after")
    phone.click("#stop")
    phone.wait_for_function("window.__posecoach.finished === true")
    assert errors == []
    viewer.close()
    phone.close()


def test_the_timed_test_draws_each_result_on_its_own_frame(
    numbered_context: Any, server: str, screenshots: Path
) -> None:
    errors: list[str] = []
    page = numbered_context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.add_init_script(SOCKET_TRUTH_JS)
    page.goto(f"{server}/timed-test")
    _hook(page, "__timedtest")
    page.click("#camera-on")
    page.fill("#height", "175")
    page.wait_for_function("document.querySelector('#video').videoWidth > 0")
    page.click("#start")
    page.wait_for_function(f"window.__timedtest.framesLocked >= {LOCKED_IN_TEST}")
    drawn = page.evaluate("window.__drawn")
    result_from = {int(seq): index for seq, index in
                   page.evaluate("window.__resultFrom").items()}
    sent = _sent_numbers(page, sorted(set(result_from.values())))
    truth = {seq: sent[index] for seq, index in result_from.items()}
    assert len(drawn) >= LOCKED_IN_TEST
    assert set(_frames_apart(drawn, truth)) == {0}
    assert "behind" in (page.get_attribute("#video", "class") or "")
    page.screenshot(path=str(screenshots / "overlay-timed-test-1280x800.png"))
    page.click("#finish")
    page.wait_for_function("window.__timedtest.finished !== null")
    assert errors == []
    page.close()
