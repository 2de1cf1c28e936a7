"""The Gemini provider against a fake Generative Language API on 127.0.0.1.

Streams are ``data:`` events ended by EOF, delivered in 1-7 byte writes.
"""

from __future__ import annotations

import base64
import json as jsonlib
from pathlib import Path
from typing import Any

import pytest
from openai.types.chat import ChatCompletion as OpenAIChatCompletion
from openai.types.images_response import ImagesResponse as OpenAIImagesResponse
from pydantic import BaseModel

from polymux import AsyncClient
from polymux.errors import (
    APIResponseValidationError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    InvalidRequestError,
    MissingCredentialsError,
    RateLimitError,
    UnsupportedCapabilityError,
)
from polymux.providers.gemini import Gemini
from polymux.providers.gemini_wire import build_generate_body, gemini_schema
from polymux.types import ChatRequest

from .fakes import FakeServer, json, text
from .fakes.gemini import (
    MODEL,
    MODELS,
    error,
    generate_path,
    reply,
    response,
    stream,
    stream_path,
    text_pieces,
    usage,
)
from .support import read_chunks, text_of

KEY = "AIza-test-secret-key"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


def client_for(server: FakeServer, **kwargs: Any) -> AsyncClient:
    return AsyncClient(provider="gemini", api_key=KEY, base_url=server.url(), **kwargs)


# -- requests ----------------------------------------------------------------------------------
async def test_request_body_generation_config_and_header_key() -> None:
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", generate_path(), reply("Hi"))
        result = await client.chat.completions.create(
            model=MODEL,
            messages=[
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Hello"},
                {"role": "assistant", "content": "Hi."},
                {"role": "user", "content": "Again"},
                {"role": "user", "content": [{"type": "text", "text": "please"}]},
            ],
            temperature=0.7,
            top_p=0.95,
            max_tokens=1024,
            stop=["END"],
            seed=42,
        )
        OpenAIChatCompletion.model_validate(result.model_dump())
        assert result.choices[0].message.content == "Hi"
        sent = server.requests[-1]
        assert sent.headers["x-goog-api-key"] == KEY
        assert KEY not in sent.path and "key" not in sent.query
        assert sent.json == {
            "systemInstruction": {"parts": [{"text": "You are terse."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "Hello"}]},
                {"role": "model", "parts": [{"text": "Hi."}]},
                {"role": "user", "parts": [{"text": "Again"}, {"text": "please"}]},
            ],
            "generationConfig": {
                "temperature": 0.7,
                "topP": 0.95,
                "seed": 42,
                "maxOutputTokens": 1024,
                "stopSequences": ["END"],
            },
        }
        assert result.usage is not None
        assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (25, 12)
        assert result.id == "resp-abc123"


def test_gemma_gets_the_system_text_in_its_first_user_turn_and_no_tools() -> None:
    request = ChatRequest(
        model="gemma-3-27b-it",
        messages=[{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}],
    )
    body = build_generate_body(request)
    assert "systemInstruction" not in body
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Be terse."}, {"text": "Hi"}]}]
    caps = Gemini().capabilities_for("gemma-3-27b-it")
    assert caps.vision and not caps.tools and not caps.json_schema


async def test_tools_on_a_model_without_them_fail_before_any_request() -> None:
    async with FakeServer() as server, client_for(server) as client:
        with pytest.raises(UnsupportedCapabilityError, match="tools"):
            await client.chat.completions.create(
                model="gemma-3-27b-it", messages="hi", tools=[WEATHER]
            )
        assert server.requests == []


# -- streaming ---------------------------------------------------------------------------------
async def test_stream_split_into_tiny_pieces_yields_text_and_final_usage() -> None:
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", stream_path(), stream(text_pieces(["Hel", "lo, wörld", "!"])))
        chunks = await read_chunks(
            client.chat.completions.create(
                model=MODEL, messages="hi", stream=True, stream_options={"include_usage": True}
            )
        )
        assert text_of(chunks) == "Hello, wörld!"
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
        assert chunks[-1].usage is not None
        assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (25, 3)
        assert server.requests[-1].query == {"alt": "sse"}


