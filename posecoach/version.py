"""The installed posecoach's version, for `--version`, the web API and the package."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("posecoach")
except PackageNotFoundError:
    __version__ = "0+unknown"
