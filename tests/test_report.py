"""Tests for the HTML report, its plots and the plain-language summary."""

from __future__ import annotations

import html
import math
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from posecoach.coach.cues import Cue
from posecoach.coach.gait import GaitSummary, Step
from posecoach.coach.metrics import FrameMetrics, MetricsSeries
from posecoach.coach.rules import RULE_IDS
from posecoach.outputs import plots, report
from posecoach.outputs.report import format_time, render_plots, summary_in_words, write_report
from posecoach.settings import Settings, load_settings
from tests.conftest import TEST_OUTPUT

HEIGHT_CM = 175.0
FPS = 30.0
DURATION_S = 30.0
NAN = float("nan")
EVIL = "Look up <script>alert('x')</script> & breathe"
EVIL_GUIDANCE = 'Keep your head up "always" <b>& shoulders back</b>.'


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(level="beginner", height_cm=HEIGHT_CM)


def _direction(t: float) -> str:
    if t < 2.0:
        return "standing"
    if t < 22.0:
        return "backward"
    if t < 24.0:
        return "turning"
    return "forward"


def make_metrics(duration_s: float = DURATION_S, fps: float = FPS) -> MetricsSeries:
    """A 30 s clip: stand, walk backwards (side view), a 1 s dropout, turn, walk away (back)."""
    out = []
    for i in range(int(duration_s * fps)):
        t = i / fps
        person = not 12.0 <= t < 13.0
        view = "side" if t < 24.0 else "back"
        side = person and view == "side"
        out.append(
            FrameMetrics(
                frame=i,
                time_s=t,
                has_person=person,
                view=view if person else "unknown",
                facing=1 if side else 0,
                direction=_direction(t) if person else "unknown",
                pelvis_speed_leg_s=-0.8 if _direction(t) == "backward" else 0.0,
                trunk_lean_deg=4.0 + 9.5 * math.sin(2 * math.pi * t / 8.0) if side else NAN,
                trunk_lateral_lean_deg=NAN if side else 2.0 * math.sin(t),
                head_angle_deg=18.0 + 9.0 * math.sin(2 * math.pi * t / 5.0 + 1.0)
                if person else NAN,
                looking_down=False,
                head_turn=0.1,
                head_turned=False,
                edge_distance_frac=0.2,
                fully_in_frame=person,
                leg_length_px=420.0 if person else NAN,
                hip_height_frac=0.45 if person else NAN,
                fallen=False,
            )
        )
    return MetricsSeries.from_rows(out)


def make_steps() -> list[Step]:
    steps = []
    t = 2.6
    i = 0
    scale = HEIGHT_CM / 100 * 0.491
    while t < 21.5:
        side = "left" if i % 2 == 0 else "right"
        length = 0.52 + 0.05 * math.sin(i / 3.0) + (0.08 if side == "right" else 0.0)
        if i in (14, 15):
            length = 0.74
        step_time = None if i == 0 else 0.56 + 0.04 * math.sin(i / 2.0)
        steps.append(Step(t, int(t * FPS), side, length, length * scale, step_time))
        t += step_time or 0.58
        i += 1
    return steps


