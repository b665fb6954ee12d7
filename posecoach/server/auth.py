"""Access token and Origin checks for every HTTP and WebSocket request, and a log filter that
keeps the token out of the access log."""

from __future__ import annotations

import json
import logging
import math
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from http.cookies import SimpleCookie
from urllib.parse import quote, unquote_to_bytes, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from posecoach.errors import SettingsError

COOKIE = "posecoach_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


# `token=` after ?, & or ;, its letters or its = possibly percent-encoded (`%74oken=`,
# `token%3D`): any spelling a server or a proxy might read as the token is redacted.
_TOKEN_IN_QUERY = re.compile(
    r"(?i)([?&;](?:t|%74)(?:o|%6f)(?:k|%6b)(?:e|%65)(?:n|%6e)(?:=|%3d))[^&;#\s\"']*"
)
REDACTED = "[redacted]"


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def token_query(token: str) -> str:
    """`?token=...` for a URL, percent-encoded (UTF-8), so any token survives the trip."""
    return "?token=" + quote(token, safe="")


def query_token(query_string: bytes) -> bytes | None:
    """The token of a query string, as the client's bytes: only a parameter spelled exactly
    `token=` counts (never `%74oken=`, `token%3D...` or `;token=`); percent-escapes and `+`
    in its value are decoded as in a form."""
    for part in query_string.split(b"&"):
        key, sep, value = part.partition(b"=")
        if key == b"token" and sep and value:
            return unquote_to_bytes(value.replace(b"+", b" "))
    return None


def without_token(query_string: bytes) -> bytes:
    """The query string less its `token=` parameter."""
    return b"&".join(p for p in query_string.split(b"&")
                     if p and p.partition(b"=")[0] != b"token")


def redact_token(text: str) -> str:
    """`text` with the value of any `token=` query parameter replaced."""
    return _TOKEN_IN_QUERY.sub(lambda m: m.group(1) + REDACTED, text)


