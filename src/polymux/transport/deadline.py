"""Total deadlines of many calls, kept by one timer.

aiohttp's ``ClientTimeout(total=...)`` arms an asyncio timer for every request and enters a
timer context around every read of the body. At 50 calls in flight that bookkeeping cost about
8 us a request on the benchmark machine, a tenth of a whole raw aiohttp request
(benchmarks/README.md). Here a call's deadline goes into a bucket shared with the calls that end
in the same second (the same 10 ms for limits of 5 s or less), and one asyncio timer waits for
the earliest bucket: starting and ending a call is a set add and a set discard.

A deadline over 5 s may fire up to a second late, as aiohttp's own timers do for such limits
(its ``ceil_threshold``); shorter ones are kept to 10 ms.

When a deadline passes, a call still waiting for its answer has its task cancelled, and the
transport turns that cancellation into ``APITimeoutError`` (the way ``asyncio.timeout`` does,
``uncancel`` included, so a cancellation from elsewhere still goes through). A stream already
handed to its reader is not cancelled: its body gets the error, which the next read raises in
whichever task reads it, and the connection is closed so the upstream stops generating.
"""

from __future__ import annotations

import asyncio
import heapq
import math
from typing import TYPE_CHECKING, Any

from ..errors import APIError
from .errors import translate_exception

if TYPE_CHECKING:
    import aiohttp

    from .h1 import H1Response

__all__ = ["DeadlineWatcher", "Watch"]

#: Limits up to this many seconds are kept to 10 ms; longer ones to the second.
_FINE_UP_TO = 5.0

_current_task = asyncio.current_task
_ceil = math.ceil


class Watch:
    """One call's total deadline. ``stop()`` when the call ends, however it ends."""

    __slots__ = (
        "_bucket",
        "_cancelling",
        "expired",
        "limit",
        "provider",
        "response",
        "seconds",
        "task",
    )

    def __init__(
        self,
        task: asyncio.Task[Any],
        bucket: set[Watch],
        seconds: float,
        provider: str | None,
        limit: str = "total",
    ) -> None:
        self.task: asyncio.Task[Any] | None = task
        self._bucket = bucket
        self.seconds = seconds
        self.provider = provider
        #: Which limit this is, as ``APITimeoutError.limit`` names it.
        self.limit = limit
        self.expired = False
        #: Set when the response is handed to a stream's reader (see the module docstring).
        self.response: aiohttp.ClientResponse | H1Response | None = None
        self._cancelling = 0

    def stop(self) -> None:
        self._bucket.discard(self)
        # The task holds its error, whose traceback holds the frames that hold this watch: a
        # reference cycle that kept a failed call's buffers (a 64 MB body) alive until the
        # garbage collector ran. A stopped watch needs neither.
        self.task = None
        self.response = None

    def error(self) -> APIError:
        # The same error, worded the same way, as any other timeout the transport reports.
        return translate_exception(
            asyncio.TimeoutError(), self.provider, limit=self.limit, seconds=self.seconds
        )

    def _expire(self) -> None:
        self.expired = True
        response = self.response
        if response is None:
            task = self.task
            if task is None:  # stopped meanwhile
                return
            cancelling = getattr(task, "cancelling", None)  # Python 3.11+
            self._cancelling = cancelling() if cancelling is not None else 0
            task.cancel()
            return
        content = response.content
        if not content.is_eof():
            content.set_exception(self.error())
        response.close()

    def owns(self) -> bool:
        """Whether this deadline caused the cancellation being handled (and no other is
        pending): then the caller raises ``error()`` instead. Call it once per cancellation."""
        if not self.expired or self.response is not None:
            return False
        uncancel = getattr(self.task, "uncancel", None)  # Python 3.11+
        return uncancel is None or uncancel() <= self._cancelling


class DeadlineWatcher:
    """The deadlines of the calls made in one event loop."""

    __slots__ = ("_buckets", "_keys", "_loop", "_time", "_timer", "_timer_at")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._time = loop.time
        self._buckets: dict[float, set[Watch]] = {}
        self._keys: list[float] = []  # a heap of the buckets' times
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    def watch(self, seconds: float, provider: str | None, limit: str = "total") -> Watch | None:
        """Start the deadline of a call made by the running task (None outside a task: the
        caller falls back to a timer of its own)."""
        task = _current_task(self._loop)
        if task is None:
            return None
        at = self._time() + seconds
        key = _ceil(at) if seconds > _FINE_UP_TO else _ceil(at * 100) / 100
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._add_bucket(key)
        watch = Watch(task, bucket, seconds, provider, limit)
        bucket.add(watch)
        return watch

    def _add_bucket(self, key: float) -> set[Watch]:
        bucket = self._buckets[key] = set()
        heapq.heappush(self._keys, key)
        if key < self._timer_at:
            self._arm(key)
        return bucket

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = math.inf

    def _arm(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(at, self._fire)
        self._timer_at = at

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = math.inf
        now = self._time()
        keys, buckets = self._keys, self._buckets
        # Past buckets expire their calls; future ones that emptied are dropped too, so an idle
        # client's timer does not wake once a second for calls that already ended.
        while keys and (keys[0] <= now or not buckets.get(keys[0])):
            key = heapq.heappop(keys)
            bucket = buckets.pop(key, None)
            if bucket and key <= now:
                for watch in list(bucket):
                    bucket.discard(watch)
                    watch._expire()
        if keys:
            self._arm(keys[0])
