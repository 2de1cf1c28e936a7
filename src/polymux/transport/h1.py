"""HTTP/1.1 keep-alive connections without aiohttp's per-request machinery.

Why: measured in one process against the same upstream, aiohttp's ``session.post`` + ``read``
cost 140-185 us of CPU a request, and a connection per ``asyncio.Protocol`` with httptools'
C response parser and a list of idle connections 26-32 us (benchmarks/README.md, "Tenth
session"). Every upstream call the library and the gateway make pays it.

What goes through here (``HttpTransport`` decides, ``servable`` says): ``http`` and ``https``
URLs without ``user:password@``, not sent through a proxy, not ``public_only`` (that check
lives in guard.py's resolver, an aiohttp one), any method but HEAD and CONNECT, bodies held
in memory. The rest stays on aiohttp: proxies, ``public_only`` requests, streamed uploads
(``StreamedBody``), URLs with credentials, and redirects: a 3xx answer with a ``Location``
to a request that follows redirects is sent again through aiohttp, which follows it.

A connection carries one request at a time (no pipelining). It goes back to the idle list
only when its answer was read to the end and neither side said ``Connection: close``; a
connection the server closed while idle drops out of the list (``connection_lost``), and one
idle for longer than ``KEEP_IDLE`` is closed when next found. A request whose REUSED
connection died before any byte of the answer arrived (the server closed it as we sent: the
stale keep-alive race) is sent once more on a fresh connection.

Bounds: the answer's head is capped (``MAX_HEAD``); a body is buffered up to ``HIGH_WATER``
bytes before the socket's reading pauses (backpressure on a slow consumer); inflated
(gzip/deflate) bodies are produced in pieces of at most ``INFLATE_PIECE`` bytes, so the
caller's size limit counts inflated bytes before they pile up. Time: ``connect`` bounds
opening the connection (TLS included), ``idle`` the silence while an answer is awaited; the
total and first-byte limits stay with deadline.py, as on the aiohttp path.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import zlib
from collections import deque
from collections.abc import AsyncIterator, Mapping
from functools import lru_cache, partial
from typing import Any

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

from ..errors import APIConnectionError, APIError, InvalidRequestError
from .errors import translate_exception

__all__ = [
    "HIGH_WATER",
    "KEEP_IDLE",
    "MAX_HEAD",
    "H1Pool",
    "H1Response",
    "Target",
    "encode_head",
    "framing",
    "target_of",
]

#: Most bytes of an answer's status line and headers (aiohttp allows 8 KiB a line).
MAX_HEAD = 64 * 1024
#: Body bytes buffered for a lagging reader before the socket stops being read.
HIGH_WATER = 256 * 1024
#: Below this many buffered bytes the socket is read again.
_LOW_WATER = HIGH_WATER // 4
#: Largest piece a compressed body is inflated into at a time.
INFLATE_PIECE = 256 * 1024
#: Seconds an idle connection is kept for reuse (aiohttp's keepalive_timeout).
KEEP_IDLE = 15.0

#: Sent unless the request names them (aiohttp's defaults, so upstreams see no difference).
_DEFAULTS = (("Accept", "*/*"), ("Accept-Encoding", "gzip, deflate"))
#: Framing headers the pool writes itself; a caller's are dropped.
_FRAMING = frozenset({"content-length", "transfer-encoding"})

ConnectionKey = tuple[str, str, int, bool]  # host, Host header, port, TLS


class Target:
    """What a URL means for sending: where to connect and the request line's parts. Parsed
    once per URL (yarl, as aiohttp parses it, so paths are encoded the same way)."""

    __slots__ = ("host", "key", "path", "port", "tls")

    def __init__(self, host: str, port: int, tls: bool, netloc: str, path: str) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.path = path
        self.key: ConnectionKey = (host, netloc, port, tls)


def target_of(url: str) -> Target | None:
    """The URL's target, or None when this pool does not serve it (another scheme, a URL
    with credentials, a relative URL)."""
    from yarl import URL

    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        return None
    scheme = parsed.scheme
    host = parsed.raw_host
    port = parsed.port
    if scheme not in ("http", "https") or not host or port is None or parsed.raw_user:
        return None
    netloc = host if ":" not in host else f"[{host}]"  # an IPv6 literal keeps its brackets
    if port != (443 if scheme == "https" else 80):
        netloc = f"{netloc}:{port}"
    return Target(host, port, scheme == "https", netloc, parsed.raw_path_qs or "/")


def encode_head(
    method: str,
    target: Target,
    headers: Mapping[str, str],
    has_body: bool,
    user_agent: str,
) -> bytes:
    """The request's head up to its framing (``framing`` adds it): the request line, the
    caller's headers, then the defaults they do not name. A header name or value holding CR
    or LF (which would end the header and start another: header injection) is refused."""
    sent = {name.lower() for name in headers}
    lines = [f"{method} {target.path} HTTP/1.1\r\n"]
    if "host" not in sent:
        lines.append(f"Host: {target.key[1]}\r\n")
    for name, value in headers.items():
        if name.lower() not in _FRAMING:
            lines.append(f"{name}: {value}\r\n")
    for name, value in (("User-Agent", user_agent), *_DEFAULTS):
        if name.lower() not in sent:
            lines.append(f"{name}: {value}\r\n")
    if has_body and "content-type" not in sent:
        lines.append("Content-Type: application/octet-stream\r\n")
    text = "".join(lines)
    # One line per entry: any other CR or LF came from a name or value.
    if text.count("\n") != len(lines) or text.count("\r") != len(lines):
        bad = [n for n, v in headers.items() if _breaks_line(n) or _breaks_line(str(v))]
        raise InvalidRequestError(
            f"header {bad[0] if bad else method!r} holds a line break (CR or LF); remove it "
            "from the header's value"
        )
    return text.encode("utf-8")


def framing(method: str, body: bytes | None) -> bytes:
    """The end of a request's head: the body's length, then the blank line."""
    if body is not None:
        return b"Content-Length: %d\r\n\r\n" % len(body)
    if method in ("POST", "PUT", "PATCH"):
        return b"Content-Length: 0\r\n\r\n"
    return b"\r\n"


def _breaks_line(text: str) -> bool:
    return "\r" in text or "\n" in text


@lru_cache(maxsize=4)
def _tls_context(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    """aiohttp's default context: the system's trust store (SSL_CERT_FILE / SSL_CERT_DIR
    honoured, hence the key), hostnames checked, HTTP/1.1 offered by ALPN."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    return context


