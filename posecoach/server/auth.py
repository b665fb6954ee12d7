"""Access token and Origin checks for every HTTP and WebSocket request, and a log filter that
keeps the token out of the access log."""

from __future__ import annotations

import json
import logging
import re
import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, quote, unquote_to_bytes, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "posecoach_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


_TOKEN_IN_QUERY = re.compile(r"(?i)([?&]token=)[^&#\s\"']*")
REDACTED = "[redacted]"


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def token_query(token: str) -> str:
    """`?token=...` for a URL, percent-encoded (UTF-8), so any token survives the trip."""
    return "?token=" + quote(token, safe="")


def redact_token(text: str) -> str:
    """`text` with the value of any `token=` query parameter replaced."""
    return _TOKEN_IN_QUERY.sub(lambda m: m.group(1) + REDACTED, text)


class TokenRedactingFilter(logging.Filter):
    """Rewrites log records (uvicorn's access and WebSocket lines) so no token is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "token=" in record.msg.lower():
            record.msg = redact_token(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_token(arg) if isinstance(arg, str) and "token=" in arg.lower() else arg
                for arg in record.args
            )
        return True


def origin_allowed(origin: str | None, host: str | None) -> bool:
    """True when there is no Origin header or it names the host the request was sent to."""
    if not origin:
        return True
    if origin == "null" or not host:
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def host_name(host: str | None) -> str:
    """The name in a Host header, without the port and IPv6 brackets, lower case."""
    if not host:
        return ""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class AccessMiddleware:
    """Rejects cross-origin WebSockets and writes, and requests without the token when one is set.

    The token may come as `Authorization: Bearer TOKEN`, a `?token=` query parameter (which
    sets a cookie on page loads, so the page's own requests carry it), or that cookie; it is
    compared as UTF-8 bytes, so any character works (percent-encoded in URLs and cookies). With
    `allowed_hosts`, requests whose Host header names another host are refused, so a page on a
    domain re-pointed at 127.0.0.1 (DNS rebinding) cannot reach a server without a token.
    """

    def __init__(
        self, app: ASGIApp, token: str | None, allowed_hosts: frozenset[str] | None = None
    ) -> None:
        self.app = app
        self.token = token
        self._token_bytes = None if token is None else token.encode("utf-8")
        self.allowed_hosts = (
            None if allowed_hosts is None else frozenset(h.lower() for h in allowed_hosts)
        )

    @staticmethod
    def _presented(scope: Scope, headers: dict[str, str]) -> tuple[bytes | None, bool]:
        """The token the request carries, as the bytes the client sent, and whether it came in
        the query string. Headers arrive decoded as Latin-1, so encoding them back gives the
        client's bytes (UTF-8 for a non-ASCII token)."""
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip().encode("latin-1"), False
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), encoding="latin-1")
        if query.get("token"):
            return query["token"][0].encode("latin-1"), True
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed cookie header counts as none
            return None, False
        morsel = cookie.get(COOKIE)
        return (unquote_to_bytes(morsel.value) if morsel else None), False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        is_ws = scope["type"] == "websocket"
        if self.allowed_hosts is not None and host_name(headers.get("host")) not in (
            self.allowed_hosts
        ):
            await self._reject(scope, receive, send, 403, "unexpected Host header: open 127.0.0.1")
            return
        if (is_ws or scope["method"] not in SAFE_METHODS) and not origin_allowed(
            headers.get("origin"), headers.get("host")
        ):
            await self._reject(scope, receive, send, 403, "cross-origin request refused")
            return
        from_query = False
        if self._token_bytes is not None:
            presented, from_query = self._presented(scope, headers)
            if presented is None or not secrets.compare_digest(presented, self._token_bytes):
                await self._reject(
                    scope,
                    receive,
                    send,
                    401,
                    "this server needs its access token: open the address printed when it "
                    "started (it ends in ?token=...)",
                )
                return
        if from_query and not is_ws:
            await self.app(scope, receive, self._with_cookie(send))
        else:
            await self.app(scope, receive, send)

    def _with_cookie(self, send: Send) -> Send:
        assert self.token is not None
        value = f"{COOKIE}={quote(self.token, safe='')}; Path=/; HttpOnly; SameSite=Strict"

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                cookie = (b"set-cookie", value.encode("ascii"))
                message["headers"] = [*message.get("headers", []), cookie]
            await send(message)

        return wrapped

    @staticmethod
    async def _reject(
        scope: Scope, receive: Receive, send: Send, status: int, detail: str
    ) -> None:
        """An HTTP error, or for a WebSocket a close with 1008 (policy violation) and the reason.

        The socket is accepted first, so the close code and reason reach the page through any
        server (closing before accepting reads as a bare handshake failure in a browser).
        """
        if scope["type"] == "websocket":
            if (await receive())["type"] == "websocket.connect":
                await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})
            return
        body = json.dumps({"detail": detail}).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode("latin-1")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
