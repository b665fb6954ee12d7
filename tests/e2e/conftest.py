"""Fixtures for the browser end-to-end tests: the real posecoach server, Debian's Chromium
(driven by Playwright through `executable_path`) and a fake webcam that plays a real clip."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_OUTPUT, VIDEO, running_server
from tests.e2e.webcam import backward_walk_y4m

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
def playwright_driver() -> Iterator[Any]:
    """One Playwright driver for the whole run: its sync API runs one at a time per thread."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        yield pw


@contextlib.contextmanager
def chromium_context(pw: Any, profile: Path, fake_webcam: Path, *extra_args: str,
                     timeout_ms: int, **options: Any) -> Iterator[Any]:
    """Headless Debian Chromium driven by `pw` (Playwright) with its user data in `profile`
    and `fake_webcam` as its camera; the test is skipped when Chromium is missing."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip(
            "Debian's chromium is not installed: run `make browsers` "
            "(python -m tools.browsers)"
        )
    context = pw.chromium.launch_persistent_context(
        str(profile),
        executable_path=chromium,
        headless=True,
        args=[*CHROMIUM_ARGS, *extra_args, f"--use-file-for-fake-video-capture={fake_webcam}"],
        **options,
    )
    context.set_default_timeout(timeout_ms)
    try:
        yield context
    finally:
        context.close()


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
    with running_server(tmp_path_factory.mktemp("posecoach-data")) as running:
        yield running.base


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory: pytest.TempPathFactory, fake_webcam: Path,
                    playwright_driver: Any):
    """Headless Debian Chromium with a fresh user data dir and the fake webcam."""
    with chromium_context(
        playwright_driver, tmp_path_factory.mktemp("chromium-profile"), fake_webcam,
        timeout_ms=30_000,
        viewport={"width": 1366, "height": 900}, accept_downloads=False,
    ) as context:
        yield context


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
