"""The library's per-session actions in headless Chromium: rename, move to another person and
delete (asked first, and nothing happens when the coach says no), on sessions summarised from
real motion capture, checked through the API afterwards."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import needs_shared_data, running_server
from tests.e2e.test_people_pages import Seeded, _seed

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600), needs_shared_data]


@pytest.fixture(scope="module")
def ada_and_ben(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    from posecoach.server.storage import Storage

    data_dir = tmp_path_factory.mktemp("actions-data")
    storage = Storage(data_dir / "posecoach.db", data_dir)
    seeded = Seeded("", data_dir)
    _seed(storage, seeded, "Ada", 152.0, "beginner", None,
          [("dataset-1_walk-back_old_001.bvh", False), ("dataset-1_walk-back_sad_001.bvh", False)])
    _seed(storage, seeded, "Ben", 146.0, "intermediate", None,
          [("dataset-1_walk-back_normal_001.bvh", False)])
    with running_server(data_dir) as running:
        seeded.base = running.base
        yield seeded


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.load(resp)


def _row(page: Any, session_id: str) -> Any:
    return page.locator(f'#sessions-body tr[data-session="{session_id}"]')


def test_rename_move_and_delete_from_the_library(ada_and_ben: Seeded, page: Any,
                                                 screenshots: Path) -> None:
    base = ada_and_ben.base
    ada, ben = ada_and_ben.people["Ada"], ada_and_ben.people["Ben"]
    first, second = ada_and_ben.sessions["Ada"]
    answers: list[str | bool] = []

    def answer(dialog: Any) -> None:
        reply = answers.pop(0)
        if reply is False:
            dialog.dismiss()
        else:
            dialog.accept(reply if isinstance(reply, str) else None)

    page.on("dialog", answer)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/library")
    page.select_option("#person", ada)
    _row(page, first).wait_for()

    answers.append("Ada, week 1 hallway")
    _row(page, first).locator('[data-action="rename"]').click()
    page.wait_for_function(
        "(id) => document.querySelector(`tr[data-session='${id}'] .col-source`)"
        ".textContent === 'Ada, week 1 hallway'", arg=first)
    assert _get(f"{base}/api/sessions/{first}")["name"] == "Ada, week 1 hallway"
    page.screenshot(path=str(screenshots / "library-actions-390.png"), full_page=True)

    answers.append(True)
    _row(page, second).locator('[data-action="move"]').select_option(ben)
    _row(page, second).wait_for(state="detached")
    assert _get(f"{base}/api/sessions/{second}")["person_id"] == ben

    answers.append(False)
    _row(page, first).locator('[data-action="delete"]').click()
    assert _get(f"{base}/api/sessions/{first}")["id"] == first, "a no keeps the session"
    answers.append(True)
    _row(page, first).locator('[data-action="delete"]').click()
    _row(page, first).wait_for(state="detached")
    with pytest.raises(urllib.error.HTTPError) as gone:
        _get(f"{base}/api/sessions/{first}")
    assert gone.value.code == 404
    assert not answers
    page.set_viewport_size({"width": 1280, "height": 800})
    page.select_option("#person", ben)
    _row(page, second).wait_for()
    page.screenshot(path=str(screenshots / "library-actions-1280.png"), full_page=True)
    assert not page.js_errors, page.js_errors
