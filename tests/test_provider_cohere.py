"""Cohere's v2 Chat API against a fake on 127.0.0.1 speaking its wire format: the request
body, whole answers (thinking, tool plans, tool calls, citations), the typed stream events in
tiny pieces, finish reasons, usage and errors."""

from __future__ import annotations

import json as jsonlib
from typing import Any

import pytest
from openai.types.chat import ChatCompletion as OpenAIChatCompletion

from polymux import AsyncClient
from polymux.errors import APIError, APIResponseValidationError, RateLimitError

from .fakes import FakeServer, json, stream_bytes
from .support import WEATHER, read_chunks

KEY = "co-test-key"
PATH = "/v2/chat"


def client_for(server: FakeServer, **kwargs: Any) -> AsyncClient:
    return AsyncClient(
        provider="cohere", api_key=KEY, base_url=server.url(), max_retries=0, **kwargs
    )


def events(*items: dict[str, Any], named: bool = True) -> list[bytes]:
    """Cohere's stream: each event's JSON carries its type (and an ``event:`` line repeats
    it), split into 5-byte pieces."""
    raw = b"".join(
        (f"event: {item['type']}\n" if named else "").encode()
        + f"data: {jsonlib.dumps(item)}\n\n".encode()
        for item in items
    )
    return [raw[i : i + 5] for i in range(0, len(raw), 5)]


USAGE = {
    "billed_units": {"input_tokens": 9, "output_tokens": 4},
    "tokens": {"input_tokens": 220, "output_tokens": 4},
}


# -- requests ----------------------------------------------------------------------------------
async def test_request_body_translates_messages_tools_and_parameters(server: FakeServer) -> None:
    answer = {
        "id": "c-1",
        "finish_reason": "COMPLETE",
        "message": {"role": "assistant", "content": [{"type": "text", "text": "Sunny."}]},
        "usage": USAGE,
    }
    server.script("POST", PATH, json(200, answer))
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}  # fmt: skip
    schema = {"type": "object", "properties": {"summary": {"type": "string"}}}
    async with client_for(server) as client:
        await client.chat.completions.create(
            model="command-a-03-2025",
            messages=[
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": "I will look it up.", "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"},
            ],
            tools=[WEATHER],
            tool_choice="required",
            top_p=0.9,
            temperature=0.3,
            max_tokens=200,
            stop=["END"],
            seed=7,
            reasoning_effort="low",
            response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}},
        )
    sent = server.requests[0]
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.json == {
        "model": "command-a-03-2025",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "tool_plan": "I will look it up.", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"},
        ],
        "temperature": 0.3,
        "p": 0.9,
        "seed": 7,
        "max_tokens": 200,
        "stop_sequences": ["END"],
        "tools": [WEATHER],
        "tool_choice": "REQUIRED",
        "response_format": {"type": "json_object", "json_schema": schema},
        "thinking": {"type": "enabled", "token_budget": 2048},
    }


async def test_a_named_tool_choice_offers_only_that_tool_and_requires_it(
    server: FakeServer,
) -> None:
    other = {"type": "function", "function": {"name": "get_time", "parameters": {}}}
    answer = {"id": "c", "finish_reason": "COMPLETE", "message": {"content": []}}
    server.script("POST", PATH, json(200, answer))
    async with client_for(server) as client:
        await client.chat.completions.create(
            model="command-a-03-2025",
            messages="time?",
            tools=[WEATHER, other],
            tool_choice={"type": "function", "function": {"name": "get_time"}},
        )
    body = server.requests[0].json
    assert (body["tools"], body["tool_choice"]) == ([other], "REQUIRED")


