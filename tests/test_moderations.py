"""``client.moderations.create`` against OpenAI's wire format on 127.0.0.1, and
``POST /v1/moderations`` on a live gateway driven by the official openai SDK. Answers are
checked with the SDK's ``ModerationCreateResponse``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types import ModerationCreateResponse as OpenAIModeration

from polymux import AsyncClient, InvalidRequestError, UnsupportedCapabilityError
from polymux.providers.openai import OpenAI
from polymux.server.config import ProviderConfig

from .fakes import FakeServer
from .fakes.moderations import MODERATIONS, moderations
from .server_harness import LiveGateway, fake_config


def checked(response: Any) -> OpenAIModeration:
    return OpenAIModeration.model_validate(response.model_dump())


async def test_strings_and_parts_are_classified_in_order(server: FakeServer) -> None:
    server.script("POST", MODERATIONS, moderations())
    provider = OpenAI(api_key="sk-mod", base_url=server.url("/v1"))
    async with AsyncClient(provider=provider) as client:
        texts = await client.moderations.create(input=["a kind word", "I will kill it"])
        parts = await client.moderations.create(
            model="omni-moderation-2024-09-26",
            input=[
                {"type": "text", "text": "hello"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            ],
        )
    sdk = checked(texts)
    assert [r.flagged for r in sdk.results] == [False, True]
    assert sdk.results[1].categories.violence is True and texts.provider == "openai"
    assert server.requests[0].json == {
        "input": ["a kind word", "I will kill it"],
        "model": "omni-moderation-latest",  # the provider's default
    }
    assert len(checked(parts).results) == 1
    assert server.requests[1].json["model"] == "omni-moderation-2024-09-26"


@pytest.mark.parametrize("bad", ["", [], ["ok", ""], [{"type": "audio"}], [{"type": "text"}], 5])
def test_bad_input_is_refused_before_any_call(bad: Any) -> None:
    client = AsyncClient(provider=OpenAI(api_key="k", base_url="http://127.0.0.1:9"))
    with pytest.raises(InvalidRequestError, match="input"):
        _ = client.moderations.create(input=bad)


def test_providers_without_moderations_are_refused() -> None:
    client = AsyncClient(base_url="http://127.0.0.1:9")  # a compatible host: no moderations
    with pytest.raises(UnsupportedCapabilityError, match="moderations"):
        _ = client.moderations.create(input="x")


def test_the_gateway_serves_v1_moderations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_OPENAI_KEY", "sk-upstream")

    def configure(upstream: FakeServer) -> Any:
        openai_row = ProviderConfig(
            name="openai",
            type="openai",
            base_url=upstream.url("/v1"),
            api_key_env="FAKE_OPENAI_KEY",
        )
        return replace(fake_config(upstream), providers=(openai_row,))

    with LiveGateway(tmp_path, configure) as gw:
        gw.upstream.script("POST", MODERATIONS, moderations())
        with openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0) as client:
            answer = client.moderations.create(input="kill the process")
            with pytest.raises(openai.BadRequestError):
                client.moderations.create(input=[])
        rows = gw.usage_rows()
    assert answer.results[0].flagged is True
    assert gw.upstream.requests[0].headers["Authorization"] == "Bearer sk-upstream"
    assert [(r["endpoint"], r["status"]) for r in rows] == [
        ("/v1/moderations", 200),
        ("/v1/moderations", 400),
    ]
    assert rows[0]["provider"] == "openai"
