"""The base of polymux's response objects.

They are slotted dataclasses rather than pydantic models: building one is on the per-chunk
streaming path, and polymux never needs to re-validate data it built itself. They offer the
parts of the pydantic surface that the OpenAI SDK's objects are used through: attribute access,
``model_dump()``, ``model_dump_json()``, ``to_dict()``, ``to_json()``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import orjson

__all__ = ["Record", "dump"]


def dump(value: Any, exclude_none: bool) -> Any:
    """Plain JSON-ready data from records, lists and dicts of them."""
    if isinstance(value, Record):
        return value.model_dump(exclude_none=exclude_none)
    if isinstance(value, list):
        return [dump(v, exclude_none) for v in value]
    if isinstance(value, dict):
        return {k: dump(v, exclude_none) for k, v in value.items()}
    return value


class Record:
    """Mixin for ``@dataclass(slots=True)`` response types."""

    __slots__ = ()
    # Extension fields (not in the OpenAI schema) that are left out of dumps while unset,
    # so a dump reads like the OpenAI API's own JSON.
    _omit_when_none: ClassVar[frozenset[str]] = frozenset()

    def model_dump(self, *, exclude_none: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        omit = self._omit_when_none
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None and (exclude_none or f.name in omit):
                continue
            out[f.name] = dump(value, exclude_none)
        return out

    def model_dump_json(self, *, exclude_none: bool = False, indent: int | None = None) -> str:
        option = orjson.OPT_INDENT_2 if indent else 0
        return orjson.dumps(self.model_dump(exclude_none=exclude_none), option=option).decode()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    def to_json(self, *, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent)