# -- whole answers -----------------------------------------------------------------------------
async def test_a_whole_answer_with_thinking_citations_and_usage(server: FakeServer) -> None:
    answer = {
        "id": "c-2",
        "finish_reason": "COMPLETE",
        "message": {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "The document says 21C."},
                {"type": "text", "text": "It is 21C in Paris."},
            ],
            "citations": [
                {
                    "start": 9,
                    "end": 12,
                    "text": "21C",
                    "type": "TEXT_CONTENT",
                    "sources": [{"type": "document", "id": "doc:0", "document": {"t": "21C"}}],
                }
            ],
        },
        "usage": USAGE,
    }
    server.script("POST", PATH, json(200, answer))
    async with client_for(server) as client:
        result = await client.chat.completions.create(
            model="command-a-reasoning-08-2025", messages="Paris?"
        )
    OpenAIChatCompletion.model_validate(result.model_dump())
    message = result.choices[0].message
    assert (message.content, message.reasoning_content) == (
        "It is 21C in Paris.",
        "The document says 21C.",
    )
    assert result.id == "c-2" and result.choices[0].finish_reason == "stop"
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (220, 4)


async def test_a_whole_answer_with_a_tool_plan_and_tool_calls(server: FakeServer) -> None:
    answer = {
        "id": "c-3",
        "finish_reason": "TOOL_CALL",
        "message": {
            "role": "assistant",
            "tool_plan": "I will check the weather.",
            "tool_calls": [
                {
                    "id": "get_weather_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Madrid"}'},
                },
                {
                    "id": "get_weather_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Lima"}'},
                },
            ],
        },
        "usage": {"billed_units": {"input_tokens": 30, "output_tokens": 20}},
    }
    server.script("POST", PATH, json(200, answer))
    async with client_for(server) as client:
        result = await client.chat.completions.create(
            model="command-a-03-2025", messages="Madrid and Lima?", tools=[WEATHER]
        )
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.reasoning_content == "I will check the weather."
    calls = [(c.id, jsonlib.loads(c.function.arguments)) for c in choice.message.tool_calls or ()]
    assert calls == [("get_weather_1", {"city": "Madrid"}), ("get_weather_2", {"city": "Lima"})]
    assert result.usage is not None and result.usage.prompt_tokens == 30  # billed units


# -- streams -----------------------------------------------------------------------------------
TEXT_STREAM = events(
    {"type": "message-start", "id": "s-1",
     "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "",
                           "tool_calls": [], "citations": []}}},
    {"type": "content-start", "index": 0,
     "delta": {"message": {"content": {"type": "thinking", "thinking": ""}}}},
    {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"thinking": "Hm, "}}}},
    {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"thinking": "ok."}}}},
    {"type": "content-end", "index": 0},
    {"type": "content-start", "index": 1,
     "delta": {"message": {"content": {"type": "text", "text": ""}}}},
    {"type": "content-delta", "index": 1, "delta": {"message": {"content": {"text": "Bonjour"}}}},
    {"type": "content-delta", "index": 1, "delta": {"message": {"content": {"text": " ☀️"}}}},
    {"type": "citation-start", "index": 0,
     "delta": {"message": {"citations": {"start": 0, "end": 7, "text": "Bonjour",
                                         "sources": []}}}},
    {"type": "citation-end", "index": 0},
    {"type": "content-end", "index": 1},
    {"type": "message-end", "delta": {"finish_reason": "MAX_TOKENS", "usage": USAGE}},
)  # fmt: skip