async def test_safety_finish_is_content_filter_and_a_blocked_prompt_too() -> None:
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage(9, 0)}
    async with FakeServer() as server, client_for(server) as client:
        server.script(
            "POST",
            stream_path(),
            stream([response([{"text": "Sure, here"}], None), response(None, "SAFETY")]),
            stream([blocked]),
        )
        chunks = await read_chunks(
            client.chat.completions.create(model=MODEL, messages="?", stream=True)
        )
        assert text_of(chunks) == "Sure, here"
        assert chunks[-1].choices[0].finish_reason == "content_filter"
        chunks = await read_chunks(
            client.chat.completions.create(model=MODEL, messages="?", stream=True)
        )
        assert text_of(chunks) == ""
        assert chunks[-1].choices[0].finish_reason == "content_filter"


async def test_finish_reasons_map_to_openai_values() -> None:
    async with FakeServer() as server, client_for(server) as client:
        reasons = ["MAX_TOKENS", "RECITATION", "SPII", "OTHER", "SOMETHING_NEW"]
        server.script("POST", generate_path(), *(reply("x", finish=r) for r in reasons))
        got = []
        for _ in reasons:
            result = await client.chat.completions.create(model=MODEL, messages="?")
            got.append(result.choices[0].finish_reason)
        assert got == ["length", "content_filter", "content_filter", "stop", "stop"]


async def test_thought_parts_become_reasoning_and_count_as_reasoning_tokens() -> None:
    pieces = [
        response([{"text": "Thinking about it.", "thought": True}], None),
        response([{"text": "42"}], "STOP", usage_meta=usage(10, 2, thoughts=30)),
    ]
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", stream_path(), stream(pieces))
        chunks = await read_chunks(
            client.chat.completions.create(
                model=MODEL,
                messages="?",
                stream=True,
                reasoning_effort="low",
                stream_options={"include_usage": True},
            )
        )
        reasoning = "".join(
            getattr(c.choices[0].delta, "reasoning_content", None) or ""
            for c in chunks
            if c.choices
        )
        assert reasoning == "Thinking about it."
        assert text_of(chunks) == "42"
        final = chunks[-1].usage
        assert final is not None and final.completion_tokens == 32
        assert final.completion_tokens_details is not None
        assert final.completion_tokens_details.reasoning_tokens == 30
        config = server.requests[-1].json["generationConfig"]
        assert config["thinkingConfig"] == {"thinkingBudget": 1024, "includeThoughts": True}


async def test_a_stream_without_finish_reason_is_an_error() -> None:
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", stream_path(), stream([response([{"text": "cut"}], None)]))
        with pytest.raises(APIResponseValidationError, match="finishReason"):
            await read_chunks(
                client.chat.completions.create(model=MODEL, messages="?", stream=True)
            )


async def test_an_error_object_mid_stream_raises_its_status_error() -> None:
    body = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", stream_path(), stream([response([{"text": "a"}], None), body]))
        with pytest.raises(InternalServerError, match="overloaded"):
            await read_chunks(
                client.chat.completions.create(model=MODEL, messages="?", stream=True)
            )


async def test_a_bare_json_error_written_into_the_stream_raises_its_status_error() -> None:
    """When a stream fails, Gemini may write a plain JSON error object over several lines,
    outside the SSE framing; it is reported, not lost."""
    from .fakes import stream_bytes
    from .fakes.gemini import sse_body

    failure = b'{\n  "error": {\n    "code": 503,\n    "message": "The model is overloaded.",\n'
    failure += b'    "status": "UNAVAILABLE"\n  }\n}\n'
    body = sse_body([response([{"text": "a"}], None)]) + failure
    async with FakeServer() as server, client_for(server) as client:
        server.script(
            "POST", stream_path(), stream_bytes([body[i : i + 5] for i in range(0, len(body), 5)])
        )
        with pytest.raises(InternalServerError, match="overloaded"):
            await read_chunks(
                client.chat.completions.create(model=MODEL, messages="?", stream=True)
            )


