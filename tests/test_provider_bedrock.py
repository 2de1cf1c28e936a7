"""AWS Bedrock's Converse and ConverseStream APIs against a fake on 127.0.0.1: every request
is signed the way botocore signs it (the fake refuses anything else), or carries a Bedrock API
key; the body is Converse's; streams arrive in the binary event-stream framing, in pieces."""

from __future__ import annotations

import base64
import json as jsonlib
from pathlib import Path
from typing import Any

import pytest
from openai.types.chat import ChatCompletion as OpenAIChatCompletion

from polymux import AsyncClient
from polymux.errors import (
    APIError,
    APIResponseValidationError,
    BadRequestError,
    InvalidRequestError,
    MissingCredentialsError,
    RateLimitError,
)
from polymux.providers.aws import Credentials
from polymux.providers.bedrock import Bedrock

from .fakes import FakeServer, json
from .fakes.bedrock import binary_stream, event, exception, signed_by, text_stream
from .support import WEATHER, read_chunks

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
PATH = "/model/anthropic.claude-3-5-sonnet-20240620-v1:0"  # as the server decodes it
KEY, SECRET, TOKEN = "AKIAFAKE", "fake/secret+key", "session-token"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


@pytest.fixture(autouse=True)
def no_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
        "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_BEARER_TOKEN_BEDROCK", "BEDROCK_BASE_URL",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))


def signed_client(server: FakeServer, **kwargs: Any) -> AsyncClient:
    provider = Bedrock(
        base_url=server.url(), region="us-west-2", credentials=Credentials(KEY, SECRET, TOKEN)
    )
    return AsyncClient(provider=provider, max_retries=0, **kwargs)


def answer(content: list[dict[str, Any]], stop: str = "end_turn") -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": 30, "outputTokens": 12, "totalTokens": 42,
                  "cacheReadInputTokens": 5},
        "metrics": {"latencyMs": 300},
    }  # fmt: skip


def signed(then: Any) -> Any:
    return signed_by(KEY, SECRET, TOKEN, "us-west-2", then)


async def test_a_signed_converse_call_and_its_body(server: FakeServer) -> None:
    server.script("POST", f"{PATH}/converse", signed(json(200, answer([{"text": "Hi!"}]))))
    call = {"id": "tooluse_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}  # fmt: skip
    data_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    async with signed_client(server) as client:
        result = await client.chat.completions.create(
            model=MODEL,
            messages=[
                {"role": "system", "content": "Be brief."},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Weather here?"},
                        {"type": "image_url", "image_url": {"url": data_url}},
                    ],
                },
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "tooluse_1", "content": "rain"},
            ],
            tools=[WEATHER],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
            max_tokens=300,
            temperature=0.2,
            top_p=0.9,
            stop=["END"],
        )
    OpenAIChatCompletion.model_validate(result.model_dump())
    assert result.choices[0].message.content == "Hi!"
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (35, 12)
    sent = server.requests[0]
    assert sent.headers["X-Amz-Security-Token"] == TOKEN
    assert sent.json == {
        "messages": [
            {"role": "user", "content": [
                {"text": "Weather here?"},
                {"image": {"format": "png", "source": {"bytes": base64.b64encode(PNG).decode()}}},
            ]},
            {"role": "assistant", "content": [
                {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather",
                             "input": {"city": "Oslo"}}}]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "rain"}]}}]},
        ],
        "system": [{"text": "Be brief."}],
        "inferenceConfig": {"maxTokens": 300, "temperature": 0.2, "topP": 0.9,
                            "stopSequences": ["END"]},
        "toolConfig": {
            "tools": [{"toolSpec": {"name": "get_weather", "description": "Weather in a city",
                                    "inputSchema": {"json": WEATHER["function"]["parameters"]}}}],
            "toolChoice": {"tool": {"name": "get_weather"}},
        },
    }  # fmt: skip


