"""The start-up check: is the camera set up so the coach can judge the walk?

For the first seconds of a live session the coach looks at the set-up instead of coaching:
the whole body in view, a side-on view, a body large enough in the frame, and enough light.
Each frame is measured (`measure_frame`); the measurements so far are judged
(`judge_setup`) into one `SetupCheck` per check, with a short sentence saying what to change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from posecoach.pose.landmarks import L
from posecoach.settings import Settings

# Each body part must be seen (one side is enough, the far side hides behind the body).
BODY_PARTS: tuple[tuple[int, ...], ...] = (
    (L.NOSE, L.LEFT_EYE, L.RIGHT_EYE, L.LEFT_EAR, L.RIGHT_EAR),
    (L.LEFT_SHOULDER, L.RIGHT_SHOULDER),
    (L.LEFT_HIP, L.RIGHT_HIP),
    (L.LEFT_KNEE, L.RIGHT_KNEE),
    (L.LEFT_ANKLE, L.RIGHT_ANKLE, L.LEFT_HEEL, L.RIGHT_HEEL),
)

CHECK_LABELS: dict[str, str] = {
    "whole_body": "Whole body in view",
    "side_on": "Side-on to the camera",
    "distance": "Close enough",
    "light": "Enough light",
}

CHECK_ADVICE: dict[str, str] = {
    "whole_body": "Step back until your whole body shows, head to feet.",
    "side_on": "Turn so the camera sees you from the side.",
    "distance": "Come closer: fill almost half the picture's height.",
    "light": "Turn on more light.",
}

NOBODY_ADVICE = "Step into the camera's view."
ALL_GOOD = "Set-up looks good."


@dataclass(frozen=True)
class FrameSetup:
    """One frame's set-up measurements (NaN where there is nobody to measure)."""

    time_s: float
    has_person: bool
    whole_body: bool
    shoulder_ratio: float      # horizontal shoulder width over torso length: small when side-on
    body_height_frac: float    # the landmarks' span inside the frame, share of the frame height
    visibility: float          # median landmark visibility inside the frame, 0..1
    brightness: float | None   # mean image brightness 0..255, None when not measured


@dataclass(frozen=True)
class SetupCheck:
    """One check's verdict: passed None means it could not be judged (nobody seen)."""

    name: str                  # a key of CHECK_LABELS
    label: str
    passed: bool | None
    value: float | None        # the measured value the verdict rests on
    message: str               # what to change; empty when passed

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "label": self.label, "passed": self.passed,
                "value": self.value, "message": self.message}


@dataclass(frozen=True)
class SetupReport:
    """The start-up check so far (done=False) or its final verdict (done=True)."""

    checks: tuple[SetupCheck, ...]
    done: bool
    elapsed_s: float
    duration_s: float
    person_share: float        # share of the frames so far with a person
    advice: tuple[str, ...] = field(default=())  # what to change, most important first

    @property
    def passed(self) -> bool:
        return all(c.passed is True for c in self.checks)

    @property
    def message(self) -> str:
        """One line to show or say."""
        return " ".join(self.advice) if self.advice else ALL_GOOD

    def check(self, name: str) -> SetupCheck:
        return next(c for c in self.checks if c.name == name)

    def to_dict(self) -> dict[str, object]:
        return {
            "done": self.done,
            "passed": self.passed,
            "elapsed_s": self.elapsed_s,
            "duration_s": self.duration_s,
            "person_share": self.person_share,
            "message": self.message,
            "advice": list(self.advice),
            "checks": [c.to_dict() for c in self.checks],
        }


def image_brightness(image_rgb: np.ndarray) -> float:
    """Mean brightness 0..255 of an RGB frame (a sparse sample is enough)."""
    sample = image_rgb[::8, ::8].astype(np.float32)
    luma = 0.299 * sample[..., 0] + 0.587 * sample[..., 1] + 0.114 * sample[..., 2]
    return float(luma.mean())


