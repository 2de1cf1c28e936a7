"""Per-key limit counters: requests and tokens per minute, requests in flight, budget spent
per day or month. One interface, two implementations: ``MemoryCounters`` (one process, the
default) and ``RedisCounters`` (every worker and replica at once, atomic Lua scripts).

The minute windows slide with one-second buckets: a request is admitted while fewer than
``rpm`` were admitted in the last 60 seconds (and fewer than ``tpm`` tokens charged), so 100
rpm lets through exactly 100 in any minute, however many replicas share the counters. Tokens
and money are only known once an answer ends: ``admit`` checks that the key is still under
its tpm and budget, ``settle`` charges what the request used. A request in flight holds one
of its key's concurrency slots until ``settle``; with Redis a slot is a lease that expires
on its own (``lease_seconds``), so a replica that dies mid-request does not keep it forever.

The Lua scripts and the Python class implement the same rules; the tests run both through
the gateway and ask for the same counts.
"""

from __future__ import annotations

import calendar
import itertools
import math
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from ..store import KeyLimits
from .connection import Batcher, Outage
from .slots import SLOT_LUA

__all__ = ["Counters", "Lease", "MemoryCounters", "RedisCounters", "Refusal", "counted"]

WINDOW = 60  # seconds: "per minute"
LimitName = Literal["rpm", "tpm", "concurrency", "budget"]
_NAMES: tuple[LimitName, ...] = ("budget", "rpm", "tpm", "concurrency")


def counted(limits: KeyLimits) -> bool:
    """Whether any of the key's limits needs counting (a key without any costs nothing)."""
    return not (
        limits.rpm is None
        and limits.tpm is None
        and limits.concurrency is None
        and limits.budget is None
    )


@dataclass(frozen=True, slots=True)
class Refusal:
    """The limit a request would exceed, and the seconds until it would not."""

    limit: LimitName
    retry_after: float


@dataclass(slots=True)
class Lease:
    """An admitted request: what ``settle`` must charge and give back. It remembers the
    limits it was admitted under: a limit changed meanwhile must not unbalance a count."""

    key: str
    limits: KeyLimits
    id: str
    holds_slot: bool
    settled: bool = field(default=False)


def period(unit: Literal["day", "month"], now: float) -> tuple[str, float]:
    """(the UTC calendar period's name, the unix time it ends) for a budget."""
    t = time.gmtime(now)
    if unit == "day":
        start = calendar.timegm((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0))
        return time.strftime("%Y-%m-%d", t), float(start + 86400)
    year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    return time.strftime("%Y-%m", t), float(calendar.timegm((year, month, 1, 0, 0, 0)))


def spend_of(limits: KeyLimits, tokens: int, cost: float) -> float:
    """What a request charges against the key's budget, in the budget's unit."""
    return float(tokens) if limits.budget_unit == "tokens" else cost


class Counters(ABC):
    @abstractmethod
    async def admit(self, key: str, limits: KeyLimits) -> Lease | Refusal:
        """Count one request of ``key`` against ``limits`` if it is under all of them."""

    @abstractmethod
    async def settle(self, lease: Lease, tokens: int, cost: float) -> None:
        """Charge an admitted request's tokens and cost (USD); free its concurrency slot."""


# -- one process ------------------------------------------------------------------------------
def _window_wait(buckets: dict[int, int], limit: int, now: float) -> float | None:
    """None while the last minute's buckets sum under ``limit``, else the seconds until
    enough of them age out. Prunes buckets older than the window."""
    second = int(now)
    for old in [s for s in buckets if s <= second - WINDOW]:
        del buckets[old]
    total = sum(buckets.values())
    if total < limit:
        return None
    for s in sorted(buckets):
        total -= buckets[s]
        if total < limit:
            return s + WINDOW - now
    return float(WINDOW)  # pragma: no cover - a limit of 0 is refused at configuration


@dataclass(slots=True)
class _KeyState:
    requests: dict[int, int] = field(default_factory=dict)
    tokens: dict[int, int] = field(default_factory=dict)
    spent: dict[str, float] = field(default_factory=dict)  # budget period -> spent
    inflight: int = 0


