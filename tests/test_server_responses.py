"""The gateway's Responses front door (``/v1/responses``), driven by the official ``openai``
SDK: create (whole and streamed, with the SDK's own stream helper), a two-turn tool loop
through ``previous_response_id``, ``responses.parse``, retrieve / delete / input_items with
responses stored per key, ``store: false``, the retention setting, and errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import openai
import pydantic
import pytest

from polymux.server.config import ProviderConfig
from polymux.server.limits import Limits
from polymux.server.store import Store

from .fakes import FakeServer
from .fakes import openai as fo
from .fakes import pollinations as smart_openai
from .fakes.brain import SAMPLE_STRING
from .fakes.server import json, sse
from .server_harness import LiveGateway, fake_config
from .support import WEATHER as CHAT_WEATHER

#: The chat tests' weather tool in the Responses shape, strict.
WEATHER = {"type": "function", **CHAT_WEATHER["function"], "strict": True}
WEATHER["parameters"] = {**WEATHER["parameters"], "additionalProperties": False}


class City(pydantic.BaseModel):
    city: str


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[LiveGateway]:
    with LiveGateway(tmp_path) as gateway:
        gateway.upstream.script("POST", fo.CHAT, smart_openai.smart_chat())
        yield gateway


def sdk(gw: LiveGateway, key: str = "unused") -> Any:  # Any: bodies are the wire's
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0)


def test_create_text(gw: LiveGateway) -> None:
    with sdk(gw) as client:
        response = client.responses.create(
            model="m1", input="hi", instructions="Be brief", metadata={"run": "1"}
        )
    assert response.output_text == "echo: hi | system: Be brief | turns: 1"
    assert response.status == "completed" and response.metadata == {"run": "1"}
    assert response.usage is not None and response.usage.total_tokens > 0
    (row,) = gw.usage_rows()
    assert row["endpoint"] == "/v1/responses" and row["status"] == 200
    assert row["model"] == "m1" and row["total_tokens"] == response.usage.total_tokens


def test_streamed_with_the_sdk_helper(gw: LiveGateway) -> None:
    with (
        sdk(gw) as client,
        client.responses.stream(model="m1", input="hello there") as stream,
    ):
        events = list(stream)
        final = stream.get_final_response()
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) > 1 and "".join(deltas) == "echo: hello there | turns: 1"
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert final.output_text == "echo: hello there | turns: 1"
    (row,) = gw.usage_rows()
    assert row["stream"] == 1 and row["total_tokens"] and row["ttft_ms"] is not None


@pytest.mark.parametrize("streamed", [False, True])
def test_tool_loop_through_previous_response_id(gw: LiveGateway, streamed: bool) -> None:
    with sdk(gw) as client:
        if streamed:
            with client.responses.stream(
                model="m1", input="weather in Paris?", tools=[WEATHER]
            ) as stream:
                first = stream.get_final_response()
        else:
            first = client.responses.create(model="m1", input="weather in Paris?", tools=[WEATHER])
        (call,) = [item for item in first.output if item.type == "function_call"]
        assert call.name == "get_weather"
        second = client.responses.create(
            model="m1",
            previous_response_id=first.id,
            tools=[WEATHER],
            input=[{"type": "function_call_output", "call_id": call.call_id, "output": "18C"}],
        )
    assert second.output_text == "tool said: 18C"
    sent = gw.upstream.requests[-1].json
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "tool"]


def test_parse_with_pydantic(gw: LiveGateway) -> None:
    with sdk(gw) as client:
        parsed = client.responses.parse(model="m1", input="where?", text_format=City)
    assert parsed.output_parsed == City(city=SAMPLE_STRING)
    sent = gw.upstream.requests[-1].json
    assert sent["response_format"]["type"] == "json_schema"


def test_retrieve_input_items_and_delete(gw: LiveGateway) -> None:
    with sdk(gw) as client:
        made = client.responses.create(
            model="m1",
            input=[
                {"role": "user", "content": "first"},
                {"role": "user", "content": [{"type": "input_text", "text": "second"}]},
            ],
        )
        got = client.responses.retrieve(made.id)
        assert got.id == made.id and got.output_text == made.output_text
        items = client.responses.input_items.list(made.id)
        texts = [i.content[0].text for i in items.data]
        assert texts == ["second", "first"]
        asc = client.responses.input_items.list(made.id, order="asc")
        assert [i.id for i in asc.data] == [i.id for i in reversed(items.data)]
        client.responses.delete(made.id)
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(made.id)
        with pytest.raises(openai.NotFoundError):
            client.responses.delete(made.id)
        with pytest.raises(openai.BadRequestError, match="names no stored response"):
            client.responses.create(model="m1", input="x", previous_response_id=made.id)


def test_store_false_is_not_kept(gw: LiveGateway) -> None:
    with sdk(gw) as client:
        made = client.responses.create(model="m1", input="x", store=False)
        assert made.store is False
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(made.id)


def test_each_key_sees_only_its_own(gw: LiveGateway) -> None:
    with Store(gw.db_path) as store:
        alice, bob = store.create_key("alice"), store.create_key("bob")
    with sdk(gw, alice) as client:
        made = client.responses.create(model="m1", input="secret")
        assert client.responses.retrieve(made.id).id == made.id
    with sdk(gw, bob) as client:
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(made.id)
        with pytest.raises(openai.BadRequestError):
            client.responses.create(model="m1", input="x", previous_response_id=made.id)


def _no_retention(upstream: FakeServer) -> Any:
    return replace(fake_config(upstream), responses_retention_days=0)


def test_retention_zero_keeps_nothing(tmp_path: Path) -> None:
    with LiveGateway(tmp_path, _no_retention) as gw:
        gw.upstream.script("POST", fo.CHAT, fo.reply("ok"))
        with sdk(gw) as client:
            made = client.responses.create(model="m1", input="x")
            with pytest.raises(openai.NotFoundError):
                client.responses.retrieve(made.id)


def test_errors_are_openai_shaped(gw: LiveGateway) -> None:
    with sdk(gw) as client:
        with pytest.raises(openai.BadRequestError, match="native web search"):
            client.responses.create(model="m1", input="x", tools=[{"type": "web_search"}])
        with pytest.raises(openai.BadRequestError, match="built-in 'code_interpreter'"):
            client.responses.create(
                model="m1", input="x", tools=[{"type": "code_interpreter", "container": "c"}]
            )
        with pytest.raises(openai.BadRequestError, match="unsupported field"):
            client.responses.create(model="m1", input="x", extra_body={"provider": "other"})
        gw.upstream.script("POST", fo.CHAT, fo.error(429, "slow down"))
        with pytest.raises(openai.RateLimitError, match="slow down"):
            client.responses.create(model="m1", input="x")
        with pytest.raises(openai.RateLimitError):
            client.responses.create(model="m1", input="x", stream=True)


# -- OpenAI itself upstream: passed through natively --------------------------------------------
def _openai_config(upstream: FakeServer) -> Any:
    provider = ProviderConfig(
        name="oa", type="openai", base_url=upstream.url("/v1"), api_key_env="POLYMUX_TEST_OA_KEY"
    )
    return replace(fake_config(upstream), providers=(provider,))


@pytest.fixture
def native(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveGateway]:
    monkeypatch.setenv("POLYMUX_TEST_OA_KEY", "sk-upstream")
    with LiveGateway(tmp_path, _openai_config) as gateway:
        gateway.upstream.script("POST", "/v1/responses", json(200, fo.responses_object()))
        yield gateway


def test_openai_upstream_gets_the_request_untranslated(native: LiveGateway) -> None:
    with Store(native.db_path) as store:
        alice, bob = store.create_key("alice"), store.create_key("bob")
    request = {
        "input": "weather in Paris?",
        "tools": [{"type": "web_search"}],
        "include": ["web_search_call.action.sources"],
        "reasoning": {"effort": "low", "summary": "auto"},
    }
    with sdk(native, alice) as client:
        response = client.responses.create(model="gpt-5", **request)
    assert response.output_text == "Sunny." and response.output[0].type == "web_search_call"
    (sent,) = native.upstream.requests
    assert sent.path == "/v1/responses"
    assert sent.json == {"model": "gpt-5", **request}
    assert sent.headers["Authorization"] == "Bearer sk-upstream"  # never the gateway key
    (row,) = native.usage_rows()
    assert row["provider"] == "oa" and row["total_tokens"] == 14 and row["key_name"] == "alice"

    native.upstream.script("GET", "/v1/responses/resp_native1", json(200, fo.responses_object()))
    with sdk(native, alice) as client:
        assert client.responses.retrieve("resp_native1").id == "resp_native1"
        client.responses.create(model="gpt-5", input="more", previous_response_id=response.id)
    with sdk(native, bob) as client:  # another key reaches none of it
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve("resp_native1")
        with pytest.raises(openai.BadRequestError, match="names no response of this key"):
            client.responses.create(model="gpt-5", input="x", previous_response_id=response.id)


def test_openai_upstream_stream_is_copied(native: LiveGateway) -> None:
    done = fo.responses_object("resp_s1")
    created = {**done, "status": "in_progress", "output": [], "usage": None}
    events = [
        {"type": "response.created", "sequence_number": 0, "response": created},
        {
            "type": "response.output_text.delta",
            "sequence_number": 1,
            "item_id": "msg_1",
            "output_index": 1,
            "content_index": 0,
            "delta": "Sunny.",
            "logprobs": [],
        },
        {"type": "response.completed", "sequence_number": 2, "response": done},
    ]
    native.upstream.script(
        "POST",
        "/v1/responses",
        sse([(e["type"], e) for e in events]),  # type: ignore[misc]
    )
    with sdk(native) as client:
        got = list(client.responses.create(model="gpt-5", input="x", stream=True))
    assert [e.model_dump(exclude_unset=True) for e in got] == events
    native.upstream.script("DELETE", "/v1/responses/resp_s1", json(200, {"deleted": True}))
    with sdk(native) as client:
        client.responses.delete("resp_s1")
        with pytest.raises(openai.NotFoundError):  # forgotten here once deleted there
            client.responses.retrieve("resp_s1")


def test_openai_upstream_errors_pass_through(native: LiveGateway) -> None:
    error = {"error": {"message": "bad tool", "type": "invalid_request_error", "param": "tools"}}
    native.upstream.script("POST", "/v1/responses", json(400, error))
    with sdk(native) as client, pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="gpt-5", input="x")
    assert caught.value.body == error["error"]


def test_gateway_limits_apply_to_responses_input(tmp_path: Path) -> None:
    def configure(upstream: FakeServer) -> Any:
        return replace(fake_config(upstream), limits=Limits(max_messages=2))

    with LiveGateway(tmp_path, configure) as gw, sdk(gw) as client:
        with pytest.raises(openai.BadRequestError, match="too many messages: 3"):
            client.responses.create(model="m1", input=[{"role": "user", "content": "x"}] * 3)
        assert not gw.upstream.requests
