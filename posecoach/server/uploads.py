"""Streaming multipart uploads: each file part goes straight to disk under a generated name."""

from __future__ import annotations

import errno
import shutil
import unicodedata
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import IO

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from posecoach.errors import BadRequest, OutputError, TooLarge, describe_os_error
from posecoach.server.storage import new_id

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif", ".mpg", ".mpeg", ".3gp", ".ts"}
)


MAX_TEXT_FIELDS = 20
MAX_TEXT_FIELD_BYTES = 1000


class UploadError(BadRequest):
    """A malformed upload request (HTTP 400)."""


class UploadTooLarge(TooLarge):
    """A file above the size limit (HTTP 413)."""


@dataclass
class ReceivedFile:
    """One stored upload: the client's file name (display only) and where it was written."""

    filename: str
    path: Path
    size: int = 0


@dataclass
class ReceivedUpload:
    """The files of one upload request and its small text fields (for example `level`)."""

    files: list[ReceivedFile]
    fields: dict[str, str]


def display_name(raw: str) -> str:
    """The client's file name reduced to its last component, for display (never a path)."""
    raw = "".join(ch for ch in raw if unicodedata.category(ch) != "Cc")
    name = PureWindowsPath(PurePosixPath(raw).name).name.strip()
    if name in ("", ".", ".."):
        return "upload"
    return name[:200]


def _suffix(filename: str) -> str:
    suffix = PurePosixPath(filename).suffix.lower()
    return suffix if suffix in VIDEO_SUFFIXES else ".bin"


def _limit_text(limit: int) -> str:
    return f"{limit / 1e6:.0f} MB" if limit >= 1e6 else f"{limit} bytes"


@dataclass
class _State:
    dest_dir: Path
    max_file_bytes: int
    max_files: int
    field_name: str
    files: list[ReceivedFile] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    field_buffer: bytearray | None = None
    field_key: str = ""
    header_field: bytes = b""
    header_value: bytes = b""
    headers: dict[bytes, bytes] = field(default_factory=dict)
    current: ReceivedFile | None = None
    handle: IO[bytes] | None = None
    error: Exception | None = None

    def on_part_begin(self) -> None:
        self.headers = {}
        self.current = None
        self.field_buffer = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.header_field.lower()] = self.header_value
        self.header_field = b""
        self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        raw_filename = options.get(b"filename")
        if raw_filename is None:
            if name and len(self.fields) < MAX_TEXT_FIELDS:
                self.field_key = name
                self.field_buffer = bytearray()
            return
        if name != self.field_name or self.error is not None:
            return
        if len(self.files) >= self.max_files:
            self.error = UploadError(f"at most {self.max_files} files per upload")
            return
        filename = display_name(raw_filename.decode("utf-8", "replace"))
        self.dest_dir.mkdir(parents=True, exist_ok=True)
        path = self.dest_dir / f"{new_id()}{_suffix(filename)}"
        self.current = ReceivedFile(filename, path)
        self.files.append(self.current)
        self.handle = path.open("wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.field_buffer is not None:
            self.field_buffer += data[start:end]
            if len(self.field_buffer) > MAX_TEXT_FIELD_BYTES:
                self.error = UploadError(f"form field {self.field_key!r} is too long")
            return
        if self.current is None or self.handle is None or self.error is not None:
            return
        self.current.size += end - start
        if self.current.size > self.max_file_bytes:
            self.error = UploadTooLarge(
                f"{self.current.filename} is larger than the upload limit of "
                f"{_limit_text(self.max_file_bytes)}"
            )
            return
        self.handle.write(data[start:end])

    def on_part_end(self) -> None:
        if self.field_buffer is not None:
            self.fields[self.field_key] = self.field_buffer.decode("utf-8", "replace")
            self.field_buffer = None
        self.close_handle()
        self.current = None

    def close_handle(self) -> None:
        handle, self.handle = self.handle, None
        if handle is not None:
            handle.close()

    def discard(self) -> None:
        with suppress(OSError):
            self.close_handle()
        for received in self.files:
            with suppress(OSError):
                received.path.unlink(missing_ok=True)


DISK_FULL_MESSAGE = "the disk is full: the upload cannot be saved until space is freed"


def _not_saved(exc: OSError) -> OutputError:
    """The error for an upload the disk refused."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return OutputError(errno.ENOSPC, DISK_FULL_MESSAGE)
    return OutputError(exc.errno, describe_os_error(exc, "the upload"))


def _free_bytes(folder: Path) -> int | None:
    """Free space on the disk holding `folder` (or its nearest existing parent)."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                return None
    return None


async def receive_files(
    request: Request,
    dest_dir: Path,
    *,
    max_file_bytes: int,
    max_files: int,
    field_name: str = "files",
) -> ReceivedUpload:
    """Stream the `field_name` file parts of a multipart request into `dest_dir`.

    Raises `UploadTooLarge` as soon as one file passes `max_file_bytes` (nothing is kept),
    `UploadError` for a request that is not multipart or holds no files, and `OutputError`
    (ENOSPC when the disk is full, before anything is read if the request says it will not
    fit) when the files cannot be written; nothing is kept then either.
    """
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UploadError(f"send the clips as multipart/form-data in the '{field_name}' field")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_file_bytes * max_files + 1_000_000:
        raise UploadTooLarge(
            f"the upload is larger than the limit of {_limit_text(max_file_bytes)} per file"
        )
    free = _free_bytes(dest_dir)
    if free is not None and length.isdigit() and int(length) > free:
        raise OutputError(
            errno.ENOSPC,
            f"{DISK_FULL_MESSAGE} (the upload is {_limit_text(int(length))}, "
            f"{_limit_text(free)} free)",
        )
    state = _State(dest_dir, max_file_bytes, max_files, field_name)
    callbacks = {
        "on_part_begin": state.on_part_begin,
        "on_header_field": state.on_header_field,
        "on_header_value": state.on_header_value,
        "on_header_end": state.on_header_end,
        "on_headers_finished": state.on_headers_finished,
        "on_part_data": state.on_part_data,
        "on_part_end": state.on_part_end,
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if state.error is not None:
                raise state.error
        parser.finalize()
        state.close_handle()
    except (UploadError, UploadTooLarge):
        state.discard()
        raise
    except OSError as exc:
        state.discard()
        raise _not_saved(exc) from exc
    except Exception as exc:
        state.discard()
        raise UploadError("the upload could not be read as multipart/form-data") from exc
    finally:
        with suppress(OSError):
            state.close_handle()
    if not state.files:
        raise UploadError(f"no files in the '{field_name}' field")
    return ReceivedUpload(state.files, state.fields)
