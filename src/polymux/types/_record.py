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

A record type with ``OmittedWhenNone`` fields gets its ``__init__`` generated here rather than
by ``dataclasses``: the dataclass one stores such a field through the descriptor's
``__set__``, a Python call per field (two for every streamed chunk), where the generated one
writes the instance ``__dict__`` directly, in the same field order. It is made from the
dataclass fields when the first instance is built (``dataclasses`` keeps an ``__init__`` a
class already has: ``Record.__init_subclass__`` puts a stand-in there that builds the real one
once). tests/test_record_init.py pins it to what the dataclass ``__init__`` gives.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Generic, TypeVar, overload

import orjson

__all__ = ["OmittedWhenNone", "Record", "dump", "json_bytes"]

T = TypeVar("T")

#: A parameter's default meaning "call the field's default_factory".
_FACTORY = object()


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
        owner._omitted_descriptors = owner._omitted_descriptors | {name}

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


def _init_source(cls: type[Record]) -> tuple[str, dict[str, Any]]:
    """The source of ``cls.__init__`` and the names it refers to (see the module docstring):
    the dataclass one's parameters and stores, but an ``OmittedWhenNone`` field only when
    it is not None, straight into the instance ``__dict__``."""
    names: dict[str, Any] = {"_FACTORY": _FACTORY}
    positional: list[str] = []
    keywords: list[str] = []
    body: list[str] = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = f.name
        if not f.init or cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
            raise TypeError(
                f"{cls.__qualname__}: a record with OmittedWhenNone fields cannot "
                "be frozen or have init=False fields"
            )
        if f.default is not dataclasses.MISSING:
            names[f"_default_{name}"] = f.default
            param = f"{name}=_default_{name}"
        elif f.default_factory is not dataclasses.MISSING:
            names[f"_factory_{name}"] = f.default_factory
            param = f"{name}=_FACTORY"
            body.append(f"    if {name} is _FACTORY: {name} = _factory_{name}()")
        else:
            param = name
        (keywords if f.kw_only else positional).append(param)
        if name in cls._omitted_descriptors:
            body.append(f"    if {name} is not None: self.__dict__[{name!r}] = {name}")
        else:
            body.append(f"    self.{name} = {name}")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    params = ", ".join(["self", *positional, *(["*", *keywords] if keywords else [])])
    return f"def __init__({params}):\n" + "\n".join(body or ["    pass"]), names


def _generate_init(cls: type[Record]) -> Any:
    source, names = _init_source(cls)
    exec(source, names)  # the code is made from the class's own field names (identifiers)
    init = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    return init


def _init_once(cls: type[Record]) -> Any:
    """A stand-in ``__init__`` that replaces itself with the generated one on first use."""

    def __init__(self: Record, *args: Any, **kwargs: Any) -> None:
        init = _generate_init(cls)
        cls.__init__ = init  # type: ignore[method-assign]
        init(self, *args, **kwargs)

    return __init__


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
    # The ``OmittedWhenNone`` fields among them (a slotted record names its extensions in
    # ``_omit_when_none`` itself and stores them as slots): what the generated __init__ is for.
    _omitted_descriptors: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Runs after the class body's ``__set_name__`` calls, before ``@dataclass``.
        if cls._omitted_descriptors and "__init__" not in cls.__dict__:
            cls.__init__ = _init_once(cls)  # type: ignore[method-assign]

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
