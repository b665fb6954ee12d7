"""Library and progress page layout in headless Chromium against the real server.

One person's library holds six sessions recorded on the same day, with summaries from real
motion capture (../shared/data/mocap, projected to a side camera and analysed offline) and the
long file names phones give their clips. The sessions table must fit a 1280 px window without
sideways scrolling and the page must not scroll sideways on a 390 px phone; the progress charts'
date labels must not overlap even though every session shares one day.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import needs_shared_data
from tests.e2e.test_people_pages import Seeded, home_library

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600), needs_shared_data]

CLIPS = (
    ("dataset-1_walk-back_old_001.bvh", "PXL_20261130_091512345.LONG_EXPOSURE-01.COVER.mp4"),
    ("dataset-1_walk-back_sad_001.bvh", "VID_20261130_101500_backward_walk_hallway.mp4"),
    ("dataset-1_walk-back_active_001.bvh", "IMG_4821_backward_walking_in_the_kitchen.MOV"),
    ("dataset-1_walk-back_normal_001.bvh", "dataset-1_walk-back_normal_001.bvh"),
    ("dataset-1_walk-back_old_001.bvh", "WhatsApp_Video_2026-11-30_at_13.45.12_backwards.mp4"),
    ("dataset-1_walk-back_sad_001.bvh", "signal-2026-11-30-154501_backward_walk.mp4"),
)


@pytest.fixture(scope="module")
def same_day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A home user's library: six analysed sessions, all recorded today."""
    with home_library(tmp_path_factory.mktemp("same-day-data"), list(CLIPS)) as seeded:
        yield seeded


SIDEWAYS_JS = """() => {
  const doc = document.scrollingElement;
  const wrap = document.querySelector('#sessions-table').parentElement;
  return {page_scroll: doc.scrollWidth, page_client: doc.clientWidth,
          table_scroll: wrap.scrollWidth, table_client: wrap.clientWidth};
}"""


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_the_library_does_not_scroll_sideways(same_day: Seeded, page: Any, width: int,
                                              height: int, screenshots) -> None:
    """At 1280 px the whole sessions table fits its card; on a 390 px phone the table may
    scroll inside its card but the page itself never scrolls sideways."""
    page.set_viewport_size({"width": width, "height": height})
    page.goto(same_day.base + "/library")
    page.wait_for_function(
        "(n) => document.querySelectorAll('#sessions-body tr[data-session]').length === n",
        arg=len(CLIPS))
    widths = page.evaluate(SIDEWAYS_JS)
    page.screenshot(path=str(screenshots / f"library-{width}.png"), full_page=True)
    print(f"library at {width} px:", widths)
    assert widths["page_scroll"] <= widths["page_client"], widths
    if width >= 1280:
        assert widths["table_scroll"] <= widths["table_client"], widths
    # Every session still offers its compare box and its review link.
    assert page.locator("#sessions-body input[type=checkbox]").count() == len(CLIPS)
    assert page.locator("#sessions-body a", has_text="Review").count() == len(CLIPS)
    assert page.js_errors == []


OVERLAPS_JS = """() => [...document.querySelectorAll('#charts svg')].map((svg) => {
  const axisY = 250 - 34 + 18;
  const labels = [...svg.querySelectorAll('text.tick')]
    .filter((t) => Number(t.getAttribute('y')) === axisY)
    .map((t) => ({text: t.textContent, box: t.getBoundingClientRect()}));
  const overlaps = [];
  for (let i = 0; i < labels.length; i++) {
    for (let j = i + 1; j < labels.length; j++) {
      const a = labels[i].box, b = labels[j].box;
      if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) {
        overlaps.push([labels[i].text, labels[j].text]);
      }
    }
  }
  return {title: svg.getAttribute('aria-label'), labels: labels.length, overlaps,
          dots: svg.querySelectorAll('circle.dot').length};
})"""


@pytest.mark.parametrize("width", [1280, 390])
def test_progress_date_labels_do_not_overlap(same_day: Seeded, page: Any, width: int,
                                             screenshots) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(same_day.base + "/progress")
    page.wait_for_function("() => document.querySelectorAll('#charts svg circle.dot').length > 0")
    charts = page.evaluate(OVERLAPS_JS)
    page.screenshot(path=str(screenshots / f"progress-same-day-{width}.png"), full_page=True)
    print(f"progress at {width} px:", charts)
    drawn = [c for c in charts if c["dots"]]
    assert drawn, charts
    for chart in drawn:
        assert chart["overlaps"] == [], chart
        assert chart["labels"] >= 2, chart
        assert chart["dots"] == len(CLIPS), chart
    assert page.js_errors == []
