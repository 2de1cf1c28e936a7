"""Audio: transcription, translation and speech requests, and the objects callers get
(``Transcription`` dumps as the OpenAI SDK's ``Transcription``, or with ``verbose_json`` as
its ``TranscriptionVerbose``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ._record import Record
from .request import CallOptions
from .uploads import FilePart

__all__ = [
    "MAX_SPEECH_BYTES",
    "SPEECH_MEDIA_TYPES",
    "TRANSCRIPTION_FIELDS",
    "SpeechRequest",
    "SpeechResponse",
    "Transcription",
    "TranscriptionEvent",
    "TranscriptionRequest",
]

#: Speech ``response_format`` values and the media type each answers in.
SPEECH_MEDIA_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
#: Largest spoken answer read into memory (a stream to a file has no such limit).
MAX_SPEECH_BYTES = 64 * 1024 * 1024

#: ``response_format`` values whose answer is plain text (``srt``/``vtt`` subtitles).
TEXT_FORMATS = frozenset({"text", "srt", "vtt"})


#: The fields of OpenAI's transcription request (the SDK's ``TranscriptionCreateParams``)
#: beyond those ``TranscriptionRequest`` names one by one: sent upstream as the SDK spells
#: them in a form (``include[]``, ``chunking_strategy[type]``), by providers that take them.
TRANSCRIPTION_FIELDS = frozenset(
    {
        "chunking_strategy",
        "include",
        "keywords",
        "known_speaker_names",
        "known_speaker_references",
        "languages",
        "stream",
    }
)


@dataclass(slots=True, kw_only=True)
class TranscriptionRequest:
    """A validated transcription (or, ``translate``, translation into English) request."""

    model: str
    file: FilePart
    translate: bool = False
    language: str | None = None
    prompt: str | None = None
    response_format: str = "json"
    temperature: float | None = None
    timestamp_granularities: list[str] | None = None
    #: Those of ``TRANSCRIPTION_FIELDS`` the caller gave (``stream`` only when true).
    fields: dict[str, Any] = field(default_factory=dict)
    extra_body: dict[str, Any] = field(default_factory=dict)
    options: CallOptions = field(default_factory=CallOptions)

    @property
    def stream(self) -> bool:
        return bool(self.fields.get("stream"))


@dataclass(slots=True, kw_only=True)
class Transcription(Record):
    text: str
    language: str | None = None
    duration: float | None = None
    segments: list[dict[str, Any]] | None = None
    words: list[dict[str, Any]] | None = None
    usage: dict[str, Any] | None = None
    provider: str | None = None

    _omit_when_none: ClassVar[frozenset[str]] = frozenset(
        {"language", "duration", "segments", "words", "usage", "provider"}
    )


@dataclass(slots=True, kw_only=True)
class TranscriptionEvent(Record):
    """One event of a streamed transcription, as the OpenAI SDK's
    ``TranscriptionStreamEvent``: ``transcript.text.delta`` (``delta``), then
    ``transcript.text.done`` (the whole ``text``, and ``usage`` for token-billed models);
    diarizing models add ``transcript.text.segment`` (``id``, ``start``, ``end``,
    ``speaker``, ``text``)."""

    type: str
    delta: str | None = None
    text: str | None = None
    logprobs: list[dict[str, Any]] | None = None
    segment_id: str | None = None
    usage: dict[str, Any] | None = None
    languages: list[Any] | None = None
    id: str | None = None
    start: float | None = None
    end: float | None = None
    speaker: str | None = None

    _omit_when_none: ClassVar[frozenset[str]] = frozenset(
        {"delta", "text", "logprobs", "segment_id", "usage", "languages"}
        | {"id", "start", "end", "speaker"}
    )


@dataclass(slots=True, kw_only=True)
class SpeechRequest:
    model: str
    input: str
    voice: str
    response_format: str = "mp3"
    speed: float | None = None
    instructions: str | None = None
    extra_body: dict[str, Any] = field(default_factory=dict)
    options: CallOptions = field(default_factory=CallOptions)


@dataclass(slots=True, kw_only=True)
class SpeechResponse:
    """Spoken audio: its bytes (empty when it was streamed to ``path``) and media type."""

    content: bytes
    media_type: str
    provider: str | None = None
    #: Where the audio was written, when ``stream_to=`` was given.
    path: str | None = None

    def write_to_file(self, file: str | Path) -> None:
        """Write the audio to ``file`` (as the OpenAI SDK's binary response does)."""
        Path(file).write_bytes(self.content)

    def __repr__(self) -> str:
        return f"<SpeechResponse {self.media_type} {len(self.content)} bytes path={self.path!r}>"
