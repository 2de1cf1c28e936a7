"""The UTF-8 byte order mark some servers write before a stream: both stream decoders (SSE,
NDJSON) drop it, and it may arrive split over network chunks."""

from __future__ import annotations

__all__ = ["without_bom"]

_BOM = b"\xef\xbb\xbf"


def without_bom(start: bytes) -> bytes | None:
    """A stream's first bytes without a leading BOM; None while they are fewer than three
    and could still be the start of one (the caller waits for more)."""
    if len(start) < 3 and _BOM.startswith(start):
        return None
    return start[3:] if start.startswith(_BOM) else start
