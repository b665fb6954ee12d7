"""Session report: a plain-language summary, plots, and one self-contained `report.html`.

The page has no external assets (no scripts, fonts, stylesheets or images from elsewhere):
plots are inline SVG, styles are inline CSS, and every piece of text is HTML-escaped.
"""

from __future__ import annotations

import contextlib
import html
import io
import math
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

from posecoach.cues import RULE_IDS, Cue
from posecoach.gait import GaitSummary, Step
from posecoach.metrics import FrameMetrics
from posecoach.settings import Settings

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter, MultipleLocator  # noqa: E402

__all__ = ["PLOT_TITLES", "format_time", "render_plots", "summary_in_words", "write_report"]

PLOT_TITLES: dict[str, str] = {
    "posture": "Trunk lean and head angle over time",
    "step_length": "Step length per step",
    "cadence": "Cadence over time",
    "cues": "Coaching cues over time",
    "direction_view": "Walking direction and camera view over time",
}

RULE_LABELS: dict[str, str] = {
    "fall": "Fall",
    "in_frame": "In frame",
    "trunk_upright": "Trunk upright",
    "trunk_sway": "Trunk sway",
    "head_up": "Head up",
    "look_back": "Looking back",
    "step_length": "Step length",
    "camera_view": "Camera view",
    "good_form": "Good form",
}

# Okabe-Ito palette: distinguishable with common colour-vision deficiencies.
BLUE, ORANGE, GREEN, VERMILLION = "#0072B2", "#E69F00", "#009E73", "#D55E00"
SKY, PURPLE, YELLOW, GREY, LIGHT = "#56B4E9", "#CC79A7", "#F0E442", "#8C8C8C", "#DDDDDD"
LIMIT = "#B2182B"

SEVERITY_COLORS = {"info": SKY, "warning": ORANGE, "critical": VERMILLION}
SIDE_COLORS = {"left": BLUE, "right": ORANGE}
DIRECTION_COLORS = {
    "backward": GREEN,
    "forward": ORANGE,
    "standing": SKY,
    "turning": YELLOW,
    "unknown": LIGHT,
    "no person": "#FFFFFF",
}
VIEW_COLORS = {
    "side": BLUE,
    "front": PURPLE,
    "back": VERMILLION,
    "unknown": LIGHT,
    "no person": "#FFFFFF",
}

NOTABLE_ASYMMETRY = 0.9

_SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "posecoach"}
_SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


# ---------------------------------------------------------------------------- formatting


