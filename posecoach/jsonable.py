"""Values as JSON types: what every JSON file and live message is made of."""

from __future__ import annotations

import math
from dataclasses import asdict, is_dataclass
from typing import Any


def to_jsonable(value: Any) -> Any:
    """`value` with JSON types only: NaN and inf as null, numpy scalars as Python numbers,
    dataclasses as dicts, tuples as lists."""
    # the plain types first: a live result holds about 170 values, most of them floats
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int or kind is str or kind is bool or value is None:
        return value
    if kind is list:
        return [to_jsonable(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
