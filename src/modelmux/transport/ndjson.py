"""The NDJSON decoder (one JSON value a line), for providers that stream JSON lines (Ollama)."""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import APIResponseValidationError

__all__ = ["NDJSONDecoder"]


class NDJSONDecoder:
    __slots__ = ("_buf", "_max")

    def __init__(self, max_line_bytes: int = 16 * 1024 * 1024) -> None:
        self._buf = b""
        self._max = max_line_bytes

    def feed(self, chunk: bytes) -> list[Any]:
        buf = self._buf + chunk if self._buf else chunk
        lines = buf.split(b"\n")
        self._buf = lines.pop()
        if len(self._buf) > self._max:
            raise APIResponseValidationError(f"a JSON line exceeds {self._max} bytes")
        return [self._parse(line) for line in lines if line.strip()]

    def close(self) -> list[Any]:
        line, self._buf = self._buf, b""
        return [self._parse(line)] if line.strip() else []

    @staticmethod
    def _parse(line: bytes) -> Any:
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise APIResponseValidationError(
                f"malformed JSON line in stream: {line[:200].decode('utf-8', 'replace')!r}"
            ) from exc
