"""What to do next session: progress, hold, or ease off.

The guidance: start slowly (5-10 minutes for beginners), increase time, speed or difficulty
gradually, and listen to your body. So progression is suggested only after three recent
sessions that were pain-free (no pain, soreness at most 3/10) with good form (upright and head
up at least 80% of the time, no fall); pain in the latest session, or in the check-in given
last (on any session), means ease off; anything else means hold.

On a treadmill the guidance says to hold the handrails "initially": after several good,
pain-free sessions on the rails, the next step suggested is letting go.

Everything here is one person's: a suggestion is made from one person's sessions, at their
level, and their timed tests are read against the minimal detectable change published for
their population.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from posecoach.coach.timed_test import MDC, POPULATIONS
from posecoach.outputs.summary import SessionSummary
from posecoach.server.storage import SessionRecord, StoredCheckIn, TimedTestRow
from posecoach.settings import LEVELS, Settings

Action = Literal["progress", "hold", "ease_off"]
RECENT = 3
MAX_SORENESS = 3
MIN_FORM_SHARE = 0.8
LONGER_STEP_MIN = 2.0
FASTER_PERCENT = 5
ON_RAILS_SHARE = 0.5


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _form_problems(summary: SessionSummary) -> list[str]:
    problems = []
    for value, label in ((summary.upright_share, "upright"), (summary.head_up_share, "head up")):
        if value is None:
            problems.append(f"time {label} could not be measured")
        elif value < MIN_FORM_SHARE:
            problems.append(f"{label} {value:.0%} of the time (aim for {MIN_FORM_SHARE:.0%})")
    if any(cue.rule == "fall" for cue in summary.cues):
        problems.append("a possible fall was detected")
    return problems


@dataclass(frozen=True)
class NextStep:
    """What to do next session (`action`), in words, and why."""

    action: Action
    message: str
    reasons: tuple[str, ...]


def _body_problem(checkin: StoredCheckIn | None) -> str | None:
    if checkin is None:
        return "no pain check-in"
    if checkin.pain == "pain":
        return f"pain reported ({checkin.score}/10)"
    if checkin.pain == "soreness" and checkin.score > MAX_SORENESS:
        return f"soreness {checkin.score}/10 (more than {MAX_SORENESS}/10)"
    return None


def _next_step(latest: SessionRecord, settings: Settings) -> str:
    suggested_s = settings.session.suggested_minutes * 60
    duration = latest.duration_s
    if duration is not None and duration < suggested_s:
        target = min(suggested_s, duration + LONGER_STEP_MIN * 60)
        return (
            f"Go a little longer next time: about {_minutes(target)} "
            f"(the {settings.level} level suggests {_minutes(suggested_s)})."
        )
    index = LEVELS.index(settings.level)
    if index + 1 < len(LEVELS):
        return (
            f"You are ready for the {LEVELS[index + 1]} level: keep the same length at first, "
            "then build up."
        )
    return (
        f"Go a little faster next time (about {FASTER_PERCENT}% quicker), or add a slight "
        "incline, keeping the same good form."
    )


def _held_rails_while_good(done: Sequence[SessionRecord], settings: Settings) -> bool:
    """The last `letting_go_after_sessions` sessions were on a treadmill holding the rails,
    each pain-free with good form."""
    count = settings.walk_setting.letting_go_after_sessions
    last = done[-count:]
    if len(last) < count:
        return False
    for session in last:
        summary = session.summary
        if (summary is None or summary.setting != "treadmill" or summary.handrail_share is None
                or summary.handrail_share < ON_RAILS_SHARE):
            return False
        if _body_problem(session.checkin) or _form_problems(summary):
            return False
    return True


def _newest_checkin(done: Sequence[SessionRecord]) -> StoredCheckIn | None:
    """The check-in given last, on any session (ties go to the later session)."""
    dated = [(s.checkin.created_at, i, s.checkin) for i, s in enumerate(done) if s.checkin]
    return max(dated, key=lambda item: item[:2])[2] if dated else None


def suggest_next(sessions: Sequence[SessionRecord], settings: Settings) -> NextStep:
    """Suggest the next step from one person's session records and the settings of the
    walker's current level; only finished sessions with a summary count.

    Raises `ValueError` when the records belong to more than one person.
    """
    owners = {s.person_id for s in sessions if s.person_id}
    if len(owners) > 1:
        raise ValueError("a suggestion is for one person: sessions of several people were given")
    done = sorted(
        (s for s in sessions if s.status == "done" and s.summary is not None),
        key=lambda s: s.created_at,
    )
    recent = done[-RECENT:]
    if not recent:
        return NextStep(
            "hold",
            f"Start slowly: about {_minutes(settings.session.suggested_minutes * 60)} "
            "at an easy pace, in a clear, flat, open space.",
            ("no finished sessions yet",),
        )
    latest = recent[-1]
    latest_checkin = latest.checkin
    if latest_checkin is None or latest_checkin.pain != "pain":
        latest_checkin = _newest_checkin(done)
    if latest_checkin is not None and latest_checkin.pain == "pain":
        return NextStep(
            "ease_off",
            "You reported pain: reduce the intensity (shorter and slower) or rest, "
            "and stop if it hurts. See a professional if the pain persists.",
            (f"last session: pain reported ({latest_checkin.score}/10)",),
        )
    reasons: list[str] = []
    if len(recent) < RECENT:
        reasons.append(f"{len(recent)} of {RECENT} sessions needed before progressing")
    for age, session in enumerate(reversed(recent)):
        when = "last session" if age == 0 else f"{age + 1} sessions ago"
        assert session.summary is not None
        problems = [p for p in [_body_problem(session.checkin)] if p]
        problems += _form_problems(session.summary)
        reasons += [f"{when}: {problem}" for problem in problems]
    if reasons:
        return NextStep(
            "hold",
            "Hold at this length and pace until three sessions in a row are pain-free "
            "with good form.",
            tuple(reasons),
        )
    if _held_rails_while_good(done, settings):
        count = settings.walk_setting.letting_go_after_sessions
        return NextStep(
            "progress",
            "Try letting go of the handrails next time: a minute at a time at the same "
            "belt speed, with your hands close to the rails to take hold again.",
            (f"last {count} treadmill sessions pain-free with good form, "
             "holding the handrails",),
        )
    return NextStep(
        "progress",
        _next_step(latest, settings),
        (f"last {RECENT} sessions pain-free with good form",),
    )


@dataclass(frozen=True)
class TimedTestPoint:
    """One timed test in a person's history, with its change since the previous timed one
    and whether that change exceeds the minimal detectable change (MDC)."""

    session_id: str
    created_at: str
    timed: bool
    time_s: float | None
    reason: str | None
    population: str
    scale_source: str | None
    mdc_s: float | None
    change_s: float | None
    real_change: bool | None


def timed_test_history(
    tests: Sequence[TimedTestRow], population: str | None
) -> list[TimedTestPoint]:
    """A person's timed tests (oldest first, as `Storage.timed_tests` lists them) as points
    for the progress chart.

    The MDC is the one published for `population` (the person's), else for the population
    each test was read against; populations without a published MDC have none, and then no
    change is called real. `change_s` is the time minus the previous timed test's.
    """
    points: list[TimedTestPoint] = []
    previous_s: float | None = None
    for test in tests:
        chosen = population or test.population
        if chosen not in POPULATIONS:
            chosen = "community"
        detectable = MDC.get(chosen)
        mdc_s = detectable.mdc_s if detectable is not None else None
        time_s = test.time_s if test.timed else None
        change_s = None
        if time_s is not None and previous_s is not None:
            change_s = round(time_s - previous_s, 3)
        real = None if change_s is None or mdc_s is None else abs(change_s) > mdc_s
        points.append(TimedTestPoint(
            session_id=test.session_id,
            created_at=test.created_at,
            timed=time_s is not None,
            time_s=time_s,
            reason=test.reason,
            population=chosen,
            scale_source=test.scale_source,
            mdc_s=mdc_s,
            change_s=change_s,
            real_change=real,
        ))
        if time_s is not None:
            previous_s = time_s
    return points
