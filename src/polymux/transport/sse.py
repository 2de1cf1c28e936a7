"""The one Server-Sent Events decoder (WHATWG HTML §9.2), working on bytes in bulk.

Lines are split on bytes (LF, CRLF and lone CR, also when a CRLF straddles two network
chunks) before decoding, which is safe because a line break is never part of a multi-byte
UTF-8 sequence; so no incremental text decoder runs on the hot path. A leading BOM is dropped,
comments and unknown fields are ignored, multi-line data is joined with LF, and a last event
without its blank line is flushed at the end (a leniency LLM hosts need). Lines that are no
SSE field at all are kept aside (``stray``, size-capped): some hosts write a bare JSON error
object into the stream when it fails, and the provider reports that error (errors.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import APIResponseValidationError
from .bom import without_bom
from .errors import MAX_ERROR_BODY

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "SSEDecoder", "SSEEvent"]

#: Largest event (or line) accepted; a stream that exceeds it is broken or hostile.
DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024


@dataclass(slots=True)
class SSEEvent:
    data: str
    event: str = "message"
    id: str = ""


class SSEDecoder:
    __slots__ = (
        "_buf",
        "_cr",
        "_data",
        "_event",
        "_held",
        "_held_size",
        "_last_id",
        "_max",
        "_size",
        "_start",
        "_stray_size",
        "stray",
    )

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._buf = b""
        # Pieces of one long line that have no line break yet: joined once, when the break
        # arrives, so a line fed in small pieces costs linear, not quadratic, work.
        self._held: list[bytes] = []
        self._held_size = 0
        self._cr = False  # the previous chunk ended with CR: drop a leading LF
        self._start = True  # still at the stream's start: a BOM may follow
        self._data: list[str] = []
        self._event = ""
        self._last_id = ""
        self._max = max_event_bytes
        self._size = 0
        #: Lines that were no SSE field (see the module docstring), up to MAX_ERROR_BODY bytes.
        self.stray: list[bytes] = []
        self._stray_size = 0

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode one network chunk; return the events it completed."""
        if not chunk:  # an empty piece must not forget a CR that ended the previous one
            return []
        if self._cr:
            self._cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if not self._start and b"\n" not in chunk and b"\r" not in chunk:
            return self._hold(chunk)
        if self._held:
            buf = b"".join((self._buf, *self._held, chunk))
            self._held = []
            self._held_size = 0
        else:
            buf = self._buf + chunk if self._buf else chunk
        if self._start:
            rest = without_bom(buf)
            if rest is None:
                self._buf = buf
                return []
            self._start = False
            buf = rest
        if b"\r" in buf:
            self._cr = buf.endswith(b"\r")
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buf.split(b"\n")
        self._buf = lines.pop()
        if len(self._buf) > self._max:
            raise APIResponseValidationError(f"a server-sent event line exceeds {self._max} bytes")
        events: list[SSEEvent] = []
        for line in lines:
            self._line(line, events)
        return events

    def _hold(self, chunk: bytes) -> list[SSEEvent]:
        self._held.append(chunk)
        self._held_size += len(chunk)
        if self._held_size + len(self._buf) > self._max:
            raise APIResponseValidationError(f"a server-sent event line exceeds {self._max} bytes")
        return []

    def _line(self, line: bytes, events: list[SSEEvent]) -> None:
        if not line:
            if self._data:
                events.append(
                    SSEEvent("\n".join(self._data), self._event or "message", self._last_id)
                )
            self._data = []
            self._event = ""
            self._size = 0
            return
        if line[0] == 58:  # b":" comment, e.g. keep-alives
            return
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._size += len(value)
            if self._size > self._max:
                raise APIResponseValidationError(f"a server-sent event exceeds {self._max} bytes")
            self._data.append(value.decode("utf-8", "replace"))
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id":
            if b"\x00" not in value:
                self._last_id = value.decode("utf-8", "replace")
        elif name != b"retry" and self._stray_size < MAX_ERROR_BODY:
            self.stray.append(line)
            self._stray_size += len(line) + 1

    def close(self) -> list[SSEEvent]:
        """End of stream: flush a last line and event that lacked their terminators."""
        events: list[SSEEvent] = []
        if self._held:
            self._buf = b"".join((self._buf, *self._held))
            self._held = []
            self._held_size = 0
        if self._buf:
            line, self._buf = self._buf, b""
            if self._start:
                line = without_bom(line) or b""
            self._line(line, events)
        if self._data:
            self._line(b"", events)
        return events
