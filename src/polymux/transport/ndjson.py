"""The NDJSON decoder (one JSON value a line), for providers that stream JSON lines (Ollama)."""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import APIResponseValidationError
from .bom import without_bom

__all__ = ["NDJSONDecoder"]


class NDJSONDecoder:
    __slots__ = ("_buf", "_max", "_start")

    def __init__(self, max_line_bytes: int = 16 * 1024 * 1024) -> None:
        self._buf = b""
        self._max = max_line_bytes
        self._start = True  # still at the stream's start: a BOM may follow

    def feed(self, chunk: bytes) -> list[Any]:
        buf = self._buf + chunk if self._buf else chunk
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

    def close(self) -> list[Any]:
        line, self._buf = self._buf, b""
        if self._start:
            line = without_bom(line) or b""
        return [self._parse(line)] if line.strip() else []

    @staticmethod
    def _parse(line: bytes) -> Any:
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise APIResponseValidationError(
                f"malformed JSON line in stream: {line[:200].decode('utf-8', 'replace')!r}"
            ) from exc
