"""The landmarks CSV: exact round trip, and clear errors for malformed files."""

from __future__ import annotations

import numpy as np
import pytest

from posecoach.outputs.landmarks_csv import (
    HEADER,
    LandmarksCSVError,
    read_landmarks_csv,
    write_landmarks_csv,
)
from posecoach.pose.landmarks import PoseSeries


def series(n: int = 5) -> PoseSeries:
    rng = np.random.default_rng(1)
    pts = rng.uniform(0, 1000, (n, 33, 4))
    pts[..., 3] = rng.uniform(0, 1, (n, 33))
    pts[2] = np.nan  # nobody in frame 2
    return PoseSeries(np.arange(n) / 30.0, pts, 1920, 1080)


def test_round_trip_keeps_values_and_empty_frames(tmp_path):
    original = series()
    path = write_landmarks_csv(tmp_path / "a.landmarks.csv", original)
    back = read_landmarks_csv(path)
    assert (back.width, back.height) == (1920, 1080)
    np.testing.assert_allclose(back.time_s, original.time_s, atol=1e-4)
    np.testing.assert_allclose(back.points, original.points, atol=1e-3, equal_nan=True)
    assert np.isnan(back.points[2]).all()


def test_header_is_the_documented_one():
    assert HEADER[:8] == ("frame", "time_s", "width", "height", "x0", "y0", "z0", "v0")
    assert HEADER[-1] == "v32" and len(HEADER) == 4 + 33 * 4


GOOD_ROW = "0,0.0,640,480," + ",".join(["1"] * 132)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("a,b,c\n1,2,3\n", "does not have the landmarks columns"),
        (",".join(HEADER) + "\n", "has no frames"),
        (",".join(HEADER) + "\n" + GOOD_ROW[:40] + "\n", "columns, expected 136"),
        (",".join(HEADER) + "\n" + GOOD_ROW.replace(",1,", ",abc,", 1) + "\n", "not a number"),
        (",".join(HEADER) + "\n" + GOOD_ROW.replace(",1,", ",inf,", 1) + "\n", "infinite"),
        (",".join(HEADER) + "\n" + GOOD_ROW + "\n" + GOOD_ROW + "\n", "time_s must increase"),
        (",".join(HEADER) + "\n" + GOOD_ROW.replace("640", "0", 1) + "\n", "must be positive"),
        (",".join(HEADER) + "\n" + "0,,640,480," + ",".join(["1"] * 132) + "\n", "time_s is empty"),
    ],
)
def test_malformed_files_give_the_line_and_reason(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(LandmarksCSVError, match=message):
        read_landmarks_csv(path)


def test_binary_file_is_rejected(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"\xff\xfe\x00\x81" * 100)
    with pytest.raises(LandmarksCSVError):
        read_landmarks_csv(path)


def test_nan_cells_read_as_missing(tmp_path):
    path = tmp_path / "n.csv"
    path.write_text(",".join(HEADER) + "\n" + "0,0.0,640,480," + ",".join(["nan"] * 132) + "\n")
    assert np.isnan(read_landmarks_csv(path).points).all()
