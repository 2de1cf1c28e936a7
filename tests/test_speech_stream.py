"""Speech streamed as it arrives: ``client.audio.speech.with_streaming_response`` (the openai
SDK's shape) and the gateway's ``/v1/audio/speech``, which passes the upstream's audio on
piece by piece instead of buffering it, and cuts the transfer when the upstream breaks off
(the caller gets an error, never a short file that looks whole)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import openai
import pytest
from aiohttp import web

from polymux import APIConnectionError, AsyncClient
from polymux.client.audio import SpeechStream
from polymux.providers.openai import OpenAI

from .fakes import FakeServer
from .fakes.audio import AUDIO, SPEECH
from .server_harness import LiveGateway

HALF = len(AUDIO) // 2


def _held_speech(released: threading.Event) -> Any:
    """Sends half the audio, then waits until the test has received it through the gateway
    (a gateway that buffered would never pass it on: the upstream then gives up and breaks
    the answer off, and the test fails instead of hanging)."""

    async def act(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
        await response.prepare(request)
        await response.write(AUDIO[:HALF])
        if not await asyncio.to_thread(released.wait, 20):
            assert request.transport is not None
            request.transport.close()
            return response
        await response.write(AUDIO[HALF:])
        await response.write_eof()
        return response

    return act


async def _broken_speech(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
    await response.prepare(request)
    await response.write(AUDIO[:HALF])
    assert request.transport is not None
    request.transport.close()  # the upstream dies mid-answer
    return response


def test_the_gateway_passes_speech_on_as_it_arrives(tmp_path: Path) -> None:
    released = threading.Event()
    target = tmp_path / "spoken.mp3"
    with LiveGateway(tmp_path) as gw:
        gw.upstream.script("POST", SPEECH, _held_speech(released))
        with openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0) as client:
            speech = client.audio.speech.with_streaming_response
            with speech.create(model="tts-1", input="hi", voice="alloy") as response:
                assert response.headers["content-type"] == "audio/mpeg"
                pieces = response.iter_bytes()
                got = b""
                while len(got) < HALF:  # all of it arrives while the upstream still holds
                    got += next(pieces)
                released.set()
                got += b"".join(pieces)
            assert got == AUDIO
            with speech.create(model="tts-1", input="again", voice="alloy") as response:
                response.stream_to_file(target)
            assert target.read_bytes() == AUDIO
            gw.upstream.script("POST", SPEECH, _broken_speech)
            with (
                # The SDK's HTTP library reports the cut transfer (its own exception type).
                pytest.raises(Exception, match=r"incomplete|peer closed"),
                speech.create(model="tts-1", input="cut", voice="alloy") as response,
            ):
                response.read()
        rows = gw.usage_rows()
    assert [(r["endpoint"], r["status"]) for r in rows][:2] == [
        ("/v1/audio/speech", 200),
        ("/v1/audio/speech", 200),
    ]
    assert rows[2]["status"] >= 500 and rows[2]["provider"]  # the break is logged as such


async def test_the_client_streams_speech_to_a_file_or_in_pieces(
    server: FakeServer, tmp_path: Path
) -> None:
    server.script("POST", SPEECH, _broken_speech)
    provider = OpenAI(api_key="k", base_url=server.url("/v1"))
    target = tmp_path / "out.mp3"
    async with AsyncClient(provider=provider, max_retries=0) as client:
        speech = client.audio.speech.with_streaming_response
        released = threading.Event()
        released.set()
        server.script("POST", SPEECH, _held_speech(released))
        async with speech.create(model="tts-1", input="hi", voice="alloy") as response:
            assert isinstance(response, SpeechStream) and response.provider == "openai"
            pieces = [p async for p in response.iter_bytes(chunk_size=1000)]
        assert b"".join(pieces) == AUDIO and max(map(len, pieces)) <= 1000
        async with speech.create(model="tts-1", input="hi", voice="alloy") as response:
            await response.stream_to_file(target)
        assert target.read_bytes() == AUDIO
        server.script("POST", SPEECH, _broken_speech)
        with pytest.raises(APIConnectionError):
            async with speech.create(model="tts-1", input="x", voice="alloy") as response:
                await response.read()
        assert isinstance(response.failure, APIConnectionError)


async def test_the_sync_client_streams_speech_in_a_with_block(
    server: FakeServer, tmp_path: Path
) -> None:
    from polymux import Client

    released = threading.Event()
    released.set()
    server.script("POST", SPEECH, _held_speech(released))
    target = tmp_path / "sync.mp3"

    def use() -> tuple[list[bytes], bytes, str]:
        provider = OpenAI(api_key="k", base_url=server.url("/v1"))
        with Client(provider=provider, max_retries=0) as client:
            speech = client.audio.speech
            with speech.with_streaming_response.create(
                model="tts-1", input="hi", voice="alloy"
            ) as response:
                pieces = list(response.iter_bytes(chunk_size=4096))
                media_type = response.media_type
            with speech.with_streaming_response.create(
                model="tts-1", input="hi", voice="alloy"
            ) as response:
                response.stream_to_file(target)
            whole = speech.create(model="tts-1", input="hi", voice="alloy").content
        return pieces, whole, media_type

    pieces, whole, media_type = await asyncio.to_thread(use)
    assert b"".join(pieces) == AUDIO == whole == target.read_bytes()
    assert max(map(len, pieces)) <= 4096 and media_type == "audio/mpeg"
