"""The Anthropic provider against a fake Messages API on 127.0.0.1 (its documented wire format).

Streams are the documented event sequences (with ping and error events) delivered in 1-7
byte writes, so every event straddles network chunks.
"""

from __future__ import annotations

import base64
import json as jsonlib
from typing import Any

import pytest
from openai.types.chat import ChatCompletion as OpenAIChatCompletion

from polymux import AsyncClient
from polymux.errors import (
    APIResponseValidationError,
    AuthenticationError,
    InternalServerError,
    InvalidRequestError,
    MissingCredentialsError,
    RateLimitError,
    UnsupportedCapabilityError,
)
from polymux.providers.anthropic import Anthropic
from polymux.providers.anthropic_wire import RESPONSE_TOOL, build_messages_body, rule_for
from polymux.types import ChatRequest

from .fakes import FakeServer, json, stream_bytes
from .fakes.anthropic import (
    MESSAGE_STOP,
    MESSAGES,
    MODELS,
    PING,
    error,
    error_event,
    message,
    message_delta,
    message_start,
    reply,
    sse_body,
    stream,
    text_block,
    text_stream,
    thinking_block,
    tool_block,
)
from .support import read_chunks, text_of

KEY = "sk-ant-test-secret-key"
#: The tool_use block of a whole (non-streamed) answer that calls get_weather for Oslo.
OSLO_CALL = {
    "type": "tool_use",
    "id": "toolu_01A",
    "name": "get_weather",
    "input": {"city": "Oslo"},
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def client_for(server: FakeServer, **kwargs: Any) -> AsyncClient:
    return AsyncClient(provider="anthropic", api_key=KEY, base_url=server.url(), **kwargs)


# -- requests ----------------------------------------------------------------------------------
async def test_request_body_and_headers_follow_the_messages_api() -> None:
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", MESSAGES, reply("Hi"))
        response = await client.chat.completions.create(
            model="claude-sonnet-4-5",
            messages=[
                {"role": "system", "content": "Be terse."},
                {"role": "developer", "content": "Answer in English."},
                {"role": "user", "content": "Hello"},
                {"role": "user", "content": [{"type": "text", "text": "there"}]},
                {"role": "assistant", "content": "Hi. "},
            ],
            stop="END",
            temperature=1.5,
            top_p=0.9,
            user="u-1",
        )
        OpenAIChatCompletion.model_validate(response.model_dump())
        sent = server.requests[-1]
        assert sent.path == "/v1/messages"
        assert sent.headers["x-api-key"] == KEY
        assert sent.headers["anthropic-version"] == "2023-06-01"
        assert "Authorization" not in sent.headers
        assert sent.json == {
            "model": "claude-sonnet-4-5",
            "system": "Be terse.\n\nAnswer in English.",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Hello"},
                        {"type": "text", "text": "there"},
                    ],
                },
                {"role": "assistant", "content": [{"type": "text", "text": "Hi."}]},
            ],
            "max_tokens": 16384,
            "stop_sequences": ["END"],
            "temperature": 1.0,  # clamped to Anthropic's 0-1 range
            # claude-sonnet-4-5 rejects temperature with top_p: top_p is dropped
            "metadata": {"user_id": "u-1"},
        }


def test_max_tokens_and_sampling_rules_are_per_model_family() -> None:
    def body(model: str, **kw: Any) -> dict[str, Any]:
        request = ChatRequest(model=model, messages=[{"role": "user", "content": "hi"}], **kw)
        return build_messages_body(request, stream=False)

    assert body("claude-3-haiku-20240307")["max_tokens"] == 4096
    assert body("claude-3-5-sonnet-latest")["max_tokens"] == 8192
    assert body("claude-opus-4-1-20250805")["max_tokens"] == 8192
    assert body("claude-sonnet-4-5")["max_tokens"] == 16384
    assert body("some-compatible-model")["max_tokens"] == 4096
    assert body("claude-sonnet-4-5", max_tokens=50)["max_tokens"] == 50
    assert body("claude-sonnet-4-5", max_completion_tokens=70)["max_tokens"] == 70
    both = body("claude-3-5-sonnet-latest", temperature=0.2, top_p=0.5)
    assert (both["temperature"], both["top_p"]) == (0.2, 0.5)
    dropped = body("claude-opus-4-7", temperature=0.2, top_p=0.5)
    assert "temperature" not in dropped and "top_p" not in dropped
    assert rule_for("claude-sonnet-5-20260101").drop_params