async def test_tool_use_reasoning_and_stop_reasons_of_a_whole_answer(server: FakeServer) -> None:
    content: list[dict[str, Any]] = [
        {"reasoningContent": {"reasoningText": {"text": "Need weather.", "signature": "sig=="}}},
        {"text": "Checking."},
        {"toolUse": {"toolUseId": "tooluse_9", "name": "get_weather", "input": {"city": "Oslo"}}},
    ]
    server.script(
        "POST",
        f"{PATH}/converse",
        signed(json(200, answer(content, "tool_use"))),
        signed(json(200, answer([{"text": "Rainy."}], "max_tokens"))),
    )
    async with signed_client(server) as client:
        first = await client.chat.completions.create(
            model=MODEL, messages="Oslo?", tools=[WEATHER], reasoning_effort="low"
        )
        message = first.choices[0].message
        assert first.choices[0].finish_reason == "tool_calls"
        assert (message.content, message.reasoning_content) == ("Checking.", "Need weather.")
        calls = message.tool_calls or []
        assert len(calls) == 1
        call = calls[0]
        assert (call.id, jsonlib.loads(call.function.arguments)) == ("tooluse_9", {"city": "Oslo"})
        second = await client.chat.completions.create(
            model=MODEL,
            messages=[
                {"role": "user", "content": "Oslo?"},
                {"role": "assistant", "content": "Checking.", "tool_calls": [call.model_dump()]},
                {"role": "tool", "tool_call_id": call.id, "content": "rain"},
            ],
            tools=[WEATHER],
            reasoning_effort="low",
        )
    assert second.choices[0].finish_reason == "length"
    body = server.requests[0].json
    assert body["additionalModelRequestFields"] == {
        "thinking": {"type": "enabled", "budget_tokens": 2048}
    }
    # The signed reasoning goes back first in the turn that made the call.
    history = server.requests[1].json["messages"][1]["content"]
    assert history[0] == {
        "reasoningContent": {"reasoningText": {"text": "Need weather.", "signature": "sig=="}}
    }


async def test_a_stream_in_binary_framing(server: FakeServer) -> None:
    server.script(
        "POST", f"{PATH}/converse-stream", signed(binary_stream(text_stream("Hello, Grüße!")))
    )
    async with signed_client(server) as client:
        chunks = await read_chunks(
            client.chat.completions.create(
                model=MODEL, messages="hi", stream=True, stream_options={"include_usage": True}
            )
        )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        "Hello, Grüße!"
    )
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 18