# -- tools -------------------------------------------------------------------------------------
async def test_streamed_parallel_function_calls_get_ids_and_json_arguments() -> None:
    calls: list[dict[str, Any]] = [
        {
            "functionCall": {"name": "get_weather", "args": {"city": "Oslo"}},
            "thoughtSignature": "c2ln",
        },
        {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
    ]
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", stream_path(), stream([response(calls, "STOP", usage_meta=usage())]))
        chunks = await read_chunks(
            client.chat.completions.create(
                model=MODEL, messages="weather?", tools=[WEATHER], tool_choice="auto", stream=True
            )
        )
        seen = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
        assert [tc.index for tc in seen] == [0, 1]
        assert all(tc.id and tc.id.startswith("call_") for tc in seen)
        assert seen[0].id != seen[1].id
        assert [jsonlib.loads(tc.function.arguments) for tc in seen if tc.function] == [
            {"city": "Oslo"},
            {"city": "Rome"},
        ]
        assert chunks[-1].choices[0].finish_reason == "tool_calls"
        sent = server.requests[-1].json
        assert sent["tools"] == [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "description": "Current weather",
                        "parameters": {
                            "type": "OBJECT",
                            "properties": {"city": {"type": "STRING"}},
                            "required": ["city"],
                        },
                    }
                ]
            }
        ]
        assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}


async def test_two_turn_tool_round_trip_sends_function_call_and_response_parts() -> None:
    first = response(
        [
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Oslo"}},
                "thoughtSignature": "c2ln",
            },
            {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
        ],
        "STOP",
    )
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", generate_path(), json(200, first), reply("Oslo 18C, Rome 25C"))
        messages: list[Any] = [{"role": "user", "content": "Weather in Oslo and Rome?"}]
        answer = await client.chat.completions.create(
            model=MODEL, messages=messages, tools=[WEATHER]
        )
        OpenAIChatCompletion.model_validate(answer.model_dump())
        assert answer.choices[0].finish_reason == "tool_calls"
        assistant = answer.choices[0].message
        messages.append(assistant)
        results = ['{"temp_c": 18}', "25C"]
        for call, result in zip(assistant.tool_calls or [], results):
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        final = await client.chat.completions.create(
            model=MODEL,
            messages=messages,
            tools=[WEATHER],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        )
        assert final.choices[0].message.content == "Oslo 18C, Rome 25C"
        sent = server.requests[-1].json
        assert sent["contents"] == [
            {"role": "user", "parts": [{"text": "Weather in Oslo and Rome?"}]},
            {
                "role": "model",
                "parts": [
                    {
                        "functionCall": {"name": "get_weather", "args": {"city": "Oslo"}},
                        "thoughtSignature": "c2ln",
                    },
                    {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"temp_c": 18}}},
                    {"functionResponse": {"name": "get_weather", "response": {"result": "25C"}}},
                ],
            },
        ]
        assert sent["toolConfig"] == {
            "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
        }


def test_a_tool_result_for_an_unknown_call_is_a_clear_error() -> None:
    request = ChatRequest(
        model=MODEL,
        messages=[
            {"role": "user", "content": "hi"},
            {"role": "tool", "tool_call_id": "call_missing", "content": "x"},
        ],
    )
    with pytest.raises(InvalidRequestError, match="call_missing"):
        build_generate_body(request)


# -- structured output -------------------------------------------------------------------------
class City(BaseModel):
    name: str
    population: int | None = None


class Answer(BaseModel):
    cities: list[City]


def test_json_schema_is_converted_to_gemini_schema() -> None:
    schema = gemini_schema(Answer.model_json_schema())
    assert schema == {
        "type": "OBJECT",
        "title": "Answer",
        "properties": {
            "cities": {
                "type": "ARRAY",
                "title": "Cities",
                "items": {
                    "type": "OBJECT",
                    "title": "City",
                    "properties": {
                        "name": {"type": "STRING", "title": "Name"},
                        "population": {
                            "type": "INTEGER",
                            "nullable": True,
                            "default": None,
                            "title": "Population",
                        },
                    },
                    "required": ["name"],
                },
            }
        },
        "required": ["cities"],
    }
    text_only = gemini_schema({"$schema": "x", "type": "object", "additionalProperties": False})
    assert text_only == {"type": "OBJECT"}


