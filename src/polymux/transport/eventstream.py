"""The one decoder of AWS's binary event-stream framing (``application/vnd.amazon.eventstream``),
which Bedrock's ConverseStream answers in instead of Server-Sent Events.

A message is a 12-byte prelude (total length, headers length, both big-endian uint32, and the
CRC32 of those 8 bytes), the headers, the payload and the CRC32 of everything before it.
Headers are ``name length (1 byte), name, value type (1 byte), value``; ``:message-type`` says
whether a message is an ``event``, an ``exception`` or an ``error``, ``:event-type`` /
``:exception-type`` which one. Both checksums are verified; a message larger than the limit,
a bad checksum or a malformed header is an ``APIResponseValidationError``, never a hang.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import dataclass, field

from ..errors import APIResponseValidationError

__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "EventStreamDecoder", "EventStreamMessage"]

#: Largest message accepted (AWS caps a message at 16 MiB of payload and 128 KiB of headers).
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024 + 128 * 1024 + 16
_PRELUDE = 12
_MIN_MESSAGE = _PRELUDE + 4
_HeaderValue = bool | int | bytes | str | uuid.UUID


@dataclass(slots=True)
class EventStreamMessage:
    headers: dict[str, _HeaderValue] = field(default_factory=dict)
    payload: bytes = b""

    @property
    def message_type(self) -> str:
        return str(self.headers.get(":message-type", "event"))

    @property
    def event_type(self) -> str:
        return str(self.headers.get(":event-type", ""))


def _fail(why: str, provider: str | None) -> APIResponseValidationError:
    return APIResponseValidationError(f"broken event stream: {why}", provider=provider)


def _headers(raw: bytes, provider: str | None) -> dict[str, _HeaderValue]:
    headers: dict[str, _HeaderValue] = {}
    at, end = 0, len(raw)
    try:
        while at < end:
            size = raw[at]
            name = raw[at + 1 : at + 1 + size].decode()
            at += 1 + size
            kind = raw[at]
            at += 1
            value: _HeaderValue
            if kind in (0, 1):
                value = kind == 0
            elif kind == 2:
                (value,) = struct.unpack_from(">b", raw, at)
                at += 1
            elif kind == 3:
                (value,) = struct.unpack_from(">h", raw, at)
                at += 2
            elif kind == 4:
                (value,) = struct.unpack_from(">i", raw, at)
                at += 4
            elif kind in (5, 8):  # int64, timestamp (milliseconds since the epoch)
                (value,) = struct.unpack_from(">q", raw, at)
                at += 8
            elif kind in (6, 7):
                (length,) = struct.unpack_from(">H", raw, at)
                data = raw[at + 2 : at + 2 + length]
                if len(data) != length:
                    raise _fail("a header value runs past the headers", provider)
                value = data.decode() if kind == 7 else data
                at += 2 + length
            elif kind == 9:
                if at + 16 > end:
                    raise _fail("a header value runs past the headers", provider)
                value = uuid.UUID(bytes=raw[at : at + 16])
                at += 16
            else:
                raise _fail(f"unknown header value type {kind}", provider)
            if at > end:
                raise _fail("a header value runs past the headers", provider)
            headers[name] = value
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise _fail(f"a malformed header ({exc})", provider) from exc
    return headers


class EventStreamDecoder:
    """Feed it the body in whatever pieces arrive; it returns the messages each completes."""

    __slots__ = ("_buf", "_max", "provider")

    def __init__(
        self, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, provider: str | None = None
    ) -> None:
        self._buf = bytearray()
        self._max = max_message_bytes
        self.provider = provider

    def feed(self, chunk: bytes) -> list[EventStreamMessage]:
        self._buf += chunk
        out: list[EventStreamMessage] = []
        buf = self._buf
        while len(buf) >= _PRELUDE:
            total, header_size, prelude_crc = struct.unpack_from(">III", buf, 0)
            if zlib.crc32(bytes(buf[:8])) != prelude_crc:
                raise _fail("the prelude checksum does not match", self.provider)
            if total < _MIN_MESSAGE + header_size or total > self._max:
                raise _fail(f"a message claims {total} bytes", self.provider)
            if len(buf) < total:
                break
            message = bytes(buf[:total])
            del buf[:total]
            (message_crc,) = struct.unpack_from(">I", message, total - 4)
            if zlib.crc32(message[:-4]) != message_crc:
                raise _fail("the message checksum does not match", self.provider)
            headers = _headers(message[_PRELUDE : _PRELUDE + header_size], self.provider)
            out.append(EventStreamMessage(headers, message[_PRELUDE + header_size : -4]))
        return out

    def close(self) -> None:
        """The body ended: a partial message left over means the stream was cut."""
        if self._buf:
            raise _fail(
                f"the stream ended inside a message ({len(self._buf)} bytes)", self.provider
            )
