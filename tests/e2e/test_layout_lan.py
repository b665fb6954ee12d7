"""LAN mode in headless Chromium against `posecoach serve --lan --host 127.0.0.1`: the phone's
own live page (a touch screen 390 px wide) shows the big-screen address instead of a QR code
for itself to scan; a laptop's shows the code; a phone without the token gets a page that says
how to get in, and it fits the phone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import running_server
from tests.e2e.conftest import chromium_context
from tests.e2e.test_layout import OVERFLOW_JS, SPLIT_JS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

TOKEN = "lan-layout-T0ken-51ac"


@pytest.fixture(scope="module")
def lan_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("lan-layout"), lan_token=TOKEN) as running:
        yield running.base


def _browser(pw: Any, profile: Path, fake_webcam: Path, **options: Any) -> Any:
    """Chromium that accepts the server's own certificate, with `options` (its window)."""
    return chromium_context(pw, profile, fake_webcam, timeout_ms=30_000,
                            ignore_https_errors=True, accept_downloads=False, **options)


@pytest.fixture(scope="module")
def phone(tmp_path_factory: pytest.TempPathFactory, fake_webcam: Path,
          playwright_driver: Any) -> Iterator[Any]:
    """A phone: a touch screen 390 px wide."""
    with _browser(playwright_driver, tmp_path_factory.mktemp("chromium-phone"), fake_webcam,
                  viewport={"width": 390, "height": 844}, is_mobile=True,
                  has_touch=True) as context:
        yield context


@pytest.fixture(scope="module")
def laptop(tmp_path_factory: pytest.TempPathFactory, fake_webcam: Path,
           playwright_driver: Any) -> Iterator[Any]:
    with _browser(playwright_driver, tmp_path_factory.mktemp("chromium-laptop"), fake_webcam,
                  viewport={"width": 1280, "height": 800}) as context:
        yield context


def _fits(page: Any) -> None:
    fit = page.evaluate(OVERFLOW_JS)
    assert fit["page"] <= fit["window"] and fit["wide"] == [] and fit["outside"] == [], fit
    assert page.evaluate(SPLIT_JS) == []


def test_the_phone_shows_the_big_screen_address(phone: Any, lan_base: str,
                                                screenshots: Path) -> None:
    page = phone.new_page()
    page.goto(f"{lan_base}/?token={TOKEN}")
    page.wait_for_selector("#phone-here:not([hidden])")
    link = page.locator("#big-screen-url")
    assert link.get_attribute("href") == f"{lan_base}/viewer?token={TOKEN}"
    assert link.text_content() == f"{lan_base}/viewer?token={TOKEN}"
    assert page.is_hidden("#phone-qr") and page.is_hidden("#phone-lan")
    assert page.text_content("#phone-heading") == "Watch on a big screen"
    page.locator("#phone-camera").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "layout-lan-phone-390.png"), full_page=True)
    _fits(page)
    page.close()


def test_the_laptop_shows_the_code_for_the_phone(laptop: Any, lan_base: str) -> None:
    page = laptop.new_page()
    page.goto(f"{lan_base}/?token={TOKEN}")
    page.wait_for_selector("#phone-lan:not([hidden])")
    assert page.is_visible("#phone-qr") and page.is_hidden("#phone-here")
    page.close()


def test_a_phone_without_the_token_is_told_how_to_get_in(phone: Any, lan_base: str,
                                                         screenshots: Path) -> None:
    phone.clear_cookies()  # a phone that never opened the address with its token
    page = phone.new_page()
    response = page.goto(f"{lan_base}/library")
    assert response is not None and response.status == 401
    assert page.text_content("h1") == "Open posecoach from its own address"
    assert "QR code" in page.text_content("main")
    page.screenshot(path=str(screenshots / "layout-lan-no-token-390.png"), full_page=True)
    _fits(page)
    page.close()
