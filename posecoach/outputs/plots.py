"""Report plots: matplotlib figures rendered to inline, accessible SVG.

Figures are made with `Figure` directly (no pyplot state) and the Agg backend is selected on
import, so plotting never needs a display. Each figure gets fixed margins sized from its labels
instead of a layout engine, so saving it takes a single draw.
"""

from __future__ import annotations

import html
import io
import math
import re
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

import matplotlib
import numpy as np

from posecoach.coach.cues import Cue
from posecoach.coach.gait import GaitSummary, Step
from posecoach.coach.metrics import MetricsSeries
from posecoach.coach.rolling import rolling_median, runs
from posecoach.coach.rules import RULE_IDS
from posecoach.outputs.palette import SIDE_HEX
from posecoach.pose.landmarks import median_frame_interval_s
from posecoach.settings import Settings

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.textpath import text_to_path  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter  # noqa: E402

from posecoach.outputs.words import cue_dict, format_time, num, rule_label  # noqa: E402

PLOT_TITLES: dict[str, str] = {
    "posture": "Trunk lean and head angle over time",
    "step_length": "Step length per step",
    "cadence": "Cadence over time",
    "cues": "Coaching cues over time",
    "direction_view": "Walking direction and camera view over time",
}

# Okabe-Ito palette: distinguishable with common colour-vision deficiencies.
BLUE, ORANGE, GREEN, VERMILLION = "#0072B2", "#E69F00", "#009E73", "#D55E00"
SKY, PURPLE, YELLOW, GREY, LIGHT = "#56B4E9", "#CC79A7", "#F0E442", "#8C8C8C", "#DDDDDD"
LIMIT = "#B2182B"

SEVERITY_COLORS = {"info": SKY, "warning": ORANGE, "critical": VERMILLION}
SIDE_COLORS = SIDE_HEX
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

WIDTH_IN = 9.0
"""The report's figure width in inches."""
NARROW_IN = 6.0
"""Below this width a figure's in-axes legend takes one column."""

_SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "posecoach"}
_SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}

# Layout sizes in points, for matplotlib's default 10 pt labels and the 9 pt legends.
_FONT_PT, _LEGEND_PT = 10.0, 9.0
_LINE = 12.0  # one line of label text
_TICK = 7.0  # tick length and tick-label pad
_LABELPAD = 4.0
_EDGE = 6.0  # free space at the figure's edge
_TOP = 8.0
_RIGHT = 16.0  # room for the last time label, centred on the axes' right edge
_GAP = 14.0  # between stacked axes
_SLACK = 1.08  # browsers may draw the text in a slightly wider font than measured

_TICK_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
_SUB_SECOND_STEPS_S = (0.5, 0.2, 0.1)


@lru_cache(maxsize=512)
def _text_width(text: str, size: float = _FONT_PT) -> float:
    """Width in points of the widest line of `text`, as matplotlib lays it out."""
    prop = FontProperties(size=size)
    return max(
        text_to_path.get_text_width_height_descent(line, prop, ismath=False)[0]
        for line in text.split("\n")
    )


def _ticks_in_view(low: float, high: float, step: float) -> list[float]:
    first, last = int(np.ceil(low / step - 1e-9)), int(np.floor(high / step + 1e-9))
    return [k * step for k in range(first, last + 1)]


def _sub_second(seconds: float) -> str:
    minutes, secs = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes)}:{secs:04.1f}"


def _time_axis(ax: Any, label: bool = True) -> None:
    """Ticks on whole seconds or minutes, labelled m:ss; tenths (m:ss.s) for very short spans.

    Call it once the x limits are final: only the ticks in view are made.
    """
    low, high = sorted(ax.get_xlim())
    span = max(high - low, 1e-9)
    most = max(3, min(9, round(float(ax.figure.get_figwidth()))))  # fewer on a narrow figure
    # Longer than `most` hours: whole hours, still at most `most` + 1 ticks however long.
    step: float = next((s for s in _TICK_STEPS_S if span / s <= most),
                       3600.0 * math.ceil(span / most / 3600.0))
    formatter: Callable[[float], str] = format_time
    unit = "m:ss"
    ticks = _ticks_in_view(low, high, step)
    if len(ticks) < 2:
        step = next((s for s in _SUB_SECOND_STEPS_S if len(_ticks_in_view(low, high, s)) >= 2),
                    _SUB_SECOND_STEPS_S[-1])
        ticks, formatter, unit = _ticks_in_view(low, high, step), _sub_second, "m:ss.s"
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: formatter(x)))
    if label:
        ax.set_xlabel(f"time ({unit})")


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


