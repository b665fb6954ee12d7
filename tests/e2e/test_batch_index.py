"""A batch's index.html in Debian's Chromium: readable on a phone (390 px) and a laptop
(1280 px) without sideways scrolling of the page or of any box in it (one card per file),
sortable by a click on a column's name, its
file names shown as text, each linking to that clip's report."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from posecoach.outputs.batch_table import write_batch_table
from tests.conftest import needs_shared_data
from tests.e2e.conftest import CHROMIUM_ARGS
from tests.test_batch_table import HOSTILE, table_rows

pytestmark = needs_shared_data


@pytest.fixture(scope="module")
def index_page(tmp_path_factory, settings) -> Path:
    out, rows = table_rows(tmp_path_factory.mktemp("batch-index"), settings)
    return write_batch_table(out, rows, title="posecoach: clips").index


@pytest.fixture(scope="module")
def browser(playwright_driver: Any) -> Any:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed: run `make browsers`")
    launched = playwright_driver.chromium.launch(executable_path=chromium, headless=True,
                                                 args=CHROMIUM_ARGS)
    yield launched
    launched.close()


def _column(page: Any, name: str) -> list[str]:
    return page.eval_on_selector_all(f"tbody td.{name}", "cells => cells.map(c => c.dataset.value)")


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)])
def test_index_fits_the_screen_without_scrolling_sideways(browser, index_page, screenshots,
                                                               width, height) -> None:
    page = browser.new_page(viewport={"width": width, "height": height})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(index_page.as_uri())

    page_width = page.evaluate("document.documentElement.scrollWidth")
    box = page.evaluate("(b => [b.scrollWidth, b.clientWidth])(document.querySelector('.box'))")
    assert page_width <= width, "no sideways scrolling of the whole page"
    assert box[1] <= width and box[0] <= box[1], "the cards fit their box"
    assert page.locator("td.file", has_text=HOSTILE).count() == 1, "the name shows as text"
    assert dialogs == [], "no script from a file name ran"
    page.screenshot(path=str(screenshots / f"batch_index_{width}.png"))
    page.close()


def test_a_click_on_a_column_sorts_by_it_and_a_file_opens_its_report(browser, index_page) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(index_page.as_uri())
    steps = [int(v) for v in _column(page, "steps") if v]
    assert len(steps) == 2 and steps[0] != steps[1], "two analysed walks of different lengths"

    page.click("th.steps button")
    assert page.get_attribute("th.steps", "aria-sort") == "ascending"
    assert _column(page, "steps") == [str(v) for v in sorted(steps)] + ["", ""]
    page.click("th.steps button")
    assert page.get_attribute("th.steps", "aria-sort") == "descending"
    assert _column(page, "steps") == [str(v) for v in sorted(steps, reverse=True)] + ["", ""]
    page.click("th.status button")
    assert _column(page, "status") == ["done", "done", "failed", "skipped"]

    links = page.eval_on_selector_all("td.file a", "links => links.map(a => a.href)")
    assert len(links) == 2
    page.click("td.file a >> nth=0")
    page.wait_for_load_state()
    assert page.url == links[0] and page.url.endswith("/report.html")
    assert page.locator("h1").count() == 1, "the clip's own report opened"
    page.close()