def _gone(provider: str | None) -> APIConnectionError:
    return APIConnectionError(
        "the server closed the connection without answering", provider=provider
    )


def _broken(provider: str | None, why: object) -> APIConnectionError:
    return APIConnectionError(
        f"the connection broke while reading the answer: {why}", provider=provider
    )


class H1Response:
    """One answer on one connection: its status and headers once ``head()`` returned, then
    its body, read by exactly one consumer (``read``, ``read_upto`` or ``iter_any``). Ends
    with ``release()`` (read to the end: the connection may serve the next request) or
    ``close()`` (anything else: the connection is closed)."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_conn",
        "_decoder",
        "_done",
        "_error",
        "_head_size",
        "_idle",
        "_idle_timer",
        "_inflated",
        "_informational",
        "_keep_alive",
        "_last_byte",
        "_loop",
        "_raw_headers",
        "_refusal",
        "_sized",
        "_waiter",
        "got_bytes",
        "headers",
        "hung_up_silently",
        "parser",
        "provider",
        "status",
    )

    def __init__(self, conn: _Connection, provider: str | None, idle: float | None) -> None:
        self._conn = conn
        self._loop = conn.loop
        self.provider = provider
        # Dropped when the answer ends: the two refer to each other, and reference counting
        # alone must free a failed answer's buffers (no wait for the cyclic GC).
        self.parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers: CIMultiDictProxy[str] = _NO_HEADERS
        self._raw_headers: list[tuple[str, str]] = []
        self._head_size = 0
        self._refusal: str | None = None  # why a parser callback stopped the parse
        self._informational = False
        self._sized = False  # Content-Length or chunked: the body's end is known
        self._decoder: _Inflater | None = None
        self._chunks: deque[bytes] = deque()
        self._inflated: deque[bytes] = deque()  # inflated bytes not yet handed out
        self._buffered = 0
        self._done = False
        self._keep_alive = False
        self._error: APIError | None = None
        self._waiter: asyncio.Future[None] | None = None
        #: Whether any byte of the answer arrived (a stale connection's race sends none).
        self.got_bytes = False
        #: Whether the connection closed before any byte of the answer (the stale race).
        self.hung_up_silently = False
        self._idle = idle
        self._idle_timer: asyncio.TimerHandle | None = None
        self._last_byte = 0.0
        if idle is not None:
            self._last_byte = self._loop.time()
            self._idle_timer = self._loop.call_at(self._last_byte + idle, self._check_idle)

    # -- httptools' callbacks ---------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self._done:  # bytes after the answer's end: the connection cannot be trusted
            self._refusal = ""
            raise _Refused
        self._raw_headers = []

    def on_status(self, status: bytes) -> None:
        self._count_head(len(status))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value))
        self._raw_headers.append((name.decode("latin-1"), value.decode("utf-8", "surrogateescape")))

    def _count_head(self, size: int) -> None:
        self._head_size += size
        if self._head_size > MAX_HEAD:
            self._refusal = f"the answer's headers exceed {MAX_HEAD} bytes"
            raise _Refused

    def on_headers_complete(self) -> None:
        assert self.parser is not None  # a callback of it
        status = self.parser.get_status_code()
        if status < 200:  # 100 Continue, 103 Early Hints: the answer follows
            self._informational = True
            return
        self.status = status
        headers = CIMultiDict(self._raw_headers)
        self.headers = CIMultiDictProxy(headers)
        self._sized = "Content-Length" in headers or "Transfer-Encoding" in headers
        encoding = headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            self._decoder = _Inflater(encoding != "deflate")
        self._wake()

    def on_body(self, body: bytes) -> None:
        if not body:
            return
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER:
            self._conn.pause()
        self._wake()

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        assert self.parser is not None  # a callback of it
        self._keep_alive = self.parser.should_keep_alive()
        self._finish()

    # -- what the connection reports --------------------------------------------------------
    def unparsable(self, exc: httptools.HttpParserError) -> None:
        """The parser stopped: a malformed answer, or a callback's refusal (``_refusal``)."""
        why = self._refusal
        if why is None:
            why = f"the server sent a malformed HTTP answer: {exc}"
        if why:  # "": bytes after a whole answer, which stays good; the connection goes
            self.fail(APIConnectionError(why, provider=self.provider))
        self._keep_alive = False

    def _finish(self) -> None:
        self._done = True
        self.parser = None
        self._stop_idle()
        self._wake()

    def fail(self, error: APIError, *, now: bool = False) -> None:
        """End the answer with ``error``: after what is buffered, or ``now`` (a deadline
        cut: the next read raises)."""
        if self._done and not now:
            return
        if now:
            self._chunks.clear()
            self._buffered = 0
        self._error = error
        self._done = True
        self._keep_alive = False
        self.parser = None
        self._stop_idle()
        self._wake()

    def abandon(self) -> None:
        """Our side closed the connection (the pool closing, a limit hit): an answer not
        yet whole is broken."""
        if not self._done:
            self.fail(_broken(self.provider, "the connection was closed"))

    def lost(self, exc: BaseException | None) -> None:
        """The connection closed under this answer."""
        if self._done:
            return
        if self.status and not self._sized:  # read until close: the close is its end
            self._finish()
        elif not self.status:
            self.hung_up_silently = not self.got_bytes
            self.fail(_gone(self.provider))
        else:
            self.fail(_broken(self.provider, exc or "the server closed it mid-body"))

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _stop_idle(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _check_idle(self) -> None:
        """The idle limit: silence while an answer is awaited. A reader that lags (bytes
        buffered, reading paused) is not the upstream's silence: the clock restarts."""
        self._idle_timer = None
        if self._done or self._idle is None:
            return
        now = self._loop.time()
        if self._chunks or self._conn.paused:
            self._last_byte = now
        elif now - self._last_byte >= self._idle:
            self.fail(
                translate_exception(
                    asyncio.TimeoutError(), self.provider, limit="idle", seconds=self._idle
                )
            )
            self._conn.close()
            return
        self._idle_timer = self._loop.call_at(self._last_byte + self._idle, self._check_idle)

    def data_arrived(self) -> None:
        self.got_bytes = True
        if self._idle is not None:
            self._last_byte = self._loop.time()

    # -- the consumer's side: the part of aiohttp's ClientResponse the transport uses ------
    @property
    def content(self) -> H1Response:
        """The body as a stream (``iter_any``, ``read(n)``, ``is_eof``, ``set_exception``),
        as aiohttp's ``resp.content`` is: one code path in http.py reads either."""
        return self

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("Content-Length")
        return int(value) if value is not None and value.isdigit() else None

    async def _wait(self) -> None:
        waiter = self._waiter = self._loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    async def head(self) -> None:
        """Wait for the status and headers (or the failure that came instead)."""
        while not self.status:
            if self._error is not None:
                raise self._error
            await self._wait()

    async def _raw(self) -> bytes:
        """The next piece of the body as it came off the wire; b"" at its end."""
        while True:
            chunks = self._chunks
            if chunks:
                chunk = chunks.popleft()
                self._buffered -= len(chunk)
                if self._conn.paused and self._buffered < _LOW_WATER:
                    self._conn.resume()
                return chunk
            if self._error is not None:
                raise self._error
            if self._done:
                return b""
            await self._wait()

    async def _piece(self) -> bytes:
        """The next piece of the body, inflated when it was compressed; b"" at its end."""
        if self._inflated:  # what read(n) left over
            return self._inflated.popleft()
        decoder = self._decoder
        if decoder is None:
            return await self._raw()
        while not decoder.finished:
            try:
                piece = decoder.piece()
                if piece:
                    return piece
                decoder.feed(await self._raw())
            except zlib.error as exc:
                error = _broken(self.provider, f"its compressed body is corrupt ({exc})")
                self.fail(error, now=True)
                raise error from None
        return b""

    async def iter_any(self) -> AsyncIterator[bytes]:
        """The body in pieces as they arrive."""
        # A stream's every chunk passes here: uncompressed, one coroutine layer less.
        next_piece = self._raw if self._decoder is None else self._piece
        while piece := await next_piece():
            yield piece

    async def read(self, n: int = -1) -> bytes:
        """``n`` < 0: the whole body (aiohttp's ``resp.read()``; the caller checked its
        Content-Length against its limit). Else at most ``n`` bytes, whatever has arrived
        (aiohttp's ``resp.content.read(n)``); b"" at the end."""
        if n >= 0:
            piece = await self._piece()
            if len(piece) > n:
                self._inflated.appendleft(piece[n:])
                piece = piece[:n]
            return piece
        parts = []
        while piece := await self._piece():
            parts.append(piece)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def is_eof(self) -> bool:
        return (
            self._done
            and self._error is None
            and not self._chunks
            and not self._inflated
            and (self._decoder is None or self._decoder.finished)
        )

    def set_exception(self, error: APIError) -> None:
        """A deadline passed while the body was being read: the next read raises ``error``
        (deadline.py then closes the answer, so the upstream stops generating)."""
        self._inflated.clear()
        self.fail(error, now=True)

    def release(self) -> None:
        """Done with the answer: its connection goes back to the pool when the answer was
        read to the end and may be followed by another; otherwise it is closed."""
        conn = self._conn
        if conn.response is not self:  # released or closed already
            return
        self._stop_idle()
        if self._keep_alive and self.is_eof():
            conn.pool.put_back(conn)
        else:
            conn.close()

    def close(self) -> None:
        """Done with the answer, read or not: its connection is closed."""
        self._stop_idle()
        if self._conn.response is self:
            self._conn.close()
        # An error a reader raised holds, through its traceback, the frames that hold this
        # answer: a cycle, which only the cyclic GC would free, buffers and all. (One not
        # raised yet, a deadline's, stays for the reader's next read.)
        if self._error is not None and self._error.__traceback__ is not None:
            self._error = None
        self._chunks.clear()
        self._inflated.clear()


_NO_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())


