"""Request ids: the caller's ``x-request-id`` when it is a safe token, else a fresh one.

The id is sent back on every answer (errors and streams too), logged, and stored in the
usage row, so one call can be followed from the client through the gateway's logs to its
usage line. A caller's id is taken only when it is at most ``MAX_LENGTH`` characters of
letters, digits and ``._:-``: anything else (spaces, quotes, control characters, a megabyte
of text) could corrupt a log line or a header, so it is replaced, not trusted.
"""

from __future__ import annotations

import random
import re

from .asgi import Scope, header

__all__ = ["HEADER", "MAX_LENGTH", "new_request_id", "request_id"]

HEADER = b"x-request-id"
MAX_LENGTH = 128
_SAFE = re.compile(rb"[A-Za-z0-9._:\-]{1,%d}" % MAX_LENGTH).fullmatch


def new_request_id() -> bytes:
    """``req_`` and 24 random hex digits (96 bits: no collision in any realistic log).

    An id only correlates log lines and is no secret (nothing is fetched by it), so the
    ``random`` module's generator does: half the CPU of ``os.urandom``'s system call, per
    request. Python reseeds it in each forked worker."""
    return b"req_%024x" % random.getrandbits(96)


def request_id(scope: Scope) -> bytes:
    """The request's id: the caller's ``x-request-id`` if safe, else a new one."""
    given = header(scope, HEADER)
    if given is not None and _SAFE(given):
        return given
    return new_request_id()
