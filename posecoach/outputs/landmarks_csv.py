"""The landmarks CSV: one wide row per frame, readable by posecoach and by other tools.

Columns: `frame,time_s,width,height,x0,y0,z0,v0,...,x32,y32,z32,v32`. x and y are pixels in a
frame of `width` x `height` (y down), z is the model's relative depth (same scale as x), v is
visibility from 0 to 1. The landmark cells are empty where nobody was found. Keypoints from
other tools can be converted into this format (the 33 MediaPipe landmarks; leave unknown ones
empty) and analysed with `posecoach analyze FILE.landmarks.csv`.
"""

from __future__ import annotations

import csv
import io
import math
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from posecoach.errors import LandmarksCSVError
from posecoach.outputs.files import atomic_write_text
from posecoach.pose.landmarks import NUM_LANDMARKS, PoseSeries

HEADER: tuple[str, ...] = ("frame", "time_s", "width", "height") + tuple(
    f"{c}{i}" for i in range(NUM_LANDMARKS) for c in "xyzv"
)


def _cell(value: float) -> str:
    return "" if not math.isfinite(value) else f"{value:.3f}" if abs(value) >= 1 else f"{value:.5f}"


def format_row(frame: int, time_s: float, width: int, height: int, points: np.ndarray) -> list[str]:
    row = [str(frame), f"{time_s:.4f}", str(width), str(height)]
    row.extend(_cell(float(v)) for v in points.reshape(-1))
    return row


def write_landmarks_csv(path: Path, series: PoseSeries) -> Path:
    """Write `series` atomically to `path`."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    for i in range(len(series)):
        writer.writerow(
            format_row(
                int(series.frame_index[i]),
                float(series.time_s[i]),
                series.width,
                series.height,
                series.points[i],
            )
        )
    return atomic_write_text(path, buf.getvalue())


def _number(text: str, line: int, column: str) -> float:
    if text.strip() == "":
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise LandmarksCSVError(f"line {line}, column {column}: {text!r} is not a number") from None
    if math.isinf(value):
        raise LandmarksCSVError(f"line {line}, column {column}: infinite value")
    return value


def _exact_time(text: str, value: float) -> Decimal:
    """A time cell as written: Unix epoch times keep their milliseconds."""
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        return Decimal(value)


def read_landmarks_csv(path: Path) -> PoseSeries:
    """Read a landmarks CSV. Raises `LandmarksCSVError` with the line and reason on bad input.

    NaN cells count as missing. Rows must have strictly increasing `time_s`; the series' times
    are seconds from the first row, computed exactly from the text, so times written as Unix
    epoch seconds (1.7e9 and more) read like times from zero.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise LandmarksCSVError(f"{path} is not a text CSV file") from None
    except OSError as exc:
        raise LandmarksCSVError(f"cannot read {path}: {exc.strerror or exc}") from None
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None:
        raise LandmarksCSVError(f"{path} is empty")
    header = [h.strip() for h in header]
    if tuple(header) != HEADER:
        raise LandmarksCSVError(
            f"{path} does not have the landmarks columns "
            f"(expected {len(HEADER)} columns starting frame,time_s,width,height,x0,y0,z0,v0)"
        )
    frames: list[int] = []
    times: list[Decimal] = []
    lines: list[int] = []
    points: list[np.ndarray] = []
    size: tuple[int, int] | None = None
    for line, row in enumerate(rows, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(HEADER):
            raise LandmarksCSVError(
                f"line {line}: {len(row)} columns, expected {len(HEADER)} (file cut short?)"
            )
        frame = _number(row[0], line, "frame")
        time_s = _number(row[1], line, "time_s")
        width = _number(row[2], line, "width")
        height = _number(row[3], line, "height")
        for (name, value), cell in zip((("frame", frame), ("time_s", time_s), ("width", width),
                                        ("height", height)), row, strict=False):
            if math.isnan(value):
                what = "is empty" if not cell.strip() else f"is {cell.strip()!r}, not a number"
                raise LandmarksCSVError(f"line {line}: {name} {what}")
        if width < 1 or height < 1:
            raise LandmarksCSVError(
                f"line {line}: width and height must be positive (at least 1 pixel)"
            )
        if size is None:
            size = (int(width), int(height))
        elif size != (int(width), int(height)):
            raise LandmarksCSVError(f"line {line}: frame size changes within the file")
        exact_s = _exact_time(row[1], time_s)
        if times and exact_s <= times[-1]:
            raise LandmarksCSVError(
                f"line {line}: time_s must increase ({row[1].strip()} after {times[-1]})"
            )
        values = [_number(c, line, HEADER[4 + j]) for j, c in enumerate(row[4:])]
        frames.append(int(frame))
        times.append(exact_s)
        lines.append(line)
        points.append(np.array(values, dtype=np.float64).reshape(NUM_LANDMARKS, 4))
    if not frames or size is None:
        raise LandmarksCSVError(f"{path} has no frames")
    time_s = np.array([float(t - times[0]) for t in times])
    same = np.flatnonzero(np.diff(time_s) <= 0)
    if same.size:
        i = int(same[0]) + 1
        raise LandmarksCSVError(
            f"line {lines[i]}: time_s {times[i]} is too close to {times[i - 1]} to tell apart"
        )
    return PoseSeries(
        time_s=time_s,
        points=np.stack(points),
        width=size[0],
        height=size[1],
        frame_index=np.array(frames),
    )