class _Refused(Exception):
    """Raised in a parser callback to stop parsing; ``H1Response._refusal`` says why
    (httptools reports it as a callback error)."""


class _Inflater:
    """gzip or deflate (zlib-wrapped or raw, as servers send both), inflated a bounded piece
    at a time: ``feed`` the compressed bytes, then take ``piece()`` until it gives b"", so
    a bomb's next megabytes are never made before the caller's limit has seen these."""

    __slots__ = ("_gzip", "_pending", "_zlib", "finished")

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._zlib: Any = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        self._pending = b""  # compressed bytes not yet inflated
        self.finished = False

    def feed(self, data: bytes) -> None:
        """More compressed bytes; b"" at the body's end (a cut-off stream raises)."""
        if self._zlib is None:  # deflate: the first two bytes say whether it is wrapped
            wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        if data:
            self._pending = data
        elif not self._zlib.eof:  # zlib takes a cut-off stream quietly; it is not whole
            raise zlib.error("the compressed stream ends early")
        else:
            self.finished = True

    def piece(self) -> bytes:
        """The next inflated piece of what was fed, at most ``INFLATE_PIECE`` bytes; b"" when
        all of it is inflated."""
        inflater = self._zlib
        if inflater is None:  # deflate, nothing fed yet
            return b""
        while True:
            # With a length cap zlib keeps the input it did not get to: the next call's.
            out: bytes = inflater.decompress(self._pending, INFLATE_PIECE)
            self._pending = inflater.unconsumed_tail
            if out or not self._pending:
                return out


