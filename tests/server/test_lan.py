"""The phone as the camera: `serve --lan` (HTTPS, certificate, token, QR code), the token on
every route and socket over HTTPS, and viewers watching one of several live sessions.

Every request goes to 127.0.0.1 (`--lan --host 127.0.0.1`); nothing contacts the machine's
network address.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import ssl
import struct
import time
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from posecoach.errors import SettingsError
from posecoach.server import create_app, run_server
from posecoach.server.tls import CERT_DIR, CERT_FILE, KEY_FILE, LanAccess, make_certificate
from tests.conftest import running_server
from tests.server.conftest import (
    FAST_LIMITS,
    ORIGIN,
    CapturedRun,
    FakeEngine,
    receive_until,
    synthetic_jpeg,
)

LAN_TOKEN = "lan-Test-t0ken-2f9c"
TOKEN_RE = re.compile(r"https://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_%-]+)")


def decode_terminal_qr(text: str) -> str:
    """The text held by a QR code drawn with half-block characters (light modules inked)."""
    rows: list[list[bool]] = []
    for line in text.splitlines():
        if set(line) <= set("█▀▄ ") and line.strip():
            rows.append([c in "█▀" for c in line])
            rows.append([c in "█▄" for c in line])
    width = max(len(r) for r in rows)
    image = np.array([r + [True] * (width - len(r)) for r in rows], dtype=np.uint8) * 255
    image = cv2.resize(np.pad(image, 4, constant_values=255), None, fx=8, fy=8,
                       interpolation=cv2.INTER_NEAREST)
    return str(cv2.QRCodeDetector().detectAndDecode(image)[0])


def write_expired_certificate(folder: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now - dt.timedelta(days=400))
        .not_valid_after(now - dt.timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CERT_FILE).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / KEY_FILE).write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))


# ---------------------------------------------------------------- serve --lan


def test_lan_serves_https_with_a_token_and_a_qr_code(
    tmp_path: Path, captured: CapturedRun, capsys: pytest.CaptureFixture[str]
) -> None:
    run_server(host="127.0.0.1", port=8443, data_dir=tmp_path, lan=True)
    out = capsys.readouterr().out
    match = TOKEN_RE.search(out)
    assert match is not None, out
    phone_url = match.group(0)
    assert decode_terminal_qr(out) == phone_url
    assert "not private" in out and "Advanced" in out and "/viewer?token=" in out
    cert, key = tmp_path / CERT_DIR / CERT_FILE, tmp_path / CERT_DIR / KEY_FILE
    assert captured.kwargs["http"].certificate == (cert, key)
    assert captured.kwargs["host"] == "127.0.0.1"
    assert key.stat().st_mode & 0o077 == 0, "the key is readable by its owner only"
    assert captured.app is not None
    token = match.group(2)
    with TestClient(captured.app, base_url="https://127.0.0.1:8443") as client:
        assert client.get("/api/lan").status_code == 401
        assert client.get("/api/lan/qr.svg").status_code == 401
        info = client.get(f"/api/lan?token={token}").json()
        assert info == {"lan": True, "phone_url": phone_url, "self_signed": True,
                        "viewer_url": phone_url.replace("/?token=", "/viewer?token=")}
        svg = client.get("/api/lan/qr.svg")
        assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
        assert svg.text.startswith("<svg") and "viewBox" in svg.text
        assert client.get("/viewer").status_code == 200


def test_the_page_without_lan_says_how_to_start_it(tmp_path: Path) -> None:
    app = create_app(tmp_path, engine=FakeEngine(delay_s=0.0), limits=FAST_LIMITS)
    with TestClient(app) as client:
        assert client.get("/api/lan").json()["lan"] is False
        qr = client.get("/api/lan/qr.svg")
        assert qr.status_code == 404 and "--lan" in qr.json()["detail"]
        page = client.get("/").text
        assert "Use your phone as the camera" in page and "posecoach serve --lan" in page
        assert 'href="/viewer"' in page


def test_the_certificate_is_made_once_and_renewed_on_request(
    tmp_path: Path, captured: CapturedRun, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = tmp_path / CERT_DIR / CERT_FILE
    run_server(host="127.0.0.1", port=8443, data_dir=tmp_path, lan=True, token=LAN_TOKEN)
    first = cert.read_bytes()
    assert "made a certificate" in capsys.readouterr().out
    run_server(host="127.0.0.1", port=8443, data_dir=tmp_path, lan=True, token=LAN_TOKEN)
    assert cert.read_bytes() == first
    assert "made a certificate" not in capsys.readouterr().out
    run_server(host="127.0.0.1", port=8443, data_dir=tmp_path, lan=True, token=LAN_TOKEN,
               new_cert=True)
    assert cert.read_bytes() != first


@pytest.mark.parametrize("damage", ["expired", "garbage", "no key"])
def test_a_bad_certificate_gets_a_clear_message_and_a_new_one_on_request(
    tmp_path: Path, captured: CapturedRun, damage: str
) -> None:
    folder = tmp_path / CERT_DIR
    write_expired_certificate(folder)
    if damage == "garbage":
        (folder / CERT_FILE).write_text("not a certificate")
    elif damage == "no key":
        (folder / KEY_FILE).unlink()
    expected = {"expired": "expired on", "garbage": "not a PEM certificate",
                "no key": "cannot be read"}[damage]
    with pytest.raises(SettingsError, match=expected) as caught:
        run_server(host="127.0.0.1", data_dir=tmp_path, lan=True)
    assert "--new-cert" in str(caught.value)
    assert captured.app is None
    run_server(host="127.0.0.1", data_dir=tmp_path, lan=True, new_cert=True)
    assert captured.app is not None


def test_the_command_line_reports_an_expired_certificate(
    tmp_path: Path, captured: CapturedRun
) -> None:
    from posecoach.cli import app as cli_app

    write_expired_certificate(tmp_path / CERT_DIR)
    args = ["serve", "--lan", "--host", "127.0.0.1", "--data-dir", str(tmp_path)]
    result = CliRunner().invoke(cli_app, args, env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "expired on" in result.output and "--new-cert" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(cli_app, [*args, "--new-cert"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert str(captured.kwargs["http"].certificate[0]).endswith(CERT_FILE)
    lone = CliRunner().invoke(cli_app, ["serve", "--new-cert", "--data-dir", str(tmp_path)])
    assert lone.exit_code == 2 and "--lan" in lone.output


def test_the_users_own_certificate(tmp_path: Path, captured: CapturedRun) -> None:
    own = tmp_path / "own"
    make_certificate(own / "c.pem", own / "k.pem", ["127.0.0.1"])
    run_server(host="127.0.0.1", data_dir=tmp_path / "data", lan=True,
               cert=own / "c.pem", key=own / "k.pem")
    assert captured.kwargs["http"].certificate[0] == own / "c.pem"
    assert not (tmp_path / "data" / CERT_DIR).exists()
    assert isinstance(captured.app.state.lan, LanAccess) and not captured.app.state.lan.self_signed
    other = tmp_path / "other"
    make_certificate(other / "c.pem", other / "k.pem", ["127.0.0.1"])
    with pytest.raises(SettingsError, match="does not belong"):
        run_server(host="127.0.0.1", data_dir=tmp_path, lan=True,
                   cert=own / "c.pem", key=other / "k.pem")
    with pytest.raises(SettingsError, match="together"):
        run_server(host="127.0.0.1", data_dir=tmp_path, lan=True, cert=own / "c.pem")
    with pytest.raises(SettingsError, match="go with --lan"):
        run_server(host="127.0.0.1", data_dir=tmp_path, cert=own / "c.pem", key=own / "k.pem")


# ---------------------------------------------------------------- the token over HTTPS


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """`posecoach serve --lan --host 127.0.0.1` in a subprocess; yields (base, token, cafile)."""
    token = "lan-s3cret-T0ken"
    with running_server(tmp_path_factory.mktemp("lan-data"), lan_token=token) as running:
        yield running.base, token, running.data_dir / CERT_DIR / CERT_FILE


def _flat_routes(routes: list[Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(path, route) of every route, inside included routers too."""
    flat: list[tuple[str, Any]] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            flat += _flat_routes(inner.routes, prefix + route.include_context.prefix)
        else:
            flat.append((prefix + getattr(route, "path", ""), route))
    return flat


