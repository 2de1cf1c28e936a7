"""``client.audio``: ``transcriptions.create`` and ``translations.create`` (an audio file
uploaded, its text back) and ``speech.create`` (text in, audio bytes back, or written to a
file as they arrive), through the router like every other call.

Audio files are read once, size-capped (``MAX_AUDIO_BYTES``, OpenAI's own limit), and sent
as a multipart upload; the file name tells the upstream the format, so bytes without a name
get one from their first bytes.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from ..errors import InvalidRequestError, UnsupportedCapabilityError
from ..providers.base import Provider
from ..transport.base import ByteStream
from ..types.audio import (
    MAX_SPEECH_BYTES,
    SPEECH_MEDIA_TYPES,
    TEXT_FORMATS,
    TRANSCRIPTION_FIELDS,
    SpeechRequest,
    SpeechResponse,
    Transcription,
    TranscriptionEvent,
    TranscriptionRequest,
)
from ..types.uploads import FilePart, byte_view
from .event_streams import JsonEvents, open_first
from .params import build_options
from .stream import AsyncEventStream
from .tasks import run_operation

if TYPE_CHECKING:
    from ..routing.router import Router
    from .async_client import AsyncClient

__all__ = [
    "MAX_AUDIO_BYTES",
    "MAX_SPEECH_BYTES",
    "Audio",
    "SpeechStream",
    "audio_file",
    "whole_transcription_event",
]

#: Largest audio file uploaded (the transcription APIs' own limit is 25 MB).
MAX_AUDIO_BYTES = 25 * 1024 * 1024
_FORMATS = frozenset({"json", "verbose_json", *TEXT_FORMATS})
_MAGIC = (
    (b"ID3", "mp3"),
    (b"\xff\xfb", "mp3"),
    (b"\xff\xf3", "mp3"),
    (b"OggS", "ogg"),
    (b"fLaC", "flac"),
    (b"\x1a\x45\xdf\xa3", "webm"),
)


def _sniff(data: bytes) -> str:
    """A file extension from the first bytes (the upstream reads the format from the name)."""
    for magic, ext in _MAGIC:
        if data.startswith(magic):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[4:8] == b"ftyp":
        return "m4a"
    return "mp3"


def _part(data: bytes | memoryview, name: str | None) -> FilePart:
    if not data:
        raise InvalidRequestError("the audio file is empty")
    filename, media_type = _named(name, bytes(data[:12]))
    return FilePart(data, filename, media_type)


def _named(name: str | None, head: bytes) -> tuple[str, str]:
    """The file name sent (the upstream reads the format from it) and its media type."""
    filename = os.path.basename(name) if name else f"audio.{_sniff(head)}"
    return filename, mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _too_large(size: int, what: str = "the audio") -> InvalidRequestError:
    return InvalidRequestError(
        f"{what} is {size} bytes, larger than {MAX_AUDIO_BYTES} bytes; split it"
    )


def _from_path(path: Path, name: str | None) -> FilePart:
    """A file on disk, streamed from it when sent (never read whole into memory)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidRequestError(f"cannot read audio file {path}: {exc.strerror}") from exc
    if size > MAX_AUDIO_BYTES:
        raise _too_large(size, f"audio file {path}")
    if size == 0:
        raise InvalidRequestError("the audio file is empty")
    filename, media_type = _named(name or path.name, b"")
    return FilePart(b"", filename, media_type, source=os.fspath(path), length=size)


def _from_file(file: Any, name: str | None) -> FilePart:
    """A binary file object: streamed from where it stands when it can seek (read again from
    there for a retry), else read once, up to the limit."""
    name = name or getattr(file, "name", None)
    name = os.fspath(name) if isinstance(name, (str, os.PathLike)) else None
    try:
        start = file.tell()
        size = file.seek(0, os.SEEK_END) - start
        file.seek(start)
    except (AttributeError, OSError, ValueError):
        data = file.read(MAX_AUDIO_BYTES + 1)
        if isinstance(data, str):
            raise InvalidRequestError("open audio files in binary mode ('rb')") from None
        if len(data) > MAX_AUDIO_BYTES:
            raise _too_large(len(data)) from None
        return _part(data, name)
    if size > MAX_AUDIO_BYTES:
        raise _too_large(size)
    head = file.read(0 if name else 12)  # the first bytes name the format when unnamed
    file.seek(start)
    if isinstance(head, str):
        raise InvalidRequestError("open audio files in binary mode ('rb')")
    if size <= 0:
        raise InvalidRequestError("the audio file is empty")
    filename, media_type = _named(name, head)
    return FilePart(b"", filename, media_type, source=file, start=start, length=size)


