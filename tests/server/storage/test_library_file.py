"""The library file itself: private to its owner, and named in plain words when it is damaged
or its folder cannot be written."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from posecoach.errors import OutputError, user_message
from posecoach.server.storage import Storage
from tests.conftest import ROOT
from tools.net import free_port

NOBODY = 65534


def test_the_library_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "posecoach.db", tmp_path)
    storage.create_person("Ana")
    for name in ("posecoach.db", "posecoach.db-wal", "posecoach.db-shm"):
        path = tmp_path / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name


DAMAGE = [
    ("not a database", b"these are not the droids you are looking for\n" * 200),
    ("a page of zeros", b"\0" * 8192),
]


@pytest.mark.parametrize(("what", "content"), DAMAGE, ids=[case[0] for case in DAMAGE])
def test_a_damaged_library_is_named_without_a_traceback(
    tmp_path: Path, what: str, content: bytes
) -> None:
    library = tmp_path / "posecoach.db"
    Storage(library, tmp_path).create_person("Ana")
    header = library.read_bytes()[:100] if what == "a page of zeros" else b""
    library.write_bytes(header + content)
    for name in ("posecoach.db-wal", "posecoach.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    with pytest.raises(OutputError) as caught:
        Storage(library, tmp_path).list_people()
    message = user_message(caught.value)
    assert str(library) in message and "damaged" in message, message

    served = subprocess.run(
        [sys.executable, "-m", "posecoach", "serve", "--data-dir", str(tmp_path),
         "--port", str(free_port())],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert served.returncode != 0
    assert "Traceback" not in served.stderr + served.stdout, served.stderr
    assert str(library) in served.stderr + served.stdout and "damaged" in served.stderr


@pytest.fixture
def unwritable_folder() -> Iterator[Path]:
    """A library whose folder its user cannot write (the library file itself can be)."""
    folder = Path(tempfile.mkdtemp(prefix="posecoach-ro-"))
    try:
        folder.chmod(0o755)
        Storage(folder / "posecoach.db", folder).create_person("Ana")
        for name in ("posecoach.db-wal", "posecoach.db-shm"):
            (folder / name).unlink(missing_ok=True)
        if os.geteuid() == 0:
            os.chown(folder / "posecoach.db", NOBODY, NOBODY)
        else:
            folder.chmod(0o555)
        yield folder
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)


ADD_A_PERSON = """
import sys
from pathlib import Path
from posecoach.errors import user_message
from posecoach.server.storage import Storage
folder = Path(sys.argv[1])
try:
    Storage(folder / "posecoach.db", folder).create_person("Ben")
except Exception as exc:
    print(type(exc).__name__, user_message(exc))
else:
    print("written")
"""


def test_a_read_only_folder_reads_as_such(unwritable_folder: Path) -> None:
    as_user = ([shutil.which("setpriv") or "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                "--clear-groups"] if os.geteuid() == 0 else [])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(unwritable_folder)}
    ran = subprocess.run([*as_user, sys.executable, "-c", ADD_A_PERSON, str(unwritable_folder)],
                         capture_output=True, text=True, timeout=120, env=env, cwd="/")
    said = ran.stdout.strip()
    assert said.startswith("OutputError"), (said, ran.stderr)
    assert f"cannot write to {unwritable_folder}" in said and "read-only" in said, said
    assert "disk I/O" not in said and "Traceback" not in ran.stderr, ran.stderr
