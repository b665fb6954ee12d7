"""What to do next session: progress, hold, or ease off.

The guidance: start slowly (5-10 minutes for beginners), increase time, speed or difficulty
gradually, and listen to your body. So progression is suggested only after three recent
sessions that were pain-free (no pain, soreness at most 3/10) with good form (upright and head
up at least 80% of the time, no fall); pain in the latest session, or in the check-in given
last (on any session), means ease off; anything else means hold.

On a treadmill the guidance says to hold the handrails "initially": after several good,
pain-free sessions on the rails, the next step suggested is letting go.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from posecoach.outputs.summary import SessionSummary
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


def _body_problem(checkin: dict[str, Any] | None) -> str | None:
    if checkin is None:
        return "no pain check-in"
    if checkin["pain"] == "pain":
        return f"pain reported ({checkin['score']}/10)"
    if checkin["pain"] == "soreness" and checkin["score"] > MAX_SORENESS:
        return f"soreness {checkin['score']}/10 (more than {MAX_SORENESS}/10)"
    return None


def _next_step(latest: dict[str, Any], settings: Settings) -> str:
    suggested_s = settings.session.suggested_minutes * 60
    duration = latest.get("duration_s")
    if isinstance(duration, int | float) and duration < suggested_s:
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


def _held_rails_while_good(done: Sequence[dict[str, Any]], settings: Settings) -> bool:
    """The last `letting_go_after_sessions` sessions were on a treadmill holding the rails,
    each pain-free with good form."""
    count = settings.walk_setting.letting_go_after_sessions
    last = done[-count:]
    if len(last) < count:
        return False
    for session in last:
        summary: SessionSummary = session["summary"]
        if (summary.setting != "treadmill" or summary.handrail_share is None
                or summary.handrail_share < ON_RAILS_SHARE):
            return False
        if _body_problem(session.get("checkin")) or _form_problems(summary):
            return False
    return True


def _newest_checkin(done: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The check-in given last, on any session (ties go to the later session)."""
    dated = [
        (s["checkin"].get("created_at") or "", i, s["checkin"])
        for i, s in enumerate(done)
        if s.get("checkin")
    ]
    return max(dated, key=lambda item: item[:2])[2] if dated else None


def suggest_next(sessions: Sequence[dict[str, Any]], settings: Settings) -> dict[str, Any]:
    """Suggest the next step from session records (`created_at`, `status`, `duration_s`,
    `summary` as a `SessionSummary`, `checkin`) and the settings of the walker's current level.

    Returns `{"action": "progress"|"hold"|"ease_off", "message": str, "reasons": [str]}`.
    """
    done = sorted(
        (s for s in sessions
         if s.get("status", "done") == "done" and s.get("summary") is not None),
        key=lambda s: s.get("created_at") or "",
    )
    recent = done[-RECENT:]
    if not recent:
        return {
            "action": "hold",
            "message": (
                f"Start slowly: about {_minutes(settings.session.suggested_minutes * 60)} "
                "at an easy pace, in a clear, flat, open space."
            ),
            "reasons": ["no finished sessions yet"],
        }
    latest = recent[-1]
    latest_checkin = latest.get("checkin")
    if latest_checkin is None or latest_checkin["pain"] != "pain":
        latest_checkin = _newest_checkin(done)
    if latest_checkin is not None and latest_checkin["pain"] == "pain":
        return {
            "action": "ease_off",
            "message": (
                "You reported pain: reduce the intensity (shorter and slower) or rest, "
                "and stop if it hurts. See a professional if the pain persists."
            ),
            "reasons": [f"last session: pain reported ({latest_checkin['score']}/10)"],
        }
    reasons: list[str] = []
    if len(recent) < RECENT:
        reasons.append(f"{len(recent)} of {RECENT} sessions needed before progressing")
    for age, session in enumerate(reversed(recent)):
        when = "last session" if age == 0 else f"{age + 1} sessions ago"
        summary = session["summary"]
        problems = [p for p in [_body_problem(session.get("checkin"))] if p]
        problems += _form_problems(summary)
        reasons += [f"{when}: {problem}" for problem in problems]
    if reasons:
        return {
            "action": "hold",
            "message": (
                "Hold at this length and pace until three sessions in a row are pain-free "
                "with good form."
            ),
            "reasons": reasons,
        }
    if _held_rails_while_good(done, settings):
        count = settings.walk_setting.letting_go_after_sessions
        return {
            "action": "progress",
            "message": (
                "Try letting go of the handrails next time: a minute at a time at the same "
                "belt speed, with your hands close to the rails to take hold again."
            ),
            "reasons": [f"last {count} treadmill sessions pain-free with good form, "
                        "holding the handrails"],
        }
    return {
        "action": "progress",
        "message": _next_step(latest, settings),
        "reasons": [f"last {RECENT} sessions pain-free with good form"],
    }
