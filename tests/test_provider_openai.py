"""The OpenAI dialect end to end against a fake host: streams, tools, usage, reasoning,
refusals, n > 1, vision, response formats, images, models, vendor quirks, Azure, keys.

Every object polymux returns here is validated with the official ``openai`` SDK's types.
"""

from __future__ import annotations

import base64
import copy
import logging
from typing import Any

import pytest
from openai.types import ImagesResponse as OpenAIImagesResponse
from openai.types import Model as OpenAIModel

from polymux import (
    AsyncClient,
    MissingCredentialsError,
)
from polymux.providers.openai import AzureOpenAI, OpenAI, OpenAICompatible
from polymux.providers.vendors import VENDORS, Groq, vendor_class

from .fakes import FakeServer, json, sse_data, text
from .fakes.openai import (
    CHAT,
    IMAGES,
    MODELS,
    chunk,
    completion,
    error,
    models,
    reply,
    split_body,
    text_chunks,
)
from .openai_support import MSGS, PNG, SECRET, client_for
from .support import read_chunks, text_of, tool_calls_of, valid

# -- streams ------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 7, 64, 100_000])
@pytest.mark.parametrize("crlf", [False, True], ids=["LF", "CRLF"])
async def test_stream_in_writes_of_any_size(server: FakeServer, size: int, crlf: bool) -> None:
    pieces = ["Hé", "llo ", "世界", " 🎉"]
    server.script("POST", CHAT, split_body(text_chunks(pieces, model="up-1"), size, crlf=crlf))
    async with client_for(server) as client:
        chunks = await read_chunks(
            client.chat.completions.create(model="m", messages=MSGS, stream=True)
        )
    assert text_of(chunks) == "Héllo 世界 🎉"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert {c.model for c in chunks} == {"up-1"} and {c.id for c in chunks} == {"chatcmpl-fake"}
    assert await server.wait_idle()


