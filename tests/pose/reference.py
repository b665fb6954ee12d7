"""MediaPipe's landmarks on the real clips, recorded once, and the LiteRT backend's beside them.

`python -m tests.pose.reference` (in an environment with mediapipe) records every clip into
fixtures/mediapipe_landmarks/<clip>.npz: for each frame the people MediaPipe's landmarker found,
with the analysis settings (`num_poses`, people check) on the frames `analyze_video` decodes.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posecoach.media.reader import VideoReader
from posecoach.outputs.summary import SessionSummary
from posecoach.pipeline.offline import AnalysisResult, analyze_series, pose_input_side
from posecoach.pose.blazepose.runtime_io import Precision
from posecoach.pose.estimator import PoseEstimator
from posecoach.pose.landmarks import NUM_LANDMARKS, PoseSeries
from posecoach.pose.tracker import WalkerTracker
from posecoach.settings import Settings, load_settings
from tests.conftest import FIXTURES, VIDEO

REFERENCE_DIR = FIXTURES / "mediapipe_landmarks"
CLIPS = {
    "side_walk_1080p60": VIDEO / "side_walk_1080p60.mp4",
    "side_walk_two_people_vp9": VIDEO / "side_walk_two_people_vp9.mp4",
    "back_view_people_139s": VIDEO / "back_view_people_139s.mp4",
    "front_two_walkers": VIDEO / "front_two_walkers.gif",
    "backward_walk_side_1080p60": FIXTURES / "backward_walk_side_1080p60.mp4",
}


@dataclass(frozen=True)
class ClipLandmarks:
    """Every frame's people: `points` (P, 33, 4) for all people of all frames, `frame_of` (P,)
    the frame each belongs to, and the frames' times and size."""

    points: np.ndarray
    frame_of: np.ndarray
    time_s: np.ndarray
    width: int
    height: int

    def people(self, i: int) -> list[np.ndarray]:
        return list(self.points[self.frame_of == i].astype(np.float64))

    @property
    def frames(self) -> int:
        return len(self.time_s)

    def found(self) -> np.ndarray:
        """(T,) whether anybody was found in each frame."""
        return np.bincount(self.frame_of, minlength=self.frames) > 0

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, points=self.points.astype(np.float32),
                            frame_of=self.frame_of.astype(np.int32),
                            time_s=self.time_s.astype(np.float64),
                            size=np.array([self.width, self.height], dtype=np.int32))

    @classmethod
    def load(cls, path: Path) -> ClipLandmarks:
        with np.load(path) as data:
            width, height = (int(v) for v in data["size"])
            return cls(data["points"], data["frame_of"], data["time_s"], width, height)


def run_backend(clip: Path, backend: str, settings: Settings | None = None,
                threads: int | None = None, precision: Precision = "f32") -> ClipLandmarks:
    """The people `backend` finds on each frame of `clip`, as `analyze_video` would run it
    (`precision` is OpenVINO's)."""
    settings = settings or load_settings()
    points: list[np.ndarray] = []
    frame_of: list[int] = []
    times: list[float] = []
    width = height = 0
    with PoseEstimator(settings, backend=backend, threads=threads,
                       precision=precision) as est, VideoReader(
            clip, max_side_px=pose_input_side(settings),
            max_gap_s=settings.timing.max_gap_s) as reader:
        for i, frame in enumerate(reader):
            height, width = frame.image.shape[:2]
            times.append(frame.time_s)
            for pts in est.detect(frame.image, frame.time_s):
                points.append(pts)
                frame_of.append(i)
    stacked = np.array(points) if points else np.zeros((0, NUM_LANDMARKS, 4))
    return ClipLandmarks(stacked, np.array(frame_of, dtype=np.int64), np.array(times),
                         width, height)


def analyse(landmarks: ClipLandmarks, settings: Settings, name: str) -> AnalysisResult:
    """The offline analysis of the walker the tracker follows among each frame's people."""
    tracker = WalkerTracker(settings.tracking.lost_after_s)
    walker = np.array([tracker.update(landmarks.people(i), float(t), landmarks.width,
                                      landmarks.height)
                       for i, t in enumerate(landmarks.time_s)])
    series = PoseSeries(points=walker, time_s=landmarks.time_s, width=landmarks.width,
                        height=landmarks.height, frame_index=np.arange(landmarks.frames))
    return analyze_series(series, settings, source=name)


def assert_summaries_agree(ours: SessionSummary, theirs: SessionSummary) -> None:
    """Two pose runtimes agree on a clip when posecoach reads the same walk from both: the
    same direction, view and step count, trunk and head medians within 1 degree."""
    assert ours.direction == theirs.direction
    assert ours.view == theirs.view
    assert ours.steps == theirs.steps
    for field in ("trunk_lean_deg_median", "head_angle_deg_median"):
        a, b = getattr(ours, field), getattr(theirs, field)
        assert (a is None) == (b is None), field
        if a is not None and b is not None and math.isfinite(a) and math.isfinite(b):
            assert abs(a - b) <= 1.0, (field, a, b)


def main(argv: list[str] | None = None) -> int:
    names = (sys.argv[1:] if argv is None else argv) or list(CLIPS)
    for name in names:
        rec = run_backend(CLIPS[name], "mediapipe")
        path = REFERENCE_DIR / f"{name}.npz"
        rec.save(path)
        print(f"{path}: {rec.frames} frames, person in {rec.found().mean():.1%}, "
              f"{path.stat().st_size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


@dataclass(frozen=True)
class Agreement:
    """How closely one clip's landmarks agree with the reference's.

    Distances are over the reference's visible landmarks (visibility > 0.5) of the people found
    by both, as shares of each person's height in the image.
    """

    median_share: float
    p95_share: float
    found_mismatch_share: float  # frames where one found somebody and the other nobody
    matched_people: int


def _box(points: np.ndarray) -> tuple[float, float, float, float]:
    xy = points[:, :2]
    return (float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()),
            float(xy[:, 1].max()))


def compare(reference: ClipLandmarks, other: ClipLandmarks,
            min_visibility: float = 0.5) -> Agreement:
    from posecoach.pose.tracker import iou

    shares: list[np.ndarray] = []
    matched = 0
    for i in range(min(reference.frames, other.frames)):
        candidates = other.people(i)
        for ref in reference.people(i):
            box = _box(ref)
            scores = [iou(box, _box(c)) for c in candidates]
            if not scores or max(scores) < 0.3:
                continue
            best = candidates.pop(int(np.argmax(scores)))
            height = box[3] - box[1]
            visible = ref[:, 3] > min_visibility
            if height <= 0 or not visible.any():
                continue
            shares.append(np.linalg.norm(best[visible, :2] - ref[visible, :2], axis=1) / height)
            matched += 1
    share = np.concatenate(shares) if shares else np.array([np.nan])
    mismatch = float(np.mean(reference.found() != other.found()))
    return Agreement(float(np.median(share)), float(np.percentile(share, 95)), mismatch,
                     matched)
