"""The error tree: every error meant for the user is a PosecoachError, and every exception turns
into one plain line."""

from __future__ import annotations

import ast
import errno
import traceback
from pathlib import Path

import pytest

import posecoach
from posecoach.errors import (
    InputError,
    LandmarksCSVError,
    ModelError,
    OutputError,
    PosecoachError,
    SettingsError,
    VideoError,
    user_message,
)
from posecoach.server.uploads import UploadError, UploadTooLarge
from posecoach.settings import load_settings

PACKAGE = Path(posecoach.__file__).parent


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (VideoError, Exception),
        (OutputError, OSError),
        (SettingsError, ValueError),
        (LandmarksCSVError, ValueError),
        (ModelError, RuntimeError),
        (InputError, ValueError),
        (UploadError, InputError),
        (UploadTooLarge, InputError),
    ],
)
def test_each_kind_is_a_posecoach_error(cls: type[Exception], builtin: type[Exception]) -> None:
    assert issubclass(cls, PosecoachError)
    assert issubclass(cls, builtin)


def _raised(exc: BaseException) -> BaseException:
    """The exception as it arrives in an except clause, with a traceback attached."""
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001
        return caught


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (VideoError("clip.mp4 is empty (0 bytes)"), "clip.mp4 is empty (0 bytes)"),
        (SettingsError("invalid configuration:\n  rules.head_up.persist_s: too small"),
         "invalid configuration: rules.head_up.persist_s: too small"),
        (OutputError(errno.ENOSPC, "the disk is full: cannot write out/report.html"),
         "the disk is full: cannot write out/report.html"),
        (OutputError(errno.EACCES, "no permission to write out", "out"),
         "no permission to write out"),
        (InputError("the frame could not be decoded as a JPEG image"),
         "the frame could not be decoded as a JPEG image"),
        (OSError(errno.ENOSPC, "No space left on device"), "the disk is full"),
        (OSError(errno.ENOSPC, "No space left on device", "/data/x"), "the disk is full"),
        (OSError(errno.ECONNRESET, "Connection reset by peer"), "Connection reset by peer"),
        (OSError("[Errno 5] Input/output error"), "Input/output error"),
        (MemoryError(), "ran out of memory"),
        (KeyError("view"), "unexpected error (KeyError: 'view')"),
        (RuntimeError("line one\nline two"), "unexpected error (RuntimeError: line one line two)"),
        (ValueError("[Errno 2] gone"), "unexpected error (ValueError: gone)"),
    ],
)
def test_user_message_is_one_plain_line(exc: BaseException, expected: str) -> None:
    message = user_message(_raised(exc))
    assert message == expected
    assert "\n" not in message and "[Errno" not in message and "Traceback" not in message


def test_output_error_reads_as_its_message_alone() -> None:
    exc = OutputError(errno.ENOSPC, "the disk is full: cannot write summary.json")
    assert str(exc) == "the disk is full: cannot write summary.json"
    assert exc.errno == errno.ENOSPC
    assert "[Errno" not in "".join(traceback.format_exception_only(exc))


def test_unreadable_config_is_a_settings_error_in_words(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path)  # a folder, not a file
    assert "[Errno" not in user_message(caught.value)
    assert str(tmp_path) in user_message(caught.value)


def _exception_classes() -> list[tuple[str, ast.ClassDef]]:
    """Every top-level class of the package, with the file it is in."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                found.append((str(path.relative_to(PACKAGE)), node))
    return found


def _base_names(node: ast.ClassDef) -> set[str]:
    return {b.id if isinstance(b, ast.Name) else ast.unparse(b).split(".")[-1] for b in node.bases}


def test_every_public_error_class_derives_from_posecoach_error() -> None:
    ours = {"PosecoachError"}
    classes = _exception_classes()
    changed = True
    while changed:  # close over the tree: a class based on one of ours is ours
        changed = False
        for _, node in classes:
            if node.name not in ours and _base_names(node) & ours:
                ours.add(node.name)
                changed = True
    foreign = []
    for where, node in classes:
        bases = _base_names(node)
        is_exception = any(b.endswith(("Error", "Exception", "TooLarge")) for b in bases)
        if is_exception and node.name not in ours and not node.name.startswith("_"):
            foreign.append(f"{where}: {node.name}")
    assert foreign == []
    assert {"UploadError", "UploadTooLarge", "OutputError", "VideoError"} <= ours
