"""Records kept as JSON files: declared once, as pydantic dataclasses.

A record's one declaration gives its attributes (read as `summary.steps`, changed with
`dataclasses.replace`), its JSON (`to_json`, field order = declaration order), its reading
back (`from_json`) and the JSON Schema the HTTP API and the pages publish.

Reading forgives what older versions or damaged files hold: a value that does not fit its
field (text for a number, NaN, an unknown word) reads as the field's default, a key that is
missing reads as its default, an unknown key is ignored. Never an error: a stored session must
always open.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Self, TypeVar

from pydantic import (
    BeforeValidator,
    ConfigDict,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    field_validator,
)
from pydantic.dataclasses import dataclass

# NaN and infinity do not fit a number field, so they read (and write) as null.
RECORD_CONFIG = ConfigDict(allow_inf_nan=False)


def _plain_number(value: Any) -> int | float:
    """A number as it is (an int stays an int, as in files written before): numpy scalars as
    Python numbers; booleans and text are not numbers."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("not a number")
    return value


# A measured value: written back exactly as read (175 stays 175, 175.0 stays 175.0).
Number = Annotated[int | float, BeforeValidator(_plain_number), WithJsonSchema({"type": "number"})]
# A measured value always kept as a float (175 reads as 175.0).
Real = Annotated[float, BeforeValidator(_plain_number)]

T = TypeVar("T")


def _mappings_only(value: Any) -> Any:
    """A list of records without the items that are not records at all."""
    if isinstance(value, list | tuple):
        return tuple(item for item in value
                     if isinstance(item, Mapping) or dataclasses.is_dataclass(item))
    return value


# A list of records: items that are not objects are left out, the others read field by field.
Records = Annotated[tuple[T, ...], BeforeValidator(_mappings_only)]


@functools.cache
def adapter(cls: type) -> TypeAdapter[Any]:
    """The pydantic adapter of a record type (made once per type)."""
    return TypeAdapter(cls)


@dataclass(frozen=True, config=RECORD_CONFIG)
class Record:
    """The base of every stored record: forgiving reading, JSON out, JSON in."""

    # Keys added after files of this record were first written: left out of the JSON while
    # they hold None, so a file written before is written back byte for byte.
    WRITTEN_WHEN_SET: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="wrap")
    @classmethod
    def _default_when_unreadable(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        try:
            return handler(value)
        except ValidationError:
            declared = cls.__dataclass_fields__[info.field_name]  # type: ignore[attr-defined]
            if declared.default is not dataclasses.MISSING:
                return declared.default
            if declared.default_factory is not dataclasses.MISSING:
                return declared.default_factory()
            raise

    def to_json(self) -> dict[str, Any]:
        """JSON types only, keys in declaration order, NaN and infinity as null."""
        data: dict[str, Any] = adapter(type(self)).dump_python(self, mode="json")
        for key in self.WRITTEN_WHEN_SET:
            if data.get(key, 0) is None:
                del data[key]
        return data

    @classmethod
    def from_json(cls, data: Any) -> Self:
        """Read a stored record; anything but an object reads as the defaults."""
        return adapter(cls).validate_python(data if isinstance(data, Mapping) else {})
