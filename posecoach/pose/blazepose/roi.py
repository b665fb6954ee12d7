"""Rotated regions of interest and cropping them into a model's input square."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# MediaPipe enlarges the square around the body by this much before cropping it.
ROI_SCALE = 1.25
# The alignment vector (hip centre -> a point above the head) points up in the crop.
TARGET_ANGLE_RAD = math.pi / 2


@dataclass(frozen=True)
class Roi:
    """A rotated rectangle in pixels: centre, size and rotation (radians, counter-clockwise)."""

    cx_px: float
    cy_px: float
    width_px: float
    height_px: float
    rotation_rad: float = 0.0

    def corners(self) -> np.ndarray:
        """The four corners (top-left, top-right, bottom-right, bottom-left), (4, 2) pixels."""
        half = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
        local = half * (self.width_px, self.height_px)
        c, s = math.cos(self.rotation_rad), math.sin(self.rotation_rad)
        rot = np.array([[c, -s], [s, c]])
        return local @ rot.T + (self.cx_px, self.cy_px)

    def box(self) -> tuple[float, float, float, float]:
        """The axis-aligned box around the rectangle: x0, y0, x1, y1."""
        pts = self.corners()
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)


def normalize_radians(angle_rad: float) -> float:
    """The same angle in [-pi, pi)."""
    return angle_rad - 2 * math.pi * math.floor((angle_rad + math.pi) / (2 * math.pi))


def alignment_roi(center_px: np.ndarray, scale_px: np.ndarray,
                  scale: float = ROI_SCALE) -> Roi | None:
    """The square a body occupies, from its centre and the point that gives size and rotation.

    The body fits a circle around `center_px` through `scale_px`; the square around that circle
    is turned so the vector between them points up, then enlarged by `scale`.
    """
    dx, dy = float(scale_px[0] - center_px[0]), float(scale_px[1] - center_px[1])
    size_px = 2.0 * math.hypot(dx, dy) * scale
    if not (math.isfinite(size_px) and size_px > 0):
        return None
    rotation = normalize_radians(TARGET_ANGLE_RAD - math.atan2(-dy, dx))
    return Roi(float(center_px[0]), float(center_px[1]), size_px, size_px, rotation)


def letterbox_roi(width: int, height: int) -> Roi:
    """The whole frame, widened to a square by padding (the detector's view)."""
    side = float(max(width, height))
    return Roi(width / 2.0, height / 2.0, side, side, 0.0)


def crop(image: np.ndarray, roi: Roi, size: int, border: int) -> tuple[np.ndarray, np.ndarray]:
    """`roi` of `image` resampled into a `size` x `size` square, and the crop -> image matrix.

    The returned (2, 3) matrix maps crop pixel coordinates to image pixel coordinates.
    """
    c, s = math.cos(roi.rotation_rad), math.sin(roi.rotation_rad)
    sx, sy = roi.width_px / size, roi.height_px / size
    # crop (u, v) -> image: centre + R @ ((u - size/2) * sx, (v - size/2) * sy)
    to_image = np.array([
        [c * sx, -s * sy, roi.cx_px - (c * sx - s * sy) * size / 2],
        [s * sx, c * sy, roi.cy_px - (s * sx + c * sy) * size / 2],
    ])
    out = cv2.warpAffine(
        image, to_image, (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=border, borderValue=(0, 0, 0),
    )
    return out, to_image
