"""The phone as the camera and a big screen to watch: the address for phones (`GET /api/lan`
and its QR code), the running sessions (`GET /api/live/sessions`) and the viewer's socket
(`/ws/view`)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response

from posecoach.errors import InputError, NotFound
from posecoach.server.broadcast import LiveHub, Viewer, live_hub
from posecoach.server.messages import (
    ErrorMessage,
    LiveSessionItem,
    PongMessage,
    SpeakChoice,
    UnwatchMessage,
    WatchingMessage,
    WatchMessage,
    dumps,
    parse_viewer,
)
from posecoach.server.schemas import ANY_ERROR, LanInfo, error_responses
from posecoach.server.tls import LanAccess, qr_svg

log = logging.getLogger(__name__)
router = APIRouter(
    responses=ANY_ERROR,
)
MAX_VIEWERS = 8
MAX_VIEWER_MESSAGE_CHARS = 1000


def lan_access(request: Request | WebSocket) -> LanAccess | None:
    """The address phones use, when the server was started with --lan."""
    lan = getattr(request.app.state, "lan", None)
    return lan if isinstance(lan, LanAccess) else None


@router.get("/api/lan")
def lan_info(request: Request) -> LanInfo:
    """How a phone reaches this server; all null unless it was started with --lan."""
    lan = lan_access(request)
    if lan is None:
        return LanInfo(lan=False, phone_url=None, viewer_url=None, self_signed=False)
    return LanInfo(lan=True, phone_url=lan.phone_url, viewer_url=lan.viewer_url,
                   self_signed=lan.self_signed)


@router.get(
    "/api/lan/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "the QR code"},
               **error_responses(404)},
)
def lan_qr(request: Request) -> Response:
    """The phone's address (with the token) as a QR code."""
    lan = lan_access(request)
    if lan is None:
        raise NotFound("start posecoach with --lan to use your phone as the camera")
    return Response(
        qr_svg(lan.phone_url),
        media_type="image/svg+xml",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/api/live/sessions")
def live_sessions(request: Request) -> list[LiveSessionItem]:
    """The sessions streaming from a browser camera now, oldest first."""
    return live_hub(request.app).listing()


async def _pump(ws: WebSocket, viewer: Viewer) -> None:
    while True:
        message = await viewer.queue.get()
        if isinstance(message, bytes):
            await ws.send_bytes(message)
        else:
            await ws.send_text(message)


def _error(viewer: Viewer, message: str) -> None:
    viewer.offer(dumps(ErrorMessage(message=message)))


async def _handle(hub: LiveHub, viewer: Viewer, text: str) -> None:
    try:
        request: Any = json.loads(text) if len(text) <= MAX_VIEWER_MESSAGE_CHARS else None
    except (ValueError, RecursionError):
        request = None
    if not isinstance(request, dict):
        _error(viewer, "text messages must be JSON objects")
        return
    try:
        incoming = parse_viewer(request)
    except InputError as exc:
        _error(viewer, str(exc))
        return
    if isinstance(incoming, WatchMessage):
        stream = hub.watch(viewer, incoming.session_id)
        if stream is None:
            _error(viewer, "that session is not running any more: pick another")
            return
        item = next(i for i in hub.listing() if i.session_id == stream.session_id)
        viewer.offer(dumps(WatchingMessage(session=item)))
    elif isinstance(incoming, UnwatchMessage):
        hub.unwatch(viewer)
    elif isinstance(incoming, SpeakChoice):
        if viewer.watching is None:
            _error(viewer, "pick a session, then say where cues are spoken: phone, viewer or both")
            return
        await hub.set_speak(viewer.watching, incoming.speak)
    else:
        viewer.offer(dumps(PongMessage()))


@router.websocket("/ws/view")
async def view(ws: WebSocket) -> None:
    """A viewer: the list of running sessions, then the frames and results of the one it
    watches (see docs/http-api.md)."""
    await ws.accept()
    hub = live_hub(ws.app)
    if len(hub.viewers) >= MAX_VIEWERS:
        await ws.send_text(dumps(ErrorMessage(
            message=f"{MAX_VIEWERS} viewers are already watching")))
        await ws.close(1013)
        return
    viewer = hub.join()
    sender = asyncio.ensure_future(_pump(ws, viewer))
    receiving: asyncio.Future[Any] | None = None
    try:
        while True:
            receiving = asyncio.ensure_future(ws.receive())
            done, _ = await asyncio.wait(
                {receiving, sender}, return_when=asyncio.FIRST_COMPLETED
            )
            if sender in done:
                break
            message = receiving.result()
            if message["type"] == "websocket.disconnect":
                break
            if message.get("text") is not None:
                await _handle(hub, viewer, message["text"])
            else:
                _error(viewer, "a viewer sends only JSON text messages")
    except WebSocketDisconnect:
        pass
    except Exception:
        log.exception("viewer WebSocket failed")
    finally:
        hub.leave(viewer)
        if receiving is not None:
            receiving.cancel()
        sender.cancel()
        # Unlike gather, wait never raises the pump's own cancellation in place of this
        # handler's, which would end the connection with a stray CancelledError.
        await asyncio.wait({sender})