async def test_json_schema_and_json_object_response_formats() -> None:
    answer = '{"cities": [{"name": "Oslo"}]}'
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", generate_path(), reply(answer))
        result = await client.chat.completions.create(
            model=MODEL, messages="Name a city", response_format=Answer
        )
        assert (
            Answer.model_validate_json(result.choices[0].message.content or "").cities[0].name
            == "Oslo"
        )
        config = server.requests[-1].json["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        assert config["responseSchema"] == gemini_schema(Answer.model_json_schema())
        await client.chat.completions.create(
            model=MODEL, messages="JSON please", response_format={"type": "json_object"}
        )
        config = server.requests[-1].json["generationConfig"]
        assert config == {"responseMimeType": "application/json"}


# -- vision ------------------------------------------------------------------------------------
async def test_images_are_sent_inline_and_urls_are_downloaded_first() -> None:
    async with (
        FakeServer() as server,
        client_for(server, allow_private_image_urls=True) as client,
    ):
        server.script("GET", "/cat.png", text(200, PNG, content_type="image/png"))
        server.script("POST", generate_path(), reply("two cats"))
        await client.chat.completions.create(
            model=MODEL,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": server.url("/cat.png")}},
                    ],
                }
            ],
            image=PNG,
        )
        parts = server.requests[-1].json["contents"][0]["parts"]
        inline = {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}}
        assert parts.count(inline) == 2
        assert {"text": "What is this?"} in parts


async def test_image_urls_on_private_addresses_are_refused_by_default() -> None:
    async with FakeServer() as server, client_for(server) as client:
        server.script("GET", "/cat.png", text(200, PNG, content_type="image/png"))
        with pytest.raises(InvalidRequestError):
            await client.chat.completions.create(
                model=MODEL,
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": server.url("/cat.png")}}
                        ],
                    }
                ],
            )
        assert not any(r.path.endswith(":generateContent") for r in server.requests)


# -- errors ------------------------------------------------------------------------------------
async def test_error_statuses_plain_and_list_wrapped_map_to_the_error_tree() -> None:
    async with FakeServer() as server, client_for(server, max_retries=0) as client:
        server.script(
            "POST",
            generate_path(),
            error(400, "API key not valid.", "INVALID_ARGUMENT", wrapped=True),
            error(401, "Request had invalid credentials.", "UNAUTHENTICATED"),
            error(429, "Quota exceeded", "RESOURCE_EXHAUSTED", headers={"retry-after": "3"}),
            error(503, "The model is overloaded.", "UNAVAILABLE"),
        )
        with pytest.raises(BadRequestError, match="API key not valid") as bad:
            await client.chat.completions.create(model=MODEL, messages="hi")
        assert KEY not in str(bad.value)
        with pytest.raises(AuthenticationError):
            await client.chat.completions.create(model=MODEL, messages="hi")
        with pytest.raises(RateLimitError) as limited:
            await client.chat.completions.create(model=MODEL, messages="hi")
        assert limited.value.retry_after == 3.0
        with pytest.raises(InternalServerError) as unavailable:
            await client.chat.completions.create(model=MODEL, messages="hi")
        assert unavailable.value.status_code == 503


async def test_missing_key_names_both_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    async with FakeServer() as server, AsyncClient(provider=Gemini(base_url=server.url())) as c:
        with pytest.raises(MissingCredentialsError, match="set GEMINI_API_KEY or GOOGLE_API_KEY"):
            await c.chat.completions.create(model=MODEL, messages="hi")
        assert server.requests == []


async def test_google_api_key_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key")
    async with (
        FakeServer() as server,
        AsyncClient(provider=Gemini(base_url=server.url("/v1beta"))) as c,
    ):
        server.script("POST", generate_path(), reply("ok"))
        await c.chat.completions.create(model=MODEL, messages="hi")
        assert server.requests[-1].headers["x-goog-api-key"] == "google-key"


