"""AWS's binary event-stream framing (transport/eventstream.py): every message of a stream
comes out whole wherever the network splits it (every split offset, like the SSE decoder's
tests), every header type is read, and a broken stream is a typed error. The bytes are checked
against botocore's own parser first, so the writer in tests/fakes/bedrock.py is AWS's format."""

from __future__ import annotations

import struct
import uuid
import zlib

import pytest
from botocore.eventstream import EventStreamBuffer

from polymux.errors import APIResponseValidationError
from polymux.transport.eventstream import EventStreamDecoder

from .fakes.bedrock import event, exception, header, message, text_stream

STREAM = b"".join([*text_stream("Grüße, 世界!"), exception("throttlingException", "slow down")])


def _expected() -> list[tuple[dict[str, object], bytes]]:
    oracle = EventStreamBuffer()
    oracle.add_data(STREAM)
    return [(dict(m.headers), m.payload) for m in oracle]


def test_every_split_offset_yields_the_same_messages() -> None:
    want = _expected()
    assert len(want) == 8 and want[-1][0][":message-type"] == "exception"
    for cut in range(len(STREAM) + 1):
        decoder = EventStreamDecoder()
        got = decoder.feed(STREAM[:cut]) + decoder.feed(STREAM[cut:])
        decoder.close()
        assert [(m.headers, m.payload) for m in got] == want, cut


def test_one_byte_at_a_time_and_all_at_once() -> None:
    want = _expected()
    for size in (1, 3, len(STREAM)):
        decoder = EventStreamDecoder()
        got = [m for i in range(0, len(STREAM), size) for m in decoder.feed(STREAM[i : i + size])]
        assert [(m.headers, m.payload) for m in got] == want
    first = EventStreamDecoder().feed(STREAM)[0]
    assert (first.message_type, first.event_type) == ("event", "messageStart")


def test_every_header_value_type_is_read() -> None:
    value = uuid.UUID("12345678-1234-5678-1234-567812345678")
    raw = message(
        [
            header("t", None, 0),
            header("f", None, 1),
            b"\x01b\x02" + struct.pack(">b", -5),
            b"\x01s\x03" + struct.pack(">h", -300),
            header("i", 70000, 4),
            b"\x01l\x05" + struct.pack(">q", 2**40),
            header("bytes", b"\x00\xff", 6),
            header("str", "héllo"),
            b"\x02ts\x08" + struct.pack(">q", 1700000000000),
            b"\x04uuid\x09" + value.bytes,
        ],
        b"{}",
    )
    oracle = EventStreamBuffer()
    oracle.add_data(raw)
    assert len(list(oracle)) == 1  # botocore reads the same bytes as one message
    (got,) = EventStreamDecoder().feed(raw)
    assert got.headers == {
        "t": True, "f": False, "b": -5, "s": -300, "i": 70000, "l": 2**40,
        "bytes": b"\x00\xff", "str": "héllo", "ts": 1700000000000, "uuid": value,
    }  # fmt: skip


def _corrupt(raw: bytes, at: int) -> bytes:
    return raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1 :]


@pytest.mark.parametrize(
    ("where", "why"),
    [(2, "prelude checksum"), (9, "prelude checksum"), (20, "message checksum"), (-1, "message")],
)
def test_a_flipped_bit_is_a_typed_error(where: int, why: str) -> None:
    raw = event("contentBlockDelta", {"delta": {"text": "hi"}})
    with pytest.raises(APIResponseValidationError, match=why):
        EventStreamDecoder(provider="bedrock").feed(_corrupt(raw, where % len(raw)))


def test_a_cut_stream_and_an_oversized_message_are_typed_errors() -> None:
    raw = event("messageStop", {"stopReason": "end_turn"})
    decoder = EventStreamDecoder()
    assert decoder.feed(raw[:-3]) == []
    with pytest.raises(APIResponseValidationError, match="ended inside a message"):
        decoder.close()
    with pytest.raises(APIResponseValidationError, match="claims"):
        EventStreamDecoder(max_message_bytes=32).feed(raw)
    # A header that runs past its section is refused, not read out of the payload.
    head = b"\x01x\x07\x00\xff"
    prelude = struct.pack(">II", 12 + len(head) + 4, len(head))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    broken = prelude + head
    broken += struct.pack(">I", zlib.crc32(broken))
    with pytest.raises(APIResponseValidationError, match="header"):
        EventStreamDecoder().feed(broken)
