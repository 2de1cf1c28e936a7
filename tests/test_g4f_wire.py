# g4f's keywords (conversation=, web_search=, media= ...) are deliberately not in the typed
# signature, so that a misspelled OpenAI keyword stays a type error; these tests pass them.
# mypy: disable-error-code="call-overload"
"""g4f's keywords reach the official providers as their own wire formats: what is sent to
fake OpenAI, Gemini, Anthropic and Pollinations servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import wave
from typing import Any

import pytest

from polymux import AsyncClient, Client
from polymux.Provider import Gemini, OpenaiChat, PollinationsAI
from tests.fakes import FakeServer
from tests.fakes import anthropic as ant
from tests.fakes import gemini as gem
from tests.fakes import openai as oai
from tests.fakes.server import Recorded, text
from tests.fakes.server import json as json_reply

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 24


def _wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 80)
    return out.getvalue()


async def test_audio_media_modalities_and_audio_go_to_openai(server: FakeServer) -> None:
    server.script("POST", oai.CHAT, oai.reply("transcribed"))
    client = AsyncClient(provider=OpenaiChat(api_key="k", base_url=server.url("/v1")))
    audio = io.BytesIO(_wav())
    response = await client.chat.completions.create(
        model="gpt-4o-audio-preview",
        messages="Transcribe this audio",
        media=[[audio, "audio.wav"], (PNG, "cat.png")],
        modalities=["text"],
        audio={"voice": "alloy", "format": "mp3"},
    )
    assert response.choices[0].message.content == "transcribed"
    body = server.requests[0].json
    parts = body["messages"][-1]["content"]
    assert [p["type"] for p in parts] == ["text", "input_audio", "image_url"]
    assert parts[1]["input_audio"]["format"] == "wav"
    assert body["modalities"] == ["text"] and body["audio"]["voice"] == "alloy"


async def test_web_search_is_each_providers_own(server: FakeServer) -> None:
    server.script("POST", oai.CHAT, oai.reply("found"))
    server.script("POST", gem.generate_path(), gem.reply("found"))
    server.script("POST", ant.MESSAGES, ant.reply("found"))
    openai = AsyncClient(provider=OpenaiChat(api_key="k", base_url=server.url("/v1")))
    await openai.chat.completions.create("news?", "gpt-4o-search-preview", web_search=True)
    gemini = AsyncClient(provider=Gemini(api_key="k", base_url=server.url()))
    await gemini.chat.completions.create("news?", "gemini-2.5-flash", web_search=True)
    anthropic = AsyncClient(provider="anthropic", api_key="k", base_url=server.url())
    await anthropic.chat.completions.create("news?", "claude-sonnet-4-20250514", web_search=True)
    sent = {r.path: r.json for r in server.requests}
    assert sent[oai.CHAT]["web_search_options"] == {}
    assert sent[gem.generate_path()]["tools"] == [{"google_search": {}}]
    assert sent[ant.MESSAGES]["tools"][0]["type"].startswith("web_search")
    with pytest.raises(ValueError, match="tools"):
        openai.chat.completions.create(
            "x",
            web_search=True,
            tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
        )


async def test_client_proxies_and_media_provider(server: FakeServer) -> None:
    client = AsyncClient(
        proxies={"https": "http://127.0.0.1:9"}, media_provider=PollinationsAI, provider="openai"
    )
    assert client.options.proxy == "http://127.0.0.1:9"
    assert [p.name for p in client._image_providers or ()] == ["pollinations"]


async def test_image_model_picks_its_provider_when_none_is_configured(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLLINATIONS_BASE_URL", server.url())
    server.script("GET", "/image/a cat", text(200, PNG, content_type="image/png"))
    response = await AsyncClient().images.generate(
        prompt="a cat", model="flux", response_format="b64_json", width=512, height=256
    )
    assert response.provider == "pollinations" and response.data[0].b64_json
    assert server.requests[0].query["width"] == "512"
    assert server.requests[0].query["height"] == "256"


def test_sync_client_keeps_g4f_shapes(server: FakeServer) -> None:
    # The sync client is a thin face of the async one: the same rules apply.
    with Client(provider="openai", api_key="k") as client, pytest.raises(TypeError):
        client.images.generate("a cat", "dall-e-3", colour="red")


async def test_openai_json_object_keeps_native_mode(server: FakeServer) -> None:
    # Official providers have a native JSON mode: the request says so, the text is untouched.
    server.script("POST", oai.CHAT, oai.reply('{"a": 1}'))
    client = AsyncClient(provider=OpenaiChat(api_key="k", base_url=server.url("/v1")))
    response = await client.chat.completions.create(
        "json please", "gpt-4o-mini", response_format={"type": "json_object"}
    )
    assert server.requests[0].json["response_format"] == {"type": "json_object"}
    assert response.choices[0].message.content == '{"a": 1}'


def _form(recorded: Recorded) -> dict[str, object]:
    """A multipart body parsed by the standard library's email parser."""
    from email.parser import BytesParser

    head = f"Content-Type: {recorded.headers['Content-Type']}\r\n\r\n".encode()
    message: Any = BytesParser().parsebytes(head + recorded.body)
    out: dict[str, object] = {}
    for part in message.get_payload():
        name = str(part.get_param("name", header="content-disposition"))
        out[name] = part.get_payload(decode=True)
        if part.get_filename():
            out[name + ":type"] = part.get_content_type()
    return out


