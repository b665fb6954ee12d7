"""LAN mode as a person meets it, against `posecoach serve --lan --host 127.0.0.1` in a
subprocess: a browser without the token gets a page saying how to get in while the API keeps
its JSON 401, plain http on the https port is sent to https, and a loopback host is warned
about (a phone cannot reach it). Every request goes to 127.0.0.1."""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from posecoach.server import run_server
from posecoach.server.tls import CERT_DIR, CERT_FILE, plain_http_answer
from tests.conftest import running_server
from tests.server.conftest import CapturedRun

TOKEN = "lan-people-T0ken-8d2e"
PAGE = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture(scope="module")
def lan_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, ssl.SSLContext, Path]]:
    with running_server(tmp_path_factory.mktemp("lan-people"), lan_token=TOKEN) as running:
        context = ssl.create_default_context(cafile=str(running.data_dir / CERT_DIR / CERT_FILE))
        yield running.base, context, running.log_path


@pytest.mark.parametrize(("query", "says"), [
    ({}, "has no key"),
    ({"token": "lan-people-wrong-0000"}, "old or wrong key"),
])
def test_a_page_without_the_token_says_how_to_get_in(lan_server, query, says) -> None:
    base, context, _ = lan_server
    with httpx.Client(base_url=base, verify=context, timeout=10) as client:
        for path in ("/", "/library", "/viewer"):
            page = client.get(path, params=query, headers=PAGE)
            assert page.status_code == 401
            assert page.headers["content-type"].startswith("text/html")
            assert "<h1>Open posecoach from its own address</h1>" in page.text
            assert "QR code" in page.text and "?token=" in page.text and says in page.text
            assert TOKEN not in page.text
        # The API, and a page asked for by a script, keep the JSON answer.
        for path, headers in (("/api/config", PAGE), ("/", {"accept": "*/*"})):
            api = client.get(path, params=query, headers=headers)
            assert api.status_code == 401
            assert "token" in api.json()["detail"]
        let_in = client.get("/", params={"token": TOKEN}, headers=PAGE, follow_redirects=True)
        assert let_in.status_code == 200 and "Live coaching" in let_in.text


def test_plain_http_on_the_https_port_is_sent_to_https(lan_server) -> None:
    base, context, _ = lan_server
    port = int(base.rsplit(":", 1)[1])
    plain = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    plain.request("GET", "/library?x=1")
    answer = plain.getresponse()
    body = answer.read().decode()
    plain.close()
    assert answer.status == 301
    assert answer.getheader("location") == f"https://127.0.0.1:{port}/library?x=1"
    assert "https" in body
    # The port still speaks HTTPS.
    with httpx.Client(base_url=base, verify=context, timeout=10) as client:
        assert client.get("/api/lan", params={"token": TOKEN}).json()["lan"] is True


@pytest.mark.parametrize(("head", "status", "location"), [
    (b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8443", 301, b"https://127.0.0.1:8443/"),
    (b"GET /viewer HTTP/1.1\r\nHost: [::1]:8443", 301, b"https://[::1]:8443/viewer"),
    (b"GET / HTTP/1.1\r\nHost: evil.example/<script>", 400, None),
    (b"GET / HTTP/1.1", 400, None),
])
def test_the_plain_http_answer(head: bytes, status: int, location: bytes | None) -> None:
    answer = plain_http_answer(head)
    assert answer.startswith(f"HTTP/1.1 {status} ".encode())
    assert (b"location: " + location in answer) if location else (b"location" not in answer)


def test_a_loopback_host_with_lan_is_warned_about(tmp_path: Path, captured: CapturedRun,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    run_server(host="127.0.0.1", port=8443, data_dir=tmp_path, lan=True)
    out = capsys.readouterr().out
    assert "a phone cannot reach it" in out
    assert "--host 0.0.0.0" in out
    assert out.index("a phone cannot reach it") < out.index("scan this code")
