"""Cleaning and smoothing: gating, leg-swap repair, gap bridging, Butterworth and One Euro."""

from __future__ import annotations

import numpy as np
import pytest

from posecoach.coach.smoothing import LiveSmoother, clean, filter_segments, smooth_offline
from posecoach.pose.landmarks import LEG_PAIRS, NUM_LANDMARKS, Landmark, PoseFrame, PoseSeries
from tests.conftest import MOCAP, needs_shared_data, shared_names
from tests.mocap.projection import CameraSide, load_trial, project_trial
from tests.synthetic import make_walk, swap_legs, with_points

L = Landmark
LEGS = [i for pair in LEG_PAIRS for i in pair]


def _series_xy(fps: float, x: np.ndarray, v: float = 0.95) -> PoseSeries:
    """A series where every landmark sits at (x[t], 100 + landmark index)."""
    n = len(x)
    pts = np.zeros((n, NUM_LANDMARKS, 4))
    pts[..., 0] = x[:, None]
    pts[..., 1] = 100.0 + np.arange(NUM_LANDMARKS)[None, :]
    pts[..., 3] = v
    return PoseSeries(np.arange(n) / fps, pts, 640, 480)


def _frames_apart(series: PoseSeries, min_sep_px: float) -> np.ndarray:
    p = series.points
    return np.abs(p[:, L.LEFT_ANKLE, 0] - p[:, L.RIGHT_ANKLE, 0]) > min_sep_px


def test_low_visibility_becomes_nan_and_keeps_visibility(settings):
    series, _ = make_walk(duration_s=2.0)
    pts = series.points.copy()
    pts[:, L.LEFT_WRIST, 3] = 0.2
    out = clean(with_points(series, pts), settings)
    assert np.isnan(out.points[:, L.LEFT_WRIST, :3]).all()
    np.testing.assert_allclose(out.points[:, L.LEFT_WRIST, 3], 0.2)
    assert np.isfinite(out.points[:, L.RIGHT_WRIST, :3]).all()


@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("yaw_deg", [90.0, -90.0])
def test_leg_label_swaps_are_repaired(settings, direction, yaw_deg):
    series, truth = make_walk(direction=direction, yaw_deg=yaw_deg, duration_s=4.0)
    apart = np.flatnonzero(_frames_apart(series, 0.3 * truth.leg_px))
    start = int(apart[apart > 20][0])
    swapped = swap_legs(series, start, start + 25)
    assert not np.allclose(swapped.points[start, LEGS, :2], series.points[start, LEGS, :2])
    out = clean(swapped, settings)
    np.testing.assert_allclose(out.points[:, LEGS, :2], series.points[:, LEGS, :2], atol=1e-9)


def test_swap_that_persists_to_the_end_is_repaired(settings):
    series, truth = make_walk(direction="backward", duration_s=4.0)
    apart = np.flatnonzero(_frames_apart(series, 0.3 * truth.leg_px))
    start = int(apart[apart > 40][0])
    out = clean(swap_legs(series, start, len(series)), settings)
    np.testing.assert_allclose(out.points[:, LEGS, :2], series.points[:, LEGS, :2], atol=1e-9)


def test_noise_does_not_cause_spurious_swaps(settings):
    series, _ = make_walk(direction="backward", duration_s=6.0, noise_px=3.0, seed=4)
    out = clean(series, settings)
    np.testing.assert_array_equal(out.points[:, LEGS], series.points[:, LEGS])


@pytest.mark.parametrize(
    ("gap_frames", "bridged"),
    [(1, True), (4, True), (7, True), (9, False), (20, False)],
)
def test_gaps_are_bridged_only_when_short(settings, gap_frames, bridged):
    series, _ = make_walk(direction="backward", duration_s=3.0, fps=30.0)
    pts = series.points.copy()
    pts[40:40 + gap_frames] = np.nan
    out = clean(with_points(series, pts), settings)
    gap = out.points[40:40 + gap_frames]
    if bridged:
        assert np.isfinite(gap[:, :, :3]).all()
        assert np.isfinite(gap[:, :, 3]).all()
        np.testing.assert_allclose(gap[:, L.LEFT_SHOULDER, :2],
                                   series.points[40:40 + gap_frames, L.LEFT_SHOULDER, :2],
                                   atol=1.0)
    else:
        assert np.isnan(gap[:, :, :3]).all()
    assert np.isfinite(out.points[:40, :, :3]).all()


