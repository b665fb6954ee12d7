"""Names as people type them: one person however the accents were composed, and no invisible
or direction-changing characters."""

from __future__ import annotations

import sqlite3
import unicodedata
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from posecoach.server import create_app
from posecoach.server.storage import PersonExists, Storage
from tests.server.conftest import FAST_LIMITS, ORIGIN, FakeEngine

WRITE = {"origin": ORIGIN}
JOSE_NFC = unicodedata.normalize("NFC", "Jos\u00e9")
JOSE_NFD = unicodedata.normalize("NFD", "Jos\u00e9")


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    with TestClient(create_app(tmp_path / "data", engine=FakeEngine(),
                               limits=FAST_LIMITS)) as app_client:
        yield app_client  # type: ignore[misc]


def test_a_name_composed_either_way_is_one_person(client: TestClient) -> None:
    assert JOSE_NFC != JOSE_NFD
    first = client.post("/api/people", json={"name": JOSE_NFD}, headers=WRITE)
    assert first.status_code == 201, first.text
    assert first.json()["name"] == JOSE_NFC, "stored in the composed form"
    again = client.post("/api/people", json={"name": JOSE_NFC}, headers=WRITE)
    assert again.status_code == 409 and "already" in again.json()["detail"]
    assert [p["name"] for p in client.get("/api/people").json()] == [JOSE_NFC]


@pytest.mark.parametrize(("stored", "typed"), [(JOSE_NFD, JOSE_NFC), (JOSE_NFC, JOSE_NFD)])
def test_a_person_is_deleted_by_typing_their_name_either_way(
    client: TestClient, stored: str, typed: str
) -> None:
    person = client.post("/api/people", json={"name": stored}, headers=WRITE).json()
    deleted = client.delete(f"/api/people/{person['id']}", params={"confirm": typed},
                            headers=WRITE)
    assert deleted.status_code == 204, deleted.text
    assert client.get("/api/people").json() == []


INVISIBLE = [
    ("zero-width space", "Ana\u200bRuiz"),
    ("zero-width joiner", "Ana\u200dRuiz"),
    ("byte order mark", "\ufeffAna"),
    ("right-to-left override", "Ana \u202eziuR"),
    ("right-to-left isolate", "Ana \u2067Ruiz\u2069"),
    ("left-to-right mark", "Ana\u200e"),
]


@pytest.mark.parametrize(("what", "name"), INVISIBLE, ids=[case[0] for case in INVISIBLE])
def test_invisible_and_direction_characters_are_refused(
    client: TestClient, what: str, name: str
) -> None:
    refused = client.post("/api/people", json={"name": name}, headers=WRITE)
    assert refused.status_code == 422, what
    assert "invisible or text-direction" in refused.json()["detail"]
    person = client.post("/api/people", json={"name": "Ana"}, headers=WRITE).json()
    renamed = client.patch(f"/api/people/{person['id']}", json={"name": name}, headers=WRITE)
    assert renamed.status_code == 422, what
    assert client.get(f"/api/people/{person['id']}").json()["name"] == "Ana"


def test_a_name_stored_decomposed_by_an_older_version_is_found_composed(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "posecoach.db", tmp_path)
    storage.create_person("Ana")
    with sqlite3.connect(tmp_path / "posecoach.db") as db:  # as an older version stored it
        db.execute("INSERT INTO people (id, name, name_key, notes, created_at)"
                   " VALUES (?, ?, ?, '', '2025-01-01T00:00:00+00:00')",
                   ("f" * 32, JOSE_NFD, JOSE_NFD.casefold()))
    reopened = Storage(tmp_path / "posecoach.db", tmp_path)
    found = reopened.find_person(JOSE_NFC)
    assert found is not None and found.id == "f" * 32 and found.name == JOSE_NFC
    with pytest.raises(PersonExists):
        reopened.create_person(JOSE_NFC)
