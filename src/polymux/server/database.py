"""The gateway's durable state behind one interface: keys, the usage log, stored responses.

Two implementations of ``Database``, with the same schema and the same tests
(tests/test_server_database.py runs every case on both):

- ``SQLiteDatabase`` (the default: one file, one machine), over ``Store`` (store.py).
- ``PostgresDatabase`` (pgstore.py, ``[state] database = "postgresql://..."``): several
  workers and replicas share one database.

The interface is async because PostgreSQL is a network round trip, and the gateway's event
loop must never wait on one: asyncpg speaks to the server without blocking the loop. SQLite
calls stay synchronous under the hood where they already were (sub-millisecond local file
I/O: key changes, the CLI); what can be large (stored responses) goes to a worker thread, as
before, when ``threaded`` is set.

Nothing here is on a request's path: the key list is held in memory (auth.py ``KeyRing``),
refreshed every second (from ``Store`` directly on SQLite; on PostgreSQL by ``KeyMirror``, a
task that reads it in the background so no request waits for the database), and usage rows
are written in batches by a thread of their own (usage.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .store import (
    DB_ENV,
    UNCHANGED,
    ActiveKey,
    KeyInfo,
    KeyLimits,
    Store,
    UsageRecord,
    default_db_path,
)

__all__ = [
    "POSTGRES_SCHEMES",
    "Database",
    "KeyMirror",
    "SQLiteDatabase",
    "default_target",
    "is_postgres_url",
    "open_database",
    "redact_url",
]

log = logging.getLogger("polymux.server")

T = TypeVar("T")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
KeyState = tuple[bool, list[ActiveKey]]


def is_postgres_url(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def default_target() -> Path | str:
    """``$POLYMUX_DB`` (a SQLite path or a ``postgresql://`` URL), else the SQLite file in
    the user's data folder."""
    env = os.environ.get(DB_ENV, "")
    return env if is_postgres_url(env) else default_db_path()


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{netloc}").geturl()


class Database(ABC):
    """Keys, the usage log and stored responses (see the module docstring)."""

    #: What to show for it in messages: a path, or a URL without its password.
    where: str

    @abstractmethod
    async def schema_version(self) -> int: ...

    @abstractmethod
    async def close(self) -> None: ...

    def transient(self, exc: Exception) -> bool:
        """Whether a failed write is worth retrying (the database was unreachable or busy),
        rather than refused for what was written."""
        return True

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- keys --------------------------------------------------------------------------------
    @abstractmethod
    async def create_key(
        self,
        name: str,
        *,
        owner: str | None = None,
        note: str | None = None,
        expires: float | None = None,
        limits: KeyLimits = KeyLimits(),  # noqa: B008 - frozen, never mutated
    ) -> str:
        """Create a key named ``name``; return the key itself (only its hash is stored)."""

    @abstractmethod
    async def update_key(
        self,
        name: str,
        *,
        owner: str | None = UNCHANGED,
        note: str | None = UNCHANGED,
        expires: float | None = UNCHANGED,
        limits: KeyLimits = UNCHANGED,
    ) -> bool:
        """Change what was given of the active key ``name``; False when there is none."""

    @abstractmethod
    async def revoke_key(self, name: str) -> bool: ...

    @abstractmethod
    async def list_keys(self, *, include_revoked: bool = True) -> list[KeyInfo]: ...

    @abstractmethod
    async def key_state(self) -> KeyState:
        """(whether any key was ever created, the active keys)."""

    # -- usage -------------------------------------------------------------------------------
    @abstractmethod
    async def log_usage(self, records: Sequence[UsageRecord]) -> None:
        """Append records in one transaction."""

    @abstractmethod
    async def usage_rows(self, *, since: float | None = None) -> list[dict[str, Any]]: ...

    # -- stored responses ------------------------------------------------------------------
    @abstractmethod
    async def put_response(
        self,
        id: str,
        key_name: str | None,
        response: str,
        input_items: str,
        history: str,
        upstream: str | None = None,
    ) -> None: ...

    @abstractmethod
    async def get_response(
        self, id: str, key_name: str | None, since: float
    ) -> tuple[str, str, str, str | None] | None: ...

    @abstractmethod
    async def delete_response(self, id: str, key_name: str | None) -> bool: ...

    @abstractmethod
    async def expire_responses(self, before: float) -> int: ...


class SQLiteDatabase(Database):
    """``Database`` over one SQLite connection (``Store``).

    ``threaded``: run each call in a worker thread (one at a time), for use on the gateway's
    event loop where a call may move a large stored response. Without it, calls run inline:
    the CLI, and the usage writer's own thread.
    """

    def __init__(self, path: str | Path, *, threaded: bool = False) -> None:
        self.store = Store(path)
        self.where = str(self.store.path)
        self._threaded = threaded
        self._lock = threading.Lock()

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if not self._threaded:
            return fn(*args, **kwargs)

        def locked() -> T:
            with self._lock:
                return fn(*args, **kwargs)

        return await asyncio.to_thread(locked)

    def transient(self, exc: Exception) -> bool:
        return isinstance(exc, sqlite3.OperationalError)  # locked, disk full, I/O error

    async def schema_version(self) -> int:
        return await self._run(lambda: self.store.schema_version)

    async def close(self) -> None:
        await self._run(self.store.close)

    async def create_key(
        self,
        name: str,
        *,
        owner: str | None = None,
        note: str | None = None,
        expires: float | None = None,
        limits: KeyLimits = KeyLimits(),  # noqa: B008 - frozen, never mutated
    ) -> str:
        return await self._run(
            self.store.create_key, name, owner=owner, note=note, expires=expires, limits=limits
        )

    async def update_key(
        self,
        name: str,
        *,
        owner: str | None = UNCHANGED,
        note: str | None = UNCHANGED,
        expires: float | None = UNCHANGED,
        limits: KeyLimits = UNCHANGED,
    ) -> bool:
        return await self._run(
            self.store.update_key, name, owner=owner, note=note, expires=expires, limits=limits
        )

    async def revoke_key(self, name: str) -> bool:
        return await self._run(self.store.revoke_key, name)

    async def list_keys(self, *, include_revoked: bool = True) -> list[KeyInfo]:
        return await self._run(self.store.list_keys, include_revoked=include_revoked)

    async def key_state(self) -> KeyState:
        return await self._run(self.store.key_state)

    async def log_usage(self, records: Sequence[UsageRecord]) -> None:
        await self._run(self.store.log_usage, records)

    async def usage_rows(self, *, since: float | None = None) -> list[dict[str, Any]]:
        return await self._run(self.store.usage_rows, since=since)

    async def put_response(
        self,
        id: str,
        key_name: str | None,
        response: str,
        input_items: str,
        history: str,
        upstream: str | None = None,
    ) -> None:
        await self._run(
            self.store.put_response, id, key_name, response, input_items, history, upstream
        )

    async def get_response(
        self, id: str, key_name: str | None, since: float
    ) -> tuple[str, str, str, str | None] | None:
        return await self._run(self.store.get_response, id, key_name, since)

    async def delete_response(self, id: str, key_name: str | None) -> bool:
        return await self._run(self.store.delete_response, id, key_name)

    async def expire_responses(self, before: float) -> int:
        return await self._run(self.store.expire_responses, before)


async def open_database(
    target: str | Path, *, threaded: bool = False, pool_size: int | None = None
) -> Database:
    """The database at ``target``: a ``postgresql://`` URL, else a SQLite file path. Its
    schema is brought up to date (migrations are applied) before it is returned."""
    if is_postgres_url(target):
        from .pgstore import PostgresDatabase

        return await PostgresDatabase.connect(str(target), pool_size=pool_size)
    return SQLiteDatabase(target, threaded=threaded)


class KeyMirror:
    """The key list of a database the event loop must not wait on, kept in memory.

    ``KeyRing`` reads ``key_state()`` (no I/O); a task re-reads the list from the database
    every ``interval`` seconds, so a key created, changed or revoked on any replica takes
    effect everywhere within about that long. While the database is unreachable the last
    list read stays in force (fail-safe for availability: revocations made meanwhile take
    effect once it is back) and the error is logged once per outage.
    """

    def __init__(self, interval: float = 1.0) -> None:
        self._interval = max(interval, 0.05)
        self._state: KeyState = (True, [])  # until the first read: locked, not open
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def key_state(self) -> KeyState:
        return self._state

    async def start(self, db: Database) -> None:
        """Read the list once (a failure here fails the start), then keep it fresh."""
        self._state = await db.key_state()
        self._task = asyncio.create_task(self._run(db), name="polymux-key-mirror")

    async def _run(self, db: Database) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                self._state = await asyncio.wait_for(db.key_state(), timeout=10.0)
            except Exception as exc:
                if not self._failing:
                    log.error("keys: cannot read the key list (using the last one): %s", exc)
                self._failing = True
            else:
                if self._failing:
                    log.warning("keys: the key list is readable again")
                self._failing = False

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
