"""The NDJSON decoder (one JSON value a line), for providers that stream JSON lines (Ollama)."""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import APIResponseValidationError
from .bom import without_bom
from .redact import quoted

__all__ = ["NDJSONDecoder"]


class NDJSONDecoder:
    __slots__ = ("_buf", "_held", "_held_size", "_max", "_start")

    def __init__(self, max_line_bytes: int = 16 * 1024 * 1024) -> None:
        self._buf = b""
        # Pieces of a line without its newline yet, joined once it arrives (linear work for
        # a long line fed in small pieces, as in sse.py).
        self._held: list[bytes] = []
        self._held_size = 0
        self._max = max_line_bytes
        self._start = True  # still at the stream's start: a BOM may follow

    def feed(self, chunk: bytes) -> list[Any]:
        if not self._start and b"\n" not in chunk:
            self._held.append(chunk)
            self._held_size += len(chunk)
            if self._held_size + len(self._buf) > self._max:
                raise APIResponseValidationError(f"a JSON line exceeds {self._max} bytes")
            return []
        buf = self._joined(chunk)
        if self._start:  # orjson rejects a BOM; some servers write one
            rest = without_bom(buf)
            if rest is None:
                self._buf = buf
                return []
            self._start = False
            buf = rest
        lines = buf.split(b"\n")
        self._buf = lines.pop()
        if len(self._buf) > self._max:
            raise APIResponseValidationError(f"a JSON line exceeds {self._max} bytes")
        return [self._parse(line) for line in lines if line.strip()]

    def _joined(self, chunk: bytes) -> bytes:
        if not self._held:
            return self._buf + chunk if self._buf else chunk
        buf = b"".join((self._buf, *self._held, chunk))
        self._held = []
        self._held_size = 0
        return buf

    def close(self) -> list[Any]:
        line, self._buf = self._joined(b""), b""
        if self._start:
            line = without_bom(line) or b""
        return [self._parse(line)] if line.strip() else []

    @staticmethod
    def _parse(line: bytes) -> Any:
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise APIResponseValidationError(
                f"malformed JSON line in stream: {quoted(line)}"
            ) from exc
