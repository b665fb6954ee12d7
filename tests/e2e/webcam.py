"""Fake-webcam clips for Chromium (`--use-file-for-fake-video-capture`), written in Python.

A .y4m file is a text header line, then per frame the line ``FRAME`` and the raw I420 planes
(Y at full size, then U and V at half size). Chromium loops it as the camera picture.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


def read_frames(
    src: Path, width: int, height: int, every: int = 1
) -> tuple[list[np.ndarray], float]:
    """Decoded RGB frames of `src` resized to width x height, keeping every `every`-th one."""
    frames: list[np.ndarray] = []
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or 30)
        for i, frame in enumerate(container.decode(stream)):
            if i % every:
                continue
            rgb = frame.to_ndarray(format="rgb24")
            frames.append(cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA))
    return frames, rate / every


def write_y4m(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    """Write RGB frames (all the same even size) as a 4:2:0 .y4m file."""
    if not frames:
        raise ValueError("no frames to write")
    height, width = frames[0].shape[:2]
    if width % 2 or height % 2:
        raise ValueError("y4m 4:2:0 needs an even width and height")
    rate = Fraction(fps).limit_denominator(1001)
    with open(path, "wb") as fh:
        header = f"YUV4MPEG2 W{width} H{height} F{rate.numerator}:{rate.denominator}"
        fh.write(f"{header} Ip A1:1 C420jpeg\n".encode("ascii"))
        for rgb in frames:
            i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)  # (H*3/2, W): Y, then U, then V
            fh.write(b"FRAME\n")
            fh.write(np.ascontiguousarray(i420).tobytes())
    return path


def backward_walk_y4m(src: Path, dest: Path, width: int = 640, height: int = 360) -> Path:
    """The side-view walking clip reversed in time (a backward-walking stand-in), at ~30 fps."""
    frames, rate = read_frames(src, width, height)
    every = 2 if rate > 45 else 1
    return write_y4m(dest, frames[::every][::-1], rate / every)
