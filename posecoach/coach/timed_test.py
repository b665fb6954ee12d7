"""The 3-metre backward walk test (3MBWT) timed from a side-view clip.

Set-up and instruction (Carter et al. 2019): two floor lines 3 m apart, the walker's heels on the
start line, and on "go" the walker walks backwards "as quickly but safely as possible" past the
end line. Here the clock starts at movement onset, when the pelvis leaves a still stance, and
stops when the pelvis has covered `distance_m` backwards along the image's horizontal axis.

The distance scale comes from two floor marks 3 m apart (their horizontal pixel distance at the
walker's floor level, which for a level camera is the scale at the walker's depth), else from the
walker's height against the ear-to-heel height of the still stance. Without either, or when the
walk cannot be followed to 3 m, the result says why it was not timed and carries no number.

A clip may hold several trials: each is a still stance followed by a backward walk. The first
`practice_trials` are practice, the next `trials` count, scored by `scoring`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field
from pydantic.dataclasses import dataclass as record

from posecoach.coach.rolling import quiet_nan_warnings, runs
from posecoach.errors import InputError
from posecoach.pose.landmarks import Landmark
from posecoach.records import RECORD_CONFIG, Real, Record, Records

if TYPE_CHECKING:
    from posecoach.coach.metrics import MetricsSeries
    from posecoach.pose.landmarks import PoseSeries
    from posecoach.settings import Settings, TimedTestSettings

PROTOCOL = "3m_backward_walk"
POPULATIONS = ("community", "nursing_home", "parkinsons", "stroke", "ms")
POPULATION_LABELS = {
    "community": "community-dwelling older adults",
    "nursing_home": "nursing-home residents",
    "parkinsons": "people with Parkinson's disease",
    "stroke": "people after a stroke",
    "ms": "people with multiple sclerosis",
}
NOT_A_DIAGNOSIS = "A screening result to weigh with other findings, not a diagnosis."

L = Landmark
COVERAGE_90 = 1.645   # half-width of a 90% interval, in standard deviations


# ---------------------------------------------------------------------------- published values


@dataclass(frozen=True)
class Cutoff:
    """A published 3MBWT time and what a time at or above (or at or below) it was linked to."""

    population: str
    cutoff_s: float
    above: bool          # True: times >= cutoff_s are the finding; False: times <= cutoff_s
    finding: str
    source: str


CARTER_2019 = ("Carter V, et al. The 3-m Backwards Walk and Retrospective Falls: Diagnostic "
               "Accuracy of a Novel Clinical Measure. J Geriatr Phys Ther. 2019;42:249. "
               "doi:10.1519/JPT.0000000000000149")
POLO_FERRERO_2025 = ("Polo-Ferrero L, et al. The Predictive Capacity of the 3-Meter Backward "
                     "Walk Test for Falls in Older Adults: A Case-Control Analysis. J Funct "
                     "Morphol Kinesiol. 2025;10(2):154. doi:10.3390/jfmk10020154 (n = 483)")
KAPAN_2025 = ("Kapan A, Ristic M, Felsinger R, Konrad A, Waldhoer T. Predictive Accuracy of the "
              "3-m Backward Walk Test for Fall Risk in Older Adults. J Am Med Dir Assoc. 2025. "
              "doi:10.1016/j.jamda.2025.105580 (n = 217, two nursing homes)")
CARTER_2020 = ("Carter VA, Farley BG, Wing K, de Heer HD, Jain TK. Diagnostic Accuracy of the "
               "3-Meter Backward Walk Test in Persons With Parkinson Disease. Top Geriatr "
               "Rehabil. 2020;36(3):140-145. doi:10.1097/TGR.0000000000000272 (n = 175)")
KOCER_2023 = ("Kocer B, Soke F, et al. The reliability and validity of the 3-m backward walk "
              "test in people with Parkinson's disease. Ir J Med Sci. 2023;192(6):3063-3071")
ABIT_KOCAMAN_2021 = ("Abit Kocaman A, Aydogan Arslan S, Ugurlu K, Katirci Kirmaci ZI, Keskin ED. "
                     "Validity and Reliability of the 3-Meter Backward Walk Test in Individuals "
                     "with Stroke. J Stroke Cerebrovasc Dis. 2021;30(1):105462. "
                     "doi:10.1016/j.jstrokecerebrovasdis.2020.105462")
SOKE_2022 = ("Soke F, et al. The 3-m backward walk test: reliability and validity in ambulant "
             "people with multiple sclerosis. Int J Rehabil Res. 2022;45(3):209-214. "
             "doi:10.1097/MRR.0000000000000530")

CUTOFFS: tuple[Cutoff, ...] = (
    Cutoff("community", 4.5, True, "the high fall-risk score proposed for community-dwelling "
           "older adults", CARTER_2019),
    Cutoff("community", 3.0, False, "the low fall-risk score proposed for community-dwelling "
           "older adults", CARTER_2019),
    Cutoff("community", 5.5, True, "the best cut-off between people who had fallen in the past "
           "year and people who had not (sensitivity 59.5 %, specificity 68.6 %)",
           POLO_FERRERO_2025),
    Cutoff("nursing_home", 8.15, True, "the cut-off for falls in the following 4 months",
           KAPAN_2025),
    Cutoff("nursing_home", 9.31, True, "the cut-off for falls in the past 12 months", KAPAN_2025),
    Cutoff("parkinsons", 4.2, True, "the cut-off for a history of falls (AUC 0.70)", CARTER_2020),
    Cutoff("parkinsons", 10.31, True, "the cut-off between people who had fallen and people who "
           "had not", KOCER_2023),
)


@dataclass(frozen=True)
class DetectableChange:
    """The smallest change a retest can tell from measurement error in one population."""

    population: str
    mdc_s: float
    source: str


MDC: dict[str, DetectableChange] = {
    "stroke": DetectableChange("stroke", 1.57, ABIT_KOCAMAN_2021),
    "ms": DetectableChange("ms", 1.69, SOKE_2022),
    "parkinsons": DetectableChange("parkinsons", 2.13, KOCER_2023),
}


# ---------------------------------------------------------------------------- results


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


@record(frozen=True, config=RECORD_CONFIG)
class Interpretation(Record):
    """One sentence about the time against a published value, with its source."""

    kind: Literal["cutoff", "change", "note"] = "note"
    text: str = ""
    source: str = ""
    cutoff_s: Real | None = None
    met: bool | None = None         # the time meets the cut-off's finding


@record(frozen=True, config=RECORD_CONFIG)
class TrialResult(Record):
    """One walk from a still stance: its time, or why it was not timed."""

    number: int = 0                 # 1-based, in the order walked
    practice: bool = False
    timed: bool = False
    time_s: Real | None = None
    start_s: Real | None = None     # movement onset, seconds into the clip
    end_s: Real | None = None       # the pelvis has covered distance_m backwards
    distance_m: Real | None = None  # the timed distance, or how far the walk got
    uncertainty_s: Real | None = None  # frame interval, distance scale, onset: 90% interval
    speed_m_s: Real | None = None
    reason: str | None = None


@record(frozen=True, config=RECORD_CONFIG)
class TimedTestResult(Record):
    """The 3-metre backward walk test timed from the clip: the scored time (None when not
    timed, with the reason) and its trials."""

    protocol: Literal["3m_backward_walk"] = PROTOCOL
    timed: bool = False
    time_s: Real | None = None
    start_s: Real | None = None
    end_s: Real | None = None
    distance_m: Real = 3.0
    uncertainty_s: Real | None = None
    scale_source: Literal["floor_marks", "height"] | None = None
    population: str = "community"
    scoring: str = "mean"
    trials_counted: int = 0
    trials_asked: int = 0
    reason: str | None = Field(None, description="why it was not timed")
    previous_time_s: Real | None = None
    change_s: Real | None = None
    trials: Records[TrialResult] = ()
    interpretation: Records[Interpretation] = ()


# ---------------------------------------------------------------------------- floor marks


MIN_MARK_GAP_PX = 20.0
"""Floor lines closer than this in the picture cannot give a usable scale (1 px is 5 % of it)."""
MAX_BACKWARD_SPEED_M_S = 3.0
"""Faster than anyone walks backwards (brisk healthy adults reach about 2 m/s in this test):
a trial timed faster than this comes from a wrong scale, not a walk."""


def implausible_trial(distance_m: float, time_s: float) -> str | None:
    """Why a timed trial cannot be a backward walk (too fast for a person), or None."""
    if time_s <= 0 or distance_m / time_s > MAX_BACKWARD_SPEED_M_S:
        speed = distance_m / time_s if time_s > 0 else math.inf
        return (f"{distance_m:g} m in {time_s:.2f} s ({speed:.1f} m/s) is faster than anyone "
                f"walks backwards (at most {MAX_BACKWARD_SPEED_M_S:g} m/s): check the floor "
                "marks or the walker's height")
    return None


def metres_short_of(covered_m: float, distance_m: float) -> str:
    """`covered_m` in metres, rounded to one decimal unless that would read as `distance_m` or
    more: then as many decimals as it takes (2.97 of 3 reads "2.97 m", never "3.0 m")."""
    if covered_m < distance_m:
        for digits in (1, 2, 3):
            if round(covered_m, digits) < distance_m:
                return f"{round(covered_m, digits):.{digits}f} m"
        return f"{math.floor(covered_m * 1000) / 1000:.3f} m"
    return f"{covered_m:.1f} m"


@dataclass(frozen=True)
class FloorMarks:
    """Two floor lines a known distance apart, each given by two image points (pixels)."""

    start: tuple[tuple[float, float], tuple[float, float]]
    end: tuple[tuple[float, float], tuple[float, float]]

    @classmethod
    def from_values(cls, values: Sequence[float]) -> FloorMarks:
        """From x1,y1,x2,y2 (one line) then x3,y3,x4,y4 (the other). Raises `InputError`."""
        if len(values) != 8 or not all(math.isfinite(v) for v in values):
            raise InputError("floor marks need 8 numbers: x1,y1,x2,y2 for one line and "
                             "x3,y3,x4,y4 for the other, in pixels")
        v = [float(x) for x in values]
        marks = cls(((v[0], v[1]), (v[2], v[3])), ((v[4], v[5]), (v[6], v[7])))
        for (_, y1), (_, y2) in (marks.start, marks.end):
            if abs(y2 - y1) < 1.0:
                raise InputError("each floor mark must be a line across the walker's path: "
                                 "click one point near the camera and one further away, so the "
                                 "two points differ in height in the picture")
        marks.check_apart()
        return marks

    def check_apart(self) -> None:
        """Refuse lines that cannot be two floor lines a few metres apart: lines that cross
        (or meet) anywhere over the rows they span, or lines closer than `MIN_MARK_GAP_PX`
        there. Raises `InputError` with the reason."""
        ys = [y for line in (self.start, self.end) for _, y in line]
        top, bottom = min(ys), max(ys)
        gaps = [self._x_at(self.end, y) - self._x_at(self.start, y) for y in (top, bottom)]
        if gaps[0] * gaps[1] <= 0:
            raise InputError("the two floor lines cross in the picture: mark two lines that "
                             "run side by side across the walker's path, 3 m apart")
        closest = min(abs(g) for g in gaps)
        if closest < MIN_MARK_GAP_PX:
            raise InputError(f"the two floor lines are only {closest:.1f} pixels apart in the "
                             f"picture (at least {MIN_MARK_GAP_PX:g} are needed): mark lines "
                             "3 m apart on the floor, with both in view")

    @classmethod
    def parse(cls, text: str) -> FloorMarks:
        """From "x1,y1,x2,y2,x3,y3,x4,y4". Raises `InputError`."""
        try:
            values = [float(part) for part in text.replace(" ", "").split(",") if part]
        except ValueError:
            raise InputError(f"floor marks {text!r}: use eight numbers separated by commas, "
                             "x1,y1,x2,y2,x3,y3,x4,y4") from None
        return cls.from_values(values)

    @staticmethod
    def _x_at(line: tuple[tuple[float, float], tuple[float, float]], y: float) -> float:
        (x1, y1), (x2, y2) = line
        return x1 + (y - y1) * (x2 - x1) / (y2 - y1)

    def gap_px(self, floor_y_px: float) -> float:
        """Horizontal pixel distance between the two lines at image row `floor_y_px`."""
        return abs(self._x_at(self.end, floor_y_px) - self._x_at(self.start, floor_y_px))


# ---------------------------------------------------------------------------- timing


@dataclass(frozen=True)
class _Scale:
    m_per_px: float
    rel_uncertainty: float
    source: str


def _mid(p: np.ndarray, a: int, b: int, axis: int) -> np.ndarray:
    with quiet_nan_warnings():
        return np.nanmean(np.stack([p[:, a, axis], p[:, b, axis]]), axis=0)


def _lower_heel_y(p: np.ndarray) -> np.ndarray:
    with quiet_nan_warnings():
        heel = np.nanmax(np.stack([p[:, L.LEFT_HEEL, 1], p[:, L.RIGHT_HEEL, 1]]), axis=0)
        ankle = np.nanmax(np.stack([p[:, L.LEFT_ANKLE, 1], p[:, L.RIGHT_ANKLE, 1]]), axis=0)
    return np.where(np.isfinite(heel), heel, ankle)


def _scale(p: np.ndarray, stance: slice, cfg: TimedTestSettings, height_cm: float | None,
           marks: FloorMarks | None) -> _Scale | str:
    """The metres per pixel at the walker's depth, measured over the still stance."""
    floor_y = float(np.nanmedian(_lower_heel_y(p[stance]))) if stance.stop > stance.start else (
        math.nan)
    if marks is not None:
        if not math.isfinite(floor_y):
            return "the walker's feet were not seen at the start, so the floor marks cannot be used"
        gap = marks.gap_px(floor_y)
        if not gap > 1.0:
            return "the two floor marks meet where the walker stands: mark two separate lines"
        click = cfg.mark_click_px * math.sqrt(2.0) / gap
        return _Scale(cfg.floor_marks_apart_m / gap, click, "floor_marks")
    if height_cm is not None:
        ear_y = _mid(p[stance], L.LEFT_EAR, L.RIGHT_EAR, 1)
        tall_px = float(np.nanmedian(_lower_heel_y(p[stance]) - ear_y))
        if not (math.isfinite(tall_px) and tall_px > 10):
            return "the walker was not seen head to heel while standing at the start"
        return _Scale((height_cm / 100.0 - cfg.crown_above_ear_m) / tall_px,
                      cfg.height_scale_uncertainty, "height")
    return ("no distance scale: give the walker's height (--height-cm) or two floor marks "
            "3 m apart (--floor-marks)")