def test_a_model_id_that_could_change_the_url_path_is_refused() -> None:
    with pytest.raises(InvalidRequestError):
        Gemini(api_key="k").model_url("../../v1/files", "generateContent")


# -- models and images -------------------------------------------------------------------------
async def test_list_models_follows_next_page_tokens_and_keeps_generate_models() -> None:
    async with FakeServer() as server, client_for(server) as client:
        server.script(
            "GET",
            MODELS,
            json(
                200,
                {
                    "models": [
                        {
                            "name": "models/gemini-2.5-flash",
                            "supportedGenerationMethods": ["generateContent"],
                        },
                        {
                            "name": "models/text-embedding-004",
                            "supportedGenerationMethods": ["embedContent"],
                        },
                    ],
                    "nextPageToken": "page/2",
                },
            ),
            json(
                200,
                {
                    "models": [
                        {
                            "name": "models/gemini-2.5-pro",
                            "supportedGenerationMethods": ["generateContent"],
                        }
                    ]
                },
            ),
        )
        models = await client.models.list()
        assert [m.id for m in models.data] == ["gemini-2.5-flash", "gemini-2.5-pro"]
        assert server.requests[-1].query == {"pageSize": "1000", "pageToken": "page/2"}
        assert all("key" not in r.query for r in server.requests)


async def test_image_models_serve_images_generate_one_per_call(tmp_path: Path) -> None:
    image_model = "gemini-2.5-flash-image"
    picture = response(
        [
            {"text": "Here is your picture."},
            {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}},
        ],
        "STOP",
    )
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", generate_path(image_model), json(200, picture))
        result = await client.images.generate(
            prompt="a red fox", model=image_model, n=2, size="1792x1024", response_format="b64_json"
        )
        OpenAIImagesResponse.model_validate(result.model_dump())
        assert len(result.data) == 2
        assert all(base64.b64decode(d.b64_json or "") == PNG for d in result.data)
        calls = [r for r in server.requests if r.path == generate_path(image_model)]
        assert len(calls) == 2
        assert calls[0].json == {
            "contents": [{"role": "user", "parts": [{"text": "a red fox"}]}],
            "generationConfig": {
                "responseModalities": ["TEXT", "IMAGE"],
                "imageConfig": {"aspectRatio": "16:9"},
            },
        }


async def test_an_image_answer_without_an_image_is_an_error() -> None:
    image_model = "gemini-2.5-flash-image"
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", generate_path(image_model), json(200, response(None, "IMAGE_SAFETY")))
        with pytest.raises(APIResponseValidationError, match="IMAGE_SAFETY"):
            await client.images.generate(prompt="x", model=image_model)


async def test_several_candidates_become_several_choices() -> None:
    body = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "One"}]}, "finishReason": "STOP"},
            {
                "content": {"role": "model", "parts": [{"text": "Two"}]},
                "finishReason": "MAX_TOKENS",
                "index": 1,
            },
        ],
        "usageMetadata": usage(5, 4),
    }
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", generate_path(), json(200, body))
        result = await client.chat.completions.create(model=MODEL, messages="hi", n=2)
        OpenAIChatCompletion.model_validate(result.model_dump())
        assert [(c.message.content, c.finish_reason) for c in result.choices] == [
            ("One", "stop"),
            ("Two", "length"),
        ]
        assert server.requests[-1].json["generationConfig"] == {"candidateCount": 2}


async def test_a_list_wrapped_error_mid_stream_raises_its_status_error() -> None:
    wrapped = [
        {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}
    ]
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", stream_path(), stream([response([{"text": "a"}], None), wrapped]))
        with pytest.raises(RateLimitError, match="Quota"):
            await read_chunks(
                client.chat.completions.create(model=MODEL, messages="?", stream=True)
            )


def test_an_unknown_reasoning_effort_is_a_clear_error() -> None:
    request = ChatRequest(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], reasoning_effort="maximum"
    )
    with pytest.raises(InvalidRequestError, match="reasoning_effort"):
        build_generate_body(request)
    request.reasoning_effort = "none"
    config = build_generate_body(request)["generationConfig"]
    assert config["thinkingConfig"] == {"thinkingBudget": 0, "includeThoughts": False}
