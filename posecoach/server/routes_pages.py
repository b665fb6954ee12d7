"""The front end's pages and static files, served from the repository's `web/` folder."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

from posecoach.server.context import ServerContext
from posecoach.server.storage import valid_id

router = APIRouter()
PAGE_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def _page(request: Request, name: str) -> FileResponse:
    ctx: ServerContext = request.app.state.ctx
    path = ctx.web_dir / name
    if not path.is_file():
        raise HTTPException(404, f"the front end page {name} is missing from {ctx.web_dir}")
    return FileResponse(path, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/", include_in_schema=False)
def live_page(request: Request) -> FileResponse:
    """Live coaching."""
    return _page(request, "index.html")


@router.get("/library", include_in_schema=False)
def library_page(request: Request) -> FileResponse:
    """Sessions and uploads."""
    return _page(request, "library.html")


@router.get("/review/{session_id}", include_in_schema=False)
def review_page(session_id: str, request: Request) -> FileResponse:
    """One session's review."""
    if not valid_id(session_id):
        raise HTTPException(404, "no such session")
    return _page(request, "review.html")


@router.get("/compare", include_in_schema=False)
def compare_page(request: Request) -> FileResponse:
    """Two sessions side by side (`?a=ID&b=ID`)."""
    return _page(request, "compare.html")


@router.get("/progress", include_in_schema=False)
def progress_page(request: Request) -> FileResponse:
    """Charts across sessions and the progression suggestion."""
    return _page(request, "progress.html")
