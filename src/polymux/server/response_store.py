"""Stored responses of ``/v1/responses`` in the gateway's database, one view per key.

Responses passed through natively to OpenAI are kept there: only their id, owner and
provider are recorded, so a key reaches only its own through the gateway.

``ResponseDB`` reads and writes them through the gateway's ``Database`` (database.py): on
SQLite a connection of its own, used from worker threads one call at a time, so a large stored
conversation never blocks the event loop; on PostgreSQL the gateway's pool. ``for_key(name)``
is the ``ResponseStore`` the client's Responses API reads and writes for one caller: a key sees
only the responses it created. Responses older than the retention are neither returned nor
kept (swept at most once a minute, on a write).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson

from ..client.responses import StoredResponse
from ..types.responses import Response
from .database import Database
from .errormap import GatewayHTTPError

__all__ = ["KeyResponses", "ResponseDB"]

log = logging.getLogger("polymux.server")
T = TypeVar("T")

_SWEEP_EVERY = 60.0


class ResponseDB:
    def __init__(self, db: Database, retention_days: float) -> None:
        self.db = db
        self.retention = retention_days * 86400.0
        self._swept = 0.0

    def for_key(self, key_name: str | None) -> KeyResponses:
        return KeyResponses(self, key_name)

    async def _call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``fn(*args)`` on the database; unreachable (PostgreSQL down, SQLite locked): 503."""
        try:
            return await fn(*args)
        except Exception as exc:
            if not self.db.transient(exc):
                raise
            log.error("stored responses: the database failed: %s: %s", type(exc).__name__, exc)
            raise GatewayHTTPError(
                503,
                "stored responses are unavailable: the gateway cannot reach its database; "
                "retry shortly",
                code="database_unavailable",
                headers={"retry-after": "1"},
            ) from None

    async def _put(self, key_name: str | None, stored: StoredResponse) -> None:
        await self._sweep()
        await self._call(
            self.db.put_response,
            stored.response.id,
            key_name,
            orjson.dumps(stored.response.model_dump()).decode(),
            orjson.dumps(stored.input_items).decode(),
            orjson.dumps(stored.history).decode(),
        )

    async def _sweep(self) -> None:
        now = time.time()
        if now - self._swept > _SWEEP_EVERY:
            self._swept = now
            await self._call(self.db.expire_responses, now - self.retention)

    async def _get(self, key_name: str | None, response_id: str) -> StoredResponse | None:
        row = await self._call(
            self.db.get_response, response_id, key_name, time.time() - self.retention
        )
        if row is None or row[3] is not None:  # unknown, or kept upstream
            return None
        response, items, history = (orjson.loads(text) for text in row[:3])
        return StoredResponse(Response.from_dict(response), items, history)

    async def _upstream(self, key_name: str | None, response_id: str) -> str | None:
        row = await self._call(
            self.db.get_response, response_id, key_name, time.time() - self.retention
        )
        return None if row is None else row[3]

    async def _put_native(self, key_name: str | None, response_id: str, upstream: str) -> None:
        await self._sweep()
        await self._call(self.db.put_response, response_id, key_name, "{}", "[]", "[]", upstream)


class KeyResponses:
    """The responses one key stored (a ``ResponseStore``)."""

    def __init__(self, db: ResponseDB, key_name: str | None) -> None:
        self._db = db
        self._key = key_name

    async def get(self, response_id: str) -> StoredResponse | None:
        return await self._db._get(self._key, response_id)

    async def put(self, stored: StoredResponse) -> None:
        if self._db.retention > 0:
            await self._db._put(self._key, stored)

    async def delete(self, response_id: str) -> bool:
        return await self._db._call(self._db.db.delete_response, response_id, self._key)

    # -- responses an upstream keeps (native passthrough): only id and owner here ----------------
    async def upstream_of(self, response_id: str) -> str | None:
        """The provider keeping this key's response ``response_id`` natively, if one does."""
        return await self._db._upstream(self._key, response_id)

    async def put_native(self, response_id: str, upstream: str) -> None:
        if self._db.retention > 0:
            await self._db._put_native(self._key, response_id, upstream)