def test_butterworth_has_no_phase_lag_and_removes_noise(settings):
    fps = 30.0
    t = np.arange(300) / fps
    truth = 200.0 + 50.0 * np.sin(2 * np.pi * 1.0 * t)
    rng = np.random.default_rng(1)
    noisy = truth + rng.normal(0, 4.0, t.shape)
    out = smooth_offline(_series_xy(fps, noisy), settings)
    x = out.points[:, L.NOSE, 0]
    err = x - truth
    assert np.sqrt(np.mean(err[20:-20] ** 2)) < 0.5 * 4.0
    lags = np.arange(-5, 6)
    corr = [np.dot(np.roll(x - x.mean(), k)[10:-10], (truth - truth.mean())[10:-10]) for k in lags]
    assert lags[int(np.argmax(corr))] == 0


def test_butterworth_at_10_fps_clips_the_cutoff(settings):
    fps = 10.0
    t = np.arange(100) / fps
    x = 100.0 + 30.0 * np.sin(2 * np.pi * 0.5 * t)
    out = smooth_offline(_series_xy(fps, x), settings)
    assert np.isfinite(out.points[:, :, :3]).all()
    np.testing.assert_allclose(out.points[:, L.NOSE, 0], x, atol=1.5)


def test_short_runs_are_left_as_cleaned(settings):
    x = 100.0 + np.random.default_rng(2).normal(0, 5.0, 100)
    series = _series_xy(30.0, x)
    pts = series.points.copy()
    pts[10:30] = np.nan
    pts[40:50] = np.nan
    out = smooth_offline(with_points(series, pts), settings)
    np.testing.assert_array_equal(out.points[30:40, L.NOSE, 0], x[30:40])
    assert not np.allclose(out.points[50:, L.NOSE, 0], x[50:])


def test_offline_smoothing_does_not_modify_its_input(settings):
    series, _ = make_walk(duration_s=2.0, noise_px=2.0)
    pts = series.points.copy()
    pts[5:8] = np.nan
    pts[:, L.LEFT_KNEE, 3] = 0.1
    series = with_points(series, pts)
    before_points, before_time = series.points.copy(), series.time_s.copy()
    smooth_offline(series, settings)
    np.testing.assert_array_equal(series.points, before_points)
    np.testing.assert_array_equal(series.time_s, before_time)


@pytest.mark.parametrize("n_frames", [1, 2, 5])
def test_degenerate_series_do_not_crash(settings, n_frames):
    pts = np.full((n_frames, NUM_LANDMARKS, 4), np.nan)
    series = PoseSeries(np.arange(n_frames) / 30.0, pts, 640, 480)
    out = smooth_offline(series, settings)
    assert out.points.shape == pts.shape
    assert np.isnan(out.points).all()
    walk, _ = make_walk(duration_s=n_frames / 30.0)
    out = smooth_offline(walk, settings)
    assert out.points.shape == walk.points.shape
    assert np.isfinite(out.points[:, :, :3]).all()


def _feed(smoother: LiveSmoother, series: PoseSeries) -> np.ndarray:
    return np.stack([smoother.update(series.frame(i)).points for i in range(len(series))])


def test_one_euro_reduces_jitter_on_a_still_body(settings):
    series, _ = make_walk(direction="standing", duration_s=4.0, noise_px=3.0, seed=3)
    clean_series, _ = make_walk(direction="standing", duration_s=4.0)
    out = _feed(LiveSmoother(settings), series)
    raw_err = series.points[30:, :, :2] - clean_series.points[30:, :, :2]
    out_err = out[30:, :, :2] - clean_series.points[30:, :, :2]
    assert np.std(out_err) < 0.4 * np.std(raw_err)


def test_one_euro_lags_little_on_a_moving_body(settings):
    fps, leg_px, speed_leg_s = 30.0, 300.0, 1.0
    series, _ = make_walk(direction="forward", duration_s=4.0, fps=fps, leg_px=leg_px,
                          speed_leg_s=speed_leg_s)
    out = _feed(LiveSmoother(settings), series)
    lag_px = np.abs(out[60:, L.LEFT_SHOULDER, 0] - series.points[60:, L.LEFT_SHOULDER, 0])
    assert lag_px.mean() < 0.1 * leg_px
    tau_s = 1.0 / (2 * np.pi * settings.smoothing.live_min_cutoff_hz)
    plain_lowpass_lag_px = speed_leg_s * leg_px * tau_s
    assert lag_px.mean() < plain_lowpass_lag_px


