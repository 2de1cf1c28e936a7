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
    "SpeechRequest",
    "SpeechResponse",
    "Transcription",
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
    extra_body: dict[str, Any] = field(default_factory=dict)
    options: CallOptions = field(default_factory=CallOptions)


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
