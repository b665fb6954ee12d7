"""Request bodies bounded while they are read: 413 as soon as one is larger than its route takes.

A body is counted as it arrives (every `http.request` message), never read whole first: a
600 MB body sent to a JSON route is refused after its first megabyte, whatever its
Content-Length says or whether it has one (chunked). A declared length over the limit is refused
before a byte is read. Uploads have their own, larger limit (`--max-upload-mb` for each file,
which `uploads.py` enforces as it streams them to disk).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_PATH = "/api/uploads"
MULTIPART_SLACK_BYTES = 1_000_000
"""Room for the form fields and part headers around an upload's files."""


def too_large_words(limit_bytes: int) -> str:
    """The 413 message: the limit in plain units."""
    if limit_bytes >= 1_000_000:
        size = f"{limit_bytes / 1e6:g} MB"
    else:
        size = f"{limit_bytes / 1e3:g} kB"
    return f"the request is too large: this address takes at most {size}"


class BodyLimitMiddleware:
    """Answers 413 once a request's body passes `limit_for(path)` bytes, while reading it.

    After the 413 the application is told the client went away (`http.disconnect`), so it stops
    reading, and whatever it would still send is dropped.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit)
            return
        received = 0
        refused = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await _refuse(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted_receive, guarded_send)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"detail": too_large_words(limit)}).encode("utf-8")
    await send({
        "type": "http.response.start",
        "status": 413,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode("latin-1")),
            (b"connection", b"close"),
        ],
    })
    await send({"type": "http.response.body", "body": body})


def body_limits(max_body_bytes: int, max_upload_bytes: int,
                max_files_per_upload: int) -> Callable[[str], int]:
    """The limit of each path: uploads take their files and some slack, the rest
    `max_body_bytes`."""
    upload_limit = max_upload_bytes * max_files_per_upload + MULTIPART_SLACK_BYTES

    def limit_for(path: str) -> int:
        return upload_limit if path.rstrip("/") == UPLOAD_PATH else max_body_bytes

    return limit_for
