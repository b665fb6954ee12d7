"""The frame numbers of the overlay tests' fake camera survive JPEG, on real footage."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from tests.conftest import needs_shared_data
from tests.e2e import frame_code
from tests.e2e.webcam import read_frames

pytestmark = needs_shared_data


@pytest.mark.parametrize("quality", [50, 70, 95])
def test_numbers_read_back_through_jpeg(side_clip: Path, quality: int) -> None:
    frames, _ = read_frames(side_clip, 640, 360, every=40)
    numbers = [0, 1, 2**frame_code.BITS - 1, 1234, 2730, 1365]
    for number, rgb in zip(numbers, frames, strict=False):
        bgr = cv2.cvtColor(frame_code.stamp(rgb, number), cv2.COLOR_RGB2BGR)
        ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        back = cv2.cvtColor(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        assert frame_code.read(back) == number


def test_a_picture_without_a_bar_carries_no_number(side_clip: Path) -> None:
    frames, _ = read_frames(side_clip, 640, 360, every=60)
    assert [frame_code.read(f) for f in frames] == [None] * len(frames)