def test_reasoning_effort_turns_on_thinking_with_room_for_the_answer() -> None:
    request = ChatRequest(
        model="claude-sonnet-4-5",
        messages=[{"role": "user", "content": "hi"}],
        reasoning_effort="low",
        temperature=0.3,
    )
    body = build_messages_body(request, stream=True)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] > 2048 and "temperature" not in body and body["stream"] is True
    request.max_tokens = 1000
    with pytest.raises(InvalidRequestError, match="max_tokens must be larger"):
        build_messages_body(request, stream=True)
    request.reasoning_effort = "none"
    assert build_messages_body(request, stream=True)["thinking"] == {"type": "disabled"}
    request.reasoning_effort = "maximum"
    with pytest.raises(InvalidRequestError, match="reasoning_effort"):
        build_messages_body(request, stream=True)


async def test_images_become_base64_and_url_image_blocks() -> None:
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", MESSAGES, reply("a cat"))
        await client.chat.completions.create(
            model="claude-sonnet-4-5",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                    ],
                }
            ],
            image=PNG,
        )
        content = server.requests[-1].json["messages"][0]["content"]
        assert {
            "type": "image",
            "source": {"type": "url", "url": "https://example.com/cat.jpg"},
        } in (content)
        assert {
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": "image/png",
                "data": base64.b64encode(PNG).decode(),
            },
        } in content
        assert {"type": "text", "text": "What is this?"} in content


def test_an_image_type_anthropic_cannot_read_is_refused_before_sending() -> None:
    bmp = "data:image/bmp;base64," + base64.b64encode(b"BM" + b"\x00" * 20).decode()
    request = ChatRequest(
        model="claude-sonnet-4-5",
        messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": bmp}}]}],
    )
    with pytest.raises(UnsupportedCapabilityError, match="JPEG, PNG, GIF and WebP"):
        build_messages_body(request, stream=False)


