"""orjson serializes the response records natively, and must give exactly what a dump gives.

The gateway sends every answer and every streamed chunk as ``json_bytes(record)`` (orjson
reading the record's ``__dict__`` in C) instead of ``orjson.dumps(record.model_dump())``. The
two must agree byte for byte for every field shape: each record type, each field unset, None,
set, nested records, lists, dicts, text that needs escaping, extension fields set, unset,
set and then cleared, set in any order. And a dump must keep its meaning: every field of the
dataclass, the extension fields only while set.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletion as OpenAIChatCompletion
from openai.types.chat import ChatCompletionChunk as OpenAIChunk

from polymux import AsyncClient
from polymux.testing import ScriptedProvider
from polymux.types import ReasoningDelta, TextDelta, ToolCallDelta, Usage, chat, images
from polymux.types._record import Record, json_bytes

RECORDS: list[type[Record]] = [
    cls
    for module in (chat, images)
    for cls in vars(module).values()
    if isinstance(cls, type) and issubclass(cls, Record) and cls is not Record
]

text = st.text(max_size=12)  # any code point: quotes, backslashes, control chars, emoji
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), text)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)),
    max_leaves=8,
)


def records(depth: int = 0) -> st.SearchStrategy[Record]:
    return st.sampled_from(RECORDS).flatmap(lambda cls: record_of(cls, depth))


def record_of(cls: type[Record], depth: int) -> st.SearchStrategy[Record]:
    """An instance with each field drawn from every shape a field can hold."""
    nested: st.SearchStrategy[Any] = (
        st.one_of(records(depth + 1), st.lists(records(depth + 1), max_size=2))
        if depth < 2
        else st.nothing()
    )
    value = st.one_of(json_values, nested)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    return st.fixed_dictionaries({f.name: value for f in fields}).flatmap(
        lambda values: st.permutations(list(values)).map(lambda order: _build(cls, values, order))
    )


def _build(cls: type[Record], values: dict[str, Any], order: list[str]) -> Record:
    required = {
        f.name: values[f.name]
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    record = cls(**required)
    for name in order:  # the rest set afterwards, in any order, as the fold does
        setattr(record, name, values[name])
    return record


def _expected_dump(record: Record) -> dict[str, Any]:
    """What a dump means, from the dataclass fields (independent of how it is computed)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(record):  # type: ignore[arg-type]
        value = getattr(record, f.name)
        if value is None and f.name in type(record)._omit_when_none:
            continue
        out[f.name] = _expected_value(value)
    return out


def _expected_value(value: Any) -> Any:
    if isinstance(value, Record):
        return _expected_dump(value)
    if isinstance(value, list):
        return [_expected_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _expected_value(v) for k, v in value.items()}
    return value


@settings(max_examples=400, deadline=None)
@given(records())
def test_native_json_equals_the_dump_for_every_field_shape(record: Record) -> None:
    assert json_bytes(record) == orjson.dumps(record.model_dump())
    assert record.model_dump() == _expected_dump(record)
    assert orjson.loads(record.model_dump_json()) == _expected_dump(record)


def test_every_record_type_and_extension_field_is_covered() -> None:
    names = {cls.__name__ for cls in RECORDS}
    assert {"ChatCompletion", "ChatCompletionChunk", "ChoiceDelta", "ImagesResponse"} <= names
    extensions = {(cls.__name__, n) for cls in RECORDS for n in cls._omit_when_none}
    assert ("ChatCompletion", "provider") in extensions
    assert ("ChatCompletionChunk", "provider") in extensions
    assert ("ChatCompletionMessage", "reasoning_content") in extensions
    assert ("ChatCompletionMessage", "parsed") in extensions
    assert ("ChoiceDelta", "reasoning_content") in extensions
    assert ("CompletionUsage", "estimated") in extensions


def test_an_extension_field_cleared_again_leaves_the_json() -> None:
    delta = chat.ChoiceDelta(content="hi", reasoning_content="because")
    assert b'"reasoning_content":"because"' in json_bytes(delta)
    delta.reasoning_content = None
    assert delta.reasoning_content is None
    assert b"reasoning_content" not in json_bytes(delta)
    assert json_bytes(delta) == orjson.dumps(delta.model_dump())


@pytest.mark.parametrize("stream", [False, True])
async def test_what_the_client_builds_serializes_as_its_dump(stream: bool) -> None:
    """The records the fold really builds: text, reasoning, tool calls, usage, estimates."""
    provider = ScriptedProvider(
        [
            ReasoningDelta("thinking"),
            TextDelta('He said "hi" \\ \u00e9\U0001f98a'),
            ToolCallDelta(0, "call_1", "lookup", '{"q": 1}'),
            Usage(3, 4),
        ],
        "plain",
    )
    async with AsyncClient(provider=provider) as client:
        for _ in range(2):  # with the provider's usage, then with an estimate
            if stream:
                created = client.chat.completions.create(
                    messages="hi", stream=True, stream_options={"include_usage": True}
                )
                items: list[Record] = [c async for c in created]
                for item in items:
                    OpenAIChunk.model_validate_json(json_bytes(item))
            else:
                completion = await client.chat.completions.create(messages="hi")
                OpenAIChatCompletion.model_validate_json(json_bytes(completion))
                items = [completion]
            for item in items:
                assert json_bytes(item) == orjson.dumps(item.model_dump())
