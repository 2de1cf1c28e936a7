"""Bugs the replay of real recorded traffic found (issue 19), each pinned on its own, with the
recorded shapes reduced to what shows the bug. The full recordings replay in
tests/test_replay_recordings.py."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from polymux import AsyncClient
from polymux.errors import BadRequestError
from polymux.providers.gemini_wire import build_generate_body
from polymux.types import ChatRequest

from .fakes import FakeServer, json, sse_data, text
from .fakes.gemini import generate_path

# -- Mistral's reasoning models: content as a list of thinking and text parts ----------------
THINKING_CHUNKS: list[dict[str, Any]] = [
    {"id": "m1", "model": "magistral-medium-latest", "choices": [
        {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
    {"id": "m1", "choices": [{"index": 0, "delta": {"content": [
        {"type": "thinking", "thinking": [{"type": "text", "text": "Okay, "}]}]},
        "finish_reason": None}]},
    {"id": "m1", "choices": [{"index": 0, "delta": {"content": [
        {"type": "thinking", "thinking": [{"type": "text", "text": "look left."}]}]},
        "finish_reason": None}]},
    {"id": "m1", "choices": [{"index": 0, "delta": {"content": "Look both ways."},
        "finish_reason": "stop"}],
     "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}},
]  # fmt: skip


async def test_mistral_thinking_parts_stream_as_reasoning(server: FakeServer) -> None:
    server.script("POST", "/v1/chat/completions", sse_data(THINKING_CHUNKS))
    async with AsyncClient(provider="mistral", api_key="k", base_url=server.url("/v1")) as client:
        stream = client.chat.completions.create(
            model="magistral-medium-latest", messages="How do I cross?", stream=True
        )
        chunks = [c async for c in stream]
    reasoning = "".join(c.choices[0].delta.reasoning_content or "" for c in chunks if c.choices)
    answer = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert (reasoning, answer) == ("Okay, look left.", "Look both ways.")


async def test_mistral_thinking_parts_of_a_whole_answer_are_reasoning(server: FakeServer) -> None:
    content = [
        {"type": "thinking", "thinking": [{"type": "text", "text": "Think first."}]},
        {"type": "text", "text": "Answer."},
    ]
    body = {
        "id": "m2",
        "object": "chat.completion",
        "created": 1,
        "model": "magistral-medium-latest",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop"}],
    }  # fmt: skip
    server.script("POST", "/v1/chat/completions", json(200, body))
    async with AsyncClient(provider="mistral", api_key="k", base_url=server.url("/v1")) as client:
        result = await client.chat.completions.create(model="magistral-medium-latest", messages="q")
    message = result.choices[0].message
    assert (message.reasoning_content, message.content) == ("Think first.", "Answer.")


# -- usage -------------------------------------------------------------------------------------
async def test_a_hosts_reported_total_tokens_is_kept(server: FakeServer) -> None:
    # Gemini's OpenAI-compatible endpoint counts thinking tokens only in the total.
    body = {
        "id": "g1",
        "object": "chat.completion",
        "created": 1,
        "model": "gemini-2.5-pro",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "4"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 35, "completion_tokens": 12, "total_tokens": 109},
    }  # fmt: skip
    server.script("POST", "/v1/chat/completions", json(200, body))
    async with AsyncClient(
        provider="gemini-openai", api_key="k", base_url=server.url("/v1")
    ) as client:
        result = await client.chat.completions.create(model="gemini-2.5-pro", messages="2+2?")
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.total_tokens) == (35, 109)


async def test_gemini_built_in_tool_prompt_tokens_count_as_prompt(server: FakeServer) -> None:
    body = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "News."}]},
                        "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 32, "candidatesTokenCount": 88,
                          "toolUsePromptTokenCount": 2395, "totalTokenCount": 2515},
    }  # fmt: skip
    server.script("POST", generate_path("gemini-2.5-flash"), json(200, body))
    async with AsyncClient(provider="gemini", api_key="k", base_url=server.url()) as client:
        result = await client.chat.completions.create(model="gemini-2.5-flash", messages="q")
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.total_tokens) == (32 + 2395, 2515)


# -- Gemini requests ---------------------------------------------------------------------------
TREE = {
    "$defs": {
        "Node": {
            "type": "object",
            "properties": {
                "value": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
            },
            "required": ["value"],
        }
    },
    "$ref": "#/$defs/Node",
}


def test_gemini_recursive_schemas_go_as_full_json_schema() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "tree", "schema": TREE}}
    tool = {"type": "function", "function": {"name": "plant", "parameters": TREE}}
    request = ChatRequest(
        model="gemini-2.0-flash", messages=[{"role": "user", "content": "a tree"}],
        response_format=fmt, tools=[tool],
    )  # fmt: skip
    body = build_generate_body(request)
    config = body["generationConfig"]
    assert config["responseJsonSchema"] == TREE and "responseSchema" not in config
    declaration = body["tools"][0]["functionDeclarations"][0]
    assert declaration["parametersJsonSchema"] == TREE and "parameters" not in declaration
    # A schema Gemini's Schema holds still goes as one (every model reads it).
    flat = {"type": "object", "properties": {"city": {"type": "string"}}}
    request.response_format = {"type": "json_schema", "json_schema": {"name": "c", "schema": flat}}
    config = build_generate_body(request)["generationConfig"]
    assert config["responseSchema"]["type"] == "OBJECT" and "responseJsonSchema" not in config


def test_gemini_system_text_with_an_empty_user_message_is_sent() -> None:
    request = ChatRequest(
        model="gemini-2.5-flash",
        messages=[{"role": "system", "content": "Be helpful."}, {"role": "user", "content": ""}],
    )
    body = build_generate_body(request)
    assert body["contents"] == [{"role": "user", "parts": [{"text": ""}]}]
    assert body["systemInstruction"] == {"parts": [{"text": "Be helpful."}]}


def _history(model: str) -> ChatRequest:
    call = {"id": "call_a", "type": "function",
            "function": {"name": "get_time", "arguments": "{}"}}  # fmt: skip
    second = {**call, "id": "call_b"}
    return ChatRequest(
        model=model,
        messages=[
            {"role": "user", "content": "time?"},
            {"role": "assistant", "content": None, "tool_calls": [call, second]},
            {"role": "tool", "tool_call_id": "call_a", "content": "noon"},
            {"role": "tool", "tool_call_id": "call_b", "content": "noon"},
        ],
    )


def test_gemini_3_gets_the_placeholder_signature_on_foreign_function_calls() -> None:
    parts = build_generate_body(_history("gemini-3-pro-preview"))["contents"][1]["parts"]
    assert parts[0]["thoughtSignature"] == "skip_thought_signature_validator"
    assert "thoughtSignature" not in parts[1]  # the first call of a turn carries it
    # Its own signatures go back as they came; older models get no placeholder.
    signed = build_generate_body(_history("gemini-3-pro-preview"), signatures={"call_a": "sig"})
    assert signed["contents"][1]["parts"][0]["thoughtSignature"] == "sig"
    older = build_generate_body(_history("gemini-2.5-flash"))["contents"][1]["parts"]
    assert all("thoughtSignature" not in p for p in older)


# -- errors inside a stream --------------------------------------------------------------------
async def test_an_in_band_stream_error_with_status_code_maps_like_the_status(
    server: FakeServer,
) -> None:
    error = {"error": {"message": "Tool call validation failed", "type": "invalid_request_error",
                       "code": "tool_use_failed", "status_code": 400}}  # fmt: skip
    first = {"id": "q", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
    server.script("POST", "/v1/chat/completions", sse_data([first, error]))
    async with AsyncClient(
        provider="groq", api_key="k", base_url=server.url("/v1"), max_retries=0
    ) as client:
        with pytest.raises(BadRequestError) as caught:
            async for _ in client.chat.completions.create(
                model="llama-3.3-70b-versatile", messages="q", stream=True
            ):
                pass
    assert caught.value.status_code == 400


# -- model ids ---------------------------------------------------------------------------------
async def test_a_providers_own_model_id_is_sent_unchanged(server: FakeServer) -> None:
    answer = {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-x",
        "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }  # fmt: skip
    server.script("POST", "/v1/messages", json(200, answer))
    async with AsyncClient(provider="anthropic", api_key="k", base_url=server.url()) as client:
        await client.chat.completions.create(model="claude-sonnet-4-0", messages="hi")
        # A name that is not Anthropic's own id is still mapped by the registry.
        await client.chat.completions.create(model="anthropic/claude-sonnet-4", messages="hi")
    sent = [r.json["model"] for r in server.requests]
    assert sent == ["claude-sonnet-4-0", "claude-sonnet-4-20250514"]


# -- large request bodies ----------------------------------------------------------------------
async def test_a_large_request_body_is_sent_whole_without_a_warning(server: FakeServer) -> None:
    server.script("POST", "/v1/chat/completions", text(500, "busy"), json(200, {
        "id": "x", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                     "finish_reason": "stop"}]}))  # fmt: skip
    big = "x" * (3 * 1024 * 1024)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async with AsyncClient(
            provider="openai-compatible", base_url=server.url("/v1"), max_retries=1
        ) as client:
            result = await client.chat.completions.create(model="m", messages=big)
    assert result.choices[0].message.content == "ok"
    assert [len(r.body) > len(big) for r in server.requests] == [True, True]  # both attempts