def _http_routes(tmp_path: Path) -> tuple[list[tuple[str, str]], list[str]]:
    app = create_app(tmp_path, engine=FakeEngine(delay_s=0.0), limits=FAST_LIMITS)
    http: list[tuple[str, str]] = []
    sockets: list[str] = []
    for raw_path, route in _flat_routes(app.routes):
        path = re.sub(r"\{[^}]+\}", "0" * 32, raw_path)
        if isinstance(route, APIWebSocketRoute):
            sockets.append(path)
        elif isinstance(route, APIRoute):
            http.extend((method, path) for method in sorted(route.methods))
    http += [("GET", "/static/js/live.js"), ("GET", "/openapi.json")]
    return http, sockets


def test_a_wrong_or_missing_token_is_refused_on_every_route_and_socket_over_https(
    https_server: Any, tmp_path: Path
) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    base, token, cafile = https_server
    context = ssl.create_default_context(cafile=str(cafile))
    http, sockets = _http_routes(tmp_path)
    assert {"/ws/live", "/ws/source", "/ws/view"} <= set(sockets)
    assert len(http) > 15
    with httpx.Client(base_url=base, verify=context, timeout=10) as client:
        for method, path in http:
            for auth in ({}, {"token": "wrong"}):
                response = client.request(method, path, params=auth,
                                          headers={"origin": base})
                # 429 once this address has guessed wrong too often (test_token_guessing.py)
                assert response.status_code in (401, 429), (method, path, auth, response.text)
                assert "token" in response.json()["detail"]
        assert _after_lockout(client, token).json()["lan"] is True
    host = base.removeprefix("https://")
    for path in sockets:
        for query in ("", "?token=wrong"):
            with connect(f"wss://{host}{path}{query}", ssl=context,
                         additional_headers={"origin": base}) as ws, \
                    pytest.raises(ConnectionClosed) as caught:
                ws.recv(timeout=10)
            assert caught.value.rcvd is not None and caught.value.rcvd.code == 1008, path
    with httpx.Client(base_url=base, verify=context, timeout=10) as client:
        _after_lockout(client, token)
    with connect(f"wss://{host}/ws/view?token={token}", ssl=context,
                 additional_headers={"origin": base}) as ws:
        assert json.loads(ws.recv(timeout=10)) == {"type": "sessions", "sessions": []}