# -- streaming ---------------------------------------------------------------------------------
async def test_stream_with_ping_split_into_tiny_pieces_yields_text_usage_and_finish() -> None:
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", MESSAGES, stream(text_stream(["Hel", "lo, wörld", "!"])))
        chunks = await read_chunks(
            client.chat.completions.create(
                model="claude-sonnet-4-5",
                messages="hi",
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        assert text_of(chunks) == "Hello, wörld!"
        finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
        assert finishes[-1] == "stop"
        assert chunks[-1].usage is not None
        assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (412, 15)
        assert chunks[0].id == "msg_01XYZ"
        assert server.requests[-1].json["stream"] is True


async def test_streamed_tool_calls_arrive_as_openai_tool_call_deltas() -> None:
    events = [
        message_start(),
        *text_block(0, ["Let me check."]),
        *tool_block(1, "toolu_01A", "get_weather", ['{"city": "Os', 'lo"}']),
        *tool_block(2, "toolu_01B", "get_weather", ['{"city": "Bergen"}']),
        message_delta("tool_use"),
        MESSAGE_STOP,
    ]
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", MESSAGES, stream(events))
        chunks = await read_chunks(
            client.chat.completions.create(
                model="claude-sonnet-4-5",
                messages="weather in Oslo and Bergen?",
                tools=[WEATHER],
                tool_choice="required",
                parallel_tool_calls=True,
                stream=True,
            )
        )
        calls: dict[int, dict[str, str]] = {}
        for c in chunks:
            for tc in (c.choices[0].delta.tool_calls or []) if c.choices else []:
                entry = calls.setdefault(tc.index, {"id": "", "name": "", "args": ""})
                entry["id"] = tc.id or entry["id"]
                entry["name"] = (tc.function.name if tc.function else None) or entry["name"]
                entry["args"] += (tc.function.arguments if tc.function else None) or ""
        assert calls == {
            0: {"id": "toolu_01A", "name": "get_weather", "args": '{"city": "Oslo"}'},
            1: {"id": "toolu_01B", "name": "get_weather", "args": '{"city": "Bergen"}'},
        }
        assert chunks[-1].choices[0].finish_reason == "tool_calls"
        sent = server.requests[-1].json
        assert sent["tools"] == [
            {
                "name": "get_weather",
                "input_schema": WEATHER["function"]["parameters"],
                "description": "Current weather for a city",
            }
        ]
        assert sent["tool_choice"] == {"type": "any"}


async def test_thinking_blocks_become_reasoning_content() -> None:
    events = [
        message_start(),
        *thinking_block(0, ["Let me ", "think."]),
        *text_block(1, ["42"]),
        message_delta("end_turn", 30),
        MESSAGE_STOP,
    ]
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", MESSAGES, stream(events))
        chunks = await read_chunks(
            client.chat.completions.create(model="claude-sonnet-4-5", messages="?", stream=True)
        )
        reasoning = "".join(
            getattr(c.choices[0].delta, "reasoning_content", None) or ""
            for c in chunks
            if c.choices
        )
        assert reasoning == "Let me think."
        assert text_of(chunks) == "42"


async def test_error_event_after_200_raises_a_retryable_typed_error() -> None:
    events = [message_start(), *text_block(0, ["par"])[:2], PING, error_event()]
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", MESSAGES, stream(events))
        with pytest.raises(InternalServerError) as info:
            await read_chunks(
                client.chat.completions.create(model="claude-sonnet-4-5", messages="?", stream=True)
            )
        assert info.value.status_code == 529
        assert "Overloaded" in str(info.value)


async def test_a_stream_cut_before_message_stop_is_an_error() -> None:
    events = [message_start(), *text_block(0, ["cut"])]
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", MESSAGES, stream(events))
        with pytest.raises(APIResponseValidationError, match="message_stop"):
            await read_chunks(
                client.chat.completions.create(model="claude-sonnet-4-5", messages="?", stream=True)
            )


async def test_stop_sequence_and_max_tokens_map_to_finish_reasons() -> None:
    async with FakeServer() as server, client_for(server) as client:
        server.script(
            "POST",
            MESSAGES,
            stream(text_stream(["a"], stop_reason="max_tokens")),
            stream(text_stream(["b"], stop_reason="stop_sequence")),
            stream(text_stream(["c"], stop_reason="refusal")),
        )
        reasons = []
        for _ in range(3):
            chunks = await read_chunks(
                client.chat.completions.create(model="claude-sonnet-4-5", messages="?", stream=True)
            )
            reasons.append(chunks[-1].choices[0].finish_reason)
        assert reasons == ["length", "stop", "content_filter"]


# -- non-streaming -----------------------------------------------------------------------------
async def test_non_streaming_uses_the_full_message_with_tools_thinking_and_cache_usage() -> None:
    body = message(
        [
            {"type": "thinking", "thinking": "Need the weather.", "signature": "sig"},
            {"type": "text", "text": "Let me check."},
            OSLO_CALL,
        ],
        stop_reason="tool_use",
        usage={
            "input_tokens": 10,
            "output_tokens": 58,
            "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 300,
        },
    )
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", MESSAGES, json(200, body))
        response = await client.chat.completions.create(
            model="claude-sonnet-4-5", messages="weather?", tools=[WEATHER]
        )
        OpenAIChatCompletion.model_validate(response.model_dump())
        assert "stream" not in server.requests[-1].json
        choice = response.choices[0]
        assert choice.finish_reason == "tool_calls"
        assert choice.message.content == "Let me check."
        assert choice.message.reasoning_content == "Need the weather."
        assert choice.message.tool_calls is not None
        call = choice.message.tool_calls[0]
        assert (call.id, call.function.name) == ("toolu_01A", "get_weather")
        assert jsonlib.loads(call.function.arguments) == {"city": "Oslo"}
        assert response.usage is not None
        assert response.usage.prompt_tokens == 410
        assert response.usage.completion_tokens == 58
        assert response.usage.prompt_tokens_details is not None
        assert response.usage.prompt_tokens_details.cached_tokens == 300
        assert response.id == "msg_full"


async def test_two_turn_tool_round_trip_sends_tool_use_and_tool_result_blocks() -> None:
    first = message(
        [
            OSLO_CALL,
            {
                "type": "tool_use",
                "id": "toolu_01B",
                "name": "get_weather",
                "input": {"city": "Rome"},
            },
        ],
        stop_reason="tool_use",
    )
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", MESSAGES, json(200, first), reply("Oslo 18°C, Rome 25°C."))
        messages: list[Any] = [{"role": "user", "content": "Weather in Oslo and Rome?"}]
        response = await client.chat.completions.create(
            model="claude-sonnet-4-5", messages=messages, tools=[WEATHER]
        )
        assistant = response.choices[0].message
        messages.append(assistant)
        for call, result in zip(assistant.tool_calls or [], ["18°C", "25°C"]):
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        messages.append({"role": "user", "content": "Thanks, summarize."})
        final = await client.chat.completions.create(
            model="claude-sonnet-4-5", messages=messages, tools=[WEATHER]
        )
        assert final.choices[0].message.content == "Oslo 18°C, Rome 25°C."
        assert server.requests[-1].json["messages"] == [
            {"role": "user", "content": [{"type": "text", "text": "Weather in Oslo and Rome?"}]},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_01A",
                        "name": "get_weather",
                        "input": {"city": "Oslo"},
                    },
                    {
                        "type": "tool_use",
                        "id": "toolu_01B",
                        "name": "get_weather",
                        "input": {"city": "Rome"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "18°C"},
                    {"type": "tool_result", "tool_use_id": "toolu_01B", "content": "25°C"},
                    {"type": "text", "text": "Thanks, summarize."},
                ],
            },
        ]