def audio_file(value: Any) -> FilePart:
    """One audio upload from a path, bytes, a binary file object or a ``(filename, bytes)``
    tuple; at most ``MAX_AUDIO_BYTES``. Paths and seekable file objects are not read here:
    their bytes are streamed to the upstream as they are sent; bytes are sent as they are."""
    name: str | None = None
    if isinstance(value, tuple) and len(value) >= 2 and isinstance(value[0], str):
        name, value = value[0], value[1]
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = byte_view(value)
        if len(data) > MAX_AUDIO_BYTES:
            raise _too_large(len(data))
        return _part(data, name)
    if hasattr(value, "read"):
        return _from_file(value, name)
    if isinstance(value, (str, os.PathLike)):
        return _from_path(Path(value), name)
    raise InvalidRequestError(
        f"file must be a path, bytes or a binary file, got {type(value).__name__}"
    )


def _providers(client: AsyncClient, spec: Any, model: str, speech: bool) -> list[Provider]:
    candidates = client._providers_for(spec, model=model)
    if speech:
        providers = [p for p in candidates if p.supports_speech]
    else:
        providers = [p for p in candidates if p.supports_transcriptions]
    if not providers:
        what = "speaks" if speech else "transcribes audio"
        raise UnsupportedCapabilityError(
            f"none of the providers ({', '.join(p.name for p in candidates)}) {what}; "
            "pass provider='openai', 'azure' or 'groq'"
        )
    return providers


def _model_for(router: Router, provider: Provider, model: str) -> str:
    if not model:
        raise InvalidRequestError("model is required, e.g. model='whisper-1' or 'tts-1'")
    return router.model_for(provider, model)


def _extra(params: Mapping[str, Any]) -> dict[str, Any]:
    extra = params.get("extra_body") or {}
    if not isinstance(extra, Mapping):
        raise InvalidRequestError("extra_body must be a dict of provider-specific fields")
    return dict(extra)


