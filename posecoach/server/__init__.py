"""The local web UI's server: `run_server` for the CLI, `create_app` for tests."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

from posecoach.server.app import create_app
from posecoach.server.auth import LOOPBACK_NAMES
from posecoach.server.context import ServerLimits

__all__ = ["ServerLimits", "create_app", "run_server", "is_loopback"]
log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run_server(
    host: str = "127.0.0.1",
    port: int = 8000,
    source: str | None = None,
    data_dir: Path = Path("posecoach-data"),
    config: Path | None = None,
    token: str | None = None,
    limits: ServerLimits | None = None,
) -> None:
    """Serve the web UI with uvicorn until interrupted.

    Listening anywhere but loopback needs `token`: the camera feed and the session history
    would otherwise be open to the network. Without a token only requests addressed to a
    loopback name are answered. Without `limits`, the defaults with any `POSECOACH_MAX_*`
    environment variables applied are used (see `ServerLimits.with_env`). Raises `ValueError`
    for a missing token, bad limits and bad settings.
    """
    import uvicorn

    from posecoach.settings import load_settings

    if token is not None and not token.strip():
        raise ValueError("the access token must not be empty")
    if not is_loopback(host) and token is None:
        raise ValueError(
            f"listening on {host} exposes the camera and your sessions to the network: "
            "pass --token SECRET (or set POSECOACH_TOKEN), or use --host 127.0.0.1"
        )
    load_settings(config)
    limits = limits if limits is not None else ServerLimits().with_env()
    allowed_hosts = None if token is not None else LOOPBACK_NAMES | {host.strip("[]").lower()}
    app = create_app(
        Path(data_dir),
        source=source,
        token=token,
        config=config,
        limits=limits,
        allowed_hosts=allowed_hosts,
    )
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    print(f"posecoach: open {url}{'?token=' + token if token else ''}", flush=True)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        ws_max_size=4 * limits.max_frame_bytes,
    )
