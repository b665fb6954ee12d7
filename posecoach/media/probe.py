"""What a video file holds: its type sniffed from the content, size, rate, length and rotation.

Problems surface as `VideoError`, whose message is meant to be shown to the walker as it is.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from posecoach.errors import VideoError, os_error_words

# Codecs that hold still pictures. A file made of one such frame is a photo, not a video.
# FFmpeg reads text files as "video" drawn from their characters (for example a .txt as ANSI art).
TEXT_CODECS = frozenset({"ansi", "bintext", "xbin", "idf", "text", "ass", "srt", "subrip"})
IMAGE_CODECS = frozenset(
    {
        "mjpeg", "jpegls", "jpeg2000", "png", "apng", "bmp", "tiff", "webp", "gif", "qoi",
        "exr", "dpx", "sgi", "targa", "pcx", "ppm", "pgm", "pgmyuv", "pbm", "pam", "xbm",
        "xpm", "xwd", "hdr", "jpegxl", "phm", "sunrast", "photocd", "pictor", "dds", "vbn",
        "psd", "ptx", "alias_pix", "brender_pix", "fits", "wbmp", "sun",
    }
)
# The smallest picture side in which a person could be found; smaller videos are refused.
MIN_SIDE_PX = 16
# The most pixels a video's picture may have: every 4K format (4096x3072 included). Larger
# pictures (an 8K clip, a 16000x16000 image in a video container) take gigabytes to decode,
# so they are refused from the stream's header, before any picture is decoded.
MAX_VIDEO_PIXELS = 4096 * 3072
_ERRNO_PREFIX = re.compile(r"\[Errno -?\d+\]\s*")
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"styp", b"moof")


@dataclass
class VideoInfo:
    """What a video file holds. width/height are the display size (after rotation)."""

    path: str
    width: int
    height: int
    fps: float
    duration_s: float | None
    frame_count: int | None
    codec: str
    rotation_deg: int  # counter-clockwise turn applied to stored frames to show them upright


def file_label(path: str | os.PathLike[str]) -> str:
    """The file name shown in messages and reports (the whole path when it has no name part).

    Bytes of the name that are not UTF-8 (kept by Python as lone surrogates) become U+FFFD, so
    the label can be printed, written into HTML and stored as JSON anywhere.
    """
    return shown_text(Path(path).name or str(path))


def shown_text(text: str) -> str:
    """`text` with the bytes of a file name that are not UTF-8 (lone surrogates) as U+FFFD."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


def decode_error_words(exc: BaseException) -> str:
    """Why a video could not be decoded, in words (the decoder's error numbers are not shown)."""
    if isinstance(exc, av.error.InvalidDataError):
        return "its data is invalid, as in a file cut short or damaged"
    if isinstance(exc, MemoryError):
        return "it needs more memory than there is"
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(_ERRNO_PREFIX.sub("", text).split()) or "the decoder failed"


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character may be cut at the end of the sample.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.95 * max(1, len(text))


def _normalise_rotation(deg: float) -> int:
    """Round a display rotation to 0, 90, 180 or 270 degrees counter-clockwise."""
    return int(round(deg / 90.0)) % 4 * 90


def _stream_rotation(stream: Any, first_frame: Any) -> int:
    rot = 0
    if first_frame is not None:
        try:
            rot = int(first_frame.rotation or 0)
        except Exception:  # noqa: BLE001 - side data can be missing or odd
            rot = 0
    if rot == 0:
        tag = stream.metadata.get("rotate") if stream.metadata else None
        if tag:
            try:
                rot = -int(float(tag))  # the old tag counts clockwise
            except ValueError:
                rot = 0
    return _normalise_rotation(rot)


def _fps_of(stream: Any) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            value = float(rate)
            if 0 < value < 1000:
                return value
    return 0.0


def _open_input(path: str | os.PathLike[str]) -> Any:
    """Open a file with PyAV, turning every failure into a readable VideoError."""
    name = file_label(path)
    p = Path(path)
    if not p.exists():
        raise VideoError(f"{name} was not found ({p})")
    if p.is_dir():
        raise VideoError(f"{name} is a folder, not a video file")
    try:
        size = p.stat().st_size
        with p.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise VideoError(f"{name} cannot be read: {os_error_words(exc)}") from exc
    if size == 0:
        raise VideoError(f"{name} is empty (0 bytes)")
    try:
        return open_bounded(p)
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        if _looks_like_text(head):
            raise VideoError(
                f"{name} is a text file, not a video file (no video stream could be read)"
            ) from exc
        if head[4:8] in _MP4_BOXES:
            raise VideoError(
                f"{name} is a damaged or incomplete MP4 file (it looks cut short, for example an "
                "unfinished copy, download or recording), and no video could be read from it"
            ) from exc
        raise VideoError(f"{name} is not a video file (no video stream could be read)") from exc


def _bounded_options(max_pixels: int) -> dict[str, str]:
    return {"max_pixels": str(int(max_pixels))}


# Decoders that can decode a picture at 1/2, 1/4 or 1/8 of its size (FFmpeg's `lowres`), and
# the most halvings each takes.
LOWRES_CODECS = {"mjpeg": 3, "jpeg2000": 3}


def open_bounded(path: str | os.PathLike[str], max_pixels: int = MAX_VIDEO_PIXELS,
                 max_side_px: int | None = None) -> Any:
    """Open a file with PyAV so that no picture larger than `max_pixels` is ever decoded.

    FFmpeg's own guard (`max_pixels`) is set both for the look at the streams that opening
    does and for the decoder of every video stream: a larger picture fails to decode instead
    of taking memory. With `max_side_px`, a decoder that can decode at a fraction of the size
    (`LOWRES_CODECS`) decodes straight to the smallest fraction whose long side is still at
    least `max_side_px`. Raises what `av.open` raises.
    """
    options = _bounded_options(max_pixels)
    container = av.open(str(path), mode="r", options=options)
    for stream in container.streams.video:
        ctx = stream.codec_context
        ctx.options = {**options, **_lowres_option(ctx.name, int(ctx.width or 0),
                                                   int(ctx.height or 0), max_side_px)}
    return container