async def test_create_variation_on_openai_uploads_to_the_edits_endpoint(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.script(
        "POST",
        "/v1/images/edits",
        json_reply(200, {"created": 1, "data": [{"b64_json": "iVBORw0KGgo="}]}),
    )
    client = AsyncClient(image_provider=OpenaiChat(api_key="k", base_url=server.url("/v1")))
    response = await client.images.create_variation(io.BytesIO(PNG), "cat.png", model="dall-e-3")
    # dall-e-3 does not edit: OpenAI's edit model answers, and the response says which.
    assert response.model == "gpt-image-1"
    assert "does not edit images with 'dall-e-3'" in caplog.text
    form = _form(server.requests[0])
    assert form["image"] == PNG and form["image:type"] == "image/png"
    assert form["prompt"] == b"Create a variation of this image"
    assert form["model"] == b"gpt-image-1"
    assert server.requests[0].headers["Authorization"] == "Bearer k"
    edited = await client.images.edit(image=[PNG, PNG], prompt="make it blue", model="dall-e-2")
    assert edited.model == "dall-e-2"
    assert server.requests[1].body.count(b'name="image[]"') == 2


async def test_edit_on_gemini_sends_the_image_inline(server: FakeServer) -> None:
    part = {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
    path = gem.generate_path("gemini-2.5-flash-image")
    server.script("POST", path, json_reply(200, gem.response([part])))
    client = AsyncClient(image_provider=Gemini(api_key="k", base_url=server.url()))
    response = await client.images.edit(image=PNG, prompt="add a hat")
    assert response.provider == "Gemini" and response.data[0].url
    parts = server.requests[0].json["contents"][0]["parts"]
    assert parts[0] == {"text": "add a hat"}
    assert parts[1]["inlineData"]["mimeType"] == "image/png"


async def test_edit_on_pollinations_needs_an_image_url(server: FakeServer) -> None:
    server.script("GET", "/image/remove background", text(200, PNG, content_type="image/png"))
    client = AsyncClient(image_provider=PollinationsAI(base_url=server.url()))
    response = await client.images.create_variation(
        "https://example.com/strawberry.jpg", prompt="remove background", model="kontext"
    )
    assert response.model == "kontext"
    assert server.requests[0].query["image"] == "https://example.com/strawberry.jpg"
    with pytest.raises(ValueError, match="URL"):
        await client.images.create_variation(PNG, prompt="remove background")


async def test_no_image_provider_that_edits_is_a_clear_error() -> None:
    from polymux import UnsupportedCapabilityError
    from polymux.providers import Provider
    from polymux.types import ImageRequest

    class OnlyGenerates(Provider):  # makes images from a prompt, takes none to change
        image_models = ["painter"]

        async def generate_images(self, request: ImageRequest) -> list[bytes]:
            return [PNG]

    client = AsyncClient(image_provider=OnlyGenerates())
    with pytest.raises(UnsupportedCapabilityError, match="edits images"):
        client.images.edit(image=PNG, prompt="x")


async def test_media_generate_makes_speech_with_openai(
    server: FakeServer, tmp_path: object
) -> None:
    from pathlib import Path

    mp3 = b"ID3\x04\x00fake-mp3"
    server.script("POST", "/v1/audio/speech", text(200, mp3, content_type="audio/mpeg"))
    client = Client(provider=OpenaiChat(api_key="k", base_url=server.url("/v1")))
    response = await asyncio.to_thread(
        client.media.generate,
        "Hello, this is a test.",
        model="gpt-4o-mini-tts",
        audio={"voice": "coral", "instructions": "cheerful"},
    )
    target = Path(str(tmp_path)) / "hello.mp3"
    response.data[0].save(target)
    assert target.read_bytes() == mp3
    sent = server.requests[0].json
    assert sent == {
        "model": "gpt-4o-mini-tts",
        "input": "Hello, this is a test.",
        "voice": "coral",
        "instructions": "cheerful",
        "response_format": "mp3",
    }
    # audio= without a model: OpenAI's default speech model
    await AsyncClient(provider=OpenaiChat(api_key="k", base_url=server.url("/v1"))).media.generate(
        "Hi", audio={"voice": "alloy", "format": "mp3"}
    )
    assert server.requests[1].json["model"] == "gpt-4o-mini-tts"
    client.close()
    with pytest.raises(ValueError, match="speech"):
        _ = AsyncClient(image_provider=PollinationsAI).media.generate("Hi", audio={"voice": "x"})
