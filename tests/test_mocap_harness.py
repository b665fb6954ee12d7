"""Metres and the timed test against motion capture under many cameras, angles and bodies.

The set-ups are `tests/mocap/harness.py`'s: perspective side cameras 3, 4 and 6 m from the
walk, the walk 0, 10 and 20 degrees off the perpendicular, both sides of the walker facing the
camera, and legs 7% shorter or longer for the same stature (the stature is given). The targets
are the product's: every trial's median step length within 3% of the truth along the walk; the
timed test from the stature within 0.3 s with the truth inside its stated uncertainty, and
from floor marks within 0.2 s. Where a target is not reached the test stays at the target and
is marked as an expected failure with the figures measured (docs/measurement-validation.md has
every trial: `python -m tools.validation_table`).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from tests.conftest import MOCAP, needs_shared_data, shared_names
from tests.mocap.harness import ANGLES_DEG, DISTANCES_M, LEG_SCALES, SIDES
from tests.mocap.validation import StepRow, TimedRow, step_row, timed_row

pytestmark = needs_shared_data

STEP_REL_TOL = 0.03
HEIGHT_TOL_S = 0.3
MARKS_TOL_S = 0.2

# walk-back_normal covers 1.2 m in two steps: too short for a median step or a 3 m test
STEP_TRIALS = [t for t in shared_names(MOCAP, "*.bvh") if "walk-back_normal" not in t]
TIMED_TRIALS = [t for t in STEP_TRIALS if "walk-back" in t]

# Measured on this harness (see the module docstring): with each step's length taken as the
# 1-2-1 mean of three consecutive steps (two overlapping strides, one of each foot), every
# trial is within 3% with the camera 4 or 6 m away square on, and at 10 degrees with the
# legs as captured; 47 of the 486 trials and set-ups still miss, all in the set-ups below
# (13-17 of 18 within 3%), mostly walk_old, walk_tired and walk-back_not-confident, whose
# steps vary along the walk (a camera 3 m away sees only a part of it): at 3 m -5.1% to
# +5.0%, at 20 degrees up to +5.2% (about a point of that from the walk's angle, found with
# an assumed 65 degree wide picture where this camera's is 70).
STEP_MISSED_SETUPS = frozenset(
    [(3.0, a, k) for a in (0.0, 10.0, 20.0) for k in (0.93, 1.0, 1.07)]
    + [(d, 10.0, k) for d in (4.0, 6.0) for k in (0.93, 1.07)]
    + [(d, 20.0, k) for d in (4.0, 6.0) for k in (0.93, 1.0, 1.07)])
STEP_TARGET_MISSED = pytest.mark.xfail(
    strict=True, reason="median step length more than 3% off on 1-5 of 18 trials in these "
                        "set-ups: measured -4.1..+3.8% at 3 m square on, -5.1..+3.7% at 10 deg, "
                        "-5.0..+5.2% at 20 deg")


@cache
def _steps(distance_m: float, angle_deg: float, leg_scale: float) -> tuple[StepRow, ...]:
    return tuple(step_row(MOCAP / name, side, distance_m, angle_deg, leg_scale)
                 for name in STEP_TRIALS for side in SIDES)


def _table(rows: tuple[StepRow, ...]) -> str:
    return "; ".join(f"{r.trial}/{r.side}: "
                     + ("-" if r.error is None else f"{100 * r.error:+.1f}%") for r in rows)


SETUPS = [(d, a, k) for d in DISTANCES_M for a in ANGLES_DEG for k in LEG_SCALES]


@pytest.mark.parametrize(("distance_m", "angle_deg", "leg_scale"), [
    pytest.param(d, a, k, id=f"{d:g}m-{a:g}deg-legs{k:g}",
                 marks=STEP_TARGET_MISSED if (d, a, k) in STEP_MISSED_SETUPS else ())
    for d, a, k in SETUPS])
def test_median_step_length_within_3_percent_on_every_trial(distance_m, angle_deg, leg_scale):
    rows = _steps(distance_m, angle_deg, leg_scale)
    assert all(r.error is not None and abs(r.error) <= STEP_REL_TOL for r in rows), _table(rows)


@pytest.mark.parametrize(("distance_m", "angle_deg", "leg_scale"), [
    pytest.param(d, a, k, id=f"{d:g}m-{a:g}deg-legs{k:g}") for d, a, k in SETUPS])
def test_the_typical_trial_is_within_3_percent_under_every_set_up(distance_m, angle_deg,
                                                                   leg_scale):
    """What holds: under every camera, angle and leg proportion, the median over the trials
    of their step-length errors is within 3%, and every trial has its metres from the height
    given and its own proportions, with an uncertainty."""
    rows = _steps(distance_m, angle_deg, leg_scale)
    errors = [r.error for r in rows]
    assert all(e is not None for e in errors), _table(rows)
    assert abs(float(np.median(errors))) <= STEP_REL_TOL, _table(rows)
    for r in rows:
        assert r.scale_sources == ("height given", "standing height in the picture",
                                   "leg segments in the picture"), r
        assert r.scale_uncertainty is not None and 0 < r.scale_uncertainty < 0.05


@cache
def _timed(distance_m: float, angle_deg: float, leg_scale: float) -> tuple[TimedRow, ...]:
    return tuple(timed_row(MOCAP / name, side, distance_m, angle_deg, leg_scale)
                 for name in TIMED_TRIALS for side in SIDES)


@pytest.mark.parametrize("leg_scale", LEG_SCALES)
@pytest.mark.parametrize("distance_m", DISTANCES_M)
def test_timed_test_from_the_stature(distance_m, leg_scale):
    """Square-on cameras at every distance, every leg proportion, both sides: the stature
    gives the time within 0.3 s, with the truth inside the stated (90%) uncertainty."""
    for r in _timed(distance_m, 0.0, leg_scale):
        assert r.height_error_s is not None, r
        assert abs(r.height_error_s) <= HEIGHT_TOL_S, r
        assert r.height_uncertainty_s is not None
        assert abs(r.height_error_s) <= r.height_uncertainty_s, r


# Measured: walk-back_old seen from its left with the legs 7% shorter (a 6.5 s walk) reads
# 0.20 s short at 3 m and 0.22 s short at 4 m from floor marks; every other trial and set-up
# is within 0.19 s.
MARKS_TARGET_MISSED = pytest.mark.xfail(
    strict=True, reason="floor marks 0.20-0.22 s short on walk-back_old (left, legs x0.93)")


@pytest.mark.parametrize(("distance_m", "leg_scale"), [
    pytest.param(d, k, id=f"{d:g}m-legs{k:g}",
                 marks=MARKS_TARGET_MISSED if (d, k) in ((3.0, 0.93), (4.0, 0.93)) else ())
    for d in DISTANCES_M for k in LEG_SCALES])
def test_timed_test_from_floor_marks(distance_m, leg_scale):
    """Floor marks 3 m apart, square-on cameras: within 0.2 s on every trial."""
    for r in _timed(distance_m, 0.0, leg_scale):
        assert r.marks_error_s is not None, r
        assert abs(r.marks_error_s) <= MARKS_TOL_S, r
