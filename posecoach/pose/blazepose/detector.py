"""The BlazePose person detector: SSD anchors, score decoding and weighted NMS.

The detector sees the whole frame letterboxed into 224 x 224 pixels scaled to [-1, 1]. For each
of its 2254 anchors it predicts a box and four keypoints; keypoint 0 is the centre of the hips
and keypoint 1 a point whose distance from it gives the body's size and whose direction gives its
rotation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from posecoach.pose.blazepose.roi import Roi, alignment_roi, crop, letterbox_roi
from posecoach.pose.blazepose.runtime_io import LITERT, Runtime, load_runner, output_named

INPUT_SIZE = 224
# SSD anchor layout: one feature map per stride, two anchors per location per layer.
STRIDES = (8, 16, 32, 32, 32)
ANCHORS_PER_LAYER = 2
NUM_KEYPOINTS = 4
SCORE_CLIP = 100.0
NMS_MIN_IOU = 0.3
# the model file's output names: boxes with keypoints, and scores
BOXES_OUTPUT, SCORES_OUTPUT = "Identity", "Identity_1"


def ssd_anchor_centres(input_size: int = INPUT_SIZE,
                       strides: tuple[int, ...] = STRIDES) -> np.ndarray:
    """Anchor centres in [0, 1], (N, 2), in the detector's output order.

    Layers that share a stride share a feature map; every anchor has a fixed unit size, so only
    the centres matter.
    """
    centres: list[np.ndarray] = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        same = 0
        while layer < len(strides) and strides[layer] == stride:
            same += 1
            layer += 1
        cells = int(np.ceil(input_size / stride))
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 2)
        centres.append(np.repeat(grid, same * ANCHORS_PER_LAYER, axis=0))
    return np.concatenate(centres).astype(np.float32)


@dataclass(frozen=True)
class Detection:
    """One person found by the detector, in pixels of the frame."""

    score: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    keypoints_px: np.ndarray  # (4, 2)

    def roi(self) -> Roi | None:
        """The square the landmark model should look at."""
        return alignment_roi(self.keypoints_px[0], self.keypoints_px[1])


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two boxes (x0, y0, x1, y1)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray,
           min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores, boxes (x0, y0, x1, y1) and keypoints ((K, 4, 2)) in [0, 1] of the letterboxed
    input, for the anchors scoring at least `min_score`."""
    clipped = np.clip(raw_scores.reshape(-1).astype(np.float64), -SCORE_CLIP, SCORE_CLIP)
    scores = 1.0 / (1.0 + np.exp(-clipped))
    keep = np.flatnonzero(scores >= min_score)
    raw = raw_boxes.reshape(-1, 4 + 2 * NUM_KEYPOINTS)[keep] / INPUT_SIZE
    centre = anchors[keep]
    cxy = raw[:, 0:2] + centre
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([cxy - half, cxy + half], axis=1)
    keypoints = raw[:, 4:].reshape(-1, NUM_KEYPOINTS, 2) + centre[:, None, :]
    return scores[keep], boxes, keypoints


def weighted_nms(scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray,
                 min_iou: float = NMS_MIN_IOU) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """Merge overlapping candidates: each cluster becomes the score-weighted mean of its boxes
    and keypoints, with the best candidate's score. Best first."""
    order = list(np.argsort(-scores))
    out: list[tuple[float, np.ndarray, np.ndarray]] = []
    while order:
        top = order[0]
        top_box = tuple(boxes[top])
        cluster = [i for i in order if i == top or iou(top_box, tuple(boxes[i])) > min_iou]
        weights = scores[cluster]
        total = float(weights.sum())
        box = (boxes[cluster] * weights[:, None]).sum(axis=0) / total
        kps = (keypoints[cluster] * weights[:, None, None]).sum(axis=0) / total
        out.append((float(scores[top]), box, kps))
        order = [i for i in order if i not in cluster]
    return out


class PersonDetector:
    """Finds every person in a frame (up to `max_people`), best first."""

    def __init__(self, model_path: Path, num_threads: int, min_score: float,
                 runtime: Runtime = LITERT) -> None:
        self._runner = load_runner(model_path, num_threads, runtime)
        self._anchors = ssd_anchor_centres()
        count = len(self._anchors)
        self._boxes = output_named(self._runner, model_path, BOXES_OUTPUT,
                                   (1, count, 4 + 2 * NUM_KEYPOINTS))
        self._scores = output_named(self._runner, model_path, SCORES_OUTPUT, (1, count, 1))
        self.min_score = min_score

    def detect(self, image_rgb: np.ndarray, max_people: int) -> list[Detection]:
        height, width = image_rgb.shape[:2]
        view = letterbox_roi(width, height)
        square, to_image = crop(image_rgb, view, INPUT_SIZE, cv2.BORDER_CONSTANT)
        tensor = square.astype(np.float32) * (2.0 / 255.0) - 1.0
        outputs = self._runner.run(tensor[None])
        found = decode(outputs[self._boxes][0], outputs[self._scores][0],
                       self._anchors, self.min_score)
        people = []
        for score, box, kps in weighted_nms(*found)[:max_people]:
            corners = np.array([[box[0], box[1]], [box[2], box[3]]]) * INPUT_SIZE
            corners_px = corners @ to_image[:, :2].T + to_image[:, 2]
            kps_px = (kps * INPUT_SIZE) @ to_image[:, :2].T + to_image[:, 2]
            people.append(Detection(score, (float(corners_px[0, 0]), float(corners_px[0, 1]),
                                            float(corners_px[1, 0]), float(corners_px[1, 1])),
                                    kps_px))
        return people
