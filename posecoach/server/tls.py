"""HTTPS for `posecoach serve --lan`: a self-signed certificate kept in the data folder (or the
user's own), the machine's network address, and the address as a QR code.

A phone browser gives a page its camera only over HTTPS. posecoach makes its own certificate
once and keeps it, so the phone's one-time warning about it is not repeated on every start.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import ipaddress
import os
import re
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from posecoach.errors import SettingsError

CERT_DIR = "tls"
CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
CERT_VALID_DAYS = 825
RENEW_HINT = "start posecoach again with --new-cert to make a new one"


@dataclass(frozen=True)
class Certificate:
    """The certificate and key files the server uses, and what they are."""

    cert_path: Path
    key_path: Path
    self_signed: bool
    made_now: bool
    expires: dt.datetime


@dataclass(frozen=True)
class LanAccess:
    """How phones and other screens reach this server: its HTTPS address and token."""

    url: str
    token: str
    self_signed: bool

    @property
    def phone_url(self) -> str:
        """The live page's address with the token: what the QR code holds."""
        from posecoach.server.auth import token_query

        return self.url + token_query(self.token)

    @property
    def viewer_url(self) -> str:
        """The viewer page's address with the token."""
        from posecoach.server.auth import token_query

        return self.url + "viewer" + token_query(self.token)


def lan_address() -> str:
    """This machine's address on the local network, for printing and the QR code.

    Connecting a UDP socket only chooses the outgoing interface; no packet is sent.
    Falls back to 127.0.0.1 when the machine has no network.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.254.254.254", 1))
            address = str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"
    return address if address and not address.startswith("0.") else "127.0.0.1"


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _names(hosts: list[str]) -> tuple[list[str], list[IPAddress]]:
    dns: list[str] = []
    ips: list[IPAddress] = []
    for host in ["localhost", "127.0.0.1", "::1", *hosts]:
        try:
            ip = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            if host and host not in dns:
                dns.append(host)
            continue
        if not ip.is_unspecified and ip not in ips:
            ips.append(ip)
    return dns, ips


def make_certificate(cert_path: Path, key_path: Path, hosts: list[str]) -> None:
    """Write a new self-signed certificate naming `hosts` (and the loopback names) and its key
    (readable by the owner only)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, f"posecoach on {socket.gethostname()}"[:64]),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "posecoach (self-signed)"),
    ])
    dns, ips = _names(hosts)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERT_VALID_DAYS))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(d) for d in dns] + [x509.IPAddress(ip) for ip in ips]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp_key = key_path.with_name(key_path.name + ".tmp")
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_bytes)
    tmp_cert = cert_path.with_name(cert_path.name + ".tmp")
    tmp_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp_key, key_path)
    os.replace(tmp_cert, cert_path)


def check_certificate(cert_path: Path, key_path: Path, hint: str) -> dt.datetime:
    """The expiry time of a certificate whose files can be read, that is in date and that
    matches its key. Raises `SettingsError` saying what is wrong, followed by `hint`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except OSError as exc:
        raise SettingsError(
            f"the certificate file {cert_path} cannot be read ({exc.strerror or exc}): {hint}"
        ) from None
    except ValueError:
        raise SettingsError(
            f"the certificate file {cert_path} is not a PEM certificate: {hint}"
        ) from None
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except OSError as exc:
        raise SettingsError(
            f"the key file {key_path} cannot be read ({exc.strerror or exc}): {hint}"
        ) from None
    except (ValueError, TypeError):
        raise SettingsError(
            f"the key file {key_path} is not an unencrypted PEM private key: {hint}"
        ) from None
    if key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise SettingsError(f"the key {key_path} does not belong to {cert_path}: {hint}")
    now = dt.datetime.now(dt.UTC)
    expires = cert.not_valid_after_utc
    if expires <= now:
        raise SettingsError(
            f"the certificate {cert_path} expired on {expires:%Y-%m-%d}: {hint}"
        )
    if cert.not_valid_before_utc > now + dt.timedelta(days=1):
        raise SettingsError(
            f"the certificate {cert_path} is not valid until {cert.not_valid_before_utc:%Y-%m-%d}"
            f" (is this computer's clock right?): {hint}"
        )
    return expires


def names_host(cert_path: Path, host: str) -> bool:
    """True when the certificate names `host` (an address or a name)."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")) in names.get_values_for_type(x509.IPAddress)
    except ValueError:
        return host.lower() in (n.lower() for n in names.get_values_for_type(x509.DNSName))