def test_live_smoother_passes_empty_frames_and_restarts_after_a_gap(settings):
    series, _ = make_walk(direction="backward", duration_s=3.0, noise_px=2.0)
    pts = series.points.copy()
    pts[30:60] = np.nan
    gappy = with_points(series, pts)
    smoother = LiveSmoother(settings)
    out = _feed(smoother, gappy)
    assert np.isnan(out[30:60, :, :3]).all()
    np.testing.assert_allclose(out[60, :, :3], pts[60, :, :3])
    assert not np.allclose(out[61, :, :3], pts[61, :, :3])
    smoother.reset()
    first = smoother.update(series.frame(10)).points
    np.testing.assert_allclose(first[:, :3], series.points[10, :, :3])


def test_live_smoother_repairs_leg_swaps_and_keeps_its_input(settings):
    series, truth = make_walk(direction="backward", duration_s=3.0)
    apart = np.flatnonzero(_frames_apart(series, 0.3 * truth.leg_px))
    start = int(apart[apart > 20][0])
    swapped = swap_legs(series, start, start + 15)
    before = swapped.points.copy()
    ref = _feed(LiveSmoother(settings), series)
    out = _feed(LiveSmoother(settings), swapped)
    np.testing.assert_allclose(out[:, LEGS, :2], ref[:, LEGS, :2], atol=1e-6)
    np.testing.assert_array_equal(swapped.points, before)


def test_live_smoother_gates_low_visibility(settings):
    series, _ = make_walk(duration_s=1.0)
    pts = series.points.copy()
    pts[:, L.NOSE, 3] = 0.1
    frame = PoseFrame(0, 0.0, series.width, series.height, pts[0])
    out = LiveSmoother(settings).update(frame)
    assert np.isnan(out.points[L.NOSE, :3]).all()
    assert out.points[L.NOSE, 3] == pytest.approx(0.1)
    assert np.isfinite(out.points[L.LEFT_HIP, :3]).all()


# Side-view mocap trials with the leg labels swapped twice a second, as BlazePose does in side
# views. Each case is one where repairing a swap against the previous frames alone kept the
# wrong labels for a large part of the trial.
SWAPS_PER_S = 2.0
MOCAP_SWAP_CASES = [
    ("dataset-1_walk-back_chimpira_001.bvh", "right", 3, 1),
    ("dataset-1_walk-back_chimpira_001.bvh", "right", 5, 2),
    ("dataset-1_walk-back_masculinity_001.bvh", "right", 5, 0),
    ("dataset-1_walk-back_not-confident_001.bvh", "right", 3, 1),
    ("dataset-1_walk-back_old_001.bvh", "right", 3, 1),
    ("dataset-1_walk-back_sad_001.bvh", "left", 3, 2),
    ("dataset-1_walk_old_001.bvh", "left", 5, 1),
    ("dataset-1_walk_tired_001.bvh", "right", 3, 2),
]


def _mocap_with_swaps(name: str, side: CameraSide, swap_frames: int, seed: int,
                      xy_only: bool) -> tuple[PoseSeries, PoseSeries, float]:
    """(truth, with swapped leg labels, leg length px) of a side-view mocap trial.

    `xy_only` swaps only x and y, keeping depth and visibility with the label.
    """
    trial = load_trial(MOCAP / name)
    swaps = int(SWAPS_PER_S * len(trial) / trial.fps)
    kw = {"noise_px": 2.0, "far_visibility": 0.8, "seed": seed}
    truth, _ = project_trial(trial, side, **kw)
    swapped, _ = project_trial(trial, side, swaps=swaps, swap_frames=swap_frames, **kw)
    if xy_only:
        pts = truth.points.copy()
        pts[..., :2] = swapped.points[..., :2]
        swapped = with_points(swapped, pts)
    p = truth.points
    leg_px = float(np.median(np.hypot(*(p[:, L.LEFT_HIP, :2] - p[:, L.LEFT_ANKLE, :2]).T)))
    return truth, swapped, leg_px


