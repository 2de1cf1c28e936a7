"""Pollinations against a fake Pollinations on 127.0.0.1: keyless and keyed text, images."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from openai.types import ImagesResponse as OpenAIImagesResponse
from openai.types.chat import ChatCompletion as OpenAICompletion
from openai.types.chat import ChatCompletionChunk as OpenAIChunk

from polymux import (
    APIError,
    APIResponseValidationError,
    AsyncClient,
    Client,
    InternalServerError,
    InvalidRequestError,
)
from polymux.providers.pollinations import Pollinations
from tests.fakes import FakeServer
from tests.fakes.pollinations import (
    GEN_CHAT,
    GEN_IMAGE_MODELS,
    GEN_MODELS,
    LEGACY_CHAT,
    LEGACY_TEXT_MODELS,
    image,
    models,
    read_echo,
    smart_chat,
)
from tests.fakes.server import json, text

PROMPT = "a white siamese cat & a dog / 100% ☀️"


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLLINATIONS_API_KEY", raising=False)
    monkeypatch.delenv("POLLINATIONS_BASE_URL", raising=False)


def keyless(server: FakeServer) -> Pollinations:
    """The keyless layout, with both legacy hosts on the fake server."""
    return Pollinations(text_url=server.url(), image_url=server.url())


def b64(data: Any) -> bytes:
    return base64.b64decode(data.b64_json)


# -- text ------------------------------------------------------------------------------------
async def test_keyless_text_posts_openai_body_to_the_legacy_endpoint() -> None:
    async with FakeServer() as server:
        server.script("POST", LEGACY_CHAT, smart_chat())
        async with AsyncClient(provider=keyless(server), max_retries=0) as client:
            response = await client.chat.completions.create(messages="hello", temperature=0.3)
        OpenAICompletion.model_validate(response.model_dump())
        assert response.choices[0].message.content == "echo: hello | turns: 1"
        assert response.provider == "pollinations"
        sent = server.requests[0]
        assert sent.json == {
            "model": "openai",
            "messages": [{"role": "user", "content": "hello"}],
            "temperature": 0.3,
        }
        assert "Authorization" not in sent.headers


@pytest.mark.parametrize("size", [1, 7, 50])
async def test_keyed_text_streams_from_the_current_api_with_a_bearer_key(size: int) -> None:
    async with FakeServer() as server:
        server.script("POST", GEN_CHAT, smart_chat(size))
        provider = Pollinations(api_key="sk_secret", base_url=server.url())
        async with AsyncClient(provider=provider, max_retries=0) as client:
            stream = await client.chat.completions.create(
                model="openai-large", messages="héllo", stream=True
            )
            chunks = [c async for c in stream]
        for c in chunks:
            OpenAIChunk.model_validate(c.model_dump())
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == "echo: héllo | turns: 1"
        assert server.requests[0].headers["Authorization"] == "Bearer sk_secret"
        assert server.requests[0].json["model"] == "openai-large"
        assert "sk_secret" not in repr(provider)


async def test_env_key_selects_the_current_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLLINATIONS_API_KEY", "pk_env")
    monkeypatch.setenv("POLLINATIONS_BASE_URL", "http://gen.example")
    provider = Pollinations()
    assert provider.uses_current_api
    assert provider.url("chat/completions") == "http://gen.example/v1/chat/completions"
    monkeypatch.delenv("POLLINATIONS_API_KEY")
    monkeypatch.delenv("POLLINATIONS_BASE_URL")
    assert Pollinations().url("chat/completions") == "https://text.pollinations.ai/openai"
    assert not Pollinations().uses_current_api


async def test_text_errors_are_typed() -> None:
    async with FakeServer() as server:
        server.script(
            "POST", LEGACY_CHAT, json(500, {"error": "Internal Server Error", "status": 500})
        )
        async with AsyncClient(provider=keyless(server), max_retries=0) as client:
            with pytest.raises(InternalServerError, match="Internal Server Error"):
                await client.chat.completions.create(messages="hi")


async def test_models_list_text_and_image_models_of_either_shape() -> None:
    async with FakeServer() as server:
        server.script(
            "GET", LEGACY_TEXT_MODELS, models([{"name": "openai", "tools": True}, "mistral"])
        )
        async with AsyncClient(
            provider=Pollinations(text_url=server.url(), image_url=server.url("/img"))
        ) as client:
            server.script("GET", "/img/models", models(["flux", "turbo"]))
            listed = await client.models.list()
        assert [m.id for m in listed.data] == ["openai", "mistral", "flux", "turbo"]

    async with FakeServer() as server:
        server.script("GET", GEN_MODELS, models({"object": "list", "data": [{"id": "openai"}]}))
        server.script("GET", GEN_IMAGE_MODELS, models([{"name": "flux", "aliases": []}]))
        provider = Pollinations(api_key="sk_x", base_url=server.url())
        async with AsyncClient(provider=provider) as client:
            listed = await client.models.list()
        assert [m.id for m in listed.data] == ["openai", "flux"]
        assert all(r.headers["Authorization"] == "Bearer sk_x" for r in server.requests)


# -- images ----------------------------------------------------------------------------------
async def test_keyless_image_puts_the_encoded_prompt_in_the_path_and_size_in_the_query() -> None:
    async with FakeServer() as server:
        server.script("GET", f"/prompt/{PROMPT}", image())
        async with AsyncClient(image_provider=keyless(server), max_retries=0) as client:
            response = await client.images.generate(
                prompt=PROMPT, size="512x768", response_format="b64_json", extra_body={"seed": 7}
            )
        OpenAIImagesResponse.model_validate(response.model_dump())
        echo = read_echo(b64(response.data[0]))
        assert echo["prompt"] == PROMPT
        # One path segment: "/" and "%" are escaped (aiohttp may leave "&" bare: same path).
        assert echo["raw_path"].startswith("/prompt/a%20white%20siamese%20cat%20")
        assert echo["raw_path"].endswith("%20dog%20%2F%20100%25%20%E2%98%80%EF%B8%8F")
        assert echo["query"] == {
            "model": "flux",
            "width": "512",
            "height": "768",
            "seed": "7",
            "nologo": "true",
            "private": "true",
        }
        assert echo["auth"] is None
        assert response.provider == "pollinations"


async def test_keyless_url_format_returns_the_public_image_url() -> None:
    async with FakeServer() as server:
        server.script("GET", "/prompt/a cat", image())
        async with AsyncClient(image_provider=keyless(server), max_retries=0) as client:
            response = await client.images.generate(
                prompt="a cat", model="turbo", extra_body={"seed": 3, "enhance": True}
            )
        url = response.data[0].url or ""
        assert url.startswith(server.url("/prompt/a%20cat?"))
        assert "model=turbo" in url and "seed=3" in url and "enhance=true" in url


async def test_keyed_image_uses_the_current_api_and_returns_data_not_a_keyless_url() -> None:
    async with FakeServer() as server:
        server.script("GET", "/image/a cat", image())
        provider = Pollinations(api_key="sk_img", base_url=server.url())
        async with AsyncClient(image_provider=provider, max_retries=0) as client:
            response = await client.images.generate(
                prompt="a cat", model="gptimage", quality="high"
            )
        url = response.data[0].url or ""
        assert url.startswith("data:image/png;base64,")
        echo = read_echo(base64.b64decode(url.partition(",")[2]))
        assert echo["auth"] == "Bearer sk_img"
        assert echo["query"]["model"] == "gptimage" and echo["query"]["quality"] == "high"
        assert "sk_img" not in str(server.requests[0].query)  # the key is a header, never the URL


async def test_n_images_are_fetched_concurrently_with_distinct_seeds(tmp_path: Path) -> None:
    arrived = 0
    all_here = asyncio.Event()

    async def barrier(request: web.Request) -> web.StreamResponse:
        # Each request waits for all three: sequential calls would never get past the first.
        nonlocal arrived
        arrived += 1
        if arrived == 3:
            all_here.set()
        await asyncio.wait_for(all_here.wait(), 3)
        return await image()(request)

    async with FakeServer() as server:
        server.script("GET", "/prompt/cats", barrier)
        async with AsyncClient(image_provider=keyless(server), max_retries=0) as client:
            response = await client.images.generate(
                prompt="cats", n=3, response_format="b64_json", save_to=tmp_path
            )
        seeds = {read_echo(b64(d))["query"]["seed"] for d in response.data}
        assert len(response.data) == 3 and len(seeds) == 3
        paths = [Path(d.path or "") for d in response.data]
        saved = await asyncio.to_thread(lambda: sorted(p.name for p in tmp_path.iterdir()))
        assert saved == sorted(p.name for p in paths)
        for d, p in zip(response.data, paths):
            assert p.parent == tmp_path and p.suffix == ".png"
            assert await asyncio.to_thread(p.read_bytes) == b64(d)
        OpenAIImagesResponse.model_validate(response.model_dump())


def test_sync_client_saves_images(tmp_path: Path) -> None:
    async def serve() -> None:
        async with FakeServer() as server:
            server.script("GET", "/prompt/sync cat", image())

            def run() -> list[str]:
                with Client(image_provider=keyless(server), max_retries=0) as client:
                    response = client.images.generate(prompt="sync cat", n=2, save_to=str(tmp_path))
                    return [d.path or "" for d in response.data]

            paths = await asyncio.to_thread(run)
            assert len(set(paths)) == 2
            assert all(await asyncio.to_thread(lambda: [os.path.isfile(p) for p in paths]))

    asyncio.run(serve())


async def test_image_failures_are_typed() -> None:
    async with FakeServer() as server:
        server.script(
            "GET", "/prompt/html", text(200, "<html>busy</html>", content_type="text/html")
        )
        headers = {"x-error-type": "Content moderation"}
        server.script("GET", "/prompt/flagged", image(200, "image/png", **headers))
        server.script("GET", "/prompt/video", image(content_type="video/mp4"))
        server.script("GET", "/prompt/down", json(502, {"error": "Bad gateway"}))
        async with AsyncClient(image_provider=keyless(server), max_retries=0) as client:
            with pytest.raises(APIResponseValidationError, match="not an image"):
                await client.images.generate(prompt="html")
            with pytest.raises(APIError, match="Content moderation"):
                await client.images.generate(prompt="flagged")
            with pytest.raises(APIResponseValidationError, match="video"):
                await client.images.generate(prompt="video")
            with pytest.raises(InternalServerError, match="Bad gateway"):
                await client.images.generate(prompt="down")


async def test_an_overlong_prompt_is_refused_before_any_request() -> None:
    async with FakeServer() as server:
        async with AsyncClient(image_provider=keyless(server), max_retries=0) as client:
            with pytest.raises(InvalidRequestError, match="too long"):
                await client.images.generate(prompt="☀" * 2000)
        assert server.requests == []


async def test_registered_by_name() -> None:
    async with AsyncClient(provider="pollinations") as client:
        assert isinstance(client.providers[0], Pollinations)
