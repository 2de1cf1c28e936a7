"""``HttpTransport``: pooled HTTP/1.1 connections, with retries, timeouts and size limits.

Most requests go through h1.py's pool (asyncio protocols with httptools' C parser: about
half of aiohttp's CPU a request, benchmarks/transport.py); what it does not serve (proxies,
``public_only``, streamed uploads, redirects followed, credentials in the URL; h1.py's
docstring has the list) goes through aiohttp, below.

aiohttp was chosen over httpx for CPU cost: about 10x less per request on this workload. It is
imported on first use, so ``import polymux`` stays light. One ``ClientSession`` per transport
(one per client) holds the connection pool; it is created in the running event loop and
re-created if the client is used from a new loop (as repeated ``asyncio.run`` calls do).

Proxies: ``proxy=`` per client or call, else HTTP(S)_PROXY / ALL_PROXY / NO_PROXY read once
per session (proxy.py).

Timeouts: ``connect`` -> aiohttp's ``sock_connect``, ``idle`` -> ``sock_read`` (reset on every
read). ``total`` spans every attempt, the backoff between them and a stream's whole body; it is
kept by deadline.py, one timer for all calls, not by aiohttp's per-request timer (which cost
about a tenth of a raw request). ``first_byte`` bounds the wait for the response headers.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Mapping,
)
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from .._version import __version__
from ..errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    ConfigurationError,
    InvalidRequestError,
)
from ..types.request import Timeout
from .base import ByteStream, HttpRequest, HttpResponse, StreamedBody, Transport
from .deadline import DeadlineWatcher, Watch
from .errors import MAX_ERROR_BODY, error_from_status, translate_exception
from .h1 import H1Pool, H1Response, Target, target_of
from .loop_end import close_with_loop
from .proxy import EnvProxies
from .redact import credential_values
from .retry import DEFAULT_RETRY, RetryPolicy
from .urls import has_userinfo

if TYPE_CHECKING:
    import aiohttp

    #: An answer whose headers arrived; h1.py's offers the part of aiohttp's API used here.
    Answer = aiohttp.ClientResponse | H1Response

__all__ = ["DEFAULT_MAX_BODY", "USER_AGENT", "HttpTransport"]

# Sent with every upstream request, so a provider's logs and support can tell polymux's traffic
# apart (as the official SDKs name themselves); a per-call header of the same name wins.
USER_AGENT = f"polymux/{__version__}"

#: Request bodies larger than this (images in a message) are sent from a file object.
_INLINE_BODY = 1024 * 1024
#: The statuses aiohttp follows to the Location they name.
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: Largest non-streamed success body read (generated images as base64 can be large).
DEFAULT_MAX_BODY = 64 * 1024 * 1024

T = TypeVar("T")


class _AiohttpStream(ByteStream):
    __slots__ = ("_limits", "_provider", "_resp", "headers", "status")

    def __init__(self, resp: Answer, provider: str | None, limits: Timeout) -> None:
        self._resp = resp
        self._provider = provider
        self._limits = limits
        self.status = resp.status
        self.headers = resp.headers

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._resp.content.iter_any():
                yield chunk
        except APIError:
            raise
        except (OSError, asyncio.TimeoutError, _client_error()) as exc:
            # Which limit cut the stream decides which number the error reports.
            limits = self._limits
            seconds = _seconds_for(exc, limits.connect, limits.idle, limits.total)
            raise translate_exception(exc, self._provider, seconds=seconds) from exc


class _H1Stream(ByteStream):
    """A stream from h1.py's pool: its failures are polymux's errors already, so its body is
    handed out as it comes (no translating layer around every chunk)."""

    __slots__ = ("_resp", "headers", "status")

    def __init__(self, resp: H1Response) -> None:
        self._resp = resp
        self.status = resp.status
        self.headers = resp.headers

    def iter_bytes(self) -> AsyncIterator[bytes]:
        return self._resp.iter_any()


def _client_error() -> type[Exception]:
    import aiohttp

    return aiohttp.ClientError


class HttpTransport(Transport):
    """The default transport. ``limit`` caps open connections (0: no cap), in h1.py's pool
    and in aiohttp's each."""

    #: Send every request through aiohttp (the transport tests run both ways; an escape
    #: hatch should a host trip h1.py's pool). Set on an instance before its first request.
    aiohttp_only = False

    def __init__(
        self,
        *,
        limit: int = 0,
        retry: RetryPolicy = DEFAULT_RETRY,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self._limit = limit
        self._retry = retry
        self._max_body = max_body
        self._session: aiohttp.ClientSession | None = None
        self._h1: H1Pool | None = None  # made and closed with _session, in the same loop
        self._public_session: aiohttp.ClientSession | None = None
        self._closers: list[tuple[asyncio.AbstractEventLoop, AsyncGenerator[None, None]]] = []
        # The loop and thread the sessions were made in: a session only works in its loop.
        self._home: tuple[asyncio.AbstractEventLoop, int] | None = None
        self._public_home: tuple[asyncio.AbstractEventLoop, int] | None = None
        self._env_proxies: EnvProxies | None = None
        self._deadlines: DeadlineWatcher | None = None
        # Per-request work done once: parsed URLs and aiohttp timeouts, by what they are
        # built from (a handful of endpoints and limit sets per client).
        self._urls: dict[str, Any] = {}
        self._targets: dict[str, Target | None] = {}
        self._timeouts: dict[tuple[float | None, float | None, float | None], Any] = {}

    def __repr__(self) -> str:
        return f"<HttpTransport open={self._session is not None and not self._session.closed}>"

    def _get_session(self) -> aiohttp.ClientSession:
        session = self._session
        # aclose() forgets the sessions it closes, and nothing else closes them: no need to
        # ask aiohttp whether this one is closed.
        if session is None or not _at_home(self._home):
            session = self._session = self._open_session()
            self._h1 = H1Pool(self._limit)
            self._closers.append((asyncio.get_running_loop(), close_with_loop(self._h1)))
            self._home = _here()
            proxies = EnvProxies()
            self._env_proxies = proxies if proxies else None
            if self._deadlines is not None:
                self._deadlines.close()
            self._deadlines = DeadlineWatcher(self._home[0])
        return session

    def _get_public_session(self) -> aiohttp.ClientSession:
        """The pool for ``public_only`` requests: its resolver refuses non-public addresses
        and its DNS cache is off, so every new connection is checked (guard.py)."""
        session = self._public_session
        if session is None or not _at_home(self._public_home):
            from .guard import PublicOnlyResolver

            session = self._public_session = self._open_session(PublicOnlyResolver())
            self._public_home = _here()
        return session

    def _open_session(self, resolver: Any = None) -> aiohttp.ClientSession:
        import aiohttp

        connector = aiohttp.TCPConnector(
            limit=self._limit,
            ttl_dns_cache=300,
            use_dns_cache=resolver is None,
            resolver=resolver,
        )
        # Not trust_env=True: it costs two thread hand-offs a request (see proxy.py).
        session = aiohttp.ClientSession(
            connector=connector,
            trust_env=False,
            auto_decompress=True,
            headers={"User-Agent": USER_AGENT},
        )
        # Closed by the loop at its end if nobody calls aclose() (loop_end.py).
        self._closers.append((asyncio.get_running_loop(), close_with_loop(session)))
        return session

    async def aclose(self) -> None:
        for session in (self._session, self._public_session):
            if session is not None and not session.closed:
                await session.close()
        if self._h1 is not None:
            await self._h1.close()
        self._session = self._public_session = self._h1 = None
        # This loop's closers are done; another loop's pool stays that loop's to close.
        here = asyncio.get_running_loop()
        mine = [closer for loop, closer in self._closers if loop is here]
        self._closers = [(loop, closer) for loop, closer in self._closers if loop is not here]
        for closer in mine:
            await closer.aclose()
        if self._deadlines is not None:
            self._deadlines.close()
            self._deadlines = None

    # -- one attempt -------------------------------------------------------------------------
    def _url(self, url: str) -> Any:
        """The parsed URL (aiohttp would parse the string on every request)."""
        parsed = self._urls.get(url)
        if parsed is None:
            from yarl import URL

            parsed = URL(url)
            if len(self._urls) < 256:  # bounded: image downloads bring arbitrary URLs
                self._urls[url] = parsed
        return parsed

    def _target(self, url: str) -> Target | None:
        """Where h1.py's pool sends this URL (None: it does not serve it)."""
        try:
            return self._targets[url]
        except KeyError:
            target = target_of(url)
            if len(self._targets) < 256:  # bounded, as _urls
                self._targets[url] = target
            return target

    def _timeout(self, total: float | None, limits: Timeout) -> Any:
        key = (total, limits.connect, limits.idle)
        timeout = self._timeouts.get(key)
        if timeout is None:
            import aiohttp

            timeout = aiohttp.ClientTimeout(
                total=total, sock_connect=limits.connect, sock_read=limits.idle
            )
            # Only whole budgets are kept (None when deadline.py keeps it): a retry's remainder
            # is unique.
            if (total is None or total == limits.total) and len(self._timeouts) < 64:
                self._timeouts[key] = timeout
        return timeout

    def _send(
        self, request: HttpRequest, session: aiohttp.ClientSession, total: float | None
    ) -> Any:
        """The pending request (awaiting it sends and waits for the headers): h1.py's pool
        or aiohttp. ``total``: the limit aiohttp itself should keep (None when deadline.py
        keeps it)."""
        headers = request.headers
        if "@" in request.url:
            _refuse_two_credentials(request)
        data = request.body
        if request.json is not None:
            data = orjson.dumps(request.json)
            headers = {"Content-Type": "application/json", **headers}
        if request.options.extra_headers:
            headers = {**headers, **request.options.extra_headers}
        proxy = request.options.proxy
        if proxy is None and self._env_proxies is not None:
            proxy = self._env_proxies.for_url(request.url)
        if (
            proxy is None
            and total is None  # else no deadline.py watch: aiohttp keeps the total
            and not request.public_only
            and not isinstance(data, StreamedBody)
            and request.method not in ("HEAD", "CONNECT")
            and not self.aiohttp_only
        ):
            target = self._target(request.url)
            if target is not None:
                return self._send_h1(request, target, headers, data, session)
        return self._send_aiohttp(request, session, total, headers, data, proxy)

    async def _send_h1(
        self,
        request: HttpRequest,
        target: Target,
        headers: Mapping[str, str],
        data: bytes | None,
        session: aiohttp.ClientSession,
    ) -> Answer:
        """Through h1.py's pool; a redirect to follow is sent again through aiohttp."""
        assert self._h1 is not None  # made with the session
        head = self._h1.head(request.method, target, headers, data, USER_AGENT)
        limits = request.options.timeout
        resp = await self._h1.send(
            target, head, data, connect=limits.connect, idle=limits.idle, provider=request.provider
        )
        if resp.status in _REDIRECTS and request.follow_redirects and "Location" in resp.headers:
            resp.close()
            redirected: aiohttp.ClientResponse
            redirected = await self._send_aiohttp(request, session, None, headers, data, None)
            return redirected
        return resp

    def _send_aiohttp(
        self,
        request: HttpRequest,
        session: aiohttp.ClientSession,
        total: float | None,
        headers: Mapping[str, str],
        data: bytes | StreamedBody | None,
        proxy: str | None,
    ) -> Any:
        body: Any = data
        if isinstance(data, StreamedBody):
            # Sent as read, with its known length (not chunked: upstreams expect the length).
            body = data.chunks()
            headers = {**headers, "Content-Length": str(data.size)}
        elif data is not None and len(data) > _INLINE_BODY:
            # aiohttp writes a large bytes body in one go (and warns); from a file object it
            # writes it in pieces. A fresh one per attempt, so a retry sends it whole again.
            body = io.BytesIO(data)
        if request.public_only and proxy is None:  # through a proxy, the proxy resolves
            session = self._get_public_session()
        return session.request(
            request.method,
            self._url(request.url),
            data=body,
            headers=headers,
            timeout=self._timeout(total, request.options.timeout),
            proxy=proxy,
            allow_redirects=request.follow_redirects,
        )

    async def _attempts(
        self,
        request: HttpRequest,
        consume: Callable[[Answer, HttpRequest, int, Watch | None], Awaitable[T]],
        limit: int = 0,
    ) -> T:
        """Run attempts until one succeeds or the policy says stop. ``consume`` turns a
        success response into the result; it owns the response from then on."""
        limits = request.options.timeout
        total = limits.total
        session = self._get_session()
        deadline = watch = None
        if total is not None:
            deadline = time.monotonic() + total
            watch = self._deadlines.watch(total, request.provider)  # type: ignore[union-attr]
        # Outside a task there is no watch: aiohttp keeps the total, the first attempt with the
        # whole budget (its cached timeout), later ones with what is left of it.
        remaining = total if watch is None else None
        attempt = 0
        try:
            while True:
                headers: Mapping[str, str] | None = None
                try:
                    pending = self._send(request, session, remaining)
                    try:
                        resp = await (
                            pending
                            if limits.first_byte is None
                            else _first_byte(pending, request, self._deadlines)
                        )
                    except APIError:
                        raise
                    except (OSError, asyncio.TimeoutError, _client_error()) as exc:
                        if isinstance(exc.__cause__, InvalidRequestError):
                            raise exc.__cause__ from None  # a streamed upload's own fault
                        seconds = _seconds_for(exc, limits.connect, limits.idle, remaining)
                        raise translate_exception(exc, request.provider, seconds=seconds) from exc
                    if resp.status < 400:
                        try:
                            return await consume(resp, request, limit, watch)
                        except BaseException:
                            resp.close()
                            raise
                    error: APIError = await self._status_error(resp, request)
                    headers = resp.headers
                    retry = isinstance(error, APIStatusError) and self._retry.should_retry_status(
                        resp.status, resp.headers
                    )
                except APIConnectionError as exc:
                    error, retry = exc, True
                if not retry or attempt >= request.options.max_retries:
                    raise error
                delay = self._retry.delay(attempt, headers)
                if delay is None or (deadline is not None and time.monotonic() + delay >= deadline):
                    raise error
                await asyncio.sleep(delay)
                attempt += 1
                if watch is None and deadline is not None:
                    remaining = max(0.001, deadline - time.monotonic())
                session = self._get_session()
        except asyncio.CancelledError:
            if watch is not None and watch.owns():
                raise watch.error() from None
            raise
        finally:
            if watch is not None and watch.response is None:  # a stream's reader stops it
                watch.stop()

    @staticmethod
    async def _status_error(resp: Answer, request: HttpRequest) -> APIStatusError:
        # read(n) returns whatever has arrived, so read on until the cap or the end: a body
        # split over several TCP segments must still parse as the JSON it is.
        raw = b""
        try:
            while len(raw) < MAX_ERROR_BODY:
                piece = await resp.content.read(MAX_ERROR_BODY - len(raw))
                if not piece:
                    break
                raw += piece
        except Exception:  # a broken error body still leaves its status to report
            pass
        finally:
            resp.close()  # the rest of an oversized body is never read
        # The credentials this request carried are redacted from what the upstream said.
        secrets = credential_values(request.headers) + credential_values(
            request.options.extra_headers
        )
        return error_from_status(resp.status, resp.headers, raw, request.provider, secrets)

    # -- the interface -----------------------------------------------------------------------
    def request(
        self, request: HttpRequest, *, max_bytes: int | None = None
    ) -> Coroutine[Any, Any, HttpResponse]:
        # The attempts coroutine itself: no coroutine layer of ours in between.
        return self._attempts(request, _read_whole, max_bytes or self._max_body)

    @asynccontextmanager
    async def stream(self, request: HttpRequest) -> AsyncIterator[ByteStream]:
        resp, watch = await self._attempts(request, _keep)
        try:
            yield (
                _H1Stream(resp)
                if type(resp) is H1Response
                else _AiohttpStream(resp, request.provider, request.options.timeout)
            )
        finally:
            if watch is not None:
                watch.stop()
            # Fully read: back to the pool. Left early (break, cancel, error): close the
            # connection so the upstream stops generating.
            if resp.content.is_eof():
                resp.release()
            else:
                resp.close()


def _refuse_two_credentials(request: HttpRequest) -> None:
    """A base URL with ``user:password@`` and a key too: aiohttp would fail with a bare
    ValueError deep in the request; say what is wrong instead."""
    if not has_userinfo(request.url):
        return
    sent = {name.lower() for name in (*request.headers, *(request.options.extra_headers or ()))}
    if "authorization" in sent:
        raise ConfigurationError(
            f"{request.provider or 'this provider'}: the base URL holds credentials "
            "(user:password@) and an API key is set too; use one of them"
        )


def _here() -> tuple[asyncio.AbstractEventLoop, int]:
    return asyncio.get_running_loop(), threading.get_ident()


def _at_home(home: tuple[asyncio.AbstractEventLoop, int] | None) -> bool:
    """Whether the running loop is ``home``'s. Not ``asyncio.get_running_loop()``: before
    Python 3.12 that makes a getpid() system call, and this runs on every request. One loop
    runs per thread, so a loop that runs, in the thread it was found in, is the running one."""
    return home is not None and home[1] == threading.get_ident() and home[0].is_running()


async def _first_byte(
    pending: Any, request: HttpRequest, deadlines: DeadlineWatcher | None
) -> Answer:
    """The response headers within the ``first_byte`` limit: a deadline in the transport's
    watcher, as the total is (a set add and discard a call: ``asyncio.timeout`` armed a
    timer of its own and cost about 27 k instructions, 3 % of a gateway request; before it,
    ``wait_for`` ran every request as a task of its own)."""
    seconds = request.options.timeout.first_byte
    assert seconds is not None
    watch = None if deadlines is None else deadlines.watch(seconds, request.provider, "first_byte")
    if watch is None:  # outside a task there is none to cancel: a task of its own
        import aiohttp

        try:
            return await asyncio.wait_for(pending, seconds)
        except asyncio.TimeoutError as exc:
            if isinstance(exc, aiohttp.ServerTimeoutError):
                raise
            raise translate_exception(
                exc, request.provider, limit="first_byte", seconds=seconds
            ) from exc
    try:
        return await pending  # type: ignore[no-any-return]
    except asyncio.CancelledError:
        if watch.owns():
            raise watch.error() from None
        raise
    finally:
        watch.stop()


async def _keep(
    resp: Answer, request: HttpRequest, limit: int, watch: Watch | None
) -> tuple[Answer, Watch | None]:
    if watch is not None:
        watch.response = resp  # from here on the deadline ends the body, not the task
    return resp, watch


async def _read_whole(
    resp: Answer, request: HttpRequest, limit: int, watch: Watch | None
) -> HttpResponse:
    """A success response's whole body, at most ``limit`` bytes."""
    length = resp.content_length
    if length is not None and length > limit:
        raise APIResponseValidationError(
            f"response of {length} bytes exceeds the {limit}-byte limit",
            provider=request.provider,
        )
    parts: list[bytes] = []
    size = 0
    try:
        if length is not None and "Content-Encoding" not in resp.headers:
            # The common case: a known, uncompressed size within the limit. One read() is
            # cheaper than iterating; compressed bodies are counted as they inflate.
            body = await resp.read()
            resp.release()
            return HttpResponse(
                status=resp.status, headers=resp.headers, body=body, provider=request.provider
            )
        async for chunk in resp.content.iter_any():
            size += len(chunk)
            if size > limit:
                raise APIResponseValidationError(
                    f"response exceeds the {limit}-byte limit", provider=request.provider
                )
            parts.append(chunk)
    except APIError:
        raise
    except (OSError, asyncio.TimeoutError, _client_error()) as exc:
        raise translate_exception(exc, request.provider) from exc
    resp.release()
    return HttpResponse(
        status=resp.status, headers=resp.headers, body=b"".join(parts), provider=request.provider
    )


def _seconds_for(
    exc: BaseException, connect: float | None, idle: float | None, total: float | None
) -> Any:
    import aiohttp

    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return connect
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return idle
    return total
