"""The seed's provider names: ``from polymux.Provider import BingCreateImages, OpenaiChat``."""

from __future__ import annotations

import importlib.util

import pytest

import polymux.Provider as P
from polymux import AsyncClient, UnsupportedCapabilityError
from polymux.providers.openai import AzureOpenAI, OpenAI
from polymux.providers.registry import resolve_providers
from tests.fakes import FakeServer
from tests.fakes.pollinations import smart_chat
from tests.fakes.server import json

PNG_B64 = "iVBORw0KGgo="


def test_seed_import_line_and_docstrings() -> None:
    from polymux.Provider import BingCreateImages, OpenaiChat

    assert issubclass(OpenaiChat, OpenAI)
    assert "OpenAI" in (OpenaiChat.__doc__ or "")
    assert issubclass(BingCreateImages, AzureOpenAI)
    doc = BingCreateImages.__doc__ or ""
    assert "Microsoft" in doc and "Azure OpenAI images API" in doc
    assert P.OpenaiAPI is OpenaiChat and P.PollinationsAI is P.Pollinations
    assert {"Ollama", "Pollinations", "Anthropic", "Groq"} <= set(dir(P))
    with pytest.raises(AttributeError):
        _ = P.NoSuchProvider


@pytest.mark.skipif(
    importlib.util.find_spec("polymux.providers.gemini") is None,
    reason="the Gemini provider has not landed yet",
)
def test_seed_gemini_is_the_gemini_provider() -> None:
    from polymux.Provider import Gemini
    from polymux.providers.gemini import Gemini as Native

    assert issubclass(Gemini, Native) and "Gemini" in (Gemini.__doc__ or "")


async def test_openai_chat_speaks_to_openai_compatible_servers() -> None:
    async with FakeServer() as server:
        server.script("POST", "/v1/chat/completions", smart_chat())
        provider = P.OpenaiChat(api_key="sk-test", base_url=server.url("/v1"))
        async with AsyncClient(provider=provider) as client:
            response = await client.chat.completions.create(model="gpt-4o-mini", messages="hi")
        assert response.choices[0].message.content == "echo: hi | turns: 1"
        assert response.provider == "OpenaiChat"
        assert server.requests[0].headers["Authorization"] == "Bearer sk-test"


async def test_bing_create_images_calls_azure_images_once_per_image() -> None:
    body = {"created": 1, "data": [{"b64_json": PNG_B64, "revised_prompt": "a cat, watercolor"}]}
    async with FakeServer() as server:
        path = "/openai/deployments/dall-e-3/images/generations"
        server.script("POST", path, json(200, body))
        image = P.BingCreateImages(api_key="az-key", base_url=server.url())
        [provider] = resolve_providers(image)
        async with AsyncClient(image_provider=provider, max_retries=0) as client:
            response = await client.images.generate(prompt="a cat", n=2)
            assert [d.revised_prompt for d in response.data] == ["a cat, watercolor"] * 2
            assert response.provider == "BingCreateImages"
            with pytest.raises(UnsupportedCapabilityError):
                await client.chat.completions.create(provider=provider, messages="hi")
        assert len(server.requests) == 2
        for sent in server.requests:
            assert sent.path == path and sent.query["api-version"]
            assert sent.headers["api-key"] == "az-key"
            assert sent.json["n"] == 1 and sent.json["model"] == "dall-e-3"
