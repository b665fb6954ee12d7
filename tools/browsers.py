"""Make sure the browser end-to-end tests can run: Debian's Chromium and Playwright for Python.

Run as ``python -m tools.browsers`` (``make test`` does). Quiet and idempotent when
everything is present. Playwright's own browser download (``playwright install``) is never used:
it needs internet access that this project's machines do not have. The tests drive Debian's
``chromium`` through ``executable_path`` instead.

The fake webcam clip (.y4m) is written by the tests in Python, so ffmpeg is not needed.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys

APT_PACKAGES = ("chromium",)


def _say(msg: str) -> None:
    print(f"tools.browsers: {msg}", file=sys.stderr)


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def find_chromium() -> str | None:
    """Path of the Chromium binary that the tests use, or None."""
    return shutil.which("chromium")


def ensure_chromium() -> str:
    """Return Debian's chromium binary path, installing it with apt-get when run as root."""
    path = find_chromium()
    if path:
        return path
    if not _is_root() or shutil.which("apt-get") is None:
        _say(
            "Debian's Chromium is not installed and this process cannot install it.\n"
            "  Install it with:  sudo apt-get update && sudo apt-get install -y chromium\n"
            "  (do not run `playwright install`: the tests use the system chromium)."
        )
        raise SystemExit(2)
    _say("installing Debian's chromium with apt-get (one time) ...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *APT_PACKAGES]):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            _say(f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
            raise SystemExit(proc.returncode or 1)
    path = find_chromium()
    if not path:
        _say("apt-get finished but `chromium` is still not on PATH")
        raise SystemExit(1)
    return path


def ensure_playwright() -> None:
    """Fail with an instruction when the playwright Python package is missing."""
    if (
        importlib.util.find_spec("playwright") is None
        or importlib.util.find_spec("playwright.sync_api") is None
    ):
        _say(
            "the `playwright` Python package is missing. Install the dev extras:\n"
            "  .venv-test/bin/pip install -e '.[dev]'   (never run `playwright install`)"
        )
        raise SystemExit(3)


def main() -> int:
    ensure_playwright()
    ensure_chromium()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