def server_certificate(
    data_dir: Path,
    host: str,
    cert: Path | None = None,
    key: Path | None = None,
    renew: bool = False,
) -> Certificate:
    """The certificate to serve HTTPS with.

    With `cert` and `key`, the user's own files, checked. Otherwise posecoach's own in
    `data_dir/tls/`, made on first use, and again with `renew` or when the address it is served
    at is not one it names. A kept certificate that cannot be read or has expired raises
    `SettingsError` saying to start with --new-cert.
    """
    if (cert is None) != (key is None):
        raise SettingsError("--cert and --key go together: pass both, or neither")
    if cert is not None and key is not None:
        hint = "renew it, or leave out --cert and --key to use posecoach's own certificate"
        expires = check_certificate(Path(cert), Path(key), hint)
        return Certificate(Path(cert), Path(key), False, False, expires)
    folder = Path(data_dir) / CERT_DIR
    cert_path, key_path = folder / CERT_FILE, folder / KEY_FILE
    made = False
    if renew or not (cert_path.exists() or key_path.exists()):
        try:
            make_certificate(cert_path, key_path, [host])
        except OSError as exc:
            raise SettingsError(
                f"the certificate could not be written to {folder} ({exc.strerror or exc})"
            ) from None
        made = True
    expires = check_certificate(cert_path, key_path, RENEW_HINT)
    if not made and not names_host(cert_path, host):
        make_certificate(cert_path, key_path, [host])
        expires = check_certificate(cert_path, key_path, RENEW_HINT)
        made = True
    return Certificate(cert_path, key_path, True, made, expires)


def qr_svg(text: str) -> str:
    """`text` as a QR code in an SVG document (dark modules on white, with its quiet zone)."""
    import segno

    out = io.BytesIO()
    segno.make(text, error="m").save(
        out, kind="svg", scale=6, border=4, dark="#000", light="#fff", xmldecl=False, omitsize=True,
        svgclass="qr", title="Address of this posecoach server for your phone",
    )
    return out.getvalue().decode("utf-8")


def qr_terminal(text: str) -> str:
    """`text` as a QR code drawn with block characters, for the terminal."""
    import segno

    out = io.StringIO()
    segno.make(text, error="m").terminal(out=out, compact=True, border=2)
    return out.getvalue()


# ---------------------------------------------------------------- https and http on one port

TLS_HANDSHAKE = 0x16
"""The first byte a browser sends to start TLS; a plain http request starts with a letter."""
MAX_PLAIN_HEAD = 8192
_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def plain_http_answer(head: bytes) -> bytes:
    """The reply to a plain http request on the HTTPS port: a redirect to the same address
    over https (when its Host header is a plain host name), with a line saying so."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    target = parts[1] if len(parts) >= 2 and parts[1].startswith("/") else "/"
    host = next((line.split(":", 1)[1].strip() for line in lines[1:]
                 if line.lower().startswith("host:")), "")
    if _HOST_RE.match(host) and not any(c in target for c in "\r\n "):
        url = f"https://{host}{target}"
        body = (f"posecoach answers on https here: open {url}\n").encode("latin-1")
        head_lines = [b"HTTP/1.1 301 Moved Permanently",
                      b"location: " + url.encode("latin-1")]
    else:
        body = b"posecoach answers on https here: open this address with https:// in front\n"
        head_lines = [b"HTTP/1.1 400 Bad Request"]
    head_lines += [b"content-type: text/plain; charset=utf-8",
                   b"content-length: " + str(len(body)).encode("ascii"),
                   b"connection: close"]
    return b"\r\n".join(head_lines) + b"\r\n\r\n" + body


class _PlainHttpAnswer(asyncio.Protocol):
    """Reads a plain http request's head, answers with `plain_http_answer`, and closes."""

    def __init__(self) -> None:
        self._head = b""
        self._transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._head += data
        if b"\r\n\r\n" in self._head or len(self._head) > MAX_PLAIN_HEAD:
            assert self._transport is not None
            self._transport.write(plain_http_answer(self._head.split(b"\r\n\r\n", 1)[0]))
            self._transport.close()


def https_or_http_answer(cert_path: Path, key_path: Path) -> type[asyncio.Protocol]:
    """An HTTP protocol class for uvicorn (its `http=` setting) that serves HTTPS with the
    certificate, and answers a plain http request on the same port with a redirect to https
    instead of a closed connection.

    Each connection's first bytes decide: the start of a TLS handshake hands the connection
    (those bytes first) to TLS and uvicorn's own HTTP protocol, anything else to
    `_PlainHttpAnswer`."""
    from asyncio.sslproto import SSLProtocol

    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert_path), str(key_path))

    class HttpsOrHttpAnswer(asyncio.Protocol):
        certificate = (cert_path, key_path)  # what it serves, for the curious

        def __init__(self, **kwargs: Any) -> None:
            self._kwargs = kwargs
            self._loop: asyncio.AbstractEventLoop = (
                kwargs.get("_loop") or asyncio.get_event_loop())
            self._transport: Any = None  # asyncio's or uvloop's TCP transport

        def connection_made(self, transport: Any) -> None:
            self._transport = transport

        def data_received(self, data: bytes) -> None:
            """The connection's first bytes: hand it, with them, to TLS or to the answer."""
            transport = self._transport
            if data[:1] == bytes([TLS_HANDSHAKE]):
                tls = SSLProtocol(self._loop, AutoHTTPProtocol(**self._kwargs), context, None,
                                  server_side=True)
                transport.set_protocol(tls)
                tls.connection_made(transport)
                while data:  # SSLProtocol reads into its own buffer (a BufferedProtocol)
                    buffer = tls.get_buffer(len(data))
                    n = min(len(buffer), len(data))
                    buffer[:n] = data[:n]
                    tls.buffer_updated(n)
                    data = data[n:]
                return
            answer = _PlainHttpAnswer()
            transport.set_protocol(answer)
            answer.connection_made(transport)
            answer.data_received(data)

    return HttpsOrHttpAnswer
