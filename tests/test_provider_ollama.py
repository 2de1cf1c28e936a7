"""Ollama's native API against a fake Ollama server on 127.0.0.1 (Ollama's docs/api.md)."""

from __future__ import annotations

import base64
import json as jsonlib
from typing import Any

import pytest
from openai.types.chat import ChatCompletion as OpenAICompletion
from openai.types.chat import ChatCompletionChunk as OpenAIChunk

from polymux import (
    APIError,
    APIResponseValidationError,
    AsyncClient,
    Client,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    UnsupportedCapabilityError,
)
from polymux.providers.ollama import DEFAULT_HOST, Ollama, parse_host
from tests.fakes import FakeServer
from tests.fakes.ollama import CHAT, TAGS, error, line, ndjson, smart_chat, tags
from tests.fakes.server import stream_bytes, text
from tests.support import WEATHER, text_of

PNG = b"\x89PNG\r\n\x1a\n" + b"\x07" * 60


def client_for(server: FakeServer, **kwargs: Any) -> AsyncClient:
    return AsyncClient(provider=Ollama(base_url=server.url()), max_retries=0, timeout=5, **kwargs)


async def collect(client: AsyncClient, **kwargs: Any) -> list[Any]:
    stream = await client.chat.completions.create(stream=True, **kwargs)
    chunks = [c async for c in stream]
    for c in chunks:
        OpenAIChunk.model_validate(c.model_dump())
    return chunks


# -- host configuration ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "url"),
    [
        (None, DEFAULT_HOST),
        ("", DEFAULT_HOST),
        ("1.2.3.4", "http://1.2.3.4:11434"),
        (":56789", "http://127.0.0.1:56789"),
        ("example.com:56789", "http://example.com:56789"),
        ("http://example.com", "http://example.com:80"),
        ("https://example.com", "https://example.com:443"),
        ("https://example.com:8443/ollama/", "https://example.com:8443/ollama"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("0.0.0.0:9999", "http://127.0.0.1:9999"),
        ("[::1]:5000", "http://[::1]:5000"),
    ],
)
def test_ollama_host_is_read_as_ollama_reads_it(value: str | None, url: str) -> None:
    assert parse_host(value) == url


async def test_ollama_host_env_and_base_url_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeServer() as server:
        server.script("POST", CHAT, smart_chat())
        monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{server.port}")
        async with AsyncClient(provider="ollama", max_retries=0) as client:
            response = await client.chat.completions.create(model="llama3.2", messages="hi")
        assert response.choices[0].message.content == "echo: hi | turns: 1"
        assert response.provider == "ollama"
    assert Ollama(base_url="http://h:1/api/").root == "http://h:1"


# -- streaming -------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [1, 2, 5, 13, 64, 4096])
async def test_stream_split_at_any_offset_gives_the_same_answer(size: int) -> None:
    objects = [
        line("Zürich "),
        line("☀️ sky"),
        line(done=True, prompt_eval_count=11, eval_count=4),
    ]
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", CHAT, ndjson(objects, size))
        chunks = await collect(
            client, model="llama3.2", messages="hi", stream_options={"include_usage": True}
        )
        assert text_of(chunks) == "Zürich ☀️ sky"
        assert chunks[-2].choices[0].finish_reason == "stop"
        usage = chunks[-1].usage
        assert (usage.prompt_tokens, usage.completion_tokens, usage.estimated) == (11, 4, None)
        assert server.requests[0].json["stream"] is True


async def test_final_done_line_maps_done_reason_and_missing_counts() -> None:
    objects = [line("abc"), line(done=True, done_reason="length", prompt_eval_count=None)]
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", CHAT, ndjson(objects))
        chunks = await collect(
            client, model="m", messages="hi", stream_options={"include_usage": True}
        )
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
        # A cached prompt has no prompt_eval_count: 0, still the provider's own count.
        assert chunks[-1].usage.prompt_tokens == 0
        assert chunks[-1].usage.completion_tokens == 282


async def test_lines_after_done_are_not_read_and_a_missing_done_is_an_error() -> None:
    async with FakeServer() as server, client_for(server) as client:
        server.script(
            "POST",
            CHAT,
            ndjson([line("ok"), line(done=True), "not json at all"]),
            ndjson([line("cut sh")]),
        )
        assert text_of(await collect(client, model="m", messages="hi")) == "ok"
        stream = await client.chat.completions.create(model="m", messages="hi", stream=True)
        with pytest.raises(APIResponseValidationError, match="done line"):
            async for _ in stream:
                pass


