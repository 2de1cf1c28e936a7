"""Structured output: chat.completions.parse(response_format=PydanticModel) on both clients."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from openai.types.chat import ChatCompletion as OpenAICompletion
from pydantic import BaseModel

from polymux import (
    APIResponseValidationError,
    AsyncClient,
    Client,
    InvalidRequestError,
    StructuredOutputError,
)
from polymux.providers.ollama import Ollama
from polymux.structured import json_schema_format, strict_schema
from polymux.testing import ScriptedProvider
from polymux.types import Finish, RefusalDelta
from tests.fakes import FakeServer
from tests.fakes.brain import SAMPLE_INTEGER, SAMPLE_STRING
from tests.fakes.ollama import CHAT as OLLAMA_CHAT
from tests.fakes.ollama import smart_chat as ollama_chat
from tests.fakes.pollinations import smart_chat as openai_chat


class Address(BaseModel):
    city: str
    zip_code: str | None = None


class Person(BaseModel):
    name: str
    age: int
    address: Address
    tags: list[str] = []


def test_strict_schema_closes_objects_and_requires_every_property() -> None:
    schema = strict_schema(Person.model_json_schema())
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["name", "age", "address", "tags"]
    address = schema["$defs"]["Address"]
    assert address["additionalProperties"] is False
    assert address["required"] == ["city", "zip_code"]
    assert "default" not in address["properties"]["zip_code"]
    assert {"type": "null"} in address["properties"]["zip_code"]["anyOf"]  # still optional
    assert "default" not in schema["properties"]["tags"]
    # Free-form maps keep their value schema.
    assert strict_schema({"type": "object", "additionalProperties": {"type": "integer"}}) == {
        "type": "object",
        "additionalProperties": {"type": "integer"},
    }
    assert Person.model_json_schema()["required"] == ["name", "age", "address"]  # not mutated
    fmt = json_schema_format(Person, strict=True)["json_schema"]
    assert fmt["name"] == "Person" and fmt["strict"] is True


async def test_parse_over_openai_compatible_sends_a_strict_schema_and_validates() -> None:
    async with FakeServer() as server:
        server.script("POST", "/v1/chat/completions", openai_chat())
        async with AsyncClient(base_url=server.url("/v1"), api_key="k") as client:
            completion = await client.chat.completions.parse(
                model="gpt-4o-mini", messages="who?", response_format=Person, temperature=0
            )
        parsed = completion.choices[0].message.parsed
        assert isinstance(parsed, Person)
        assert parsed.address.city == SAMPLE_STRING and parsed.age == SAMPLE_INTEGER
        sent = server.requests[0].json["response_format"]
        assert sent["type"] == "json_schema" and sent["json_schema"]["strict"] is True
        assert sent["json_schema"]["schema"]["additionalProperties"] is False
        dumped = completion.model_dump()
        OpenAICompletion.model_validate(dumped)
        assert dumped["choices"][0]["message"]["parsed"] == parsed


async def test_parse_over_ollama_sends_the_schema_as_format() -> None:
    async with FakeServer() as server:
        server.script("POST", OLLAMA_CHAT, ollama_chat())
        async with AsyncClient(provider=Ollama(base_url=server.url())) as client:
            completion = await client.chat.completions.parse(
                model="llama3.2", messages="who?", response_format=Address
            )
        assert completion.choices[0].message.parsed == Address(city=SAMPLE_STRING, zip_code="Paris")
        assert server.requests[0].json["format"]["required"] == ["city", "zip_code"]


async def test_invalid_answer_raises_with_the_raw_text() -> None:
    client = AsyncClient(provider=ScriptedProvider('{"name": "Ada", "age": "old"}'))
    with pytest.raises(StructuredOutputError) as info:
        await client.chat.completions.parse(messages="who?", response_format=Person)
    error = info.value
    assert isinstance(error, APIResponseValidationError)
    assert error.raw == '{"name": "Ada", "age": "old"}'
    assert error.provider == "scripted"
    assert {e["loc"][0] for e in error.errors} >= {"age", "address"}  # type: ignore[attr-defined]
    assert "Person" in str(error)


async def test_non_json_and_cut_short_answers_raise() -> None:
    client = AsyncClient(
        provider=ScriptedProvider("Sure! Here is the JSON:", ['{"city": "Par', Finish("length")])
    )
    with pytest.raises(StructuredOutputError, match="Address") as info:
        await client.chat.completions.parse(messages="x", response_format=Address)
    assert info.value.raw == "Sure! Here is the JSON:"
    with pytest.raises(StructuredOutputError, match="cut short") as info:
        await client.chat.completions.parse(messages="x", response_format=Address)
    assert info.value.finish_reason == "length" and info.value.raw == '{"city": "Par'


async def test_refusal_leaves_parsed_none() -> None:
    client = AsyncClient(provider=ScriptedProvider([RefusalDelta("I can't help with that.")]))
    completion = await client.chat.completions.parse(messages="x", response_format=Address)
    message = completion.choices[0].message
    assert message.parsed is None and message.refusal == "I can't help with that."


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"response_format": {"type": "json_object"}}, "pydantic model class"),
        ({"response_format": Address, "stream": True}, "does not stream"),
    ],
)
async def test_bad_parse_input_fails_before_any_call(kwargs: dict[str, Any], match: str) -> None:
    provider = ScriptedProvider("{}")
    with pytest.raises(InvalidRequestError, match=match):
        await AsyncClient(provider=provider).chat.completions.parse(messages="x", **kwargs)
    assert provider.requests == []


def test_sync_client_parse() -> None:
    with Client(provider=ScriptedProvider('{"city": "Oslo"}')) as client:
        completion = client.chat.completions.parse(messages="x", response_format=Address)
    assert completion.choices[0].message.parsed == Address(city="Oslo")


def test_sync_client_parse_inside_a_running_loop() -> None:
    async def main() -> Any:
        with Client(provider=ScriptedProvider('{"city": "Rome"}')) as client:
            return client.chat.completions.parse(messages="x", response_format=Address)

    assert asyncio.run(main()).choices[0].message.parsed == Address(city="Rome")