def _crossing(t: np.ndarray, d: np.ndarray, k: int, level: float) -> float:
    """Time between frames k-1 and k where d rises through `level` (linear)."""
    if k == 0 or not math.isfinite(d[k - 1]) or d[k] == d[k - 1]:
        return float(t[k])
    f = (level - d[k - 1]) / (d[k] - d[k - 1])
    return float(t[k - 1] + min(max(f, 0.0), 1.0) * (t[k] - t[k - 1]))


def _still_runs(still: np.ndarray, t: np.ndarray, min_s: float) -> list[tuple[int, int]]:
    out = []
    for a, b, value in runs(still):
        if value and t[b - 1] - t[a] >= min_s:
            out.append((a, b))
    return out


def _follow(i0: int, x: np.ndarray, t: np.ndarray, x0: float, facing0: int, scale: _Scale,
            metrics: MetricsSeries, cfg: TimedTestSettings, width: int, number: int,
            practice: bool, dt: float, next_still: int) -> tuple[TrialResult, int]:
    """Follow the walk from the still stance at frame i0 until it covers the distance, or say
    why it stopped. Returns the trial and the frame it ended on."""
    n = len(x)
    back = -(x - x0) * facing0 * scale.m_per_px      # metres covered backwards
    facing = np.asarray(metrics.facing, dtype=int)
    # Onset: the last crossing of onset_still_m before the walk first reaches onset_moving_m.
    moving = np.flatnonzero(np.abs(back[i0:]) >= cfg.onset_moving_m)
    if moving.size == 0:
        return TrialResult(number, practice, False, reason="the walker did not start walking"), n
    k_move = i0 + int(moving[0])
    mag = np.abs(back)
    below = np.flatnonzero(mag[i0:k_move] <= cfg.onset_still_m)
    k_on = i0 + int(below[-1]) + 1 if below.size else i0
    onset_s = _crossing(t, mag, k_on, cfg.onset_still_m) if k_on > i0 else float(t[i0])
    # Back along the line through the two thresholds' crossings to where the pelvis left.
    moved_s = _crossing(t, mag, k_move, cfg.onset_moving_m)
    crossed_s = onset_s
    if moved_s > onset_s:
        rate = (cfg.onset_moving_m - cfg.onset_still_m) / (moved_s - onset_s)
        onset_s = max(onset_s - cfg.onset_still_m / rate, float(t[max(k_on - 1, i0)]) - dt)
    onset_term = crossed_s - onset_s     # how far the start was placed back from the threshold
    if back[k_move] < 0:
        return TrialResult(number, practice, False, start_s=_r(onset_s),
                           reason="the walker walked forwards, not backwards"), k_move
    best = 0.0
    wrong_way_since: float | None = None
    limit = min(n, next_still) if next_still > k_move else n
    for k in range(k_on, n):
        lost = not math.isfinite(x[k]) or not (0.0 <= x[k] <= width)
        if lost:
            return TrialResult(
                number, practice, False, start_s=_r(onset_s), distance_m=_r(best, 2),
                reason=f"the walker left the camera's view after "
                       f"{metres_short_of(best, cfg.distance_m)}, before "
                       f"{cfg.distance_m:g} m: place the camera so both lines are in view",
            ), k
        if back[k] >= cfg.distance_m:
            end_s = _crossing(t, back, k, cfg.distance_m)
            lo = max(k - max(1, int(round(0.3 / dt))), k_on)
            span = t[k] - t[lo]
            speed = (back[k] - back[lo]) / span if span > 0 else math.nan
            frame_term = dt / math.sqrt(2.0)
            scale_term = (scale.rel_uncertainty * cfg.distance_m / speed
                          if speed > 0 else math.nan)
            # the interval that holds the true time about 9 times in 10
            uncertainty = COVERAGE_90 * math.sqrt(frame_term**2 + scale_term**2
                                                  + onset_term**2)
            time_s = end_s - onset_s
            if (impossible := implausible_trial(cfg.distance_m, time_s)) is not None:
                return TrialResult(number, practice, False, start_s=_r(onset_s),
                                   reason=impossible), k
            return TrialResult(number, practice, True, _r(time_s), _r(onset_s), _r(end_s),
                               cfg.distance_m, _r(uncertainty, 2), _r(speed, 2)), k
        best = max(best, back[k])
        if facing[k] != 0 and facing[k] != facing0:
            wrong_way_since = t[k] if wrong_way_since is None else wrong_way_since
        else:
            wrong_way_since = None
        if (wrong_way_since is not None and t[k] - wrong_way_since >= cfg.turn_min_s) or (
                best - back[k] >= cfg.forward_back_m):
            return TrialResult(
                number, practice, False, start_s=_r(onset_s), distance_m=_r(best, 2),
                reason=f"the walker turned and walked forwards after "
                       f"{metres_short_of(best, cfg.distance_m)}, before "
                       f"{cfg.distance_m:g} m backwards",
            ), k
        if k >= limit:
            break
    return TrialResult(
        number, practice, False, start_s=_r(onset_s), distance_m=_r(best, 2),
        reason=f"the walk covered only {metres_short_of(best, cfg.distance_m)} backwards, "
               f"less than the {cfg.distance_m:g} m of the test",
    ), min(n, max(limit, k_on + 1))