def _freeze_yticks(ax: Any) -> list[str]:
    """Fix the y ticks to those in view at the axes' current size; return their labels.

    matplotlib would otherwise also build ticks just outside the view and never draw them.
    """
    low, high = sorted(ax.get_ylim())
    eps = (high - low) * 1e-9
    locs = list(ax.yaxis.get_majorticklocs())
    shown = [low - eps <= v <= high + eps for v in locs]
    formatter = ax.yaxis.get_major_formatter()
    if isinstance(ax.yaxis.get_major_locator(), FixedLocator):
        return [t for t, s in zip(formatter.format_ticks(locs), shown, strict=True) if s]
    locs = [v for v, s in zip(locs, shown, strict=True) if s]
    ax.yaxis.set_major_locator(FixedLocator(locs))
    return list(formatter.format_ticks(locs))


def _legend_size(labels: Sequence[str], title: str = "") -> tuple[float, float]:
    """(width, height) in points of a legend placed just outside the axes' right edge."""
    size = _LEGEND_PT
    text = max((_text_width(t, size) for t in labels), default=0.0) * _SLACK
    entries = size * (2.0 + 0.8) + text  # handle, pad, label
    width = size * (0.5 + 2 * 0.4) + max(entries, _text_width(title, size) * _SLACK if title else 0)
    rows = len(labels) + (1 if title else 0)
    height = size * (0.5 + 2 * 0.4) + rows * size * 1.05 + max(rows - 1, 0) * size * 0.5
    return width + _EDGE, height


def _fit(fig: Figure, axes: Sequence[Any], legend: tuple[float, float] = (0.0, 0.0),
         below: float = 0.0) -> None:
    """Fixed margins sized to the tick labels, axis labels and an outside-right legend.

    The y labels of stacked axes line up, the figure grows if the legend needs the height
    (or by `below` points for a legend under the axes), and nothing is measured at draw time.
    """
    width = float(fig.get_figwidth()) * 72
    height = float(fig.get_figheight()) * 72 + below
    xlabel = bool(axes[-1].get_xlabel())
    bottom = _EDGE + _TICK + _LINE + (_LABELPAD + _LINE if xlabel else 0.0) + below
    height = max(height, _TOP + legend[1] + bottom)
    fig.set_figheight(height / 72)
    n = len(axes)
    axes_height = (height - _TOP - bottom - _GAP * (n - 1)) / n
    fig.subplots_adjust(bottom=bottom / height, top=1 - _TOP / height, hspace=_GAP / axes_height)

    ticks = max((_text_width(t) for ax in axes for t in _freeze_yticks(ax)), default=0.0) * _SLACK
    lines = max(ax.get_ylabel().count("\n") + 1 if ax.get_ylabel() else 0 for ax in axes)
    left = _EDGE + lines * _LINE + (_LABELPAD if lines else 0.0) + ticks + _TICK
    right = max(_RIGHT, legend[0])
    fig.subplots_adjust(left=left / width, right=1 - right / width)
    axes_width = width - left - right
    for ax in axes:
        ax.yaxis.set_label_coords(-(_TICK + ticks + _LABELPAD) / axes_width, 0.5)
        ax.xaxis.set_label_coords(0.5, -(_TICK + _LINE + _LABELPAD) / axes_height)


def _legend_columns(fig: Figure) -> int:
    """Two legend columns on a report-wide figure, one on a narrow (phone) figure."""
    return 2 if fig.get_figwidth() >= NARROW_IN else 1


def _finish_time_plot(fig: Figure, ax: Any, legend_loc: str) -> None:
    """Time ticks, an in-axes legend and the margins of a one-axes plot over time."""
    _time_axis(ax)
    ax.legend(loc=legend_loc, fontsize=9, frameon=False, ncol=_legend_columns(fig))
    _fit(fig, (ax,))


