"""Token guessing: a growing lockout per client address, a minimum token strength, and an
access log that refused requests cannot flood."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from posecoach.cli import app as cli_app
from posecoach.errors import SettingsError
from posecoach.server import create_app
from posecoach.server.auth import (
    AccessMiddleware,
    GuessLimiter,
    RefusalLogFilter,
    check_token_strength,
)
from tests.server.conftest import FAST_LIMITS, FakeEngine

TOKEN = "Guess-me-1f-y0u-can"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _app_with(tmp_path: Path, limiter: GuessLimiter) -> TestClient:
    app = create_app(tmp_path, engine=FakeEngine(), limits=FAST_LIMITS, token=TOKEN)
    for layer in app.user_middleware:
        if layer.cls is AccessMiddleware:
            layer.kwargs["guesses"] = limiter
    return TestClient(app)


def test_wrong_tokens_lock_the_address_out_for_longer_each_time(tmp_path: Path) -> None:
    clock = Clock()
    limiter = GuessLimiter(free_tries=5, base_s=1.0, max_s=300.0, clock=clock)
    with _app_with(tmp_path, limiter) as client:
        statuses = [client.get(f"/api/sessions?token=guess{i}").status_code for i in range(8)]
        # five free tries, the sixth locks out; while locked out even the right token waits
        assert statuses == [401] * 6 + [429] * 2
        refused = client.get(f"/api/sessions?token={TOKEN}")
        assert refused.status_code == 429 and "try again in 1 s" in refused.json()["detail"]
        lockouts = []
        for _ in range(10):
            clock.now += 1000.0
            client.get("/api/sessions?token=wrong")
            lockouts.append(limiter.wait_s("testclient"))
        assert lockouts == sorted(lockouts) and lockouts[0] == 2.0 and lockouts[-1] == 300.0
        clock.now += 301.0
        assert client.get(f"/api/sessions?token={TOKEN}").status_code == 200
        assert limiter.wait_s("testclient") == 0.0
        assert client.get("/api/sessions?token=wrong").status_code == 401, "a fresh start"
        # a request without any token is told to bring one, never counted as a guess
        client.cookies.clear()
        assert all(client.get("/api/sessions").status_code == 401 for _ in range(20))


def test_the_limiter_forgets_the_oldest_addresses_first() -> None:
    limiter = GuessLimiter(free_tries=0, max_addresses=100, clock=Clock())
    for i in range(1000):
        limiter.failed(f"10.0.{i // 256}.{i % 256}")
    assert limiter.wait_s("10.0.3.231") > 0 and limiter.wait_s("10.0.0.0") == 0.0
    assert len(limiter._failures) == 100


@pytest.mark.parametrize("token", ["", "   ", "s3cret", "t0k", "passwordpassword",
                                   "aaaaaaaaaaaaaaaaaaaaaaaa", "123456789012345",
                                   "abababababababababab"])
def test_weak_tokens_are_refused_with_a_strong_example(token: str) -> None:
    with pytest.raises(SettingsError) as refused:
        check_token_strength(token)
    assert "empty" in str(refused.value) or "--token " in str(refused.value)


@pytest.mark.parametrize("token", [TOKEN, "pass€word-K9x-strong", "kT3vQ9zL2mW8",
                                   "correct-horse-battery-staple"])
def test_strong_tokens_pass(token: str) -> None:
    check_token_strength(token)


def test_serve_refuses_a_weak_token_plainly(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--data-dir", str(tmp_path / "data"),
                                          "--token", "1234"])
    assert result.exit_code == 2
    assert "too easy to guess" in " ".join(result.output.split())
    assert not (tmp_path / "data").exists(), "nothing made before the token is checked"


def test_refused_requests_cannot_flood_the_access_log() -> None:
    clock = Clock()
    refusals = RefusalLogFilter(burst=10, window_s=60.0, clock=clock)

    def access(status: int) -> logging.LogRecord:
        return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                                 '%s - "%s %s HTTP/%s" %d',
                                 ("127.0.0.1:5000", "GET", "/api/sessions", "1.1", status), None)

    shown = [refusals.filter(access(401)) for _ in range(3000)]
    assert sum(shown) == 10
    assert refusals.filter(access(200)), "answered requests are always logged"
    clock.now += 60.0
    record = access(429)
    assert refusals.filter(record)
    assert "2990 more refused requests not logged" in record.getMessage()


# ---------------------------------------------------------------- the token in addresses


@pytest.mark.parametrize("query", ["%74oken=" + TOKEN, "token%3D" + TOKEN, "x=1;token=" + TOKEN,
                                   "TOKEN=" + TOKEN, "%74%6F%6B%65%6E=" + TOKEN])
def test_only_token_spelled_plainly_is_the_token(tmp_path: Path, query: str) -> None:
    app = create_app(tmp_path, engine=FakeEngine(), limits=FAST_LIMITS, token=TOKEN)
    with TestClient(app) as client:
        assert client.get(f"/api/sessions?{query}").status_code == 401


@pytest.mark.parametrize("path", ["/api/sessions?%74oken=SECRET&x=1",
                                  "/api/sessions?token%3DSECRET",
                                  "/api/sessions?x=1;token=SECRET",
                                  "/api/sessions?%74%6f%6B%65%6e%3dSECRET&x=1",
                                  "/api/sessions?token=SECRET"])
def test_every_spelling_of_the_token_is_redacted_from_the_log(path: str) -> None:
    from posecoach.server.auth import TokenRedactingFilter

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", path, "1.1", 401), None)
    assert TokenRedactingFilter().filter(record)
    assert "SECRET" not in record.getMessage() and "[redacted]" in record.getMessage()


def test_a_page_opened_with_the_token_loses_it_from_the_address(tmp_path: Path) -> None:
    app = create_app(tmp_path, engine=FakeEngine(), limits=FAST_LIMITS, token=TOKEN)
    with TestClient(app, base_url="https://192.168.1.20:8443") as client:
        opened = client.get(f"/library?x=1&token={TOKEN}", follow_redirects=False)
        assert opened.status_code == 303 and opened.headers["location"] == "/library?x=1"
        cookie = opened.headers["set-cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        page = client.get("/library?x=1")
        assert page.status_code == 200 and page.headers["referrer-policy"] == "no-referrer"
        api = client.get(f"/api/config?token={TOKEN}")
        assert api.status_code == 200, "scripts that ask the API with ?token= are answered"
    with TestClient(app, base_url="http://127.0.0.1:8000") as plain:
        opened = plain.get(f"/?token={TOKEN}", follow_redirects=False)
        assert "Secure" not in opened.headers["set-cookie"], "plain HTTP keeps the cookie"
        assert plain.get("/api/sessions").headers["referrer-policy"] == "no-referrer"
