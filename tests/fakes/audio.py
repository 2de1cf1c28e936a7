"""OpenAI's audio endpoints, for a FakeServer: ``/v1/audio/transcriptions`` and
``/v1/audio/translations`` (multipart uploads, answered in the asked ``response_format``) and
``/v1/audio/speech`` (audio bytes in several writes)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

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
