"""posecoach's offline pipeline against real motion capture seen by a virtual side-view camera.

Every BVH trial in `../shared/data/mocap` (7 backward, 3 forward walks, Bandai-Namco dataset 1,
CC BY-NC 4.0) is projected by `tests/mocap/projection.py` into 33 landmarks (1920x1080, camera at
hip height perpendicular to the walk, 2 px Gaussian pixel noise, near side visibility 0.95, far
side 0.6), then run through `smooth_offline` -> `compute_metrics` -> `analyze_gait`. The truth is
`reference_values.csv` (reproduced from the 3D joints in test_mocap_projection.py).

Tolerances:
- direction: the majority of walking frames (direction "backward" or "forward") has the trial's
  direction (walk-back_* backward, walk_* forward); the same from either camera side (walker
  moving left-to-right and right-to-left in the image), and with short leg label swaps.
- trunk lean: median of per-frame `trunk_lean_deg` within 3 deg of `trunk_lean_deg_median`.
- step length: `GaitSummary.step_length_leg` within 10 % of `step_length_leg`. The CSV's step
  length is the horizontal 3D distance between the ankles, step width included, which no side
  view can see: where the part along the walk (`step_length_along_leg`, the side-view truth) is
  itself more than 10 % shorter than the CSV value, that check is a strict xfail
  (walk-back_chimpira, walk-back_old, walk_old). Every trial, from both sides, must be within
  10 % of the side-view truth.
- cadence: `GaitSummary.cadence_spm` within 10 % of `cadence_spm`, where the reference has one.

Run `python tests/test_mocap.py` (from the project root) for the per-trial table.
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass

import numpy as np
import pytest

from posecoach.coach.gait import analyze_gait
from posecoach.coach.metrics import compute_metrics
from posecoach.coach.smoothing import smooth_offline
from posecoach.settings import load_settings
from tests.conftest import MOCAP as MOCAP_DIR
from tests.conftest import needs_shared_data, shared_names
from tests.mocap.projection import CameraSide, load_trial, project_trial, reference_values

REFERENCE_CSV = MOCAP_DIR / "reference_values.csv"
TRIALS = shared_names(MOCAP_DIR, "*.bvh")

NOISE_PX = 2.0
NEAR_VISIBILITY = 0.95
FAR_VISIBILITY = 0.6
SEED = 7

TRUNK_TOL_DEG = 3.0
STEP_LENGTH_REL_TOL = 0.10
CADENCE_REL_TOL = 0.10

pytestmark = needs_shared_data


@dataclass
class Measured:
    """What posecoach measured on one projected trial."""

    backward_share: float        # of walking frames (direction backward or forward)
    forward_share: float
    walking_frames: int
    trunk_lean_deg_median: float
    head_angle_deg_median: float
    steps: int
    step_length_leg: float | None
    cadence_spm: float | None

    @property
    def direction(self) -> str:
        if self.walking_frames == 0:
            return "unknown"
        return "backward" if self.backward_share > self.forward_share else "forward"


@functools.cache
def reference(name: str) -> dict[str, str]:
    with REFERENCE_CSV.open(newline="") as fh:
        return {row["file"]: row for row in csv.DictReader(fh)}[name]


@functools.cache
def measure(name: str, side: CameraSide = "left", swaps: int = 0) -> Measured:
    """Project a trial and run posecoach's offline pipeline on it."""
    trial = load_trial(MOCAP_DIR / name)
    truth = reference_values(trial)
    settings = load_settings(height_cm=round(float(truth["height_cm"]), 1))
    series, _ = project_trial(
        trial,
        side,
        noise_px=NOISE_PX,
        near_visibility=NEAR_VISIBILITY,
        far_visibility=FAR_VISIBILITY,
        swaps=swaps,
        seed=SEED,
    )
    smoothed = smooth_offline(series, settings)
    metrics = compute_metrics(smoothed, settings)
    gait = analyze_gait(smoothed, metrics, settings)
    directions = metrics.direction.tolist()
    n_back = directions.count("backward")
    n_fwd = directions.count("forward")
    walking = n_back + n_fwd

    def median(values: np.ndarray) -> float:
        arr = np.asarray(values, dtype=np.float64)
        arr = arr[np.isfinite(arr)]
        return float(np.median(arr)) if arr.size else math.nan

    return Measured(
        backward_share=n_back / walking if walking else 0.0,
        forward_share=n_fwd / walking if walking else 0.0,
        walking_frames=walking,
        trunk_lean_deg_median=median(metrics.trunk_lean_deg),
        head_angle_deg_median=median(metrics.head_angle_deg),
        steps=len(gait.steps),
        step_length_leg=gait.step_length_leg,
        cadence_spm=gait.cadence_spm,
    )


def _describe(name: str, got: Measured) -> str:
    return f"{name}: reference {reference(name)}, measured {got}"


@pytest.mark.parametrize("name", TRIALS)
def test_direction(name: str) -> None:
    want = reference(name)["direction"]
    assert want == ("backward" if "walk-back_" in name else "forward")
    got = measure(name)
    assert got.walking_frames > 0, _describe(name, got)
    assert got.direction == want, _describe(name, got)


