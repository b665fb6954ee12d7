"""Fixtures for the browser end-to-end tests: the real posecoach server, Debian's Chromium
(driven by Playwright through `executable_path`) and a fake webcam that plays a real clip."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, TEST_OUTPUT, VIDEO
from tests.e2e.webcam import backward_walk_y4m
from tools.net import free_port

SIDE_CLIP = VIDEO / "side_walk_1080p60.mp4"
SCREENSHOTS = TEST_OUTPUT / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


@pytest.fixture(scope="session")
def side_clip(shared_data: Path) -> Path:
    return SIDE_CLIP


@pytest.fixture(scope="session")
def fake_webcam(tmp_path_factory: pytest.TempPathFactory, side_clip: Path) -> Path:
    """The side-view walk reversed in time (backward walking), 640x360, as a .y4m file."""
    return backward_walk_y4m(side_clip, tmp_path_factory.mktemp("webcam") / "backward_walk.y4m")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory):
    """The real posecoach server (`posecoach.server.run_server`) in a subprocess on a free
    loopback port, with its own temporary data folder. Yields the base URL."""
    data_dir = tmp_path_factory.mktemp("posecoach-data")
    port = free_port()
    log_path = data_dir / "server.log"
    code = (
        "from pathlib import Path\n"
        "from posecoach.server import run_server\n"
        f"run_server(host='127.0.0.1', port={port}, data_dir=Path({str(data_dir)!r}))\n"
    )
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/config", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            tail = log_path.read_text(errors="replace")[-3000:]
            pytest.fail(f"posecoach server did not start:\n{tail}")
        time.sleep(0.2)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory: pytest.TempPathFactory, fake_webcam: Path):
    """Headless Debian Chromium with a fresh user data dir and the fake webcam."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip(
            "Debian's chromium is not installed: run `make browsers` "
            "(python -m tools.browsers)"
        )
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium,
            headless=True,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={fake_webcam}"],
            viewport={"width": 1366, "height": 900},
            accept_downloads=False,
        )
        context.set_default_timeout(30_000)
        yield context
        context.close()


@pytest.fixture
def page(browser_context):
    """A new tab that records JavaScript errors (checked by the tests)."""
    tab = browser_context.new_page()
    tab.js_errors = []
    tab.on("pageerror", lambda exc: tab.js_errors.append(str(exc)))
    yield tab
    tab.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
