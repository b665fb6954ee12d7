"""The clinician's one-page report of a 3-metre backward walk test: `clinician_report.html`.

Printable on one A4 page and self-contained (inline CSS, no scripts or outside assets, every
text HTML-escaped): the result with its uncertainty, the trials, the published cut-offs for the
chosen population with their sources, the change since the last test, and the gait of the timed
walk (steps, step length, cadence, trunk and head).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from posecoach.coach.gait import GaitSummary
from posecoach.coach.metrics import MetricsSeries
from posecoach.coach.rolling import quiet_nan_warnings
from posecoach.coach.timed_test import (
    CUTOFFS,
    MDC,
    NOT_A_DIAGNOSIS,
    POPULATION_LABELS,
    TimedTestResult,
)
from posecoach.outputs.files import atomic_write_text
from posecoach.outputs.report import html_page_start
from posecoach.outputs.summary import SessionSummary

CLINICIAN_REPORT = "clinician_report.html"

_SCALE_WORDS = {
    "floor_marks": "two floor marks 3 m apart",
    "height": "the walker's height",
}

_CSS = """
* { box-sizing: border-box; }
body { margin: 0; color: #1F2328; background: #FFFFFF;
  font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
main { max-width: 780px; margin: 0 auto; padding: 18px 22px; }
h1 { font-size: 1.35rem; margin: 0 0 2px; }
h2 { font-size: 1.02rem; margin: 14px 0 4px; border-bottom: 1px solid #D0D7DE; }
.meta { color: #57606A; margin: 0 0 8px; }
.result { font-size: 1.9rem; font-weight: 700; margin: 6px 0 0; }
.result small { font-size: 0.9rem; font-weight: 400; color: #57606A; }
.not-timed { font-size: 1.2rem; font-weight: 700; color: #8A1C0F; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 3px 6px;
  border-bottom: 1px solid #E1E4E8; }
thead th { background: #EEF2F6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.src, p.src { color: #57606A; font-size: 0.85em; }
.met { font-weight: 700; }
footer { margin-top: 12px; color: #57606A; font-size: 0.85em; }
@page { size: A4; margin: 12mm; }
@media print { main { padding: 0; } section, table { break-inside: avoid; } }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _s(value: float | None, digits: int = 2) -> str:
    return "\u2013" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


@dataclass(frozen=True)
class TimedGait:
    """The gait of the timed walk, between its onset and its end."""

    steps: int
    step_length_m: float | None
    step_length_leg: float | None
    cadence_spm: float | None
    trunk_lean_deg: float | None
    head_angle_deg: float | None


def timed_walk_gait(result: TimedTestResult, metrics: MetricsSeries,
                    gait: GaitSummary | None) -> TimedGait | None:
    """Steps, step length, cadence, trunk lean and head angle between start_s and end_s."""
    if result.start_s is None or result.end_s is None:
        return None
    lo, hi = result.start_s, result.end_s
    steps = [s for s in (gait.steps if gait else []) if lo <= s.time_s <= hi]
    lengths_m = [s.step_length_m for s in steps if s.step_length_m is not None]
    lengths_leg = [s.step_length_leg for s in steps if math.isfinite(s.step_length_leg)]
    cadence = None
    if len(steps) >= 3 and steps[-1].time_s > steps[0].time_s:
        cadence = (len(steps) - 1) / (steps[-1].time_s - steps[0].time_s) * 60.0
    t = np.asarray(metrics.time_s, dtype=float)
    inside = (t >= lo) & (t <= hi) & (np.asarray(metrics.view) == "side")

    def median(name: str) -> float | None:
        values = np.asarray(metrics.column(name), dtype=float)[inside]
        with quiet_nan_warnings():
            m = float(np.nanmedian(values)) if values.size else math.nan
        return m if math.isfinite(m) else None

    return TimedGait(
        len(steps),
        float(np.median(lengths_m)) if lengths_m else None,
        float(np.median(lengths_leg)) if lengths_leg else None,
        cadence, median("trunk_lean_deg"), median("head_angle_deg"),
    )


def _trials_table(result: TimedTestResult) -> str:
    if not result.trials:
        return "<p>No trial was found in the clip.</p>"
    rows = []
    for tr in result.trials:
        kind = "practice" if tr.practice else "counted"
        outcome = (f"{_s(tr.time_s)} s \u00b1 {_s(tr.uncertainty_s)}" if tr.timed
                   else f"not timed: {tr.reason or ''}")
        rows.append(
            f"<tr><td>{tr.number}</td><td>{kind}</td><td>{_e(outcome)}</td>"
            f'<td class="num">{_s(tr.start_s)}</td><td class="num">{_s(tr.end_s)}</td>'
            f'<td class="num">{_s(tr.speed_m_s)}</td></tr>'
        )
    return ("<table><thead><tr><th>Trial</th><th>Kind</th><th>Time</th>"
            "<th>Start in clip (s)</th><th>End in clip (s)</th><th>Speed (m/s)</th></tr>"
            "</thead><tbody>" + "".join(rows) + "</tbody></table>")


def _cutoff_table(result: TimedTestResult) -> str:
    cutoffs = [c for c in CUTOFFS if c.population == result.population]
    if not cutoffs:
        return ("<p>No published fall cut-off of the 3MBWT was found for "
                f"{_e(POPULATION_LABELS.get(result.population, result.population))}.</p>")
    rows = []
    for c in cutoffs:
        met = None
        if result.time_s is not None:
            met = result.time_s >= c.cutoff_s if c.above else result.time_s <= c.cutoff_s
        sign = "\u2265" if c.above else "\u2264"
        mark = ' class="met"' if met else ""
        answer = "yes" if met else ("no" if met is not None else "\u2013")
        rows.append(
            f"<tr{mark}><td class=\"num\">{sign} {c.cutoff_s:g} s</td><td>{_e(c.finding)}</td>"
            f"<td>{answer}</td>"
            f'<td class="src">{_e(c.source)}</td></tr>'
        )
    return ("<table><thead><tr><th>Cut-off</th><th>Published finding</th><th>This time</th>"
            "<th>Source</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _change(result: TimedTestResult) -> str:
    mdc = MDC.get(result.population)
    mdc_line = (f'<p class="src">Minimal detectable change for this population: '
                f"{mdc.mdc_s:g} s ({_e(mdc.source)}).</p>" if mdc else
                '<p class="src">No published minimal detectable change was found for this '
                "population.</p>")
    changes = [i for i in result.interpretation if i.kind == "change"]
    if result.previous_time_s is None or not changes:
        return "<p>No previous test was given.</p>" + mdc_line
    return f"<p>{_e(changes[0].text)}</p>" + mdc_line


def _join_sources(sources: tuple[str, ...]) -> str:
    return "; ".join(sources) if sources else "none"


def _gait_table(g: TimedGait | None) -> str:
    if g is None:
        return "<p>The walk was not timed, so its gait is not reported.</p>"
    step_length = (f"{_s(g.step_length_m)} m" if g.step_length_m is not None
                   else f"{_s(g.step_length_leg)} leg lengths")
    rows = [
        ("Steps", str(g.steps)),
        ("Step length (median)", step_length),
        ("Cadence", f"{_s(g.cadence_spm, 0)} steps/min"),
        ("Trunk lean (median, + forwards)", f"{_s(g.trunk_lean_deg, 1)}\u00b0"),
        ("Head angle (median, + down/forwards)", f"{_s(g.head_angle_deg, 1)}\u00b0"),
    ]
    return "<table><tbody>" + "".join(
        f'<tr><th>{_e(k)}</th><td class="num">{_e(v)}</td></tr>' for k, v in rows
    ) + "</tbody></table>"


def build_clinician_html(summary: SessionSummary, metrics: MetricsSeries,
                         gait: GaitSummary | None, generated: datetime | None = None) -> str:
    """The report's HTML; `summary.timed_test` must be set."""
    result = summary.timed_test
    if result is None:
        raise ValueError("the summary holds no timed test")
    generated = generated or datetime.now()
    source = Path(summary.source or "unknown source").name or "unknown source"
    population = POPULATION_LABELS.get(result.population, result.population)
    scale = _SCALE_WORDS.get(result.scale_source or "", "none")
    meta = [f"Clip: {source}", f"Date: {generated:%Y-%m-%d}", f"Population: {population}",
            f"Distance scale: {scale}"]
    if summary.height_cm:
        meta.append(f"Height: {summary.height_cm:.0f} cm")
    body = summary.body_scale
    if body is not None and body.leg_m is not None and body.rel_uncertainty is not None:
        meta.append(f"Body scale: {_join_sources(body.sources)}, "
                    f"\u00b1{100 * body.rel_uncertainty:.0f}%")
    if result.timed:
        headline = (f'<p class="result">{_s(result.time_s)} s <small>\u00b1 '
                    f"{_s(result.uncertainty_s)} s \u00b7 {_e(result.scoring)} of "
                    f"{result.trials_counted} counted trial(s) of {result.trials_asked} asked"
                    "</small></p>")
    else:
        headline = f'<p class="not-timed">Not timed. {_e(result.reason or "")}</p>'
    notes = "".join(f"<li>{_e(i.text)}</li>" for i in result.interpretation
                    if i.kind in ("cutoff", "note"))
    g = timed_walk_gait(result, metrics, gait) if result.timed else None
    start = html_page_start(f"3-metre backward walk test: {source}", _CSS,
                            "3-metre backward walk test", meta)
    return start + f"""\
<section aria-labelledby="h-result">
<h2 id="h-result">Result</h2>
{headline}
<ul>{notes}</ul>
</section>
<section aria-labelledby="h-trials">
<h2 id="h-trials">Trials</h2>
{_trials_table(result)}
</section>
<section aria-labelledby="h-cutoffs">
<h2 id="h-cutoffs">Published cut-offs ({_e(population)})</h2>
{_cutoff_table(result)}
</section>
<section aria-labelledby="h-change">
<h2 id="h-change">Change since the last test</h2>
{_change(result)}
</section>
<section aria-labelledby="h-gait">
<h2 id="h-gait">Gait of the timed walk</h2>
{_gait_table(g)}
</section>
<footer>
<p>Timed from the video: the clock starts when the pelvis leaves the still stance and stops
when it has covered {result.distance_m:g} m backwards. The uncertainty (a 90% interval)
combines the frame interval, the distance scale and the placing of the start. Two floor marks
3 m apart are the recommended distance scale; without them the scale is the walker's height
against their ear-to-heel height in the still stance, the same body scale as the step lengths.
Set-up: heels on the start line,
walk backwards "as quickly but safely as possible" (Carter et al. 2019). {_e(NOT_A_DIAGNOSIS)}
Made by posecoach {generated:%Y-%m-%d %H:%M}.</p>
</footer>
</main>
</body>
</html>
"""


def write_clinician_report(path: str | Path, summary: SessionSummary, metrics: MetricsSeries,
                           gait: GaitSummary | None) -> Path:
    """Write `clinician_report.html` atomically; raises `OutputError` when it cannot."""
    return atomic_write_text(path, build_clinician_html(summary, metrics, gait))
