"""Tests for tools.reverse_clip, the fixture tool that plays a clip backwards."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from posecoach.errors import VideoError
from posecoach.media.reader import VideoReader
from tests.bar_clips import bar_image, bar_index, write_pyav
from tests.conftest import VIDEO, needs_shared_data
from tools import reverse_clip
from tools.reverse_clip import main, reverse_video

SIDE_1080 = VIDEO / "side_walk_1080p60.mp4"


def _forward_clip(path: Path, n: int) -> list[int]:
    """A clip of n numbered frames at uneven times (ms), with B-frames and short GOPs."""
    ms = [int(i * 40 + (i % 3) * 7) for i in range(n)]  # uneven spacing
    write_pyav(
        path,
        [bar_image(i) for i in range(n)],
        pts=ms,
        time_base=Fraction(1, 1000),
        options={"preset": "ultrafast", "crf": "18", "g": "8", "bf": "2"},
    )
    return ms


@pytest.mark.parametrize("budget", [None, 320 * 240 * 3 * 3])
def test_reverse_video_synthetic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget: int | None
) -> None:
    if budget is not None:  # force decoding each segment in several slices
        monkeypatch.setattr(reverse_clip, "_REVERSE_BUDGET_BYTES", budget)
    src = tmp_path / "fwd.mp4"
    n = 37
    ms = _forward_clip(src, n)
    dst = tmp_path / "rev.mp4"
    assert reverse_video(src, dst) == n
    with VideoReader(dst) as reader:
        frames = list(reader)
    assert [bar_index(f.image) for f in frames] == list(range(n - 1, -1, -1))
    expected_t = [(ms[-1] - ms[n - 1 - j]) / 1000 for j in range(n)]
    assert np.allclose([f.time_s for f in frames], expected_t, atol=2e-3)


@needs_shared_data
def test_reverse_real_clip(tmp_path: Path) -> None:
    src = VIDEO / "side_walk_two_people_vp9.mp4"
    dst = tmp_path / "backward.mp4"
    assert reverse_video(src, dst) == 230
    with VideoReader(src, max_side_px=160) as r:
        fwd = [f.image.astype(np.int16) for f in r]
    with VideoReader(dst, max_side_px=160) as r:
        rev = [f.image.astype(np.int16) for f in r]
    assert len(rev) == 230
    for j in (0, 57, 140, 229):
        diffs = [np.abs(rev[j] - fwd[k]).mean() for k in range(len(fwd))]
        assert int(np.argmin(diffs)) == 229 - j


@needs_shared_data
def test_reverse_refuses_long_clips(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="139 s long"):
        reverse_video(VIDEO / "back_view_people_139s.mp4", tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()
    with pytest.raises(VideoError, match="onto itself"):
        reverse_video(SIDE_1080, SIDE_1080)


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, dst = tmp_path / "fwd.mp4", tmp_path / "rev.mp4"
    _forward_clip(src, 12)
    assert main([str(src), str(dst)]) == 0
    assert "12 frames" in capsys.readouterr().out
    assert main([str(tmp_path / "missing.mp4"), str(dst)]) == 1
    err = capsys.readouterr().err
    assert "missing.mp4 was not found" in err and "Traceback" not in err
