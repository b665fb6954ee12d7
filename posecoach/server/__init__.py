"""The local web UI's server: `run_server` for the CLI, `create_app` for tests."""

from __future__ import annotations

import copy
import gc
import importlib
import ipaddress
import logging
import math
import secrets
from dataclasses import replace
from pathlib import Path
from typing import Any

from posecoach.errors import SettingsError
from posecoach.server.app import create_app
from posecoach.server.auth import LOOPBACK_NAMES, check_token_strength, token_query
from posecoach.server.context import ServerLimits
from posecoach.server.lock import LibraryLock, lock_library
from posecoach.server.tls import (
    Certificate,
    LanAccess,
    https_or_http_answer,
    lan_address,
    qr_terminal,
    server_certificate,
)

__all__ = [
    "ServerLimits", "create_app", "run_server", "is_loopback", "limits_from_options", "server_url",
    "is_wildcard", "settle_heap",
]
log = logging.getLogger(__name__)


def bare_host(host: str) -> str:
    """A host as given on the command line, without IPv6 brackets: `[::1]` -> `::1`."""
    host = host.strip()
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach."""
    host = bare_host(host)
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_url(host: str, port: int, token: str | None = None, https: bool = False) -> str:
    """The address to open in a browser; IPv6 addresses in brackets, the token encoded."""
    host = bare_host(host)
    shown = f"[{host}]" if ":" in host else host
    scheme = "https" if https else "http"
    return f"{scheme}://{shown}:{port}/" + (token_query(token) if token else "")


def is_wildcard(host: str) -> bool:
    """True for the addresses that mean every interface (0.0.0.0, ::)."""
    try:
        return ipaddress.ip_address(bare_host(host)).is_unspecified
    except ValueError:
        return False


LAN_HELP = """\
posecoach: on your phone (on the same Wi-Fi), scan this code or open
  {url}
