"""The report and the review page print on A4 and Letter without cut plots (web/print.css).

Headless Chromium lays each page out for print at the paper's printable width (12 mm margins):
every plot must fit that width and a page's height, must not be split across pages, and the
on-screen-only parts of the review (navigation, buttons, downloads) must be left out. Both
pages are then printed to PDF at each size. The session is the real side-view walk, analysed,
with a note and a measurement kept.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from tests.conftest import needs_shared_data
from tests.e2e.test_review_frames import Reviewed, reviewed  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600), needs_shared_data]

MM_PX = 96 / 25.4
MARGIN_MM = 12
PAPERS = {"A4": (210.0, 297.0), "Letter": (215.9, 279.4)}

LAYOUT_JS = """() => {
  const figs = [...document.querySelectorAll('figure')].filter(f => f.querySelector('svg'));
  return {
    width: document.documentElement.clientWidth,
    figures: figs.map(f => { const r = f.querySelector('svg').getBoundingClientRect();
      const s = getComputedStyle(f);
      return {left: r.left, right: r.right, height: r.height,
              avoid: s.breakInside === 'avoid' || s.pageBreakInside === 'avoid'}; }),
    scroll: document.documentElement.scrollWidth,
    hidden: ['.site-header', '.review-controls', '#downloads-card']
      .map(sel => document.querySelector(sel))
      .filter(Boolean).map(e => getComputedStyle(e).display),
  };
}"""


def _post(url: str, body: dict, method: str = "POST") -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.load(resp)


@pytest.mark.parametrize("paper", sorted(PAPERS))
@pytest.mark.parametrize("which", ["report", "review"])
def test_prints_without_cut_plots(reviewed: Reviewed, browser_context: Any,  # noqa: F811
                                  paper: str, which: str) -> None:
    api = f"{reviewed.base}/api/sessions/{reviewed.session}"
    _post(f"{api}/review/note", {"note": "Printed with the report."}, method="PUT")
    width_mm, height_mm = PAPERS[paper]
    inner_w = round((width_mm - 2 * MARGIN_MM) * MM_PX)
    inner_h = round((height_mm - 2 * MARGIN_MM) * MM_PX)
    page = browser_context.new_page()
    page.set_viewport_size({"width": inner_w, "height": inner_h})
    page.emulate_media(media="print")
    url = f"{api}/files/report.html" if which == "report" else \
        f"{reviewed.base}/review/{reviewed.session}"
    page.goto(url)
    if which == "review":
        page.wait_for_function("() => document.querySelectorAll('#plots svg').length >= 3")
    layout = page.evaluate(LAYOUT_JS)
    assert len(layout["figures"]) >= 3, layout
    assert layout["scroll"] <= layout["width"], layout
    for fig in layout["figures"]:
        assert fig["left"] >= -0.5 and fig["right"] <= layout["width"] + 0.5, (paper, fig)
        assert fig["height"] <= inner_h, (paper, fig)
        assert fig["avoid"], fig
    if which == "review":
        assert layout["hidden"] and set(layout["hidden"]) == {"none"}, layout
    else:
        assert "Printed with the report." in page.content()
    pdf = page.pdf(format=paper, margin={side: f"{MARGIN_MM}mm" for side in
                                         ("top", "right", "bottom", "left")})
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    page.close()
