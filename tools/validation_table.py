"""Write docs/measurement-validation.md: posecoach against motion capture, trial by trial.

`python -m tools.validation_table [--out docs/measurement-validation.md]` runs every set-up of
tests/mocap/harness.py (side cameras 3, 4 and 6 m from the walk; the walk 0, 10 and 20 degrees
off the perpendicular; both sides; legs 7% shorter or longer for the same stature, the stature
given) over ../shared/data/mocap, and writes the per-trial tables with a summary per set-up.
It takes a few minutes on one core.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tests.mocap.harness import ANGLES_DEG, DISTANCES_M, HFOV_DEG, LEG_SCALES, NOISE_PX, SIDES
from tests.mocap.validation import StepRow, TimedRow, step_row, timed_row
from tools.shared_data import REPO_ROOT, shared_data_dir

OUT = REPO_ROOT / "docs" / "measurement-validation.md"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.1f}%"


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def _steps_section(rows: Sequence[StepRow]) -> list[str]:
    out = ["## Median step length in metres, from the stature", "",
           "Error of each trial's median step length against the truth along the walk "
           "(target: within 3%). Columns: camera distance and angle off the perpendicular; "
           "rows: trial, camera side and legs (x0.93 shorter, x1.07 longer, same stature).",
           "", "### Per set-up", "",
           "| distance | angle | legs | trials within 3% | median error | range |",
           "|---|---|---|---|---|---|"]
    for d in DISTANCES_M:
        for a in ANGLES_DEG:
            for k in LEG_SCALES:
                errs = [r.error for r in rows if (r.distance_m, r.angle_deg, r.leg_scale)
                        == (d, a, k) and r.error is not None]
                total = sum(1 for r in rows if (r.distance_m, r.angle_deg, r.leg_scale)
                            == (d, a, k))
                within = sum(abs(e) <= 0.03 for e in errs)
                out.append(f"| {d:g} m | {a:g} deg | x{k:g} | {within}/{total} | "
                           f"{_pct(float(np.median(errs)) if errs else None)} | "
                           f"{_pct(min(errs) if errs else None)} .. "
                           f"{_pct(max(errs) if errs else None)} |")
    setups = [(d, a) for d in DISTANCES_M for a in ANGLES_DEG]
    out += ["", "### Per trial", "",
            "| trial | side | legs | " + " | ".join(f"{d:g} m {a:g} deg" for d, a in setups)
            + " |", "|---|---|---|" + "---|" * len(setups)]
    keys = sorted({(r.trial, r.side, r.leg_scale) for r in rows})
    by = {(r.trial, r.side, r.leg_scale, r.distance_m, r.angle_deg): r for r in rows}
    for trial, side, k in keys:
        cells = [_pct(by[(trial, side, k, d, a)].error) for d, a in setups]
        out.append(f"| {trial.removeprefix('dataset-1_').removesuffix('.bvh')} | {side} | "
                   f"x{k:g} | " + " | ".join(cells) + " |")
    return out


def _timed_section(rows: Sequence[TimedRow]) -> list[str]:
    out = ["", "## The 3-metre backward walk test", "",
           "Time from the stature (error, and the stated 90% uncertainty) and from two floor "
           "marks 3 m apart (error), against the time the pelvis took to cover 3 m in 3D "
           "(targets: 0.3 s with the truth inside the uncertainty; 0.2 s from floor marks). "
           "The targets are set for a camera square to the walk; the angled rows show what "
           "an angled camera costs.", "",
           "| trial | side | distance | angle | legs | truth s | stature error s | "
           "uncertainty s | inside | floor marks error s |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        inside = ("-" if r.height_error_s is None or r.height_uncertainty_s is None
                  else "yes" if abs(r.height_error_s) <= r.height_uncertainty_s else "no")
        unc = "-" if r.height_uncertainty_s is None else f"{r.height_uncertainty_s:.2f}"
        out.append(f"| {r.trial.removeprefix('dataset-1_').removesuffix('.bvh')} | {r.side} | "
                   f"{r.distance_m:g} m | {r.angle_deg:g} deg | x{r.leg_scale:g} | "
                   f"{r.truth_s:.2f} | {_s(r.height_error_s)} | {unc} | {inside} | "
                   f"{_s(r.marks_error_s)} |")
    return out


def build(mocap: Path) -> str:
    names = sorted(p for p in mocap.glob("*.bvh") if "walk-back_normal" not in p.name)
    steps = [step_row(p, side, d, a, k) for p in names for d in DISTANCES_M
             for a in ANGLES_DEG for k in LEG_SCALES for side in SIDES]
    timed = [timed_row(p, side, d, a, k) for p in names if "walk-back" in p.name
             for d in DISTANCES_M for a in ANGLES_DEG for k in LEG_SCALES for side in SIDES]
    head = [
        "# Measurement validation against motion capture",
        "",
        "Written by `python -m tools.validation_table` from tests/mocap/harness.py; do not edit "
        "by hand. The walks are the Bandai-Namco motion-capture trials in ../shared/data/mocap "
        "(CC BY-NC 4.0), seen by a level pinhole camera at hip height "
        f"({HFOV_DEG:g} degree wide picture, 1920x1080, {NOISE_PX:g} px noise, the far side's "
        "visibility 0.6), placed 3, 4 or 6 m from the walk's line and turned 0, 10 or 20 "
        "degrees off the perpendicular, on either side of the walker. What leaves the picture "
        "is not seen. The bodies' legs are also made 7% shorter or longer for the same "
        "stature; the stature is always the height given. walk-back_normal (1.2 m, two steps) "
        "is left out. Step metres, speed and the timed test share one body scale "
        "(posecoach/coach/body_scale.py); floor marks 3 m apart remain the recommended scale "
        "for the timed test. A walk at an angle to the picture is found from the walker's "
        "size and place in the picture assuming a 65 degree wide picture (the harness's is "
        "70, so the correction is not tuned to it); the timed test does not correct for the "
        "angle.",
        "",
    ]
    return "\n".join(head + _steps_section(steps) + _timed_section(timed)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    mocap = shared_data_dir() / "mocap"
    if not mocap.is_dir():
        print(f"no motion capture at {mocap}", file=sys.stderr)
        return 1
    args.out.write_text(build(mocap))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
