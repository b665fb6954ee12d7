"""Shared fixtures: the real data in ../shared/data, and clips analysed once per session.

Every test reaches the real footage, photos and motion capture through `DATA`, `VIDEO`,
`IMAGES` and `MOCAP` (all from `tools.shared_data.shared_data_dir()`, which the load test and
the benchmark use too) and asks for them with the `shared_data` fixture or the
`needs_shared_data` mark. Where the folder is missing those tests fail, saying where it was
looked for; none is skipped for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.loadtest import ServerProcess
from tools.shared_data import REPO_ROOT, SHARED_DATA_ENV, shared_data_dir

ROOT = REPO_ROOT
FIXTURES = ROOT / "fixtures"
TEST_OUTPUT = ROOT / "test-output"
DATA = shared_data_dir()
VIDEO = DATA / "video"
IMAGES = DATA / "images"
MOCAP = DATA / "mocap"


def require_shared_data() -> Path:
    """DATA, or a failed test that says where the shared data was looked for."""
    if not DATA.is_dir():
        pytest.fail(
            f"the shared test data is missing: {DATA} is not a folder. Put the data at "
            f"../shared/data beside the repository or set {SHARED_DATA_ENV} to its folder.",
            pytrace=False,
        )
    return DATA


@contextlib.contextmanager
def running_server(data_dir: Path, lan_token: str | None = None) -> Iterator[ServerProcess]:
    """The real posecoach server in a subprocess on a free loopback port (HTTPS with
    `lan_token`), stopped afterwards; the test fails with the end of its log if it does not
    start within a minute."""
    server = ServerProcess(data_dir, lan_token=lan_token)
    try:
        server.start(timeout_s=60)
    except RuntimeError as exc:
        pytest.fail(f"posecoach server did not start: {exc}")
    try:
        yield server
    finally:
        server.stop()


def shared_names(folder: Path, pattern: str) -> list[str]:
    """Sorted names of the files in `folder` matching `pattern`, to parametrise tests with.

    With none there, one placeholder stands in, so the tests run and fail on the missing data
    instead of being skipped for an empty parameter list.
    """
    names = sorted(p.name for p in folder.glob(pattern))
    return names or [f"missing {folder / pattern}"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder; the test fails with a clear message if it is missing."""
    return require_shared_data()


needs_shared_data = pytest.mark.usefixtures("shared_data")


@pytest.fixture(scope="session")
def settings():
    from posecoach.settings import load_settings

    return load_settings()


@pytest.fixture(scope="session")
def analysed(tmp_path_factory):
    """analysed(path) -> AnalysisResult, running the full video pipeline once per clip."""
    from posecoach.pipeline.offline import analyze_video
    from posecoach.settings import load_settings

    cache: dict[str, object] = {}
    root = tmp_path_factory.mktemp("analysed")

    def run(path: Path):
        if path.is_relative_to(DATA):
            require_shared_data()
        key = str(path)
        if key not in cache:
            cache[key] = analyze_video(path, root / path.stem, load_settings())
        return cache[key]

    return run
