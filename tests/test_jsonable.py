"""`to_jsonable`: what every JSON file and live message is made of."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest

from posecoach.jsonable import to_jsonable


@dataclass
class _Metrics:
    trunk_lean_deg: float
    steps: int
    seen: bool


@pytest.mark.parametrize(("value", "expected"), [
    (1.5, 1.5),
    (float("nan"), None),
    (float("inf"), None),
    (-math.inf, None),
    (7, 7),
    (True, True),
    ("text", "text"),
    (None, None),
    (np.float64(2.25), 2.25),
    (np.float32(float("nan")), None),
    (np.int64(3), 3),
    (np.bool_(False), False),
    ((1, 2.0), [1, 2.0]),
    ([[0.5, float("nan")], [np.float64(1.0)]], [[0.5, None], [1.0]]),
    ({1: float("inf"), "a": (np.int32(4),)}, {"1": None, "a": [4]}),
    (_Metrics(float("nan"), np.int64(2), np.bool_(True)),
     {"trunk_lean_deg": None, "steps": 2, "seen": True}),
])
def test_values_become_json_types(value, expected):
    out = to_jsonable(value)
    assert out == expected
    assert json.loads(json.dumps(out, allow_nan=False)) == expected
    # numpy scalars become Python's own types, not subclasses
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        assert type(out) in (int, float)
