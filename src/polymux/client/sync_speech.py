"""``Client.audio.speech`` (the sync client): ``create`` as the async one, and
``with_streaming_response.create(...)`` as a ``with`` block whose reads run on the client's
loop, one piece at a time, so a long answer is never held whole (the openai SDK's shape:
``with speech.with_streaming_response.create(...) as r: r.stream_to_file(path)``)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..types.audio import SpeechResponse
from .audio import Speech, SpeechStream

if TYPE_CHECKING:
    from .sync_bridge import LoopThread

__all__ = ["SyncSpeech", "SyncSpeechStream"]


class SyncSpeechStream:
    """An open spoken answer on the sync client: ``iter_bytes``, ``read``,
    ``stream_to_file``; leaving the ``with`` block closes it."""

    def __init__(self, runner: LoopThread, opened: AbstractAsyncContextManager[SpeechStream]):
        self._runner = runner
        self._opened = opened
        self._stream: SpeechStream | None = None

    def __enter__(self) -> SyncSpeechStream:
        self._stream = self._runner.run(self._opened.__aenter__())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._runner.run(self._opened.__aexit__(exc_type, exc, traceback))

    @property
    def _open(self) -> SpeechStream:
        if self._stream is None:
            raise RuntimeError("use the streaming response in a with block")
        return self._stream

    @property
    def media_type(self) -> str:
        return self._open.media_type

    @property
    def provider(self) -> str:
        return self._open.provider

    @property
    def headers(self) -> Mapping[str, str]:
        return self._open.headers

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        pieces = self._open.iter_bytes(chunk_size)
        try:
            while True:
                try:
                    yield self._runner.run(anext(pieces))
                except StopAsyncIteration:
                    return
        finally:
            self._runner.run(pieces.aclose())  # type: ignore[attr-defined]

    def read(self) -> bytes:
        return self._runner.run(self._open.read())

    def stream_to_file(self, file: str | os.PathLike[str]) -> None:
        self._runner.run(self._open.stream_to_file(file))


class _SyncStreamingSpeech:
    def __init__(self, speech: SyncSpeech) -> None:
        self._speech = speech

    def create(self, **params: Any) -> SyncSpeechStream:
        speech = self._speech
        opened = speech._speech.with_streaming_response.create(**params)
        return SyncSpeechStream(speech._runner(), opened)


class SyncSpeech:
    """``Client.audio.speech``."""

    def __init__(self, speech: Speech, runner: Any) -> None:
        self._speech = speech
        self._runner: Any = runner  # the client's loop thread, looked up when used
        self.with_streaming_response = _SyncStreamingSpeech(self)

    def create(self, **params: Any) -> SpeechResponse:
        response: SpeechResponse = self._runner().run(self._speech.create(**params))
        return response