def _optional_str(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequestError(f"{name} must be a string")
    return value


#: The keywords of the OpenAI SDK's ``transcriptions.create`` (``file`` and ``model``
#: aside) and of its ``translations.create``.
_TRANSCRIPTION_PARAMS = frozenset(
    {
        "language",
        "prompt",
        "response_format",
        "temperature",
        "timestamp_granularities",
        *TRANSCRIPTION_FIELDS,
    }
)
_TRANSLATION_PARAMS = frozenset({"prompt", "response_format", "temperature"})
#: polymux's own keywords (the routing choice) and the per-call options (params.py).
_OPTIONS = frozenset({"provider", "extra_body", "extra_headers", "timeout", "max_retries", "proxy"})


def _strings(name: str, value: Any) -> list[str]:
    if (
        isinstance(value, str)
        or not isinstance(value, Sequence)
        or not all(isinstance(v, str) for v in value)
    ):
        raise InvalidRequestError(f"{name} must be a list of strings")
    return list(value)


def _spec_fields(params: Mapping[str, Any]) -> dict[str, Any]:
    """The caller's ``TRANSCRIPTION_FIELDS``, checked (sent as the SDK spells them)."""
    fields: dict[str, Any] = {}
    for name in sorted(TRANSCRIPTION_FIELDS):
        value = params.get(name)
        if value is None:
            continue
        if name == "stream":
            if not isinstance(value, bool):
                raise InvalidRequestError("stream must be True or False")
            if not value:
                continue
        elif name == "chunking_strategy":
            if value != "auto" and not isinstance(value, Mapping):
                raise InvalidRequestError(
                    'chunking_strategy must be "auto" or {"type": "server_vad", ...}'
                )
            value = value if isinstance(value, str) else dict(value)
        else:
            value = _strings(name, value)
        fields[name] = value
    return fields


class _Transcriber:
    """``transcriptions`` (``translate=False``) or ``translations``."""

    def __init__(self, client: AsyncClient, translate: bool) -> None:
        self._client = client
        self._translate = translate

    @overload
    def create(
        self, *, file: Any, model: str, stream: Literal[True], **params: Any
    ) -> AsyncEventStream[TranscriptionEvent]: ...

    @overload
    def create(
        self, *, file: Any, model: str, stream: Literal[False] | None = None, **params: Any
    ) -> Coroutine[Any, Any, Transcription | str]: ...

    def create(
        self, *, file: Any, model: str, **params: Any
    ) -> Coroutine[Any, Any, Transcription | str] | AsyncEventStream[TranscriptionEvent]:
        """Text of the audio ``file`` (translations: in English). ``response_format``
        "json" (default) or "verbose_json" give a ``Transcription``; "text", "srt" and
        "vtt" give the text itself. Takes the OpenAI SDK's keywords; those of its further
        fields (``include``, ``chunking_strategy``, ``known_speaker_names`` ...) go to
        providers that take them, and are a clear error on one that does not.
        ``stream=True`` (transcriptions): an async iterator of ``TranscriptionEvent``
        (``transcript.text.delta`` ..., then ``transcript.text.done``)."""
        providers, request, routing = self.checked(file, model, params)
        if request.stream:
            return AsyncEventStream(self._stream(providers, request, routing))
        return self._run(providers, request, routing)

    def checked(
        self, file: Any, model: str, params: Mapping[str, Any]
    ) -> tuple[list[Provider], TranscriptionRequest, Any]:
        """The checked request, the providers that may answer it and the routing options
        (the gateway relays a streamed one itself)."""
        client = self._client
        named = _TRANSLATION_PARAMS if self._translate else _TRANSCRIPTION_PARAMS
        unknown = sorted(set(params) - named - _OPTIONS)
        if unknown:
            what = "translations" if self._translate else "transcriptions"
            raise InvalidRequestError(
                f"audio.{what}.create() takes no {', '.join(unknown)}; its keywords are "
                f"{', '.join(sorted(named))} (provider-specific fields go in extra_body)"
            )
        fmt = params.get("response_format") or "json"
        if fmt not in _FORMATS:
            raise InvalidRequestError(
                f"response_format must be one of {', '.join(sorted(_FORMATS))}, got {fmt!r}"
            )
        temperature = params.get("temperature")
        if temperature is not None and (
            isinstance(temperature, bool)
            or not isinstance(temperature, (int, float))
            or not 0 <= temperature <= 1
        ):
            raise InvalidRequestError("temperature must be a number between 0 and 1")
        granularities = params.get("timestamp_granularities")
        if granularities is not None and (
            isinstance(granularities, str)
            or not isinstance(granularities, Sequence)
            or not set(granularities) <= {"word", "segment"}
        ):
            raise InvalidRequestError('timestamp_granularities must be a list of "word", "segment"')
        if not isinstance(model, str):
            raise InvalidRequestError("model must be a string")
        request = TranscriptionRequest(
            model=model,
            file=audio_file(file),
            translate=self._translate,
            language=None if self._translate else _optional_str(params, "language"),
            prompt=_optional_str(params, "prompt"),
            response_format=fmt,
            temperature=temperature,
            timestamp_granularities=list(granularities) if granularities else None,
            fields=_spec_fields(params),
            extra_body=_extra(params),
            options=build_options(client.options, params),
        )
        spec = params.get("provider")
        providers = _providers(client, spec, model, speech=False)
        return providers, request, client._routing_for(spec)

    async def _stream(
        self, providers: Sequence[Provider], request: TranscriptionRequest, routing: Any
    ) -> AsyncGenerator[TranscriptionEvent, None]:
        router = self._client.router

        def open_one(provider: Provider) -> AbstractAsyncContextManager[ByteStream]:
            req = replace(request, model=_model_for(router, provider, request.model))
            return provider.transcription_stream(req)

        opened = open_first(router, providers, request.options, routing, open_one, _events)
        async with opened as events:
            async for event in events:
                yield event

    async def _run(
        self, providers: Sequence[Provider], request: TranscriptionRequest, routing: Any
    ) -> Transcription | str:
        router = self._client.router

        async def call(provider: Provider) -> dict[str, Any] | str:
            req = replace(request, model=_model_for(router, provider, request.model))
            async with router.slot(provider):
                return await provider.transcribe(req)

        provider, answer = await run_operation(
            router, providers, call, total=request.options.timeout.total, options=routing
        )
        if isinstance(answer, str):
            return answer
        return Transcription(
            text=answer["text"],
            language=answer.get("language"),
            duration=answer.get("duration"),
            segments=answer.get("segments"),
            words=answer.get("words"),
            usage=answer.get("usage"),
            provider=provider.name,
        )


def _done_event(payload: dict[str, Any]) -> dict[str, Any]:
    """A whole transcription (a host that ignored ``stream``) as the done event."""
    return {**payload, "type": "transcript.text.done"}


def whole_transcription_event(payload: dict[str, Any]) -> dict[str, Any]:
    """A whole transcription (a host that ignored ``stream``) as the JSON of the stream's one
    done event: what the client yields, and what the gateway relays, in that case."""
    return _event(_done_event(payload), "").to_dict()


def _events(provider: Provider, stream: ByteStream) -> JsonEvents[TranscriptionEvent]:
    return JsonEvents(
        provider, stream, build=_event, done="transcript.text.done", whole=_done_event
    )


def _event(payload: Mapping[str, Any], provider: str) -> TranscriptionEvent:
    usage = payload.get("usage")
    return TranscriptionEvent(
        type=payload["type"],
        delta=payload.get("delta"),
        text=payload.get("text"),
        logprobs=payload.get("logprobs"),
        segment_id=payload.get("segment_id"),
        # Only token usage is the event's (whisper's duration usage is not).
        usage=usage if isinstance(usage, dict) and usage.get("type") == "tokens" else None,
        languages=payload.get("languages"),
        id=payload.get("id"),
        start=payload.get("start"),
        end=payload.get("end"),
        speaker=payload.get("speaker"),
    )


class SpeechStream:
    """A spoken answer as it arrives (``speech.with_streaming_response.create``), as the
    OpenAI SDK's streamed binary response: ``iter_bytes``, ``read`` or ``stream_to_file``."""

    def __init__(self, stream: ByteStream, media_type: str, provider: str) -> None:
        self._stream = stream
        self.media_type = media_type
        self.provider = provider
        #: The upstream's failure, if the audio broke off (the provider's health hears it).
        self.failure: Exception | None = None

    @property
    def headers(self) -> Mapping[str, str]:
        return self._stream.headers

    async def iter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """The audio in the pieces the network delivers (at most ``chunk_size`` bytes each)."""
        try:
            async for piece in self._stream.iter_bytes():
                if chunk_size is None or len(piece) <= chunk_size:
                    yield piece
                    continue
                for start in range(0, len(piece), chunk_size):
                    yield piece[start : start + chunk_size]
        except Exception as exc:
            self.failure = exc
            raise

    async def read(self) -> bytes:
        """The whole audio, at most ``MAX_SPEECH_BYTES`` (``stream_to_file`` has no limit)."""
        try:
            return await self._stream.read(MAX_SPEECH_BYTES, self.provider)
        except Exception as exc:
            self.failure = exc
            raise

    async def stream_to_file(self, file: str | os.PathLike[str]) -> None:
        """Write the audio to ``file`` as it arrives (plain writes: a local file takes each
        network piece at once, and opening one does not wait on the network)."""
        with Path(file).open("wb") as out:  # noqa: ASYNC230
            async for piece in self.iter_bytes():
                out.write(piece)

    def __repr__(self) -> str:
        return f"<SpeechStream {self.media_type} from {self.provider}>"


class Speech:
    """``client.audio.speech``."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self.with_streaming_response = _StreamingSpeech(self)

    def _request(
        self, input: Any, model: str, voice: Any, response_format: str, params: Mapping[str, Any]
    ) -> tuple[list[Provider], SpeechRequest, Any]:
        """The checked request, the providers that may speak it and the routing options."""
        client = self._client
        if not isinstance(input, str) or not input.strip():
            raise InvalidRequestError("input must be non-empty text")
        if not isinstance(voice, str) or not voice:
            raise InvalidRequestError("voice must be a voice name such as 'alloy'")
        if response_format not in SPEECH_MEDIA_TYPES:
            raise InvalidRequestError(
                f"response_format must be one of {', '.join(SPEECH_MEDIA_TYPES)}"
            )
        speed = params.get("speed")
        if speed is not None and (
            isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0.25 <= speed <= 4
        ):
            raise InvalidRequestError("speed must be a number from 0.25 to 4.0")
        request = SpeechRequest(
            model=model,
            input=input,
            voice=voice,
            response_format=response_format,
            speed=speed,
            instructions=_optional_str(params, "instructions"),
            extra_body=_extra(params),
            options=build_options(client.options, params),
        )
        spec = params.get("provider")
        providers = _providers(client, spec, model, speech=True)
        return providers, request, client._routing_for(spec)

    def create(
        self,
        *,
        input: str,
        model: str,
        voice: str,
        response_format: str = "mp3",
        stream_to: str | os.PathLike[str] | None = None,
        **params: Any,
    ) -> Coroutine[Any, Any, SpeechResponse]:
        """``input`` spoken by ``voice``: the audio bytes in ``content``, or, with
        ``stream_to=<file path>``, written to that file as they arrive (``content`` empty)."""
        target = Path(stream_to) if stream_to is not None else None
        if target is not None and not target.parent.is_dir():
            raise InvalidRequestError(f"stream_to={str(stream_to)!r}: its folder does not exist")
        opened = self._open(*self._request(input, model, voice, response_format, params))
        return self._run(opened, target)

    @staticmethod
    async def _run(
        opened: AbstractAsyncContextManager[SpeechStream], target: Path | None
    ) -> SpeechResponse:
        async with opened as answer:
            if target is not None:
                await answer.stream_to_file(target)
                content = b""
            else:
                content = await answer.read()
        return SpeechResponse(
            content=content,
            media_type=answer.media_type,
            provider=answer.provider,
            path=None if target is None else str(target),
        )

    def _open(
        self, providers: Sequence[Provider], request: SpeechRequest, routing: Any
    ) -> AbstractAsyncContextManager[SpeechStream]:
        router = self._client.router

        def open_one(provider: Provider) -> AbstractAsyncContextManager[ByteStream]:
            return provider.speech(
                replace(request, model=_model_for(router, provider, request.model))
            )

        def wrap(provider: Provider, stream: ByteStream) -> SpeechStream:
            media_type = stream.headers.get("Content-Type") or SPEECH_MEDIA_TYPES.get(
                request.response_format, "application/octet-stream"
            )
            return SpeechStream(stream, media_type, provider.name)

        return open_first(router, providers, request.options, routing, open_one, wrap)


class _StreamingSpeech:
    """``client.audio.speech.with_streaming_response``: ``create`` opens the audio for
    reading as it arrives, as the OpenAI SDK's does:
    ``async with speech.with_streaming_response.create(...) as r: await r.stream_to_file(p)``.
    """

    def __init__(self, speech: Speech) -> None:
        self._speech = speech

    def create(
        self, *, input: str, model: str, voice: str, response_format: str = "mp3", **params: Any
    ) -> AbstractAsyncContextManager[SpeechStream]:
        speech = self._speech
        return speech._open(*speech._request(input, model, voice, response_format, params))


class Audio:
    """``client.audio``: ``transcriptions``, ``translations``, ``speech``."""

    def __init__(self, client: AsyncClient) -> None:
        self.transcriptions = _Transcriber(client, translate=False)
        self.translations = _Transcriber(client, translate=True)
        self.speech = Speech(client)
