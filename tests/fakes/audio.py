"""OpenAI's audio endpoints, for a FakeServer: ``/v1/audio/transcriptions`` and
``/v1/audio/translations`` (multipart uploads, answered in the asked ``response_format``) and
``/v1/audio/speech`` (audio bytes in several writes)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, StreamReader, web
from aiohttp.base_protocol import BaseProtocol

from .image_edits import read_form
from .server import Action

TRANSCRIPTIONS = "/v1/audio/transcriptions"
TRANSLATIONS = "/v1/audio/translations"
SPEECH = "/v1/audio/speech"
AUDIO = b"\xff\xfb\x90\x00" + bytes(range(256)) * 40  # an MP3 frame header, then noise


def heard(filename: str, size: int) -> str:
    return f"heard {size} bytes of {filename}"


def transcriptions(forms: list[dict[str, Any]]) -> Action:
    async def act(request: web.Request) -> web.StreamResponse:
        form = await read_form(request)
        forms.append(form)
        ((filename, _, size),) = form["file"]
        text = heard(filename, size)
        fmt = form.get("response_format", "json")
        if fmt == "text":
            return web.Response(text=text + "\n", content_type="text/plain")
        if fmt in ("srt", "vtt"):
            return web.Response(text=f"1\n00:00:00,000 --> 00:00:03,500\n{text}\n")
        if fmt == "verbose_json":
            segment = {
                "id": 0,
                "seek": 0,
                "start": 0.0,
                "end": 3.5,
                "text": text,
                "tokens": [1, 2],
                "temperature": 0.0,
                "avg_logprob": -0.2,
                "compression_ratio": 1.1,
                "no_speech_prob": 0.01,
            }
            return web.json_response(
                {
                    "task": "transcribe",
                    "language": "english",
                    "duration": 3.5,
                    "text": text,
                    "segments": [segment],
                    "words": [{"word": "heard", "start": 0.0, "end": 0.4}],
                }
            )
        return web.json_response({"text": text, "usage": {"type": "duration", "seconds": 4}})

    return act


def speech(bodies: list[dict[str, Any]]) -> Action:
    async def act(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        bodies.append(body)
        response = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
        await response.prepare(request)
        for i in range(0, len(AUDIO), 1000):
            await response.write(AUDIO[i : i + 1000])
        await response.write_eof()
        return response

    return act


async def multipart_fields(request: web.Request) -> list[tuple[str, str]]:
    """A multipart body's text fields in order, read by aiohttp's own multipart reader
    (the server read the body already: the reader gets it again from a fresh stream);
    a file part is ``(name, "<file filename>")``."""
    loop = asyncio.get_running_loop()
    stream = StreamReader(BaseProtocol(loop), 2**16, loop=loop)
    stream.feed_data(await request.read())
    stream.feed_eof()
    fields: list[tuple[str, str]] = []
    reader = MultipartReader(request.headers, stream)
    while (part := await reader.next()) is not None:
        assert isinstance(part, BodyPartReader) and part.name is not None
        if part.filename is None:
            fields.append((part.name, await part.text()))
        else:
            await part.read()
            fields.append((part.name, f"<file {part.filename}>"))
    return fields


def transcription_fields(seen: list[list[tuple[str, str]]]) -> Action:
    """Each request's fields (``multipart_fields``); answers a plain transcription."""

    async def act(request: web.Request) -> web.StreamResponse:
        seen.append(await multipart_fields(request))
        return web.json_response({"text": "ok", "usage": {"type": "duration", "seconds": 1}})

    return act


#: gpt-4o-transcribe's streamed answer, as OpenAI sends it: ``data:`` lines only (no event
#: names, no [DONE]), deltas with logprobs when ``include[]=logprobs``, then the done event
#: with the whole text and the token usage.
STREAM_EVENTS: list[dict[str, Any]] = [
    {
        "type": "transcript.text.delta",
        "delta": "Hello",
        "logprobs": [{"token": "Hello", "logprob": -0.01, "bytes": [72, 101, 108, 108, 111]}],
    },
    {
        "type": "transcript.text.delta",
        "delta": " world",
        "logprobs": [{"token": " world", "logprob": -0.2, "bytes": [32, 119, 111, 114, 108, 100]}],
    },
    {
        "type": "transcript.text.done",
        "text": "Hello world",
        "logprobs": [
            {"token": "Hello", "logprob": -0.01, "bytes": [72, 101, 108, 108, 111]},
            {"token": " world", "logprob": -0.2, "bytes": [32, 119, 111, 114, 108, 100]},
        ],
        "usage": {
            "type": "tokens",
            "input_tokens": 14,
            "input_token_details": {"text_tokens": 0, "audio_tokens": 14},
            "output_tokens": 3,
            "total_tokens": 17,
        },
    },
]


def transcription_stream(
    seen: list[list[tuple[str, str]]], events: list[dict[str, Any]] | None = None
) -> Action:
    """A streamed transcription (``STREAM_EVENTS`` unless given) written in small pieces
    that cut events and lines apart; records each request's fields."""

    async def act(request: web.Request) -> web.StreamResponse:
        seen.append(await multipart_fields(request))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        data = b"".join(
            b"data: " + json.dumps(e).encode() + b"\n\n" for e in events or STREAM_EVENTS
        )
        for i in range(0, len(data), 37):
            await response.write(data[i : i + 37])
        await response.write_eof()
        return response

    return act
