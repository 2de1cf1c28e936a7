"""``POST /v1/audio/transcriptions`` and ``/v1/audio/translations`` (a multipart upload ->
text as JSON or plain text) and ``POST /v1/audio/speech`` (JSON -> audio bytes).

The uploaded file is capped by ``[limits] max_audio_bytes`` (the body itself by
``max_body_bytes``). Spoken audio is passed on as it arrives: the upstream stream is opened
first (a failure to open is a plain JSON error with its status), then each piece is sent on
(at most ``_PIECE`` bytes at a time, ``MAX_SPEECH_BYTES`` in all) under the gateway client's
idle and total time limits, as a chat stream is. An upstream that breaks off mid-answer ends
the response without its last chunk, so the caller sees a cut transfer, not a short file.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson

from ..client.audio import SpeechStream, whole_transcription_event
from ..errors import APIResponseValidationError, InvalidRequestError
from ..providers.base import Provider
from ..transport.base import HttpRequest
from ..types.audio import MAX_SPEECH_BYTES, TRANSCRIPTION_FIELDS
from .asgi import JSON_TYPE, header, read_json, send_bytes, until_disconnect
from .body import body_params, model_of
from .forms import form_extra, parse_form
from .limits import too_large
from .passthrough import relay_events
from .speech_meter import SpeechMeter

if TYPE_CHECKING:
    from .app import Call, Gateway

__all__ = ["handle_speech", "handle_transcription", "handle_translation"]

_FIELDS = ("language", "prompt", "response_format")
#: Most bytes of spoken audio sent in one piece.
_PIECE = 64 * 1024
_NAMED = frozenset({"model", "temperature", "timestamp_granularities", *_FIELDS})
_NAMED_TRANSLATION = frozenset({"model", "temperature", "prompt", "response_format"})
#: The other fields of OpenAI's spec for transcriptions (the SDK's
#: TranscriptionCreateParams), taken by name; translations have none.
_SPEC = TRANSCRIPTION_FIELDS


async def handle_transcription(gateway: Gateway, call: Call) -> None:
    await _transcribe(gateway, call, translate=False)


async def handle_translation(gateway: Gateway, call: Call) -> None:
    await _transcribe(gateway, call, translate=True)


async def _transcribe(gateway: Gateway, call: Call, *, translate: bool) -> None:
    limits = gateway.limits
    raw = await gateway.read_upload(call)
    form = parse_form(header(call.scope, b"content-type"), raw)
    files = form.files.get("file") or []
    if len(files) != 1:
        raise InvalidRequestError("upload exactly one audio file as the form file 'file'")
    upload = files[0]
    if len(upload.data) > limits.max_audio_bytes:
        raise too_large(
            f"the audio file is {len(upload.data)} bytes; this gateway accepts "
            f"{limits.max_audio_bytes}"
        )
    model = form.field("model")
    if not model:
        raise InvalidRequestError("model is required, e.g. whisper-1")
    extra = form_extra(
        form,
        named=_NAMED_TRANSLATION if translate else _NAMED,
        spec=() if translate else _SPEC,
        files=("file",),
        allowed=gateway.pass_through,
        streams=not translate,
    )
    params: dict[str, Any] = {k: v for k in _FIELDS if (v := form.field(k)) is not None}
    if not translate:
        params.update(_spec_params(extra))
    if translate:  # no language on translations (unless the operator passes it through)
        params.pop("language", None)
    temperature = form.field("temperature")
    if temperature is not None:
        try:
            params["temperature"] = float(temperature)
        except ValueError:
            raise InvalidRequestError(
                f"temperature must be a number, got {temperature!r}"
            ) from None
    granularities = form.fields.get("timestamp_granularities[]")
    if granularities:
        params["timestamp_granularities"] = granularities
    if extra:
        params["extra_body"] = extra
    route = gateway.models.route(model)
    call.use_model(model)
    resource = (
        gateway.client.audio.translations if translate else gateway.client.audio.transcriptions
    )
    if params.get("stream"):
        await _relay_transcription(gateway, call, resource, upload, route, params)
        return
    work = resource.create(
        file=(upload.filename, upload.data), model=route.model, provider=route.providers, **params
    )
    answer = await until_disconnect(call, work)
    if isinstance(answer, str):
        fmt = params.get("response_format")
        kind = b"text/vtt" if fmt == "vtt" else b"text/plain; charset=utf-8"
        await send_bytes(call.send, 200, answer.encode(), [(b"content-type", kind)])
        return
    call.record.provider = answer.provider
    usage = answer.usage or {}
    seconds = answer.duration if answer.duration is not None else usage.get("seconds")
    if isinstance(seconds, (int, float)):  # whisper: billed by the second
        call.record.audio_seconds = float(seconds)
    if isinstance(usage.get("input_tokens"), int):  # token-billed models (gpt-4o-transcribe)
        call.record.prompt_tokens = usage["input_tokens"]
        call.record.completion_tokens = usage.get("output_tokens")
        call.record.total_tokens = usage.get("total_tokens")
    data = answer.model_dump()
    data.pop("provider", None)
    await send_bytes(call.send, 200, orjson.dumps(data), [JSON_TYPE])


def _spec_params(extra: dict[str, Any]) -> dict[str, Any]:
    """The spec's further fields taken out of ``extra`` by name, as the client takes them
    (a host that does not take one is then a clear error): ``include[]`` -> a list,
    ``chunking_strategy[type]`` -> an object's member, ``stream=true`` -> True."""
    params: dict[str, Any] = {}
    for key in [k for k in extra if k.partition("[")[0] in _SPEC]:
        value = extra.pop(key)
        name, _, member = key.partition("[")
        member = member.removesuffix("]")
        if name == "stream":
            params[name] = str(value).lower() in ("true", "1")
        elif name == "chunking_strategy" and member:
            strategy = params.setdefault(name, {})
            if not isinstance(strategy, dict) or isinstance(value, list):
                raise InvalidRequestError(
                    'chunking_strategy is "auto" or an object\'s chunking_strategy[...] fields'
                )
            strategy[member] = value
        elif name == "chunking_strategy":
            if name in params or isinstance(value, list):
                raise InvalidRequestError("chunking_strategy is given more than once")
            params[name] = value
        else:
            params[name] = value if isinstance(value, list) else [value]
    return params


