"""Where the real footage, photos and motion capture of `../shared/data` are.

The tests, the load test and the benchmark all read them from `shared_data_dir()`.
"""

from __future__ import annotations

import os
from pathlib import Path

SHARED_DATA_ENV = "POSECOACH_SHARED_DATA"
REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """`$POSECOACH_SHARED_DATA` when set, else `../shared/data` beside the repository."""
    configured = os.environ.get(SHARED_DATA_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    return REPO_ROOT.parent / "shared" / "data"
