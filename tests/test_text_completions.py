"""``client.completions.create`` (the legacy text completion API): native on hosts that
serve ``/v1/completions``, translated onto chat elsewhere, streamed and not; and
``POST /v1/completions`` on a live gateway, driven by the official openai SDK. Every object
is checked with the SDK's ``Completion``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types import Completion as OpenAICompletion

from polymux import AsyncClient, UnsupportedCapabilityError
from polymux.providers.openai import OpenAI
from polymux.providers.vendors import VENDORS, vendor_class

from .fakes import FakeServer
from .fakes.completions import COMPLETIONS, answer_for, completions
from .fakes.openai import CHAT, reply, stream_text
from .server_harness import LiveGateway


def host(name: str, server: FakeServer) -> Any:
    cls = vendor_class(next(r for r in VENDORS if r.name == name))
    return cls(api_key="k", base_url=server.url("/v1"))


def checked(obj: Any) -> OpenAICompletion:
    return OpenAICompletion.model_validate(obj.model_dump())


def checked_chunk(obj: Any) -> OpenAICompletion:
    """A streamed chunk: the SDK's type (shared with whole answers) says finish_reason is
    always set, but OpenAI's own streams send null until a choice's last chunk."""
    data = obj.model_dump()
    for choice in data["choices"]:
        choice["finish_reason"] = choice["finish_reason"] or "stop"
    OpenAICompletion.model_validate(data)
    return obj  # type: ignore[no-any-return]


async def test_a_native_host_gets_the_raw_prompt_and_max_tokens_zero(server: FakeServer) -> None:
    server.script("POST", COMPLETIONS, completions())
    async with AsyncClient(provider=host("vllm", server)) as client:
        result = await client.completions.create(
            model="qwen", prompt="Once upon", max_tokens=0, suffix="END", temperature=0.2
        )
    sdk = checked(result)
    assert sdk.choices[0].text == answer_for("Once upon")
    assert sdk.choices[0].finish_reason == "length" and sdk.object == "text_completion"
    assert sdk.usage is not None and sdk.usage.total_tokens == 9
    sent = server.requests[0].json
    assert sent["prompt"] == "Once upon" and sent["max_tokens"] == 0 and sent["suffix"] == "END"
    assert "messages" not in sent and sent["temperature"] == 0.2


async def test_a_native_stream_arrives_as_completion_chunks(server: FakeServer) -> None:
    server.script("POST", COMPLETIONS, completions())
    async with AsyncClient(provider=host("llamacpp", server)) as client:
        stream = client.completions.create(model="m", prompt="Hi", stream=True)
        chunks = [checked_chunk(c) async for c in stream]
    assert "".join(c.choices[0].text for c in chunks if c.choices) == answer_for("Hi")
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert server.requests[0].json["stream"] is True


async def test_a_chat_only_host_answers_through_chat_with_echo(server: FakeServer) -> None:
    server.script("POST", CHAT, reply("a fine day"))
    async with AsyncClient(provider=host("groq", server)) as client:
        result = await client.completions.create(
            model="llama", prompt=["It is", "So"], echo=True, max_tokens=5
        )
    sdk = checked(result)
    assert [c.text for c in sdk.choices] == ["It isa fine day", "Soa fine day"]
    assert [c.index for c in sdk.choices] == [0, 1]
    assert sdk.usage is not None and sdk.usage.total_tokens == 30  # both calls summed
    sent = sorted(r.json["messages"][0]["content"] for r in server.requests)
    assert sent == ["It is", "So"]
    assert all(r.json["max_tokens"] == 5 and "echo" not in r.json for r in server.requests)


async def test_a_chat_only_stream_becomes_completion_chunks(server: FakeServer) -> None:
    server.script("POST", CHAT, stream_text(["Hel", "lo"]))
    async with AsyncClient(provider=host("groq", server)) as client:
        chunks = [
            checked_chunk(c)
            async for c in client.completions.create(model="m", prompt="x", stream=True)
        ]
    assert "".join(ch.text for c in chunks for ch in c.choices) == "Hello"
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_openai_chat_models_are_translated_and_instruct_models_native(
    server: FakeServer,
) -> None:
    server.script("POST", CHAT, reply("chat answer"))
    server.script("POST", COMPLETIONS, completions())
    async with AsyncClient(provider=OpenAI(api_key="k", base_url=server.url("/v1"))) as client:
        chat = await client.completions.create(model="gpt-4o-mini", prompt="p")
        native = await client.completions.create(model="gpt-3.5-turbo-instruct", prompt="p")
    assert chat.choices[0].text == "chat answer"
    assert native.choices[0].text == answer_for("p")
    assert [r.path for r in server.requests] == [CHAT, COMPLETIONS]


def test_native_only_fields_need_a_native_host() -> None:
    groq = vendor_class(next(r for r in VENDORS if r.name == "groq"))(api_key="k")
    with pytest.raises(UnsupportedCapabilityError, match="suffix"):
        _ = AsyncClient(provider=groq).completions.create(model="m", prompt="x", best_of=2)


def test_the_gateway_forwards_chat_limits_of_zero(tmp_path: Path) -> None:
    with LiveGateway(tmp_path) as gw:
        gw.upstream.script("POST", CHAT, reply(""))
        with openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0) as client:
            client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=0
            )
            client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], max_completion_tokens=0
            )
    sent = [r.json for r in gw.upstream.requests]
    assert sent[0]["max_tokens"] == 0 and sent[1]["max_completion_tokens"] == 0


def test_the_gateway_serves_v1_completions_to_the_sdk(tmp_path: Path) -> None:
    with LiveGateway(tmp_path) as gw:
        gw.upstream.script("POST", COMPLETIONS, completions())
        with openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0) as client:
            whole = client.completions.create(model="m", prompt="Tell", max_tokens=0)
            streamed = list(client.completions.create(model="m", prompt="Go", stream=True))
            with pytest.raises(openai.BadRequestError, match="prompt"):
                client.completions.create(model="m", prompt=[])
        rows = gw.usage_rows()
    assert whole.choices[0].text == answer_for("Tell")
    assert gw.upstream.requests[0].json["max_tokens"] == 0
    assert "".join(c.choices[0].text for c in streamed if c.choices) == answer_for("Go")
    assert all(c.usage is None for c in streamed)  # usage was not asked for
    assert [r["endpoint"] for r in rows] == ["/v1/completions"] * 3
    assert rows[0]["total_tokens"] == 9 and rows[1]["total_tokens"] == 9  # stream: logged too
    assert rows[2]["status"] == 400


async def test_an_empty_prompt_is_sent_as_it_is(server: FakeServer) -> None:
    server.script("POST", COMPLETIONS, completions())
    async with AsyncClient(provider=host("vllm", server)) as client:
        result = await client.completions.create(model="m", prompt="")
    assert result.choices[0].text == answer_for("")
    assert server.requests[0].json["prompt"] == ""
