"""The summary in plain words, and the number and time formatting the report shares."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from posecoach.coach.cues import Cue
from posecoach.coach.rules import RULE_LABELS
from posecoach.outputs.summary import (
    CueRecord,
    SessionSummary,
    Thresholds,
    ViewTimes,
    as_summary,
)
from posecoach.settings import Settings

NOTABLE_ASYMMETRY = 0.9
# The walking direction in words, the same on every page, report and table (web/js/words.js
# holds the same words for the pages).
DIRECTION_WORDS = {
    "backward": "Backwards",
    "forward": "Forwards",
    "mixed": "Both ways",
    "standing": "Standing still",
    "turning": "Turning",
    "unknown": "Not measured",
}


# ---------------------------------------------------------------------------- formatting


def num(value: Any) -> float | None:
    """A finite float, or None for None/NaN/inf/non-numbers."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def format_time(seconds: Any) -> str:
    """Seconds as m:ss (h:mm:ss from an hour); an em dash when unknown."""
    value = num(seconds)
    if value is None:
        return "\u2014"
    total = int(round(max(value, 0.0)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def percent(share: Any) -> str:
    value = num(share)
    return "\u2014" if value is None else f"{100 * value:.0f}%"


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def cue_dict(cue: Cue | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(cue, Cue):
        return cue.to_dict()
    return dict(cue)


def rule_label(rule: str) -> str:
    return RULE_LABELS.get(rule, rule.replace("_", " ").capitalize())


def limits_from(summary: SessionSummary, settings: Settings | None) -> Thresholds:
    """The limits a summary was judged against; those it lacks come from `settings`."""
    found = summary.thresholds or Thresholds()
    if settings is not None:
        found = found.filled_from(Thresholds.from_settings(settings))
    return found


# ---------------------------------------------------------------------------- words


def setting_words(summary: SessionSummary) -> list[str]:
    """Where the walk was measured, and the handrails on a treadmill."""
    if summary.setting == "treadmill":
        out = ["Setting: treadmill (or walking in place): steps are measured along the belt, "
               "and the speed is the belt's."]
        rails = summary.handrail_share
        if rails is not None and rails >= 0.1:
            out.append(
                f"You held the handrails for {100 * rails:.0f}% of the walk. Holding on is "
                "fine while you learn; let go only once it feels steady and pain-free."
            )
        return out
    if summary.setting == "overground":
        return ["Setting: overground."]
    return []


def _direction_words(summary: SessionSummary) -> list[str]:
    direction = summary.direction or "unknown"
    duration = summary.duration_s
    backward = summary.backward_time_s or 0.0
    forward = summary.forward_time_s or 0.0
    standing = summary.standing_time_s or 0.0
    clip = f" of the {format_time(duration)} clip" if duration else ""
    share = f" ({100 * backward / duration:.0f}%)" if duration else ""
    extras = []
    if forward >= 0.5:
        extras.append(f"forwards for {format_time(forward)}")
    if standing >= 0.5:
        extras.append(f"stood still for {format_time(standing)}")
    tail = f"; walked {_join(extras)}" if extras else ""

    if summary.direction_reason == "feet out of frame":
        return ["The walking direction was not judged: the feet were out of the frame for much "
                "of the walk. Keep the whole body, feet included, in view."]
    if direction == "backward":
        return [_sentence(f"Walked backwards for {format_time(backward)}{clip}{share}{tail}")]
    if direction == "mixed":
        return [
            _sentence(
                f"Walked both ways: backwards for {format_time(backward)}{clip}{share}{tail}"
            )
        ]
    if direction == "forward":
        return [
            _sentence(
                f"Mostly forward walking was seen ({format_time(forward)}{clip}); backwards for "
                f"only {format_time(backward)}"
            ),
            "posecoach's cues and limits are meant for backward walking.",
        ]
    if backward > 0:
        return [
            _sentence(
                f"The walking direction was mostly unclear; backwards for {format_time(backward)}"
                f"{clip}{share}"
            )
        ]
    return ["No backward walking was recognised: the walking direction could not be determined."]


def _view_words(summary: SessionSummary) -> list[str]:
    view = summary.view or "unknown"
    if view == "side":
        return [
            "Filmed from the side: steps, step length, trunk lean and head angle can be judged."
        ]
    if view == "back":
        return ["Seen from behind: step length and trunk lean can't be judged; film from the side."]
    if view == "front":
        return [
            "Seen from the front: step length and trunk lean can't be judged; film from the side."
        ]
    if view == "mixed":
        times = summary.view_time_s or ViewTimes()
        parts = [
            f"{name} {format_time(seconds)}"
            for name, seconds in (("side", times.side), ("front", times.front),
                                  ("back", times.back))
            if (seconds or 0.0) > 0
        ]
        detail = f" ({', '.join(parts)})" if parts else ""
        return [
            f"The camera view changed{detail}: step length and trunk lean are judged only "
            "while the walker is seen from the side."
        ]
    return [
        "The camera view could not be recognised: film from the side with the whole body in view."
    ]


def _step_words(summary: SessionSummary, limits: Thresholds) -> list[str]:
    steps = summary.steps or 0
    if steps == 0:
        hint = " (steps are counted from a side view)" if summary.view != "side" else ""
        return [f"No steps were detected{hint}."]
    out = []
    cadence = summary.cadence_spm
    step_time = summary.step_time_s
    text = f"{steps} step{'s' if steps != 1 else ''}"
    if cadence is not None:
        text += f" at a cadence of {cadence:.0f} steps per minute"
    if step_time is not None:
        text += f" (median step time {step_time:.2f} s)"
    out.append(_sentence(text))

    length_leg = summary.step_length_leg
    length_m = summary.step_length_m
    if length_leg is None and length_m is None:
        out.append("Step length could not be measured (it needs a side view).")
    else:
        parts = []
        if length_m is not None:
            parts.append(f"{length_m:.2f} m")
        if length_leg is not None:
            parts.append(f"{length_leg:.2f} leg lengths")
        text = "Median step length " + (
            f"{parts[0]} ({parts[1]})" if len(parts) == 2 else parts[0]
        )
        limit = limits.step_max_length_leg
        if limit is not None and length_leg is not None:
            relation = "above" if length_leg > limit else "within"
            text += f", {relation} the {limit:.2f} leg-length limit"
        out.append(_sentence(text))

    what = "Belt speed" if summary.setting == "treadmill" else "Walking speed"
    if summary.speed_m_s is not None:
        out.append(f"{what} about {summary.speed_m_s:.2f} m/s.")
    elif summary.speed_leg_s is not None:
        out.append(f"{what} about {summary.speed_leg_s:.2f} leg lengths per second.")
    return out


def scale_words(summary: SessionSummary) -> list[str]:
    """Where the metres came from and how sure they are (nothing when no metres were given)."""
    scale = summary.body_scale
    if scale is None or scale.leg_m is None or scale.height_m is None:
        return []
    own = [s for s in scale.sources if s.endswith("in the picture")]
    how = (f"the walker's own proportions measured in the picture ({_join(own)})" if own
           else "a typical leg-to-height proportion (the walker's own could not be measured)")
    sure = (f", about \u00b1{100 * scale.rel_uncertainty:.0f}%"
            if scale.rel_uncertainty is not None else "")
    return [_sentence(f"Metres come from the height given ({100 * scale.height_m:.0f} cm) and "
                      f"{how}: a leg of {scale.leg_m:.2f} m{sure}")]


def _posture_words(summary: SessionSummary, limits: Thresholds) -> list[str]:
    out = []
    trunk = summary.trunk_lean_deg_median
    upright = summary.upright_share
    fwd = limits.trunk_max_forward_lean_deg
    back = limits.trunk_max_backward_lean_deg
    if trunk is None:
        out.append("Trunk lean could not be measured (it needs a side view).")
    else:
        way = "forward" if trunk > 0 else "backward" if trunk < 0 else "from vertical"
        text = f"Median trunk lean {abs(trunk):.1f}\u00b0 {way}"
        if fwd is not None and back is not None:
            outside = trunk > fwd or trunk < -back
            text += (
                f" ({'outside' if outside else 'within'} the limits of {fwd:g}\u00b0 forward "
                f"and {back:g}\u00b0 backward)"
            )
        if upright is not None:
            text += f"; upright {percent(upright)} of the time"
        out.append(_sentence(text))

    head = summary.head_angle_deg_median
    head_up = summary.head_up_share
    head_limit = limits.head_max_angle_deg
    if head is None:
        out.append("Head angle could not be measured.")
    else:
        text = f"Median head angle {head:.1f}\u00b0 from vertical"
        if head_limit is not None:
            relation = "above" if head > head_limit else "within"
            text += f" ({relation} the {head_limit:g}\u00b0 limit)"
        if head_up is not None:
            text += f"; head up {percent(head_up)} of the time"
        out.append(_sentence(text))
    return out


def _symmetry_words(summary: SessionSummary) -> list[str]:
    out = []
    for value, what in (
        (summary.step_length_symmetry, "length"),
        (summary.step_time_symmetry, "timing"),
    ):
        if value is not None and value < NOTABLE_ASYMMETRY:
            out.append(
                f"Left and right steps differ in {what}: symmetry {value:.2f} (1.00 is even)."
            )
    missing = _symmetry_missing(summary)
    if missing:
        out.append(missing)
    return out


def _symmetry_missing(summary: SessionSummary) -> str | None:
    """Why a walk with steps has no left/right symmetry, or None when it has one (or no steps)."""
    steps = summary.step_list
    if not summary.steps or not steps:
        return None
    if summary.step_length_symmetry is None:
        if len(steps) < 2:
            return ("Left/right symmetry was not measured: it needs steps with both feet, "
                    "and only one step was seen.")
        sides = {s.side for s in steps}
        if len(sides) == 1 and None not in sides:
            return (f"Left/right symmetry was not measured: every step seen was taken with the "
                    f"{steps[0].side} foot.")
        return None
    if summary.step_time_symmetry is None:
        return ("Left/right step timing was not compared: it needs at least two steps in a row "
                "with each foot.")
    return None


def _cue_words(cues: Sequence[CueRecord]) -> list[str]:
    groups: dict[str, list[CueRecord]] = {}
    for cue in sorted(cues, key=lambda c: c.start_s or 0.0):
        groups.setdefault(cue.rule, []).append(cue)
    praise = groups.pop("good_form", [])
    out = []
    if not groups:
        out.append("No form problems were flagged.")
    else:
        ranked = sorted(
            groups.items(),
            key=lambda kv: (min(c.priority or 5 for c in kv[1]), -len(kv[1])),
        )
        for rule, items in ranked[:4]:
            times = [format_time(c.start_s) for c in items]
            shown = times[:5] + ([f"{len(times) - 5} more"] if len(times) > 5 else [])
            message = items[0].message.strip()
            count = "once" if len(items) == 1 else f"{len(items)} times"
            out.append(
                f"Cue \u201c{message}\u201d ({rule_label(rule).lower()}): {count}, "
                f"at {_join(shown)}."
            )
        if len(ranked) > 4:
            rest = [rule_label(rule).lower() for rule, _ in ranked[4:]]
            out.append(f"Other cues: {_join(rest)}.")
    if praise:
        count = "once" if len(praise) == 1 else f"{len(praise)} times"
        out.append(f"Good form was praised {count}.")
    return out


def summary_in_words(summary: SessionSummary | Mapping[str, Any]) -> list[str]:
    """Plain-language sentences about a session's summary, for the walker or a coach.

    `summary` may also be a stored summary.json's content.
    """
    summary = as_summary(summary)
    out: list[str] = []
    frames = summary.frames or 0
    with_person = summary.frames_with_person or 0
    warnings = [_sentence(f"Warning: {w}") for w in summary.warnings if str(w).strip()]
    if with_person == 0:
        out.append(
            "Nobody was seen in the video, so nothing could be measured: make sure the whole "
            "body is in view."
        )
        return out + warnings

    limits = limits_from(summary, None)
    out += _direction_words(summary)
    if frames and with_person / frames < 0.8:
        out.append(f"The walker was visible in only {100 * with_person / frames:.0f}% of frames.")
    out += _view_words(summary)
    out += setting_words(summary)
    out += _step_words(summary, limits)
    out += scale_words(summary)
    out += _posture_words(summary, limits)
    out += _symmetry_words(summary)
    out += _cue_words(summary.cues)
    return out + warnings