TOOL_STREAM = [
    chunk(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ],
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
    chunk(
        {
            "tool_calls": [
                {
                    "index": 1,
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": ""},
                }
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "Paris"}'}}]}),
    chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"tz": "CET"}'}}]}),
    chunk({}, "tool_calls"),
]
EXPECTED_CALLS = {
    0: {"id": "call_a", "name": "get_weather", "arguments": '{"city": "Paris"}'},
    1: {"id": "call_b", "name": "get_time", "arguments": '{"tz": "CET"}'},
}


async def test_parallel_tool_call_deltas_by_index(server: FakeServer) -> None:
    server.script("POST", CHAT, sse_data(TOOL_STREAM))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    async with client_for(server) as client:
        chunks = await read_chunks(
            client.chat.completions.create(
                model="m", messages=MSGS, stream=True, tools=tools, parallel_tool_calls=True
            )
        )
    assert tool_calls_of(chunks) == EXPECTED_CALLS
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    sent = server.requests[0].json
    assert sent["tools"] == tools and sent["parallel_tool_calls"] is True


async def test_tool_call_deltas_from_hosts_that_omit_index(server: FakeServer) -> None:
    def strip(c: dict[str, Any]) -> dict[str, Any]:
        c = copy.deepcopy(c)  # TOOL_STREAM is shared with other tests
        for d in c["choices"][0]["delta"].get("tool_calls", ()):
            d.pop("index", None)
        return c

    # Such hosts send one call after the other: a new id starts the next call.
    ordered = [TOOL_STREAM[0], TOOL_STREAM[1], TOOL_STREAM[3], TOOL_STREAM[2], TOOL_STREAM[4]]
    server.script("POST", CHAT, sse_data([strip(c) for c in ordered] + [TOOL_STREAM[5]]))
    async with client_for(server) as client:
        chunks = await read_chunks(
            client.chat.completions.create(model="m", messages=MSGS, stream=True)
        )
    assert tool_calls_of(chunks) == EXPECTED_CALLS


async def test_non_streaming_tool_calls(server: FakeServer) -> None:
    calls = [
        {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
        # Some hosts send arguments as an object: they become its JSON text.
        {"id": "call_b", "type": "function", "function": {"name": "g", "arguments": {"y": 2}}},
    ]
    server.script("POST", CHAT, reply(None, tool_calls=calls, finish="tool_calls"))  # type: ignore[arg-type]
    async with client_for(server) as client:
        response = valid(await client.chat.completions.create(model="m", messages=MSGS))
    message = response.choices[0].message
    assert message.content is None and response.choices[0].finish_reason == "tool_calls"
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls] == [
        ("call_a", "f", '{"x": 1}'),
        ("call_b", "g", '{"y":2}'),
    ]


async def test_usage_only_final_chunk_with_include_usage(server: FakeServer) -> None:
    usage = {
        "prompt_tokens": 20,
        "completion_tokens": 5,
        "total_tokens": 25,
        "prompt_tokens_details": {"cached_tokens": 8},
        "completion_tokens_details": {"reasoning_tokens": 2},
    }
    server.script("POST", CHAT, sse_data(text_chunks(["a", "b"], usage=usage)))
    async with client_for(server) as client:
        with_usage = await read_chunks(
            client.chat.completions.create(
                model="m", messages=MSGS, stream=True, stream_options={"include_usage": True}
            )
        )
        without = await read_chunks(
            client.chat.completions.create(model="m", messages=MSGS, stream=True)
        )
    last = with_usage[-1]
    assert last.choices == [] and last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (
        20,
        5,
        25,
    )
    assert last.usage.prompt_tokens_details.cached_tokens == 8
    assert last.usage.completion_tokens_details.reasoning_tokens == 2
    assert all(c.usage is None for c in with_usage[:-1])
    assert all(c.usage is None for c in without) and text_of(without) == "ab"
    # Usage is always asked for upstream; the caller's choice only decides what it sees.
    assert [r.json["stream_options"] for r in server.requests] == [{"include_usage": True}] * 2


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_reasoning_fields_stream_and_complete(server: FakeServer, field: str) -> None:
    server.script(
        "POST",
        CHAT,
        sse_data(
            [
                chunk({"role": "assistant", field: "Let me "}),
                chunk({field: "think."}),
                chunk({"content": "42"}),
                chunk({}, "stop"),
            ]
        ),
    )
    async with client_for(server) as client:
        chunks = await read_chunks(
            client.chat.completions.create(model="m", messages=MSGS, stream=True)
        )
        thought = "".join(
            getattr(c.choices[0].delta, "reasoning_content", None) or ""
            for c in chunks
            if c.choices
        )
        assert thought == "Let me think." and text_of(chunks) == "42"

        body = completion("42")
        body["choices"][0]["message"][field] = "Because."
        server.script("POST", CHAT, json(200, body))
        response = valid(await client.chat.completions.create(model="m", messages=MSGS))
    assert response.choices[0].message.reasoning_content == "Because."
    assert response.choices[0].message.content == "42"


async def test_refusals_stream_and_complete(server: FakeServer) -> None:
    server.script(
        "POST",
        CHAT,
        sse_data(
            [
                chunk({"role": "assistant", "refusal": "I can't "}),
                chunk({"refusal": "help with that."}),
                chunk({}, "stop"),
            ]
        ),
    )
    async with client_for(server) as client:
        chunks = await read_chunks(
            client.chat.completions.create(model="m", messages=MSGS, stream=True)
        )
        refusal = "".join(c.choices[0].delta.refusal or "" for c in chunks if c.choices)
        assert refusal == "I can't help with that." and text_of(chunks) == ""

        body = completion(None)
        body["choices"][0]["message"]["refusal"] = "No."
        server.script("POST", CHAT, json(200, body))
        response = valid(await client.chat.completions.create(model="m", messages=MSGS))
    assert response.choices[0].message.refusal == "No."


async def test_n_choices_interleaved(server: FakeServer) -> None:
    server.script(
        "POST",
        CHAT,
        sse_data(
            [
                chunk({"role": "assistant", "content": ""}, index=0),
                chunk({"role": "assistant", "content": ""}, index=1),
                chunk({"content": "A1 "}, index=0),
                chunk({"content": "B1 "}, index=1),
                chunk({"content": "B2"}, index=1),
                chunk({"content": "A2"}, index=0),
                chunk({}, "length", index=1),
                chunk({}, "stop", index=0),
            ]
        ),
    )
    async with client_for(server) as client:
        chunks = await read_chunks(
            client.chat.completions.create(model="m", messages=MSGS, stream=True, n=2)
        )
        assert (text_of(chunks, 0), text_of(chunks, 1)) == ("A1 A2", "B1 B2")
        finishes = {
            ch.index: ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason
        }
        assert finishes == {0: "stop", 1: "length"}
        assert server.requests[0].json["n"] == 2

        body = completion("first")
        body["choices"].append(
            {
                "index": 1,
                "message": {"role": "assistant", "content": "second"},
                "finish_reason": "stop",
            }
        )
        server.script("POST", CHAT, json(200, body))
        response = valid(await client.chat.completions.create(model="m", messages=MSGS, n=2))
    assert [c.message.content for c in response.choices] == ["first", "second"]


# -- request bodies -----------------------------------------------------------------------------


async def test_vision_parts_are_sent_as_they_are(server: FakeServer) -> None:
    data_uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"},
                },
                {"type": "image_url", "image_url": {"url": data_uri}},
            ],
        }
    ]
    server.script("POST", CHAT, reply("a cat"))
    async with client_for(server) as client:
        await client.chat.completions.create(model="m", messages=messages)
    assert server.requests[0].json["messages"] == messages