def _num(value: Any) -> float | None:
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
    value = _num(seconds)
    if value is None:
        return "\u2014"
    total = int(round(max(value, 0.0)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def _pct(share: Any) -> str:
    value = _num(share)
    return "\u2014" if value is None else f"{100 * value:.0f}%"


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _cue_dict(cue: Cue | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(cue, Cue):
        return cue.to_dict()
    return dict(cue)


def _rule_label(rule: str) -> str:
    return RULE_LABELS.get(rule, rule.replace("_", " ").capitalize())


def _thresholds(summary: Mapping[str, Any], settings: Settings | None) -> dict[str, float | None]:
    found = dict(summary.get("thresholds") or {})
    if settings is not None:
        rules = settings.rules
        found.setdefault("trunk_max_forward_lean_deg", rules.trunk_upright.max_forward_lean_deg)
        found.setdefault("trunk_max_backward_lean_deg", rules.trunk_upright.max_backward_lean_deg)
        found.setdefault("head_max_angle_deg", rules.head_up.max_head_angle_deg)
        found.setdefault("step_max_length_leg", rules.step_length.max_step_length_leg)
    keys = (
        "trunk_max_forward_lean_deg",
        "trunk_max_backward_lean_deg",
        "head_max_angle_deg",
        "step_max_length_leg",
    )
    return {key: _num(found.get(key)) for key in keys}


# ---------------------------------------------------------------------------- words


def _direction_words(summary: Mapping[str, Any]) -> list[str]:
    direction = summary.get("direction") or "unknown"
    duration = _num(summary.get("duration_s"))
    backward = _num(summary.get("backward_time_s")) or 0.0
    forward = _num(summary.get("forward_time_s")) or 0.0
    standing = _num(summary.get("standing_time_s")) or 0.0
    clip = f" of the {format_time(duration)} clip" if duration else ""
    share = f" ({100 * backward / duration:.0f}%)" if duration else ""
    extras = []
    if forward >= 0.5:
        extras.append(f"forwards for {format_time(forward)}")
    if standing >= 0.5:
        extras.append(f"stood still for {format_time(standing)}")
    tail = f"; walked {_join(extras)}" if extras else ""

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


def _view_words(summary: Mapping[str, Any]) -> list[str]:
    view = summary.get("view") or "unknown"
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
        times = summary.get("view_time_s") or {}
        parts = [
            f"{name} {format_time(times.get(name))}"
            for name in ("side", "front", "back")
            if (_num(times.get(name)) or 0.0) > 0
        ]
        detail = f" ({', '.join(parts)})" if parts else ""
        return [
            f"The camera view changed{detail}: step length and trunk lean are judged only "
            "while the walker is seen from the side."
        ]
    return [
        "The camera view could not be recognised: film from the side with the whole body in view."
    ]


def _step_words(summary: Mapping[str, Any], limits: Mapping[str, float | None]) -> list[str]:
    steps = int(_num(summary.get("steps")) or 0)
    if steps == 0:
        hint = " (steps are counted from a side view)" if summary.get("view") != "side" else ""
        return [f"No steps were detected{hint}."]
    out = []
    cadence = _num(summary.get("cadence_spm"))
    step_time = _num(summary.get("step_time_s"))
    text = f"{steps} step{'s' if steps != 1 else ''}"
    if cadence is not None:
        text += f" at a cadence of {cadence:.0f} steps per minute"
    if step_time is not None:
        text += f" (median step time {step_time:.2f} s)"
    out.append(_sentence(text))

    length_leg = _num(summary.get("step_length_leg"))
    length_m = _num(summary.get("step_length_m"))
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
        limit = limits.get("step_max_length_leg")
        if limit is not None and length_leg is not None:
            relation = "above" if length_leg > limit else "within"
            text += f", {relation} the {limit:.2f} leg-length limit"
        out.append(_sentence(text))

    speed_m = _num(summary.get("speed_m_s"))
    speed_leg = _num(summary.get("speed_leg_s"))
    if speed_m is not None:
        out.append(f"Walking speed about {speed_m:.2f} m/s.")
    elif speed_leg is not None:
        out.append(f"Walking speed about {speed_leg:.2f} leg lengths per second.")
    return out


def _posture_words(summary: Mapping[str, Any], limits: Mapping[str, float | None]) -> list[str]:
    out = []
    trunk = _num(summary.get("trunk_lean_deg_median"))
    upright = _num(summary.get("upright_share"))
    fwd = limits.get("trunk_max_forward_lean_deg")
    back = limits.get("trunk_max_backward_lean_deg")
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
            text += f"; upright {_pct(upright)} of the time"
        out.append(_sentence(text))

    head = _num(summary.get("head_angle_deg_median"))
    head_up = _num(summary.get("head_up_share"))
    head_limit = limits.get("head_max_angle_deg")
    if head is None:
        out.append("Head angle could not be measured.")
    else:
        text = f"Median head angle {head:.1f}\u00b0 from vertical"
        if head_limit is not None:
            relation = "above" if head > head_limit else "within"
            text += f" ({relation} the {head_limit:g}\u00b0 limit)"
        if head_up is not None:
            text += f"; head up {_pct(head_up)} of the time"
        out.append(_sentence(text))
    return out


def _symmetry_words(summary: Mapping[str, Any]) -> list[str]:
    out = []
    for key, what in (
        ("step_length_symmetry", "length"),
        ("step_time_symmetry", "timing"),
    ):
        value = _num(summary.get(key))
        if value is not None and value < NOTABLE_ASYMMETRY:
            out.append(
                f"Left and right steps differ in {what}: symmetry {value:.2f} (1.00 is even)."
            )
    return out


def _cue_words(cues: Sequence[Mapping[str, Any]]) -> list[str]:
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for cue in sorted(cues, key=lambda c: _num(c.get("start_s")) or 0.0):
        groups.setdefault(str(cue.get("rule", "")), []).append(cue)
    praise = groups.pop("good_form", [])
    out = []
    if not groups:
        out.append("No form problems were flagged.")
    else:
        ranked = sorted(
            groups.items(),
            key=lambda kv: (min(int(_num(c.get("priority")) or 5) for c in kv[1]), -len(kv[1])),
        )
        for rule, items in ranked[:4]:
            times = [format_time(c.get("start_s")) for c in items]
            shown = times[:5] + ([f"{len(times) - 5} more"] if len(times) > 5 else [])
            message = str(items[0].get("message", "")).strip()
            count = "once" if len(items) == 1 else f"{len(items)} times"
            out.append(
                f"Cue \u201c{message}\u201d ({_rule_label(rule).lower()}): {count}, "
                f"at {_join(shown)}."
            )
        if len(ranked) > 4:
            rest = [_rule_label(rule).lower() for rule, _ in ranked[4:]]
            out.append(f"Other cues: {_join(rest)}.")
    if praise:
        count = "once" if len(praise) == 1 else f"{len(praise)} times"
        out.append(f"Good form was praised {count}.")
    return out


def summary_in_words(summary: Mapping[str, Any]) -> list[str]:
    """Plain-language sentences about a session's summary, for the walker or a coach."""
    out: list[str] = []
    frames = int(_num(summary.get("frames")) or 0)
    with_person = int(_num(summary.get("frames_with_person")) or 0)
    warnings = [_sentence(f"Warning: {w}") for w in summary.get("warnings") or [] if str(w).strip()]
    if with_person == 0:
        out.append(
            "Nobody was seen in the video, so nothing could be measured: make sure the whole "
            "body is in view."
        )
        return out + warnings

    limits = _thresholds(summary, None)
    out += _direction_words(summary)
    if frames and with_person / frames < 0.8:
        out.append(f"The walker was visible in only {100 * with_person / frames:.0f}% of frames.")
    out += _view_words(summary)
    out += _step_words(summary, limits)
    out += _posture_words(summary, limits)
    out += _symmetry_words(summary)
    out += _cue_words([_cue_dict(c) for c in summary.get("cues") or []])
    return out + warnings


# ---------------------------------------------------------------------------- plots


_TICK_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def _time_axis(ax: Any, label: bool = True) -> None:
    """Ticks on whole seconds or minutes, labelled m:ss."""
    low, high = ax.get_xlim()
    span = max(high - low, 1e-9)
    step = next((s for s in _TICK_STEPS_S if span / s <= 9), _TICK_STEPS_S[-1])
    ax.xaxis.set_major_locator(MultipleLocator(step))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: format_time(x)))
    if label:
        ax.set_xlabel("time (m:ss)")


def _style(ax: Any) -> None:
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.grid(True, axis="y", color="#E5E5E5", linewidth=0.8)
    ax.set_axisbelow(True)


def _limit_line(ax: Any, y: float, text: str, above: bool = True) -> None:
    ax.axhline(y, color=LIMIT, linestyle="--", linewidth=1.2, zorder=3)
    ax.text(
        0.995,
        y,
        text,
        transform=ax.get_yaxis_transform(),
        ha="right",
        va="bottom" if above else "top",
        color=LIMIT,
        fontsize=9,
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.5},
        zorder=4,
    )


