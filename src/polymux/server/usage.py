"""The usage log: written off the event loop in batches, and summarized for ``polymux usage``.

A request handler only appends its record to a deque (no I/O, no lock, no thread wake-up on
the event loop); one thread wakes every ``INTERVAL`` seconds and writes whatever has
accumulated in one transaction, so a burst of a thousand requests costs a handful of commits.
Waking that thread for each record (a blocking queue) cost the gateway more CPU a request
than the write itself: the hand-over of the GIL to a thread for every record.

The thread has a database connection of its own (``Database``, SQLite or PostgreSQL), so a
slow or unreachable database never holds up the gateway's loop; it writes a SQLite file by
direct calls, and PostgreSQL through an event loop of its own (asyncpg).

What can be lost: rows are in memory for up to ``INTERVAL`` seconds before they are written,
so a crash (or ``kill -9``) loses at most the rows of the last quarter second; a clean stop
(SIGTERM, Ctrl-C) writes them all. While the database cannot be written (down, disk full),
rows are kept and retried every ``INTERVAL``, up to ``MAX_PENDING`` of them; beyond that the
oldest are dropped, counted in ``dropped`` and logged. A batch the database refuses for its
content (not for being unreachable) is dropped and logged rather than retried forever.
"""

from __future__ import annotations

import asyncio
import logging
import re
import statistics
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .database import Database, SQLiteDatabase, open_database
from .store import UsageRecord

__all__ = ["MAX_PENDING", "UsageLog", "UsageSummary", "parse_duration", "summarize"]

log = logging.getLogger("polymux.server")

#: Seconds between writes at most: how long a usage row can take to reach the database.
INTERVAL = 0.25
_BATCH = 1000
#: Rows kept in memory while the database cannot be written, at most.
MAX_PENDING = 100_000


class UsageLog:
    """Appends ``UsageRecord``s to the database at ``target`` (a SQLite path or a
    ``postgresql://`` URL) from a background thread."""

    def __init__(self, target: str | Path) -> None:
        self._pending: deque[UsageRecord] = deque()  # appends and pops are atomic
        self._stop = threading.Event()
        self._opened = threading.Event()
        self._failure: BaseException | None = None
        self._failing = False
        self.dropped = 0
        self._thread = threading.Thread(
            target=self._run, args=(target,), name="polymux-usage", daemon=True
        )
        self._thread.start()
        self._opened.wait()
        if self._failure is not None:  # a bad path or URL fails at startup
            raise self._failure

    def record(self, record: UsageRecord) -> None:
        self._pending.append(record)

    def _run(self, target: str | Path) -> None:
        loop = asyncio.new_event_loop()
        try:
            try:
                db = loop.run_until_complete(open_database(target, pool_size=1))
            except BaseException as exc:
                self._failure = exc
                return
            finally:
                self._opened.set()
            try:
                write = _batch_writer(db, loop)
                while True:
                    stopping = self._stop.wait(INTERVAL)
                    if self._pending:
                        self._write_pending(db, write)
                    if stopping:
                        return
            finally:
                loop.run_until_complete(db.close())
        finally:
            loop.close()

    def _write_pending(self, db: Database, write: Callable[[list[UsageRecord]], None]) -> None:
        pending = self._pending
        while pending:
            batch = [pending.popleft() for _ in range(min(len(pending), _BATCH))]
            try:
                write(batch)
            except Exception as exc:
                if not db.transient(exc):
                    self.dropped += len(batch)
                    log.error("usage log: %d records refused, dropped: %s", len(batch), exc)
                    continue
                pending.extendleft(reversed(batch))  # first out, first back in
                over = len(pending) - MAX_PENDING
                for _ in range(max(over, 0)):
                    pending.popleft()
                self.dropped += max(over, 0)
                if not self._failing:
                    log.error("usage log: cannot write, keeping rows to retry: %s", exc)
                self._failing = True
                return
            if self._failing:
                log.warning("usage log: writing again")
                self._failing = False

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(timeout)


def _batch_writer(
    db: Database, loop: asyncio.AbstractEventLoop
) -> Callable[[list[UsageRecord]], None]:
    """How the writer thread writes one batch. To a SQLite file, by the ``Store`` call itself:
    it never waits on anything an event loop would run meanwhile, and a turn of the loop
    (``run_until_complete``: a task, its steps, a poll) costs about 70 k instructions, more
    than the rows of a small batch. To PostgreSQL, through the thread's loop (asyncpg)."""
    if isinstance(db, SQLiteDatabase):
        return db.store.log_usage
    return lambda batch: loop.run_until_complete(db.log_usage(batch))


@dataclass(slots=True)
class UsageSummary:
    """One line of ``polymux usage``."""

    key: str
    model: str
    provider: str
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: float = 0.0  # USD, of the requests whose model has a price
    unpriced: int = 0  # requests whose model has no price (cost unknown)
    latencies: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)

    @property
    def p50_latency_ms(self) -> float | None:
        return statistics.median(self.latencies) if self.latencies else None

    @property
    def p50_ttft_ms(self) -> float | None:
        return statistics.median(self.ttfts) if self.ttfts else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "model": self.model,
            "provider": self.provider,
            "requests": self.requests,
            "errors": self.errors,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "cost": self.cost,
            "unpriced": self.unpriced,
            "p50_latency_ms": self.p50_latency_ms,
            "p50_ttft_ms": self.p50_ttft_ms,
        }


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float | None:
    """ "30m", "24h", "7d" -> seconds; None when it is not such a duration."""
    match = _DURATION.match(text.strip().lower())
    return None if match is None else float(match.group(1)) * _UNITS[match.group(2)]


def summarize(
    rows: Iterable[dict[str, Any]], by: Sequence[str] = ("key", "model", "provider")
) -> list[UsageSummary]:
    """Group usage rows by key, model and/or provider (the others read "*")."""
    columns = {"key": "key_name", "model": "model", "provider": "provider"}
    groups: dict[tuple[str, str, str], UsageSummary] = {}
    for row in rows:
        parts = {
            name: (str(row[col] or "-") if name in by else "*") for name, col in columns.items()
        }
        group_key = (parts["key"], parts["model"], parts["provider"])
        summary = groups.get(group_key)
        if summary is None:
            summary = groups[group_key] = UsageSummary(*group_key)
        summary.requests += 1
        if row["status"] >= 400:
            summary.errors += 1
        summary.prompt_tokens += row["prompt_tokens"] or 0
        summary.completion_tokens += row["completion_tokens"] or 0
        summary.total_tokens += row["total_tokens"] or 0
        if row.get("cost") is None:
            summary.unpriced += 1
        else:
            summary.cost += row["cost"]
        if row["latency_ms"] is not None and row["status"] < 400:
            summary.latencies.append(row["latency_ms"])
        if row["ttft_ms"] is not None:
            summary.ttfts.append(row["ttft_ms"])
    return sorted(groups.values(), key=lambda s: (-s.requests, s.key, s.model, s.provider))