def _score(times: list[float], scoring: str) -> float:
    if scoring == "best":
        return min(times)
    if scoring == "first":
        return times[0]
    if scoring == "median":
        return float(np.median(times))
    return float(np.mean(times))


def interpret(time_s: float | None, population: str,
              previous_time_s: float | None = None) -> tuple[Interpretation, ...]:
    """The time against the published cut-offs for `population`, and the change since the
    previous test against its minimal detectable change. Never a diagnosis."""
    out: list[Interpretation] = []
    label = POPULATION_LABELS.get(population, population)
    if time_s is None:
        return ()
    cutoffs = [c for c in CUTOFFS if c.population == population]
    for c in cutoffs:
        met = time_s >= c.cutoff_s if c.above else time_s <= c.cutoff_s
        relation = ("at or above" if time_s >= c.cutoff_s else "below") if c.above else (
            "at or below" if time_s <= c.cutoff_s else "above")
        out.append(Interpretation(
            "cutoff",
            f"{time_s:.2f} s is {relation} {c.cutoff_s:g} s, {c.finding}.",
            c.source, c.cutoff_s, met))
    if not cutoffs:
        out.append(Interpretation(
            "note", f"No published fall cut-off of the 3MBWT was found for {label}; "
                    "the time is best followed over repeated tests."))
    mdc = MDC.get(population)
    if previous_time_s is not None:
        change = time_s - previous_time_s
        way = "slower" if change > 0 else "faster"
        if mdc is None:
            out.append(Interpretation(
                "change", f"{abs(change):.2f} s {way} than the previous test "
                          f"({previous_time_s:.2f} s). No published minimal detectable change "
                          f"was found for {label}, so whether this is a real change is not known."))
        else:
            real = abs(change) > mdc.mdc_s
            out.append(Interpretation(
                "change",
                f"{abs(change):.2f} s {way} than the previous test ({previous_time_s:.2f} s): "
                + (f"more than the {mdc.mdc_s:g} s minimal detectable change, a real change."
                   if real else
                   f"within the {mdc.mdc_s:g} s minimal detectable change, not told apart "
                   "from measurement error."),
                mdc.source, mdc.mdc_s, real))
    elif mdc is not None:
        out.append(Interpretation(
            "note", f"A retest must differ by more than {mdc.mdc_s:g} s (the minimal detectable "
                    f"change for {label}) to count as a real change.", mdc.source, mdc.mdc_s))
    out.append(Interpretation("note", NOT_A_DIAGNOSIS))
    return tuple(out)