def _no_data(reason: str) -> Figure:
    fig = Figure(figsize=(9, 1.4), layout="constrained")
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.62, "no data", ha="center", va="center", fontsize=14, color=GREY)
    ax.text(0.5, 0.25, reason, ha="center", va="center", fontsize=10, color=GREY)
    return fig


def _clip_end(metrics: Sequence[FrameMetrics], cues: Sequence[Cue | Mapping[str, Any]]) -> float:
    times = [m.time_s for m in metrics if _num(m.time_s) is not None]
    for cue in cues:
        c = _cue_dict(cue)
        times += [v for v in (_num(c.get("start_s")), _num(c.get("end_s"))) if v is not None]
    return max(times, default=0.0)


def _posture_plot(metrics: Sequence[FrameMetrics], settings: Settings) -> tuple[Figure, str]:
    fwd = settings.rules.trunk_upright.max_forward_lean_deg
    back = settings.rules.trunk_upright.max_backward_lean_deg
    head_limit = settings.rules.head_up.max_head_angle_deg
    limits = (
        f"Limits: trunk {fwd:g}\u00b0 forward and {back:g}\u00b0 backward; "
        f"head {head_limit:g}\u00b0."
    )
    t = np.array([m.time_s for m in metrics], dtype=float)
    trunk = np.array([m.trunk_lean_deg if m.has_person else np.nan for m in metrics], dtype=float)
    head = np.array([m.head_angle_deg if m.has_person else np.nan for m in metrics], dtype=float)
    if t.size == 0 or not (np.isfinite(trunk).any() or np.isfinite(head).any()):
        return _no_data("no trunk or head angles were measured"), f"No data. {limits}"

    fig = Figure(figsize=(9, 5.0), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    not_side = np.array([m.view != "side" for m in metrics])
    for ax in (ax1, ax2):
        _style(ax)
        if not_side.any() and not not_side.all():
            ax.fill_between(
                t, 0, 1, where=not_side, transform=ax.get_xaxis_transform(),
                color="#F2F2F2", step="mid", linewidth=0, label="not side view",
            )

    ax1.axhspan(-back, fwd, color=GREEN, alpha=0.08, linewidth=0)
    ax1.axhline(0, color=GREY, linewidth=0.6)
    ax1.plot(t, trunk, color=BLUE, linewidth=1.6, label="trunk lean")
    _limit_line(ax1, fwd, f"forward limit +{fwd:g}\u00b0", above=True)
    _limit_line(ax1, -back, f"backward limit \u2212{back:g}\u00b0", above=False)
    finite = trunk[np.isfinite(trunk)]
    low = min(-1.5 * back, float(finite.min()) - 2 if finite.size else 0.0)
    high = max(1.5 * fwd, float(finite.max()) + 2 if finite.size else 0.0)
    ax1.set_ylim(low, high)
    ax1.set_ylabel("trunk lean (\u00b0)\n+ forward, \u2212 backward")
    if not finite.size:
        ax1.text(0.5, 0.5, "no trunk lean data (needs a side view)", ha="center",
                 transform=ax1.transAxes, color=GREY)

    ax2.plot(t, head, color=PURPLE, linewidth=1.6, label="head angle")
    _limit_line(ax2, head_limit, f"head limit {head_limit:g}\u00b0", above=True)
    finite_h = head[np.isfinite(head)]
    low = min(0.0, float(finite_h.min()) - 2 if finite_h.size else 0.0)
    high = max(1.4 * head_limit, float(finite_h.max()) + 3 if finite_h.size else 0.0)
    ax2.set_ylim(low, high)
    ax2.set_ylabel("head angle (\u00b0)\nfrom vertical, + forward")
    if not finite_h.size:
        ax2.text(0.5, 0.5, "no head angle data", ha="center", transform=ax2.transAxes, color=GREY)
    ax2.set_xlim(float(t.min()), float(t.max()) if t.max() > t.min() else float(t.min()) + 1)
    _time_axis(ax1, label=False)
    _time_axis(ax2)
    for ax in (ax1, ax2):
        handles, _labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(loc="upper left", fontsize=9, frameon=False, ncol=2)
    desc = (
        "Trunk lean (top) and head angle (bottom) against time, with dashed red limit lines. "
        + limits
    )
    return fig, desc


def _steps_in_metres(steps: Sequence[Step]) -> bool:
    return bool(steps) and all(_num(s.step_length_m) is not None for s in steps)


def _step_length_plot(gait: GaitSummary | None, settings: Settings) -> tuple[Figure, str]:
    steps = [s for s in (gait.steps if gait else []) if _num(s.step_length_leg) is not None]
    limit_leg = settings.rules.step_length.max_step_length_leg
    if not steps:
        return _no_data("no steps with a measurable length (needs a side view)"), (
            f"No data. Step length limit {limit_leg:g} leg lengths."
        )
    metres = _steps_in_metres(steps)
    if metres:
        if settings.height_cm:
            scale = settings.height_cm / 100 * settings.metrics.leg_length_ratio
        else:
            scale = float(np.median([s.step_length_m / s.step_length_leg for s in steps
                                     if s.step_length_leg and s.step_length_m]))
        unit, limit = "m", limit_leg * scale
        limit_text = f"limit {limit:.2f} m ({limit_leg:g} leg lengths)"
    else:
        unit, limit = "leg lengths", limit_leg
        limit_text = f"limit {limit_leg:g} leg lengths"

    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax = fig.add_subplot()
    _style(ax)
    top = limit
    for side, marker in (("left", "o"), ("right", "s")):
        mine = [s for s in steps if s.side == side]
        if not mine:
            continue
        xs = [s.time_s for s in mine]
        ys = [float(s.step_length_m) if metres else s.step_length_leg for s in mine]
        top = max(top, max(ys))
        ax.plot(xs, ys, marker=marker, markersize=6, linewidth=1, color=SIDE_COLORS[side],
                label=f"{side} foot lands ({len(mine)})")
    _limit_line(ax, limit, limit_text)
    ax.set_ylim(0, top * 1.2)
    ax.set_ylabel(f"step length ({unit})")
    _time_axis(ax)
    ax.legend(loc="lower left", fontsize=9, frameon=False, ncol=2)
    desc = (
        f"Length of each step in {unit}, left and right foot in two colours, "
        f"with a dashed red line at the {limit_text}."
    )
    return fig, desc


def _cadence_plot(gait: GaitSummary | None) -> tuple[Figure, str]:
    steps = [
        s for s in (gait.steps if gait else []) if (_num(s.step_time_s) or 0.0) > 0
    ]
    if len(steps) < 2:
        return _no_data("fewer than two steps with a step time"), "No data."
    t = np.array([s.time_s for s in steps], dtype=float)
    spm = 60.0 / np.array([float(s.step_time_s) for s in steps], dtype=float)  # type: ignore[arg-type]
    half = 2
    rolling = np.array(
        [np.median(spm[max(0, i - half): i + half + 1]) for i in range(spm.size)], dtype=float
    )
    fig = Figure(figsize=(9, 3.0), layout="constrained")
    ax = fig.add_subplot()
    _style(ax)
    ax.plot(t, spm, linestyle="none", marker="o", markersize=4, color=GREY,
            label="each step (60 / step time)")
    ax.plot(t, rolling, color=BLUE, linewidth=2, label="running median of 5 steps")
    median = _num(gait.cadence_spm) if gait else None
    if median is None:
        median = float(np.median(spm))
    ax.axhline(median, color=GREEN, linestyle=":", linewidth=1.4)
    ax.text(0.005, median, f"median {median:.0f} steps/min", transform=ax.get_yaxis_transform(),
            ha="left", va="bottom", color=GREEN, fontsize=9)
    ax.set_ylim(0, max(float(spm.max()), median) * 1.25)
    ax.set_ylabel("cadence (steps/min)")
    _time_axis(ax)
    ax.legend(loc="lower right", fontsize=9, frameon=False, ncol=2)
    desc = (
        f"Cadence in steps per minute for each step and as a running median; "
        f"overall median {median:.0f} steps per minute."
    )
    return fig, desc


def _cue_plot(
    cues: Sequence[Cue | Mapping[str, Any]], end_s: float
) -> tuple[Figure, str]:
    items = [_cue_dict(c) for c in cues if _num(_cue_dict(c).get("start_s")) is not None]
    if not items:
        return _no_data("no coaching cues were given"), "No cues were given."
    present = {str(c.get("rule")) for c in items}
    rows = [r for r in RULE_IDS if r in present] + sorted(present - set(RULE_IDS))
    span = max(end_s, max(_num(c.get("end_s")) or _num(c["start_s"]) or 0.0 for c in items))
    span = max(span, 1.0)
    min_width = span * 0.006
    fig = Figure(figsize=(9, 0.9 + 0.42 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    for row, rule in enumerate(rows):
        bars = []
        colors = []
        for c in items:
            if str(c.get("rule")) != rule:
                continue
            start = float(_num(c["start_s"]) or 0.0)
            end = _num(c.get("end_s"))
            end = span if end is None else end
            bars.append((start, max(end - start, min_width)))
            colors.append(SEVERITY_COLORS.get(str(c.get("severity")), GREY))
        ax.broken_barh(bars, (row - 0.32, 0.64), facecolors=colors, edgecolor="#333333",
                       linewidth=0.5)
    ax.set_yticks(range(len(rows)), [_rule_label(r) for r in rows])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, span)
    ax.grid(True, axis="x", color="#E5E5E5", linewidth=0.8)
    ax.set_axisbelow(True)
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    _time_axis(ax)
    handles = [Patch(facecolor=color, edgecolor="#333333", label=name)
               for name, color in SEVERITY_COLORS.items()]
    ax.legend(handles=handles, title="severity", loc="upper left", bbox_to_anchor=(1.0, 1.0),
              fontsize=9, title_fontsize=9, frameon=False, alignment="left")
    desc = (
        f"One row per rule ({', '.join(_rule_label(r) for r in rows)}); each bar spans a cue "
        "from start to end, coloured by severity (info, warning, critical)."
    )
    return fig, desc


def _runs(times: np.ndarray, labels: Sequence[str]) -> list[tuple[str, float, float]]:
    if times.size == 0:
        return []
    step = float(np.median(np.diff(times))) if times.size > 1 else 1.0
    out: list[tuple[str, float, float]] = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            end = float(times[i]) if i < len(labels) else float(times[-1]) + step
            out.append((labels[start], float(times[start]), end - float(times[start])))
            start = i
    return out


def _direction_view_plot(metrics: Sequence[FrameMetrics]) -> tuple[Figure, str]:
    if not metrics:
        return _no_data("no video frames were analysed"), "No data."
    if not any(m.has_person for m in metrics):
        return _no_data("nobody was seen in the video"), "No data: nobody was seen."
    t = np.array([m.time_s for m in metrics], dtype=float)
    direction = [m.direction if m.has_person else "no person" for m in metrics]
    view = [m.view if m.has_person else "no person" for m in metrics]
    fig = Figure(figsize=(9, 2.0), layout="constrained")
    ax = fig.add_subplot()
    rows = ((1, direction, DIRECTION_COLORS), (0, view, VIEW_COLORS))
    used: dict[str, list[str]] = {"direction": [], "view": []}
    for y, labels, palette in rows:
        runs = _runs(t, labels)
        ax.broken_barh(
            [(start, width) for _label, start, width in runs], (y - 0.38, 0.76),
            facecolors=[palette.get(label, LIGHT) for label, _s, _w in runs], linewidth=0,
        )
        kind = "direction" if y == 1 else "view"
        used[kind] = [name for name in palette if name in set(labels)]
    ax.set_yticks([1, 0], ["direction", "view"])
    ax.set_ylim(-0.6, 1.6)
    end = float(t.max()) + (float(np.median(np.diff(t))) if t.size > 1 else 1.0)
    ax.set_xlim(float(t.min()), end)
    for spine in ("top", "right", "left"):
        ax.spines[spine].set_visible(False)
    ax.tick_params(axis="y", length=0)
    _time_axis(ax)
    handles = [
        Patch(facecolor=DIRECTION_COLORS[n], edgecolor="#999999", label=f"walking {n}"
              if n in ("backward", "forward") else n)
        for n in used["direction"]
    ] + [
        Patch(facecolor=VIEW_COLORS[n], edgecolor="#999999", label=f"{n} view")
        for n in used["view"] if n not in used["direction"]
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.05), fontsize=9,
              frameon=False)
    desc = (
        "Two bands over time: walking direction (" + ", ".join(used["direction"])
        + ") and camera view (" + ", ".join(used["view"]) + ")."
    )
    return fig, desc


def _svg(fig: Figure, key: str, title: str, desc: str) -> str:
    """Render a figure to an inline SVG element with a title, a description and unique ids."""
    buf = io.StringIO()
    try:
        with matplotlib.rc_context(_SVG_RC):
            fig.savefig(buf, format="svg", metadata=_SVG_METADATA)
    finally:
        fig.clear()
    raw = buf.getvalue()
    svg = raw[raw.index("<svg"):]
    svg = svg.replace(' xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    svg = svg.replace(' xmlns="http://www.w3.org/2000/svg"', "")
    svg = svg.replace("xlink:href=", "href=")
    svg = svg.replace("<style type=\"text/css\">*{", "<style>svg.plot *{")
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{key}-{m.group(1)}"', svg)
    svg = re.sub(r'(href="#|url\(#)([^")]+)', lambda m: f"{m.group(1)}{key}-{m.group(2)}", svg)
    svg = re.sub(r'<svg ([^>]*?)\s*width="[^"]*"\s*height="[^"]*"', r"<svg \1", svg, count=1)
    head = (
        f'<svg class="plot" role="img" aria-labelledby="{key}-title {key}-desc" '
    )
    svg = svg.replace("<svg ", head, 1)
    opening_end = svg.index(">") + 1
    labels = (
        f'<title id="{key}-title">{html.escape(title)}</title>'
        f'<desc id="{key}-desc">{html.escape(desc)}</desc>'
    )
    return svg[:opening_end] + labels + svg[opening_end:]


def _plot_descriptions(
    metrics: Sequence[FrameMetrics],
    gait: GaitSummary | None,
    cues: Sequence[Cue | Mapping[str, Any]],
    settings: Settings,
) -> dict[str, tuple[str, str]]:
    makers: dict[str, Callable[[], tuple[Figure, str]]] = {
        "posture": lambda: _posture_plot(metrics, settings),
        "step_length": lambda: _step_length_plot(gait, settings),
        "cadence": lambda: _cadence_plot(gait),
        "cues": lambda: _cue_plot(cues, _clip_end(metrics, cues)),
        "direction_view": lambda: _direction_view_plot(metrics),
    }
    out = {}
    for key, make in makers.items():
        fig, desc = make()
        out[key] = (_svg(fig, key, PLOT_TITLES[key], desc), desc)
    return out


def render_plots(
    metrics: Sequence[FrameMetrics],
    gait: GaitSummary | None,
    cues: Sequence[Cue | Mapping[str, Any]],
    settings: Settings,
) -> dict[str, str]:
    """Five plots as inline SVG strings, keyed as in `PLOT_TITLES`; "no data" when empty."""
    return {key: svg for key, (svg, _desc) in
            _plot_descriptions(metrics, gait, cues, settings).items()}


# ---------------------------------------------------------------------------- HTML

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #F6F7F9; color: #1F2328;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 28px 48px; background: #FFFFFF; }
header { border-bottom: 3px solid #0072B2; margin-bottom: 8px; }
h1 { font-size: 1.7rem; margin: 0.2em 0 0.1em; }
h2 { font-size: 1.3rem; margin: 1.8em 0 0.5em; padding-bottom: 4px;
  border-bottom: 1px solid #D0D7DE; }
h3 { font-size: 1.05rem; margin: 1.4em 0 0.3em; }
.meta { color: #57606A; margin: 0 0 12px; }
ul.summary li { margin: 0.25em 0; }
ul.summary li.warn { color: #8A1C0F; font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: 0.95rem; }
caption { text-align: left; color: #57606A; padding: 4px 0; caption-side: top; }
th, td { text-align: left; vertical-align: top; padding: 6px 10px;
  border-bottom: 1px solid #E1E4E8; }
thead th { background: #EEF2F6; border-bottom: 2px solid #C9D1D9; }
tbody th { font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.time { font-variant-numeric: tabular-nums; white-space: nowrap; }
td.na { color: #8C959F; }
td.note, td.guidance { color: #444C56; }
td.guidance { font-style: italic; }
.sev { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 0.85rem;
  font-weight: 600; border: 1px solid rgba(0, 0, 0, 0.25); }
.sev-info { background: #D6ECFA; }
.sev-warning { background: #FCE8B2; }
.sev-critical { background: #F7C6B3; color: #5C1500; }
figure { margin: 0 0 8px; }
figcaption { color: #57606A; font-size: 0.9rem; }
svg.plot { display: block; width: 100%; height: auto; }
details summary { cursor: pointer; color: #0B5394; }
.limits li { margin: 0.3em 0; }
footer { margin-top: 32px; color: #57606A; font-size: 0.85rem; }
@media print { body { background: #FFFFFF; } main { padding: 0; }
  section, figure, table { break-inside: avoid; } }
"""

_LIMITS_NOTE = (
    "Step length from a single camera is the weakest measure in this report: expect about 5 cm "
    "error per step (Stenum et al. 2021, PLOS Computational Biology). Compare medians over many "
    "steps, not single steps.",
    "Cadence and step time come from the timing of steps and are reliable from video "
    "(Mehdizadeh et al. 2021, Journal of NeuroEngineering and Rehabilitation).",
    "Trunk lean and head angle are 2D projections onto the image. They are valid only in a side "
    "view with the camera level and square to the walking line; from the front or behind they "
    "are not judged.",
    "Lengths are in leg lengths (hip to ankle) unless the walker's height was given; metres "
    "are then estimated from the height.",
    "The limits are coaching starting points for the chosen level, not clinical cut-offs.",
)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any, pattern: str) -> str | None:
    number = _num(value)
    return None if number is None else pattern.format(number)


def _key_rows(
    summary: Mapping[str, Any], limits: Mapping[str, float | None]
) -> list[tuple[str, str | None, str, str]]:
    """(measure, value or None, unit, note) rows for the key numbers table."""
    duration = _num(summary.get("duration_s"))
    frames = int(_num(summary.get("frames")) or 0)
    with_person = int(_num(summary.get("frames_with_person")) or 0)
    fps = _num(summary.get("fps"))
    views = summary.get("view_time_s") or {}
    view_note = ", ".join(
        f"{name} {format_time(views.get(name))}" for name in ("side", "front", "back")
        if _num(views.get(name)) is not None
    )
    fwd = limits.get("trunk_max_forward_lean_deg")
    back = limits.get("trunk_max_backward_lean_deg")
    head_limit = limits.get("head_max_angle_deg")
    step_limit = limits.get("step_max_length_leg")

    def share_of_clip(key: str) -> str:
        value = _num(summary.get(key))
        if value is None or not duration:
            return ""
        return f"{100 * value / duration:.0f}% of the clip"

    return [
        ("Clip length", format_time(duration) if duration is not None else None, "m:ss",
         f"{frames} frames" + (f" at {fps:.0f} fps" if fps else "")),
        ("Walker visible", f"{100 * with_person / frames:.0f}" if frames else None, "%",
         f"{with_person} of {frames} frames"),
        ("Walking direction", summary.get("direction") or None, "", ""),
        ("Backward walking", format_time(summary.get("backward_time_s"))
         if _num(summary.get("backward_time_s")) is not None else None, "m:ss",
         share_of_clip("backward_time_s")),
        ("Forward walking", format_time(summary.get("forward_time_s"))
         if _num(summary.get("forward_time_s")) is not None else None, "m:ss",
         share_of_clip("forward_time_s")),
        ("Standing", format_time(summary.get("standing_time_s"))
         if _num(summary.get("standing_time_s")) is not None else None, "m:ss",
         share_of_clip("standing_time_s")),
        ("Camera view", summary.get("view") or None, "", view_note),
        ("Steps", _fmt(summary.get("steps"), "{:.0f}"), "", ""),
        ("Cadence", _fmt(summary.get("cadence_spm"), "{:.0f}"), "steps/min", "reliable"),
        ("Step time (median)", _fmt(summary.get("step_time_s"), "{:.2f}"), "s", "reliable"),
        ("Step length (median)", _fmt(summary.get("step_length_leg"), "{:.2f}"), "leg lengths",
         (f"limit {step_limit:g}; " if step_limit is not None else "") + "side view only"),
        ("Step length (median)", _fmt(summary.get("step_length_m"), "{:.2f}"), "m",
         "about \u00b15 cm per step; needs the walker's height"),
        ("Walking speed", _fmt(summary.get("speed_leg_s"), "{:.2f}"), "leg lengths/s", ""),
        ("Walking speed", _fmt(summary.get("speed_m_s"), "{:.2f}"), "m/s", ""),
        ("Step length symmetry", _fmt(summary.get("step_length_symmetry"), "{:.2f}"), "",
         "shorter side / longer side; 1.00 is even"),
        ("Step time symmetry", _fmt(summary.get("step_time_symmetry"), "{:.2f}"), "",
         "1.00 is even"),
        ("Trunk lean (median)", _fmt(summary.get("trunk_lean_deg_median"), "{:+.1f}"), "\u00b0",
         (f"limits +{fwd:g} forward / \u2212{back:g} backward; "
          if fwd is not None and back is not None else "") + "+ is forward"),
        ("Time upright", _fmt(summary.get("upright_share"), "{:.0%}"), "", "share of judged time"),
        ("Head angle (median)", _fmt(summary.get("head_angle_deg_median"), "{:.1f}"), "\u00b0",
         (f"limit {head_limit:g}; " if head_limit is not None else "") + "ear-shoulder line "
         "from vertical"),
        ("Time head up", _fmt(summary.get("head_up_share"), "{:.0%}"), "", "share of judged time"),
    ]


def _key_table(summary: Mapping[str, Any], limits: Mapping[str, float | None]) -> str:
    rows = []
    for measure, value, unit, note in _key_rows(summary, limits):
        if value is None:
            cell = '<td class="num na">\u2014</td>'
            note = "not measured" + (f"; {note}" if note else "")
        else:
            cell = f'<td class="num">{_e(value)}</td>'
        rows.append(
            f'<tr><th scope="row">{_e(measure)}</th>{cell}<td>{_e(unit)}</td>'
            f'<td class="note">{_e(note)}</td></tr>'
        )
    return (
        "<table>\n<caption>Medians over the clip; \u2014 where a value could not be measured."
        "</caption>\n<thead><tr><th scope=\"col\">Measure</th><th scope=\"col\">Value</th>"
        "<th scope=\"col\">Unit</th><th scope=\"col\">Limit or note</th></tr></thead>\n<tbody>\n"
        + "\n".join(rows) + "\n</tbody>\n</table>"
    )


def _cue_table(cues: Sequence[Mapping[str, Any]]) -> str:
    if not cues:
        return "<p>No cues were given.</p>"
    rows = []
    ordered = sorted(cues, key=lambda c: (_num(c.get("start_s")) or 0.0,
                                          int(_num(c.get("priority")) or 5)))
    for i, c in enumerate(ordered, start=1):
        severity = str(c.get("severity", "info"))
        sev_class = severity if severity in SEVERITY_COLORS else "info"
        end = "still active" if _num(c.get("end_s")) is None else format_time(c.get("end_s"))
        rows.append(
            f'<tr><td class="num">{i}</td><td class="time">{_e(format_time(c.get("start_s")))}'
            f'</td><td class="time">{_e(end)}</td>'
            f'<td>{_e(_rule_label(str(c.get("rule", ""))))}</td>'
            f'<td>{_e(c.get("message", ""))}</td>'
            f'<td><span class="sev sev-{sev_class}">{_e(severity)}</span></td>'
            f'<td class="guidance">{_e(c.get("guidance") or "")}</td></tr>'
        )
    return (
        f"<table>\n<caption>{len(ordered)} cue{'s' if len(ordered) != 1 else ''}, "
        "in order of time.</caption>\n<thead><tr><th scope=\"col\">#</th>"
        "<th scope=\"col\">Start</th><th scope=\"col\">End</th><th scope=\"col\">Rule</th>"
        "<th scope=\"col\">Message</th><th scope=\"col\">Severity</th>"
        "<th scope=\"col\">Guidance it enforces</th></tr></thead>\n<tbody>\n"
        + "\n".join(rows) + "\n</tbody>\n</table>"
    )


def _step_rows(summary: Mapping[str, Any], gait: GaitSummary | None) -> list[dict[str, Any]]:
    if gait is not None and gait.steps:
        return [
            {"time_s": s.time_s, "side": s.side, "step_length_leg": s.step_length_leg,
             "step_length_m": s.step_length_m, "step_time_s": s.step_time_s}
            for s in gait.steps
        ]
    return [dict(s) for s in summary.get("step_list") or []]


def _step_table(steps: Sequence[Mapping[str, Any]]) -> str:
    if not steps:
        return "<p>No steps were detected.</p>"

    def cell(value: Any, pattern: str) -> str:
        text = _fmt(value, pattern)
        return '<td class="num na">\u2014</td>' if text is None else f'<td class="num">{text}</td>'

    rows = [
        f'<tr><td class="num">{i}</td><td class="time">{_e(format_time(s.get("time_s")))}</td>'
        f'<td>{_e(s.get("side", ""))}</td>{cell(s.get("step_length_leg"), "{:.2f}")}'
        f'{cell(s.get("step_length_m"), "{:.2f}")}{cell(s.get("step_time_s"), "{:.2f}")}</tr>'
        for i, s in enumerate(steps, start=1)
    ]
    return (
        f"<details><summary>Show all {len(steps)} steps</summary>\n<table>\n"
        "<thead><tr><th scope=\"col\">#</th><th scope=\"col\">Time (m:ss)</th>"
        "<th scope=\"col\">Landing foot</th><th scope=\"col\">Length (leg lengths)</th>"
        "<th scope=\"col\">Length (m)</th><th scope=\"col\">Step time (s)</th></tr></thead>\n"
        "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n</details>"
    )


def _build_html(
    summary: Mapping[str, Any],
    metrics: Sequence[FrameMetrics],
    gait: GaitSummary | None,
    cues: Sequence[Cue | Mapping[str, Any]],
    settings: Settings,
    generated: datetime,
) -> str:
    source = Path(str(summary.get("source") or "unknown source")).name or "unknown source"
    date = generated.strftime("%Y-%m-%d")
    cue_dicts = [_cue_dict(c) for c in cues] or [_cue_dict(c) for c in summary.get("cues") or []]
    words_input = dict(summary)
    words_input["cues"] = cue_dicts
    limits = _thresholds(summary, settings)
    if not summary.get("thresholds"):
        words_input["thresholds"] = limits

    sentences = summary_in_words(words_input)
    summary_items = "\n".join(
        f'<li class="warn">{_e(s)}</li>' if s.startswith("Warning:") else f"<li>{_e(s)}</li>"
        for s in sentences
    )
    plots = _plot_descriptions(metrics, gait, cue_dicts, settings)
    figures = "\n".join(
        f'<section aria-labelledby="h-plot-{key}">\n'
        f'<h3 id="h-plot-{key}">{_e(PLOT_TITLES[key])}</h3>\n'
        f"<figure>\n{svg}\n<figcaption>{_e(desc)}</figcaption>\n</figure>\n</section>"
        for key, (svg, desc) in plots.items()
    )
    level = summary.get("level") or settings.level
    height = _num(summary.get("height_cm")) or settings.height_cm
    meta = [f"Clip: {source}", f"Report date: {date}", f"Level: {level}"]
    if height:
        meta.append(f"Walker height: {height:.0f} cm")
    limits_items = "\n".join(f"<li>{_e(text)}</li>" for text in _LIMITS_NOTE)
    title = f"Backward-walking report: {source} ({date})"
    meta_line = " \u00b7 ".join(_e(m) for m in meta)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="posecoach">
<title>{_e(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<header>
<h1>Backward-walking report: {_e(source)}</h1>
<p class="meta">{meta_line}</p>
</header>
<section aria-labelledby="h-summary">
<h2 id="h-summary">Summary</h2>
<ul class="summary">
{summary_items}
</ul>
</section>
<section aria-labelledby="h-numbers">
<h2 id="h-numbers">Key numbers</h2>
{_key_table(summary, limits)}
</section>
<section aria-labelledby="h-plots">
<h2 id="h-plots">Plots</h2>
{figures}
</section>
<section aria-labelledby="h-cues">
<h2 id="h-cues">Cues</h2>
{_cue_table(cue_dicts)}
</section>
<section aria-labelledby="h-steps">
<h2 id="h-steps">Steps</h2>
{_step_table(_step_rows(summary, gait))}
</section>
<section aria-labelledby="h-limits">
<h2 id="h-limits">Limits of single-camera measurement</h2>
<ul class="limits">
{limits_items}
</ul>
</section>
<footer>
<p>Made by posecoach {_e(generated.strftime("%Y-%m-%d %H:%M"))}. Measured from one camera
with MediaPipe pose; a coaching aid, not a medical assessment.</p>
</footer>
</main>
</body>
</html>
"""


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def write_report(
    path: str | Path,
    summary: Mapping[str, Any],
    metrics: Sequence[FrameMetrics],
    gait: GaitSummary | None,
    cues: Sequence[Cue | Mapping[str, Any]],
    settings: Settings,
) -> Path:
    """Write a self-contained HTML report atomically and return its path.

    `path` is the HTML file, or an existing folder to put `report.html` in.
    """
    target = Path(path)
    if target.is_dir():
        target = target / "report.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    text = _build_html(summary, metrics, gait, cues, settings, datetime.now())
    _write_atomic(target, text)
    return target
