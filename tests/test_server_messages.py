"""The gateway's Anthropic Messages front door (``/v1/messages``), driven by the official
``anthropic`` SDK (sync, async, streaming helpers, tool use, thinking), in front of an
OpenAI-compatible fake, a Gemini fake and an Anthropic fake (passed through untranslated).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2 as httpx
import pytest

from polymux.server import GatewayConfig
from polymux.server.config import ProviderConfig
from polymux.server.store import Store

from .fakes import FakeServer, smart_native
from .fakes import anthropic as fa
from .fakes import gemini as fg
from .fakes import openai as fo
from .fakes import pollinations as smart_openai
from .fakes.server import json, reset, sse_data
from .server_harness import LiveGateway

PNG = b"\x89PNG\r\n\x1a\n" + b"\x05" * 57
WEATHER = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
HI = [{"role": "user", "content": "hi"}]


def _config(upstream: FakeServer) -> GatewayConfig:
    """Three providers on one fake host: OpenAI-compatible (the default), Gemini and Anthropic,
    each reached by its prefix (``gemini/...``, ``claude/...``)."""
    return GatewayConfig(
        port=1,
        providers=(
            ProviderConfig(name="oai", type="openai-compatible", base_url=upstream.url("/v1")),
            ProviderConfig(
                name="gemini",
                type="gemini",
                base_url=upstream.url("/v1beta"),
                api_key_env="POLYMUX_TEST_GEMINI_KEY",
            ),
            ProviderConfig(
                name="claude",
                type="anthropic",
                base_url=upstream.url(),
                api_key_env="POLYMUX_TEST_ANTHROPIC_KEY",
            ),
        ),
        max_retries=0,
    )


@pytest.fixture
def gw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveGateway]:
    monkeypatch.setenv("POLYMUX_TEST_GEMINI_KEY", "gm-upstream")
    monkeypatch.setenv("POLYMUX_TEST_ANTHROPIC_KEY", "sk-ant-upstream")
    with LiveGateway(tmp_path, _config) as gateway:
        gateway.upstream.script("POST", fo.CHAT, smart_openai.smart_chat())
        for path in (fg.generate_path("gemini-2.5-flash"), fg.stream_path("gemini-2.5-flash")):
            gateway.upstream.script("POST", path, smart_native.gemini_smart())
        gateway.upstream.script("POST", fa.MESSAGES, smart_native.anthropic_smart())
        yield gateway


def sdk(gw: LiveGateway, **kwargs: Any) -> Any:  # Any: bodies are the wire's, not typed params
    return anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0, **kwargs)


def async_sdk(gw: LiveGateway) -> Any:
    return anthropic.AsyncAnthropic(base_url=gw.url, api_key="unused", max_retries=0)


MODELS = ["some-model", "gemini/gemini-2.5-flash"]


def _sent_chat(gw: LiveGateway) -> dict[str, Any]:
    (request,) = [r for r in gw.upstream.requests if r.path == fo.CHAT]
    return dict(request.json)


# -- text ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", MODELS)
def test_sync_text_with_system_blocks(gw: LiveGateway, model: str) -> None:
    with sdk(gw) as client:
        message = client.messages.create(
            model=model,
            max_tokens=100,
            system=[{"type": "text", "text": "Be brief", "cache_control": {"type": "ephemeral"}}],
            messages=[{"role": "user", "content": "hi"}],
        )
    assert message.content[0].type == "text"
    assert message.content[0].text == "echo: hi | system: Be brief | turns: 1"
    assert message.stop_reason == "end_turn" and message.role == "assistant"
    assert message.id.startswith("msg_")
    assert message.usage.output_tokens > 0 and message.usage.input_tokens > 0


def test_request_fields_reach_an_openai_upstream(gw: LiveGateway) -> None:
    with sdk(gw) as client:
        client.messages.create(
            model="some-model",
            max_tokens=77,
            messages=HI,
            stop_sequences=["END"],
            metadata={"user_id": "u-42"},
            # The SDK no longer types sampling parameters; older callers still send them.
            extra_body={"temperature": 0.5, "top_p": 0.9, "top_k": 3},
        )
    sent = _sent_chat(gw)
    assert sent["max_tokens"] == 77 and sent["stop"] == ["END"]
    assert sent["temperature"] == 0.5 and sent["top_p"] == 0.9 and sent["user"] == "u-42"
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert "top_k" not in sent  # no Chat Completions equivalent


async def test_async_client_and_images(gw: LiveGateway) -> None:
    image = {
        "type": "image",
        "source": {
            "type": "base64",
            "media_type": "image/png",
            "data": base64.b64encode(PNG).decode(),
        },
    }
    async with async_sdk(gw) as client:
        message = await client.messages.create(
            model="some-model",
            max_tokens=50,
            messages=[{"role": "user", "content": [{"type": "text", "text": "see"}, image]}],
        )
    assert message.content[0].type == "text"
    assert f"images: image/png:{len(PNG)}" in message.content[0].text


# -- streaming ------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", MODELS)
def test_streaming_helper_text_and_final_message(gw: LiveGateway, model: str) -> None:
    with (
        sdk(gw) as client,
        client.messages.stream(model=model, max_tokens=100, messages=HI) as stream,
    ):
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "echo: hi | turns: 1"
    assert final.content[0].type == "text" and final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0 and final.usage.input_tokens > 0


def test_raw_stream_event_sequence(gw: LiveGateway) -> None:
    body = {"model": "m", "max_tokens": 100, "messages": HI, "stream": True}
    with httpx.stream("POST", gw.url + "/v1/messages", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read().decode()
    names = [line[7:] for line in raw.splitlines() if line.startswith("event: ")]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"}
    with sdk(gw) as client:
        events = list(client.messages.create(model="m", max_tokens=9, messages=HI, stream=True))
    assert events[-2].type == "message_delta" and events[-2].delta.stop_reason == "end_turn"


async def test_async_streaming_helper(gw: LiveGateway) -> None:
    async with (
        async_sdk(gw) as client,
        client.messages.stream(model="some-model", max_tokens=100, messages=HI) as stream,
    ):
        pieces = [t async for t in stream.text_stream]
        final = await stream.get_final_message()
    assert len(pieces) > 1 and "".join(pieces) == "echo: hi | turns: 1"
    assert final.stop_reason == "end_turn"


# -- tools --------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("streamed", [False, True])
def test_two_turn_tool_loop(gw: LiveGateway, model: str, streamed: bool) -> None:
    ask = [{"role": "user", "content": "weather in Paris?"}]
    with sdk(gw) as client:
        if streamed:
            with client.messages.stream(
                model=model, max_tokens=100, messages=ask, tools=[WEATHER]
            ) as stream:
                first = stream.get_final_message()
        else:
            first = client.messages.create(
                model=model, max_tokens=100, messages=ask, tools=[WEATHER]
            )
        assert first.stop_reason == "tool_use"
        (call,) = [b for b in first.content if b.type == "tool_use"]
        assert call.name == "get_weather" and call.input == {"city": "Paris"}
        second = client.messages.create(
            model=model,
            max_tokens=100,
            tools=[WEATHER],
            messages=[
                *ask,
                {"role": "assistant", "content": first.content},
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18C"}],
                },
            ],
        )
    assert second.content[0].type == "text" and second.content[0].text == "tool said: 18C"
    assert second.stop_reason == "end_turn"


def test_tool_choice_maps_to_openai(gw: LiveGateway) -> None:
    with sdk(gw) as client:
        client.messages.create(
            model="some-model",
            max_tokens=10,
            messages=HI,
            tools=[WEATHER],
            tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        )
    sent = _sent_chat(gw)
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["parallel_tool_calls"] is False
    assert sent["tools"][0]["function"]["parameters"] == WEATHER["input_schema"]


# -- thinking and stop reasons (scripted OpenAI upstream) ---------------------------------------
def _script(gw: LiveGateway, *actions: Any) -> None:
    gw.upstream.script("POST", fo.CHAT, *actions)


def test_thinking_streams_as_thinking_blocks(gw: LiveGateway) -> None:
    _script(
        gw,
        sse_data(
            [
                fo.chunk({"role": "assistant", "reasoning_content": "Let me "}),
                fo.chunk({"reasoning_content": "think."}),
                fo.chunk({"content": "42"}),
                fo.chunk({}, "stop"),
                fo.chunk(
                    usage={"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14},
                    choices=False,
                ),
            ]
        ),
    )
    with (
        sdk(gw) as client,
        client.messages.stream(
            model="some-model",
            max_tokens=20000,
            messages=HI,
            thinking={"type": "enabled", "budget_tokens": 4000},
        ) as stream,
    ):
        events = list(stream)
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "Let me think."
    assert final.content[1].text == "42"
    deltas = [e.delta.type for e in events if e.type == "content_block_delta"]
    assert deltas == ["thinking_delta", "thinking_delta", "text_delta"]
    assert final.usage.input_tokens == 9 and final.usage.output_tokens == 5
    # A 4000-token budget asks the upstream for the effort that thinks at least that long.
    assert _sent_chat(gw)["reasoning_effort"] == "medium"


def test_thinking_in_a_whole_answer(gw: LiveGateway) -> None:
    body = fo.completion("42")
    body["choices"][0]["message"]["reasoning_content"] = "Because."
    _script(gw, json(200, body))
    with sdk(gw) as client:
        message = client.messages.create(
            model="some-model",
            max_tokens=5000,
            messages=HI,
            thinking={"type": "enabled", "budget_tokens": 1024},
        )
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == "Because."


@pytest.mark.parametrize(
    ("finish", "stop_reason"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("content_filter", "refusal")],
)
@pytest.mark.parametrize("streamed", [False, True])
def test_stop_reason_mapped_back(
    gw: LiveGateway, finish: str, stop_reason: str, streamed: bool
) -> None:
    if streamed:
        _script(gw, sse_data([fo.chunk({"content": "x"}), fo.chunk({}, finish)]))
    else:
        _script(gw, json(200, fo.completion("x", finish=finish)))
    with sdk(gw) as client:
        if streamed:
            with client.messages.stream(model="m", max_tokens=5, messages=HI) as stream:
                message = stream.get_final_message()
        else:
            message = client.messages.create(model="m", max_tokens=5, messages=HI)
    assert message.stop_reason == stop_reason


# -- errors -------------------------------------------------------------------------------------
def test_upstream_rate_limit_is_an_anthropic_error(gw: LiveGateway) -> None:
    _script(gw, fo.error(429, "slow down", headers={"retry-after": "3"}))
    with sdk(gw) as client, pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model="m", max_tokens=5, messages=HI)
    assert caught.value.body["type"] == "error"  # type: ignore[index]
    assert caught.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert "slow down" in caught.value.body["error"]["message"]  # type: ignore[index]


def test_bad_request_is_invalid_request_error(gw: LiveGateway) -> None:
    with sdk(gw) as client, pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="m", max_tokens=5, messages=[])
    body = caught.value.body
    assert body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "messages must be a non-empty array" in body["error"]["message"]  # type: ignore[index]


SEARCH_TOOL = {
    "type": "web_search_20250305",
    "name": "web_search",
    "max_uses": 2,
    "user_location": {"type": "approximate", "city": "Paris", "country": "FR"},
}


def test_server_tools_are_refused_outside_anthropic(gw: LiveGateway) -> None:
    with sdk(gw) as client:
        with pytest.raises(anthropic.BadRequestError) as caught:
            client.messages.create(
                model="m",
                max_tokens=5,
                messages=HI,
                tools=[{"type": "bash_20250124", "name": "bash"}],
            )
        assert "runs only on Anthropic models" in caught.value.body["error"]["message"]  # type: ignore[index]
        # web_search needs an upstream with a search of its own; a plain OpenAI-compatible
        # host has none.
        with pytest.raises(anthropic.BadRequestError, match="native web search"):
            client.messages.create(model="m", max_tokens=5, messages=HI, tools=[SEARCH_TOOL])
    assert not [r for r in gw.upstream.requests if r.path == fo.CHAT]


def test_web_search_server_tool_becomes_geminis_google_search(gw: LiveGateway) -> None:
    with sdk(gw) as client:
        message = client.messages.create(
            model="gemini/gemini-2.5-flash", max_tokens=50, messages=HI, tools=[SEARCH_TOOL]
        )
    assert message.content[0].type == "text" and message.content[0].text.startswith("echo: hi")
    (sent,) = [r for r in gw.upstream.requests if "gemini-2.5-flash" in r.path]
    assert sent.json["tools"] == [{"google_search": {}}]


def test_failure_mid_stream_is_an_error_event(gw: LiveGateway) -> None:
    chunks = [fo.chunk({"content": "par"}), fo.chunk({"content": "tial"})]
    _script(gw, sse_data(chunks, reset_after=2, delay=0.2))  # the answer starts first
    seen: list[str] = []

    def read() -> None:
        with sdk(gw) as client:
            for event in client.messages.create(model="m", max_tokens=5, messages=HI, stream=True):
                seen.append(event.type)

    with pytest.raises(anthropic.APIStatusError) as caught:
        read()
    assert seen[0] == "message_start" and "message_stop" not in seen
    assert caught.value.body["error"]["type"] == "api_error"  # type: ignore[index]


def test_keys_by_x_api_key_or_bearer(tmp_path: Path, gw: LiveGateway) -> None:
    with Store(gw.db_path) as store:
        key = store.create_key("claude-code")
    with sdk(gw) as client, pytest.raises(anthropic.AuthenticationError) as caught:
        client.messages.create(model="m", max_tokens=5, messages=HI)
    assert caught.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    keyed: Any = anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0)
    with keyed as client:
        assert client.messages.create(model="m", max_tokens=5, messages=HI).content
    bearer: Any = anthropic.Anthropic(base_url=gw.url, auth_token=key, max_retries=0)
    with bearer as client:
        assert client.messages.create(model="m", max_tokens=5, messages=HI).content
    rows = gw.usage_rows()
    assert [r["key_name"] for r in rows if r["status"] == 200] == ["claude-code"] * 2
    assert all(r["endpoint"] == "/v1/messages" for r in rows)


# -- count_tokens -------------------------------------------------------------------------------
def test_count_tokens_estimates_for_other_upstreams(gw: LiveGateway) -> None:
    with sdk(gw) as client:
        short = client.messages.count_tokens(model="m", messages=HI)
        longer = client.messages.count_tokens(
            model="m", messages=[{"role": "user", "content": "hi " * 400}], tools=[WEATHER]
        )
    assert 0 < short.input_tokens < longer.input_tokens


def test_count_tokens_passes_through_to_anthropic(gw: LiveGateway) -> None:
    gw.upstream.script("POST", "/v1/messages/count_tokens", json(200, {"input_tokens": 1234}))
    with sdk(gw) as client:
        counted = client.messages.count_tokens(model="claude/claude-haiku-4-5", messages=HI)
    assert counted.input_tokens == 1234
    (sent,) = [r for r in gw.upstream.requests if r.path == "/v1/messages/count_tokens"]
    assert sent.json == {"model": "claude-haiku-4-5", "messages": HI}


# -- Anthropic upstream: passed through ---------------------------------------------------------
REQUEST: dict[str, Any] = {
    "max_tokens": 300,
    "system": [{"type": "text", "text": "Be brief", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Use the tool.", "signature": "EqQBCgIYAhIM"},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"c": 1}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                {"type": "text", "text": "and?"},
            ],
        },
    ],
    "tools": [WEATHER, {"type": "web_search_20250305", "name": "web_search", "max_uses": 1}],
    "thinking": {"type": "enabled", "budget_tokens": 1024},
    "metadata": {"user_id": "u1"},
    "extra_body": {"top_k": 5},
}


@pytest.mark.parametrize("streamed", [False, True])
def test_round_trip_to_anthropic_equals_a_direct_call(gw: LiveGateway, streamed: bool) -> None:
    betas = ["prompt-caching-2024-07-31"]

    def call(base_url: str, model: str) -> Any:
        direct: Any = anthropic.Anthropic(
            base_url=base_url, api_key="sk-ant-upstream", max_retries=0
        )
        with direct as c:
            if streamed:
                with c.beta.messages.stream(model=model, betas=betas, **REQUEST) as stream:
                    return stream.get_final_message()
            return c.beta.messages.create(model=model, betas=betas, **REQUEST)

    direct = call(gw.upstream.url(), "claude-haiku-4-5")
    (sent_direct,) = [r for r in gw.upstream.requests if r.path == fa.MESSAGES]
    via = call(gw.url, "claude/claude-haiku-4-5")
    sent_via = [r for r in gw.upstream.requests if r.path == fa.MESSAGES][-1]
    assert sent_via.json == sent_direct.json  # field for field
    via_headers = {k.lower(): v for k, v in sent_via.headers.items()}
    direct_headers = {k.lower(): v for k, v in sent_direct.headers.items()}
    for name in ("anthropic-version", "anthropic-beta", "content-type"):
        assert via_headers[name] == direct_headers[name], name
    # The upstream key is the gateway's own; the caller's credential is never forwarded.
    assert direct_headers["authorization"] == "Bearer sk-ant-upstream"
    assert via_headers["x-api-key"] == "sk-ant-upstream" and "authorization" not in via_headers
    assert via.model_dump() == direct.model_dump()
    (row,) = [r for r in gw.usage_rows() if r["endpoint"] == "/v1/messages"]
    assert row["provider"] == "claude" and row["prompt_tokens"] > 0


def test_anthropic_error_bodies_pass_through(gw: LiveGateway) -> None:
    gw.upstream.script("POST", fa.MESSAGES, fa.error(529, "overloaded_error", "Overloaded"))
    with sdk(gw) as client, pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model="claude/claude-haiku-4-5", max_tokens=5, messages=HI)
    assert caught.value.status_code == 529
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
        "request_id": "req_011C",
    }


def test_anthropic_stream_cut_off_ends_with_an_error_event(gw: LiveGateway) -> None:
    events = fa.text_stream(["Hel", "lo"])
    gw.upstream.script("POST", fa.MESSAGES, fa.stream(events, reset_after=40))
    with (
        sdk(gw) as client,
        pytest.raises(anthropic.APIStatusError),
        client.messages.stream(
            model="claude/claude-haiku-4-5", max_tokens=5, messages=HI
        ) as stream,
    ):
        stream.get_final_message()


def test_upstream_reset_before_answer(gw: LiveGateway) -> None:
    _script(gw, reset())
    with sdk(gw) as client, pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model="m", max_tokens=5, messages=HI)
    assert caught.value.status_code == 502
    assert caught.value.body["error"]["type"] == "api_error"  # type: ignore[index]
