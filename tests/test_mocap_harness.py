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

# Measured on this harness (see the module docstring): every set-up has trials whose median
# step length is more than 3% off, though 14-17 of the 18 are within it (61 of the 486
# trials and set-ups miss): square-on the errors run from -5.6% to +3.9%, at 10 degrees from
# -3.9% to +3.8%, at 20 degrees from -3.5% to +4.9%. What is left is mostly the near foot's
# perspective, which alternates from step to step and grows with the walker's offset from
# the picture's centre, so the mean of two steps on opposite feet cancels it only near the
# centre (walk_tired seen from its right at 3 m: single steps -16% to +6%), and a camera that
# sees a part of a walk whose steps vary.
STEP_TARGET_MISSED = pytest.mark.xfail(
    strict=True, reason="median step length more than 3% off on 1-4 of 18 trials per set-up: "
                        "measured -5.6..+3.9% at 0 deg, -3.9..+3.8% at 10 deg, "
                        "-3.5..+4.9% at 20 deg")


@cache
def _steps(distance_m: float, angle_deg: float, leg_scale: float) -> tuple[StepRow, ...]:
    return tuple(step_row(MOCAP / name, side, distance_m, angle_deg, leg_scale)
                 for name in STEP_TRIALS for side in SIDES)


def _table(rows: tuple[StepRow, ...]) -> str:
    return "; ".join(f"{r.trial}/{r.side}: "
                     + ("-" if r.error is None else f"{100 * r.error:+.1f}%") for r in rows)


SETUPS = [(d, a, k) for d in DISTANCES_M for a in ANGLES_DEG for k in LEG_SCALES]


@pytest.mark.parametrize(("distance_m", "angle_deg", "leg_scale"), [
    pytest.param(d, a, k, marks=STEP_TARGET_MISSED, id=f"{d:g}m-{a:g}deg-legs{k:g}")
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