async def test_thinking_becomes_reasoning() -> None:
    objects = [line(thinking="Let me see. "), line(thinking="Sky."), line("Blue"), line(done=True)]
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", CHAT, ndjson(objects, 3))
        chunks = await collect(client, model="qwen3", messages="why", reasoning_effort="high")
        reasoning = "".join(c.choices[0].delta.reasoning_content or "" for c in chunks)
        assert reasoning == "Let me see. Sky."
        assert text_of(chunks) == "Blue"
        assert server.requests[0].json["think"] == "high"


async def test_streamed_tool_calls_get_ids_and_json_string_arguments() -> None:
    calls = [
        {"function": {"name": "get_weather", "arguments": {"city": "Toronto"}}},
        {"function": {"name": "get_weather", "arguments": {"city": "Zürich"}}},
    ]
    objects = [line(tool_calls=calls), line(done=True)]
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", CHAT, ndjson(objects, 5))
        chunks = await collect(client, model="m", messages="weather?", tools=[WEATHER])
        deltas = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
        assert [d.index for d in deltas] == [0, 1]
        assert all(d.id and d.type == "function" for d in deltas)
        assert deltas[0].id != deltas[1].id
        assert [jsonlib.loads(d.function.arguments) for d in deltas] == [
            {"city": "Toronto"},
            {"city": "Zürich"},
        ]
        assert chunks[-1].choices[0].finish_reason == "tool_calls"
        assert server.requests[0].json["tools"] == [WEATHER]


# -- non-streaming ---------------------------------------------------------------------------
async def test_non_streaming_sends_stream_false_and_reads_one_object() -> None:
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", CHAT, smart_chat())
        response = await client.chat.completions.create(
            model="llama3.2",
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "hi"},
            ],
            temperature=0.2,
            top_p=0.9,
            max_tokens=50,
            stop=["END"],
            seed=42,
        )
        OpenAICompletion.model_validate(response.model_dump())
        assert response.choices[0].message.content == "echo: hi | system: Be brief. | turns: 1"
        assert response.model == "llama3.2"
        assert response.usage is not None and response.usage.estimated is None
        sent = server.requests[0].json
        assert sent == {
            "model": "llama3.2",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "hi"},
            ],
            "stream": False,
            "options": {
                "temperature": 0.2,
                "top_p": 0.9,
                "seed": 42,
                "stop": ["END"],
                "num_predict": 50,
            },
        }


async def test_tool_round_trip_translates_calls_and_results() -> None:
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", CHAT, smart_chat())
        first = await client.chat.completions.create(
            model="m", messages="weather in Paris?", tools=[WEATHER]
        )
        calls = first.choices[0].message.tool_calls
        assert calls is not None
        call = calls[0]
        assert first.choices[0].finish_reason == "tool_calls"
        assert call.id and jsonlib.loads(call.function.arguments) == {"city": "Paris"}
        second = await client.chat.completions.create(
            model="m",
            tools=[WEATHER],
            messages=[
                {"role": "user", "content": "weather in Paris?"},
                first.choices[0].message,
                {"role": "tool", "tool_call_id": call.id, "content": "11 degrees"},
            ],
        )
        assert second.choices[0].message.content == "tool said: 11 degrees"
        sent = server.requests[1].json["messages"]
        assert sent[1] == {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": call.id, "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
            ],
        }
        assert sent[2] == {
            "role": "tool",
            "content": "11 degrees",
            "tool_call_id": call.id,
            "tool_name": "get_weather",
        }


async def test_forced_tool_choice_is_a_clear_error_before_any_request() -> None:
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", CHAT, smart_chat())
        with pytest.raises(UnsupportedCapabilityError, match="tool_choice"):
            await client.chat.completions.create(
                model="m", messages="hi", tools=[WEATHER], tool_choice="required"
            )
        assert server.requests == []


@pytest.mark.parametrize(
    ("response_format", "expected"),
    [
        ({"type": "json_object"}, "json"),
        (
            {"type": "json_schema", "json_schema": {"name": "c", "schema": {"type": "object"}}},
            {"type": "object"},
        ),
    ],
)
async def test_response_format_becomes_format(response_format: Any, expected: Any) -> None:
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", CHAT, smart_chat())
        response = await client.chat.completions.create(
            model="m", messages="data please", response_format=response_format
        )
        jsonlib.loads(response.choices[0].message.content or "")
        assert server.requests[0].json["format"] == expected


