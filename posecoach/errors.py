"""posecoach's errors: one tree, each message written for the person who reads it.

Callers catch `PosecoachError` and show `str(exc)`; `user_message` turns any exception into one
plain line (no traceback) for the command line, the web UI and the logs. The subclasses keep the
built-in base they replace (`ValueError`, `OSError`, `RuntimeError`), so code that caught those
still does.
"""

from __future__ import annotations

import errno
import re


class PosecoachError(Exception):
    """Base of every error whose message is meant for the user."""


class VideoError(PosecoachError):
    """A video or camera cannot be opened, decoded or written."""


class OutputError(PosecoachError, OSError):
    """An output file or folder cannot be written (a full disk, no permission).

    Raised as `OutputError(errno, message)`; its text is the message alone, never "[Errno N]".
    """

    def __str__(self) -> str:
        return self.strerror if self.strerror is not None else super().__str__()


class SettingsError(PosecoachError, ValueError):
    """The configuration file or an option is not valid, or cannot be used in this install."""


class LandmarksCSVError(PosecoachError, ValueError):
    """A landmarks CSV cannot be read."""


class ModelError(PosecoachError, RuntimeError):
    """The pose model cannot be found, built or loaded."""


class InputError(PosecoachError, ValueError):
    """A frame, message or request from a client is not usable."""


class BadRequest(InputError):
    """A request that cannot be carried out as asked (a form that cannot be read, a
    confirmation that does not match)."""


class NotFound(InputError, LookupError):
    """A person, session, job or file that is not there."""


class Conflict(InputError):
    """A request the library's present state refuses: a name taken, a session still running,
    a session that has no such output yet."""


class TooLarge(InputError):
    """A request or upload larger than the server accepts."""


class UnsupportedMedia(InputError):
    """An uploaded file that is not a video posecoach can read."""


class Busy(OutputError):
    """The library is held by another writer for longer than a request may wait."""

    def __init__(self, message: str = "The library is busy; try again in a moment.") -> None:
        super().__init__(errno.EBUSY, message)


_ERRNO_PREFIX = re.compile(r"\[Errno -?\d+\]\s*")

_ERRNO_WORDS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the disk is read-only",
    errno.ENOENT: "no such file or folder",
    errno.EISDIR: "it is a folder",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EIO: "a disk input/output error",
}


def os_error_words(exc: OSError) -> str:
    """An operating-system error in words, without its number."""
    words = _ERRNO_WORDS.get(exc.errno or 0)
    if words:
        return words
    text = exc.strerror or (str(exc) if not exc.args or exc.args[0] else "") or type(exc).__name__
    return text.strip() or "an operating-system error"


def describe_os_error(exc: OSError, path: object) -> str:
    """Why writing `path` failed, in words."""
    if exc.errno == errno.ENOSPC:
        return f"the disk is full: cannot write {path}"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"no permission to write {path}"
    return f"cannot write {path}: {os_error_words(exc)}"


def user_message(exc: BaseException) -> str:
    """One plain line for any exception: the message of ours, or a description of another."""
    if isinstance(exc, PosecoachError):
        text = str(exc)
    elif isinstance(exc, MemoryError):
        text = "ran out of memory"
    elif isinstance(exc, OSError):
        text = os_error_words(exc)
    else:
        text = f"unexpected error ({type(exc).__name__}: {exc})"
    return " ".join(_ERRNO_PREFIX.sub("", text).split()) or type(exc).__name__
