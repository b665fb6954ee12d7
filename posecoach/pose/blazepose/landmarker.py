"""The BlazePose full landmark model on one rotated region of interest.

The model sees the region as a 256 x 256 crop scaled to [0, 1] and returns 39 points (the 33
body landmarks, then two alignment points that give the next frame's region, then four more),
each with x, y, z in crop pixels and raw visibility and presence scores (logits); the probability
that a person is in the crop; and a 64 x 64 heatmap per point, used to refine the points' positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from posecoach.pose.blazepose.roi import Roi, crop
from posecoach.pose.blazepose.runtime_io import LITERT, Runtime, load_runner, output_named
from posecoach.pose.landmarks import NUM_LANDMARKS

INPUT_SIZE = 256
NUM_POINTS = 39
VALUES_PER_POINT = 5
HEATMAP_KERNEL = 7
MIN_HEATMAP_CONFIDENCE = 0.5
# alignment points of the next region: hip centre, and the point above the head
CENTRE_POINT, SCALE_POINT = 33, 34
# the model file's output names: the points, the presence, the heatmaps
POINTS_OUTPUT, PRESENCE_OUTPUT, HEATMAP_OUTPUT = "Identity", "Identity_1", "Identity_3"


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -80.0, 80.0)))


@dataclass(frozen=True)
class LandmarkResult:
    """One person's points in frame pixels."""

    presence: float
    points: np.ndarray  # (33, 4): x_px, y_px, z (pixels, same scale as x), visibility
    alignment_px: np.ndarray  # (2, 2): hip centre, and the point giving size and rotation


def refine_with_heatmap(xy: np.ndarray, heatmap: np.ndarray,
                        kernel: int = HEATMAP_KERNEL,
                        min_confidence: float = MIN_HEATMAP_CONFIDENCE) -> np.ndarray:
    """Points (N, 2) in [0, 1] moved to the confidence-weighted centre of their heatmap window.

    A point is moved only when its window holds a confident cell; `heatmap` is (H, W, N) of raw
    scores.
    """
    rows, cols = heatmap.shape[:2]
    count = xy.shape[0]
    half = (kernel - 1) // 2
    col = np.trunc(xy[:, 0] * cols).astype(np.int64)
    row = np.trunc(xy[:, 1] * rows).astype(np.int64)
    inside = (col >= 0) & (col < cols) & (row >= 0) & (row < rows)
    offsets = np.arange(-half, half + 1)
    rr, cc = row[:, None] + offsets, col[:, None] + offsets  # (N, kernel)
    mask = (((rr >= 0) & (rr < rows))[:, :, None] & ((cc >= 0) & (cc < cols))[:, None, :])
    window = heatmap[np.clip(rr, 0, rows - 1)[:, :, None], np.clip(cc, 0, cols - 1)[:, None, :],
                     np.arange(count)[:, None, None]]
    # single precision, as the model's own post-processing computes it
    confidence = sigmoid(window.astype(np.float32)) * mask
    total = confidence.sum(axis=(1, 2))
    refine = inside & (confidence.max(axis=(1, 2)) >= min_confidence) & (total > 0)
    out = xy.copy()
    if refine.any():
        x = (confidence * cc[:, None, :]).sum(axis=(1, 2))
        y = (confidence * rr[:, :, None]).sum(axis=(1, 2))
        out[refine, 0] = x[refine] / total[refine] / cols
        out[refine, 1] = y[refine] / total[refine] / rows
    return out


class Landmarker:
    """Runs the landmark model on a region and returns the person's points in pixels."""

    def __init__(self, model_path: Path, num_threads: int, runtime: Runtime = LITERT) -> None:
        self._runner = load_runner(model_path, num_threads, runtime)
        self._points = output_named(self._runner, model_path, POINTS_OUTPUT,
                                    (1, NUM_POINTS * VALUES_PER_POINT))
        self._presence = output_named(self._runner, model_path, PRESENCE_OUTPUT, (1, 1))
        heatmap = self._runner.output_shapes.get(HEATMAP_OUTPUT)
        self._heatmap = (HEATMAP_OUTPUT if heatmap is not None and len(heatmap) == 4
                         and heatmap[-1] == NUM_POINTS else None)

    def run(self, image_rgb: np.ndarray, roi: Roi) -> LandmarkResult:
        square, to_image = crop(image_rgb, roi, INPUT_SIZE, cv2.BORDER_REPLICATE)
        outputs = self._runner.run((square.astype(np.float32) * (1.0 / 255.0))[None])
        raw = np.array(outputs[self._points], np.float32).reshape(NUM_POINTS, VALUES_PER_POINT)
        # the presence output is already a probability
        presence = float(outputs[self._presence].reshape(-1)[0])
        xy = raw[:, :2].astype(np.float64) / INPUT_SIZE
        if self._heatmap is not None:
            xy = refine_with_heatmap(xy, outputs[self._heatmap][0])
        xy_px = (xy * INPUT_SIZE) @ to_image[:, :2].T + to_image[:, 2]
        points = np.empty((NUM_LANDMARKS, 4))
        points[:, :2] = xy_px[:NUM_LANDMARKS]
        points[:, 2] = raw[:NUM_LANDMARKS, 2] / INPUT_SIZE * roi.width_px
        points[:, 3] = sigmoid(raw[:NUM_LANDMARKS, 3].astype(np.float64))
        return LandmarkResult(presence, points, xy_px[[CENTRE_POINT, SCALE_POINT]])
