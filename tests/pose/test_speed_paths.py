"""The faster paths give the same answers: the pipelined `analyze`, and cores shared out among
live sessions."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from posecoach.coach.live import LiveCoach
from posecoach.media.probe import output_size, probe
from posecoach.media.reader import VideoReader
from posecoach.outputs.landmarks_csv import read_landmarks_csv
from posecoach.pipeline.offline import (
    analyze_series,
    analyze_video,
    model_threads,
    pose_input_side,
)
from posecoach.pose.backend import CoreShare, cpu_count
from posecoach.pose.estimator import PoseEstimator
from posecoach.pose.landmarks import PoseSeries
from posecoach.settings import load_settings
from tests.conftest import VIDEO, needs_shared_data

CLIP = VIDEO / "side_walk_1080p60.mp4"


def _one_after_another(settings):
    """The clip through the same stages with nothing overlapping: decode, model, coach."""
    coach = LiveCoach(settings)
    info = probe(CLIP)
    # landmarks in the clip's own pixels, as analyze records them
    width, height = output_size(info.width, info.height, settings.pose.max_input_side_px)
    times, points, index = [], [], []
    with VideoReader(CLIP, max_side_px=pose_input_side(settings)) as reader:
        sx, sy = width / reader.width, height / reader.height
        for frame in reader:
            people = coach.estimator.detect(frame.image, frame.time_s)
            for pts in people:
                pts[:, :3] *= (sx, sy, sx)
            raw = coach.process_people(people, frame.time_s, width, height).raw
            times.append(frame.time_s)
            points.append(raw.points)
            index.append(raw.index)
    coach.close()
    series = PoseSeries(time_s=np.array(times), points=np.stack(points), width=width,
                        height=height, frame_index=np.array(index))
    return series, analyze_series(series, settings, CLIP.name).summary


@needs_shared_data
def test_pipelined_analyze_matches_the_plain_loop(tmp_path):
    settings = load_settings()
    result = analyze_video(CLIP, tmp_path / "out", settings)
    series, plain = _one_after_another(settings)
    recorded = read_landmarks_csv(result.files["landmarks.csv"])
    assert len(recorded.time_s) == len(series.time_s) == plain.frames
    assert np.allclose(recorded.time_s, series.time_s, atol=1e-3)
    found = np.isfinite(series.points[:, :, 0])
    assert np.array_equal(np.isfinite(recorded.points[:, :, 0]), found)
    # the CSV keeps a few decimals; the positions are the same points
    assert np.nanmax(np.abs(recorded.points[:, :, :2] - series.points[:, :, :2])) < 0.01
    summary = result.summary
    assert summary.frames == plain.frames
    assert summary.direction == plain.direction
    assert summary.view == plain.view
    assert summary.steps == plain.steps
    assert summary.trunk_lean_deg_median == pytest.approx(plain.trunk_lean_deg_median, abs=0.01)
    assert summary.head_angle_deg_median == pytest.approx(plain.head_angle_deg_median, abs=0.01)


def test_core_share_gives_each_model_its_part():
    share = CoreShare()
    assert share.threads_each(4) == 4
    share.join()
    assert share.threads_each(4) == 4
    share.join()
    share.join()
    assert share.threads_each(4) == 1
    assert share.threads_each(8) == 2
    for _ in range(4):
        share.leave()
    assert share.models == 0
    assert share.threads_each(2) == 2


@needs_shared_data
def test_live_models_share_the_cores_and_find_the_same_points():
    settings = load_settings()
    frames = []
    with VideoReader(CLIP, max_side_px=640) as reader:
        for frame in reader:
            frames.append(frame)
            if len(frames) == 40:
                break
    share = CoreShare()
    first = PoseEstimator(settings, num_poses=1, share=share)
    assert share.models == 1
    alone = [first.detect(f.image, f.time_s) for f in frames[:20]]
    with PoseEstimator(settings, num_poses=1, share=share), \
            PoseEstimator(settings, num_poses=1, share=share):
        assert share.models == 3
        shared = [first.detect(f.image, f.time_s) for f in frames[20:]]
    assert share.models == 1
    first.close()
    assert share.models == 0
    # a fixed thread count keeps its own threads and stays out of the share
    with PoseEstimator(settings, threads=1, share=share) as fixed:
        assert share.models == 0 and fixed.threads == 1

    with PoseEstimator(settings, num_poses=1, threads=cpu_count()) as reference:
        expected = [reference.detect(f.image, f.time_s) for f in frames]
    for got, want in zip(alone + shared, expected, strict=True):
        assert len(got) == len(want) == 1
        # the same model on fewer threads: the same points up to float rounding
        assert np.allclose(got[0], want[0], atol=0.05)


def test_a_model_dropped_without_closing_leaves_the_share():
    share = CoreShare()
    model = PoseEstimator(load_settings(), num_poses=1, share=share)
    assert share.models == 1
    del model
    gc.collect()
    assert share.models == 0
    closed = PoseEstimator(load_settings(), num_poses=1, share=share)
    closed.close()
    closed.close()
    assert share.models == 0


@pytest.mark.parametrize(("threads", "expected"), [(0, max(1, cpu_count() - 1)), (1, 1), (3, 3)])
def test_analyze_leaves_a_core_to_its_other_stages(threads, expected):
    settings = load_settings()
    settings = settings.model_copy(update={
        "pose": settings.pose.model_copy(update={"threads": threads})})
    assert model_threads(settings) == expected
