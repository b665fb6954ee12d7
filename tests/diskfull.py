"""Filling a small disk to the last byte, for the disk-full tests."""

from __future__ import annotations

import errno
import os
from pathlib import Path


def fill_disk(filler: Path) -> None:
    """Append zeros to `filler` until its disk has no byte left (ENOSPC), in ever smaller
    writes so that nothing is left over."""
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