def test_tool_choice_translations() -> None:
    def choice(value: Any, parallel: bool | None = None) -> Any:
        request = ChatRequest(
            model="claude-sonnet-4-5",
            messages=[{"role": "user", "content": "hi"}],
            tools=[WEATHER],
            tool_choice=value,
            parallel_tool_calls=parallel,
        )
        return build_messages_body(request, stream=False).get("tool_choice")

    assert choice("auto") == {"type": "auto"}
    assert choice("none") == {"type": "none"}
    assert choice("required") == {"type": "any"}
    assert choice({"type": "function", "function": {"name": "get_weather"}}) == {
        "type": "tool",
        "name": "get_weather",
    }
    assert choice(None) is None
    assert choice(None, parallel=False) == {"type": "auto", "disable_parallel_tool_use": True}


async def test_json_schema_is_served_by_forcing_a_tool_streaming_and_not() -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "integer"}},
        "required": ["answer"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "Answer", "schema": schema}}
    forced = message(
        [{"type": "tool_use", "id": "toolu_9", "name": RESPONSE_TOOL, "input": {"answer": 42}}],
        stop_reason="tool_use",
    )
    events = [
        message_start(),
        *tool_block(0, "toolu_9", RESPONSE_TOOL, ['{"ans', 'wer": 4', "2}"]),
        message_delta("tool_use"),
        MESSAGE_STOP,
    ]
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", MESSAGES, json(200, forced), stream(events))
        response = await client.chat.completions.create(
            model="claude-sonnet-4-5", messages="6*7?", response_format=fmt
        )
        OpenAIChatCompletion.model_validate(response.model_dump())
        assert jsonlib.loads(response.choices[0].message.content or "") == {"answer": 42}
        assert response.choices[0].message.tool_calls is None
        assert response.choices[0].finish_reason == "stop"
        sent = server.requests[-1].json
        assert sent["tools"] == [
            {
                "name": RESPONSE_TOOL,
                "description": "Give the answer as Answer.",
                "input_schema": schema,
            }
        ]
        assert sent["tool_choice"] == {"type": "tool", "name": RESPONSE_TOOL}

        chunks = await read_chunks(
            client.chat.completions.create(
                model="claude-sonnet-4-5", messages="6*7?", response_format=fmt, stream=True
            )
        )
        assert jsonlib.loads(text_of(chunks)) == {"answer": 42}
        assert chunks[-1].choices[0].finish_reason == "stop"


