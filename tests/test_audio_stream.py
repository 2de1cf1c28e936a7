"""``stream=True`` transcriptions (gpt-4o-transcribe's SSE: ``transcript.text.delta`` ...
then ``transcript.text.done``): the client's async iterator of events that validate as the
openai SDK's ``TranscriptionStreamEvent``, and the gateway relaying the upstream's events
whole to the official openai SDK, the done event's tokens in the usage row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from aiohttp import web
from openai.types.audio import TranscriptionStreamEvent
from pydantic import TypeAdapter

from polymux import (
    APIResponseValidationError,
    AsyncClient,
    Client,
    UnsupportedCapabilityError,
)
from polymux.providers.openai import OpenAI
from polymux.providers.vendors import VENDORS, vendor_class

from .fakes import FakeServer
from .fakes.audio import STREAM_EVENTS, TRANSCRIPTIONS, transcription_stream
from .server_harness import LiveGateway

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 64
EVENT = TypeAdapter(TranscriptionStreamEvent)


def openai_at(server: FakeServer) -> OpenAI:
    return OpenAI(api_key="sk-audio", base_url=server.url("/v1"))


async def test_the_client_streams_sdk_shaped_events(server: FakeServer) -> None:
    seen: list[list[tuple[str, str]]] = []
    server.script("POST", TRANSCRIPTIONS, transcription_stream(seen))
    async with AsyncClient(provider=openai_at(server)) as client:
        events = [
            e
            async for e in client.audio.transcriptions.create(
                file=("a.wav", WAV), model="gpt-4o-transcribe", stream=True, include=["logprobs"]
            )
        ]
        awaited = await client.audio.transcriptions.create(
            file=WAV, model="gpt-4o-transcribe", stream=True
        )
        again = [e async for e in awaited]
    assert [e.model_dump() for e in events] == STREAM_EVENTS == [e.model_dump() for e in again]
    checked = [EVENT.validate_python(e.model_dump()) for e in events]
    assert "".join(e.delta for e in checked if e.type == "transcript.text.delta") == "Hello world"
    assert events[-1].usage is not None and events[-1].usage["total_tokens"] == 17
    fields = seen[0]
    assert ("stream", "true") in fields and ("include[]", "logprobs") in fields
    assert server.requests[0].headers["Accept"] == "text/event-stream"


async def test_a_stream_cut_before_its_done_event_is_an_error(server: FakeServer) -> None:
    seen: list[list[tuple[str, str]]] = []
    server.script("POST", TRANSCRIPTIONS, transcription_stream(seen, STREAM_EVENTS[:2]))
    async with AsyncClient(provider=openai_at(server)) as client:
        stream = client.audio.transcriptions.create(
            file=WAV, model="gpt-4o-transcribe", stream=True
        )
        got: list[Any] = []
        with pytest.raises(APIResponseValidationError, match=r"without transcript\.text\.done"):  # noqa: PT012
            async for event in stream:
                got.append(event)
    assert [e.delta for e in got] == ["Hello", " world"]


async def test_a_host_that_ignores_stream_gives_one_done_event(server: FakeServer) -> None:
    async def whole(request: web.Request) -> web.StreamResponse:  # whisper-1 ignores stream
        await request.read()
        return web.json_response({"text": "all of it", "usage": {"type": "duration", "seconds": 2}})

    server.script("POST", TRANSCRIPTIONS, whole)
    async with AsyncClient(provider=openai_at(server)) as client:
        events = [
            e
            async for e in client.audio.transcriptions.create(
                file=WAV, model="whisper-1", stream=True
            )
        ]
    assert [e.model_dump() for e in events] == [
        {"type": "transcript.text.done", "text": "all of it"}
    ]
    EVENT.validate_python(events[0].model_dump())


async def test_a_host_that_does_not_stream_is_a_typed_error(server: FakeServer) -> None:
    groq = vendor_class(next(r for r in VENDORS if r.name == "groq"))(
        api_key="gsk", base_url=server.url("/v1")
    )
    async with AsyncClient(provider=groq) as client:
        stream = client.audio.transcriptions.create(file=WAV, model="whisper-large-v3", stream=True)
        with pytest.raises(UnsupportedCapabilityError, match="groq does not take stream"):
            async for _ in stream:
                pass
    assert server.requests == []


def test_the_sync_client_streams(tmp_path: Path) -> None:
    with LiveGateway(tmp_path) as gw:
        seen: list[list[tuple[str, str]]] = []
        gw.upstream.script("POST", TRANSCRIPTIONS, transcription_stream(seen))
        provider = OpenAI(api_key="k", base_url=gw.upstream.url("/v1"))
        with Client(provider=provider) as client:
            events = list(
                client.audio.transcriptions.create(file=WAV, model="gpt-4o-transcribe", stream=True)
            )
    assert [e.model_dump() for e in events] == STREAM_EVENTS


def test_the_gateway_relays_the_stream_to_the_sdk(tmp_path: Path) -> None:
    seen: list[list[tuple[str, str]]] = []
    with LiveGateway(tmp_path) as gw:
        gw.upstream.script("POST", TRANSCRIPTIONS, transcription_stream(seen))
        with openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0) as client:
            stream = client.audio.transcriptions.create(
                file=("a.wav", WAV),
                model="gpt-4o-transcribe",
                stream=True,
                include=["logprobs"],
                chunking_strategy={"type": "server_vad", "threshold": 0.5},
            )
            events = list(stream)
        rows = gw.usage_rows()
    assert [e.model_dump(exclude_none=True) for e in events] == STREAM_EVENTS
    assert isinstance(events[-1], openai.types.audio.TranscriptionTextDoneEvent)
    fields = seen[0]
    assert ("stream", "true") in fields and ("include[]", "logprobs") in fields
    assert ("chunking_strategy[threshold]", "0.5") in fields
    ((row),) = rows
    assert (row["endpoint"], row["status"]) == ("/v1/audio/transcriptions", 200)
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (14, 3, 17)


def test_the_gateway_ends_a_broken_stream_with_an_error_event(tmp_path: Path) -> None:
    async def cut(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: " + json.dumps(STREAM_EVENTS[0]).encode() + b"\n\n")
        await response.write(b'data: {"type": "transcript.te')  # then the connection drops
        assert request.transport is not None
        request.transport.close()
        return response

    with LiveGateway(tmp_path) as gw:
        gw.upstream.script("POST", TRANSCRIPTIONS, cut)
        with openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0) as client:
            stream = client.audio.transcriptions.create(
                file=("a.wav", WAV), model="gpt-4o-transcribe", stream=True
            )
            # The half event is never relayed: the SDK reads the error event after it.
            with pytest.raises(openai.APIError, match="connection broke"):
                list(stream)
        rows = gw.usage_rows()
    assert (rows[0]["status"], rows[0]["stream"]) == (502, 1)


def test_the_gateway_answers_an_upstream_refusal_before_the_stream_as_json(
    tmp_path: Path,
) -> None:
    async def refuse(request: web.Request) -> web.StreamResponse:
        await request.read()
        error = {"message": "stream is not supported for whisper-1", "type": "invalid_request"}
        return web.json_response({"error": {**error, "param": "stream", "code": None}}, status=400)

    with LiveGateway(tmp_path) as gw:
        gw.upstream.script("POST", TRANSCRIPTIONS, refuse)
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0)
        with client, pytest.raises(openai.BadRequestError, match="not supported for whisper-1"):
            client.audio.transcriptions.create(file=("a.wav", WAV), model="whisper-1", stream=True)
        rows = gw.usage_rows()
    assert rows[0]["status"] == 400


def test_the_gateway_relays_a_host_that_ignores_stream_as_one_done_event(tmp_path: Path) -> None:
    async def whole(request: web.Request) -> web.StreamResponse:  # whisper-1 ignores stream
        await request.read()
        return web.json_response({"text": "all of it", "usage": {"type": "duration", "seconds": 2}})

    with LiveGateway(tmp_path) as gw:
        gw.upstream.script("POST", TRANSCRIPTIONS, whole)
        with openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0) as client:
            events = list(
                client.audio.transcriptions.create(
                    file=("a.wav", WAV), model="whisper-1", stream=True
                )
            )
    assert [e.model_dump(exclude_none=True) for e in events] == [
        {"type": "transcript.text.done", "text": "all of it"}
    ]
