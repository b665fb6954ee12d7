"""Live sessions as other screens see them: a phone streams, a viewer (the laptop or TV) watches.

The hub runs on the server's event loop. Each live session from the browser camera is listed
while it runs; its frames (as the phone sent them) and its results go to every viewer watching
it. A viewer that falls behind loses its oldest messages, never slows the phone's session.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pydantic import BaseModel
from starlette.applications import Starlette

from posecoach.server.messages import (
    FinishedMessage,
    LiveSessionItem,
    SessionsMessage,
    SpeakMessage,
    SpeakWhere,
    dumps,
)

DEFAULT_SPEAK: SpeakWhere = "phone"
VIEWER_QUEUE = 16
FRAME_HEADER = struct.Struct(">d")  # a frame to a viewer: its time_s, then the JPEG bytes

ViewerMessage = str | bytes
NotifyPhone = Callable[[BaseModel], Awaitable[None]]


@dataclass
class LiveStream:
    """One running session from a browser camera, as viewers see it."""

    session_id: str
    level: str
    source_name: str
    started_at: str
    speak: SpeakWhere
    notify_phone: NotifyPhone | None = None
    viewers: set[Viewer] = field(default_factory=set)


@dataclass(eq=False)
class Viewer:
    """One viewer's outgoing messages (newest kept when it falls behind)."""

    queue: asyncio.Queue[ViewerMessage] = field(
        default_factory=lambda: asyncio.Queue(maxsize=VIEWER_QUEUE)
    )
    watching: str | None = None
    dropped: int = 0

    def offer(self, message: ViewerMessage) -> None:
        """Queue a message; when the queue is full the oldest waiting one is dropped."""
        while True:
            try:
                self.queue.put_nowait(message)
                return
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    self.queue.get_nowait()
                    self.dropped += 1


class LiveHub:
    """The running browser-camera sessions and the viewers watching them."""

    def __init__(self) -> None:
        self.streams: dict[str, LiveStream] = {}
        self.viewers: set[Viewer] = set()

    # ------------------------------------------------------------ the phone's side

    def open(
        self, session_id: str, level: str, source_name: str, speak: SpeakWhere,
        notify_phone: NotifyPhone | None = None,
    ) -> None:
        """List a session that has started."""
        started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.streams[session_id] = LiveStream(
            session_id, level, source_name, started, speak, notify_phone
        )
        self._announce()

    def close(self, session_id: str, finished: FinishedMessage | None = None) -> None:
        """Take a session off the list; its viewers get its `finished` message."""
        stream = self.streams.pop(session_id, None)
        if stream is None:
            return
        message = dumps(finished or FinishedMessage(session_id=session_id))
        for viewer in stream.viewers:
            viewer.offer(message)
            viewer.watching = None
        self._announce()

    def publish_frame(self, session_id: str, time_s: float, jpeg: bytes) -> None:
        """A frame the phone sent, for the session's viewers."""
        stream = self.streams.get(session_id)
        if stream is None or not stream.viewers:
            return
        message = FRAME_HEADER.pack(time_s) + jpeg
        for viewer in stream.viewers:
            viewer.offer(message)

    def publish(self, session_id: str, text: str) -> None:
        """A JSON message (a result, an error) of the session, for its viewers."""
        stream = self.streams.get(session_id)
        if stream is None:
            return
        for viewer in stream.viewers:
            viewer.offer(text)

    async def set_speak(self, session_id: str, speak: SpeakWhere) -> bool:
        """Change where a session's cues are spoken; the phone and the viewers are told."""
        stream = self.streams.get(session_id)
        if stream is None:
            return False
        stream.speak = speak
        message = SpeakMessage(session_id=session_id, speak=speak)
        for viewer in stream.viewers:
            viewer.offer(dumps(message))
        if stream.notify_phone is not None:
            with contextlib.suppress(Exception):
                await stream.notify_phone(message)
        self._announce()
        return True

    # ------------------------------------------------------------ the viewer's side

    def listing(self) -> list[LiveSessionItem]:
        """The running sessions, oldest first."""
        return [
            LiveSessionItem(session_id=s.session_id, level=s.level, source_name=s.source_name,
                            started_at=s.started_at, speak=s.speak, viewers=len(s.viewers))
            for s in self.streams.values()
        ]

    def join(self) -> Viewer:
        """A new viewer; it is sent the list of sessions at once and whenever it changes."""
        viewer = Viewer()
        self.viewers.add(viewer)
        viewer.offer(self._sessions_message())
        return viewer

    def watch(self, viewer: Viewer, session_id: str) -> LiveStream | None:
        """Make `viewer` watch one session (and no other); None when it is not running."""
        self.unwatch(viewer)
        stream = self.streams.get(session_id)
        if stream is None:
            return None
        stream.viewers.add(viewer)
        viewer.watching = session_id
        return stream

    def unwatch(self, viewer: Viewer) -> None:
        """Stop sending `viewer` its session's messages."""
        if viewer.watching is not None and viewer.watching in self.streams:
            self.streams[viewer.watching].viewers.discard(viewer)
        viewer.watching = None

    def leave(self, viewer: Viewer) -> None:
        """Forget a viewer that has gone."""
        self.unwatch(viewer)
        self.viewers.discard(viewer)

    def _sessions_message(self) -> str:
        return dumps(SessionsMessage(sessions=self.listing()))

    def _announce(self) -> None:
        message = self._sessions_message()
        for viewer in self.viewers:
            viewer.offer(message)


def live_hub(app: Starlette) -> LiveHub:
    """The app's hub, made on first use (routes run on the one event loop)."""
    hub = getattr(app.state, "live_hub", None)
    if hub is None:
        hub = LiveHub()
        app.state.live_hub = hub
    return hub
