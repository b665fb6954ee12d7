"""The WebSocket messages: what the pages send is read by the models with one clear sentence
per mistake, and what the server sends, from a live coach on real footage, is what the models
declare."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import TypeAdapter

from posecoach.coach.cues import Cue
from posecoach.coach.live import LiveCoach, LiveCue
from posecoach.errors import InputError
from posecoach.media.reader import VideoReader
from posecoach.server import messages as m
from posecoach.settings import load_settings
from tests.conftest import FIXTURES

MARKS = [100, 400, 120, 300, 500, 400, 480, 300]


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ({"type": "start"}, m.StartMessage(type="start")),
        ({"type": "start", "level": "beginner", "height_cm": 175, "speak": "both",
          "setting": "treadmill", "fps": 15, "unknown": "ignored"},
         m.StartMessage(type="start", level="beginner", height_cm=175.0, speak="both",
                        setting="treadmill", fps=15.0)),
        ({"type": "start", "test": "3m-backward", "floor_marks_px": MARKS,
          "population": "stroke"},
         m.StartMessage(type="start", test="3m-backward",
                        floor_marks_px=tuple(float(v) for v in MARKS), population="stroke")),
        ({"type": "stop"}, m.StopMessage(type="stop")),
        ({"type": "ping"}, m.PingMessage(type="ping")),
        ({"type": "speak", "speak": "viewer"}, m.SpeakChoice(type="speak", speak="viewer")),
        ({"type": "time_trials"}, m.TimeTrialsMessage(type="time_trials")),
    ],
)
def test_a_recording_page_s_messages_are_read(sent: dict[str, Any], expected: Any) -> None:
    assert m.parse_live(sent) == expected


@pytest.mark.parametrize(
    ("sent", "words"),
    [
        ({"type": "dance"}, "unknown message type 'dance'"),
        ({"level": "beginner"}, "a message needs a type"),
        ({"type": "start", "height_cm": "tall"}, "height_cm: input should be a valid number"),
        ({"type": "start", "height_cm": True}, "height_cm: input should be a valid number"),
        ({"type": "start", "height_cm": float("inf")}, "height_cm: input should be a finite"),
        ({"type": "start", "fps": 240}, "fps: input should be less than or equal to 60"),
        ({"type": "start", "speak": "tv"}, "speak: input should be 'phone', 'viewer' or 'both'"),
        ({"type": "start", "setting": "pool"}, "setting: input should be"),
        ({"type": "start", "level": 3}, "level: input should be a valid string"),
        ({"type": "start", "person_id": 7}, "person_id: input should be a valid string"),
        ({"type": "start", "test": "6-minute-walk"}, "unknown test '6-minute-walk'"),
        ({"type": "start", "test": "3m-backward", "floor_marks_px": [1, 2, 3]}, "8 numbers"),
        ({"type": "start", "floor_marks_px": [1, 2, 3, 4, 5, 6, 7, "x"]},
         "floor_marks_px.7: input should be a valid number"),
        ({"type": "start", "population": "astronauts"}, "unknown population 'astronauts'"),
        ({"type": "speak"}, "speak: field required"),
    ],
)
def test_a_recording_page_s_mistakes_get_one_sentence(sent: dict[str, Any], words: str) -> None:
    with pytest.raises(InputError) as refused:
        m.parse_live(sent)
    assert words in str(refused.value)
    assert "\n" not in str(refused.value) and "pydantic" not in str(refused.value)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ({"type": "watch", "session_id": "abc"}, m.WatchMessage(type="watch", session_id="abc")),
        ({"type": "unwatch"}, m.UnwatchMessage(type="unwatch")),
        ({"type": "speak", "speak": "both"}, m.SpeakChoice(type="speak", speak="both")),
        ({"type": "ping"}, m.PingMessage(type="ping")),
    ],
)
def test_a_viewer_s_messages_are_read(sent: dict[str, Any], expected: Any) -> None:
    assert m.parse_viewer(sent) == expected


@pytest.mark.parametrize(
    ("sent", "words"),
    [
        ({"type": "start"}, "unknown message type 'start'"),
        ({"type": "watch"}, "session_id: field required"),
        ({"type": "watch", "session_id": ["a"]}, "session_id: input should be a valid string"),
    ],
)
def test_a_viewer_s_mistakes_get_one_sentence(sent: dict[str, Any], words: str) -> None:
    with pytest.raises(InputError) as refused:
        m.parse_viewer(sent)
    assert words in str(refused.value)


def test_fields_without_a_value_are_left_out_of_finished_and_started() -> None:
    assert m.to_json(m.FinishedMessage(session_id="a", frames=3, dropped=0)) == {
        "type": "finished", "session_id": "a", "status": "done", "frames": 3, "dropped": 0}
    assert m.to_json(m.FinishedMessage(session_id="a", status="failed", error="no frames")) == {
        "type": "finished", "session_id": "a", "status": "failed", "error": "no frames"}
    assert m.to_json(m.StartedMessage(session_id="a")) == {"type": "started", "session_id": "a"}


@pytest.mark.parametrize(("rule", "praise"), [("good_form", True), ("trunk_upright", False)])
def test_a_live_cue_says_whether_it_is_praise(rule: str, praise: bool) -> None:
    cue = LiveCue.of(Cue(rule, "words", "info", 1.0, None, "guidance"))
    assert cue.praise is praise and cue.rule == rule and cue.message == "words"


def test_results_of_a_live_coach_on_real_footage_are_declared_messages() -> None:
    coach = LiveCoach(load_settings(), check_setup=True)
    out = TypeAdapter(m.LiveOut)
    seen: list[dict[str, Any]] = []
    try:
        for i, frame in enumerate(VideoReader(FIXTURES / "backward_walk_side_1080p60.mp4",
                                              max_side_px=640)):
            if i % 2:
                continue
            result = coach.process(frame.image, frame.time_s)
            text = m.dumps(m.ResultMessage.of(result.body(), len(seen), 0, 12.5))
            assert "NaN" not in text and "Infinity" not in text
            seen.append(json.loads(text))
            assert out.validate_json(text).type == "result"
    finally:
        coach.close()
    with_person = [r for r in seen if r["person"]]
    assert len(with_person) >= 0.8 * len(seen) and len(seen) >= 60
    first = with_person[0]
    assert len(first["landmarks"]) == 33 and all(len(p) == 3 for p in first["landmarks"])
    assert set(first["metrics"]) >= {"fully_in_frame", "view", "direction", "trunk_lean_deg",
                                     "head_angle_deg"}
    assert {"setting", "on_rails", "new_cues", "cues", "steps", "server_ms"} <= set(first)
    setups = [r["setup"] for r in seen if r["setup"] is not None]
    assert setups and {"passed", "message", "checks", "done"} <= set(setups[-1])
