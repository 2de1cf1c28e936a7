"""Records with ``OmittedWhenNone`` fields build through a generated ``__init__``
(types/_record.py), which must do exactly what the dataclass ``__init__`` it replaces does:
take the same parameters (names, kinds, defaults, factories), refuse the same calls, and
leave the same instance ``__dict__``, in the same order, as assigning every field in turn
through its descriptor (what the dataclass ``__init__`` does). The gateway serializes that
``__dict__`` as it is, so a difference in order or in an omitted field would change the JSON
every client reads.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polymux.types import audio, chat, completions, embeddings, images, moderations, responses
from polymux.types._record import OmittedWhenNone, Record, _init_source

#: Every record type whose ``__init__`` is generated (a record with an extension field).
GENERATED: list[type[Record]] = [
    cls
    for module in (chat, images, responses, embeddings, completions, moderations, audio)
    for cls in vars(module).values()
    if isinstance(cls, type) and issubclass(cls, Record) and cls._omitted_descriptors
]


ABSENT = object()


def test_the_records_of_the_streaming_path_are_generated() -> None:
    assert {chat.ChatCompletionChunk, chat.ChoiceDelta, chat.ChatCompletion} <= set(GENERATED)
    assert chat.ChunkChoice not in GENERATED  # no extension field: the dataclass __init__


def test_slotted_records_keep_the_dataclass_init() -> None:
    for cls in (responses.ResponseOutputText, embeddings.CreateEmbeddingResponse):
        assert cls._omit_when_none and "__slots__" in cls.__dict__ and cls not in GENERATED
    text = responses.ResponseOutputText(text="hi")
    assert text.logprobs is None and text.parsed is None  # slots set by the dataclass init
    assert text.model_dump() == {"text": "hi", "annotations": [], "type": "output_text"}
    assert responses.ResponseOutputText(text="hi", logprobs=[]).model_dump()["logprobs"] == []


def _reference(cls: type[Record], given: dict[str, Any]) -> Record:
    """What the dataclass ``__init__`` does: every field assigned in order, through the
    class's descriptors, from the argument or the field's default or factory."""
    obj = object.__new__(cls)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in given:
            value = given[f.name]
        elif f.default is not dataclasses.MISSING:
            value = f.default
        else:
            value = f.default_factory()  # type: ignore[operator]
        setattr(obj, f.name, value)
    return obj


def _arguments(cls: type[Record]) -> st.SearchStrategy[dict[str, Any]]:
    """For each field: left out (when it has a default), None, or a value."""
    choices = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        optional = f.default is not dataclasses.MISSING or (
            f.default_factory is not dataclasses.MISSING
        )
        shapes = [st.none(), st.text(max_size=3), st.integers(0, 9)]
        choices[f.name] = st.one_of(st.just(ABSENT), *shapes) if optional else st.one_of(*shapes)
    return st.fixed_dictionaries(choices).map(
        lambda d: {k: v for k, v in d.items() if v is not ABSENT}
    )


@pytest.mark.parametrize("cls", GENERATED, ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_generated_init_leaves_what_the_dataclass_init_leaves(
    cls: type[Record], data: st.DataObject
) -> None:
    kwargs = data.draw(_arguments(cls))
    built = cls(**kwargs)
    expected = _reference(cls, kwargs)
    assert list(built.__dict__.items()) == list(expected.__dict__.items())
    for name in cls._omit_when_none:
        assert getattr(built, name) == kwargs.get(name)  # unset reads as None


@pytest.mark.parametrize("cls", GENERATED, ids=lambda c: c.__name__)
def test_generated_init_takes_the_dataclass_parameters(cls: type[Record]) -> None:
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    plain = dataclasses.make_dataclass(  # the same fields, the dataclass __init__
        "Plain",
        [
            (f.name, Any, dataclasses.field(default=f.default, default_factory=f.default_factory))
            for f in fields
        ],
        kw_only=True,
    )
    cls(**{f.name: None for f in fields})  # the first instance puts the generated one in place
    assert "_init_once" not in cls.__init__.__qualname__
    ours, theirs = inspect.signature(cls), inspect.signature(plain)
    assert [(p.name, p.kind) for p in ours.parameters.values()] == [
        (p.name, p.kind) for p in theirs.parameters.values()
    ]
    for f in fields:
        if f.default is not dataclasses.MISSING:
            assert ours.parameters[f.name].default == f.default
    required = [f.name for f in fields if f.default is dataclasses.MISSING]
    required = [n for n in required if ours.parameters[n].default is inspect.Parameter.empty]
    if required:
        with pytest.raises(TypeError, match=required[0]):
            cls()
    build: Any = cls
    with pytest.raises(TypeError):
        build(**{f.name: None for f in fields}, not_a_field=1)
    with pytest.raises(TypeError):
        build(None)  # keyword-only, as declared


def test_a_factory_gives_each_instance_its_own_value() -> None:
    a, b = images.ImagesResponse(created=1), images.ImagesResponse(created=1)
    assert a.data == [] and a.data is not b.data
    assert list(a.__dict__) == ["created", "data"]


def test_post_init_runs_and_frozen_records_are_refused() -> None:
    @dataclasses.dataclass(kw_only=True)
    class Checked(Record):
        name: str
        note: OmittedWhenNone[str | None] = OmittedWhenNone()

        def __post_init__(self) -> None:
            self.name = self.name.upper()

    assert Checked(name="a", note="n").__dict__ == {"name": "A", "note": "n"}
    assert Checked(name="a").__dict__ == {"name": "A"}

    @dataclasses.dataclass(kw_only=True, frozen=True)
    class Frozen(Record):
        note: OmittedWhenNone[str | None] = OmittedWhenNone()

    with pytest.raises(TypeError, match="frozen"):
        _init_source(Frozen)