def _after_lockout(client: httpx.Client, token: str) -> httpx.Response:
    """GET /api/lan with the right token, waiting out a lockout for earlier wrong ones as the
    server says (each wait is a few seconds: only guesses outside a lockout lengthen it)."""
    for _ in range(10):
        response = client.get("/api/lan", params={"token": token})
        if response.status_code != 429:
            return response
        wait_s = int(re.search(r"try again in (\d+) s", response.json()["detail"])[1])
        assert wait_s <= 30, response.text
        time.sleep(wait_s)
    raise AssertionError("still locked out")


# ---------------------------------------------------------------- phones and viewers


def _viewer_next(ws: Any, kind: str, limit: int = 200) -> dict[str, Any]:
    for _ in range(limit):
        message = ws.receive()
        if message.get("text") is not None:
            body = json.loads(message["text"])
            if body["type"] == kind:
                return body
    raise AssertionError(f"no {kind!r} message for the viewer")


def _viewer_frame_or_result(ws: Any) -> tuple[bytes | None, dict[str, Any] | None]:
    message = ws.receive()
    if message.get("bytes") is not None:
        return message["bytes"], None
    return None, json.loads(message["text"])


def test_two_phones_are_two_sessions_and_a_viewer_watches_one(tmp_path: Path) -> None:
    app = create_app(tmp_path, engine=FakeEngine(delay_s=0.0), limits=FAST_LIMITS)
    frame_a, frame_b = synthetic_jpeg(160, 120), synthetic_jpeg(200, 100)
    with TestClient(app) as client, \
            client.websocket_connect("/ws/live", headers={"origin": ORIGIN}) as phone_a, \
            client.websocket_connect("/ws/live", headers={"origin": ORIGIN}) as phone_b, \
            client.websocket_connect("/ws/view", headers={"origin": ORIGIN}) as viewer:
        assert _viewer_next(viewer, "sessions")["sessions"] == []
        phone_a.send_text(json.dumps({"type": "start", "level": "beginner", "speak": "both"}))
        id_a = receive_until(phone_a, "started")[0]["session_id"]
        phone_b.send_text(json.dumps({"type": "start", "level": "advanced"}))
        started_b = receive_until(phone_b, "started")[0]
        id_b = started_b["session_id"]
        assert id_a != id_b and started_b["speak"] == "phone"
        listed = client.get("/api/live/sessions").json()
        assert [(s["session_id"], s["level"], s["speak"]) for s in listed] == [
            (id_a, "beginner", "both"), (id_b, "advanced", "phone")]
        while len(_viewer_next(viewer, "sessions")["sessions"]) < 2:
            pass

        viewer.send_text(json.dumps({"type": "watch", "session_id": id_a}))
        watching = _viewer_next(viewer, "watching")["session"]
        assert watching["session_id"] == id_a and watching["speak"] == "both"
        for _ in range(3):
            phone_b.send_bytes(frame_b)
            assert receive_until(phone_b, "result")[0]["width"] == 200
        phone_a.send_bytes(frame_a)
        result_a = receive_until(phone_a, "result")[0]

        frames: list[bytes] = []
        results: list[dict[str, Any]] = []
        while not results:
            data, body = _viewer_frame_or_result(viewer)
            if data is not None:
                frames.append(data)
            elif body is not None and body["type"] == "result":
                results.append(body)
        assert len(frames) == 1 and frames[0][8:] == frame_a, "only the watched phone's frames"
        (frame_t,) = struct.unpack(">d", frames[0][:8])
        assert results[0]["width"] == 160 and results[0]["seq"] == result_a["seq"]
        assert abs(results[0]["t"] - frame_t) < 0.05

        viewer.send_text(json.dumps({"type": "speak", "speak": "viewer"}))
        told = receive_until(phone_a, "speak")[0]
        assert told == {"type": "speak", "session_id": id_a, "speak": "viewer"}
        assert _viewer_next(viewer, "speak")["speak"] == "viewer"
        assert client.get("/api/live/sessions").json()[0]["speak"] == "viewer"

        phone_a.send_text(json.dumps({"type": "stop"}))
        receive_until(phone_a, "finished")
        finished = _viewer_next(viewer, "finished")
        assert finished["session_id"] == id_a and finished["status"] == "done"
        remaining = _viewer_next(viewer, "sessions")["sessions"]
        assert [s["session_id"] for s in remaining] == [id_b]
        viewer.send_text(json.dumps({"type": "watch", "session_id": id_a}))
        assert "not running" in _viewer_next(viewer, "error")["message"]
        phone_b.send_text(json.dumps({"type": "stop"}))
        receive_until(phone_b, "finished")
