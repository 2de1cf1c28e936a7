"""``audio.transcriptions.create`` takes the OpenAI SDK's whole keyword list: its further
fields (``include``, ``chunking_strategy``, ``known_speaker_*`` ...) reach an OpenAI-wire
upstream spelled exactly as the official SDK spells them in its form (both are sent to the
same fake host and their fields compared, read by aiohttp's multipart reader); a host that
does not take one is a typed error naming it, and a keyword the SDK does not have is one too.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest

from polymux import AsyncClient, InvalidRequestError, UnsupportedCapabilityError
from polymux.providers.openai import OpenAI
from polymux.providers.vendors import VENDORS, vendor_class

from .fakes import FakeServer
from .fakes.audio import TRANSCRIPTIONS, transcription_fields

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 64

FIELDS: dict[str, Any] = {
    "include": ["logprobs"],
    "chunking_strategy": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300},
    "known_speaker_names": ["agent", "customer"],
    "known_speaker_references": ["data:audio/wav;base64,UklGRg==", "data:audio/wav;base64,AA=="],
    "keywords": ["Ada", "Lovelace"],
    "languages": ["en", "fr"],
    "language": "en",
    "prompt": "names",
    "temperature": 0.2,
    "timestamp_granularities": ["segment"],
    "response_format": "json",
}


async def test_the_sdks_fields_are_sent_as_the_sdk_sends_them(server: FakeServer) -> None:
    seen: list[list[tuple[str, str]]] = []
    server.script("POST", TRANSCRIPTIONS, transcription_fields(seen))
    provider = OpenAI(api_key="k", base_url=server.url("/v1"))
    async with AsyncClient(provider=provider) as client:
        ours = await client.audio.transcriptions.create(
            file=("a.wav", WAV), model="gpt-4o-transcribe", **FIELDS
        )
        await client.audio.transcriptions.create(
            file=("a.wav", WAV), model="gpt-4o-transcribe", chunking_strategy="auto", stream=False
        )
    async with openai.AsyncOpenAI(api_key="k", base_url=server.url("/v1")) as sdk:
        theirs = await sdk.audio.transcriptions.create(
            file=("a.wav", WAV), model="gpt-4o-transcribe", **FIELDS
        )
    assert ours.text == theirs.text == "ok"
    mine, auto, official = seen
    assert sorted(mine) == sorted(official)
    assert ("chunking_strategy[threshold]", "0.5") in mine
    assert [v for k, v in mine if k == "known_speaker_names[]"] == ["agent", "customer"]
    assert ("chunking_strategy", "auto") in auto
    assert not any(k.startswith("stream") for k, _ in auto)  # stream=False is not sent


async def test_a_host_that_does_not_take_a_field_is_a_typed_error(server: FakeServer) -> None:
    seen: list[list[tuple[str, str]]] = []
    server.script("POST", TRANSCRIPTIONS, transcription_fields(seen))
    groq = vendor_class(next(r for r in VENDORS if r.name == "groq"))(
        api_key="gsk", base_url=server.url("/v1")
    )
    async with AsyncClient(provider=groq) as client:
        with pytest.raises(UnsupportedCapabilityError, match="groq does not take include"):
            await client.audio.transcriptions.create(
                file=WAV, model="whisper-large-v3", include=["logprobs"]
            )
        plain = await client.audio.transcriptions.create(file=WAV, model="whisper-large-v3")
    assert plain.text == "ok"  # type: ignore[union-attr]
    assert len(seen) == 1  # the refused call sent nothing


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"includes": ["logprobs"]}, "takes no includes"),
        ({"extra_query": {"a": "b"}}, "takes no extra_query"),
        ({"include": "logprobs"}, "include must be a list of strings"),
        ({"known_speaker_names": ["a", 1]}, "known_speaker_names must be a list of strings"),
        ({"chunking_strategy": "manual"}, "chunking_strategy must be"),
        ({"stream": "yes"}, "stream must be True or False"),
    ],
)
def test_bad_fields_are_refused(kwargs: dict[str, Any], message: str) -> None:
    client = AsyncClient(provider=OpenAI(api_key="k", base_url="http://127.0.0.1:9"))
    with pytest.raises(InvalidRequestError, match=message):
        _ = client.audio.transcriptions.create(file=WAV, model="gpt-4o-transcribe", **kwargs)


def test_translations_take_only_the_sdks_translation_keywords() -> None:
    client = AsyncClient(provider=OpenAI(api_key="k", base_url="http://127.0.0.1:9"))
    with pytest.raises(InvalidRequestError, match=r"translations\.create\(\) takes no include"):
        _ = client.audio.translations.create(file=WAV, model="whisper-1", include=["logprobs"])