def make_gait(steps: list[Step]) -> GaitSummary:
    lengths = sorted(s.step_length_leg for s in steps)
    times = sorted(s.step_time_s for s in steps if s.step_time_s)
    median_len = lengths[len(lengths) // 2]
    median_time = times[len(times) // 2]
    return GaitSummary(
        steps=steps,
        events=[],
        cadence_spm=60.0 / median_time,
        step_length_leg=median_len,
        step_length_m=median_len * HEIGHT_CM / 100 * 0.491,
        step_time_s=median_time,
        speed_leg_s=0.9,
        speed_m_s=0.77,
        step_length_symmetry=0.86,
        step_time_symmetry=0.97,
        leg_length_px=420.0,
    )


def make_cues(settings: Settings) -> list[Cue]:
    rules = settings.rules
    return [
        Cue("trunk_upright", "Stand tall", "warning", 4.1, 7.0,
            rules.trunk_upright.guidance, 3),
        Cue("head_up", EVIL, "warning", 5.0, 6.4, EVIL_GUIDANCE, 4),
        Cue("trunk_upright", "Stand tall", "warning", 13.2, 15.0,
            rules.trunk_upright.guidance, 3),
        Cue("in_frame", "Step back into view", "critical", 12.0, 13.1,
            rules.in_frame.guidance, 2),
        Cue("step_length", "Shorter steps", "info", 11.3, 11.3, rules.step_length.guidance, 5),
        Cue("good_form", "Nice and tall, keep going", "info", 19.0, 19.0,
            rules.good_form.guidance, 9),
        Cue("camera_view", "Turn side-on to the camera", "info", 27.0, None,
            rules.camera_view.guidance, 6),
    ]


def make_summary(
    metrics: MetricsSeries, gait: GaitSummary, cues: list[Cue], settings: Settings
) -> dict[str, Any]:
    rules = settings.rules
    return {
        "source": "/data/clips/anna_backwards_<park>.mp4",
        "level": "beginner",
        "height_cm": HEIGHT_CM,
        "duration_s": DURATION_S,
        "frames": len(metrics),
        "frames_with_person": int(metrics.has_person.sum()),
        "fps": FPS,
        "direction": "backward",
        "backward_time_s": 20.0,
        "forward_time_s": 6.0,
        "standing_time_s": 2.0,
        "view": "mixed",
        "view_time_s": {"side": 23.0, "front": 0.0, "back": 6.0},
        "steps": len(gait.steps),
        "cadence_spm": gait.cadence_spm,
        "step_length_leg": gait.step_length_leg,
        "step_length_m": gait.step_length_m,
        "step_time_s": gait.step_time_s,
        "speed_leg_s": gait.speed_leg_s,
        "speed_m_s": gait.speed_m_s,
        "step_length_symmetry": gait.step_length_symmetry,
        "step_time_symmetry": gait.step_time_symmetry,
        "trunk_lean_deg_median": 3.6,
        "head_angle_deg_median": 19.2,
        "upright_share": 0.83,
        "head_up_share": 0.9,
        "cues": [c.to_dict() for c in cues],
        "step_list": [
            {"time_s": s.time_s, "side": s.side, "step_length_leg": s.step_length_leg,
             "step_length_m": s.step_length_m, "step_time_s": s.step_time_s}
            for s in gait.steps
        ],
        "thresholds": {
            "trunk_max_forward_lean_deg": rules.trunk_upright.max_forward_lean_deg,
            "trunk_max_backward_lean_deg": rules.trunk_upright.max_backward_lean_deg,
            "head_max_angle_deg": rules.head_up.max_head_angle_deg,
            "step_max_length_leg": rules.step_length.max_step_length_leg,
        },
        "warnings": ["the video ends early (truncated at 0:30); the last frames were not read"],
    }


def empty_summary() -> dict[str, Any]:
    keys_null = [
        "cadence_spm", "step_length_leg", "step_length_m", "step_time_s", "speed_leg_s",
        "speed_m_s", "step_length_symmetry", "step_time_symmetry", "trunk_lean_deg_median",
        "head_angle_deg_median", "upright_share", "head_up_share", "fps", "height_cm",
    ]
    summary: dict[str, Any] = dict.fromkeys(keys_null)
    summary.update(
        source="empty.mp4", level="beginner", duration_s=5.0, frames=150, frames_with_person=0,
        direction="unknown", backward_time_s=0.0, forward_time_s=0.0, standing_time_s=0.0,
        view="unknown", view_time_s={"side": 0.0, "front": 0.0, "back": 0.0}, steps=0,
        cues=[], step_list=[], thresholds=None, warnings=[],
    )
    return summary


def nobody_metrics(n: int = 150) -> MetricsSeries:
    return MetricsSeries.from_rows(
        FrameMetrics(i, i / FPS, False, "unknown", 0, "unknown", NAN, NAN, NAN, NAN, False, NAN,
                     False, NAN, False, NAN, NAN, False)
        for i in range(n)
    )


@pytest.fixture(scope="module")
def realistic(settings: Settings) -> dict[str, Any]:
    metrics = make_metrics()
    gait = make_gait(make_steps())
    cues = make_cues(settings)
    summary = make_summary(metrics, gait, cues, settings)
    return {"summary": summary, "metrics": metrics, "gait": gait, "cues": cues}


@pytest.fixture(scope="module")
def report_html(realistic: dict[str, Any], settings: Settings) -> str:
    """The realistic report, also kept in test-output/report/ for a look in a browser."""
    out_dir = TEST_OUTPUT / "report"
    path = write_report(out_dir / "report.html", settings=settings, **realistic)
    assert path == out_dir / "report.html"
    return path.read_text(encoding="utf-8")


class _Outline(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.headings: list[int] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))


def _outline(text: str) -> _Outline:
    parser = _Outline()
    parser.feed(text)
    return parser


def test_format_time() -> None:
    assert format_time(0) == "0:00"
    assert format_time(65.4) == "1:05"
    assert format_time(59.6) == "1:00"
    assert format_time(3725) == "1:02:05"
    assert format_time(None) == "\u2014"
    assert format_time(NAN) == "\u2014"


def test_report_written_and_self_contained(report_html: str) -> None:
    text = report_html
    assert text.startswith("<!DOCTYPE html>")
    assert "http://" not in text and "https://" not in text
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:[a-z]+:)?//""", text, re.I)
    assert not re.search(r"<link\b", text, re.I)
    assert not re.search(r"<script\b", text, re.I)
    assert "@import" not in text and "@font-face" not in text
    for tag, attrs in _outline(text).tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith(("#", "data:")), (tag, name, value)


