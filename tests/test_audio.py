"""``client.audio``: transcriptions and translations (multipart uploads of a path, bytes or a
file) and speech (bytes, or streamed to a file) against OpenAI's wire format on 127.0.0.1,
and the gateway's ``/v1/audio/*`` driven by the official openai SDK. Objects are checked with
the SDK's ``Transcription`` / ``TranscriptionVerbose``."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.audio import Transcription as OpenAITranscription
from openai.types.audio import TranscriptionVerbose

from polymux import AsyncClient, Client, InvalidRequestError, UnsupportedCapabilityError
from polymux.client import audio as audio_module
from polymux.providers.openai import OpenAI
from polymux.providers.vendors import VENDORS, vendor_class
from polymux.types import Transcription

from .fakes import FakeServer
from .fakes.audio import AUDIO, SPEECH, TRANSCRIPTIONS, TRANSLATIONS, heard, speech, transcriptions
from .server_harness import LiveGateway

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 64


def openai_at(server: FakeServer) -> OpenAI:
    return OpenAI(api_key="sk-audio", base_url=server.url("/v1"))


async def test_a_path_is_uploaded_with_every_field(server: FakeServer, tmp_path: Path) -> None:
    forms: list[dict[str, Any]] = []
    server.script("POST", TRANSCRIPTIONS, transcriptions(forms))
    clip = tmp_path / "meeting.wav"
    clip.write_bytes(WAV)
    async with AsyncClient(provider=openai_at(server)) as client:
        result = await client.audio.transcriptions.create(
            file=clip,
            model="whisper-1",
            language="en",
            prompt="names: Ada",
            temperature=0.2,
            timestamp_granularities=["word", "segment"],
            response_format="verbose_json",
        )
    assert isinstance(result, Transcription)
    verbose = TranscriptionVerbose.model_validate(result.model_dump())
    assert verbose.text == heard("meeting.wav", len(WAV)) and verbose.duration == 3.5
    assert result.provider == "openai"
    (form,) = forms
    assert form["file"] == [("meeting.wav", "audio/x-wav", len(WAV))]
    assert (form["model"], form["language"], form["prompt"], form["temperature"]) == (
        "whisper-1",
        "en",
        "names: Ada",
        "0.2",
    )
    assert form["timestamp_granularities[]"] == ["word", "segment"]
    assert server.requests[0].headers["Authorization"] == "Bearer sk-audio"


async def test_bytes_get_a_name_from_their_format_and_text_formats_give_text(
    server: FakeServer,
) -> None:
    forms: list[dict[str, Any]] = []
    server.script("POST", TRANSCRIPTIONS, transcriptions(forms))
    async with AsyncClient(provider=openai_at(server)) as client:
        plain = await client.audio.transcriptions.create(
            file=AUDIO, model="whisper-1", response_format="text"
        )
        default = await client.audio.transcriptions.create(file=WAV, model="whisper-1")
    assert plain == heard("audio.mp3", len(AUDIO)) + "\n"
    assert isinstance(default, Transcription)
    assert OpenAITranscription.model_validate(default.model_dump()).text == heard(
        "audio.wav", len(WAV)
    )
    assert default.usage == {"type": "duration", "seconds": 4}


async def test_groq_translates(server: FakeServer) -> None:
    forms: list[dict[str, Any]] = []
    server.script("POST", TRANSLATIONS, transcriptions(forms))
    groq = vendor_class(next(r for r in VENDORS if r.name == "groq"))(
        api_key="gsk", base_url=server.url("/v1")
    )
    async with AsyncClient(provider=groq) as client:
        result = await client.audio.translations.create(
            file=("talk.mp3", AUDIO), model="whisper-large-v3"
        )
    assert result.text == heard("talk.mp3", len(AUDIO))  # type: ignore[union-attr]
    assert "language" not in forms[0]


async def test_speech_as_bytes_and_streamed_to_a_file(server: FakeServer, tmp_path: Path) -> None:
    bodies: list[dict[str, Any]] = []
    server.script("POST", SPEECH, speech(bodies))
    target = tmp_path / "hello.mp3"
    async with AsyncClient(provider=openai_at(server)) as client:
        spoken = await client.audio.speech.create(
            model="tts-1", input="Hello there", voice="alloy", speed=1.5
        )
        streamed = await client.audio.speech.create(
            model="gpt-4o-mini-tts",
            input="Hello",
            voice="nova",
            instructions="cheerful",
            response_format="mp3",
            stream_to=target,
        )
    assert spoken.content == AUDIO and spoken.media_type == "audio/mpeg"
    assert streamed.content == b"" and target.read_bytes() == AUDIO
    assert streamed.path == str(target)
    assert bodies[0] == {
        "model": "tts-1",
        "input": "Hello there",
        "voice": "alloy",
        "response_format": "mp3",
        "speed": 1.5,
    }
    assert bodies[1]["instructions"] == "cheerful"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"file": b""}, "empty"),
        ({"file": "/no/such/file.wav"}, "cannot read"),
        ({"file": 3}, "file must be"),
        ({"file": WAV, "response_format": "xml"}, "response_format"),
        ({"file": WAV, "temperature": 3}, "temperature"),
        ({"file": WAV, "timestamp_granularities": ["char"]}, "timestamp_granularities"),
    ],
)
def test_bad_transcription_input_is_refused(kwargs: dict[str, Any], message: str) -> None:
    client = AsyncClient(provider=OpenAI(api_key="k", base_url="http://127.0.0.1:9"))
    with pytest.raises(InvalidRequestError, match=message):
        _ = client.audio.transcriptions.create(model="whisper-1", **kwargs)


def test_audio_over_the_cap_and_providers_without_audio_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(audio_module, "MAX_AUDIO_BYTES", 10)
    client = AsyncClient(provider=OpenAI(api_key="k", base_url="http://127.0.0.1:9"))
    with pytest.raises(InvalidRequestError, match="larger than 10 bytes"):
        _ = client.audio.transcriptions.create(model="whisper-1", file=WAV)
    mistral = vendor_class(next(r for r in VENDORS if r.name == "mistral"))(api_key="k")
    with pytest.raises(UnsupportedCapabilityError, match="speaks"):
        _ = AsyncClient(provider=mistral).audio.speech.create(model="m", input="x", voice="v")


def test_the_gateway_serves_audio_to_the_sdk(tmp_path: Path) -> None:
    forms: list[dict[str, Any]] = []
    bodies: list[dict[str, Any]] = []
    with LiveGateway(tmp_path) as gw:
        gw.upstream.script("POST", TRANSCRIPTIONS, transcriptions(forms))
        gw.upstream.script("POST", TRANSLATIONS, transcriptions(forms))
        gw.upstream.script("POST", SPEECH, speech(bodies))
        with openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0) as client:
            text = client.audio.transcriptions.create(file=("a.mp3", AUDIO), model="whisper-1")
            with warnings.catch_warnings():  # this SDK marks translations deprecated
                warnings.simplefilter("ignore", DeprecationWarning)
                srt = client.audio.translations.create(
                    file=("b.wav", WAV), model="whisper-1", response_format="srt"
                )
            spoken = client.audio.speech.create(model="tts-1", input="hi", voice="alloy")
            with pytest.raises(openai.BadRequestError, match="empty"):
                client.audio.transcriptions.create(file=("x.mp3", b""), model="whisper-1")
        rows = gw.usage_rows()
    assert text.text == heard("a.mp3", len(AUDIO))
    assert heard("b.wav", len(WAV)) in srt
    assert spoken.content == AUDIO
    assert [(r["endpoint"], r["status"]) for r in rows] == [
        ("/v1/audio/transcriptions", 200),
        ("/v1/audio/translations", 200),
        ("/v1/audio/speech", 200),
        ("/v1/audio/transcriptions", 400),
    ]
    assert rows[0]["audio_seconds"] == 4  # the upstream's billed duration


def test_the_sync_client_has_audio() -> None:
    provider = OpenAI(api_key="k", base_url="http://127.0.0.1:9")
    with Client(provider=provider) as client, pytest.raises(InvalidRequestError, match="empty"):
        client.audio.transcriptions.create(model="whisper-1", file=b"")


async def test_gemini_tts_speaks_wav_or_pcm(server: FakeServer) -> None:
    import base64 as b64
    import io
    import wave

    from polymux.providers.gemini import Gemini

    from .fakes import json
    from .fakes.gemini import generate_path, response

    model = "gemini-2.5-flash-preview-tts"
    pcm = bytes(range(200)) * 24  # 2,400 samples of 16 bits
    audio = {
        "inlineData": {
            "mimeType": "audio/L16;codec=pcm;rate=24000",
            "data": b64.b64encode(pcm).decode(),
        }
    }
    server.script("POST", generate_path(model), json(200, response([audio])))
    provider = Gemini(api_key="gm", base_url=server.url("/v1beta"))
    async with AsyncClient(provider=provider) as client:
        spoken = await client.audio.speech.create(
            model=model,
            input="Have a nice day",
            voice="Kore",
            response_format="wav",
            instructions="Say cheerfully",
        )
        raw = await client.audio.speech.create(
            model=model, input="x", voice="Kore", response_format="pcm"
        )
        with pytest.raises(InvalidRequestError, match="wav or pcm"):
            await client.audio.speech.create(model=model, input="x", voice="Kore")
    assert spoken.media_type == "audio/wav" and raw.content == pcm
    with wave.open(io.BytesIO(spoken.content)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 24000)
        assert wav.readframes(wav.getnframes()) == pcm
    body = server.requests[0].json
    assert body["contents"][0]["parts"][0]["text"] == "Say cheerfully: Have a nice day"
    voice = body["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]
    assert voice == {"voiceName": "Kore"}
    assert body["generationConfig"]["responseModalities"] == ["AUDIO"]
