"""Seconds of spoken audio, counted as it is relayed (the usage log's ``audio_seconds`` of
``/v1/audio/speech``), only where its format makes them exact:

- ``pcm``: raw 16-bit mono samples, at 24 kHz (OpenAI's and Gemini's speech) unless its
  media type names another ``rate``;
- ``wav``: its header names the rate, channels and sample size; the samples are what follows
  the ``data`` chunk header (its declared length when the upstream knew it, else everything
  received: a streamed WAV declares no length).

Compressed formats (mp3, opus, aac, flac) are not counted: their length is known only by
decoding them, and a guess from the byte count would be a made-up figure.
"""

from __future__ import annotations

import struct

__all__ = ["SpeechMeter"]

#: 16-bit samples.
_PCM_WIDTH = 2
_PCM_RATE = 24_000
#: Bytes of a WAV file kept to find its header (the fmt and data chunks come first).
_MAX_HEAD = 64 * 1024
_WAV_TYPES = ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave")
_UNKNOWN_LENGTHS = (0, 0xFFFFFFFF)
#: WAV sample formats of whole bytes per sample: integer PCM, float, extensible.
_SAMPLE_FORMATS = (1, 3, 0xFFFE)
_PCM_TYPES = ("audio/pcm", "audio/l16", "audio/x-pcm", "audio/raw", "application/octet-stream")


class SpeechMeter:
    """Fed each piece of the audio in turn; ``seconds()`` at the end (None: not exact)."""

    __slots__ = ("_head", "_kind", "_rate", "_size")

    def __init__(self, response_format: str, media_type: str) -> None:
        kind = media_type.split(";")[0].strip().lower()
        self._rate = _PCM_RATE
        self._kind: str | None = None
        if response_format == "pcm" and kind in (
            "audio/pcm",
            "audio/l16",
            "application/octet-stream",
        ):
            self._kind = "pcm"
            for param in media_type.split(";")[1:]:
                name, _, value = param.partition("=")
                if name.strip().lower() == "rate" and value.strip().isdigit():
                    self._rate = int(value.strip())
        elif response_format == "wav" and kind in _WAV_TYPES:
            self._kind = "wav"
        self._head = bytearray()
        self._size = 0

    def feed(self, piece: bytes) -> None:
        self._size += len(piece)
        if self._kind == "wav" and len(self._head) < _MAX_HEAD:
            self._head += piece[: _MAX_HEAD - len(self._head)]

    def seconds(self) -> float | None:
        if self._kind == "pcm":
            if self._rate <= 0 or self._size % _PCM_WIDTH:
                return None
            return self._size / (_PCM_WIDTH * self._rate)
        if self._kind == "wav":
            return _wav_seconds(bytes(self._head), self._size)
        return None


def _wav_seconds(head: bytes, size: int) -> float | None:
    """Seconds of a WAV file of ``size`` bytes that begins with ``head``, or None."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    offset, frame_bytes, rate = 12, 0, 0
    while offset + 8 <= len(head):
        chunk, length = head[offset : offset + 4], struct.unpack_from("<I", head, offset + 4)[0]
        if chunk == b"fmt " and offset + 24 <= len(head):
            fmt, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", head, offset + 8)
            if fmt not in _SAMPLE_FORMATS:
                return None  # compressed samples: their count is not the byte count's
            frame_bytes = channels * ((bits + 7) // 8)
        elif chunk == b"data":
            if not frame_bytes or not rate:
                return None  # no fmt chunk before the samples
            received = size - (offset + 8)
            samples = received if length in _UNKNOWN_LENGTHS else min(length, received)
            return samples // frame_bytes / rate
        offset += 8 + length + (length & 1)
    return None