@pytest.mark.parametrize(
    "fmt",
    [
        {"type": "json_object"},
        {
            "type": "json_schema",
            "json_schema": {
                "name": "answer",
                "strict": True,
                "schema": {
                    "type": "object",
                    "properties": {"n": {"type": "integer"}},
                    "required": ["n"],
                    "additionalProperties": False,
                },
            },
        },
    ],
    ids=["json_object", "json_schema"],
)
async def test_response_format_is_passed_through(server: FakeServer, fmt: dict[str, Any]) -> None:
    server.script("POST", CHAT, reply('{"n": 1}'))
    async with client_for(server) as client:
        response = await client.chat.completions.create(
            model="m", messages="give json", response_format=fmt
        )
    assert response.choices[0].message.content == '{"n": 1}'
    assert server.requests[0].json["response_format"] == fmt


async def test_openai_renames_max_tokens_and_keeps_developer(server: FakeServer) -> None:
    server.script("POST", CHAT, reply())
    messages = [{"role": "developer", "content": "be brief"}, *MSGS]
    provider = OpenAI(api_key="k", base_url=server.url("/v1"))
    async with AsyncClient(provider=provider) as client:
        await client.chat.completions.create(model="o3", messages=messages, max_tokens=50)
    sent = server.requests[0].json
    assert sent["max_completion_tokens"] == 50 and "max_tokens" not in sent
    assert sent["messages"][0]["role"] == "developer"


async def test_other_hosts_get_developer_as_system_and_max_tokens(server: FakeServer) -> None:
    server.script("POST", CHAT, reply())
    messages = [{"role": "developer", "content": "be brief"}, *MSGS]
    async with client_for(server) as client:
        await client.chat.completions.create(model="m", messages=messages, max_tokens=50)
    sent = server.requests[0].json
    assert sent["max_tokens"] == 50 and "max_completion_tokens" not in sent
    assert sent["messages"] == [{"role": "system", "content": "be brief"}, *MSGS]


# -- images ---------------------------------------------------------------------------------------


async def test_dalle_url_images_with_size_quality_and_n(server: FakeServer) -> None:
    urls = [server.url(f"/files/img{i}.png") for i in range(3)]
    server.script(
        "POST",
        IMAGES,
        json(
            200, {"created": 1, "data": [{"url": u, "revised_prompt": "a red cat"} for u in urls]}
        ),
    )
    async with client_for(server) as client:
        response = await client.images.generate(
            prompt="a cat", model="dall-e-3", n=3, size="1024x1024", quality="hd"
        )
    OpenAIImagesResponse.model_validate(response.model_dump())
    assert [d.url for d in response.data] == urls and response.data[0].revised_prompt == "a red cat"
    assert server.requests[0].json == {
        "prompt": "a cat",
        "n": 3,
        "model": "dall-e-3",
        "size": "1024x1024",
        "quality": "hd",
        "response_format": "url",
    }


async def test_gpt_image_answers_base64_and_gets_no_response_format(server: FakeServer) -> None:
    b64 = base64.b64encode(PNG).decode()
    server.script(
        "POST",
        IMAGES,
        json(200, {"created": 1, "data": [{"b64_json": b64}], "output_format": "png"}),
    )
    async with client_for(server) as client:
        as_b64 = await client.images.generate(
            prompt="p", model="gpt-image-1", response_format="b64_json", quality="high"
        )
        as_url = await client.images.generate(prompt="p", model="gpt-image-1")
    for response in (as_b64, as_url):
        OpenAIImagesResponse.model_validate(response.model_dump())
    assert as_b64.data[0].b64_json == b64
    assert as_url.data[0].url == "data:image/png;base64," + b64
    for sent in server.requests:
        assert "response_format" not in sent.json and sent.json["model"] == "gpt-image-1"
    assert server.requests[0].json["quality"] == "high"