def test_report_has_title_and_sections(report_html: str) -> None:
    text = report_html
    assert "<title>Backward-walking report: anna_backwards_&lt;park&gt;.mp4 (" in text
    assert re.search(r"Report date: \d{4}-\d{2}-\d{2}", text)
    for heading in ("Summary", "Key numbers", "Plots", "Cues", "Steps",
                    "Limits of single-camera measurement"):
        assert f">{heading}</h2>" in text
    assert "Stenum" in text and "5 cm" in text
    assert "steps/min" in text and "leg lengths" in text and "<td>m</td>" in text


def test_report_contains_plots_with_thresholds(report_html: str) -> None:
    text = report_html
    assert text.count('<svg class="plot" role="img"') == 5
    for title in report.PLOT_TITLES.values():
        assert f">{html.escape(title)}</title>" in text
    assert "forward limit +12\u00b0" in text
    assert "backward limit \u221212\u00b0" in text
    assert "head limit 28\u00b0" in text
    assert "0.65 leg lengths" in text
    ids = re.findall(r'\bid="([^"]+)"', text)
    assert len(ids) == len(set(ids)), "element ids must be unique across inline plots"
    refs = set(re.findall(r'(?:href="#|url\(#)([^")]+)', text))
    assert refs <= set(ids)


def test_report_escapes_cues_and_guidance(report_html: str, settings: Settings) -> None:
    text = report_html
    assert "<script>alert" not in text
    assert html.escape(EVIL) in text
    assert html.escape(EVIL_GUIDANCE) in text
    assert "<b>&" not in text
    assert html.escape(settings.rules.trunk_upright.guidance) in text
    for message in ("Stand tall", "Step back into view", "Shorter steps"):
        assert message in text
    assert '<span class="sev sev-critical">critical</span>' in text
    assert ">0:04</td>" in text and ">0:07</td>" in text
    assert "still active" in text


def test_report_is_accessible(report_html: str) -> None:
    text = report_html
    outline = _outline(text)
    assert re.search(r'<html lang="en">', text)
    assert outline.headings[0] == 1 and outline.headings.count(1) == 1
    for before, after in zip(outline.headings, outline.headings[1:], strict=False):
        assert after <= before + 1, outline.headings
    assert '<th scope="col">' in text and '<th scope="row">' in text
    svgs = [attrs for tag, attrs in outline.tags if tag == "svg"]
    assert len(svgs) == 5
    for attrs in svgs:
        assert attrs.get("role") == "img" and attrs.get("aria-labelledby")