async def test_extra_body_options_merge_with_mapped_ones() -> None:
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", CHAT, smart_chat())
        await client.chat.completions.create(
            model="m",
            messages="hi",
            temperature=0.5,
            extra_body={"options": {"num_ctx": 8192}, "keep_alive": "5m"},
        )
        sent = server.requests[0].json
        assert sent["options"] == {"temperature": 0.5, "num_ctx": 8192}
        assert sent["keep_alive"] == "5m"


# -- images ----------------------------------------------------------------------------------
async def test_inline_images_are_sent_as_bare_base64() -> None:
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", CHAT, smart_chat())
        response = await client.chat.completions.create(
            model="llava", messages="what is this?", image=PNG
        )
        assert response.choices[0].message.content == (
            f"echo: what is this? | images: image/png:{len(PNG)} | turns: 1"
        )
        user = server.requests[0].json["messages"][0]
        assert user == {
            "role": "user",
            "content": "what is this?",
            "images": [base64.b64encode(PNG).decode()],
        }


async def test_url_images_are_downloaded_only_when_private_urls_are_allowed() -> None:
    async with FakeServer() as server:
        server.script("POST", CHAT, smart_chat())
        server.script("GET", "/cat.png", text(200, PNG, content_type="image/png"))
        url = server.url("/cat.png")
        async with client_for(server) as client:
            with pytest.raises(InvalidRequestError, match="loopback"):
                await client.chat.completions.create(model="llava", messages="?", image=url)
        assert [r.path for r in server.requests] == []
        async with client_for(server, allow_private_image_urls=True) as client:
            response = await client.chat.completions.create(model="llava", messages="?", image=url)
        assert f"images: image/png:{len(PNG)}" in (response.choices[0].message.content or "")
        assert [r.path for r in server.requests] == ["/cat.png", CHAT]


# -- errors ----------------------------------------------------------------------------------
async def test_error_bodies_are_strings_and_map_to_typed_errors() -> None:
    async with FakeServer() as server, client_for(server) as client:
        server.script(
            "POST",
            CHAT,
            error(404, 'model "nope" not found, try pulling it first'),
            error(429, "too many requests"),
        )
        with pytest.raises(NotFoundError, match="try pulling it first") as info:
            await client.chat.completions.create(model="nope", messages="hi")
        assert info.value.provider == "ollama"
        with pytest.raises(RateLimitError):
            await collect(client, model="m", messages="hi")


async def test_error_line_mid_stream_raises() -> None:
    objects = [line("partial "), {"error": "an error was encountered while running the model"}]
    async with FakeServer() as server, client_for(server) as client:
        server.script("POST", CHAT, ndjson(objects, 9))
        stream = await client.chat.completions.create(model="m", messages="hi", stream=True)
        first = await stream.__anext__()
        assert first.choices[0].delta.content == "partial "
        with pytest.raises(APIError, match="while running the model"):
            await stream.__anext__()


async def test_malformed_line_and_reset_are_typed() -> None:
    async with FakeServer() as server:
        server.script(
            "POST",
            CHAT,
            stream_bytes([b'{"message":{"content":"a"},"done":false}\n', b"{oops\n"]),
            stream_bytes([jsonlib.dumps(line("a")).encode() + b"\n"] * 3, reset_after=1),
        )
        async with client_for(server) as client:
            with pytest.raises(APIResponseValidationError, match="malformed JSON"):
                await collect(client, model="m", messages="hi")
            with pytest.raises(APIError):
                await collect(client, model="m", messages="hi")
        assert await server.wait_idle()


# -- models ----------------------------------------------------------------------------------
async def test_models_come_from_api_tags() -> None:
    async with FakeServer() as server, client_for(server) as client:
        server.script("GET", TAGS, tags("llama3.2:latest", "qwen3:8b"))
        models = await client.models.list()
        assert [m.id for m in models.data] == ["llama3.2:latest", "qwen3:8b"]
        assert {m.owned_by for m in models.data} == {"ollama"}


def test_sync_client_streams_from_ollama() -> None:
    import asyncio

    async def main() -> None:
        async with FakeServer() as server:
            server.script("POST", CHAT, smart_chat(3))

            def run() -> list[str]:
                with Client(provider=Ollama(base_url=server.url()), max_retries=0) as client:
                    stream = client.chat.completions.create(model="m", messages="yo", stream=True)
                    return [c.choices[0].delta.content or "" for c in stream if c.choices]

            pieces = await asyncio.to_thread(run)
            assert "".join(pieces) == "echo: yo | turns: 1"

    asyncio.run(main())
