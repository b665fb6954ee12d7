"""The people pages in headless Chromium against the real server.

Two people are seeded through `Storage` before the server starts, each with sessions whose
summaries come from real motion capture (../shared/data/mocap, projected to a side camera and
analysed offline): Ada's backward walks carry timed 3-metre backward walk tests, Ben's forward
walks do not. The library, progress and compare pages must keep their sessions apart; with only
one person the picker stays hidden; deleting a person asks for their name first.
"""

from __future__ import annotations

import contextlib
import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MOCAP, needs_shared_data, running_server
from tests.e2e.test_web_ui import UNLABELLED_JS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600), needs_shared_data]

# Ada's tests, oldest first: 6.0 s, 6.9 s, 2.8 s (more than the 1.57 s minimal detectable change
# after a stroke faster than the one before), a walk too short to time, then 2.8 s again.
ADA_TRIALS = ("old", "sad", "active", "normal", "masculinity")
BEN_WALKS = ("walk_normal", "walk_old")
BEN_TRIAL = "chimpira"


@dataclass
class Seeded:
    base: str
    data_dir: Path
    people: dict[str, str] = field(default_factory=dict)           # name -> id
    sessions: dict[str, list[str]] = field(default_factory=dict)   # name -> session ids


def _summary(bvh: str, timed: bool, height_cm: float | None, population: str | None) -> Any:
    """A SessionSummary from one mocap trial, projected to a side view and analysed."""
    from posecoach.outputs.results import analyze_series
    from posecoach.settings import load_settings
    from tests.mocap.projection import load_trial, project_trial
    from tests.mocap.timed_walk import held_trial, project_held

    overrides: dict[str, Any] = {}
    if timed:
        overrides["timed_test"] = {"run": True, "population": population or "community"}
        series, _ = project_held(held_trial(str(MOCAP / bvh)), noise_px=1.0, seed=3)
    else:
        series, _ = project_trial(load_trial(MOCAP / bvh), side="left", noise_px=1.0, seed=3)
    settings = load_settings(height_cm=height_cm, overrides=overrides)
    return analyze_series(series, settings, source=bvh).summary


def _seed(storage: Any, seeded: Seeded, name: str, height_cm: float, level: str,
          population: str | None, clips: list[tuple[str, bool]]) -> None:
    person = storage.create_person(name, height_cm=height_cm, level=level,
                                   notes=f"{name}'s notes", population=population)
    seeded.people[name] = person.id
    seeded.sessions[name] = []
    for bvh, timed in clips:
        summary = _summary(bvh, timed, height_cm, population)
        record = storage.create_session("upload", level, height_cm, bvh, "analysing",
                                        person_id=person.id)
        storage.update_session(record.id, status="done", summary=summary,
                               duration_s=summary.duration_s)
        seeded.sessions[name].append(record.id)