def test_summary_in_words_realistic(realistic: dict[str, Any]) -> None:
    words = summary_in_words(realistic["summary"])
    text = " ".join(words)
    assert "Walked backwards for 0:20 of the 0:30 clip (67%)" in text
    assert "The camera view changed (side 0:23, back 0:06)" in text
    assert "steps at a cadence of" in text and "steps per minute" in text
    assert "m (" in text and "leg lengths" in text
    assert "upright 83% of the time" in text and "head up 90% of the time" in text
    assert "symmetry 0.86" in text
    assert "\u201cStand tall\u201d (trunk upright): 2 times, at 0:04 and 0:13" in text
    assert "Good form was praised once." in text
    assert words[-1].startswith("Warning: the video ends early")


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        ("back", "Seen from behind: step length and trunk lean can't be judged; "
                 "film from the side."),
        ("front", "Seen from the front: step length and trunk lean can't be judged"),
        ("side", "Filmed from the side"),
        ("unknown", "The camera view could not be recognised"),
    ],
)
def test_summary_in_words_views(realistic: dict[str, Any], view: str, expected: str) -> None:
    summary = dict(realistic["summary"], view=view)
    assert any(expected in s for s in summary_in_words(summary))


def test_summary_in_words_nulls_and_no_steps(realistic: dict[str, Any]) -> None:
    summary = {key: None for key in realistic["summary"]}
    summary.update(frames=100, frames_with_person=80, view="back", steps=0)
    words = summary_in_words(summary)
    text = " ".join(words)
    assert "No steps were detected" in text
    assert "Seen from behind" in text
    assert "Trunk lean could not be measured" in text
    assert summary_in_words({}) and summary_in_words(empty_summary())
    assert "Nobody was seen" in summary_in_words(empty_summary())[0]


@pytest.mark.parametrize("metrics_kind", ["nobody", "none"])
def test_empty_inputs_report(tmp_path: Path, settings: Settings, metrics_kind: str) -> None:
    metrics = nobody_metrics() if metrics_kind == "nobody" else MetricsSeries.from_rows([])
    empty_gait = GaitSummary([], [], None, None, None, None, None, None, None, None, None)
    path = write_report(tmp_path, empty_summary(), metrics, empty_gait, [], settings)
    assert path == tmp_path / "report.html"
    text = path.read_text(encoding="utf-8")
    assert "Nobody was seen in the video" in text
    assert text.count(">no data</text>") == 5
    assert "No cues were given." in text and "No steps were detected." in text
    assert text.count('<svg class="plot"') == 5
    path = write_report(tmp_path / "r2.html", {}, metrics, None, [], settings)
    assert path.exists()


def test_render_plots(realistic: dict[str, Any], settings: Settings) -> None:
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    for _ in range(3):
        plots = render_plots(realistic["metrics"], realistic["gait"], realistic["cues"], settings)
    assert set(plots) == set(report.PLOT_TITLES)
    for key, svg in plots.items():
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
        assert f'<title id="{key}-title">' in svg
        assert "http" not in svg
        assert ">no data<" not in svg
    assert "1.00 m" not in plots["step_length"]
    assert "limit 0.56 m (0.65 leg lengths)" in plots["step_length"]
    assert len(plt.get_fignums()) == before


