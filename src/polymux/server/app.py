"""The gateway as an ASGI application: routing table, access checks, CORS, errors, usage.

The request path: ``Gateway.__call__`` -> route lookup -> ``KeyRing.authenticate`` ->
handler (chat.py, images.py, models.py, media.py) -> ``AsyncClient`` -> providers. Any
exception a handler raises becomes an OpenAI-style error answer here (errormap.py), and every
``/v1`` call ends as one line of the usage log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..client.async_client import AsyncClient
from ..errors import AllProvidersFailedError, APIError
from ..transport.deadline import DeadlineWatcher
from ..types.request import Timeout
from . import admin, request_log, web
from .asgi import (
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    header,
    read_json,
    read_upload,
    send_error,
    send_json,
)
from .auth import ANONYMOUS, Caller, KeyRing, KeySource, is_loopback_client
from .config import GatewayConfig
from .database import Database, KeyMirror, SQLiteDatabase, default_target, open_database
from .errormap import SHUTDOWN_MESSAGE, GatewayHTTPError, error_body, map_error
from .local import LocalOnly
from .metrics import GatewayMetrics
from .prices import PriceTable
from .readiness import Readiness, sqlite_check, upstreams_check
from .request_id import HEADER as REQUEST_ID_HEADER
from .request_id import request_id
from .response_store import ResponseDB
from .shared.connection import readiness_check
from .shared.counters import Lease, counted
from .shared.state import shared_state
from .store import Store, UsageRecord
from .targets import ModelMap
from .usage import UsageLog

__all__ = ["Call", "Gateway", "create_app"]

log = logging.getLogger("polymux.server")

#: HTTP status logged when the client went away before its answer was complete (nginx's).
CLIENT_CLOSED = 499


@dataclass(slots=True)
class Call:
    """One request as handlers see it."""

    scope: Scope
    receive: Receive
    send: Send
    record: UsageRecord
    #: The authenticated key: its name and limits (server/auth.py).
    caller: Caller = ANONYMOUS
    started: float = field(default_factory=time.perf_counter)
    #: Set by a handler once the response has started: errors then go in-band.
    responded: bool = False

    @property
    def key_name(self) -> str | None:
        return self.caller.name

    def use_model(self, model: str | None) -> None:
        """Log ``model`` as the one asked for, refusing it (403) when the caller's key may
        not use it. Every handler calls this before it calls an upstream."""
        self.record.model = model
        self.caller.check_model(model)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0

    def failed(self, exc: BaseException) -> tuple[int, dict[str, Any]]:
        """Log a failure after the answer started; (status, OpenAI-shaped error body) to end
        the stream with."""
        status, body, _ = map_error(exc)
        self.record.status = status
        self.record.error = body["error"]["message"][:500]
        return status, body

    def stopped(self) -> bytes:
        """Log a stream cut by the server stopping (its patience ran out) or the client
        leaving; the SSE event that ends it, so it does not end mid-answer without one."""
        self.record.status = 503
        self.record.error = SHUTDOWN_MESSAGE
        error = error_body(SHUTDOWN_MESSAGE, "server_error", "shutting_down")
        return b"data: " + orjson.dumps(error) + b"\n\n"


Handler = Callable[["Gateway", Call], Awaitable[None]]
#: (status, OpenAI-shaped error body) -> the error body a front door answers with.
ErrorShape = Callable[[int, dict[str, Any]], dict[str, Any]]


def _routes() -> tuple[dict[str, dict[str, Handler]], list[tuple[str, dict[str, Handler]]]]:
    from . import (
        audio,
        chat,
        completions,
        embeddings,
        image_edits,
        images,
        media,
        messages,
        metrics,
        models,
        moderations,
        openapi,
        readiness,
        responses,
    )

    exact: dict[str, dict[str, Handler]] = {
        "/v1/chat/completions": {"POST": chat.handle},
        "/v1/images/generations": {"POST": images.handle},
        "/v1/embeddings": {"POST": embeddings.handle},
        "/v1/completions": {"POST": completions.handle},
        "/v1/moderations": {"POST": moderations.handle},
        "/v1/images/edits": {"POST": image_edits.handle_edit},
        "/v1/images/variations": {"POST": image_edits.handle_variation},
        "/v1/audio/transcriptions": {"POST": audio.handle_transcription},
        "/v1/audio/translations": {"POST": audio.handle_translation},
        "/v1/audio/speech": {"POST": audio.handle_speech},
        "/v1/messages": {"POST": messages.handle},
        "/v1/messages/count_tokens": {"POST": messages.handle_count_tokens},
        "/v1/responses": {"POST": responses.handle_create},
        "/v1/models": {"GET": models.handle_list},
        "/health": {"GET": models.handle_health},
        "/ready": {"GET": readiness.handle_ready},
        "/metrics": {"GET": metrics.handle},
        "/openapi.json": {"GET": openapi.handle},
    }
    # Also without the /v1 prefix, as several OpenAI-compatible servers accept.
    for path in (
        "/chat/completions",
        "/images/generations",
        "/embeddings",
        "/completions",
        "/moderations",
        "/images/edits",
        "/images/variations",
        "/audio/transcriptions",
        "/audio/translations",
        "/audio/speech",
        "/models",
        "/responses",
    ):
        exact[path] = exact["/v1" + path]
    prefixed: list[tuple[str, dict[str, Handler]]] = [
        ("/v1/models/", {"GET": models.handle_one}),
        ("/models/", {"GET": models.handle_one}),
        (media.PREFIX, {"GET": media.handle}),
        (web.PREFIX, {"GET": web.handle_asset}),
        (responses.PREFIX, {"GET": responses.handle_get, "DELETE": responses.handle_delete}),
    ]
    exact.update({page: {"GET": web.handle_page} for page in web.PAGES})
    return exact, prefixed


# The web chat's page and files hold no secret; the API calls it makes are checked as usual.
_PUBLIC = frozenset({"/health", "/ready", "/openapi.json", *web.PAGES})
#: Requests not counted in the metrics nor logged as JSON lines: probes, scrapes, pages.
_UNCOUNTED = _PUBLIC | {"/metrics"}
# /admin/ is reached with the admin key only, checked by admin.handle (the route exists only
# when the admin API is on), never with the gateway's own keys.
_PUBLIC_PREFIXES = (web.PREFIX, admin.PREFIX)


def _counted(path: str) -> bool:
    """Whether a request is counted in the metrics and logged as a JSON line."""
    return path not in _UNCOUNTED and not path.startswith(_PUBLIC_PREFIXES)


#: Answers after which the connection is closed: refused and oversized requests.
_CLOSE_AFTER = frozenset({401, 403, 408, 413})


def _error_shapes() -> dict[str, ErrorShape]:
    """Front doors of other dialects answer errors in their own shape (default: OpenAI's)."""
    from . import messages

    return {
        "/v1/messages": messages.error_shape,
        "/v1/messages/count_tokens": messages.error_shape,
    }


@dataclass(frozen=True, slots=True)
class Route:
    """A route's handlers and what the gateway does around them, decided once per route
    (from its path, or its prefix for the routes of ``path/<id>``) rather than per request."""

    methods: dict[str, Handler]
    #: The metrics label: the path, or the prefix + ``*`` (ids in paths are not labels).
    endpoint: str
    #: Served without the gateway's keys (``_PUBLIC``, ``_PUBLIC_PREFIXES``).
    public: bool
    #: Counted in the metrics and logged as a JSON line (``_counted``).
    counted: bool
    #: Its calls are priced and written to the usage log: /v1/ but the model list.
    logged: bool
    #: Generated media, fetched without a key (``_authorize``).
    media: bool
    #: Its dialect's error body (None: OpenAI's).
    error_shape: ErrorShape | None

    @classmethod
    def at(cls, path: str, methods: dict[str, Handler], shapes: dict[str, ErrorShape]) -> Route:
        """The route of exact ``path``."""
        return cls._make(path, path, methods, shapes.get(path))

    @classmethod
    def under(cls, prefix: str, methods: dict[str, Handler]) -> Route:
        """The route of every path below ``prefix``: what holds for the prefix holds for
        them (no other route's prefix or exact path starts with a longer one of these)."""
        return cls._make(prefix, prefix + "*", methods, None)

    @classmethod
    def _make(
        cls, path: str, endpoint: str, methods: dict[str, Handler], shape: ErrorShape | None
    ) -> Route:
        return cls(
            methods=methods,
            endpoint=endpoint,
            public=path in _PUBLIC or path.startswith(_PUBLIC_PREFIXES),
            counted=_counted(path),
            logged=path.startswith("/v1/") and not path.startswith("/v1/models"),
            media=path.startswith("/media/"),
            error_shape=shape,
        )


class Gateway:
    """The ASGI application. Build it with ``create_app``."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        db_path: Path | None = None,
        key_refresh: float = 1.0,
    ) -> None:
        self.config = config
        #: SHA-256 of the admin key; None: the admin API is off and /admin/ does not exist.
        self.admin_digest = admin.admin_digest(config.admin_key_env)
        self.limits = config.limits
        self.models = ModelMap(config)
        #: Where keys, usage and stored responses live: a SQLite file, or a PostgreSQL URL.
        self.db_target: Path | str = (
            db_path or config.database_url or config.database or default_target()
        )
        self.db_path = self.db_target if isinstance(self.db_target, Path) else None
        #: The database the gateway's loop uses (stored responses, the admin API): on SQLite
        #: a connection of its own, opened on first use; on PostgreSQL a pool, opened by
        #: ``start`` (at the server's startup, or by the first request).
        self._database: Database | None = None
        self._store: Store | None = None
        self._mirror: KeyMirror | None = None
        if self.db_path is not None:
            # SQLite: the key list is read straight from the file at most once per
            # key_refresh (a sub-millisecond local read, as it always was).
            self._store = Store(self.db_path)
            keys: KeySource = self._store
            self._started = True
        else:
            # PostgreSQL: read in the background, so no request waits on the network.
            self._mirror = KeyMirror(key_refresh)
            keys = self._mirror
            self._started = False
        self._start_lock = asyncio.Lock()
        self.keys = KeyRing(
            keys,
            allow_unauthenticated=config.allow_unauthenticated,
            # The mirror is itself refreshed every key_refresh: reading it costs nothing.
            refresh=key_refresh if self._mirror is None else 0.0,
        )
        self.usage = UsageLog(self.db_target)
        #: Limits, cooldowns, slots and the cache shared by workers and replicas (shared/).
        self.shared = shared_state(config)
        self.limiter = self.shared.limiter
        self.cache = self.shared.cache
        self.prices = PriceTable.with_overrides(config.prices)
        #: Stored /v1/responses responses, opened on first use (server/responses.py).
        self.response_db: ResponseDB | None = None
        self.client = AsyncClient(
            timeout=Timeout(
                total=config.upstream_timeout,
                connect=config.connect_timeout,
                first_byte=config.first_byte_timeout,
                idle=config.idle_timeout,
            ),
            max_retries=config.max_retries,
            concurrency=self.shared.concurrency,
            health=self.shared.health,
            allow_private_image_urls=config.allow_private_image_urls,
        )
        self.pass_through = frozenset(config.pass_through)
        #: The OpenAPI document, serialized on first request (openapi.py).
        self.openapi: bytes | None = None
        self._local = LocalOnly(config)
        # Requests being handled, against config.max_concurrent_requests.
        self._inflight = 0
        self._max_inflight = config.max_concurrent_requests
        # After the gateway's own retries, SDK clients are told not to retry (they would
        # multiply the upstream calls: 3 x 3 with both at their defaults).
        self._no_sdk_retry = config.max_retries > 0
        self.media_dir = config.media_dir
        if self.media_dir is not None:
            self.media_dir.mkdir(parents=True, exist_ok=True)
        exact, prefixed = _routes()
        if self.admin_digest is not None:
            methods = ("GET", "POST", "PATCH", "DELETE")
            prefixed.append((admin.PREFIX, dict.fromkeys(methods, admin.handle)))
        shapes = _error_shapes()
        self._exact = {path: Route.at(path, methods, shapes) for path, methods in exact.items()}
        self._prefixed = [(prefix, Route.under(prefix, methods)) for prefix, methods in prefixed]
        self._cors = {o.encode() for o in config.cors_origins}
        self._closed = False
        health = self.client.router.health
        #: Named readiness checks behind GET /ready; other parts add theirs (readiness.py).
        self.readiness = Readiness()
        if self.db_path is not None:
            self.readiness.add("database", sqlite_check(self.db_path))
        else:
            self.readiness.add("database", self._database_ready)
        self.readiness.add("upstreams", upstreams_check(health, self.models.providers))
        if self.shared.redis is not None:
            self.readiness.add("redis", readiness_check(self.shared.redis))
        self.metrics: GatewayMetrics | None = None
        if config.metrics:
            try:
                self.metrics = GatewayMetrics(
                    self.models.providers, [*self.models.aliases, *self.models.declared], health
                )
            except ImportError:
                log.warning("metrics are off: GET /metrics needs pip install 'polymux[server]'")
        self._json_logs = config.json_logs
        #: Deadlines of body reads (one timer for all), in the loop that serves requests.
        self._deadlines: tuple[asyncio.AbstractEventLoop, DeadlineWatcher] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the PostgreSQL pool and read the key list (nothing to do on SQLite). Run at
        the server's startup; a request arriving first (an app driven without lifespan)
        runs it too."""
        async with self._start_lock:
            if self._started:
                return
            assert self._mirror is not None
            self._database = await open_database(
                self.db_target, pool_size=self.config.database_pool
            )
            await self._mirror.start(self._database)
            self._started = True

    async def database(self) -> Database:
        """The database for work on the event loop (stored responses, the admin API)."""
        if self._database is None:
            if self.db_path is None:
                await self.start()
            else:
                self._database = SQLiteDatabase(self.db_path, threaded=True)
        assert self._database is not None
        return self._database

    async def _database_ready(self) -> str | None:
        """Readiness on PostgreSQL: the pool answers a query (one that raises is not ready)."""
        await (await self.database()).schema_version()
        return None

    async def aclose(self) -> None:
        """Close upstream connections and write the rest of the usage log."""
        if self._closed:
            return
        self._closed = True
        # Requests cancelled by the server's shutdown write their usage row (and add to the
        # metrics) as they unwind: give them a moment to get there before the log is closed
        # and the metrics folded for the last time.
        for _ in range(100):
            if not self._inflight:
                break
            await asyncio.sleep(0.01)
        if self.metrics is not None:
            await self.metrics.stop_sampling()
        await self.client.close()
        if self._deadlines is not None:
            self._deadlines[1].close()
        await self.shared.aclose()
        await asyncio.to_thread(self.usage.close)
        if self._mirror is not None:
            await self._mirror.close()
        if self._database is not None:
            await self._database.close()
        if self._store is not None:
            self._store.close()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                if self.metrics is not None:
                    self.metrics.start_sampling(lambda: self._inflight)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- requests ----------------------------------------------------------------------------
    def _find(self, path: str) -> Route | None:
        route = self._exact.get(path)
        if route is not None:
            return route
        for prefix, route in self._prefixed:
            if path.startswith(prefix) and len(path) > len(prefix):
                return route
        return None

    def _cors_headers(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        if not self._cors:
            return []
        origin = header(scope, b"origin")
        if origin is None or (origin not in self._cors and b"*" not in self._cors):
            return []
        return [
            (b"access-control-allow-origin", b"*" if b"*" in self._cors else origin),
            (b"vary", b"origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":  # websockets: not served
            return
        cors = self._cors_headers(scope)
        rid = request_id(scope)
        # Every answer carries the request id (and the CORS headers): one wrapper.
        added = [(REQUEST_ID_HEADER, rid), *cors]
        inner_send = send

        def send_with_id(message: Any) -> Awaitable[None]:
            # A plain function handing on the inner send's awaitable: no coroutine of its
            # own for every message (one a streamed chunk).
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *added]
            return inner_send(message)

        send = send_with_id

        path: str = scope["path"]
        method: str = scope["method"]
        if method == "OPTIONS" and cors:
            await _preflight(send, cors)
            return
        route = self._find(path)
        if route is None:
            await send_error(send, 404, f"no route for {path}", code="unknown_url")
            return
        methods = route.methods
        handler = methods.get(method) or (methods.get("GET") if method == "HEAD" else None)
        if handler is None:
            allow = ", ".join(sorted(methods)).encode()
            await send_error(
                send,
                405,
                f"{method} is not allowed here; use {allow.decode()}",
                headers=[(b"allow", allow)],
            )
            return
        if self._inflight >= self._max_inflight:
            await send_error(
                send,
                503,
                f"the gateway is handling its limit of {self._max_inflight} requests; retry",
                type="server_error",
                code="overloaded",
                headers=[(b"retry-after", b"1"), (b"connection", b"close")],
            )
            if route.counted:
                record = UsageRecord(path, 503, request_id=rid.decode())
                self._account(Call(scope, receive, send, record), route, False)
            return
        if not self._started:
            try:
                await self.start()
            except Exception as exc:  # PostgreSQL unreachable at the first request
                log.error("gateway start: %s", exc)
                await send_error(
                    send,
                    503,
                    "the gateway cannot reach its database yet; retry shortly",
                    type="server_error",
                    code="database_unavailable",
                    headers=[(b"retry-after", b"1")],
                )
                return
        self._inflight += 1  # no await before the try: the count cannot leak
        try:
            call = Call(scope, receive, send, UsageRecord(endpoint=path, status=0))
            call.record.request_id = rid.decode()
            logged = route.logged
            lease: Lease | None = None
            try:
                if not route.public:
                    call.caller = self._authorize(scope, route)
                    caller = call.caller
                    # A key without limits to count costs nothing more.
                    if caller.name is not None and counted(caller.limits):
                        lease = await self.limiter.admit(caller.name, caller.limits)
                await handler(self, call)
                call.record.status = call.record.status or 200
            except ClientDisconnected:
                call.record.status = CLIENT_CLOSED
                call.record.error = "client disconnected"
            except asyncio.CancelledError:
                # Only the server cancels a request: its shutdown ran out of patience
                # (shutdown_timeout). The usage row is still written, a stream got its error
                # event (chat.py), and the request ends here rather than as an "Exception in
                # ASGI application" traceback in uvicorn's log.
                call.record.status = call.record.status if call.record.status >= 400 else 503
                call.record.error = call.record.error or SHUTDOWN_MESSAGE
                if not call.responded:
                    await send_error(send, 503, SHUTDOWN_MESSAGE, "server_error", "shutting_down")
            except Exception as exc:
                status, body, extra = map_error(exc)
                if status >= 500 and not isinstance(exc, GatewayHTTPError):
                    log.log(
                        logging.ERROR if status == 500 else logging.WARNING,
                        "%s %s -> %d: %s (request %s)",
                        method,
                        path,
                        status,
                        body["error"]["message"],
                        call.record.request_id,
                        exc_info=status == 500,
                    )
                call.record.status = status
                call.record.error = body["error"]["message"][:500]
                if not call.responded:
                    headers = [(k.encode(), v.encode()) for k, v in extra.items()]
                    if status in _CLOSE_AFTER:
                        # Refused callers do not get to keep the connection for another try.
                        headers.append((b"connection", b"close"))
                    if self._no_sdk_retry and isinstance(exc, (APIError, AllProvidersFailedError)):
                        headers.append((b"x-should-retry", b"false"))
                    shape = route.error_shape
                    await send_json(send, status, shape(status, body) if shape else body, headers)
            if logged:
                # Priced before the limiter settles: a budget in USD is spent from this cost.
                # An answer from the response cache cost nothing upstream.
                record = call.record
                record.cost = 0.0 if record.cached else self.prices.cost(record)
            if lease is not None:
                await self.limiter.settle(lease, call.record)
            if route.counted:
                self._account(call, route, logged)
        finally:
            self._inflight -= 1

    def _account(self, call: Call, route: Route, logged: bool) -> None:
        """The usage row, metrics and JSON log line of a finished request."""
        record = call.record
        record.key_name = call.key_name
        record.latency_ms = call.elapsed_ms()
        record.ts = time.time()
        if logged:
            self.usage.record(record)
        if self.metrics is not None:
            self.metrics.observe(
                route.endpoint,
                record,
                call.key_name,
                record.latency_ms / 1000.0,
            )
        if self._json_logs:
            request_log.log_request(call.scope, record, call.key_name)

    @property
    def in_flight(self) -> int:
        """Requests being handled now."""
        return self._inflight

    async def read_json(self, call: Call) -> dict[str, Any]:
        """The request's JSON body under the gateway's size, depth and time limits."""
        limits = self.limits
        return await read_json(
            call.scope,
            call.receive,
            limits.max_body_bytes,
            max_depth=limits.max_json_depth,
            timeout=self.config.body_timeout,
            deadlines=self._deadline_watcher(),
        )

    async def read_upload(self, call: Call) -> bytearray:
        """A multipart upload's body under the gateway's size limit and ``upload_timeout``
        (longer than ``body_timeout``: an upload is up to ``max_body_bytes`` of files)."""
        return await read_upload(
            call.scope,
            call.receive,
            self.limits.max_body_bytes,
            timeout=self.config.upload_timeout,
            deadlines=self._deadline_watcher(),
        )

    def _deadline_watcher(self) -> DeadlineWatcher:
        """The watcher of body-read deadlines, one for the loop the gateway runs on."""
        home = self._deadlines
        if home is None or not home[0].is_running():  # first use, or another loop (tests)
            loop = asyncio.get_running_loop()
            home = self._deadlines = (loop, DeadlineWatcher(loop))
        return home[1]

    def _authorize(self, scope: Scope, route: Route) -> Caller:
        if not self.keys.has_keys:
            self._local.check(scope)
        if route.media:
            # Media names are unguessable; an <img> tag cannot send a key. Without keys the
            # loopback-only rule still holds.
            if self.keys.has_keys or self.config.allow_unauthenticated:
                return ANONYMOUS
            if not is_loopback_client(scope.get("client")):
                raise GatewayHTTPError(403, "this gateway serves only loopback clients")
            return ANONYMOUS
        return self.keys.authenticate(scope["headers"], scope.get("client"))


async def _preflight(send: Send, cors: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 204,
            "headers": [
                (b"access-control-allow-methods", b"GET, POST, DELETE, OPTIONS"),
                (
                    b"access-control-allow-headers",
                    b"authorization, content-type, api-key, x-api-key, anthropic-version, "
                    b"anthropic-beta",
                ),
                (b"access-control-max-age", b"600"),
                (b"content-length", b"0"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def create_app(
    config: GatewayConfig, *, db_path: Path | None = None, key_refresh: float = 1.0
) -> Gateway:
    """The gateway ASGI app for ``config`` (serve it with uvicorn, see run.py)."""
    return Gateway(config, db_path=db_path, key_refresh=key_refresh)
