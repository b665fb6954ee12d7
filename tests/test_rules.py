"""Rule engine: persistence, cooldown, priority, views, glances, steps, praise, baseline."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from posecoach.coach.cues import Cue
from posecoach.coach.gait import Step
from posecoach.coach.metrics import FrameMetrics
from posecoach.coach.rules import (
    RULE_IDS,
    RULE_LABELS,
    RULES,
    RULES_BY_ID,
    RuleEngine,
    evaluate_rules,
    rules_for_display,
)
from posecoach.settings import RulesSettings, Settings, load_settings

FPS = 10
NAN = math.nan

MSG_FALL = RULES_BY_ID["fall"].messages["fallen"]
MSG_OUT_OF_VIEW = RULES_BY_ID["in_frame"].messages["out_of_view"]
MSG_AT_EDGE = RULES_BY_ID["in_frame"].messages["at_edge"]
MSG_LEAN_FORWARD = RULES_BY_ID["trunk_upright"].messages["forward"]
MSG_LEAN_BACK = RULES_BY_ID["trunk_upright"].messages["back"]
MSG_HEAD_UP = RULES_BY_ID["head_up"].messages["head_up"]
MSG_LOOK_BACK = RULES_BY_ID["look_back"].messages["look_back"]
MSG_STEP_LENGTH = RULES_BY_ID["step_length"].messages["shorter"]
MSG_CAMERA_VIEW = RULES_BY_ID["camera_view"].messages["turn_sideways"]
PRAISE_MESSAGES = tuple(RULES_BY_ID["good_form"].messages.values())

INTERMEDIATE = load_settings(level="intermediate")
BEGINNER = load_settings(level="beginner")
ADVANCED = load_settings(level="advanced")
WITH_BASELINE = load_settings(level="intermediate", overrides={"baseline": {"enabled": True}})
QUICK_PRAISE = load_settings(
    level="intermediate", overrides={"rules": {"good_form": {"cooldown_s": 5.0}}}
)
TRUNK_LAST = load_settings(
    level="intermediate", overrides={"rules": {"trunk_upright": {"priority": 8}}}
)

NOBODY: dict[str, Any] = dict(
    has_person=False,
    view="unknown",
    facing=0,
    direction="unknown",
    pelvis_speed_leg_s=NAN,
    trunk_lean_deg=NAN,
    trunk_lateral_lean_deg=NAN,
    head_angle_deg=NAN,
    head_turn=NAN,
    edge_distance_frac=NAN,
    fully_in_frame=False,
    leg_length_px=NAN,
    hip_height_frac=NAN,
)
LEAN = {"trunk_lean_deg": 20.0}


def good_frame(t: float, **overrides: Any) -> FrameMetrics:
    """A person walking backward upright in side view, fully in frame, at time t."""
    base = FrameMetrics(
        frame=round(t * FPS),
        time_s=t,
        has_person=True,
        view="side",
        facing=1,
        direction="backward",
        pelvis_speed_leg_s=-0.5,
        trunk_lean_deg=0.0,
        trunk_lateral_lean_deg=0.0,
        head_angle_deg=10.0,
        looking_down=False,
        head_turn=0.0,
        head_turned=False,
        edge_distance_frac=0.2,
        fully_in_frame=True,
        leg_length_px=300.0,
        hip_height_frac=0.5,
        fallen=False,
    )
    return replace(base, **overrides)


def clip(segments: Sequence[tuple[float, dict[str, Any]]]) -> list[FrameMetrics]:
    """Frames at FPS: each segment is (duration_s, overrides of the good frame)."""
    frames: list[FrameMetrics] = []
    i = 0
    for duration, overrides in segments:
        for _ in range(round(duration * FPS)):
            frames.append(good_frame(i / FPS, **overrides))
            i += 1
    return frames


def step(t: float, length: float) -> Step:
    return Step(
        time_s=t, frame=round(t * FPS), side="left", step_length_leg=length,
        step_length_m=None, step_time_s=1.0,
    )


def spans(cues: Sequence[Cue], rule: str) -> list[tuple[float, float | None]]:
    return [(c.start_s, c.end_s) for c in cues if c.rule == rule]


def feed(
    engine: RuleEngine, frames: Sequence[FrameMetrics], steps: Sequence[Step] = ()
) -> list[list[Cue]]:
    """Feed frames live, each step at the frame with its time; return what each update said."""
    said = []
    for m in frames:
        due = [s for s in steps if abs(s.time_s - m.time_s) < 1e-6]
        said.append(engine.update(m, due))
    return said


def approx_spans(expected: list[tuple[float, float]]) -> list[Any]:
    return [(pytest.approx(a), pytest.approx(b)) for a, b in expected]


# ------------------------------------------------------------------ persistence and clearing


@pytest.mark.parametrize(
    ("fault_s", "expected"),
    [
        (1.0, []),
        (2.0, []),                      # last fault frame is 1.9 s after the start: not enough
        (2.1, [(3.0, 3.1)]),            # fires at start + persist_s, ends when it clears
        (3.0, [(3.0, 4.0)]),
    ],
)
def test_persistence_and_end(fault_s: float, expected: list[tuple[float, float]]) -> None:
    frames = clip([(1.0, {}), (fault_s, LEAN), (2.0, {})])
    cues = evaluate_rules(frames, [], INTERMEDIATE)
    assert spans(cues, "trunk_upright") == approx_spans(expected)


@pytest.mark.parametrize(
    ("gap_s", "second_s", "expected"),
    [
        (2.0, 3.0, [(3.0, 4.0)]),                   # returns and clears inside the cooldown
        (10.0, 3.0, [(3.0, 4.0), (16.0, 17.0)]),    # returns after the cooldown
        (2.0, 10.0, [(3.0, 4.0), (13.0, 16.0)]),    # still faulty when the cooldown runs out
    ],
)
def test_cooldown_counts_from_previous_start(
    gap_s: float, second_s: float, expected: list[tuple[float, float]]
) -> None:
    frames = clip([(1.0, {}), (3.0, LEAN), (gap_s, {}), (second_s, LEAN), (2.0, {})])
    cues = evaluate_rules(frames, [], INTERMEDIATE)
    assert spans(cues, "trunk_upright") == approx_spans(expected)


def test_update_returns_each_cue_once_at_its_start() -> None:
    engine = RuleEngine(INTERMEDIATE)
    said = feed(engine, clip([(1.0, {}), (5.0, LEAN), (1.0, {})]))
    spoken = [(i, c.rule) for i, cues in enumerate(said) for c in cues]
    assert spoken == [(30, "trunk_upright")]
    assert engine.active == []
    assert [c.end_s for c in engine.finish(6.9)] == [pytest.approx(6.0)]


def test_active_cue_is_open_until_finish() -> None:
    engine = RuleEngine(INTERMEDIATE)
    feed(engine, clip([(1.0, {}), (3.0, LEAN)]))
    assert [(c.rule, c.end_s) for c in engine.active] == [("trunk_upright", None)]
    closed = engine.finish(10.0)
    assert [(c.rule, c.end_s) for c in closed] == [("trunk_upright", 10.0)]
    assert engine.active == []


# ------------------------------------------------------------------ messages and fields


@pytest.mark.parametrize(
    ("overrides", "rule", "message"),
    [
        ({"trunk_lean_deg": 15.0}, "trunk_upright", MSG_LEAN_FORWARD),
        ({"trunk_lean_deg": -15.0}, "trunk_upright", MSG_LEAN_BACK),
        ({"head_angle_deg": 35.0}, "head_up", MSG_HEAD_UP),
        ({"looking_down": True}, "head_up", MSG_HEAD_UP),
        ({"fully_in_frame": False, "edge_distance_frac": 0.01}, "in_frame", MSG_AT_EDGE),
        ({"fully_in_frame": False, "edge_distance_frac": -0.1}, "in_frame", MSG_OUT_OF_VIEW),
        ({"fully_in_frame": False, "edge_distance_frac": NAN}, "in_frame", MSG_OUT_OF_VIEW),
        (NOBODY, "in_frame", MSG_OUT_OF_VIEW),
        ({"fallen": True}, "fall", MSG_FALL),
        ({"view": "back", "trunk_lateral_lean_deg": 12.0}, "trunk_sway",
         "Keep your trunk steady; brace your core"),
    ],
)
def test_rule_messages(overrides: dict[str, Any], rule: str, message: str) -> None:
    cues = evaluate_rules(clip([(4.0, overrides)]), [], INTERMEDIATE)
    mine = [c for c in cues if c.rule == rule]
    assert [c.message for c in mine] == [message]
    cfg = getattr(INTERMEDIATE.rules, rule)
    assert mine[0].guidance == cfg.guidance and mine[0].guidance
    assert mine[0].priority == cfg.priority


# ------------------------------------------------------------------ priority and safety


SLUMP = {"trunk_lean_deg": 30.0, "head_angle_deg": 40.0, "fully_in_frame": False,
         "edge_distance_frac": 0.01}


@pytest.mark.parametrize(
    ("settings", "overrides", "expected_active", "started_together"),
    [
        (INTERMEDIATE, SLUMP, ["in_frame", "trunk_upright", "head_up"],
         ["trunk_upright", "head_up"]),
        (TRUNK_LAST, SLUMP, ["in_frame", "head_up", "trunk_upright"],
         ["head_up", "trunk_upright"]),
        (
            INTERMEDIATE,
            {"fallen": True, "trunk_lean_deg": 80.0, "fully_in_frame": False,
             "edge_distance_frac": 0.01},
            ["fall", "in_frame"],
            [],
        ),
        (
            INTERMEDIATE,
            {"view": "front", "trunk_lateral_lean_deg": 15.0, "looking_down": True},
            ["head_up", "trunk_sway", "camera_view"],
            ["head_up", "trunk_sway"],
        ),
    ],
)
def test_active_most_urgent_first(
    settings: Settings,
    overrides: dict[str, Any],
    expected_active: list[str],
    started_together: list[str],
) -> None:
    engine = RuleEngine(settings)
    said = feed(engine, clip([(4.0, overrides)]))
    assert [c.rule for c in engine.active] == expected_active
    assert [c.rule for c in said[20]] == started_together    # the frame at 2.0 s


def test_fall_fires_first_and_silences_posture() -> None:
    engine = RuleEngine(INTERMEDIATE)
    frames = clip([(1.0, {}), (3.0, {"fallen": True, "trunk_lean_deg": 80.0,
                                     "head_angle_deg": 70.0})])
    said = feed(engine, frames)
    first = next((i, cues) for i, cues in enumerate(said) if cues)
    assert first[0] == 13                        # 1.0 s onset + 0.3 s persistence
    assert [(c.rule, c.severity, c.priority) for c in first[1]] == [("fall", "critical", 1)]
    assert {c.rule for c in engine.finish(4.0)} == {"fall"}


# ------------------------------------------------------------------ views


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        ("side", {"trunk_upright": (3.0, 4.9)}),
        ("back", {"camera_view": (3.0, 4.9)}),
        ("front", {"camera_view": (3.0, 4.9)}),
        ("unknown", {"camera_view": (3.0, 4.9)}),
    ],
)
def test_views_gate_rules(view: str, expected: dict[str, tuple[float, float]]) -> None:
    frames = clip([(1.0, {"view": view}), (4.0, {"view": view, "trunk_lean_deg": 30.0})])
    cues = evaluate_rules(frames, [], INTERMEDIATE)
    got = {c.rule: (c.start_s, c.end_s) for c in cues}
    assert got == {k: (pytest.approx(a), pytest.approx(b)) for k, (a, b) in expected.items()}
    if "camera_view" in got:
        assert [c.message for c in cues] == [MSG_CAMERA_VIEW]
        assert cues[0].severity == "info"


def test_view_change_closes_cue_and_asks_to_turn() -> None:
    frames = clip([(4.0, LEAN), (5.0, {**LEAN, "view": "back"})])
    cues = evaluate_rules(frames, [], INTERMEDIATE)
    assert [(c.rule, c.start_s, c.end_s) for c in cues] == [
        ("trunk_upright", pytest.approx(2.0), pytest.approx(4.0)),
        ("camera_view", pytest.approx(7.0), pytest.approx(8.9)),
    ]


# ------------------------------------------------------------------ no person and frame edge


@pytest.mark.parametrize(
    ("segments", "expected"),
    [
        ([(20.0, NOBODY)], [("in_frame", 1.0, 19.9, MSG_OUT_OF_VIEW)]),
        (
            [(4.0, LEAN), (3.0, NOBODY), (2.0, {})],
            [("trunk_upright", 2.0, 4.0, MSG_LEAN_FORWARD),
             ("in_frame", 5.0, 7.0, MSG_OUT_OF_VIEW)],
        ),
        ([(3.0, {}), (0.5, NOBODY), (3.0, {})], []),
        (
            [(3.0, {"fully_in_frame": False, "edge_distance_frac": 0.01}), (1.0, {})],
            [("in_frame", 1.0, 3.0, MSG_AT_EDGE)],
        ),
    ],
)
def test_no_person_and_edge(
    segments: list[tuple[float, dict[str, Any]]], expected: list[tuple[str, float, float, str]]
) -> None:
    cues = evaluate_rules(clip(segments), [], INTERMEDIATE)
    got = [(c.rule, c.start_s, c.end_s, c.message) for c in cues]
    assert got == [(r, pytest.approx(a), pytest.approx(b), m) for r, a, b, m in expected]


# ------------------------------------------------------------------ glances


@pytest.mark.parametrize(
    ("segments", "glances", "stares"),
    [
        ([(1.0, {}), (1.0, {"head_turned": True}), (2.0, {})], [(1.0, 2.0)], []),
        ([(1.0, {}), (2.0, {"head_turned": True}), (2.0, {})], [(1.0, 3.0)], []),
        ([(1.0, {}), (3.0, {"head_turned": True}), (2.0, {})], [], [(3.1, 4.0)]),
        (
            [(1.0, {}), (1.0, {"head_turned": True}), (1.0, {}),
             (0.5, {"head_turned": True}), (1.0, {}), (1.5, {"head_turned": True}), (1.0, {})],
            [(1.0, 2.0), (3.0, 3.5), (4.5, 6.0)],
            [],
        ),
        ([(1.0, {}), (1.0, {"head_turned": True}), (1.0, NOBODY)], [(1.0, 2.0)], []),
    ],
)
def test_glance_vs_stare(
    segments: list[tuple[float, dict[str, Any]]],
    glances: list[tuple[float, float]],
    stares: list[tuple[float, float]],
) -> None:
    engine = RuleEngine(INTERMEDIATE)
    frames = clip(segments)
    feed(engine, frames)
    cues = engine.finish(frames[-1].time_s)
    assert engine.glances == approx_spans(glances)
    assert spans(cues, "look_back") == approx_spans(stares)
    assert all(c.message == MSG_LOOK_BACK for c in cues if c.rule == "look_back")


def test_head_turn_does_not_count_as_head_down() -> None:
    frames = clip([(5.0, {"head_turned": True, "head_angle_deg": 50.0})])
    cues = evaluate_rules(frames, [], INTERMEDIATE)
    assert [c.rule for c in cues] == ["look_back"]


# ------------------------------------------------------------------ step length


@pytest.mark.parametrize(
    ("lengths", "overrides", "expected"),
    [
        ([0.8, 0.5, 0.8, 0.5], {}, []),
        ([0.8, 0.8, 0.5], {}, [(2.0, 3.0)]),
        ([0.8, 0.8, 0.8, 0.8, 0.5], {}, [(2.0, 5.0)]),
        ([0.5, 0.8, 0.8, 0.8], {}, [(3.0, 9.9)]),
        ([0.8, 0.8, 0.8], {"view": "back"}, []),
        ([0.8, 0.8, 0.8], {"direction": "forward"}, []),
    ],
)
def test_step_length_over_consecutive_steps(
    lengths: list[float], overrides: dict[str, Any], expected: list[tuple[float, float]]
) -> None:
    steps = [step(float(i + 1), length) for i, length in enumerate(lengths)]
    cues = evaluate_rules(clip([(10.0, overrides)]), steps, INTERMEDIATE)
    assert spans(cues, "step_length") == approx_spans(expected)
    assert all(c.message == MSG_STEP_LENGTH for c in cues if c.rule == "step_length")


def test_offline_passes_step_at_first_frame_reaching_it() -> None:
    frames = clip([(5.0, {})])
    steps = [step(2.05, 0.8), step(1.05, 0.8), step(3.05, 0.5)]
    cues = evaluate_rules(list(reversed(frames)), steps, INTERMEDIATE)
    assert spans(cues, "step_length") == approx_spans([(2.1, 3.1)])


# ------------------------------------------------------------------ praise


@pytest.mark.parametrize(
    ("settings", "segments", "expected"),
    [
        (INTERMEDIATE, [(50.0, {})],
         [(15.0, 45.0, PRAISE_MESSAGES[0]), (45.0, 49.9, PRAISE_MESSAGES[1])]),
        (QUICK_PRAISE, [(50.0, {})],
         [(15.0, 30.0, PRAISE_MESSAGES[0]), (30.0, 45.0, PRAISE_MESSAGES[1]),
          (45.0, 49.9, PRAISE_MESSAGES[2])]),
        (INTERMEDIATE, [(14.0, {}), (1.0, NOBODY), (14.0, {})], []),
        (INTERMEDIATE, [(10.0, {}), (3.0, LEAN), (20.0, {})], [(28.0, 32.9, PRAISE_MESSAGES[0])]),
        (INTERMEDIATE, [(20.0, {"view": "front"})], []),
        (INTERMEDIATE, [(20.0, {"direction": "standing"})], []),
        (INTERMEDIATE, [(20.0, {"direction": "forward"})], []),
    ],
)
def test_good_form_praise(
    settings: Settings,
    segments: list[tuple[float, dict[str, Any]]],
    expected: list[tuple[float, float, str]],
) -> None:
    cues = evaluate_rules(clip(segments), [], settings)
    got = [(c.start_s, c.end_s, c.message) for c in cues if c.rule == "good_form"]
    assert got == [(pytest.approx(a), pytest.approx(b), m) for a, b, m in expected]
    assert all(c.severity == "info" for c in cues if c.rule == "good_form")


# ------------------------------------------------------------------ levels and baseline


@pytest.mark.parametrize(
    ("settings", "overrides", "lengths", "rule", "fires"),
    [
        (BEGINNER, {"trunk_lean_deg": 11.0}, [], "trunk_upright", False),
        (INTERMEDIATE, {"trunk_lean_deg": 11.0}, [], "trunk_upright", True),
        (ADVANCED, {"trunk_lean_deg": 9.0}, [], "trunk_upright", True),
        (INTERMEDIATE, {"trunk_lean_deg": 9.0}, [], "trunk_upright", False),
        (BEGINNER, {"head_angle_deg": 24.0}, [], "head_up", False),
        (ADVANCED, {"head_angle_deg": 24.0}, [], "head_up", True),
        (BEGINNER, {}, [0.8, 0.8, 0.8], "step_length", True),
        (ADVANCED, {}, [0.8, 0.8, 0.8], "step_length", False),
        (BEGINNER, {"head_turned": True}, [], "look_back", False),
        (ADVANCED, {"head_turned": True}, [], "look_back", True),
    ],
)
def test_levels_change_outcome(
    settings: Settings, overrides: dict[str, Any], lengths: list[float], rule: str, fires: bool
) -> None:
    frames = clip([(1.0, {}), (2.4, overrides), (1.0, {})])
    steps = [step(1.0 + 0.5 * i, length) for i, length in enumerate(lengths)]
    cues = evaluate_rules(frames, steps, settings)
    assert bool(spans(cues, rule)) is fires


@pytest.mark.parametrize(
    ("settings", "upright", "later", "expected"),
    [
        (INTERMEDIATE, {"trunk_lean_deg": 6.0}, {"trunk_lean_deg": 14.0}, [MSG_LEAN_FORWARD]),
        (WITH_BASELINE, {"trunk_lean_deg": 6.0}, {"trunk_lean_deg": 14.0}, []),
        (WITH_BASELINE, {"trunk_lean_deg": 6.0}, {"trunk_lean_deg": 18.0}, [MSG_LEAN_FORWARD]),
        (INTERMEDIATE, {"trunk_lean_deg": -6.0}, {"trunk_lean_deg": -14.0}, [MSG_LEAN_BACK]),
        (WITH_BASELINE, {"trunk_lean_deg": -6.0}, {"trunk_lean_deg": -14.0}, []),
        (INTERMEDIATE, {"head_angle_deg": 16.0}, {"head_angle_deg": 30.0}, [MSG_HEAD_UP]),
        # guidance.md: real slouching moved the head line from ~16 to ~30 degrees
        (WITH_BASELINE, {"head_angle_deg": 16.0}, {"head_angle_deg": 30.0}, [MSG_HEAD_UP]),
        (WITH_BASELINE, {"head_angle_deg": 16.0}, {"head_angle_deg": 24.0}, []),
        (WITH_BASELINE, {"head_angle_deg": 5.0}, {"head_angle_deg": 20.0}, [MSG_HEAD_UP]),
        (INTERMEDIATE, {"head_angle_deg": 5.0}, {"head_angle_deg": 20.0}, []),
    ],
)
def test_baseline_shifts_limits(
    settings: Settings, upright: dict[str, Any], later: dict[str, Any], expected: list[str]
) -> None:
    cues = evaluate_rules(clip([(4.0, upright), (5.0, later)]), [], settings)
    assert [c.message for c in cues if c.rule != "good_form"] == expected


@pytest.mark.parametrize(
    ("settings", "segments", "expected"),
    [
        (INTERMEDIATE, [(5.0, {"trunk_lean_deg": 4.0})], None),
        (
            WITH_BASELINE,
            [(5.0, {"trunk_lean_deg": 4.0, "head_angle_deg": 12.0})],
            {"trunk_lean_deg": 4.0, "head_angle_deg": 12.0, "from_s": 0.0, "to_s": 3.0},
        ),
        (
            WITH_BASELINE,
            [(2.0, NOBODY), (1.0, {"trunk_lean_deg": 30.0}), (5.0, {"trunk_lean_deg": -3.0})],
            {"trunk_lean_deg": -3.0, "head_angle_deg": 10.0, "from_s": 3.0, "to_s": 6.0},
        ),
        (WITH_BASELINE, [(5.0, {"view": "back"})], None),
    ],
)
def test_baseline_window(
    settings: Settings,
    segments: list[tuple[float, dict[str, Any]]],
    expected: dict[str, float] | None,
) -> None:
    engine = RuleEngine(settings)
    feed(engine, clip(segments))
    if expected is None:
        assert engine.baseline is None
    else:
        assert engine.baseline == {k: pytest.approx(v) for k, v in expected.items()}


def test_finish_returns_start_order_and_known_rules() -> None:
    frames = clip([(1.0, {}), (4.0, {**LEAN, "head_angle_deg": 40.0, "fully_in_frame": False,
                                     "edge_distance_frac": 0.01}), (1.0, {})])
    cues = evaluate_rules(frames, [], INTERMEDIATE)
    starts = [c.start_s for c in cues]
    assert starts == sorted(starts)
    assert [c.rule for c in cues] == ["in_frame", "trunk_upright", "head_up"]
    assert all(c.rule in RULE_IDS and c.end_s is not None for c in cues)


def test_no_frames_no_cues() -> None:
    assert evaluate_rules([], [step(1.0, 0.9)], INTERMEDIATE) == []


# ------------------------------------------------------------------ the catalogue


def test_catalogue_is_the_one_list_of_rules() -> None:
    assert RULE_IDS == (
        "fall", "in_frame", "trunk_upright", "trunk_sway", "head_up", "look_back",
        "step_length", "camera_view", "good_form",
    )
    assert set(RulesSettings.model_fields) == set(RULE_IDS)
    assert [r["id"] for r in rules_for_display()] == list(RULE_IDS)
    defaults = load_settings()
    for rule in RULES:
        assert RulesSettings.model_fields[rule.id].annotation is rule.settings_type, rule.id
        assert rule.guidance(defaults), rule.id
        assert rule.label == RULE_LABELS[rule.id] and rule.label, rule.id
        assert rule.messages and all(rule.messages.values()), rule.id


def test_catalogue_wording_and_overlay_lines() -> None:
    assert MSG_LEAN_FORWARD == "Stand tall: you're leaning forward"
    assert MSG_CAMERA_VIEW == "Turn sideways to the camera so I can see your steps and posture"
    assert PRAISE_MESSAGES == ("Great form, keep it up", "Nice and upright", "Good steady steps")
    lines = {r["id"]: r["lines"] for r in rules_for_display() if r["lines"]}
    assert lines == {"trunk_upright": ["trunk"], "trunk_sway": ["trunk"], "head_up": ["head"],
                     "look_back": ["head"]}
    assert {r["id"]: r["severity"] for r in rules_for_display()}["fall"] == "critical"


@pytest.mark.parametrize(
    ("rule", "configured", "judged"),
    [
        ("trunk_upright", ["side"], {"side"}),
        ("trunk_upright", ["side", "front"], {"side"}),     # no sagittal lean in front view
        ("trunk_sway", ["front", "back"], {"front", "back"}),
        ("head_up", ["side", "front", "back"], {"side", "front", "back"}),
        ("fall", ["side"], {"side", "unknown"}),            # also judges an unknown view
        ("good_form", ["side", "front", "back"], {"side"}),
        ("good_form", ["front"], set()),
    ],
)
def test_judged_views(rule: str, configured: list[str], judged: set[str]) -> None:
    settings = load_settings(overrides={"rules": {rule: {"views": configured}}})
    assert RULES_BY_ID[rule].judged_views(settings) == judged
