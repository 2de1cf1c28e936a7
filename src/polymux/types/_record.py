"""The base of polymux's response objects.

They are dataclasses rather than pydantic models: building one is on the per-chunk streaming
path, and polymux never needs to re-validate data it built itself. They offer the parts of the
pydantic surface that the OpenAI SDK's objects are used through: attribute access,
``model_dump()``, ``model_dump_json()``, ``to_dict()``, ``to_json()``.

The records keep their fields in the instance ``__dict__`` (no slots), and their extension
fields that a dump leaves out while unset are ``OmittedWhenNone`` fields, kept out of that
``__dict__`` while None. orjson serializes such a dataclass from its ``__dict__``
natively, in C, skipping nothing and adding nothing, so ``orjson.dumps(record)`` gives exactly
``orjson.dumps(record.model_dump())`` at a fraction of the cost (``json_bytes``; the gateway
sends every answer and chunk this way; tests/test_record_json.py pins the two equal). For a
slotted dataclass orjson takes a slower path and writes every field, unset extensions included.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Generic, TypeVar, overload

import orjson

__all__ = ["OmittedWhenNone", "Record", "dump", "json_bytes"]

T = TypeVar("T")


def dump(value: Any, exclude_none: bool) -> Any:
    """Plain JSON-ready data from records, lists and dicts of them."""
    if isinstance(value, Record):
        return value.model_dump(exclude_none=exclude_none)
    if isinstance(value, list):
        return [dump(v, exclude_none) for v in value]
    if isinstance(value, dict):
        return {k: dump(v, exclude_none) for k, v in value.items()}
    return value


def json_bytes(record: Record) -> bytes:
    """``record`` as JSON: the bytes of ``orjson.dumps(record.model_dump())``, serialized by
    orjson directly (see the module docstring)."""
    return orjson.dumps(record)


class OmittedWhenNone(Generic[T]):
    """A dataclass field stored in the instance ``__dict__`` only while it is not None.

    Reading it gives None when unset. Its owner's ``_omit_when_none`` names it, so
    ``model_dump()`` leaves it out while None too.
    """

    __slots__ = ("name",)

    def __set_name__(self, owner: type[Record], name: str) -> None:
        self.name = name
        owner._omit_when_none = owner._omit_when_none | {name}

    @overload
    def __get__(self, obj: None, owner: Any) -> None: ...

    @overload
    def __get__(self, obj: object, owner: Any) -> T: ...

    def __get__(self, obj: object | None, owner: Any = None) -> T | None:
        # ``T`` includes None (``OmittedWhenNone[str | None]``): unset reads as None.
        if obj is None:
            return None  # the field's default, as dataclasses asks for it
        return obj.__dict__.get(self.name)

    def __set__(self, obj: object, value: T | None) -> None:
        if value is None:
            obj.__dict__.pop(self.name, None)
        else:
            obj.__dict__[self.name] = value


class Record:
    """Mixin for the ``@dataclass`` response types.

    The chat, image and model records are plain dataclasses (fields in ``__dict__``, see the
    module docstring); a record type declared ``@dataclass(slots=True)`` works too, dumped
    from its fields (``_omit_when_none`` names its extensions) and not natively.
    """

    __slots__ = ()
    # Extension fields (not in the OpenAI schema) that are left out of dumps while unset,
    # so a dump reads like the OpenAI API's own JSON: the OmittedWhenNone fields.
    _omit_when_none: ClassVar[frozenset[str]] = frozenset()

    def model_dump(self, *, exclude_none: bool = False) -> dict[str, Any]:
        if "__slots__" in type(self).__dict__:  # a slotted record
            omit = self._omit_when_none
            out: dict[str, Any] = {}
            for f in dataclasses.fields(self):  # type: ignore[arg-type]
                value = getattr(self, f.name)
                if value is None and (exclude_none or f.name in omit):
                    continue
                out[f.name] = dump(value, exclude_none)
            return out
        # The instance __dict__ holds exactly the fields a dump shows, in field order (an
        # OmittedWhenNone field is absent while None): what orjson serializes natively too.
        return {
            name: dump(value, exclude_none)
            for name, value in self.__dict__.items()
            if not (exclude_none and value is None)
        }

    def model_dump_json(self, *, exclude_none: bool = False, indent: int | None = None) -> str:
        option = orjson.OPT_INDENT_2 if indent else 0
        native = not exclude_none and "__slots__" not in type(self).__dict__
        data = self if native else self.model_dump(exclude_none=exclude_none)
        return orjson.dumps(data, option=option).decode()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    def to_json(self, *, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent)