def _outside_legend(fig: Figure, ax: Any, handles: Sequence[Any], title: str = "") -> None:
    """A legend outside the axes, and the margins: at the right of a report-wide figure,
    under the time axis of a narrow (phone) one so the axes keep their width."""
    size = _legend_size([str(h.get_label()) for h in handles], title)
    style: dict[str, Any] = {"handles": handles, "fontsize": 9, "frameon": False}
    if title:
        style.update(title=title, title_fontsize=9, alignment="left")
    if fig.get_figwidth() >= NARROW_IN:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), **style)
        _fit(fig, (ax,), size)
        return
    _fit(fig, (ax,), below=size[1])
    ax.legend(loc="lower left", borderaxespad=0.0, bbox_transform=fig.transFigure,
              bbox_to_anchor=(_EDGE / (fig.get_figwidth() * 72),
                              _EDGE / (fig.get_figheight() * 72)), **style)


def _no_data(reason: str, width_in: float) -> Figure:
    fig = Figure(figsize=(width_in, 1.4))
    fig.text(0.5, 0.62, "no data", ha="center", va="center", fontsize=14, color=GREY)
    reason = textwrap.fill(reason, max(20, int(width_in * 72 / 6)))  # 10 pt: < 6 pt a letter
    fig.text(0.5, 0.25, reason, ha="center", va="center", fontsize=10, color=GREY)
    return fig


def _spans(times: np.ndarray, mask: np.ndarray) -> list[tuple[float, float]]:
    """(start, width) of each run of True in `mask`, with edges midway between frames."""
    if not mask.any():
        return []
    edges = np.concatenate(([times[0]], (times[:-1] + times[1:]) / 2, [times[-1]]))
    return [(float(edges[a]), float(edges[b] - edges[a])) for a, b, on in runs(mask) if on]


def _clip_end(metrics: MetricsSeries, cues: Sequence[Cue | Mapping[str, Any]]) -> float:
    t = metrics.time_s
    times: list[float] = t[np.isfinite(t)].tolist()
    for cue in cues:
        c = cue_dict(cue)
        times += [v for v in (num(c.get("start_s")), num(c.get("end_s"))) if v is not None]
    return max(times, default=0.0)


def _posture_plot(
    metrics: MetricsSeries, settings: Settings, width_in: float = WIDTH_IN
) -> tuple[Figure, str]:
    fwd = settings.rules.trunk_upright.max_forward_lean_deg
    back = settings.rules.trunk_upright.max_backward_lean_deg
    head_limit = settings.rules.head_up.max_head_angle_deg
    limits = (
        f"Limits: trunk {fwd:g}\u00b0 forward and {back:g}\u00b0 backward; "
        f"head {head_limit:g}\u00b0."
    )
    t = metrics.time_s
    trunk = np.where(metrics.has_person, metrics.trunk_lean_deg, np.nan)
    head = np.where(metrics.has_person, metrics.head_angle_deg, np.nan)
    if t.size == 0 or not (np.isfinite(trunk).any() or np.isfinite(head).any()):
        return _no_data("no trunk or head angles were measured", width_in), f"No data. {limits}"

    fig = Figure(figsize=(width_in, 5.0))
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    not_side = metrics.view != "side"
    shaded = _spans(t, not_side) if not_side.any() and not not_side.all() else []
    for ax in (ax1, ax2):
        _style(ax)
        if shaded:
            ax.broken_barh(shaded, (0, 1), transform=ax.get_xaxis_transform(),
                           facecolors="#F2F2F2", linewidth=0, label="not side view")

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
            ax.legend(loc="upper left", fontsize=9, frameon=False, ncol=_legend_columns(fig))
    _fit(fig, (ax1, ax2))
    desc = (
        "Trunk lean (top) and head angle (bottom) against time, with dashed red limit lines. "
        + limits
    )
    return fig, desc


def _steps_in_metres(steps: Sequence[Step]) -> bool:
    return bool(steps) and all(num(s.step_length_m) is not None for s in steps)


def _step_length_plot(
    gait: GaitSummary | None, settings: Settings, width_in: float = WIDTH_IN
) -> tuple[Figure, str]:
    steps = [s for s in (gait.steps if gait else []) if num(s.step_length_leg) is not None]
    limit_leg = settings.rules.step_length.max_step_length_leg
    if not steps:
        return _no_data("no steps with a measurable length (needs a side view)", width_in), (
            f"No data. Step length limit {limit_leg:g} leg lengths."
        )
    metres = _steps_in_metres(steps)
    if metres:
        # the session's own body scale, as the steps' metres carry it
        scale = float(np.median([s.step_length_m / s.step_length_leg for s in steps
                                 if s.step_length_leg and s.step_length_m]))
        unit, limit = "m", limit_leg * scale
        limit_text = f"limit {limit:.2f} m ({limit_leg:g} leg lengths)"
    else:
        unit, limit = "leg lengths", limit_leg
        limit_text = f"limit {limit_leg:g} leg lengths"

    fig = Figure(figsize=(width_in, 3.4))
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
    _finish_time_plot(fig, ax, legend_loc="lower left")
    desc = (
        f"Length of each step in {unit}, left and right foot in two colours, "
        f"with a dashed red line at the {limit_text}."
    )
    return fig, desc


