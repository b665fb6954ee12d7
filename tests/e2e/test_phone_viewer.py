"""The phone as the camera and a big screen to watch, in Chromium over HTTPS.

`posecoach serve --lan --host 127.0.0.1` serves HTTPS with its own self-signed certificate;
this test's Chromium ignores certificate errors (nowhere else does). One tab is the phone: its
fake webcam plays the backward-walking clip, streamed over wss. The other tab is the viewer
page, which must show the same session's results on its frames.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from tests.conftest import ROOT, needs_shared_data
from tests.e2e.conftest import CHROMIUM_ARGS
from tests.e2e.test_web_ui import UNLABELLED_JS
from tools.net import free_port

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600), needs_shared_data]
TOKEN = "phone-and-screen"


@pytest.fixture(scope="module")
def lan_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The real server, as a user starts it for a phone, on loopback only."""
    data_dir = tmp_path_factory.mktemp("lan-e2e")
    port = free_port()
    log_path = data_dir / "server.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "posecoach", "serve", "--lan", "--host", "127.0.0.1",
         "--port", str(port), "--data-dir", str(data_dir), "--token", TOKEN],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"},
    )
    base = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/api/config?token={TOKEN}", verify=False, timeout=2).is_success:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            pytest.fail("posecoach serve --lan did not start:\n"
                        + log_path.read_text(errors="replace")[-3000:])
        time.sleep(0.2)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


@pytest.fixture(scope="module")
def https_context(tmp_path_factory: pytest.TempPathFactory, fake_webcam: Path) -> Any:
    """Chromium with the fake webcam that accepts the server's self-signed certificate."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed: run `make browsers`")
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tmp_path_factory.mktemp("chromium-https")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium,
            headless=True,
            args=[*CHROMIUM_ARGS, "--ignore-certificate-errors",
                  f"--use-file-for-fake-video-capture={fake_webcam}"],
            ignore_https_errors=True,
            viewport={"width": 1280, "height": 800},
        )
        context.set_default_timeout(60_000)
        yield context
        context.close()


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
