"""Session report: one self-contained `report.html`.

The page has no external assets (no scripts, fonts, stylesheets or images from elsewhere):
plots are inline SVG, styles are inline CSS, and every piece of text is HTML-escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from posecoach.coach.cues import Cue
from posecoach.coach.gait import GaitSummary
from posecoach.coach.metrics import MetricsSeries
from posecoach.outputs.files import SessionFiles, atomic_write_text
from posecoach.outputs.plots import PLOT_TITLES, SEVERITY_COLORS, plot_descriptions, render_plots
from posecoach.outputs.review import SessionReview, measurement_text
from posecoach.outputs.summary import (
    CueRecord,
    SessionSummary,
    StepRecord,
    Thresholds,
    ViewTimes,
    as_summary,
)
from posecoach.outputs.words import (
    DIRECTION_WORDS,
    format_time,
    limits_from,
    num,
    rule_label,
    summary_in_words,
)
from posecoach.paths import web_dir
from posecoach.settings import Settings

__all__ = ["PLOT_TITLES", "add_review", "format_time", "render_plots", "summary_in_words",
           "write_report"]


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
.review-note { white-space: pre-wrap; border-left: 4px solid #0072B2; padding: 4px 12px;
  background: #F6F7F9; }
"""


def print_css() -> str:
    """The print rules the report shares with the review page (`web/print.css`), inlined so
    the report stays self-contained; none when the front end is not installed."""
    try:
        return (web_dir() / "print.css").read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError):
        return ""

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
    "then come from the height with the walker's own proportions measured in the picture "
    "(standing height, leg segments), the sources and uncertainty said with the step length. "
    "Step metres, speed and the timed test share that one scale; for the timed test, two "
    "floor marks 3 m apart remain the recommended scale.",
    "The limits are coaching starting points for the chosen level, not clinical cut-offs.",
)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def html_page_start(title: str, css: str, heading: str, meta: Sequence[str]) -> str:
    """The start of a self-contained report page, up to and including its header: the title,
    the inline style sheet, the heading and one line of facts (`meta`), all escaped."""
    meta_line = " \u00b7 ".join(_e(m) for m in meta)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="posecoach">