async def test_a_streamed_tool_call(server: FakeServer) -> None:
    frames = [
        event("messageStart", {"role": "assistant"}),
        event("contentBlockStart", {"contentBlockIndex": 0,
              "start": {"toolUse": {"toolUseId": "tooluse_2", "name": "get_weather"}}}),
        event("contentBlockDelta", {"contentBlockIndex": 0,
              "delta": {"toolUse": {"input": '{"city":'}}}),
        event("contentBlockDelta", {"contentBlockIndex": 0,
              "delta": {"toolUse": {"input": ' "Lima"}'}}}),
        event("contentBlockStop", {"contentBlockIndex": 0}),
        event("messageStop", {"stopReason": "tool_use"}),
    ]  # fmt: skip
    server.script("POST", f"{PATH}/converse-stream", signed(binary_stream(frames, size=3)))
    async with signed_client(server) as client:
        chunks = await read_chunks(
            client.chat.completions.create(
                model=MODEL, messages="Lima?", tools=[WEATHER], stream=True
            )
        )
    deltas = [d for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or ()]
    assert deltas[0].id == "tooluse_2" and deltas[0].function is not None
    arguments = "".join((d.function.arguments or "") for d in deltas if d.function)
    assert jsonlib.loads(arguments) == {"city": "Lima"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


async def test_streamed_exceptions_and_cut_streams_are_typed(server: FakeServer) -> None:
    server.script(
        "POST",
        f"{PATH}/converse-stream",
        signed(binary_stream([event("messageStart", {}), exception("throttlingException", "x")])),
        signed(binary_stream(text_stream("cut")[:-2])),
        signed(binary_stream([exception("validationException", "bad input")])),
    )  # fmt: skip
    async with signed_client(server) as client:
        for kind, match in (
            (RateLimitError, "throttlingException: x"),
            (APIResponseValidationError, "messageStop"),
            (BadRequestError, "bad input"),
        ):
            with pytest.raises(kind, match=match):
                async for _ in client.chat.completions.create(
                    model=MODEL, messages="hi", stream=True
                ):
                    pass


async def test_a_bedrock_api_key_is_a_bearer_token(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.script("POST", "/model/us.amazon.nova-lite-v1:0/converse",
                  json(200, answer([{"text": "ok"}])))  # fmt: skip
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    async with AsyncClient(provider="bedrock", base_url=server.url()) as client:
        await client.chat.completions.create(model="us.amazon.nova-lite-v1:0", messages="hi")
    sent = server.requests[0]
    assert sent.headers["Authorization"] == "Bearer bedrock-api-key"
    assert "X-Amz-Date" not in sent.headers


async def test_credentials_from_the_environment_and_none_at_all(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.script("POST", f"{PATH}/converse", signed(json(200, answer([{"text": "ok"}]))))
    async with AsyncClient(provider="bedrock", base_url=server.url(), max_retries=0) as client:
        with pytest.raises(MissingCredentialsError, match="AWS_BEARER_TOKEN_BEDROCK"):
            await client.chat.completions.create(model=MODEL, messages="hi")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
        monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
        monkeypatch.setenv("AWS_REGION", "us-west-2")
        result = await client.chat.completions.create(model=MODEL, messages="hi")
    assert result.choices[0].message.content == "ok"
    assert SECRET not in repr(server.requests[-1].headers)


# -- images ------------------------------------------------------------------------------------
async def test_images_from_nova_canvas_and_stability(server: FakeServer) -> None:
    png = base64.b64encode(PNG).decode()
    server.script(
        "POST", "/model/amazon.nova-canvas-v1:0/invoke",
        signed(json(200, {"images": [png, png], "error": None})),
    )  # fmt: skip
    server.script(
        "POST", "/model/stability.sd3-5-large-v1:0/invoke",
        signed(json(200, {"images": [png], "finish_reasons": [None], "seeds": [7]})),
        signed(json(200, {"images": [png], "finish_reasons": ["Filter reason: prompt"]})),
    )  # fmt: skip
    async with signed_client(server) as client:
        nova = await client.images.generate(
            model="amazon.nova-canvas-v1:0", prompt="a red fox", n=2, size="1024x768",
            quality="hd", response_format="b64_json",
        )  # fmt: skip
        stability = await client.images.generate(
            model="stability.sd3-5-large-v1:0", prompt="a fox", size="1792x1024",
            response_format="b64_json",
        )  # fmt: skip
        with pytest.raises(APIError, match="Filter reason"):
            await client.images.generate(model="stability.sd3-5-large-v1:0", prompt="x")
    assert [base64.b64decode(d.b64_json or "") for d in nova.data] == [PNG, PNG]
    assert base64.b64decode(stability.data[0].b64_json or "") == PNG
    assert server.requests[0].json == {
        "taskType": "TEXT_IMAGE",
        "textToImageParams": {"text": "a red fox"},
        "imageGenerationConfig": {"numberOfImages": 2, "width": 1024, "height": 768,
                                  "quality": "premium"},
    }  # fmt: skip
    assert server.requests[1].json == {
        "prompt": "a fox",
        "output_format": "png",
        "aspect_ratio": "16:9",
    }


async def test_json_output_rides_on_a_forced_tool(server: FakeServer) -> None:
    start = {"toolUse": {"toolUseId": "tooluse_j", "name": "json_response"}}
    frames = [
        event("messageStart", {"role": "assistant"}),
        event("contentBlockStart", {"contentBlockIndex": 0, "start": start}),
        event("contentBlockDelta", {"contentBlockIndex": 0,
                                    "delta": {"toolUse": {"input": '{"city": '}}}),
        event("contentBlockDelta", {"contentBlockIndex": 0,
                                    "delta": {"toolUse": {"input": '"Oslo"}'}}}),
        event("messageStop", {"stopReason": "tool_use"}),
    ]  # fmt: skip
    server.script("POST", f"{PATH}/converse-stream", signed(binary_stream(frames)))
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    async with signed_client(server) as client:
        chunks = await read_chunks(
            client.chat.completions.create(
                model=MODEL, messages="a city", stream=True,
                response_format={"type": "json_schema",
                                 "json_schema": {"name": "city", "schema": schema}},
            )
        )  # fmt: skip
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert jsonlib.loads(text) == {"city": "Oslo"}
    assert not any(c.choices[0].delta.tool_calls for c in chunks if c.choices)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    tool = server.requests[0].json["toolConfig"]
    assert tool["toolChoice"] == {"tool": {"name": "json_response"}}
    assert tool["tools"][0]["toolSpec"]["inputSchema"] == {"json": schema}


async def test_tool_choice_none_offers_no_tools_unless_the_history_used_them(
    server: FakeServer,
) -> None:
    server.script("POST", f"{PATH}/converse", signed(json(200, answer([{"text": "ok"}]))))
    call = {"id": "t1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "t1", "content": "sunny"},
    ]
    async with signed_client(server) as client:
        for messages in ("hi", history):
            await client.chat.completions.create(
                model=MODEL, messages=messages, tools=[WEATHER], tool_choice="none"
            )
    first, second = (r.json for r in server.requests)
    assert "toolConfig" not in first
    assert "toolChoice" not in second["toolConfig"] and second["toolConfig"]["tools"]


@pytest.mark.parametrize("model", [".", ".."])
async def test_a_model_id_cannot_name_another_path(server: FakeServer, model: str) -> None:
    async with signed_client(server) as client:
        with pytest.raises(InvalidRequestError, match="not a Bedrock model id"):
            await client.chat.completions.create(model=model, messages="hi")
    assert server.requests == []
