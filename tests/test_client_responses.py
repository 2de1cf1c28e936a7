"""``client.responses`` against every provider fake (the conformance targets): text,
streaming as semantic events, instructions, images in, a two-turn tool loop through
``previous_response_id``, structured output with ``parse``, the store, and errors. Every
object and event is validated with the official ``openai.types.responses``."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pydantic
import pytest
from openai.types.responses import Response as OpenAIResponse
from openai.types.responses import ResponseStreamEvent as OpenAIEvent

from polymux import AsyncClient, Client
from polymux.client.responses import MemoryResponseStore
from polymux.client.sync_responses import ResponseStream
from polymux.errors import InvalidRequestError, NotFoundError, UnsupportedCapabilityError
from polymux.providers.anthropic import Anthropic
from polymux.providers.gemini import Gemini
from polymux.providers.openai import OpenAI
from polymux.providers.registry import load_provider_class
from polymux.types.responses import Response

from .cli_support import ThreadedFakeServer
from .fakes import FakeServer
from .fakes import anthropic as fa
from .fakes import gemini as fg
from .fakes import openai as fo
from .fakes.brain import SAMPLE_STRING
from .fakes.server import json, sse, sse_data
from .support import WEATHER as CHAT_WEATHER
from .test_conformance import TARGETS, Target

PNG = b"\x89PNG\r\n\x1a\n" + b"\x07" * 40
EVENT = pydantic.TypeAdapter(OpenAIEvent)
#: The chat tests' weather tool in the Responses shape.
WEATHER = {"type": "function", **CHAT_WEATHER["function"]}


class City(pydantic.BaseModel):
    city: str


@pytest.fixture(params=TARGETS, ids=[t.name for t in TARGETS])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[AsyncClient]:
    target: Target = request.param
    async with FakeServer() as server:
        for path in target.chat_paths:
            server.script("POST", path, target.action())
        async with AsyncClient(provider=target.make(server), max_retries=0, timeout=10) as c:
            yield c


def valid(response: Any) -> Any:
    OpenAIResponse.model_validate(response.model_dump())
    return response


async def events_of(stream: Any) -> list[Any]:
    events = [e async for e in await stream]
    for event in events:
        EVENT.validate_python(event.model_dump())
    assert [e.sequence_number for e in events] == list(range(len(events)))
    return events


# -- every provider ----------------------------------------------------------------------------
async def test_text_with_instructions(client: AsyncClient) -> None:
    response = valid(await client.responses.create(input="hi", instructions="Be brief"))
    assert response.output_text == "echo: hi | system: Be brief | turns: 1"
    assert response.status == "completed" and response.instructions == "Be brief"
    assert response.usage.output_tokens > 0 and response.usage.total_tokens > 0
    assert response.id.startswith("resp_") and response.output[0].id.startswith("msg_")


async def test_streamed_semantic_events(client: AsyncClient) -> None:
    events = await events_of(client.responses.create(input="hello there", stream=True))
    kinds = [e.type for e in events]
    assert kinds[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "echo: hello there | turns: 1"
    final = events[-1].response
    assert valid(final).output_text == text and final.usage.input_tokens > 0
    assert events[0].response.status == "in_progress" and events[0].response.output == []


async def test_image_input(client: AsyncClient) -> None:
    provider = client.providers[0]
    if not provider.capabilities_for(provider.resolve_model("")).vision:
        pytest.skip(f"{provider.name}'s default model declares no image input")
    image = "data:image/png;base64," + base64.b64encode(PNG).decode()
    response = await client.responses.create(
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "see"},
                    {"type": "input_image", "image_url": image},
                ],
            }
        ]
    )
    assert response.output_text == f"echo: see | images: image/png:{len(PNG)} | turns: 1"


@pytest.mark.parametrize("streamed", [False, True])
async def test_tool_loop_through_previous_response_id(client: AsyncClient, streamed: bool) -> None:
    if streamed:
        stream = client.responses.create(input="weather in Paris?", tools=[WEATHER], stream=True)
        events = await events_of(stream)
        first = events[-1].response
        deltas = [e for e in events if e.type == "response.function_call_arguments.delta"]
        assert deltas and "".join(d.delta for d in deltas) == first.output[-1].arguments
    else:
        first = await client.responses.create(input="weather in Paris?", tools=[WEATHER])
    valid(first)
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and call.arguments.replace(" ", "") == '{"city":"Paris"}'
    second = await client.responses.create(
        previous_response_id=first.id,
        tools=[WEATHER],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "18C"}],
    )
    assert second.output_text == "tool said: 18C"
    assert second.previous_response_id == first.id


async def test_parse_structured_output(client: AsyncClient) -> None:
    response = valid(await client.responses.parse(input="where?", text_format=City))
    assert response.output_parsed == City(city=SAMPLE_STRING)


async def test_multi_turn_through_previous_response_id(client: AsyncClient) -> None:
    first = await client.responses.create(input="my name is Ada")
    second = await client.responses.create(input="and me?", previous_response_id=first.id)
    assert second.output_text == "echo: and me? | turns: 2"


# -- the store ---------------------------------------------------------------------------------
@pytest.fixture
async def openai_fake() -> AsyncIterator[tuple[FakeServer, AsyncClient]]:
    async with FakeServer() as server:
        server.script("POST", fo.CHAT, fo.reply("ok"))
        async with AsyncClient(base_url=server.url("/v1"), api_key="k", max_retries=0) as c:
            yield server, c


async def test_retrieve_delete_and_input_items(
    openai_fake: tuple[FakeServer, AsyncClient],
) -> None:
    _, client = openai_fake
    response = await client.responses.create(
        input=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
        metadata={"k": "v"},
    )
    assert (await client.responses.retrieve(response.id)).model_dump() == response.model_dump()
    items = await client.responses.input_items.list(response.id)
    assert [i["content"][0]["text"] for i in items.data] == ["b", "a"]  # newest first
    assert items.first_id == items.data[0]["id"] and items.object == "list"
    await client.responses.delete(response.id)
    with pytest.raises(NotFoundError):
        await client.responses.retrieve(response.id)
    with pytest.raises(InvalidRequestError, match="names no stored response"):
        await client.responses.create(input="x", previous_response_id=response.id)


async def test_store_false_and_the_bound(openai_fake: tuple[FakeServer, AsyncClient]) -> None:
    _, client = openai_fake
    unstored = await client.responses.create(input="x", store=False)
    assert unstored.store is False
    with pytest.raises(NotFoundError):
        await client.responses.retrieve(unstored.id)
    small = client.responses.with_store(MemoryResponseStore(max_responses=2))
    ids = [(await small.create(input=str(i))).id for i in range(3)]
    with pytest.raises(NotFoundError):
        await small.retrieve(ids[0])  # the oldest went first
    assert (await small.retrieve(ids[2])).id == ids[2]


async def test_reasoning_streams_as_a_summary(openai_fake: tuple[FakeServer, AsyncClient]) -> None:
    server, client = openai_fake
    server.script(
        "POST",
        fo.CHAT,
        sse_data(
            [
                fo.chunk({"role": "assistant", "reasoning_content": "Think"}),
                fo.chunk({"content": "42"}),
                fo.chunk({}, "length"),
            ]
        ),
    )
    events = await events_of(
        client.responses.create(input="q", stream=True, reasoning={"effort": "low"})
    )
    kinds = [e.type for e in events]
    assert "response.reasoning_summary_text.delta" in kinds
    final = events[-1]
    assert final.type == "response.incomplete"
    assert final.response.incomplete_details.reason == "max_output_tokens"
    assert [i.type for i in final.response.output] == ["reasoning", "message"]
    assert server.requests[-1].json["reasoning_effort"] == "low"


# -- errors ------------------------------------------------------------------------------------
async def test_failure_mid_stream_is_response_failed(
    openai_fake: tuple[FakeServer, AsyncClient],
) -> None:
    server, client = openai_fake
    server.script("POST", fo.CHAT, sse_data([fo.chunk({"content": "pa"})] * 2, reset_after=1))
    events = await events_of(client.responses.create(input="q", stream=True))
    assert events[-1].type == "response.failed"
    assert events[-1].response.error.code == "server_error"
    assert events[-1].response.output_text == "pa"


async def test_bad_requests_are_refused_before_sending(
    openai_fake: tuple[FakeServer, AsyncClient],
) -> None:
    server, client = openai_fake
    with pytest.raises(UnsupportedCapabilityError, match="built-in 'file_search'"):
        client.responses.create(input="x", tools=[{"type": "file_search"}])
    with pytest.raises(UnsupportedCapabilityError, match="openai-compatible has none"):
        client.responses.create(input="x", tools=[{"type": "web_search"}])
    with pytest.raises(InvalidRequestError, match="input must be a string"):
        client.responses.create(input=[])
    with pytest.raises(InvalidRequestError, match="unknown parameter"):
        client.responses.create(input="x", frobnicate=True)
    with pytest.raises(InvalidRequestError, match="file_id is not served"):
        client.responses.create(
            input=[{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]
        )
    assert not server.requests


def test_sync_client_responses() -> None:
    fake = ThreadedFakeServer()
    fake.smart_chat()
    try:
        with Client(base_url=fake.server.url("/v1"), api_key="k", max_retries=0) as client:
            response = client.responses.create(input="hello")
            assert isinstance(response, Response)
            assert response.output_text == "echo: hello | turns: 1"
            with client.responses.create(input="again", stream=True) as stream:
                assert isinstance(stream, ResponseStream)
                kinds = [e.type for e in stream]
            assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
            assert client.responses.retrieve(response.id).id == response.id
            assert client.responses.input_items.list(response.id).data[0]["type"] == "message"
            client.responses.delete(response.id)
            with pytest.raises(NotFoundError):
                client.responses.retrieve(response.id)
    finally:
        fake.close()


# -- OpenAI itself: its own Responses API --------------------------------------------------------
NATIVE = fo.responses_object("resp_n1")


@pytest.fixture
async def openai_native() -> AsyncIterator[tuple[FakeServer, AsyncClient]]:
    async with FakeServer() as server:
        server.script("POST", "/v1/responses", json(200, NATIVE))
        provider = OpenAI(api_key="sk-up", base_url=server.url("/v1"))
        async with AsyncClient(provider=provider, max_retries=0) as client:
            yield server, client


async def test_openai_itself_gets_its_own_responses_api(
    openai_native: tuple[FakeServer, AsyncClient],
) -> None:
    server, client = openai_native
    response = await client.responses.create(
        model="gpt-5", input="weather?", tools=[{"type": "web_search"}], include=["x"]
    )
    assert server.requests[0].json == {
        "model": "gpt-5",
        "input": "weather?",
        "tools": [{"type": "web_search"}],
        "include": ["x"],
    }
    assert response.output_text == "Sunny." and response.provider == "openai"
    assert response.output[0].type == "web_search_call" and response.output[0].id == "ws_1"
    valid(response)

    server.script("GET", "/v1/responses/resp_n1", json(200, NATIVE))
    server.script(
        "GET",
        "/v1/responses/resp_n1/input_items",
        json(200, {"object": "list", "data": [{"id": "m", "type": "message"}], "has_more": False}),
    )
    server.script("DELETE", "/v1/responses/resp_n1", json(200, {"deleted": True}))
    assert (await client.responses.retrieve("resp_n1")).output_text == "Sunny."
    items = await client.responses.input_items.list("resp_n1", order="asc")
    assert items.data == [{"id": "m", "type": "message"}]
    assert server.requests[-1].query == {"order": "asc"}
    await client.responses.delete("resp_n1")
    assert [r.method for r in server.requests] == ["POST", "GET", "GET", "DELETE"]


async def test_openai_itself_streams_its_own_events(
    openai_native: tuple[FakeServer, AsyncClient],
) -> None:
    server, client = openai_native
    events = [
        {"type": "response.created", "sequence_number": 0, "response": {**NATIVE, "output": []}},
        {
            "type": "response.output_item.added",
            "sequence_number": 1,
            "output_index": 0,
            "item": NATIVE["output"][0],
        },
        {"type": "response.completed", "sequence_number": 2, "response": NATIVE},
    ]
    server.script("POST", "/v1/responses", sse([(e["type"], e) for e in events]))
    got = await events_of(client.responses.create(model="gpt-5", input="x", stream=True))
    assert [e.type for e in got] == [e["type"] for e in events]
    assert got[1].item.type == "web_search_call"
    assert got[-1].response.output_text == "Sunny."
    assert server.requests[0].json["stream"] is True


# -- built-in web_search: the provider's own search ---------------------------------------------
SEARCH = {
    "type": "web_search",
    "search_context_size": "low",
    "user_location": {"type": "approximate", "city": "Paris", "country": "FR"},
}


async def test_web_search_becomes_anthropics_server_tool(server: FakeServer) -> None:
    server.script("POST", fa.MESSAGES, fa.reply("Sunny in Paris."))
    provider = Anthropic(api_key="k", base_url=server.url())
    async with AsyncClient(provider=provider, max_retries=0) as client:
        response = await client.responses.create(input="weather?", tools=[SEARCH, WEATHER])
    assert response.output_text == "Sunny in Paris."
    body = server.requests[0].json
    assert body["tools"][-1] == {
        "type": "web_search_20250305",
        "name": "web_search",
        "user_location": {"type": "approximate", "city": "Paris", "country": "FR"},
    }
    assert body["tools"][0]["name"] == "get_weather" and "web_search_options" not in body


async def test_web_search_becomes_geminis_google_search(server: FakeServer) -> None:
    server.script("POST", fg.generate_path(), json(200, fg.response([{"text": "Sunny."}])))
    provider = Gemini(api_key="k", base_url=server.url("/v1beta"))
    async with AsyncClient(provider=provider, max_retries=0) as client:
        response = await client.responses.create(input="weather?", tools=[SEARCH])
    assert response.output_text == "Sunny."
    body = server.requests[0].json
    assert body["tools"] == [{"google_search": {}}] and "web_search_options" not in body


async def test_web_search_reaches_perplexity_as_web_search_options(server: FakeServer) -> None:
    server.script("POST", "/chat/completions", fo.reply("Sunny."))
    provider = load_provider_class("perplexity")(api_key="k", base_url=server.url())
    async with AsyncClient(provider=provider, max_retries=0) as client:
        await client.responses.create(input="weather?", tools=[SEARCH])
    assert server.requests[0].json["web_search_options"] == {
        "search_context_size": "low",
        "user_location": {"type": "approximate", "approximate": {"city": "Paris", "country": "FR"}},
    }
