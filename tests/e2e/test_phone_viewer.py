"""The phone as the camera and a big screen to watch, in Chromium over HTTPS.

`posecoach serve --lan --host 127.0.0.1` serves HTTPS with its own self-signed certificate;
this test's Chromium ignores certificate errors (nowhere else does). One tab is the phone: its
fake webcam plays the backward-walking clip, streamed over wss. The other tab is the viewer
page, which must show the same session's results on its frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.conftest import needs_shared_data, running_server
from tests.e2e.conftest import chromium_context
from tests.e2e.test_web_ui import UNLABELLED_JS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600), needs_shared_data]
TOKEN = "phone-and-screen"


@pytest.fixture(scope="module")
def lan_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The real server, as a user starts it for a phone, on loopback only."""
    with running_server(tmp_path_factory.mktemp("lan-e2e"), lan_token=TOKEN) as running:
        yield running.base


@pytest.fixture(scope="module")
def https_context(tmp_path_factory: pytest.TempPathFactory, fake_webcam: Path,
                  playwright_driver: Any) -> Any:
    """Chromium with the fake webcam that accepts the server's self-signed certificate."""
    with chromium_context(
        playwright_driver, tmp_path_factory.mktemp("chromium-https"), fake_webcam,
        "--ignore-certificate-errors",
        timeout_ms=60_000, ignore_https_errors=True, viewport={"width": 1280, "height": 800},
    ) as context:
        yield context


def test_the_phone_streams_over_wss_and_the_viewer_shows_its_session(
    lan_server: str, https_context: Any, screenshots: Path
) -> None:
    errors: list[str] = []
    viewer = https_context.new_page()
    viewer.on("pageerror", lambda exc: errors.append(f"viewer: {exc}"))
    viewer.goto(f"{lan_server}/viewer?token={TOKEN}")
    viewer.wait_for_function("window.__posecoachViewer && window.__posecoachViewer.connected")
    assert viewer.evaluate("window.__posecoachViewer.sessions.length") == 0
    assert "Waiting for a phone" in viewer.inner_text("#cue")
    assert viewer.evaluate(UNLABELLED_JS) == [] and viewer.locator("h1").count() == 1

    phone = https_context.new_page()
    phone.on("pageerror", lambda exc: errors.append(f"phone: {exc}"))
    sockets: list[str] = []
    phone.on("websocket", lambda ws: sockets.append(ws.url))
    phone.goto(f"{lan_server}/?token={TOKEN}")
    assert phone.evaluate("window.isSecureContext") is True
    # The desktop page's QR section, served by posecoach itself.
    phone.wait_for_selector("#phone-lan:not([hidden])")
    qr = phone.evaluate(
        "fetch('/api/lan/qr.svg').then(r => r.ok && r.headers.get('content-type'))"
    )
    assert qr == "image/svg+xml"
    phone.screenshot(path=str(screenshots / "live-phone-qr.png"), full_page=True)
    shot = np.frombuffer(phone.locator("#phone-qr").screenshot(), dtype=np.uint8)
    scanned = cv2.QRCodeDetector().detectAndDecode(cv2.imdecode(shot, cv2.IMREAD_COLOR))[0]
    assert scanned == f"{lan_server}/?token={TOKEN}"
    assert phone.evaluate(UNLABELLED_JS) == []
    phone.click("#start")
    phone.wait_for_function("window.__posecoach.results >= 10")
    session_id = phone.evaluate("window.__posecoach.sessionId")
    assert any(url.startswith("wss://127.0.0.1:") and url.endswith("/ws/live")
               for url in sockets), sockets

    viewer.wait_for_function("window.__posecoachViewer.watching !== null")
    assert viewer.evaluate("window.__posecoachViewer.watching") == session_id
    viewer.wait_for_function(
        "window.__posecoachViewer.results >= 10 && window.__posecoachViewer.framesShown >= 5"
    )
    seen = viewer.evaluate("window.__posecoachViewer.lastResult")
    assert seen["type"] == "result" and seen["width"] == 640
    viewer.wait_for_function("window.__posecoachViewer.lastResult.person === true")
    assert viewer.inner_text("#cue") not in ("", "Waiting for a phone")
    assert viewer.get_attribute("#ind-inview", "data-state") in ("yes", "no", "unknown")
    viewer.screenshot(path=str(screenshots / "viewer-watching.png"))

    # Cues spoken on the big screen only: the phone is told and stops speaking them.
    viewer.select_option("#speak-where", "viewer")
    phone.wait_for_function("window.__posecoach.speak === 'viewer'")

    phone.click("#stop")
    phone.wait_for_function("window.__posecoach.finished === true")
    viewer.wait_for_function("window.__posecoachViewer.watching === null")
    assert "Session saved" in viewer.inner_text("#cue")
    assert errors == []
    viewer.close()
    phone.close()