def _share_labelled_right(points: np.ndarray, truth: PoseSeries, leg_px: float) -> float:
    """Share of the frames with the feet apart whose leg landmarks sit nearer the true labels."""
    left = [a for a, _ in LEG_PAIRS]
    right = [b for _, b in LEG_PAIRS]
    got, want = points[:, :, :2], truth.points[:, :, :2]

    def misfit(a: list[int], b: list[int]) -> np.ndarray:
        return (np.linalg.norm(got[:, left] - want[:, a], axis=2).sum(axis=1)
                + np.linalg.norm(got[:, right] - want[:, b], axis=2).sum(axis=1))

    apart = np.abs(want[:, L.LEFT_ANKLE, 0] - want[:, L.RIGHT_ANKLE, 0]) > 0.15 * leg_px
    return float((misfit(left, right) <= misfit(right, left))[apart].mean())


@needs_shared_data
@pytest.mark.parametrize("xy_only", [False, True], ids=["whole", "xy-only"])
@pytest.mark.parametrize(("name", "side", "swap_frames", "seed"), MOCAP_SWAP_CASES)
def test_missed_swaps_do_not_persist_offline(settings, name, side, swap_frames, seed, xy_only):
    truth, swapped, leg_px = _mocap_with_swaps(name, side, swap_frames, seed, xy_only)
    assert _share_labelled_right(swapped.points, truth, leg_px) < 0.9
    out = smooth_offline(swapped, settings)
    assert _share_labelled_right(out.points, truth, leg_px) >= 0.95


@needs_shared_data
@pytest.mark.parametrize(("name", "side", "swap_frames", "seed"), MOCAP_SWAP_CASES)
def test_missed_swaps_do_not_persist_live(settings, name, side, swap_frames, seed):
    truth, swapped, leg_px = _mocap_with_swaps(name, side, swap_frames, seed, xy_only=False)
    out = _feed(LiveSmoother(settings), swapped)
    assert _share_labelled_right(out, truth, leg_px) >= 0.95


def _pelvis_xy(points: np.ndarray) -> np.ndarray:
    return (points[:, L.LEFT_HIP, :2] + points[:, L.RIGHT_HIP, :2]) / 2


def _looped_walk(name: str, fps: float | None, jitter_s: float, shift_px: float,
                 seed: int) -> tuple[PoseSeries, PoseSeries, float]:
    """(noisy, truth, jump time s) of a mocap walk that stands 1.5 s, walks, then starts over.

    The second take begins where a looped video would (`shift_px` 0: the walker jumps back to
    the start) or shifted by `shift_px` (the tracker taking another person). With `fps`, the
    frames are taken at that rate with uniform timing jitter of +-`jitter_s`, as a loaded live
    server delivers them.
    """
    from tests.mocap.timed_walk import held_trial

    held = held_trial(str(MOCAP / name))
    truth, _ = project_trial(held, "left")
    noisy, _ = project_trial(held, "left", noise_px=2.0, seed=seed)
    take_n = len(held)
    truth_pts = np.concatenate([truth.points, truth.points])
    noisy_pts = np.concatenate([noisy.points, noisy.points])
    truth_pts[take_n:, :, 0] += shift_px
    noisy_pts[take_n:, :, 0] += shift_px
    index = np.arange(2 * take_n)
    if fps is not None:
        rng = np.random.default_rng(seed)
        wanted_s = np.arange(0.0, 2 * take_n / held.fps, 1.0 / fps)
        wanted_s += rng.uniform(-jitter_s, jitter_s, wanted_s.shape)
        index = np.unique(np.clip(np.round(wanted_s * held.fps).astype(int), 0, 2 * take_n - 1))
    time_s = index / held.fps
    make = lambda pts: PoseSeries(time_s, pts[index], truth.width, truth.height)  # noqa: E731
    return make(noisy_pts), make(truth_pts), take_n / held.fps


# (fps or None for the trial's own rate, jitter s, shift px)
JUMP_CASES = [
    (None, 0.0, 0.0),
    (8.0, 0.03, 0.0),
    (10.0, 0.02, 0.0),
    (8.0, 0.03, 300.0),
    (30.0, 0.005, -200.0),
]