def _layout_problems(fig: Any) -> list[str]:
    """Text outside the figure, axis labels on their tick labels, legends on tick labels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    page = fig.bbox.padded(0.5)
    problems = []
    for text in fig.findobj(Text):
        if text.get_visible() and text.get_text():
            box = text.get_window_extent(renderer)
            if not (page.x0 <= box.x0 and box.x1 <= page.x1
                    and page.y0 <= box.y0 and box.y1 <= page.y1):
                problems.append(f"outside the figure: {text.get_text()!r}")
    for ax in fig.axes:
        yticks = [t.get_window_extent(renderer) for t in ax.get_yticklabels()
                  if t.get_visible() and t.get_text()]
        xticks = [t.get_window_extent(renderer) for t in ax.get_xticklabels()
                  if t.get_visible() and t.get_text()]
        ylabel, xlabel = ax.yaxis.label, ax.xaxis.label
        if (yticks and ylabel.get_text()
                and ylabel.get_window_extent(renderer).x1 > min(b.x0 for b in yticks)):
            problems.append(f"y label on its tick labels: {ylabel.get_text()!r}")
        if (xticks and xlabel.get_text()
                and xlabel.get_window_extent(renderer).y1 > min(b.y0 for b in xticks)):
            problems.append(f"x label on its tick labels: {xlabel.get_text()!r}")
        shown = sorted(xticks, key=lambda b: b.x0)
        if any(a.x1 > b.x0 for a, b in zip(shown, shown[1:], strict=False)):
            problems.append("time labels on each other")
        if ax.get_position().width * fig.get_figwidth() < 1.0:
            problems.append("axes under an inch wide")
        legend = ax.get_legend()
        if legend is not None:
            box = legend.get_window_extent(renderer)
            if any(box.overlaps(b) for b in xticks):
                problems.append("legend on the time labels")
    return problems


def _busy_inputs(settings: Settings) -> tuple[MetricsSeries, GaitSummary, list[Cue]]:
    """Every direction and view, extreme angles, and a cue for every rule plus an unknown one."""
    directions = ["backward", "forward", "standing", "turning", "unknown"]
    views = ["side", "front", "back", "unknown"]
    metrics = []
    for m in make_metrics().rows():
        i = m.frame
        person = (i // 40) % 7 != 3
        metrics.append(FrameMetrics(
            **{**m.__dict__, "has_person": person, "direction": directions[(i // 25) % 5],
               "view": views[(i // 33) % 4],
               "trunk_lean_deg": 85 * math.sin(i / 50) if person else NAN,
               "head_angle_deg": 170 * abs(math.sin(i / 70)) if person else NAN}
        ))
    rules = [*RULE_IDS, "some_new_rule_with_a_long_name"]
    cues = [Cue(rule, "message", ("info", "warning", "critical")[k % 3], 1.0 + 3 * k,
                2.0 + 3 * k, "guidance", 1) for k, rule in enumerate(rules)]
    return MetricsSeries.from_rows(metrics), make_gait(make_steps()), cues


def _short_inputs(settings: Settings) -> tuple[MetricsSeries, GaitSummary, list[Cue]]:
    """Two seconds, three steps and one cue: time spans under two seconds."""
    cues = [Cue("head_up", "Head up", "critical", 1.2, 1.9, "guidance", 1)]
    return make_metrics(duration_s=2.0), make_gait(make_steps()[:3]), cues


@pytest.mark.parametrize("width_in", [plots.WIDTH_IN, 330 / 93.6], ids=["report", "phone"])
@pytest.mark.parametrize("case", ["realistic", "busy", "short", "empty"])
def test_plot_labels_fit(case: str, width_in: float, realistic: dict[str, Any],
                         settings: Settings) -> None:
    """No label outside its figure or on another, in the report and drawn for a phone."""
    if case == "realistic":
        inputs = (realistic["metrics"], realistic["gait"], realistic["cues"])
    elif case == "busy":
        inputs = _busy_inputs(settings)
    elif case == "short":
        inputs = _short_inputs(settings)
    else:
        inputs = (nobody_metrics(), None, [])
    for key, fig, desc in plots.plot_figures(*inputs, settings, width_in):
        assert fig.get_figwidth() == pytest.approx(width_in), key
        assert fig.get_layout_engine() is None, key
        assert desc, key
        assert not _layout_problems(fig), (case, key, _layout_problems(fig))


def test_short_spans_still_get_time_labels(settings: Settings) -> None:
    metrics, gait, cues = _short_inputs(settings)
    svgs = render_plots(metrics, gait, cues, settings)
    for key in ("step_length", "cadence"):
        labels = re.findall(r">(\d+:\d\d(?:\.\d)?)</text>", svgs[key])
        assert len(labels) >= 2, (key, labels)
    assert "time (m:ss.s)" in svgs["cadence"]
    assert "time (m:ss)" in svgs["posture"]


def test_step_plot_in_leg_lengths_without_height(realistic: dict[str, Any]) -> None:
    steps = [Step(s.time_s, s.frame, s.side, s.step_length_leg, None, s.step_time_s)
             for s in realistic["gait"].steps]
    gait = make_gait(steps)
    plots = render_plots(MetricsSeries.from_rows([]), gait, [], load_settings(level="intermediate"))
    assert "step length (leg lengths)" in plots["step_length"]
    assert "limit 0.75 leg lengths" in plots["step_length"]
    assert ">no data<" in plots["posture"]


def test_atomic_write_leaves_no_temp_files(
    tmp_path: Path, realistic: dict[str, Any], settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / "out" / "report.html"
    write_report(target, settings=settings, **realistic)
    write_report(target, settings=settings, **realistic)
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)
    original = target.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_report(target, settings=settings, **realistic)
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]
    assert target.read_bytes() == original