@pytest.fixture(scope="module")
def two_people(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    from posecoach.server.storage import Storage

    data_dir = tmp_path_factory.mktemp("people-data")
    storage = Storage(data_dir / "posecoach.db", data_dir)
    seeded = Seeded("", data_dir)
    _seed(storage, seeded, "Ada", 152.0, "beginner", "stroke",
          [(f"dataset-1_walk-back_{t}_001.bvh", True) for t in ADA_TRIALS])
    _seed(storage, seeded, "Ben", 146.0, "intermediate", None,
          [(f"dataset-1_{w}_001.bvh", False) for w in BEN_WALKS]
          + [(f"dataset-1_walk-back_{BEN_TRIAL}_001.bvh", True)])
    with running_server(data_dir) as running:
        seeded.base = running.base
        yield seeded


@contextlib.contextmanager
def home_library(data_dir: Path, clips: list[tuple[str, str]]) -> Iterator[Seeded]:
    """A running server whose library holds one analysed upload per (mocap trial, clip name),
    all under the default person, nobody ever picked."""
    from posecoach.server.storage import Storage

    storage = Storage(data_dir / "posecoach.db", data_dir)
    seeded = Seeded("", data_dir, sessions={"home": []})
    summaries: dict[str, Any] = {}
    for bvh, clip_name in clips:
        if bvh not in summaries:
            summaries[bvh] = _summary(bvh, False, None, None)
        summary = summaries[bvh]
        record = storage.create_session("upload", "beginner", None, clip_name, "analysing")
        storage.update_session(record.id, status="done", summary=summary,
                               duration_s=summary.duration_s)
        seeded.sessions["home"].append(record.id)
    with running_server(data_dir) as running:
        seeded.base = running.base
        yield seeded


@pytest.fixture(scope="module")
def one_person(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A home user's library: two sessions, nobody ever picked."""
    with home_library(tmp_path_factory.mktemp("home-data"),
                      [(bvh, bvh) for bvh in ("dataset-1_walk_normal_001.bvh",
                                              "dataset-1_walk_tired_001.bvh")]) as seeded:
        yield seeded


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.load(resp)


def _shown_rows(page: Any, person_id: str) -> set[str]:
    """The session ids in the library table once it shows `person_id`'s sessions."""
    page.wait_for_function("(id) => document.body.dataset.shownPerson === id", arg=person_id)
    return set(page.eval_on_selector_all("#sessions-body tr[data-session]",
                                         "rows => rows.map(r => r.dataset.session)"))


def test_the_library_shows_only_the_picked_persons_sessions(two_people: Seeded, page: Any,
                                                            screenshots: Path) -> None:
    ada, ben = two_people.people["Ada"], two_people.people["Ben"]
    page.goto(two_people.base + "/library")
    page.wait_for_selector("#person:visible")
    assert page.locator("#person option").all_text_contents() == ["Ada", "Ben"]
    page.select_option("#person", ben)
    assert _shown_rows(page, ben) == set(two_people.sessions["Ben"])
    assert "Ben" in page.inner_text("#sessions-heading")
    assert page.inner_text("#upload-person-name") == "Ben"
    assert page.input_value("#upload-level") == "intermediate"
    assert page.input_value("#upload-height") == "146"
    page.select_option("#person", ada)
    assert _shown_rows(page, ada) == set(two_people.sessions["Ada"])
    page.screenshot(path=str(screenshots / "library-people.png"))

    # The choice is remembered: the next page opens on Ada.
    page.goto(two_people.base + "/library")
    assert _shown_rows(page, ada) == set(two_people.sessions["Ada"])
    assert page.evaluate(UNLABELLED_JS) == []
    assert page.js_errors == []


def test_progress_plots_the_persons_timed_tests_with_the_mdc_band(two_people: Seeded,
                                                                  page: Any,
                                                                  screenshots: Path) -> None:
    ada, ben = two_people.people["Ada"], two_people.people["Ben"]
    items = _get(f"{two_people.base}/api/people/{ada}/timed-tests")
    timed = [t for t in items if t["timed"]]
    assert len(items) == len(ADA_TRIALS) and len(timed) == len(ADA_TRIALS) - 1
    real = [t["session_id"] for t in items if t["real_change"]]
    assert real, "the seeded tests hold a change beyond the minimal detectable change"

    page.goto(two_people.base + "/progress")
    page.select_option("#person", ada)
    page.wait_for_function("(id) => document.body.dataset.shownPerson === id", arg=ada)
    assert page.inner_text("#title") == "Progress of Ada"
    chart = page.locator("#timed-chart svg")
    assert chart.locator("circle.dot").count() == len(timed)
    # One band per timed test after the first: the previous time +/- the MDC after a stroke.
    assert chart.locator("rect.band").count() == len(timed) - 1
    assert chart.locator("text.mark-label").all_text_contents() == ["real change"] * len(real)
    rows = page.locator("#timed-table tbody tr")
    assert rows.count() == len(items)
    marked = page.eval_on_selector_all("#timed-table tbody tr[data-real='yes']",
                                       "rows => rows.map(r => r.dataset.session)")
    assert sorted(marked) == sorted(real)
    assert "not timed" in page.inner_text("#timed-table tbody")
    progress_ids = page.eval_on_selector_all("#progress-table tbody a",
                                             "links => links.map(a => a.pathname.split('/').pop())")
    assert set(progress_ids) == set(two_people.sessions["Ada"])
    page.screenshot(path=str(screenshots / "progress-timed-tests.png"), full_page=True)

    page.select_option("#person", ben)
    page.wait_for_function("(id) => document.body.dataset.shownPerson === id", arg=ben)
    progress_ids = page.eval_on_selector_all("#progress-table tbody a",
                                             "links => links.map(a => a.pathname.split('/').pop())")
    assert set(progress_ids) == set(two_people.sessions["Ben"])
    # Ben has no population set: no published MDC, so nothing is marked as a real change.
    assert page.locator("#timed-chart svg circle.dot").count() == 1
    assert page.locator("#timed-chart svg rect.band").count() == 0
    assert page.evaluate(UNLABELLED_JS) == []
    assert page.js_errors == []


def test_compare_and_review_name_each_sessions_person(two_people: Seeded, page: Any) -> None:
    a, b = two_people.sessions["Ada"][0], two_people.sessions["Ben"][0]
    page.goto(f"{two_people.base}/compare?a={a}&b={b}")
    page.wait_for_function("() => document.querySelectorAll('#compare-table tbody th').length > 3")
    assert page.inner_text("#a-heading").startswith("Ada · ")
    assert page.inner_text("#b-heading").startswith("Ben · ")
    assert page.input_value("#person-a-pick") == two_people.people["Ada"]
    assert page.input_value("#person-b-pick") == two_people.people["Ben"]
    # Each session list holds only its person's sessions.
    listed_b = page.eval_on_selector_all("#pick-b option[value]:not([value=''])",
                                         "o => o.map(x => x.value)")
    assert set(listed_b) == set(two_people.sessions["Ben"])
    page.select_option("#person-b-pick", two_people.people["Ada"])
    listed_b = page.eval_on_selector_all("#pick-b option[value]:not([value=''])",
                                         "o => o.map(x => x.value)")
    assert set(listed_b) == set(two_people.sessions["Ada"])
    assert page.evaluate(UNLABELLED_JS) == []
    page.goto(f"{two_people.base}/review/{b}")
    page.wait_for_function("() => document.querySelector('#subtitle').textContent !== ''")
    assert page.inner_text("#subtitle").startswith("Ben · ")
    assert page.js_errors == []


@pytest.mark.parametrize("path", ["/", "/library", "/progress", "/compare"])
def test_the_picker_is_hidden_with_one_person(one_person: Seeded, page: Any, path: str) -> None:
    page.goto(one_person.base + path)
    page.wait_for_function("() => document.querySelector('.person-picker select') !== null")
    assert page.locator(".person-picker select:visible").count() == 0
    if path == "/library":
        people = _get(one_person.base + "/api/people")
        assert len(people) == 1
        assert _shown_rows(page, people[0]["id"]) == set(one_person.sessions["home"])
    assert page.js_errors == []


def test_a_live_session_is_the_picked_persons(two_people: Seeded, page: Any,
                                              screenshots: Path) -> None:
    ben = two_people.people["Ben"]
    page.goto(two_people.base + "/")
    page.wait_for_selector("#person:visible")
    page.select_option("#person", ben)
    assert page.input_value("#level") == "intermediate" and page.input_value("#height") == "146"
    page.screenshot(path=str(screenshots / "live-person.png"))
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on(
        "framesent", lambda payload: sent.append(payload) if isinstance(payload, str) else None))
    page.click("#start")
    page.wait_for_function("() => window.__posecoach.sessionId !== null", timeout=60_000)
    assert page.is_disabled("#person")
    page.click("#stop")
    page.wait_for_function("() => window.__posecoach.finished === true", timeout=120_000)
    session_id = page.evaluate("() => window.__posecoach.sessionId")
    start = next(json.loads(m) for m in sent if json.loads(m).get("type") == "start")
    assert start["person_id"] == ben
    listed = {r["id"] for r in _get(f"{two_people.base}/api/sessions?person_id={ben}")}
    assert session_id in listed
    two_people.sessions["Ben"].append(session_id)
    assert page.js_errors == []


def test_deleting_a_person_asks_for_their_name(two_people: Seeded, page: Any,
                                               screenshots: Path) -> None:
    ben = two_people.people["Ben"]
    page.goto(two_people.base + "/people")
    page.wait_for_selector(f"tr[data-person='{ben}']")
    assert page.evaluate(UNLABELLED_JS) == []

    # Add someone through the form; a second "ada" is refused (names ignore case).
    page.fill("#p-name", "Cleo")
    page.fill("#p-height", "168")
    page.select_option("#p-population", "parkinsons")
    page.click("#save-btn")
    page.wait_for_selector("#people-body th:text-is('Cleo')")
    page.fill("#p-name", "ada")
    page.click("#save-btn")
    page.wait_for_selector("#errors p")
    assert "already someone called ada" in page.inner_text("#errors")

    page.click(f"tr[data-person='{ben}'] button:text-is('Delete')")
    dialog = page.locator("#delete-dialog")
    assert dialog.is_visible()
    assert f"{len(two_people.sessions['Ben'])} sessions" in page.inner_text("#delete-what")
    assert page.is_disabled("#delete-yes")
    page.fill("#delete-confirm", "ben")
    assert page.is_disabled("#delete-yes")
    page.screenshot(path=str(screenshots / "people-delete.png"))
    page.click("#delete-no")
    assert not dialog.is_visible()
    assert len(_get(two_people.base + "/api/people")) == 3

    page.click(f"tr[data-person='{ben}'] button:text-is('Delete')")
    page.fill("#delete-confirm", "Ben")
    page.click("#delete-yes")
    page.wait_for_selector(f"tr[data-person='{ben}']", state="detached")
    names = [p["name"] for p in _get(two_people.base + "/api/people")]
    assert names == ["Ada", "Cleo"]
    for session_id in two_people.sessions["Ben"]:
        assert not (two_people.data_dir / "sessions" / session_id).exists()
    assert page.js_errors == []