def measure_frame(
    points: np.ndarray, time_s: float, width: int, height: int, settings: Settings,
    brightness: float | None = None,
) -> FrameSetup:
    """Measure one frame's (33, 4) landmarks in pixels (all NaN when nobody is seen)."""
    x, y, vis = points[:, 0], points[:, 1], points[:, 3]
    present = np.isfinite(x) & np.isfinite(y)
    if not present.any():
        nan = float("nan")
        return FrameSetup(time_s, False, False, nan, nan, nan, brightness)
    inside = present & (x >= 0) & (x <= width) & (y >= 0) & (y <= height)
    seen = inside & (np.nan_to_num(vis) >= settings.smoothing.min_visibility)
    whole_body = all(seen[list(part)].any() for part in BODY_PARTS)
    shoulders = points[[L.LEFT_SHOULDER, L.RIGHT_SHOULDER], :2]
    hips = points[[L.LEFT_HIP, L.RIGHT_HIP], :2]
    torso_px = float(np.hypot(*(shoulders.mean(axis=0) - hips.mean(axis=0))))
    shoulder_px = abs(float(shoulders[0, 0] - shoulders[1, 0]))
    shoulder_ratio = shoulder_px / torso_px if torso_px > 0 else float("nan")
    top = max(0.0, float(np.nanmin(y[present])))
    bottom = min(float(height), float(np.nanmax(y[present])))
    body_height_frac = max(0.0, bottom - top) / max(height, 1)
    visibility = float(np.nanmedian(vis[inside])) if inside.any() else 0.0
    return FrameSetup(time_s, True, whole_body, shoulder_ratio, body_height_frac, visibility,
                      brightness)


def _share(values: Sequence[bool]) -> float:
    return float(np.mean(values)) if values else 0.0


def judge_setup(frames: Sequence[FrameSetup], settings: Settings, done: bool) -> SetupReport:
    """Judge the frames measured so far into one verdict per check."""
    sc = settings.setup_check
    elapsed_s = frames[-1].time_s - frames[0].time_s if frames else 0.0
    seen = [f for f in frames if f.has_person]
    person_share = len(seen) / len(frames) if frames else 0.0
    lit = [f.brightness for f in frames if f.brightness is not None]
    brightness = float(np.median(lit)) if lit else None
    dark = brightness is not None and brightness < sc.min_brightness
    checks: list[SetupCheck] = []
    if person_share < sc.min_share or not seen:
        for name in ("whole_body", "side_on", "distance"):
            checks.append(SetupCheck(name, CHECK_LABELS[name], False if name == "whole_body"
                                     else None, None, NOBODY_ADVICE if name == "whole_body"
                                     else ""))
        checks.append(_verdict("light", False if dark else None, brightness))
    else:
        whole = _share([f.whole_body for f in seen])
        checks.append(_verdict("whole_body", whole >= sc.min_share, whole))
        ratios = [f.shoulder_ratio for f in seen if np.isfinite(f.shoulder_ratio)]
        ratio = float(np.median(ratios)) if ratios else None
        side_on = None if ratio is None else (
            ratio < settings.metrics.side_view_max_shoulder_ratio)
        checks.append(_verdict("side_on", side_on, ratio))
        size = float(np.median([f.body_height_frac for f in seen]))
        checks.append(_verdict("distance", size >= sc.min_body_height_frac, size))
        vis = float(np.median([f.visibility for f in seen]))
        light = not dark and vis >= sc.min_visibility
        checks.append(_verdict("light", light, brightness if dark else vis))
    advice = tuple(c.message for c in checks if c.passed is False and c.message)
    # Fill the frame only once the whole body shows: stepping closer cannot fix cut-off feet.
    if any(c.name == "whole_body" and c.passed is False for c in checks):
        advice = tuple(a for a in advice if a != CHECK_ADVICE["distance"])
    return SetupReport(tuple(checks), done, elapsed_s, sc.duration_s, person_share, advice)


def _verdict(name: str, passed: bool | None, value: float | None) -> SetupCheck:
    message = CHECK_ADVICE[name] if passed is False else ""
    return SetupCheck(name, CHECK_LABELS[name], passed, value, message)


class SetupChecker:
    """Collects the first `duration_s` seconds of a session and judges the set-up."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.frames: list[FrameSetup] = []
        self.report: SetupReport | None = None

    @property
    def done(self) -> bool:
        return self.report is not None and self.report.done

    def update(self, points: np.ndarray, time_s: float, width: int, height: int,
               brightness: float | None = None) -> SetupReport:
        """Add one frame; the report is final once `duration_s` has passed."""
        if self.done:
            assert self.report is not None
            return self.report
        self.frames.append(
            measure_frame(points, time_s, width, height, self.settings, brightness))
        finished = time_s - self.frames[0].time_s >= self.settings.setup_check.duration_s
        self.report = judge_setup(self.frames, self.settings, done=finished)
        return self.report
