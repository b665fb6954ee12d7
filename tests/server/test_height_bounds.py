"""A walker's height: one pair of bounds, the same for settings, people and the pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from posecoach.server import create_app
from posecoach.settings import MAX_HEIGHT_CM, MIN_HEIGHT_CM, SettingsError, load_settings
from tests.server.conftest import FakeEngine

HEIGHTS = [
    (MIN_HEIGHT_CM, False),
    (MIN_HEIGHT_CM + 0.5, True),
    (172.0, True),
    (MAX_HEIGHT_CM - 0.5, True),
    (MAX_HEIGHT_CM, False),
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = create_app(tmp_path_factory.mktemp("heights"), engine=FakeEngine())
    with TestClient(app) as test_client:
        yield test_client


def test_the_pages_get_the_bounds(client: TestClient) -> None:
    config = client.get("/api/config").json()
    assert config["height_cm_between"] == [MIN_HEIGHT_CM, MAX_HEIGHT_CM]


@pytest.mark.parametrize(("height_cm", "accepted"), HEIGHTS)
def test_settings_follow_the_bounds(height_cm: float, accepted: bool) -> None:
    if accepted:
        assert load_settings(height_cm=height_cm).height_cm == height_cm
    else:
        with pytest.raises(SettingsError, match="height_cm"):
            load_settings(height_cm=height_cm)


@pytest.mark.parametrize(("height_cm", "accepted"), HEIGHTS)
def test_people_follow_the_bounds(client: TestClient, height_cm: float, accepted: bool,
                                  tmp_path: Path) -> None:
    answer = client.post("/api/people", json={"name": f"walker {tmp_path.name}",
                                              "height_cm": height_cm})
    assert answer.status_code == (201 if accepted else 422), answer.text
    if accepted:
        assert answer.json()["height_cm"] == height_cm


WEB = Path(__file__).resolve().parents[2] / "web"


def test_the_pages_copy_of_the_bounds_is_the_one_in_settings() -> None:
    """The pages check a height before sending it (person.js) and limit their height inputs;
    both copies must be the bounds settings declare."""
    person_js = (WEB / "js" / "person.js").read_text(encoding="utf-8")
    found = re.search(r"HEIGHT_CM = \{ above: (\d+), below: (\d+) \}", person_js)
    assert found, "person.js no longer declares HEIGHT_CM as this test reads it"
    assert (float(found[1]), float(found[2])) == (MIN_HEIGHT_CM, MAX_HEIGHT_CM)
    inputs = [
        (page.name, tag)
        for page in sorted(WEB.glob("*.html"))
        for tag in re.findall(r"<input[^>]*name=\"height(?:_cm)?\"[^>]*>",
                              page.read_text(encoding="utf-8"))
    ]
    assert len(inputs) >= 4, inputs
    for page, tag in inputs:
        low = re.search(r'min="(\d+)"', tag)
        high = re.search(r'max="(\d+)"', tag)
        assert low and high, f"{page}: a height input without min and max"
        assert float(low[1]) > MIN_HEIGHT_CM and float(high[1]) < MAX_HEIGHT_CM, (page, tag)
        assert float(low[1]) == MIN_HEIGHT_CM + 1 and float(high[1]) == MAX_HEIGHT_CM - 1, (
            page, tag)
