"""Small synthetic clips whose frames carry their own number, for the video tests.

Frame i shows a white bar at x = 8 i (modulo the width), which survives lossy coding and
scaling, so a test can tell which source frame it got back.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def bar_image(i: int, w: int = 320, h: int = 240) -> np.ndarray:
    """A frame whose white bar position encodes its number i (0..w/8-1)."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:, (i * 8) % w : (i * 8) % w + 8] = 255
    return img


def bar_index(image: np.ndarray) -> int:
    """Recover i from a `bar_image` after lossy coding and scaling."""
    col = image[..., 0].mean(axis=0)
    centre = float(np.argmax(np.convolve(col, np.ones(8), mode="same")))
    return int(round((centre - 4) * 320 / image.shape[1] / 8))


def write_pyav(
    path: Path,
    images: list[np.ndarray],
    pts: list[int] | None = None,
    time_base: Fraction = Fraction(1, 30),
    rotation: int | None = None,
    options: dict[str, str] | None = None,
    rate: int = 30,
) -> None:
    """Write a small H.264 MP4 with PyAV directly, with chosen timestamps or rotation."""
    h, w = images[0].shape[:2]
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=rate)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.codec_context.time_base = time_base
        s.time_base = time_base
        s.options = options or {"preset": "ultrafast", "crf": "18"}
        if rotation is not None:
            s.set_display_rotation(rotation)
        for i, img in enumerate(images):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = pts[i] if pts is not None else i
            f.time_base = time_base
            c.mux(s.encode(f))
        c.mux(s.encode(None))


def one_pixel_clip(path: Path) -> Path:
    """A 1x1 H.264 clip (4:4:4, since 4:2:0 needs even sides)."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 1, 1, "yuv444p"
        for k in range(30):
            frame = av.VideoFrame.from_ndarray(np.full((1, 1, 3), 90, np.uint8), format="rgb24")
            frame.pts = k
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
