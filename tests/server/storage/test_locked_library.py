"""A library another writer holds locked: requests are told to try again, and a session's end
is saved once the lock goes, without a restart."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from posecoach.errors import Busy
from posecoach.outputs.summary import SessionSummary
from posecoach.server import create_app
from posecoach.server.storage import Storage
from tests.server.conftest import FAST_LIMITS, ORIGIN, FakeEngine

WRITE = {"origin": ORIGIN}
BUSY_WORDS = "The library is busy; try again in a moment."


@contextmanager
def write_lock(db_path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holding the database's write lock until the block ends."""
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield other
        other.execute("COMMIT")
    finally:
        other.close()


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    library = Storage(tmp_path / "posecoach.db", tmp_path)
    library.busy_wait_s = 0.2
    return library


def test_a_write_during_a_lock_is_told_to_try_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(tmp_path / "data", engine=FakeEngine(), limits=FAST_LIMITS)
    app.state.ctx.storage.busy_wait_s = 0.2
    with TestClient(app) as client:
        person = client.post("/api/people", json={"name": "Ana"}, headers=WRITE).json()
        with write_lock(tmp_path / "data" / "posecoach.db"), \
                caplog.at_level(logging.INFO, logger="posecoach"):
            refused = client.post("/api/people", json={"name": "Ben"}, headers=WRITE)
            renamed = client.patch(f"/api/people/{person['id']}", json={"name": "Ann"},
                                   headers=WRITE)
            listed = client.get("/api/people")
        assert refused.status_code == 503 and refused.json() == {"detail": BUSY_WORDS}
        assert refused.headers["retry-after"]
        assert renamed.status_code == 503 and renamed.json() == {"detail": BUSY_WORDS}
        assert listed.status_code == 200, "reading goes on while another writes"
        assert not any(r.exc_info for r in caplog.records), "no traceback in the log"
        added = client.post("/api/people", json={"name": "Ben"}, headers=WRITE)
        assert added.status_code == 201, "the same request works once the lock is gone"


def test_a_sessions_end_is_saved_once_the_lock_goes(storage: Storage) -> None:
    person = storage.create_person("Cleo")
    session = storage.create_session("live", "beginner", None, "camera", "recording",
                                     person_id=person.id)
    with write_lock(storage.db_path):
        storage.update_session(session.id, status="done",
                               summary=SessionSummary(duration_s=20.0), duration_s=20.0)
        storage.update_session(session.id, missing=[])  # a later change waits behind it
        held = storage.get_session(session.id)
        assert held is not None and held.status == "recording"
        with pytest.raises(Busy):
            storage.create_session("live", "beginner", None, "camera", "recording")
    assert storage.wait_for_pending(timeout_s=30.0), "the end was saved after the lock"
    finished = storage.get_session(session.id)
    assert finished is not None and finished.status == "done" and finished.duration_s == 20.0
    assert storage.delete_person(person.id) == [session.id], "nothing is left running"