class _Connection(asyncio.Protocol):
    """One keep-alive connection to one host."""

    __slots__ = ("closed", "idle_since", "key", "loop", "paused", "pool", "response", "transport")

    def __init__(self, pool: H1Pool, key: ConnectionKey) -> None:
        self.pool = pool
        self.key = key
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.response: H1Response | None = None
        self.closed = False
        self.paused = False
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        response = self.response
        if response is None:  # bytes while idle: the connection cannot be trusted
            self.close()
            return
        parser = response.parser
        if parser is None:  # bytes after the answer's end: the connection cannot be trusted
            self.close()
            return
        response.data_arrived()
        try:
            parser.feed_data(data)
        except httptools.HttpParserError as exc:
            response.unparsable(exc)
            self.close()

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        response, self.response = self.response, None
        if response is not None:
            response.lost(exc)

    def send(
        self, head: bytes, body: bytes | None, provider: str | None, idle: float | None
    ) -> H1Response:
        response = self.response = H1Response(self, provider, idle)
        transport = self.transport
        assert transport is not None
        if body:
            transport.writelines((head, body))
        else:
            transport.write(head)
        return response

    def pause(self) -> None:
        if not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.transport.resume_reading()

    def close(self) -> None:
        """Close the connection (idempotent); the pool forgets it."""
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()
            self.pool.forget(self)
            response, self.response = self.response, None
            if response is not None:
                response.abandon()