class MemoryCounters(Counters):
    """Counters of this process only: exact with one worker; with ``--workers N`` or
    replicas, each process counts alone (configure Redis to share them)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._keys: dict[str, _KeyState] = {}
        self._ids = itertools.count()

    async def admit(self, key: str, limits: KeyLimits) -> Lease | Refusal:
        now = self._clock()
        state = self._keys.setdefault(key, _KeyState())
        waits: dict[LimitName, float | None] = {}
        if limits.budget is not None:
            name, ends = period(limits.budget_period, now)
            over = state.spent.get(name, 0.0) >= limits.budget
            waits["budget"] = ends - now if over else None
        if limits.rpm is not None:
            waits["rpm"] = _window_wait(state.requests, limits.rpm, now)
        if limits.tpm is not None:
            waits["tpm"] = _window_wait(state.tokens, limits.tpm, now)
        if limits.concurrency is not None and state.inflight >= limits.concurrency:
            waits["concurrency"] = 1.0  # a slot frees when some request ends: try again soon
        for limit in _NAMES:
            wait = waits.get(limit)
            if wait is not None:
                return Refusal(limit, wait)
        if limits.rpm is not None:
            second = int(now)
            state.requests[second] = state.requests.get(second, 0) + 1
        holds = limits.concurrency is not None
        if holds:
            state.inflight += 1
        return Lease(key, limits, str(next(self._ids)), holds)

    async def settle(self, lease: Lease, tokens: int, cost: float) -> None:
        if lease.settled:
            return
        lease.settled = True
        state = self._keys.setdefault(lease.key, _KeyState())
        limits = lease.limits
        now = self._clock()
        if lease.holds_slot:
            state.inflight -= 1
        if limits.tpm is not None and tokens:
            second = int(now)
            state.tokens[second] = state.tokens.get(second, 0) + tokens
        if limits.budget is not None:
            spend = spend_of(limits, tokens, cost)
            if spend:
                name, _ = period(limits.budget_period, now)
                # Only the current period is kept: the others are over.
                state.spent = {name: state.spent.get(name, 0.0) + spend}


# -- Redis -------------------------------------------------------------------------------------
# Keys per API key (named by the prefix and the key's name): {p}rpm, {p}tpm (hashes of
# second -> count), {p}budget:<period> (a float), {p}slots (a sorted set of lease id ->
# expiry). Redis's own clock (TIME) is the clock, so replicas with skewed clocks agree.
_WINDOW_LUA = """
local function window_wait(key, limit, now)
  local second = math.floor(now)
  local fields = redis.call('HGETALL', key)
  local total, buckets = 0, {}
  for i = 1, #fields, 2 do
    local s, n = tonumber(fields[i]), tonumber(fields[i + 1])
    if s <= second - 60 then
      redis.call('HDEL', key, fields[i])
    else
      total = total + n
      buckets[#buckets + 1] = {s, n}
    end
  end
  if total < limit then return nil end
  table.sort(buckets, function(a, b) return a[1] < b[1] end)
  for _, b in ipairs(buckets) do
    total = total - b[2]
    if total < limit then return b[1] + 60 - now end
  end
  return 60
end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# K: rpm, tpm, budget, slots. A: rpm, tpm, budget, concurrency (-1: none), lease seconds,
# lease id, seconds until the budget period ends.
# Answers {0} when admitted, else {limit index (1 budget, 2 rpm, 3 tpm, 4 concurrency),
# milliseconds to wait}.
_ADMIT = (
    SLOT_LUA
    + _WINDOW_LUA
    + """
local function call(K, A)
  local rpm, tpm, budget, slots = tonumber(A[1]), tonumber(A[2]), tonumber(A[3]),
    tonumber(A[4])
  if budget >= 0 then
    local spent = tonumber(redis.call('GET', K[3]) or '0')
    if spent >= budget then return {1, math.ceil(tonumber(A[7]) * 1000)} end
  end
  if rpm >= 0 then
    local wait = window_wait(K[1], rpm, now)
    if wait then return {2, math.ceil(wait * 1000)} end
  end
  if tpm >= 0 then
    local wait = window_wait(K[2], tpm, now)
    if wait then return {3, math.ceil(wait * 1000)} end
  end
  if slots >= 0 and not take_slot(K[4], slots, A[6], tonumber(A[5]), now) then
    return {4, 1000}
  end
  if rpm >= 0 then
    redis.call('HINCRBY', K[1], math.floor(now), 1)
    redis.call('EXPIRE', K[1], 61)
  end
  return {0}
end
"""
)

# K: tpm, budget, slots. A: tokens (0: none), spend (0: none), lease id ('' : none),
# seconds the budget key lives (its period's end, plus a day of slack).
_SETTLE = (
    _WINDOW_LUA
    + """
local function call(K, A)
  if A[3] ~= '' then redis.call('ZREM', K[3], A[3]) end
  local tokens = tonumber(A[1])
  if tokens > 0 then
    redis.call('HINCRBY', K[1], math.floor(now), tokens)
    redis.call('EXPIRE', K[1], 61)
  end
  if tonumber(A[2]) > 0 then
    redis.call('INCRBYFLOAT', K[2], A[2])
    redis.call('EXPIRE', K[2], tonumber(A[4]))
  end
  return 0
end
"""
)


class RedisCounters(Counters):
    """Counters shared by every process using the same Redis and ``prefix``: one script call
    to admit a request, one to settle it (batched with other requests' calls of the same
    loop turn). Errors of ``admit`` propagate (the redis-py ones): the caller decides between
    failing open and closed.

    ``settle`` returns at once: its call is queued for the loop turn's pipeline and nobody
    waits for its answer (the request's answer was already given; awaiting it only kept a
    future and a task switch per request). Its failure is logged through ``outage``; what
    it would have charged is then lost (the tokens and cost of the requests that ended
    while Redis was away) and the concurrency slot comes back when its lease expires
    (``lease_seconds``). ``Batcher.drain`` waits for the queued ones at shutdown."""

    def __init__(
        self,
        batcher: Batcher,
        *,
        prefix: str = "polymux:",
        lease_seconds: float = 660.0,
        outage: Outage | None = None,
    ) -> None:
        self._prefix = prefix
        self._lease_seconds = lease_seconds
        # All admissions of a loop turn are one script call, and all settlements another.
        self._admit = batcher.script(_ADMIT, per_call=(4, 7))
        self._settle = batcher.script(_SETTLE, per_call=(3, 4))
        self._outage = outage or Outage()
        self._periods: dict[str, tuple[float, str, float]] = {}  # unit -> since, name, ends

    def _key(self, key: str, what: str) -> str:
        # The braces make every counter of one key hash to one Redis Cluster slot.
        return f"{self._prefix}limits:{{{key}}}:{what}"

    def _period(self, unit: Literal["day", "month"], now: float) -> tuple[str, float]:
        """``period``, worked out once per day or month rather than twice a request."""
        since, name, ends = self._periods.get(unit) or (math.inf, "", 0.0)
        if not since <= now < ends:
            name, ends = period(unit, now)
            self._periods[unit] = (now, name, ends)
        return name, ends

    async def admit(self, key: str, limits: KeyLimits) -> Lease | Refusal:
        now = time.time()
        name, ends = self._period(limits.budget_period, now)
        lease = Lease(key, limits, _lease_id(), limits.concurrency is not None)
        answer = await self._admit(
            keys=[
                self._key(key, "rpm"),
                self._key(key, "tpm"),
                self._key(key, f"budget:{name}"),
                self._key(key, "slots"),
            ],
            args=[
                _arg(limits.rpm),
                _arg(limits.tpm),
                _arg(limits.budget),
                _arg(limits.concurrency),
                self._lease_seconds,
            ],
            varying=[lease.id, max(ends - now, 0.0)],
        )
        if int(answer[0]) == 0:
            return lease
        return Refusal(_NAMES[int(answer[0]) - 1], int(answer[1]) / 1000.0)

    async def settle(self, lease: Lease, tokens: int, cost: float) -> None:
        if lease.settled:
            return
        lease.settled = True
        limits = lease.limits
        now = time.time()
        name, ends = self._period(limits.budget_period, now)
        spend = spend_of(limits, tokens, cost) if limits.budget is not None else 0.0
        tpm_tokens = tokens if limits.tpm is not None else 0
        if not (tpm_tokens or spend or lease.holds_slot):
            return
        self._settle.send(
            keys=[
                self._key(lease.key, "tpm"),
                self._key(lease.key, f"budget:{name}"),
                self._key(lease.key, "slots"),
            ],
            args=[],
            varying=[
                tpm_tokens,
                spend,
                lease.id if lease.holds_slot else "",
                int(ends - now) + 86400,
            ],
            failed=self._failed,
        )

    def _failed(self, exc: BaseException) -> None:
        self._outage.failed("limits", exc, "a request's tokens and cost were not counted")


def _arg(limit: float | None) -> float:
    return -1 if limit is None else limit


def _lease_id() -> str:
    return secrets.token_hex(8)