The first time, the phone warns that the connection is not private or the certificate is not
trusted: posecoach made its own certificate on this computer, so no company vouches for it.
The connection is still encrypted. Tap "Advanced" (or "Show details"), then "Proceed" (or
"visit this website"). The phone remembers it; you will see this warning again only after
--new-cert. To watch on this computer or a TV, open
  {viewer}"""


def loopback_lan_warning(host: str, port: int) -> str:
    """What to say when --lan listens on a loopback address, which only this computer reaches:
    the phone cannot open the address below, and which host to start with instead."""
    address = lan_address()
    use = (f"start with --host 0.0.0.0 (or --host {address}); the phone then opens "
           f"{server_url(address, port, https=True)}"
           if not is_loopback(address) else
           "join your Wi-Fi, then start with --host 0.0.0.0 so the phone can reach this computer")
    return (f"posecoach: warning: --host {host} is this computer only: a phone cannot reach it, "
            f"so the address and code below work on this computer alone. To use a phone, {use}.")


def _lan_access(
    host: str, port: int, data_dir: Path, token: str,
    cert: Path | None, key: Path | None, new_cert: bool,
) -> tuple[LanAccess, Certificate]:
    """The HTTPS address phones use and the certificate to serve it with."""
    shown = lan_address() if is_wildcard(host) else host
    certificate = server_certificate(Path(data_dir), shown, cert, key, renew=new_cert)
    url = server_url(shown, port, https=True)
    return LanAccess(url=url, token=token, self_signed=certificate.self_signed), certificate


LARGEST_OPTION = 1e9
"""The largest value a limit option takes (1e9 MB is a petabyte, 1e9 minutes 1900 years)."""


def limits_from_options(
    max_upload_mb: float | None = None,
    max_duration_min: float | None = None,
    base: ServerLimits | None = None,
    job_budget_min: float | None = None,
    job_budget_s_per_frame: float | None = None,
) -> ServerLimits:
    """`base` (the defaults with the environment applied) with the command-line limits.

    Raises `SettingsError` with the option's name for a value that is not a finite positive
    number (`inf`, `nan`, zero or negative): there is no "no limit" setting; a large number
    serves for that.
    """
    limits = base if base is not None else ServerLimits().with_env()
    for option, value, smallest in (("--max-upload-mb", max_upload_mb, 1e-6),
                                    ("--max-duration-min", max_duration_min, 0.0),
                                    ("--job-budget-min", job_budget_min, 0.0),
                                    ("--job-budget-s-per-frame", job_budget_s_per_frame, 0.0)):
        if value is not None and not (math.isfinite(value) and value > 0 and value >= smallest):
            raise SettingsError(f"{option} must be a positive number, got {value}")
        if value is not None and value > LARGEST_OPTION:
            raise SettingsError(f"{option} is too large ({value:g}): at most "
                                f"{LARGEST_OPTION:g} (already no practical limit)")
    if max_upload_mb is not None:
        limits = replace(limits, max_upload_bytes=int(max_upload_mb * 1e6))
    if max_duration_min is not None:
        limits = replace(limits, max_duration_s=max_duration_min * 60.0)
    if job_budget_min is not None:
        limits = replace(limits, job_budget_min_s=job_budget_min * 60.0)
    if job_budget_s_per_frame is not None:
        limits = replace(limits, job_budget_s_per_frame=job_budget_s_per_frame)
    return limits


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's logging set-up with the access token redacted from every line, and posecoach's
    own messages printed the same way."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_token"] = {
        "()": "posecoach.server.auth.TokenRedactingFilter"
    }
    config["filters"]["refusals"] = {"()": "posecoach.server.auth.RefusalLogFilter"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_token")
    config["handlers"]["access"]["filters"].insert(0, "refusals")
    config["loggers"]["posecoach"] = {
        "handlers": ["default"], "level": "INFO", "propagate": False
    }
    return config


def run_server(
    host: str = "127.0.0.1",
    port: int = 8000,
    source: str | None = None,
    data_dir: Path = Path("posecoach-data"),
    config: Path | None = None,
    token: str | None = None,
    limits: ServerLimits | None = None,
    *,
    lan: bool = False,
    cert: Path | None = None,
    key: Path | None = None,
    new_cert: bool = False,
    library_lock: LibraryLock | None = None,
) -> None:
    """Serve the web UI with uvicorn until interrupted.

    The library in `data_dir` is locked first (`library_lock`, when the caller took it, else
    here), before anything in it is read: a second server on the same library raises
    `LibraryInUse` naming the first and changes nothing.

    With `lan`, phones can be the camera: HTTPS with posecoach's own certificate (made once in
    `data_dir/tls/`, again with `new_cert`) or the user's `cert` and `key`, a token (generated
    when none is given), and the address printed with a QR code.

    Listening anywhere but loopback needs `token`: the camera feed and the session history
    would otherwise be open to the network. Without a token only requests addressed to a
    loopback name are answered. Without `limits`, the defaults with any `POSECOACH_MAX_*`
    environment variables applied are used (see `ServerLimits.with_env`). Raises `SettingsError`
    for a missing token, bad limits and bad settings. The token never reaches the access log.
    """
    from posecoach.settings import load_settings

    if token is not None:
        check_token_strength(token)
    if not lan and (cert is not None or key is not None or new_cert):
        raise SettingsError("--cert, --key and --new-cert go with --lan")
    if lan and token is None:
        token = secrets.token_urlsafe(16)
    host = bare_host(host)
    if not is_loopback(host) and token is None:
        raise SettingsError(
            f"listening on {host} exposes the camera and your sessions to the network: "
            "pass --token SECRET (or set POSECOACH_TOKEN), or use --host 127.0.0.1"
        )
    load_settings(config)
    limits = limits if limits is not None else ServerLimits().with_env()
    lock = library_lock if library_lock is not None else lock_library(data_dir, SERVE_WHAT)
    try:
        _serve(host, port, source, Path(data_dir), config, token, limits, lan=lan, cert=cert,
               key=key, new_cert=new_cert)
    finally:
        lock.release()


SERVE_WHAT = "posecoach serve"
"""What the lock file of a served library says holds it."""


def _serve(
    host: str, port: int, source: str | None, data_dir: Path, config: Path | None,
    token: str | None, limits: ServerLimits, *, lan: bool, cert: Path | None,
    key: Path | None, new_cert: bool,
) -> None:
    """`run_server` once the library is locked."""
    import uvicorn

    allowed_hosts = None if token is not None else LOOPBACK_NAMES | {host.lower()}
    app = create_app(
        Path(data_dir),
        source=source,
        token=token,
        config=config,
        limits=limits,
        allowed_hosts=allowed_hosts,
    )
    tls: dict[str, Any] = {}
    if lan:
        assert token is not None
        access, certificate = _lan_access(host, port, data_dir, token, cert, key, new_cert)
        app.state.lan = access
        tls = {"http": https_or_http_answer(certificate.cert_path, certificate.key_path)}
        if certificate.made_now:
            print(f"posecoach: made a certificate for {access.url} in "
                  f"{certificate.cert_path.parent}", flush=True)
        if is_wildcard(host) and access.url.startswith("https://127."):
            print("posecoach: this computer has no network address yet; join your Wi-Fi and "
                  "start again so your phone can reach it", flush=True)
        if is_loopback(host):
            print(loopback_lan_warning(host, port), flush=True)
        print(qr_terminal(access.phone_url), flush=True)
        print(LAN_HELP.format(url=access.phone_url, viewer=access.viewer_url), flush=True)
    else:
        print(f"posecoach: open {server_url(host, port, token)}", flush=True)
    settle_heap()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        log_config=uvicorn_log_config(),
        ws_max_size=4 * limits.max_frame_bytes,
        **tls,  # type: ignore[arg-type]
    )


# What a live session imports on first use: imported at start-up, they are part of the heap
# that `settle_heap` sets aside.
SESSION_MODULES = ("posecoach.coach.live", "posecoach.pipeline.recorder",
                   "posecoach.pipeline.offline", "posecoach.outputs.overlay",
                   "posecoach.media.jpeg")


def settle_heap() -> None:
    """Set what start-up built (modules, routes, settings: some 160 thousand objects that live
    as long as the server) aside from garbage collection.

    A full collection walks every object while all threads wait for the interpreter lock: about
    90 ms on a 2-core machine with the start-up heap, so a live frame that met one was late by
    that much, and so was every other session's. Frozen, a full collection walks only what the
    sessions made.
    """
    for name in SESSION_MODULES:
        importlib.import_module(name)
    gc.collect()
    gc.freeze()