def _cadence_plot(gait: GaitSummary | None, width_in: float = WIDTH_IN) -> tuple[Figure, str]:
    steps = [
        s for s in (gait.steps if gait else []) if (num(s.step_time_s) or 0.0) > 0
    ]
    if len(steps) < 2:
        return _no_data("fewer than two steps with a step time", width_in), "No data."
    t = np.array([s.time_s for s in steps], dtype=float)
    spm = 60.0 / np.array([float(s.step_time_s) for s in steps], dtype=float)  # type: ignore[arg-type]
    rolling = rolling_median(spm, 5, causal=False)
    fig = Figure(figsize=(width_in, 3.0))
    ax = fig.add_subplot()
    _style(ax)
    ax.plot(t, spm, linestyle="none", marker="o", markersize=4, color=GREY,
            label="each step (60 / step time)")
    ax.plot(t, rolling, color=BLUE, linewidth=2, label="running median of 5 steps")
    median = num(gait.cadence_spm) if gait else None
    if median is None:
        median = float(np.median(spm))
    ax.axhline(median, color=GREEN, linestyle=":", linewidth=1.4)
    ax.text(0.005, median, f"median {median:.0f} steps/min", transform=ax.get_yaxis_transform(),
            ha="left", va="bottom", color=GREEN, fontsize=9)
    ax.set_ylim(0, max(float(spm.max()), median) * 1.25)
    ax.set_ylabel("cadence (steps/min)")
    _finish_time_plot(fig, ax, legend_loc="lower right")
    desc = (
        f"Cadence in steps per minute for each step and as a running median; "
        f"overall median {median:.0f} steps per minute."
    )
    return fig, desc


def _cue_plot(
    cues: Sequence[Cue | Mapping[str, Any]], end_s: float, width_in: float = WIDTH_IN
) -> tuple[Figure, str]:
    items = [cue_dict(c) for c in cues if num(cue_dict(c).get("start_s")) is not None]
    if not items:
        return _no_data("no coaching cues were given", width_in), "No cues were given."
    present = {str(c.get("rule")) for c in items}
    rows = [r for r in RULE_IDS if r in present] + sorted(present - set(RULE_IDS))
    span = max(end_s, max(num(c.get("end_s")) or num(c["start_s"]) or 0.0 for c in items))
    span = max(span, 1.0)
    min_width = span * 0.006
    fig = Figure(figsize=(width_in, 0.9 + 0.42 * len(rows)))
    ax = fig.add_subplot()
    for row, rule in enumerate(rows):
        bars = []
        colors = []
        for c in items:
            if str(c.get("rule")) != rule:
                continue
            start = float(num(c["start_s"]) or 0.0)
            end = num(c.get("end_s"))
            end = span if end is None else end
            bars.append((start, max(end - start, min_width)))
            colors.append(SEVERITY_COLORS.get(str(c.get("severity")), GREY))
        ax.broken_barh(bars, (row - 0.32, 0.64), facecolors=colors, edgecolor="#333333",
                       linewidth=0.5)
    names = [rule_label(r) for r in rows]
    if width_in < NARROW_IN:  # a long rule name on two lines keeps the bars room on a phone
        names = [textwrap.fill(n, 16) for n in names]
    ax.set_yticks(range(len(rows)), names)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, span)
    ax.grid(True, axis="x", color="#E5E5E5", linewidth=0.8)
    ax.set_axisbelow(True)
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    _time_axis(ax)
    handles = [Patch(facecolor=color, edgecolor="#333333", label=name)
               for name, color in SEVERITY_COLORS.items()]
    _outside_legend(fig, ax, handles, "severity")
    desc = (
        f"One row per rule ({', '.join(rule_label(r) for r in rows)}); each bar spans a cue "
        "from start to end, coloured by severity (info, warning, critical)."
    )
    return fig, desc