@pytest.mark.parametrize("named", [True, False])
async def test_a_stream_in_tiny_pieces(server: FakeServer, named: bool) -> None:
    pieces = TEXT_STREAM if named else events(*map(jsonlib.loads, _datas(TEXT_STREAM)), named=False)
    server.script("POST", PATH, stream_bytes(pieces))
    async with client_for(server) as client:
        stream = client.chat.completions.create(
            model="command-a-reasoning-08-2025",
            messages="Say hello",
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = await read_chunks(stream)
    assert server.requests[0].json["stream"] is True
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reasoning = "".join(c.choices[0].delta.reasoning_content or "" for c in chunks if c.choices)
    assert (text, reasoning) == ("Bonjour ☀️", "Hm, ok.")
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 224
    assert {c.id for c in chunks} == {"s-1"}


def _datas(pieces: list[bytes]) -> list[str]:
    raw = b"".join(pieces).decode()
    return [line[6:] for line in raw.split("\n") if line.startswith("data: ")]


async def test_a_streamed_tool_plan_and_parallel_tool_calls(server: FakeServer) -> None:
    def start(index: int, call_id: str) -> dict[str, Any]:
        call = {"id": call_id, "type": "function",
                "function": {"name": "get_weather", "arguments": ""}}  # fmt: skip
        return {"type": "tool-call-start", "index": index,
                "delta": {"message": {"tool_calls": call}}}  # fmt: skip

    def args(index: int, piece: str) -> dict[str, Any]:
        delta = {"message": {"tool_calls": {"function": {"arguments": piece}}}}
        return {"type": "tool-call-delta", "index": index, "delta": delta}

    pieces = events(
        {"type": "message-start", "id": "s-2", "delta": {"message": {"role": "assistant"}}},
        {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "I will "}}},
        {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "look."}}},
        start(0, "w_1"), args(0, '{"city":'), args(0, ' "Madrid"}'),
        {"type": "tool-call-end", "index": 0},
        start(1, "w_2"), args(1, '{"city": "Lima"}'),
        {"type": "tool-call-end", "index": 1},
        {"type": "message-end", "delta": {"finish_reason": "TOOL_CALL", "usage": USAGE}},
    )  # fmt: skip
    server.script("POST", PATH, stream_bytes(pieces))
    async with client_for(server) as client:
        stream = client.chat.completions.create(
            model="command-a-03-2025", messages="weather?", tools=[WEATHER], stream=True
        )
        chunks = await read_chunks(stream)
    calls: dict[int, list[str]] = {}
    for chunk in chunks:
        for delta in (chunk.choices[0].delta.tool_calls or ()) if chunk.choices else ():
            entry = calls.setdefault(delta.index, ["", ""])
            entry[0] = entry[0] or delta.id or ""
            entry[1] += (delta.function.arguments if delta.function else "") or ""
    assert {i: (c[0], jsonlib.loads(c[1])) for i, c in calls.items()} == {
        0: ("w_1", {"city": "Madrid"}),
        1: ("w_2", {"city": "Lima"}),
    }
    reasoning = "".join(c.choices[0].delta.reasoning_content or "" for c in chunks if c.choices)
    assert reasoning == "I will look."
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


# -- errors ------------------------------------------------------------------------------------
async def test_an_error_status_is_typed(server: FakeServer) -> None:
    server.script("POST", PATH, json(429, {"message": "You are using a Trial key"}))
    async with client_for(server) as client:
        with pytest.raises(RateLimitError, match="Trial key"):
            await client.chat.completions.create(model="command-a-03-2025", messages="hi")


async def test_a_stream_ending_in_error_or_cut_short_raises(server: FakeServer) -> None:
    start = {"type": "message-start", "id": "s-3"}
    text = {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "a"}}}}
    failed = {"type": "message-end", "delta": {"finish_reason": "ERROR", "error": "overloaded"}}
    server.script(
        "POST",
        PATH,
        stream_bytes(events(start, text, failed)),
        stream_bytes(events(start, text)),
    )
    async with client_for(server) as client:
        with pytest.raises(APIError, match="overloaded"):
            async for _ in client.chat.completions.create(
                model="command-a-03-2025", messages="hi", stream=True
            ):
                pass
        with pytest.raises(APIResponseValidationError, match="message-end"):
            async for _ in client.chat.completions.create(
                model="command-a-03-2025", messages="hi", stream=True
            ):
                pass


async def test_models_are_listed_from_the_chat_endpoint(server: FakeServer) -> None:
    server.script(
        "GET",
        "/v1/models",
        json(200, {"models": [{"name": "command-a-03-2025"}], "next_page_token": "p2"}),
        json(200, {"models": [{"name": "command-r7b-12-2024"}]}),
    )
    async with client_for(server) as client:
        listed = await client.models.list()
    assert {m.id for m in listed.data} >= {"command-a-03-2025", "command-r7b-12-2024"}
    assert server.requests[0].query["endpoint"] == "chat"
    assert server.requests[1].query["page_token"] == "p2"