# -- errors ------------------------------------------------------------------------------------
async def test_error_statuses_map_to_the_error_tree() -> None:
    async with FakeServer() as server, client_for(server, max_retries=0) as client:
        server.script(
            "POST",
            MESSAGES,
            error(401, "authentication_error", "invalid x-api-key"),
            error(429, "rate_limit_error", "slow down", headers={"retry-after": "7"}),
            error(529, "overloaded_error", "Overloaded"),
        )
        with pytest.raises(AuthenticationError, match="invalid x-api-key") as auth:
            await client.chat.completions.create(model="claude-sonnet-4-5", messages="hi")
        assert KEY not in str(auth.value) and KEY not in repr(auth.value)
        with pytest.raises(RateLimitError) as limited:
            await client.chat.completions.create(model="claude-sonnet-4-5", messages="hi")
        assert limited.value.retry_after == 7.0
        with pytest.raises(InternalServerError) as overloaded:
            await read_chunks(
                client.chat.completions.create(
                    model="claude-sonnet-4-5", messages="hi", stream=True
                )
            )
        assert overloaded.value.status_code == 529


async def test_529_overloaded_is_retried() -> None:
    async with FakeServer() as server, client_for(server, max_retries=1) as client:
        server.script(
            "POST",
            MESSAGES,
            error(529, "overloaded_error", "Overloaded", headers={"retry-after": "0"}),
            reply("ok"),
        )
        response = await client.chat.completions.create(model="claude-sonnet-4-5", messages="hi")
        assert response.choices[0].message.content == "ok"
        assert len(server.requests) == 2


async def test_missing_key_names_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    async with FakeServer() as server, AsyncClient(provider=Anthropic(base_url=server.url())) as c:
        with pytest.raises(MissingCredentialsError, match="ANTHROPIC_API_KEY"):
            await c.chat.completions.create(model="claude-sonnet-4-5", messages="hi")
        assert server.requests == []


async def test_key_from_environment_and_base_url_with_v1_suffix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "env-key")
    async with FakeServer() as server:
        async with AsyncClient(provider=Anthropic(base_url=server.url("/v1"))) as client:
            server.script("POST", MESSAGES, reply("ok"))
            await client.chat.completions.create(model="claude-sonnet-4-5", messages="hi")
        assert server.requests[-1].path == "/v1/messages"
        assert server.requests[-1].headers["x-api-key"] == "env-key"
        assert "env-key" not in repr(Anthropic())


async def test_list_models_follows_pages() -> None:
    async with FakeServer() as server, client_for(server) as client:
        server.script(
            "GET",
            MODELS,
            json(200, {"data": [{"id": "claude-a"}], "has_more": True, "last_id": "claude-a"}),
            json(200, {"data": [{"id": "claude-b"}], "has_more": False, "last_id": "claude-b"}),
        )
        models = await client.models.list()
        assert [m.id for m in models.data] == ["claude-a", "claude-b"]
        assert server.requests[-1].query == {"limit": "1000", "after_id": "claude-a"}


async def test_a_plain_stream_delivered_whole_also_works() -> None:
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", MESSAGES, stream_bytes([sse_body(text_stream(["one piece"]))]))
        chunks = await read_chunks(
            client.chat.completions.create(model="claude-sonnet-4-5", messages="?", stream=True)
        )
        assert text_of(chunks) == "one piece"