@needs_shared_data
@pytest.mark.parametrize(("fps", "jitter_s", "shift_px"), JUMP_CASES)
def test_no_ringing_after_a_jump_of_the_body(settings, fps, jitter_s, shift_px):
    noisy, truth, jump_s = _looped_walk("dataset-1_walk-back_normal_001.bvh", fps, jitter_s,
                                        shift_px, seed=3)
    jump_px = np.hypot(*(_pelvis_xy(truth.points[truth.time_s >= jump_s][:1])
                         - _pelvis_xy(truth.points[truth.time_s < jump_s][-1:]))[0])
    assert jump_px > 150.0
    out = smooth_offline(noisy, settings)
    err_px = np.hypot(*(_pelvis_xy(out.points) - _pelvis_xy(truth.points)).T)
    t = out.time_s
    settled = (t >= jump_s + 0.2) & (t <= jump_s + 1.4)   # standing still again after the jump
    assert err_px[settled].max() < 5.0
    still = _pelvis_xy(out.points[settled])
    assert np.ptp(still, axis=0).max() < 6.0
    before = (t >= 0.2) & (t <= 1.4)
    assert np.ptp(_pelvis_xy(out.points[before]), axis=0).max() < 6.0


# (trial, fps, jitter s, shift px): a looped walk, or one taken over by a walker elsewhere
LIVE_JUMP_CASES = [
    ("dataset-1_walk-back_normal_001.bvh", 30.0, 0.005, 0.0),
    ("dataset-1_walk-back_normal_001.bvh", 8.0, 0.03, -500.0),
    ("dataset-1_walk-back_old_001.bvh", 30.0, 0.005, -500.0),
    ("dataset-1_walk-back_old_001.bvh", 8.0, 0.03, 0.0),
    ("dataset-1_walk-back_active_001.bvh", 30.0, 0.005, 300.0),
    ("dataset-1_walk-back_active_001.bvh", 8.0, 0.03, 300.0),
]


@needs_shared_data
@pytest.mark.parametrize(("name", "fps", "jitter_s", "shift_px"), LIVE_JUMP_CASES)
def test_live_smoother_restarts_at_a_jump_of_the_body(settings, name, fps, jitter_s, shift_px):
    noisy, truth, jump_s = _looped_walk(name, fps, jitter_s, shift_px, seed=3)
    t = truth.time_s
    pelvis = _pelvis_xy(truth.points)
    assert np.hypot(*(pelvis[t >= jump_s][0] - pelvis[t < jump_s][-1])) > 500.0
    smoother = LiveSmoother(settings)
    out = _feed(smoother, noisy)
    assert smoother.body_jumps == 1
    err_px = np.hypot(*(_pelvis_xy(out) - pelvis).T)
    after = (t >= jump_s + 0.1) & (t <= jump_s + 1.0)   # standing still after the jump
    assert after.sum() >= 7
    assert err_px[after].max() < 5.0
    # every landmark starts again at the raw frame after the jump, not between the two bodies
    first = int(np.argmax(t >= jump_s))
    seen = np.isfinite(out[first, :, :3]).all(axis=1)
    np.testing.assert_allclose(out[first, seen, :2], noisy.points[first, seen, :2])


@needs_shared_data
@pytest.mark.parametrize(("fps", "jitter_s"), [(None, 0.0), (8.0, 0.03)])
def test_walking_is_never_taken_for_a_jump(settings, fps, jitter_s):
    restarts = 0
    trials = 0
    for name in shared_names(MOCAP, "*.bvh"):
        trial = load_trial(MOCAP / name)
        for side in ("left", "right"):
            series, _ = project_trial(trial, side, noise_px=2.0, far_visibility=0.8, seed=1,
                                      swaps=int(SWAPS_PER_S * len(trial) / trial.fps))
            if fps is not None:
                rng = np.random.default_rng(5)
                wanted_s = np.arange(0.0, series.time_s[-1], 1.0 / fps)
                wanted_s += rng.uniform(-jitter_s, jitter_s, wanted_s.shape)
                index = np.unique(np.clip(np.round(wanted_s * trial.fps).astype(int), 0,
                                          len(series) - 1))
                series = PoseSeries(series.time_s[index], series.points[index], series.width,
                                    series.height)
            smoother = LiveSmoother(settings)
            _feed(smoother, series)
            restarts += smoother.body_jumps
            trials += 1
            assert filter_segments(series, settings.timing.max_gap_s) == [(0, len(series))]
    assert trials >= 16
    assert restarts == 0