def _label_spans(
    times: np.ndarray, labels: np.ndarray, step_s: float
) -> list[tuple[str, float, float]]:
    """(label, start, width) of each run of equal labels; the last one lasts `step_s`."""
    out: list[tuple[str, float, float]] = []
    for start, stop, label in runs(labels):
        end = float(times[stop]) if stop < len(times) else float(times[-1]) + step_s
        out.append((label, float(times[start]), end - float(times[start])))
    return out


def _direction_view_plot(metrics: MetricsSeries, width_in: float = WIDTH_IN) -> tuple[Figure, str]:
    if len(metrics) == 0:
        return _no_data("no video frames were analysed", width_in), "No data."
    if not metrics.has_person.any():
        return _no_data("nobody was seen in the video", width_in), "No data: nobody was seen."
    t = metrics.time_s
    step_s = median_frame_interval_s(t) if len(t) > 1 else 1.0
    direction = np.where(metrics.has_person, metrics.direction, "no person")
    view = np.where(metrics.has_person, metrics.view, "no person")
    fig = Figure(figsize=(width_in, 2.0))
    ax = fig.add_subplot()
    rows = ((1, direction, DIRECTION_COLORS), (0, view, VIEW_COLORS))
    used: dict[str, list[str]] = {"direction": [], "view": []}
    for y, labels, palette in rows:
        spans = _label_spans(t, labels, step_s)
        ax.broken_barh(
            [(start, width) for _label, start, width in spans], (y - 0.38, 0.76),
            facecolors=[palette.get(label, LIGHT) for label, _s, _w in spans], linewidth=0,
        )
        kind = "direction" if y == 1 else "view"
        used[kind] = [name for name in palette if name in set(labels)]
    ax.set_yticks([1, 0], ["direction", "view"])
    ax.set_ylim(-0.6, 1.6)
    end = float(t.max()) + step_s
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
    _outside_legend(fig, ax, handles)
    desc = (
        "Two bands over time: walking direction (" + ", ".join(used["direction"])
        + ") and camera view (" + ", ".join(used["view"]) + ")."
    )
    return fig, desc


def _svg(fig: Figure, key: str, title: str, desc: str) -> str:
    """Render a figure to an inline SVG element with a title, a description and unique ids."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata=_SVG_METADATA)
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


def plot_figures(
    metrics: MetricsSeries,
    gait: GaitSummary | None,
    cues: Sequence[Cue | Mapping[str, Any]],
    settings: Settings,
    width_in: float = WIDTH_IN,
) -> Iterator[tuple[str, Figure, str]]:
    """Each plot as (key, figure, text description), made one at a time in `PLOT_TITLES` order.

    `width_in` is the figures' width in inches (72 points each); the fonts keep their size.
    """
    yield "posture", *_posture_plot(metrics, settings, width_in)
    yield "step_length", *_step_length_plot(gait, settings, width_in)
    yield "cadence", *_cadence_plot(gait, width_in)
    yield "cues", *_cue_plot(cues, _clip_end(metrics, cues), width_in)
    yield "direction_view", *_direction_view_plot(metrics, width_in)


def plot_descriptions(
    metrics: MetricsSeries,
    gait: GaitSummary | None,
    cues: Sequence[Cue | Mapping[str, Any]],
    settings: Settings,
    width_in: float = WIDTH_IN,
) -> dict[str, tuple[str, str]]:
    """Each plot as (inline SVG, its text description), keyed as in `PLOT_TITLES`."""
    with matplotlib.rc_context(_SVG_RC):
        return {
            key: (_svg(fig, key, PLOT_TITLES[key], desc), desc)
            for key, fig, desc in plot_figures(metrics, gait, cues, settings, width_in)
        }


def render_plots(
    metrics: MetricsSeries,
    gait: GaitSummary | None,
    cues: Sequence[Cue | Mapping[str, Any]],
    settings: Settings,
    width_in: float = WIDTH_IN,
) -> dict[str, str]:
    """Five plots as inline SVG strings, keyed as in `PLOT_TITLES`; "no data" when empty.

    `width_in` narrows the figures for a small screen (the report keeps `WIDTH_IN`).
    """
    return {key: svg for key, (svg, _desc) in
            plot_descriptions(metrics, gait, cues, settings, width_in).items()}