class H1Pool:
    """The keep-alive connections of one transport in one event loop. ``limit`` caps open
    connections (0: no cap): a request beyond it waits for one to be freed, closing an idle
    connection to another host when that frees a place."""

    def __init__(self, limit: int = 0) -> None:
        self.loop = asyncio.get_running_loop()
        # Happy Eyeballs (RFC 8305, as aiohttp does it): a host's next address is tried 0.25 s
        # after the one before, so an unreachable IPv6 address does not cost the whole connect
        # limit. asyncio's own loops have it; uvloop's create_connection takes no such option
        # (there the addresses are tried in turn).
        self._create_connection: Any = (
            partial(self.loop.create_connection, happy_eyeballs_delay=0.25)
            if isinstance(self.loop, asyncio.BaseEventLoop)
            else self.loop.create_connection
        )
        self._limit = limit
        self._idle: dict[ConnectionKey, list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._waiters: deque[asyncio.Future[None]] = deque()
        # Heads up to their framing, by what they are built from: a client sends the same
        # headers to the same URL call after call (about four fifths of encode_head saved).
        self._heads: dict[tuple[str, ConnectionKey, str, bool, tuple[Any, ...]], bytes] = {}
        self.closed = False

    def __repr__(self) -> str:
        return f"<H1Pool open={len(self._open)} closed={self.closed}>"

    def head(
        self,
        method: str,
        target: Target,
        headers: Mapping[str, str],
        body: bytes | None,
        user_agent: str,
    ) -> bytes:
        """The request's head, ready to write; all but the framing built once per method,
        URL and headers."""
        key = (method, target.key, target.path, body is not None, tuple(headers.items()))
        start = self._heads.get(key)
        if start is None:
            start = encode_head(method, target, headers, body is not None, user_agent)
            if len(self._heads) < 256:  # bounded: headers that differ every call stay out
                self._heads[key] = start
        return start + framing(method, body)

    async def send(
        self,
        target: Target,
        head: bytes,
        body: bytes | None,
        *,
        connect: float | None,
        idle: float | None,
        provider: str | None,
    ) -> H1Response:
        """Send the request and return its answer once its status and headers arrived."""
        fresh = False
        while True:
            conn, reused = await self._connection(target, connect, provider, fresh)
            response = conn.send(head, body, provider, idle)
            try:
                await response.head()
            except APIConnectionError:
                conn.close()
                # The stale keep-alive race: the server closed the idle connection as we
                # sent, so the request never reached it. Once, on a fresh connection.
                if reused and response.hung_up_silently and not fresh:
                    fresh = True
                    continue
                raise
            except BaseException:  # cancelled (a deadline, the caller): nothing to reuse
                conn.close()
                raise
            return response

    def _take(self, key: ConnectionKey) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if conn.closed:
                continue
            if self.loop.time() - conn.idle_since > KEEP_IDLE:
                conn.close()
                continue
            return conn
        return None

    async def _connection(
        self, target: Target, connect: float | None, provider: str | None, fresh: bool
    ) -> tuple[_Connection, bool]:
        """An idle connection to the target (unless ``fresh``) or a new one, and whether it
        was reused. At the limit: wait for room, closing an idle connection elsewhere first."""
        while True:
            conn = None if fresh else self._take(target.key)
            if conn is not None:
                return conn, True
            if self.closed:
                raise APIConnectionError("the transport was closed", provider=provider)
            if not self._limit or len(self._open) < self._limit:
                return await self._connect(target, connect, provider), False
            if not self._evict_idle():
                await self._wait_for_room()

    async def _connect(
        self, target: Target, connect: float | None, provider: str | None
    ) -> _Connection:
        conn = _Connection(self, target.key)
        self._open.add(conn)  # counted against the limit while it connects
        tls = _tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        try:
            opening = self._create_connection(
                lambda: conn,
                target.host,
                target.port,
                ssl=tls if target.tls else None,
                server_hostname=target.host if target.tls else None,
            )
            await (opening if connect is None else asyncio.wait_for(opening, connect))
        except BaseException as exc:
            conn.close()  # counted no more (and closed, should it have connected meanwhile)
            if isinstance(exc, asyncio.TimeoutError):
                raise translate_exception(exc, provider, limit="connect", seconds=connect) from exc
            if isinstance(exc, OSError):  # refused, unreachable, DNS, TLS (an OSError too)
                raise translate_exception(exc, provider) from exc
            raise
        if self.closed or conn.closed:  # the pool closed, or the server hung up at once
            conn.close()
            raise _gone(provider)
        return conn

    def _evict_idle(self) -> bool:
        for idle in self._idle.values():
            while idle:
                conn = idle.pop()
                if not conn.closed:
                    conn.close()
                    return True
        return False

    async def _wait_for_room(self) -> None:
        waiter = self.loop.create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if not waiter.done():
                waiter.cancel()
            with contextlib.suppress(ValueError):  # a waker took it off already
                self._waiters.remove(waiter)

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def put_back(self, conn: _Connection) -> None:
        """A connection whose answer was read to the end, ready for the next request."""
        if conn.closed or self.closed:
            conn.close()
            return
        conn.response = None
        conn.idle_since = self.loop.time()
        idle = self._idle.get(conn.key)
        if idle is None:
            idle = self._idle[conn.key] = []
        idle.append(conn)
        self._wake_one()

    def forget(self, conn: _Connection) -> None:
        """A connection that closed (either side): out of the counts and the idle list."""
        if conn in self._open:
            self._open.discard(conn)
            idle = self._idle.get(conn.key)
            if idle and conn in idle:
                idle.remove(conn)
            self._wake_one()

    async def close(self) -> None:
        """Close every connection, idle or in use; the pool serves no more requests."""
        self.closed = True
        for conn in list(self._open):
            conn.close()
        self._idle.clear()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        # Let the transports run their close callbacks (sockets closed before we return).
        await asyncio.sleep(0)
