"""The front end's pages: each page's content from `web/`, inside the shared `web/layout.html`.

The layout holds the head and the site navigation once; a page file holds only its `<main>`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from posecoach.errors import NotFound
from posecoach.server.context import context_of
from posecoach.server.storage import valid_id

router = APIRouter()
PAGE_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
LAYOUT = "layout.html"
_SLOT_RE = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True)
class Page:
    """One page: its content file in `web/`, its title, and its script in `web/js/`."""

    file: str
    title: str
    script: str

    @property
    def body_class(self) -> str:
        return f"page-{self.script.removesuffix('.js')}"


LIVE = Page("index.html", "Live coaching", "live.js")
LIBRARY = Page("library.html", "Library", "library.js")
REVIEW = Page("review.html", "Review", "review.js")
COMPARE = Page("compare.html", "Compare sessions", "compare.js")
PROGRESS = Page("progress.html", "Progress", "progress.js")
VIEWER = Page("viewer.html", "Big screen", "viewer.js")
PEOPLE = Page("people.html", "People", "people.js")
TIMED_TEST = Page("timed-test.html", "Timed test", "timedtest.js")

# The site navigation, in order: (path, link text, the page it marks as current).
NAV: tuple[tuple[str, str, Page], ...] = (
    ("/", "Live coaching", LIVE),
    ("/timed-test", "Timed test", TIMED_TEST),
    ("/library", "Library", LIBRARY),
    ("/compare", "Compare", COMPARE),
    ("/progress", "Progress", PROGRESS),
    ("/people", "People", PEOPLE),
    ("/viewer", "Big screen", VIEWER),
)


def _read(web_dir: Path, name: str) -> str:
    path = web_dir / name
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        raise NotFound(f"the front end page {name} is missing from {web_dir}") from None


def _nav(current: Page) -> str:
    items = []
    for href, text, page in NAV:
        mark = ' aria-current="page"' if page == current else ""
        items.append(f'      <li><a href="{href}"{mark}>{html.escape(text)}</a></li>')
    return "\n".join(items)


def render_page(web_dir: Path, page: Page) -> str:
    """The whole HTML document of `page`."""
    slots = {
        "title": html.escape(page.title),
        "script": page.script,
        "body_class": page.body_class,
        "nav": _nav(page),
        "main": _read(web_dir, page.file),
    }
    return _SLOT_RE.sub(lambda m: slots[m.group(1)], _read(web_dir, LAYOUT))


def _page(request: Request, page: Page) -> HTMLResponse:
    ctx = context_of(request)
    return HTMLResponse(render_page(ctx.web_dir, page), headers=PAGE_HEADERS)


@router.get("/", include_in_schema=False)
def live_page(request: Request) -> HTMLResponse:
    """Live coaching."""
    return _page(request, LIVE)


@router.get("/library", include_in_schema=False)
def library_page(request: Request) -> HTMLResponse:
    """Sessions and uploads."""
    return _page(request, LIBRARY)


@router.get("/review/{session_id}", include_in_schema=False)
def review_page(session_id: str, request: Request) -> HTMLResponse:
    """One session's review."""
    if not valid_id(session_id):
        raise NotFound("no such session")
    return _page(request, REVIEW)


@router.get("/compare", include_in_schema=False)
def compare_page(request: Request) -> HTMLResponse:
    """Two sessions side by side (`?a=ID&b=ID`)."""
    return _page(request, COMPARE)


@router.get("/progress", include_in_schema=False)
def progress_page(request: Request) -> HTMLResponse:
    """Charts across sessions and the progression suggestion."""
    return _page(request, PROGRESS)


@router.get("/viewer", include_in_schema=False)
def viewer_page(request: Request) -> HTMLResponse:
    """A phone's live session on another screen (the laptop or TV)."""
    return _page(request, VIEWER)


@router.get("/people", include_in_schema=False)
def people_page(request: Request) -> HTMLResponse:
    """The people followed: add, edit and delete them."""
    return _page(request, PEOPLE)


@router.get("/timed-test", include_in_schema=False)
def timed_test_page(request: Request) -> HTMLResponse:
    """The 3-metre backward walk test, timed live from the camera."""
    return _page(request, TIMED_TEST)