def _motion(series: PoseSeries, metrics: MetricsSeries,
            cfg: TimedTestSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The pelvis x (NaN where nobody is seen), whether the walker is seen, and whether the
    walker stands still in each frame; None when nobody was seen whole."""
    t = np.asarray(series.time_s, dtype=float)
    x = _mid(series.points, L.LEFT_HIP, L.RIGHT_HIP, 0)
    present = np.asarray(metrics.has_person, dtype=bool) & np.isfinite(x)
    leg = np.asarray(metrics.leg_length_px, dtype=float)
    with quiet_nan_warnings():
        leg_typ = float(np.nanmedian(leg)) if np.isfinite(leg).any() else math.nan
    if not math.isfinite(leg_typ) or leg_typ <= 0 or len(t) < 2:
        return None
    xf = np.where(present, x, np.nan)
    speed_leg = np.abs(np.gradient(np.where(np.isfinite(xf), xf, 0.0), t)) / leg_typ
    # A frame next to a missing one has no usable speed.
    near_gap = ~present
    near_gap[1:] |= ~present[:-1]
    near_gap[:-1] |= ~present[1:]
    still = present & ~near_gap & (speed_leg <= cfg.still_max_speed_leg_s)
    return xf, present, still


def moving_at_end(series: PoseSeries, metrics: MetricsSeries, cfg: TimedTestSettings) -> bool:
    """Whether the walker, seen at the end of `series`, has not stood still for its last
    `still_min_s` as a stance the timing finds: until then an untimed last trial (a walk just
    begun, or not yet at 3 m) may still be under way."""
    motion = _motion(series, metrics, cfg)
    if motion is None:
        return False
    _, present, still = motion
    t = np.asarray(series.time_s, dtype=float)
    recent = t >= t[-1] - cfg.still_min_s
    return bool((present[recent] & ~still[recent]).any())


def time_backward_walk(series: PoseSeries, metrics: MetricsSeries,
                       settings: Settings) -> TimedTestResult:
    """Time every 3MBWT trial in a clip from its smoothed landmarks and metrics."""
    cfg = settings.timed_test
    base = {"distance_m": cfg.distance_m, "population": cfg.population,
            "scoring": cfg.scoring, "trials_asked": cfg.trials,
            "previous_time_s": cfg.previous_time_s}
    try:
        marks = FloorMarks.from_values(cfg.floor_marks_px) if cfg.floor_marks_px else None
    except InputError as exc:
        return TimedTestResult(reason=f"not timed: {exc}", **base)
    if marks is None and settings.height_cm is None:
        return TimedTestResult(reason="not timed: no distance scale. Give the walker's height "
                                      "(--height-cm) or two floor marks 3 m apart "
                                      "(--floor-marks).", **base)
    p = series.points
    t = np.asarray(series.time_s, dtype=float)
    n = len(t)
    if n < 3:
        return TimedTestResult(reason="not timed: the clip is too short", **base)
    dt = float(np.median(np.diff(t)))
    motion = _motion(series, metrics, cfg)
    if motion is None:
        return TimedTestResult(reason="not timed: nobody was seen whole in the clip", **base)
    xf, _, still = motion
    stances = _still_runs(still, t, cfg.still_min_s)
    facing = np.asarray(metrics.facing, dtype=int)
    view = np.asarray(metrics.view)

    trials: list[TrialResult] = []
    scale_source: str | None = None
    resume = 0
    for idx, (a, b) in enumerate(stances):
        if b <= resume:
            continue
        number = len(trials) + 1
        practice = number <= cfg.practice_trials
        window = max(1, int(round(cfg.still_min_s / dt)))
        stance = slice(max(a, b - window), b)
        votes = facing[stance]
        votes = votes[votes != 0]
        side = np.mean(view[stance] == "side") >= 0.5
        next_still = stances[idx + 1][0] if idx + 1 < len(stances) else n
        if not side or votes.size == 0:
            # Not seen from the side: not an attempt at the test (a walker at the far end,
            # a front view); only reported when no trial is found at all.
            continue
        facing0 = int(np.sign(votes.sum())) or int(votes[-1])
        scale = _scale(p, stance, cfg, settings.height_cm, marks)
        if isinstance(scale, str):
            return TimedTestResult(reason=f"not timed: {scale}", **base)
        x0 = float(np.nanmedian(xf[stance]))
        result, stop = _follow(stance.start, xf, t, x0, facing0, scale, metrics, cfg, series.width,
                               number, practice, dt, next_still)
        resume = stop
        if result.reason == "the walker did not start walking":
            continue
        if result.reason == "the walker walked forwards, not backwards":
            continue
        trials.append(result)
        scale_source = scale.source
    return _scored(trials, scale_source, cfg)


NO_TRIAL = ("not timed: no backward walk from a still stance was found. The walker should stand "
            "still, side-on to the camera, for a second before walking backwards.")


def _scored(trials: Sequence[TrialResult], scale_source: str | None, cfg: TimedTestSettings,
            notes: Sequence[Interpretation] = ()) -> TimedTestResult:
    """The test's result from its trials in the order walked: the counted trials' score, or
    why none was timed. `notes` go before the interpretation of the time."""
    base = {"distance_m": cfg.distance_m, "population": cfg.population,
            "scoring": cfg.scoring, "trials_asked": cfg.trials,
            "previous_time_s": cfg.previous_time_s}
    if not trials:
        return TimedTestResult(reason=NO_TRIAL, **base)
    counted = [tr for tr in trials if not tr.practice][: cfg.trials]
    timed = [tr for tr in counted if tr.timed and tr.time_s is not None]
    if not timed:
        first = next((tr.reason for tr in counted if tr.reason), None) or (
            "only practice trials were walked")
        return TimedTestResult(reason=f"not timed: {first}", scale_source=scale_source,
                               trials=tuple(trials), interpretation=tuple(notes), **base)
    times = [float(tr.time_s) for tr in timed if tr.time_s is not None]
    score = _score(times, cfg.scoring)
    nearest = min(timed, key=lambda tr: abs(float(tr.time_s or 0.0) - score))
    unc = [tr.uncertainty_s for tr in timed if tr.uncertainty_s is not None]
    uncertainty = (max(unc) / (math.sqrt(len(unc)) if cfg.scoring == "mean" else 1.0)
                   if unc else None)
    change = None if cfg.previous_time_s is None else _r(score - cfg.previous_time_s, 2)
    return TimedTestResult(
        timed=True, time_s=_r(score, 2), start_s=nearest.start_s, end_s=nearest.end_s,
        uncertainty_s=_r(uncertainty, 2), scale_source=scale_source,
        trials_counted=len(timed), change_s=change, trials=tuple(trials),
        interpretation=(*notes, *interpret(score, cfg.population, cfg.previous_time_s)),
        **base,
    )


# Two analyses place one walk's onset this close; two walks' onsets are further apart, as each
# begins from a still stance of at least `still_min_s` after the walk before.
SAME_ONSET_S = 0.5


def same_walk(a: TrialResult, b: TrialResult) -> bool:
    """Whether two trials are the same walk seen in two analyses: their times overlap, or
    they start together (an untimed trial has no end)."""
    if a.start_s is None or b.start_s is None:
        return False
    if abs(a.start_s - b.start_s) <= SAME_ONSET_S:
        return True
    a_end = a.end_s if a.end_s is not None else a.start_s
    b_end = b.end_s if b.end_s is not None else b.start_s
    return a.start_s <= b_end and b.start_s <= a_end


def keep_reported_trials(final: TimedTestResult, reported: Sequence[TrialResult],
                         cfg: TimedTestSettings) -> TimedTestResult:
    """`final` (the whole session timed at its end) with every timed trial of `reported` (the
    trials timed and told to the walker while the session went on) that it lost.

    A walk timed as it was walked stays timed: the analysis of the whole session smooths each
    moment with what came after it, which can blur a still stance or the walk's end, and a
    result the walker was told must not vanish without a word. A reported trial takes the
    place of the untimed trial covering the same walk, or is added where the final analysis
    found no trial; the result names the trials kept this way."""
    kept: list[TrialResult] = []
    trials = list(final.trials)
    for trial in reported:
        if not trial.timed or trial.start_s is None:
            continue
        same = [tr for tr in trials if same_walk(tr, trial)]
        if any(tr.timed for tr in same):
            continue
        trials = [tr for tr in trials if not same_walk(tr, trial)]
        trials.append(trial)
        kept.append(trial)
    if not kept:
        return final
    trials.sort(key=lambda tr: tr.start_s if tr.start_s is not None else math.inf)
    renumbered = [dataclasses.replace(tr, number=i, practice=i <= cfg.practice_trials)
                  for i, tr in enumerate(trials, start=1)]
    numbers = [tr.number for tr in renumbered if any(tr.start_s == k.start_s for k in kept)]
    which = ", ".join(str(n) for n in numbers)
    note = Interpretation(
        "note", f"Trial{'s' if len(numbers) > 1 else ''} {which} "
                f"{'were' if len(numbers) > 1 else 'was'} timed as walked; the analysis of the "
                "whole session could not follow the same walk again, so the time told during "
                "the test is kept.")
    source = final.scale_source or ("floor_marks" if cfg.floor_marks_px else "height")
    return _scored(renumbered, source, cfg, (note,))