async def _relay_transcription(
    gateway: Gateway, call: Call, resource: Any, upload: Any, route: Any, params: Any
) -> None:
    """A streamed transcription: the request checked as the client checks it, then the
    upstream's SSE events relayed whole as they come (passthrough.py); the usage row gets
    the tokens of the done event."""
    providers, request, _ = resource.checked(
        (upload.filename, upload.data), route.model, {**params, "provider": route.providers}
    )
    router = gateway.client.router

    def http(provider: Provider) -> HttpRequest:
        return provider.transcription_request(
            replace(request, model=router.model_for(provider, request.model))
        )

    await relay_events(
        gateway,
        call,
        providers,
        http,
        done="transcript.text.done",
        whole_event=whole_transcription_event,
    )


async def handle_speech(gateway: Gateway, call: Call) -> None:
    body = await read_json(call.scope, call.receive, gateway.limits.max_body_bytes)
    model = model_of(body)
    if not model:
        raise InvalidRequestError("model is required, e.g. tts-1")
    route = gateway.models.route(model)
    call.use_model(model)
    params = body_params(
        body,
        ("speed", "instructions"),
        strings=("instructions",),
        handled=("model", "input", "voice", "response_format"),
        allowed=gateway.pass_through,
    )
    fmt = body.get("response_format") or "mp3"
    try:
        work = gateway.client.audio.speech.with_streaming_response.create(
            input=body.get("input"),  # type: ignore[arg-type]  # checked by create()
            voice=body.get("voice"),  # type: ignore[arg-type]
            model=route.model,
            response_format=fmt,
            provider=route.providers,
            **params,
        )
    except (TypeError, KeyError, AttributeError) as exc:
        raise InvalidRequestError(f"invalid request: {exc}") from exc
    text = body.get("input")
    characters = len(text) if isinstance(text, str) else None
    await until_disconnect(call, _relay_speech(call, work, fmt, characters))


async def _relay_speech(
    call: Call,
    opened: AbstractAsyncContextManager[SpeechStream],
    fmt: str,
    characters: int | None,
) -> None:
    """The audio passed on as it arrives; the usage row gets the characters spoken (what
    text-to-speech is billed by) once the upstream answers, and the seconds of audio when
    all of it was sent and its format makes them exact (speech_meter.py)."""
    async with opened as answer:
        call.record.provider = answer.provider
        call.record.characters = characters
        meter = SpeechMeter(fmt, answer.media_type)
        send = call.send
        headers = [(b"content-type", answer.media_type.encode("latin-1", "replace"))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        call.responded = True
        call.record.ttft_ms = call.elapsed_ms()
        size = 0
        async for piece in answer.iter_bytes(_PIECE):
            size += len(piece)
            if size > MAX_SPEECH_BYTES:
                raise APIResponseValidationError(
                    f"the audio exceeds {MAX_SPEECH_BYTES} bytes", provider=answer.provider
                )
            meter.feed(piece)
            await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    call.record.audio_seconds = meter.seconds()