<title>{_e(title)}</title>
<style>{css}</style>
</head>
<body>
<main>
<header>
<h1>{_e(heading)}</h1>
<p class="meta">{meta_line}</p>
</header>
"""


def _fmt(value: Any, pattern: str) -> str | None:
    number = num(value)
    return None if number is None else pattern.format(number)


def _key_rows(
    summary: SessionSummary, limits: Thresholds
) -> list[tuple[str, str | None, str, str]]:
    """(measure, value or None, unit, note) rows for the key numbers table."""
    duration = summary.duration_s
    frames = summary.frames or 0
    with_person = summary.frames_with_person or 0
    fps = summary.fps
    views = summary.view_time_s or ViewTimes()
    view_note = ", ".join(
        f"{name} {format_time(seconds)}"
        for name, seconds in (("side", views.side), ("front", views.front), ("back", views.back))
        if seconds is not None
    )
    fwd = limits.trunk_max_forward_lean_deg
    back = limits.trunk_max_backward_lean_deg
    head_limit = limits.head_max_angle_deg
    step_limit = limits.step_max_length_leg

    def share_of_clip(seconds: float | None) -> str:
        if seconds is None or not duration:
            return ""
        return f"{100 * seconds / duration:.0f}% of the clip"

    def clip_time(seconds: float | None) -> str | None:
        return None if seconds is None else format_time(seconds)

    on_belt = summary.setting == "treadmill"
    speed_label = "Belt speed" if on_belt else "Walking speed"
    speed_note = "step length \u00d7 cadence" if on_belt else ""
    return [
        ("Clip length", clip_time(duration), "m:ss",
         f"{frames} frames" + (f" at {fps:.0f} fps" if fps else "")),
        ("Walker visible", f"{100 * with_person / frames:.0f}" if frames else None, "%",
         f"{with_person} of {frames} frames"),
        ("Walking direction", DIRECTION_WORDS.get(summary.direction or ""), "", ""),
        ("Setting", summary.setting or None, "",
         "walking in place counts as a treadmill" if summary.setting == "treadmill" else ""),
        ("Holding the handrails", _fmt(summary.handrail_share, "{:.0%}"), "",
         "share of the walk on the belt"),
        ("Backward walking", clip_time(summary.backward_time_s), "m:ss",
         share_of_clip(summary.backward_time_s)),
        ("Forward walking", clip_time(summary.forward_time_s), "m:ss",
         share_of_clip(summary.forward_time_s)),
        ("Standing", clip_time(summary.standing_time_s), "m:ss",
         share_of_clip(summary.standing_time_s)),
        ("Camera view", summary.view or None, "", view_note),
        ("Steps", _fmt(summary.steps, "{:.0f}"), "", ""),
        ("Cadence", _fmt(summary.cadence_spm, "{:.0f}"), "steps/min", "reliable"),
        ("Step time (median)", _fmt(summary.step_time_s, "{:.2f}"), "s", "reliable"),
        ("Step length (median)", _fmt(summary.step_length_leg, "{:.2f}"), "leg lengths",
         (f"limit {step_limit:g}; " if step_limit is not None else "") + "side view only"),
        ("Step length (median)", _fmt(summary.step_length_m, "{:.2f}"), "m",
         "about \u00b15 cm per step; needs the walker's height"),
        (speed_label, _fmt(summary.speed_leg_s, "{:.2f}"), "leg lengths/s", speed_note),
        (speed_label, _fmt(summary.speed_m_s, "{:.2f}"), "m/s", speed_note),
        ("Step length symmetry", _fmt(summary.step_length_symmetry, "{:.2f}"), "",
         "shorter side / longer side; 1.00 is even"),
        ("Step time symmetry", _fmt(summary.step_time_symmetry, "{:.2f}"), "",
         "1.00 is even"),
        ("Trunk lean (median)", _fmt(summary.trunk_lean_deg_median, "{:+.1f}"), "\u00b0",
         (f"limits +{fwd:g} forward / \u2212{back:g} backward; "
          if fwd is not None and back is not None else "") + "+ is forward"),
        ("Time upright", _fmt(summary.upright_share, "{:.0%}"), "", "share of judged time"),
        ("Head angle (median)", _fmt(summary.head_angle_deg_median, "{:.1f}"), "\u00b0",
         (f"limit {head_limit:g}; " if head_limit is not None else "") + "ear-shoulder line "
         "from vertical"),
        ("Time head up", _fmt(summary.head_up_share, "{:.0%}"), "", "share of judged time"),
    ]


def _key_table(summary: SessionSummary, limits: Thresholds) -> str:
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


def _cue_table(cues: Sequence[CueRecord]) -> str:
    if not cues:
        return "<p>No cues were given.</p>"
    rows = []
    ordered = sorted(cues, key=lambda c: (c.start_s or 0.0, c.priority or 5))
    for i, c in enumerate(ordered, start=1):
        sev_class = c.severity if c.severity in SEVERITY_COLORS else "info"
        end = "still active" if c.end_s is None else format_time(c.end_s)
        rows.append(
            f'<tr><td class="num">{i}</td><td class="time">{_e(format_time(c.start_s))}'
            f'</td><td class="time">{_e(end)}</td>'
            f'<td>{_e(rule_label(c.rule))}</td>'
            f'<td>{_e(c.message)}</td>'
            f'<td><span class="sev sev-{sev_class}">{_e(c.severity)}</span></td>'
            f'<td class="guidance">{_e(c.guidance)}</td></tr>'
        )
    return (
        f"<table>\n<caption>{len(ordered)} cue{'s' if len(ordered) != 1 else ''}, "
        "in order of time.</caption>\n<thead><tr><th scope=\"col\">#</th>"
        "<th scope=\"col\">Start</th><th scope=\"col\">End</th><th scope=\"col\">Rule</th>"
        "<th scope=\"col\">Message</th><th scope=\"col\">Severity</th>"
        "<th scope=\"col\">Guidance it enforces</th></tr></thead>\n<tbody>\n"
        + "\n".join(rows) + "\n</tbody>\n</table>"
    )


def _step_rows(summary: SessionSummary, gait: GaitSummary | None) -> Sequence[StepRecord]:
    if gait is not None and gait.steps:
        return [
            StepRecord(s.time_s, s.side, s.step_length_leg, s.step_length_m, s.step_time_s)
            for s in gait.steps
        ]
    return summary.step_list


def _step_table(steps: Sequence[StepRecord]) -> str:
    if not steps:
        return "<p>No steps were detected.</p>"

    def cell(value: float | None, pattern: str) -> str:
        text = _fmt(value, pattern)
        return '<td class="num na">\u2014</td>' if text is None else f'<td class="num">{text}</td>'

    rows = [
        f'<tr><td class="num">{i}</td><td class="time">{_e(format_time(s.time_s))}</td>'
        f'<td>{_e(s.side or "")}</td>{cell(s.step_length_leg, "{:.2f}")}'
        f'{cell(s.step_length_m, "{:.2f}")}{cell(s.step_time_s, "{:.2f}")}</tr>'
        for i, s in enumerate(steps, start=1)
    ]
    return (
        f"<details><summary>Show all {len(steps)} steps</summary>\n<table>\n"
        "<thead><tr><th scope=\"col\">#</th><th scope=\"col\">Time (m:ss)</th>"
        "<th scope=\"col\">Landing foot</th><th scope=\"col\">Length (leg lengths)</th>"
        "<th scope=\"col\">Length (m)</th><th scope=\"col\">Step time (s)</th></tr></thead>\n"
        "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n</details>"
    )


def _cue_record(cue: Cue | CueRecord | Mapping[str, Any]) -> CueRecord:
    if isinstance(cue, CueRecord):
        return cue
    if isinstance(cue, Cue):
        return CueRecord.from_cue(cue, digits=None)
    return CueRecord.from_json(cue)


def _build_html(
    summary: SessionSummary,
    metrics: MetricsSeries,
    gait: GaitSummary | None,
    cues: Sequence[Cue | CueRecord | Mapping[str, Any]],
    settings: Settings,
    generated: datetime,
    plots: Mapping[str, tuple[str, str]] | None = None,
) -> str:
    source = Path(summary.source or "unknown source").name or "unknown source"
    date = generated.strftime("%Y-%m-%d")
    cue_records = [_cue_record(c) for c in cues] or list(summary.cues)
    limits = limits_from(summary, settings)
    sentences = summary_in_words(replace(summary, cues=tuple(cue_records), thresholds=limits))
    summary_items = "\n".join(
        f'<li class="warn">{_e(s)}</li>' if s.startswith("Warning:") else f"<li>{_e(s)}</li>"
        for s in sentences
    )
    if plots is None:
        plots = plot_descriptions(metrics, gait, [c.to_json() for c in cue_records], settings)
    figures = "\n".join(
        f'<section aria-labelledby="h-plot-{key}">\n'
        f'<h3 id="h-plot-{key}">{_e(PLOT_TITLES[key])}</h3>\n'
        f"<figure>\n{svg}\n<figcaption>{_e(desc)}</figcaption>\n</figure>\n</section>"
        for key, (svg, desc) in plots.items()
    )
    level = summary.level or settings.level
    height = summary.height_cm or settings.height_cm
    meta = [f"Clip: {source}", f"Report date: {date}", f"Level: {level}"]
    if height:
        meta.append(f"Walker height: {height:.0f} cm")
    limits_items = "\n".join(f"<li>{_e(text)}</li>" for text in _LIMITS_NOTE)
    title = f"Backward-walking report: {source} ({date})"
    css = _CSS + print_css()
    return html_page_start(title, css, f"Backward-walking report: {source}", meta) + f"""\
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
{_cue_table(cue_records)}
</section>
<section aria-labelledby="h-steps">
<h2 id="h-steps">Steps</h2>
{_step_table(_step_rows(summary, gait))}
</section>
{REVIEW_START}{REVIEW_END}
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