class TokenRedactingFilter(logging.Filter):
    """Rewrites log records (uvicorn's access and WebSocket lines) so no token is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_token(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_token(arg) if isinstance(arg, str) else arg
                                for arg in record.args)
        return True


MIN_TOKEN_CHARS = 12
MIN_TOKEN_BITS = 64.0
"""A token must be at least this hard to guess: 64 bits take centuries at the rate the server
lets one address guess."""


def token_bits(token: str) -> float:
    """A rough count of the bits a guesser must cover: length times the bits of the kinds of
    characters used (digits, lower case, upper case, others), capped by its distinct
    characters (`aaaaaaaaaaaaaaaa` is weak, however long); a repeated piece counts once
    (`passwordpassword` is `password`)."""
    kinds = [(str.isdigit, 10), (str.islower, 26), (str.isupper, 26)]
    alphabet = sum(size for test, size in kinds if any(test(ch) for ch in token))
    if any(not (ch.isdigit() or ch.islower() or ch.isupper()) for ch in token):
        alphabet += 33
    alphabet = min(alphabet, max(2, 4 * len(set(token))))
    return _period(token) * math.log2(max(alphabet, 2))


def _period(text: str) -> int:
    """The length of the shortest piece `text` repeats ("abcabcabc" -> 3)."""
    for size in range(1, len(text) // 2 + 1):
        if len(text) % size == 0 and text[:size] * (len(text) // size) == text:
            return size
    return len(text)


def check_token_strength(token: str) -> None:
    """Refuse a `--token` that can be guessed: short, or of few kinds or few distinct
    characters. Raises `SettingsError` with a strong example."""
    if not token.strip():
        raise SettingsError("the access token must not be empty")
    if len(token) < MIN_TOKEN_CHARS or token_bits(token) < MIN_TOKEN_BITS:
        raise SettingsError(
            f"the access token is too easy to guess: use at least {MIN_TOKEN_CHARS} random "
            "letters, digits and signs (about 16 is good), for example --token "
            f"{secrets.token_urlsafe(16)}, or leave --token out with --lan to get one made"
        )


class GuessLimiter:
    """Wrong tokens from one client address lock it out for a while, longer each time.

    The first `free_tries` wrong tokens cost nothing; each one after locks the address out for
    `base_s`, doubling up to `max_s`. While locked out, every request of that address that
    presents a token is refused unchecked (429), so guessing cannot go faster than the lockout
    allows, and a right answer cannot be told from a wrong one. A right token clears the
    address. At most `max_addresses` are remembered (the oldest forgotten first), so a flood
    of addresses cannot fill the memory.
    """

    def __init__(self, free_tries: int = 5, base_s: float = 1.0, max_s: float = 300.0,
                 max_addresses: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.free_tries = free_tries
        self.base_s = base_s
        self.max_s = max_s
        self.max_addresses = max_addresses
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def wait_s(self, address: str) -> float:
        """Seconds `address` is still locked out (0 when it may try)."""
        with self._lock:
            failures, until = self._failures.get(address, (0, 0.0))
        return max(0.0, until - self.clock())

    def failed(self, address: str) -> None:
        """Count a wrong token from `address`."""
        with self._lock:
            failures, _ = self._failures.pop(address, (0, 0.0))
            failures += 1
            over = failures - self.free_tries
            lockout = 0.0 if over <= 0 else min(self.max_s, self.base_s * 2 ** (over - 1))
            self._failures[address] = (failures, self.clock() + lockout)
            while len(self._failures) > self.max_addresses:
                self._failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        """A right token: the address starts afresh."""
        with self._lock:
            self._failures.pop(address, None)


class RefusalLogFilter(logging.Filter):
    """Keeps refused requests (401, 403, 429) from flooding the access log: at most `burst`
    lines per `window_s`; the rest are counted and summed up in the next line let through."""

    REFUSED = frozenset({401, 403, 429})

    def __init__(self, burst: int = 10, window_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.burst = burst
        self.window_s = window_s
        self.clock = clock
        self._lock = threading.Lock()
        self._window_start = -math.inf
        self._shown = 0
        self._hidden = 0

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if not (len(args) == 5 and args[4] in self.REFUSED):
            return True
        with self._lock:
            now = self.clock()
            if now - self._window_start >= self.window_s:
                self._window_start, self._shown = now, 0
            if self._shown >= self.burst:
                self._hidden += 1
                return False
            self._shown += 1
            hidden, self._hidden = self._hidden, 0
        if hidden:
            record.msg = f"{record.msg} (and {hidden} more refused requests not logged)"
        return True


def _no_referrer(send: Send) -> Send:
    """`send` with `Referrer-Policy: no-referrer` on every response: no address of this
    server (a token in it, a session id) reaches another site through a link or a resource."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = dict(message)
            message["headers"] = [*message.get("headers", []),
                                  (b"referrer-policy", b"no-referrer")]
        await send(message)

    return wrapped


PAGE_PREFIXES_NOT = ("/api/", "/static/", "/ws/")


def _is_page_load(scope: Scope) -> bool:
    """A browser opening a page (GET of anything but the API, static files or sockets)."""
    path = scope.get("path", "/")
    return scope.get("method") == "GET" and not path.startswith(PAGE_PREFIXES_NOT)


def _wants_page(scope: Scope, headers: dict[str, str]) -> bool:
    """A browser opening a page (it asks for HTML), not a script asking the API."""
    return _is_page_load(scope) and "text/html" in headers.get("accept", "")


TOKEN_NEEDED = ("this server needs its access token: open the address printed when it "
                "started (it ends in ?token=...)")

# The page a browser gets instead of a page it may not open: how to get in, in words.
_WAY_IN_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Open posecoach from its own address</title>
<style>
body { margin: 0; background: #0d1117; color: #f4f6f8; line-height: 1.5;
  font: 1.0625rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 40rem; margin: 0 auto; padding: 1.2rem; }
