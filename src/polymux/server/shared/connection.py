"""The one Redis client of a gateway process, and how its outages are reported.

redis-py's asyncio client keeps a connection pool and reconnects on the next command after
the server went away, so recovery needs no restart. Short socket timeouts bound what an
unreachable Redis can add to a request: a feature that cannot reach it falls back (see
README, "Running several replicas") within about a second instead of hanging.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...errors import ConfigurationError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "REDIS_ERRORS",
    "Arg",
    "Batcher",
    "Outage",
    "Script",
    "connect",
    "readiness_check",
]

log = logging.getLogger("polymux.server")

#: Seconds to connect to Redis and to wait for one answer (or for a free connection).
TIMEOUT = 1.0
#: Connections each process opens to Redis at most: the batching below keeps a busy
#: gateway's needs low; callers beyond it wait for one (up to TIMEOUT).
MAX_CONNECTIONS = 32


def connect(url: str, *, password_env: str | None = None) -> Redis:
    """A client for ``url`` (``redis://``, ``rediss://`` or ``unix://``); connects lazily.
    ``password_env`` names the environment variable holding the password, if any."""
    try:
        from redis.asyncio import BlockingConnectionPool, Redis
    except ImportError:
        raise ConfigurationError(
            "[state] redis needs redis-py: pip install 'polymux[redis]'"
        ) from None
    options: dict[str, Any] = {}
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise ConfigurationError(
                f"[state] redis_password_env names {password_env}, which is not set"
            )
        options["password"] = password
    try:
        pool = BlockingConnectionPool.from_url(
            url,
            **options,
            max_connections=MAX_CONNECTIONS,
            timeout=TIMEOUT,
            socket_timeout=TIMEOUT,
            socket_connect_timeout=TIMEOUT,
            health_check_interval=30,
        )
        return Redis.from_pool(pool)  # closing the client closes its pool
    except ValueError as exc:  # the URL's scheme or form; the message never holds a password
        raise ConfigurationError(f"[state] redis is not a Redis URL: {exc}") from None


def _errors() -> tuple[type[BaseException], ...]:
    try:
        from redis.exceptions import RedisError
    except ImportError:  # pragma: no cover - Redis is not configured then
        return (OSError,)
    return (RedisError, OSError)


#: What a Redis call raises when the server is away, slow or refuses (a full memory, a
#: read-only replica): the features fall back on any of these.
REDIS_ERRORS: tuple[type[BaseException], ...] = _errors()


def readiness_check(client: Redis) -> Callable[[], Awaitable[str | None]]:
    """The gateway's ``/ready`` check of Redis (server/readiness.py): None when it answers
    PING, else why not (no address or password: the route is public)."""

    async def check() -> str | None:
        try:
            await client.ping()
        except REDIS_ERRORS as exc:
            return f"Redis unreachable ({type(exc).__name__})"
        return None

    return check


class Outage:
    """Logs Redis going away and coming back once each, not once per request."""

    #: While Redis stays away, the error is logged again at most this often (seconds).
    REPEAT = 30.0

    def __init__(self) -> None:
        self.down = False
        self._logged = 0.0

    def failed(self, feature: str, exc: BaseException, fallback: str) -> None:
        now = time.monotonic()
        if not self.down or now - self._logged >= self.REPEAT:
            log.error(
                "Redis unreachable (%s: %s): %s %s", feature, type(exc).__name__, exc, fallback
            )
            self._logged = now
        self.down = True

    def ok(self) -> None:
        if self.down:
            log.warning("Redis reachable again: shared state is back in use")
            self.down = False


class Script:
    """A Lua script called through a ``Batcher``: ``await run(keys=[...], args=[...])`` for
    its answer, or ``run.send(...)`` when nobody waits for one.

    ``keys`` and ``args`` are what repeats from call to call (a key's counter names, its
    limits): their encoding is kept, so the script must read numbers among them with
    ``tonumber`` (1 and 1.0 are one entry). ``varying`` are the call's own values (a lease
    id, a time), appended to ARGV after ``args``.

    A script made with ``per_call`` (its keys and arguments per call) runs all its calls of
    one loop turn as one ``EVALSHA``: its source defines a Lua function ``call(K, A)`` (K and
    A: one call's keys and arguments) returning that call's answer; the calls run one after
    the other inside the script, as atomic as separate calls would be."""

    def __init__(
        self, batcher: Batcher, source: str, per_call: tuple[int, int] | None = None
    ) -> None:
        if per_call is not None:
            source += _MANY.format(keys=per_call[0], args=per_call[1])
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self.many = per_call is not None
        self._batcher = batcher

    def __call__(
        self, *, keys: Sequence[Arg], args: Sequence[Arg], varying: Sequence[Arg] = ()
    ) -> Awaitable[Any]:
        return self._batcher.call(self, keys, args, varying)

    def send(
        self,
        *,
        keys: Sequence[Arg],
        args: Sequence[Arg],
        varying: Sequence[Arg] = (),
        failed: Callable[[BaseException], None],
    ) -> None:
        """Queue a call whose answer nobody awaits; ``failed`` hears of its error."""
        self._batcher.send(self, keys, args, varying, failed)


# A script that runs several calls: each call's keys and arguments are consecutive slices
# of KEYS and ARGV; the answer is the list of the calls' answers.
_MANY = """
local answers = {{}}
for i = 0, #KEYS / {keys} - 1 do
  answers[i + 1] = call({{unpack(KEYS, i * {keys} + 1, i * {keys} + {keys})}},
                        {{unpack(ARGV, i * {args} + 1, i * {args} + {args})}})
end
return answers
"""

#: What a script is called with: Redis takes every argument as a string.
Arg = bytes | str | int | float


def _bulk(part: Arg) -> bytes:
    """One argument as a RESP bulk string (ints as decimals, floats as ``repr``, which Lua's
    ``tonumber`` reads back exactly)."""
    if isinstance(part, str):
        data = part.encode()
    elif isinstance(part, bytes):
        data = part
    elif isinstance(part, int):
        data = b"%d" % part
    else:
        data = repr(part).encode()
    return b"$%d\r\n%s\r\n" % (len(data), data)


@dataclass(slots=True)
class _Call:
    """A queued call: its script, its keys and arguments in RESP, and who hears of its
    answer: a future its caller awaits, or (sent without waiting) a function told of a
    failure."""

    script: Script
    keys: bytes
    argv: bytes
    count: tuple[int, int]  # keys, arguments
    to: asyncio.Future[Any] | Callable[[BaseException], None]


class Batcher:
    """Sends the script calls made in one turn of the event loop as one pipeline.

    A busy gateway starts many requests in one loop turn: their calls share one write and
    one read of a pooled connection, each caller still awaiting its own answer, none waiting
    longer than that one turn; the calls of a script made with ``per_call`` are even one
    script call. (redis-py's asyncio client has no such automatic pipelining.) The calls of
    one turn are concurrent: those of different scripts may run in another order than they
    were made, those of one script never.

    The calls are packed here and written and read on one of the client's pooled
    connections, not through redis-py's ``Pipeline``, whose command packing and per-command
    bookkeeping cost more CPU than everything else a limited request adds
    (benchmarks/README.md, "Ninth session"). The connection, its pool, timeouts,
    reconnection and reply parsing (hiredis when installed) are still redis-py's.

    Calls sent without waiting (``Script.send``: a request's settlement) are bounded: past
    ``MAX_UNANSWERED`` of them not yet answered (Redis slow or away), more are dropped and
    reported to their ``failed`` function, as a failed one is.
    """

    MAX_UNANSWERED = 10_000
    #: Connections kept between batches.
    KEEP = 4
    #: Encoded repeating parts of calls kept (then forgotten all at once and kept anew).
    MAX_KEPT = 4096

    def __init__(self, client: Redis) -> None:
        self.client = client
        self._pending: list[_Call] = []
        self._flushing: set[asyncio.Task[None]] = set()
        self._unanswered = 0  # calls sent without waiting, queued or in flight
        self._encodings: dict[tuple[Arg, ...], bytes] = {}
        self._kept_connections: list[Any] = []
        self._loaded: set[str] = set()  # the scripts Redis was seen to have (their SHA-1)
        self._closed = False

    def script(self, source: str, per_call: tuple[int, int] | None = None) -> Script:
        return Script(self, source, per_call)

    def _encoded(self, parts: Sequence[Arg]) -> bytes:
        name = tuple(parts)
        data = self._encodings.get(name)
        if data is None:
            if len(self._encodings) >= self.MAX_KEPT:
                self._encodings.clear()
            data = self._encodings[name] = b"".join(map(_bulk, name))
        return data

    def _call(
        self,
        script: Script,
        keys: Sequence[Arg],
        args: Sequence[Arg],
        varying: Sequence[Arg],
        to: asyncio.Future[Any] | Callable[[BaseException], None],
    ) -> None:
        argv = self._encoded(args)
        if varying:
            argv += b"".join(map(_bulk, varying))
        count = (len(keys), len(args) + len(varying))
        self._queue(_Call(script, self._encoded(keys), argv, count, to))

    def call(
        self, script: Script, keys: Sequence[Arg], args: Sequence[Arg], varying: Sequence[Arg]
    ) -> Awaitable[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._call(script, keys, args, varying, future)
        return future

    def send(
        self,
        script: Script,
        keys: Sequence[Arg],
        args: Sequence[Arg],
        varying: Sequence[Arg],
        failed: Callable[[BaseException], None],
    ) -> None:
        if self._unanswered >= self.MAX_UNANSWERED:
            failed(OverflowError(f"{self._unanswered} calls to Redis are still unanswered"))
            return
        self._unanswered += 1
        self._call(script, keys, args, varying, failed)

    def _queue(self, call: _Call) -> None:
        if not self._pending:
            task = asyncio.get_running_loop().create_task(self._flush())  # once this turn's
            self._flushing.add(task)  # callers queued theirs
            task.add_done_callback(self._flushing.discard)
        self._pending.append(call)

    async def drain(self) -> None:
        """Wait until every queued call was answered (or failed): before closing the client."""
        while self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)

    async def _flush(self) -> None:
        batch, self._pending = self._pending, []
        # One command per call, or per script made with ``per_call`` (its calls in order).
        groups: list[list[_Call]] = []
        many: dict[Script, list[_Call]] = {}
        for call in batch:
            if not call.script.many:
                groups.append([call])
            elif call.script in many:
                many[call.script].append(call)
            else:
                groups.append(many.setdefault(call.script, [call]))
        try:
            answers = await self._run(groups)
        except BaseException as exc:  # every caller gets the error (REDIS_ERRORS: fall back)
            answers = [exc] * len(groups)
            if not isinstance(exc, Exception):
                self._answer(groups, answers)
                raise
        self._answer(groups, answers)

    def _answer(self, groups: list[list[_Call]], answers: list[Any]) -> None:
        for group, answer in zip(groups, answers):
            if not group[0].script.many or isinstance(answer, BaseException):
                results = [answer] * len(group)
            elif isinstance(answer, list) and len(answer) == len(group):
                results = answer
            else:  # never from our scripts; no caller is left waiting if it were
                results = [_malformed(answer)] * len(group)
            for call, result in zip(group, results):
                to = call.to
                if not isinstance(to, asyncio.Future):
                    self._unanswered -= 1
                    if isinstance(result, BaseException):
                        to(result)
                elif to.done():  # its caller was cancelled
                    continue
                elif isinstance(result, BaseException):
                    to.set_exception(result)
                else:
                    to.set_result(result)

    async def _run(self, groups: list[list[_Call]]) -> list[Any]:
        from redis.exceptions import NoScriptError

        commands = [_command(group) for group in groups]
        # A script this batcher has not run yet is loaded ahead of the calls, in the same
        # exchange: a call that missed its script would be run again after the calls behind
        # it, out of order (a settlement's slot given back after the next admission).
        scripts = {group[0].script.sha: group[0].script.source for group in groups}
        new = sorted(source for sha, source in scripts.items() if sha not in self._loaded)
        loads = [_resp([b"SCRIPT", b"LOAD", source]) for source in new]
        answers = (await self._exchange([*loads, *commands]))[len(loads) :]
        self._loaded.update(scripts)
        missing = [i for i, r in enumerate(answers) if isinstance(r, NoScriptError)]
        if missing:  # a restarted (or flushed) Redis: load the scripts, run those calls again
            self._loaded.clear()
            sources = sorted({groups[i][0].script.source for i in missing})
            loads = [_resp([b"SCRIPT", b"LOAD", source]) for source in sources]
            again = await self._exchange([*loads, *(commands[i] for i in missing)])
            for i, answer in zip(missing, again[len(loads) :]):
                answers[i] = answer
        return answers

    async def _exchange(self, commands: list[bytes]) -> list[Any]:
        """Write the commands at once on one connection, read their replies (an error reply
        is its exception, in its place).

        The connection is taken from the client's pool and kept for the next batch (up to
        ``KEEP`` of them, for batches in flight at once), which saves the pool's bookkeeping
        per batch. One that fails is closed by redis-py (it reconnects on its next use) and
        goes back to the pool. A connection that was open and turns out closed by the server
        (a restarted Redis) is tried once more on a new one, as redis-py's own commands do."""
        from redis.exceptions import ConnectionError

        data = b"".join(commands)
        for last in (False, True):
            connection = await self._connection()
            was_open = connection.is_connected
            try:
                replies = await _replies(connection, data, len(commands))
            except ConnectionError:
                await self.client.connection_pool.release(connection)
                if last or not was_open:
                    raise
                continue
            except BaseException:
                await self.client.connection_pool.release(connection)
                raise
            if len(self._kept_connections) < self.KEEP and not self._closed:
                self._kept_connections.append(connection)
            else:
                await self.client.connection_pool.release(connection)
            return replies
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connection(self) -> Any:
        if self._kept_connections:
            return self._kept_connections.pop()
        return await self.client.connection_pool.get_connection()  # type: ignore[no-untyped-call]

    async def aclose(self) -> None:
        """Wait for every queued call (settlements too) and give the kept connections back
        to the pool: before closing the client."""
        await self.drain()
        self._closed = True
        pool = self.client.connection_pool
        while self._kept_connections:
            await pool.release(self._kept_connections.pop())


async def _replies(connection: Any, data: bytes, count: int) -> list[Any]:
    from redis.exceptions import ResponseError

    await connection.send_packed_command(data)
    replies: list[Any] = []
    for _ in range(count):
        try:
            replies.append(await connection.read_response())
        except ResponseError as exc:  # this call's error; the connection is fine
            replies.append(exc)
    return replies


def _malformed(answer: Any) -> BaseException:
    from redis.exceptions import ResponseError

    return ResponseError(f"a batched script answered {type(answer).__name__}, not one per call")


def _resp(parts: Sequence[Arg]) -> bytes:
    """A command in the Redis protocol (RESP)."""
    return b"*%d\r\n%s" % (len(parts), b"".join(map(_bulk, parts)))


def _command(group: list[_Call]) -> bytes:
    """``EVALSHA`` of the group's script with the calls' keys and arguments, in RESP."""
    keys = sum(call.count[0] for call in group)
    args = sum(call.count[1] for call in group)
    sha = group[0].script.sha.encode()
    return b"".join(
        [
            b"*%d\r\n$7\r\nEVALSHA\r\n" % (3 + keys + args),
            _bulk(sha),
            _bulk(keys),
            *[call.keys for call in group],
            *[call.argv for call in group],
        ]
    )