async def test_url_image_is_downloaded_when_base64_is_asked(server: FakeServer) -> None:
    server.script(
        "POST", IMAGES, json(200, {"created": 1, "data": [{"url": server.url("/files/x.png")}]})
    )
    server.script("GET", "/files/x.png", text(200, PNG, content_type="image/png"))
    # The fake's image URL is on loopback, which the guarded downloader refuses by default.
    async with client_for(server, allow_private_image_urls=True) as client:
        response = await client.images.generate(
            prompt="p", model="dall-e-2", response_format="b64_json"
        )
    OpenAIImagesResponse.model_validate(response.model_dump())
    assert base64.b64decode(response.data[0].b64_json or "") == PNG
    download = server.requests[1]
    assert download.method == "GET" and "Authorization" not in download.headers  # no key leaks


# -- models ---------------------------------------------------------------------------------------


async def test_models_list_is_cached_per_client(server: FakeServer) -> None:
    server.script("GET", MODELS, models("m-a", "m-b"))
    async with client_for(server) as client:
        first = await client.models.list()
        again = await client.models.list()
        assert [m.id for m in first] == ["m-a", "m-b"] and again is first
        for m in first:
            OpenAIModel.model_validate(m.model_dump())
        await client.models.list(refresh=True)
    assert len(server.requests) == 2
    async with client_for(server) as other:
        await other.models.list()
    assert len(server.requests) == 3
    assert server.requests[0].headers["Authorization"] == "Bearer sk-test"


# -- keys -----------------------------------------------------------------------------------------


async def test_key_from_argument_then_env_then_error(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.script("POST", CHAT, reply())
    monkeypatch.setenv("GROQ_API_KEY", "from-env")
    async with AsyncClient(provider=Groq(api_key="from-arg", base_url=server.url("/v1"))) as c:
        await c.chat.completions.create(model="x", messages=MSGS)
    async with AsyncClient(provider=Groq(base_url=server.url("/v1"))) as c:
        await c.chat.completions.create(model="x", messages=MSGS)
    assert [r.headers["Authorization"] for r in server.requests] == [
        "Bearer from-arg",
        "Bearer from-env",
    ]
    monkeypatch.delenv("GROQ_API_KEY")
    async with AsyncClient(provider=Groq(base_url=server.url("/v1"))) as c:
        with pytest.raises(MissingCredentialsError) as info:
            await c.chat.completions.create(model="x", messages=MSGS)
    assert "api_key" in str(info.value) and "GROQ_API_KEY" in str(info.value)
    assert len(server.requests) == 2  # nothing sent without a key

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingCredentialsError, match="OPENAI_API_KEY"):
        OpenAI().require_api_key()


async def test_keyless_local_servers_send_no_authorization(server: FakeServer) -> None:
    server.script("POST", CHAT, reply())
    local = vendor_class(next(r for r in VENDORS if r.name == "vllm"))
    async with AsyncClient(provider=local(base_url=server.url("/v1"))) as client:
        await client.chat.completions.create(model="x", messages=MSGS)
    assert "Authorization" not in server.requests[0].headers


async def test_key_never_shown_in_reprs_errors_or_logs(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.script(
        "POST",
        CHAT,
        error(429, "slow", headers={"retry-after-ms": "1"}),
        error(401, "Incorrect API key provided", type="invalid_request_error"),
    )
    provider = OpenAICompatible(api_key=SECRET, base_url=server.url("/v1"))
    groq = Groq(api_key=SECRET, base_url=server.url("/v1"))
    azure = AzureOpenAI(api_key=SECRET, base_url=server.url())
    seen: list[str] = [repr(provider), repr(groq), repr(azure)]
    for spec in ([provider, groq], azure):
        async with AsyncClient(provider=spec, api_key=SECRET, max_retries=1) as client:
            seen.append(repr(client))
            seen.append(repr(client.transport))
            for stream in (False, True):
                try:
                    result = client.chat.completions.create(model="m", messages=MSGS, stream=stream)
                    if stream:
                        await result.collect_text()  # type: ignore[union-attr]
                    else:
                        await result
                except Exception as exc:
                    seen += [str(exc), repr(exc), str(getattr(exc, "body", ""))]
                    for _, inner in getattr(exc, "errors", ()):
                        seen += [str(inner), repr(inner)]
    seen.append(caplog.text)
    assert any("Incorrect API key" in s for s in seen)  # errors were really produced
    for s in seen:
        assert SECRET not in s
    assert all(SECRET not in str(r.query) for r in server.requests)  # never in a URL