def _lowres_option(codec: str, width: int, height: int,
                   max_side_px: int | None) -> dict[str, str]:
    """FFmpeg's `lowres` for decoding a `codec` picture no larger than needed, or nothing."""
    halvings = 0
    if max_side_px and codec in LOWRES_CODECS:
        while (halvings < LOWRES_CODECS[codec]
               and max(width, height) >> (halvings + 1) >= max_side_px):
            halvings += 1
    return {"lowres": str(halvings)} if halvings else {}


def check_pixel_count(name: str, width: int, height: int,
                      max_pixels: int = MAX_VIDEO_PIXELS) -> None:
    """Refuse a video whose header gives pictures of more than `max_pixels`.

    Called on the stream's header before any picture is decoded, by the command line and the
    server alike (both go through `probe`). A size the header does not give (0) passes here:
    the decoder, opened by `open_bounded`, then refuses a larger picture, which
    `too_large_or_damaged` words. Raises `VideoError` in words.
    """
    if width > 0 and height > 0 and width * height > max_pixels:
        raise VideoError(
            f"{name} has pictures of {width}x{height} pixels "
            f"({width * height / 1e6:.1f} million): more than posecoach reads "
            f"({_limit_words(max_pixels)}, such as 4K); make a copy at 4K or less (1080p is "
            "plenty)"
        )


def too_large_or_damaged(name: str, max_pixels: int = MAX_VIDEO_PIXELS) -> VideoError:
    """The error for a stream whose header gives no picture size and whose first picture the
    bounded decoder refused: larger than the limit, or damaged."""
    return VideoError(
        f"{name}: no picture could be decoded within posecoach's limit of "
        f"{_limit_words(max_pixels)} (the pictures are larger than that, or the file is "
        "damaged); make a copy at 4K or less (1080p is plenty)"
    )


def _limit_words(max_pixels: int) -> str:
    return f"{max_pixels / 1e6:.1f} million pixels a picture"


def _check_not_photo(name: str, container: Any, stream: Any, frames_seen: int) -> None:
    codec = stream.codec_context.name
    fmt = container.format.name or ""
    single_image_format = fmt.endswith("_pipe") or fmt == "image2"
    if single_image_format or (codec in IMAGE_CODECS and frames_seen <= 1):
        kind = {"mjpeg": "JPEG", "png": "PNG", "webp": "WebP", "gif": "GIF"}.get(
            codec, codec.upper()
        )
        raise VideoError(f"{name} is a photo ({kind} image), not a video")


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video's size, rate, length, codec and rotation; decodes the first frame to be sure.

    The type is decided from the content, never from the file name.
    """
    name = file_label(path)
    container = _open_input(path)
    try:
        audio_only = not container.streams.video
        if audio_only:
            what = " (it contains only audio)" if container.streams.audio else ""
            raise VideoError(f"{name} has no video stream{what}")
        stream = container.streams.video[0]
        if stream.codec_context.name in TEXT_CODECS:
            raise VideoError(f"{name} is a text file, not a video file (it holds text to display)")
        check_pixel_count(name, int(stream.codec_context.width or 0),
                          int(stream.codec_context.height or 0))
        first = None
        frames_seen = 0
        try:
            for frame in container.decode(stream):
                frames_seen += 1
                if first is None:
                    first = frame
                if frames_seen >= 2 or stream.codec_context.name not in IMAGE_CODECS:
                    break
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            unknown_size = not (stream.codec_context.width and stream.codec_context.height)
            if first is None and unknown_size and isinstance(exc, av.error.ArgumentError):
                raise too_large_or_damaged(name) from exc
            if first is None:
                raise VideoError(
                    f"{name} is damaged: its video could not be decoded "
                    f"({decode_error_words(exc)})"
                ) from exc
        if first is None:
            raise VideoError(f"{name} has a video stream but no picture could be decoded from it")
        _check_not_photo(name, container, stream, max(frames_seen, stream.frames or 0))

        rotation = _stream_rotation(stream, first)
        w = int(stream.codec_context.width or first.width)
        h = int(stream.codec_context.height or first.height)
        if rotation in (90, 270):
            w, h = h, w
        if min(w, h) < MIN_SIDE_PX:
            raise VideoError(
                f"{name} is only {w}x{h} pixels: too small to show a person (a video needs at "
                f"least {MIN_SIDE_PX} pixels a side)"
            )
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        frame_count = int(stream.frames) if stream.frames else None
        fps = _fps_of(stream)
        if fps == 0.0 and duration and frame_count:
            fps = frame_count / duration
        return VideoInfo(
            path=str(path),
            width=w,
            height=h,
            fps=fps,
            duration_s=duration,
            frame_count=frame_count,
            codec=stream.codec_context.name,
            rotation_deg=rotation,
        )
    finally:
        container.close()


def output_size(width: int, height: int, max_side_px: int | None) -> tuple[int, int]:
    """Size after shrinking so the long side is at most max_side_px (aspect kept, even sides)."""
    if not max_side_px or max(width, height) <= max_side_px:
        return width, height
    scale = max_side_px / max(width, height)
    w = max(2, int(round(width * scale / 2.0)) * 2)
    h = max(2, int(round(height * scale / 2.0)) * 2)
    return w, h