async def test_malformed_json_in_the_stream_is_a_validation_error() -> None:
    raw = sse_body([message_start()]) + b"event: content_block_delta\ndata: {not json\n\n"
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", MESSAGES, stream_bytes([raw]))
        with pytest.raises(APIResponseValidationError, match="malformed JSON"):
            await read_chunks(
                client.chat.completions.create(model="claude-sonnet-4-5", messages="?", stream=True)
            )


def test_tool_call_arguments_that_are_not_an_object_are_refused() -> None:
    request = ChatRequest(
        model="claude-sonnet-4-5",
        messages=[
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "f", "arguments": "[1, 2"},
                    }
                ],
            },
        ],
    )
    with pytest.raises(InvalidRequestError, match="toolu_1"):
        build_messages_body(request, stream=False)


# -- thinking across turns -----------------------------------------------------------------------
def _continued(assistant: Any) -> list[Any]:
    """The next turn as callers write it: the assistant message appended, then the result."""
    return [
        {"role": "user", "content": "weather in Oslo?"},
        assistant,
        {"role": "tool", "tool_call_id": "toolu_01A", "content": "18C"},
    ]


async def test_signed_thinking_goes_back_with_its_tool_call_in_the_next_turn() -> None:
    first = [
        message_start(),
        *thinking_block(0, ["Need ", "the weather."]),
        *tool_block(1, "toolu_01A", "get_weather", ['{"city": ', '"Oslo"}']),
        message_delta("tool_use"),
        MESSAGE_STOP,
    ]
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", MESSAGES, stream(first), stream(text_stream(["18C, sunny."])))
        params: dict[str, Any] = {
            "model": "claude-sonnet-4-5",
            "tools": [WEATHER],
            "reasoning_effort": "low",
            "stream": True,
        }
        await read_chunks(client.chat.completions.create(messages="weather in Oslo?", **params))
        # What a streaming caller rebuilds from the chunks: no signature anywhere in it.
        assistant = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "toolu_01A",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        }
        answer = await read_chunks(
            client.chat.completions.create(messages=_continued(assistant), **params)
        )
        assert text_of(answer) == "18C, sunny."
        content = server.requests[1].json["messages"][1]["content"]
        assert content[0] == {
            "type": "thinking",
            "thinking": "Need the weather.",
            "signature": "EqQBCgIYAhIM",
        }
        assert (content[1]["type"], content[1]["id"]) == ("tool_use", "toolu_01A")


async def test_non_streamed_thinking_and_redacted_thinking_go_back_only_when_the_turn_thinks() -> (
    None
):
    first = message(
        [
            {"type": "thinking", "thinking": "Need the weather.", "signature": "sig-1"},
            {"type": "redacted_thinking", "data": "opaque-bytes"},
            OSLO_CALL,
        ],
        stop_reason="tool_use",
    )
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", MESSAGES, json(200, first), reply("18C"), reply("18C"))
        params: dict[str, Any] = {"model": "claude-sonnet-4-5", "tools": [WEATHER]}
        response = await client.chat.completions.create(
            messages="weather in Oslo?", reasoning_effort="low", **params
        )
        continued = _continued(response.choices[0].message)  # the response object itself
        await client.chat.completions.create(messages=continued, reasoning_effort="low", **params)
        content = server.requests[1].json["messages"][1]["content"]
        assert content[:2] == [
            {"type": "thinking", "thinking": "Need the weather.", "signature": "sig-1"},
            {"type": "redacted_thinking", "data": "opaque-bytes"},
        ]
        assert content[2]["type"] == "tool_use"
        # A turn without extended thinking sends no thinking blocks.
        await client.chat.completions.create(messages=continued, **params)
        kinds = [b["type"] for b in server.requests[2].json["messages"][1]["content"]]
        assert "thinking" not in kinds and "redacted_thinking" not in kinds