h1 { font-size: 1.5rem; line-height: 1.2; }
li { margin: .5rem 0; }
code { background: #1f2630; padding: .05em .3em; border-radius: 4px; overflow-wrap: anywhere; }
.why { color: #b4bfcc; }
</style>
</head>
<body>
<main>
<h1>Open posecoach from its own address</h1>
<p class="why">{why}</p>
<p>To get in, on the computer running posecoach:</p>
<ol>
<li>Open posecoach's live page there and scan the QR code under
  <strong>Use your phone as the camera</strong> with this phone's camera app, or</li>
<li>scan the QR code posecoach printed in its terminal when it started, or</li>
<li>type the address it printed, with its end: <code>?token=...</code></li>
</ol>
<p class="why">The code and the address carry a key; this browser keeps it, so you only need
them once. If posecoach was started again with a new key, scan the new code.</p>
</main>
</body>
</html>
"""


def way_in_page(wrong: bool) -> bytes:
    """The HTML page for a browser without the token (`wrong`: it gave a wrong one)."""
    why = ("The address you opened carries an old or wrong key, so posecoach did not let "
           "this browser in." if wrong else
           "This address has no key, so posecoach did not let this browser in.")
    return _WAY_IN_PAGE.replace("{why}", why).encode("utf-8")


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
        self, app: ASGIApp, token: str | None, allowed_hosts: frozenset[str] | None = None,
        guesses: GuessLimiter | None = None,
    ) -> None:
        self.app = app
        self.guesses = guesses or GuessLimiter()
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
        query = query_token(scope.get("query_string", b""))
        if query:
            return query, True
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
        if not is_ws:
            send = _no_referrer(send)
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
            address = (scope.get("client") or ("unknown",))[0]
            wait_s = self.guesses.wait_s(address) if presented is not None else 0.0
            if wait_s > 0:
                await self._reject(scope, receive, send, 429,
                                   f"too many wrong tokens from this address: try again in "
                                   f"{math.ceil(wait_s)} s")
                return
            if presented is not None and secrets.compare_digest(presented, self._token_bytes):
                self.guesses.succeeded(address)
            else:
                if presented is not None:
                    self.guesses.failed(address)
                if not is_ws and _wants_page(scope, headers):
                    await self._send(send, 401, way_in_page(presented is not None),
                                     b"text/html; charset=utf-8")
                    return
                await self._reject(scope, receive, send, 401, TOKEN_NEEDED)
                return
        if from_query and not is_ws and _is_page_load(scope):
            await self._clean_address(scope, send)
        elif from_query and not is_ws:
            await self.app(scope, receive, self._with_cookie(scope, send))
        else:
            await self.app(scope, receive, send)

    def _cookie(self, scope: Scope) -> tuple[bytes, bytes]:
        assert self.token is not None
        value = f"{COOKIE}={quote(self.token, safe='')}; Path=/; HttpOnly; SameSite=Strict"
        if scope.get("scheme") == "https":
            value += "; Secure"
        return b"set-cookie", value.encode("ascii")

    def _with_cookie(self, scope: Scope, send: Send) -> Send:
        cookie = self._cookie(scope)

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", []), cookie]
            await send(message)

        return wrapped

    async def _clean_address(self, scope: Scope, send: Send) -> None:
        """A page opened with `?token=`: the cookie is set and the browser sent to the same
        address without the token, so it leaves the address bar, the history and bookmarks."""
        rest = without_token(scope.get("query_string", b""))
        location = quote(scope.get("path", "/"), safe="/") + ("?" if rest else "")
        await send({
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", location.encode("latin-1") + rest),
                        (b"cache-control", b"no-store"), (b"content-length", b"0"),
                        self._cookie(scope)],
        })
        await send({"type": "http.response.body", "body": b""})

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
        await AccessMiddleware._send(send, status, body, b"application/json")

    @staticmethod
    async def _send(send: Send, status: int, body: bytes, content_type: bytes) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode("latin-1")),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
