"""Shared fixtures: paths to the real data in ../shared, and clips analysed once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
VIDEO = DATA / "video"
MOCAP = DATA / "mocap"
FIXTURES = ROOT / "fixtures"
TEST_OUTPUT = ROOT / "test-output"


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
        key = str(path)
        if key not in cache:
            cache[key] = analyze_video(path, root / path.stem, load_settings())
        return cache[key]

    return run
