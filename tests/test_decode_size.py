"""Pictures decoded no larger than needed: a decoder that can decode at a fraction of the size
(MJPEG) decodes straight to the working size; the frames handed on are the same size as ever."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from posecoach.media.probe import open_bounded
from posecoach.media.reader import VideoReader


@pytest.fixture(scope="module")
def mjpeg_1080p(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mjpeg") / "walk.avi"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mjpeg", rate=10)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuvj420p"
        for i in range(4):
            image = np.full((1080, 1920, 3), 40 * i, np.uint8)
            image[:, : 100 * (i + 1)] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.mark.parametrize(("max_side_px", "decoded"), [
    (None, (1920, 1080)), (1920, (1920, 1080)), (960, (960, 540)), (700, (960, 540)),
    (480, (480, 270)), (256, (480, 270)), (240, (240, 135)), (100, (240, 135)),
])
def test_mjpeg_decodes_straight_to_the_working_size(mjpeg_1080p: Path, max_side_px: int | None,
                                                    decoded: tuple[int, int]) -> None:
    with open_bounded(mjpeg_1080p, max_side_px=max_side_px) as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == decoded


def test_the_reader_hands_on_the_size_it_always_did(mjpeg_1080p: Path) -> None:
    with VideoReader(mjpeg_1080p, max_side_px=480) as reader:
        frames = list(reader)
    assert [f.image.shape for f in frames] == [(270, 480, 3)] * 4
    # the white band grows 100 px a frame at 1920 wide: 25 px at 480
    bands = [int((f.image[135, :, 0] > 200).sum()) for f in frames]
    assert bands == pytest.approx([25, 50, 75, 100], abs=2)