@pytest.mark.parametrize("name", TRIALS)
def test_direction_same_from_both_camera_sides(name: str) -> None:
    want = reference(name)["direction"]
    left, right = measure(name, "left"), measure(name, "right")
    assert left.direction == want, _describe(name, left)
    assert right.direction == want, _describe(name, right)


@pytest.mark.parametrize("name", TRIALS)
def test_direction_survives_leg_swaps(name: str) -> None:
    got = measure(name, "left", swaps=3)
    assert got.direction == reference(name)["direction"], _describe(name, got)


@pytest.mark.parametrize("name", TRIALS)
def test_trunk_lean(name: str) -> None:
    want = float(reference(name)["trunk_lean_deg_median"])
    for side in ("left", "right"):
        got = measure(name, side)
        assert got.trunk_lean_deg_median == pytest.approx(want, abs=TRUNK_TOL_DEG), _describe(
            name, got
        )


@functools.cache
def side_view_step_length_leg(name: str) -> float:
    """The step length a side view can see: 3D ankle separation along the walk / leg length."""
    value = reference_values(load_trial(MOCAP_DIR / name))["step_length_along_leg"]
    assert value is not None
    return float(value)


def _unreachable_step_length(name: str) -> bool:
    """True where even the side-view truth is outside the tolerance of the CSV's step length."""
    want = float(reference(name)["step_length_leg"])
    return abs(side_view_step_length_leg(name) / want - 1.0) > STEP_LENGTH_REL_TOL


# Not strict: walk_old's side-view truth is 10.2 % below the CSV value, so a measurement a
# little above that truth lands inside the tolerance.
STEP_WIDTH_XFAIL = pytest.mark.xfail(
    strict=False,
    reason="reference_values.csv's step length is the horizontal 3D ankle distance, which holds "
    "the step width; a side view sees only the part along the walk, itself >10% shorter here",
)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(t, marks=STEP_WIDTH_XFAIL) if _unreachable_step_length(t) else t
        for t in TRIALS
    ],
)
def test_step_length(name: str) -> None:
    want = float(reference(name)["step_length_leg"])
    got = measure(name)
    assert got.step_length_leg is not None, _describe(name, got)
    assert got.step_length_leg == pytest.approx(want, rel=STEP_LENGTH_REL_TOL), _describe(
        name, got
    )


@pytest.mark.parametrize("name", TRIALS)
def test_step_length_side_view_truth(name: str) -> None:
    want = side_view_step_length_leg(name)
    for side in ("left", "right"):
        got = measure(name, side)
        assert got.step_length_leg is not None, _describe(name, got)
        assert got.step_length_leg == pytest.approx(want, rel=STEP_LENGTH_REL_TOL), (
            f"side-view truth {want:.3f}; " + _describe(name, got)
        )


@pytest.mark.parametrize("name", [t for t in TRIALS if reference(t)["cadence_spm"]])
def test_cadence(name: str) -> None:
    want = float(reference(name)["cadence_spm"])
    got = measure(name)
    assert got.cadence_spm is not None, _describe(name, got)
    assert got.cadence_spm == pytest.approx(want, rel=CADENCE_REL_TOL), _describe(name, got)


def results_table() -> str:
    """Per-trial reference vs measured numbers (camera on the walker's left)."""

    def fmt(v: float | str | None, spec: str = ".2f") -> str:
        if v is None or v == "":
            return "-"
        return format(float(v), spec)

    head = (
        "| trial | dir ref | back/fwd share L | back/fwd share R | trunk ref | trunk L | trunk R "
        "| head ref | head | steps ref | steps | SL/leg ref | SL/leg side-view truth | SL/leg L "
        "| SL/leg R | cadence ref | cadence |"
    )
    lines = [head, "|" + "---|" * 17]
    for name in TRIALS:
        ref = reference(name)
        left, right = measure(name, "left"), measure(name, "right")
        lines.append(
            f"| {name.removeprefix('dataset-1_').removesuffix('_001.bvh')} | {ref['direction']} "
            f"| {left.backward_share:.2f}/{left.forward_share:.2f} "
            f"| {right.backward_share:.2f}/{right.forward_share:.2f} "
            f"| {fmt(ref['trunk_lean_deg_median'])} | {fmt(left.trunk_lean_deg_median)} "
            f"| {fmt(right.trunk_lean_deg_median)} "
            f"| {fmt(ref['head_angle_deg_median'])} | {fmt(left.head_angle_deg_median)} "
            f"| {ref['steps']} | {left.steps} "
            f"| {fmt(ref['step_length_leg'], '.3f')} | {side_view_step_length_leg(name):.3f} "
            f"| {fmt(left.step_length_leg, '.3f')} | {fmt(right.step_length_leg, '.3f')} "
            f"| {fmt(ref['cadence_spm'], '.1f')} | {fmt(left.cadence_spm, '.1f')} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(results_table())
