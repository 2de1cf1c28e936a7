"""The SSE and NDJSON decoders, fed real bodies split at every byte offset.

Network chunks can end anywhere: inside a line, inside a CRLF pair, inside a multi-byte UTF-8
character or inside the BOM. The decoded events must not depend on where.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from polymux.errors import APIResponseValidationError
from polymux.transport import NDJSONDecoder, SSEDecoder

BOM = b"\xef\xbb\xbf"

# -- SSE ----------------------------------------------------------------------------------------

# An OpenAI-style body: JSON data lines with multi-byte text (2-, 3- and 4-byte UTF-8).
_OPENAI_PAYLOADS = [
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
    {"choices": [{"index": 0, "delta": {"content": "héllo wörld, "}}]},
    {"choices": [{"index": 0, "delta": {"content": "世界 🎉 ok"}}]},
    {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
]
OPENAI_BODY = "".join(
    f"data: {json.dumps(p, ensure_ascii=False)}\n\n" for p in _OPENAI_PAYLOADS
) + ("data: [DONE]\n\n")
OPENAI_EVENTS = [
    *[("message", json.dumps(p, ensure_ascii=False), "") for p in _OPENAI_PAYLOADS],
    ("message", "[DONE]", ""),
]

# Named events, ids, comments (keep-alives), multi-line data, a field without a colon, an
# unknown field, a value without the optional space, an empty data line, and a dispatch of
# an event with no data (ignored).
RICH_BODY = (
    ": keep-alive comment\n"
    "event: message_start\n"
    "id: 1\n"
    'data: {"type":"message_start"}\n'
    "\n"
    ": ping\n"
    "event: content\n"
    "data: first line\n"
    "data:second line without the space\n"
    "data\n"
    "retry: 1000\n"
    "unknown: field\n"
    "\n"
    "event: ignored-no-data\n"
    "\n"
    "data: ünïcödé → ✓ 🚀\n"
    "id: 2\n"
    "\n"
    "data:\n"
    "\n"
    "data:  two spaces keep one\n"
    "\n"
)
RICH_EVENTS = [
    ("message_start", '{"type":"message_start"}', "1"),
    ("content", "first line\nsecond line without the space\n", "1"),
    ("message", "ünïcödé → ✓ 🚀", "2"),
    ("message", "", "2"),
    ("message", " two spaces keep one", "2"),
]


def _sse_decode(pieces: list[bytes]) -> list[tuple[str, str, str]]:
    decoder = SSEDecoder()
    out = []
    for piece in pieces:
        out.extend(decoder.feed(piece))
    out.extend(decoder.close())
    return [(e.event, e.data, e.id) for e in out]


def _splits(raw: bytes) -> Iterator[list[bytes]]:
    """Two pieces at every offset, three pieces around every offset, then 1-byte pieces."""
    for i in range(len(raw) + 1):
        yield [raw[:i], raw[i:]]
    for i in range(1, len(raw) - 1):
        yield [raw[: i - 1], raw[i - 1 : i + 1], raw[i + 1 :]]
    yield [raw[i : i + 1] for i in range(len(raw))]


def _endings(text: str, eol: str) -> bytes:
    return text.replace("\n", eol).encode()


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
@pytest.mark.parametrize("bom", [False, True], ids=["plain", "bom"])
@pytest.mark.parametrize(
    ("body", "expected"),
    [(OPENAI_BODY, OPENAI_EVENTS), (RICH_BODY, RICH_EVENTS)],
    ids=["openai", "rich"],
)
def test_sse_same_events_at_every_split(
    body: str, expected: list[tuple[str, str, str]], eol: str, bom: bool
) -> None:
    raw = (BOM if bom else b"") + _endings(body, eol)
    for pieces in _splits(raw):
        assert _sse_decode(pieces) == expected, pieces


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
@pytest.mark.parametrize("tail", ["", "\n"], ids=["no-eol", "one-eol"])
def test_sse_last_event_without_blank_line_is_flushed(eol: str, tail: str) -> None:
    body = "data: one\n\ndata: last 🎉" + tail
    raw = _endings(body, eol)
    for pieces in _splits(raw):
        assert _sse_decode(pieces) == [("message", "one", ""), ("message", "last 🎉", "")]


def test_sse_mixed_line_endings_and_crlf_straddling_chunks() -> None:
    raw = b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r"
    expected = [("message", "a\nb\nc", ""), ("message", "d", "")]
    for pieces in _splits(raw):
        assert _sse_decode(pieces) == expected
    # A CR ending one chunk and the LF starting the next are one line break, not two.
    assert _sse_decode([b"data: a\r", b"\ndata: b\r\n\r\n"]) == [("message", "a\nb", "")]


def test_sse_empty_chunks_change_nothing() -> None:
    # Transports may hand over empty pieces; they must not split a CRLF in two line breaks.
    pieces = [b"", b"data: a\r", b"", b"\ndata: b\r", b"", b"\n\r", b"", b"\n", b""]
    assert _sse_decode(pieces) == [("message", "a\nb", "")]


def test_sse_bom_only_at_stream_start() -> None:
    assert _sse_decode([BOM + b"data: x\n\n"]) == [("message", "x", "")]
    # A second BOM is part of the line (here: an unknown field name), not stripped.
    assert _sse_decode([BOM + BOM + b"data: x\n\n"]) == []
    assert _sse_decode([b"data: x\n\n" + BOM + b"data: y\n\n"]) == [("message", "x", "")]


def test_sse_event_type_resets_but_id_persists() -> None:
    raw = b"event: a\nid: 7\ndata: 1\n\ndata: 2\n\nid: 8\0\ndata: 3\n\n"
    # An id holding NUL is ignored (WHATWG): the last id stays.
    assert _sse_decode([raw]) == [("a", "1", "7"), ("message", "2", "7"), ("message", "3", "7")]


def test_sse_invalid_utf8_is_replaced_not_raised() -> None:
    assert _sse_decode([b"data: \xff\xfeok\n\n"]) == [("message", "\ufffd\ufffdok", "")]


def test_sse_oversized_line_without_break_is_rejected() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    decoder.feed(b"data: " + b"x" * 60)
    with pytest.raises(APIResponseValidationError, match="exceeds 100 bytes"):
        decoder.feed(b"y" * 60)


def test_sse_oversized_event_of_many_lines_is_rejected() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    for _ in range(3):  # 90 data bytes: still fine
        assert decoder.feed(b"data: " + b"z" * 30 + b"\n") == []
    with pytest.raises(APIResponseValidationError, match="exceeds 100 bytes"):
        decoder.feed(b"data: " + b"z" * 30 + b"\n")


def test_sse_events_at_the_limit_pass_and_the_count_resets_per_event() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    events = []
    for _ in range(20):  # 20 events of 100 data bytes: 2,000 in all, each within the limit
        events += decoder.feed(b"data: " + b"q" * 100 + b"\n\n")
    assert len(events) == 20 and all(len(e.data) == 100 for e in events)


# -- NDJSON -------------------------------------------------------------------------------------

NDJSON_VALUES: list[Any] = [
    {"model": "llama3", "message": {"role": "assistant", "content": "héllo "}, "done": False},
    {"model": "llama3", "message": {"role": "assistant", "content": "世界 🎉"}, "done": False},
    [1, 2, {"nested": "ü"}],
    "a string",
    {"done": True, "eval_count": 12},
]


def _ndjson_decode(pieces: list[bytes], make: Callable[[], NDJSONDecoder] = NDJSONDecoder) -> Any:
    decoder = make()
    out: list[Any] = []
    for piece in pieces:
        out.extend(decoder.feed(piece))
    out.extend(decoder.close())
    return out


@pytest.mark.parametrize("eol", ["\n", "\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("bom", [False, True], ids=["plain", "bom"])
@pytest.mark.parametrize("tail", [True, False], ids=["eol", "no-eol"])
def test_ndjson_same_values_at_every_split(eol: str, bom: bool, tail: bool) -> None:
    lines = [json.dumps(v, ensure_ascii=False) for v in NDJSON_VALUES]
    text = eol.join(lines[:2]) + eol + eol + eol.join(lines[2:])  # with one blank line
    raw = (BOM if bom else b"") + (text + (eol if tail else "")).encode()
    for pieces in _splits(raw):
        assert _ndjson_decode(pieces) == NDJSON_VALUES, pieces


def test_ndjson_malformed_line_is_a_validation_error() -> None:
    with pytest.raises(APIResponseValidationError, match="malformed JSON line"):
        _ndjson_decode([b'{"ok": 1}\n{"cut": \n'])
    with pytest.raises(APIResponseValidationError, match="malformed JSON line"):
        _ndjson_decode([b'{"ok": 1}\n{"cut": '])  # a truncated last line at the end


def test_ndjson_oversized_line_is_rejected() -> None:
    decoder = NDJSONDecoder(max_line_bytes=64)
    assert decoder.feed(b'{"a": "' + b"x" * 50 + b'"}\n') == [{"a": "x" * 50}]
    decoder.feed(b'{"b": "' + b"y" * 40)
    with pytest.raises(APIResponseValidationError, match="exceeds 64 bytes"):
        decoder.feed(b"y" * 40)


def test_sse_lines_that_are_no_field_are_kept_aside_not_yielded() -> None:
    from polymux.transport.errors import MAX_ERROR_BODY, stray_error

    body = (
        b'data: {"a": 1}\n\n: keep-alive\nretry: 10\nid: 7\n'
        b'{\n  "error": {\n    "code": 503,\n    "message": "overloaded"\n  }\n}\n'
    )
    for cut in range(len(body) + 1):  # the same at every split
        decoder = SSEDecoder()
        events = decoder.feed(body[:cut]) + decoder.feed(body[cut:]) + decoder.close()
        assert [e.data for e in events] == ['{"a": 1}']
        assert decoder.stray == [
            b"{",
            b'  "error": {',
            b'    "code": 503,',
            b'    "message": "overloaded"',
            b"  }",
            b"}",
        ]
    error = stray_error(decoder.stray, "host")
    assert error is not None and getattr(error, "status_code", None) == 503
    assert stray_error([b"not json"], "host") is None
    # Kept up to the error-body cap, no further.
    flood = SSEDecoder()
    flood.feed(b"x" * 1000 + b"\n" * 1 + (b"y" * 1000 + b"\n") * 200)
    assert sum(len(line) + 1 for line in flood.stray) <= MAX_ERROR_BODY + 1001
