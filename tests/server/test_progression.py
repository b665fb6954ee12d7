"""Progression: progress only after three pain-free sessions with good form."""

from __future__ import annotations

from typing import Any

import pytest

from posecoach.outputs.summary import SessionSummary
from posecoach.server.progression import suggest_next
from posecoach.server.storage import SessionRecord, StoredCheckIn
from posecoach.settings import load_settings
from tests.server.conftest import finished_session

GOOD = {"upright_share": 0.9, "head_up_share": 0.85, "cues": []}


def session(
    day: int,
    pain: str | None = "none",
    score: int = 0,
    duration_s: float = 180.0,
    **summary: Any,
) -> SessionRecord:
    checkin = None if pain is None else StoredCheckIn(pain=pain, score=score,
                                                created_at=f"2025-01-{day:02d}T11:00:00+00:00")
    return finished_session(
        day, SessionSummary.from_json({**GOOD, "duration_s": duration_s, **summary}), checkin,
        duration_s,
    )


FALL = [{"rule": "fall", "message": "fall?"}]
CASES = [
    ("no sessions", [], "hold", "no finished sessions"),
    ("three good", [session(1), session(2), session(3)], "progress", "pain-free"),
    ("only two", [session(1), session(2)], "hold", "2 of 3"),
    ("pain last", [session(1), session(2), session(3, "pain", 5)], "ease_off", "pain"),
    ("pain earlier", [session(1, "pain", 6), session(2), session(3)], "hold", "pain reported"),
    ("mild soreness ok", [session(1, "soreness", 3), session(2), session(3, "soreness", 2)],
     "progress", "pain-free"),
    ("soreness 4", [session(1), session(2, "soreness", 4), session(3)], "hold", "soreness 4/10"),
    ("no check-in", [session(1), session(2), session(3, None)], "hold", "no pain check-in"),
    ("slouched", [session(1), session(2), session(3, upright_share=0.7)], "hold", "upright 70%"),
    ("head down", [session(1), session(2, head_up_share=0.5), session(3)], "hold", "head up"),
    ("unmeasured", [session(1), session(2), session(3, upright_share=None)], "hold",
     "could not be measured"),
    ("fall", [session(1), session(2), session(3, cues=FALL)], "hold", "fall"),
    ("old pain ignored", [session(1, "pain", 8), session(2), session(3), session(4)],
     "progress", "pain-free"),
]


@pytest.mark.parametrize(("name", "sessions", "action", "reason"), CASES,
                         ids=[c[0] for c in CASES])
def test_suggestion_table(name: str, sessions: list, action: str, reason: str) -> None:
    result = suggest_next(list(reversed(sessions)), load_settings(level="beginner"))
    assert result.action == action
    assert result.message
    assert any(reason in r for r in result.reasons), result.reasons


@pytest.mark.parametrize(
    ("level", "duration_s", "expect"),
    [
        ("beginner", 180.0, "longer"),
        ("beginner", 300.0, "intermediate level"),
        ("intermediate", 600.0, "advanced level"),
        ("advanced", 900.0, "faster"),
    ],
)
def test_what_progress_means(level: str, duration_s: float, expect: str) -> None:
    sessions = [session(day, duration_s=duration_s) for day in (1, 2, 3)]
    result = suggest_next(sessions, load_settings(level=level))
    assert result.action == "progress"
    assert expect in result.message