def write_report(
    path: str | Path,
    summary: SessionSummary | Mapping[str, Any],
    metrics: MetricsSeries,
    gait: GaitSummary | None,
    cues: Sequence[Cue | CueRecord | Mapping[str, Any]],
    settings: Settings,
    plots: Mapping[str, tuple[str, str]] | None = None,
) -> Path:
    """Write a self-contained HTML report atomically and return its path.

    `path` is the HTML file, or an existing folder to put `report.html` in. `summary` may also
    be a stored summary.json's content. `plots` are the plots already drawn for this session
    (`plot_descriptions`); without them they are drawn here.
    """
    target = Path(path)
    if target.is_dir():
        target = target / SessionFiles.REPORT
    target.parent.mkdir(parents=True, exist_ok=True)
    text = _build_html(as_summary(summary), metrics, gait, cues, settings, datetime.now(), plots)
    atomic_write_text(target, text)
    return target


REVIEW_START = "<!-- posecoach:review -->"
REVIEW_END = "<!-- /posecoach:review -->"
_REVIEW_BEFORE = ('<section aria-labelledby="h-limits">', "<footer>", "</main>")


def review_section(review: SessionReview) -> str:
    """The coach's note and measurements as a report section; empty when there are none."""
    if not review.note and not review.measurements:
        return ""
    parts = ['<section aria-labelledby="h-review">', '<h2 id="h-review">Coach\'s review</h2>']
    if review.note:
        parts.append(f'<h3>Note</h3>\n<p class="review-note">{_e(review.note)}</p>')
    if review.measurements:
        rows = "\n".join(
            f'<tr><td class="num">{i}</td><td class="time">{_e(clip_time(m.time_s))}</td>'
            f'<td class="num">{_e(m.frame + 1 if m.frame is not None else "")}</td>'
            f'<td>{_e(m.kind)}</td><td class="num">{_e(measurement_text(m))}</td></tr>'
            for i, m in enumerate(review.measurements, start=1)
        )
        parts.append(
            "<h3>Measurements on paused frames</h3>\n<table>\n<caption>Angles in degrees at "
            "the middle point; distances in metres from the walker's height, else in leg "
            "lengths.</caption>\n<thead><tr><th scope=\"col\">#</th>"
            "<th scope=\"col\">Time (m:ss.ss)</th><th scope=\"col\">Frame</th>"
            "<th scope=\"col\">Tool</th><th scope=\"col\">Value</th></tr></thead>\n"
            f"<tbody>\n{rows}\n</tbody>\n</table>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def clip_time(seconds: float) -> str:
    """A time in the clip to the hundredth of a second, m:ss.ss (a frame's time)."""
    minutes, secs = divmod(max(float(seconds), 0.0), 60.0)
    return f"{int(minutes)}:{secs:05.2f}"


def with_review(page: str, review: SessionReview) -> str:
    """A report page with its coach's review section replaced by `review`'s (put before the
    limits section of a report written before it had one)."""
    block = REVIEW_START + review_section(review) + REVIEW_END
    start, end = page.find(REVIEW_START), page.find(REVIEW_END)
    if start != -1 and end > start:
        return page[:start] + block + page[end + len(REVIEW_END):]
    for anchor in _REVIEW_BEFORE:
        at = page.find(anchor)
        if at != -1:
            return page[:at] + block + "\n" + page[at:]
    return page + block


def add_review(path: Path, review: SessionReview) -> Path:
    """Rewrite the report at `path` (atomically) with the coach's review as it is now."""
    page = path.read_text(encoding="utf-8")
    return atomic_write_text(path, with_review(page, review))
