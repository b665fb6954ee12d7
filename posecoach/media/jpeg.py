"""JPEG frames as sent by a browser's camera: their size from the header, and their pixels."""

from __future__ import annotations

import struct

import cv2
import numpy as np

from posecoach.errors import InputError


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's frame header, or None when `data` is not a JPEG."""
    if len(data) < 4 or data[:3] != b"\xff\xd8\xff":
        return None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
                      0xCF):
            if pos + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return (width, height) if width and height else None
        pos += 2 + length
    return None


_IMREAD_RGB: int | None = getattr(cv2, "IMREAD_COLOR_RGB", None)  # OpenCV 4.10 and later


def decode_jpeg(data: bytes) -> np.ndarray:
    """An RGB image from JPEG bytes; `InputError` when it does not decode."""
    buffer = np.frombuffer(data, dtype=np.uint8)
    if _IMREAD_RGB is not None:  # decoded straight to RGB: no second pass over the pixels
        rgb = cv2.imdecode(buffer, _IMREAD_RGB)
        if rgb is None:
            raise InputError("the frame could not be decoded as a JPEG image")
        return rgb
    bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError("the frame could not be decoded as a JPEG image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
