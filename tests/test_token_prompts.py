"""Token-id prompts on the legacy completions API (``prompt: [1, 2, 3]`` or
``[[1, 2], [3]]``, as OpenAI's spec allows): sent as they are to hosts that serve
``/v1/completions``; for a model only served as chat, a typed 400 that says why, before
anything is sent. Through the client and the gateway (driven by the official openai SDK)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types import Completion as OpenAICompletion

from polymux import AsyncClient, InvalidRequestError, UnsupportedCapabilityError
from polymux.providers.vendors import VENDORS, vendor_class
from polymux.server.config import ProviderConfig

from .fakes import FakeServer
from .fakes.completions import COMPLETIONS, answer_for, completions
from .server_harness import LiveGateway, fake_config


def host(name: str, server: FakeServer) -> Any:
    cls = vendor_class(next(r for r in VENDORS if r.name == name))
    return cls(api_key="k", base_url=server.url("/v1"))


async def test_token_prompts_go_to_a_native_host_as_they_are(server: FakeServer) -> None:
    server.script("POST", COMPLETIONS, completions())
    async with AsyncClient(provider=host("vllm", server)) as client:
        one = await client.completions.create(model="qwen", prompt=[1, 2, 3], max_tokens=4)
        two = await client.completions.create(model="qwen", prompt=[[1, 2], [3]], n=1)
        echoed = await client.completions.create(model="qwen", prompt=[7, 8], echo=True)
        stream = await client.completions.create(model="qwen", prompt=[5], stream=True)
        streamed = "".join([c.choices[0].text async for c in stream if c.choices])
    OpenAICompletion.model_validate(one.model_dump())
    assert [c.text for c in one.choices] == [answer_for([1, 2, 3])]
    assert [(c.index, c.text) for c in two.choices] == [
        (0, answer_for([1, 2])),
        (1, answer_for([3])),
    ]
    # The host echoes a token prompt (it alone can turn ids into text); nothing is added here.
    assert echoed.choices[0].text == "<[7, 8]>" + answer_for([7, 8])
    assert streamed == answer_for([5])
    sent = [r.json["prompt"] for r in server.requests]
    assert sent == [[1, 2, 3], [1, 2], [3], [7, 8], [5]]
    assert server.requests[3].json["echo"] is True
    assert "messages" not in server.requests[0].json


async def test_a_chat_only_model_refuses_token_prompts_before_sending(server: FakeServer) -> None:
    async with AsyncClient(provider=host("groq", server)) as client:
        with pytest.raises(UnsupportedCapabilityError, match=r"token-id prompts .*completions"):
            _ = client.completions.create(model="llama", prompt=[1, 2, 3])
        bad: list[Any]
        for bad in ([1, "a"], [[1], "a"], [[]], [True, 2], [-1]):
            with pytest.raises(InvalidRequestError, match="token ids"):
                _ = client.completions.create(model="llama", prompt=bad)
    assert server.requests == []


def test_the_gateway_forwards_token_prompts_or_says_why_not(tmp_path: Path) -> None:
    with LiveGateway(tmp_path) as gw:  # an OpenAI-compatible host: it serves /v1/completions
        gw.upstream.script("POST", COMPLETIONS, completions())
        with openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0) as client:
            answer = client.completions.create(model="m", prompt=[[1, 2], [3]], max_tokens=2)
        assert [c.text for c in answer.choices] == [answer_for([1, 2]), answer_for([3])]
        assert [r.json["prompt"] for r in gw.upstream.requests] == [[1, 2], [3]]

    def chat_only(upstream: FakeServer) -> Any:
        groq = ProviderConfig(name="groq", type="groq", base_url=upstream.url("/v1"))
        return fake_config(upstream, providers=(groq,))

    with LiveGateway(tmp_path / "g", chat_only) as gw:
        with (
            openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0) as client,
            pytest.raises(openai.BadRequestError, match="token-id prompts"),
        ):
            client.completions.create(model="llama", prompt=[1, 2, 3])
        assert gw.upstream.requests == []
