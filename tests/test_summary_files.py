"""summary.json stays byte-compatible: files written before still load, and are written back
byte for byte; a summary analysed now from the sample clip has the same keys, in the same
order, as one written before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from posecoach.outputs.files import atomic_write_json
from posecoach.outputs.summary import SessionSummary
from tests.conftest import FIXTURES

STORED = FIXTURES / "summaries"
CLIP = FIXTURES / "backward_walk_side_1080p60.mp4"
WRITTEN_BEFORE = sorted(p.name for p in STORED.glob("*.summary.json"))


def _written(summary: SessionSummary, path: Path) -> str:
    """summary.json's text as the analysis writes it."""
    return atomic_write_json(path, summary.to_json()).read_text()


def _key_paths(value: Any, prefix: str = "") -> list[str]:
    """Every key of a JSON value, nested ones as a.b, in file order (list items by their
    first element's keys)."""
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            out.append(prefix + key)
            out.extend(_key_paths(item, f"{prefix}{key}."))
        return out
    if isinstance(value, list) and value:
        return _key_paths(value[0], prefix)
    return []


def test_the_files_written_before_are_here() -> None:
    assert len(WRITTEN_BEFORE) == 3, WRITTEN_BEFORE


@pytest.mark.parametrize("name", WRITTEN_BEFORE)
def test_a_file_written_before_loads_and_is_written_back_byte_for_byte(
    name: str, tmp_path: Path
) -> None:
    text = (STORED / name).read_text()
    summary = SessionSummary.from_json(json.loads(text))
    assert summary.source == "backward_walk_side_1080p60.mp4"
    assert summary.frames == 135 and summary.cues and summary.step_list
    assert _written(summary, tmp_path / "summary.json") == text


def test_a_timed_test_written_before_keeps_its_trials_and_interpretation() -> None:
    data = json.loads((STORED / "backward_walk_side_trials.summary.json").read_text())
    timed = SessionSummary.from_json(data).timed_test
    assert timed is not None and timed.timed and timed.time_s == 5.43
    assert [t.number for t in timed.trials] == [1, 2, 3]
    assert timed.trials[0].practice and not timed.trials[2].timed
    assert timed.trials[2].reason is not None and "left the camera's view" in timed.trials[2].reason
    assert {i.kind for i in timed.interpretation} == {"cutoff", "change", "note"}


@pytest.mark.parametrize(
    ("stored", "written"),
    [
        ('{"height_cm": 175}', '"height_cm": 175,'),      # an int stays an int
        ('{"height_cm": 175.0}', '"height_cm": 175.0,'),  # a float stays a float
        ('{"fps": 59.7}', '"fps": 59.7,'),
        ('{"steps": 0}', '"steps": 0,'),
        ('{"timed_test": {"time_s": 5}}', '"time_s": 5.0,'),  # the timed test's are floats
    ],
)
def test_numbers_are_written_back_as_they_were_read(
    stored: str, written: str, tmp_path: Path
) -> None:
    summary = SessionSummary.from_json(json.loads(stored))
    assert written in _written(summary, tmp_path / "summary.json")


def test_the_sample_clip_is_written_as_before(analysed, tmp_path: Path) -> None:
    result = analysed(CLIP)
    assert result.out_dir is not None
    text = (result.out_dir / "summary.json").read_text()
    # What the analysis wrote reads back to the same values and the same bytes.
    again = SessionSummary.from_json(json.loads(text))
    assert again == result.summary
    assert _written(again, tmp_path / "summary.json") == text
    # The same keys in the same order as the file written before for the same clip.
    before = json.loads((STORED / "backward_walk_side.summary.json").read_text())
    assert _key_paths(json.loads(text)) == _key_paths(before)
    assert json.loads(text)["frames"] == before["frames"] == 135
