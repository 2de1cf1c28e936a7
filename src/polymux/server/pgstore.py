"""``Database`` on PostgreSQL (asyncpg), for several workers and replicas sharing one state.

``[state] database = "postgresql://user@host/db"`` (or ``--database URL``). The password, if
any, is best given the libpq way (``PGPASSWORD`` or ``~/.pgpass``), not in the URL.

- Connections: each gateway process opens a pool of at most ``pool_size`` connections
  (``[state] database_pool``, default 4: the key list refresh, stored responses and the admin
  API share it) plus one of its own for the usage writer thread. N workers on M machines
  therefore hold up to N x M x (pool_size + 1) connections: keep that under the server's
  ``max_connections``.
- Schema: the same tables and columns as SQLite's (store.py). ``MIGRATIONS`` here mirrors
  store.py's entry for entry (a test holds them equal, column by column); the version lives
  in ``polymux_schema``. Migrations run at start in one transaction under an advisory lock,
  so replicas starting together apply each exactly once.
- Usage rows: only ever inserted (one transaction per batch, ids from a sequence), never
  updated, so writers on many replicas take no row locks against each other: no deadlocks.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigurationError
from .database import Database, KeyState, redact_url
from .store import (
    KEY_COLUMNS,
    UNCHANGED,
    USAGE_COLUMNS,
    ActiveKey,
    KeyInfo,
    KeyLimits,
    UsageRecord,
    key_changes,
    name_taken,
    new_key_row,
)

__all__ = ["DEFAULT_POOL_SIZE", "MIGRATIONS", "PostgresDatabase"]

DEFAULT_POOL_SIZE = 4
#: pg_advisory_xact_lock key held while migrating ("polymux" in ASCII).
_MIGRATION_LOCK = 0x706F6C796D7578
#: Seconds any one statement may take before it is given up on (asyncpg command_timeout).
_COMMAND_TIMEOUT = 30.0

#: Append only, one entry per entry of store.MIGRATIONS (the same change, in PostgreSQL).
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE keys (
        id BIGSERIAL PRIMARY KEY,
        name TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL,
        revoked DOUBLE PRECISION
    );
    CREATE UNIQUE INDEX keys_active_name ON keys(name) WHERE revoked IS NULL;
    """,
    """
    CREATE TABLE usage (
        id BIGSERIAL PRIMARY KEY,
        ts DOUBLE PRECISION NOT NULL,
        key_name TEXT,
        endpoint TEXT NOT NULL,
        model TEXT,
        provider TEXT,
        status INTEGER NOT NULL,
        error TEXT,
        stream INTEGER NOT NULL DEFAULT 0,
        prompt_tokens BIGINT,
        completion_tokens BIGINT,
        total_tokens BIGINT,
        latency_ms DOUBLE PRECISION,
        ttft_ms DOUBLE PRECISION,
        request TEXT,
        response TEXT
    );
    CREATE INDEX usage_ts ON usage(ts);
    """,
    """
    ALTER TABLE usage ADD COLUMN audio_seconds DOUBLE PRECISION;
    ALTER TABLE usage ADD COLUMN images INTEGER;
    """,
    """
    CREATE TABLE responses (
        id TEXT PRIMARY KEY,
        key_name TEXT,
        created DOUBLE PRECISION NOT NULL,
        response TEXT NOT NULL,
        input_items TEXT NOT NULL,
        history TEXT NOT NULL,
        upstream TEXT
    );
    CREATE INDEX responses_created ON responses(created);
    """,
    """
    ALTER TABLE keys ADD COLUMN owner TEXT;
    ALTER TABLE keys ADD COLUMN note TEXT;
    ALTER TABLE keys ADD COLUMN expires DOUBLE PRECISION;
    ALTER TABLE keys ADD COLUMN limits TEXT;
    ALTER TABLE usage ADD COLUMN request_id TEXT;
    ALTER TABLE usage ADD COLUMN cost DOUBLE PRECISION;
    ALTER TABLE usage ADD COLUMN cached INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX usage_key_ts ON usage(key_name, ts);
    """,
    """
    ALTER TABLE usage ADD COLUMN characters INTEGER;
    """,
    """
    ALTER TABLE usage ADD COLUMN cached_tokens BIGINT;
    """,
)

_INSERT_USAGE = (
    f"INSERT INTO usage ({', '.join(USAGE_COLUMNS)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(USAGE_COLUMNS) + 1))})"
)


def _text(value: Any) -> Any:
    # PostgreSQL text cannot hold NUL, which a logged prompt may: one such row must not make
    # its whole batch fail again and again.
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


def _import_asyncpg() -> Any:
    try:
        import asyncpg
    except ImportError:
        raise ConfigurationError(
            "a postgresql:// database needs asyncpg: pip install 'polymux[postgres]'"
        ) from None
    return asyncpg


class PostgresDatabase(Database):
    def __init__(self, pool: Any, url: str) -> None:
        self._pool = pool
        self.where = redact_url(url)

    @classmethod
    async def connect(cls, url: str, *, pool_size: int | None = None) -> PostgresDatabase:
        """Open a pool on ``url`` and bring the schema up to date."""
        asyncpg = _import_asyncpg()
        size = pool_size or DEFAULT_POOL_SIZE
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=size,
                command_timeout=_COMMAND_TIMEOUT,
                timeout=10.0,  # to connect
            )
        except Exception as exc:  # refused, timed out, bad URL, authentication ...
            raise ConfigurationError(
                f"cannot open the gateway database {redact_url(url)}: {exc}"
            ) from None
        db = cls(pool, url)
        try:
            await db._migrate()
        except BaseException:
            await pool.close()
            raise
        return db

    async def _migrate(self) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS polymux_schema (version INTEGER NOT NULL)"
            )
            version = await conn.fetchval("SELECT version FROM polymux_schema")
            if version is None:
                await conn.execute("INSERT INTO polymux_schema VALUES (0)")
                version = 0
            if version > len(MIGRATIONS):
                raise ConfigurationError(
                    f"the database {self.where} has schema version {version}, newer than this "
                    f"polymux knows ({len(MIGRATIONS)}): upgrade polymux"
                )
            for migration in MIGRATIONS[version:]:
                await conn.execute(migration)
            await conn.execute("UPDATE polymux_schema SET version = $1", len(MIGRATIONS))

    def transient(self, exc: Exception) -> bool:
        # SQLSTATE classes 22 (data exception) and 23 (integrity constraint): the rows, not
        # the connection, are the problem; anything else (connection lost, server shutting
        # down, timeout) is worth another try.
        sqlstate = getattr(exc, "sqlstate", None)
        return not (isinstance(sqlstate, str) and sqlstate[:2] in ("22", "23"))

    async def schema_version(self) -> int:
        return int(await self._pool.fetchval("SELECT version FROM polymux_schema"))

    async def close(self) -> None:
        await self._pool.close()

    # -- keys --------------------------------------------------------------------------------
    async def create_key(
        self,
        name: str,
        *,
        owner: str | None = None,
        note: str | None = None,
        expires: float | None = None,
        limits: KeyLimits = KeyLimits(),  # noqa: B008 - frozen, never mutated
    ) -> str:
        asyncpg = _import_asyncpg()
        key, row = new_key_row(name, owner, note, expires, limits)
        try:
            await self._pool.execute(
                f"INSERT INTO keys ({', '.join(KEY_COLUMNS)}) "
                f"VALUES ({', '.join(f'${i}' for i in range(1, len(KEY_COLUMNS) + 1))})",
                *row,
            )
        except asyncpg.UniqueViolationError:
            raise name_taken(name) from None
        return key

    async def update_key(
        self,
        name: str,
        *,
        owner: str | None = UNCHANGED,
        note: str | None = UNCHANGED,
        expires: float | None = UNCHANGED,
        limits: KeyLimits = UNCHANGED,
    ) -> bool:
        changes = key_changes(owner, note, expires, limits)
        if not changes:
            found = await self._pool.fetchval(
                "SELECT 1 FROM keys WHERE name = $1 AND revoked IS NULL", name
            )
            return found is not None
        # Column names come from the code above, never from input.
        assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(changes, 2))
        status = await self._pool.execute(
            f"UPDATE keys SET {assignments} WHERE name = $1 AND revoked IS NULL",
            name,
            *changes.values(),
        )
        return bool(status != "UPDATE 0")

    async def revoke_key(self, name: str) -> bool:
        status = await self._pool.execute(
            "UPDATE keys SET revoked = $1 WHERE name = $2 AND revoked IS NULL", time.time(), name
        )
        return bool(status != "UPDATE 0")

    async def list_keys(self, *, include_revoked: bool = True) -> list[KeyInfo]:
        sql = "SELECT name, prefix, created, revoked, owner, note, expires, limits FROM keys"
        if not include_revoked:
            sql += " WHERE revoked IS NULL"
        rows = await self._pool.fetch(sql + " ORDER BY created, id")
        return [
            KeyInfo(
                r["name"],
                r["prefix"],
                r["created"],
                r["revoked"],
                r["owner"],
                r["note"],
                r["expires"],
                KeyLimits.from_json(r["limits"]),
            )
            for r in rows
        ]

    async def key_state(self) -> KeyState:
        rows = await self._pool.fetch("SELECT name, hash, revoked, expires, limits FROM keys")
        return bool(rows), [
            ActiveKey(r["name"], r["hash"], r["expires"], KeyLimits.from_json(r["limits"]))
            for r in rows
            if r["revoked"] is None
        ]

    # -- usage -------------------------------------------------------------------------------
    async def log_usage(self, records: Sequence[UsageRecord]) -> None:
        if not records:
            return
        rows = [tuple(_text(v) for v in r.row()) for r in records]
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.executemany(_INSERT_USAGE, rows)

    async def usage_rows(self, *, since: float | None = None) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT * FROM usage WHERE ts >= $1 ORDER BY ts, id", since or 0.0
        )
        return [dict(r) for r in rows]

    # -- stored responses ------------------------------------------------------------------
    async def put_response(
        self,
        id: str,
        key_name: str | None,
        response: str,
        input_items: str,
        history: str,
        upstream: str | None = None,
    ) -> None:
        await self._pool.execute(
            "INSERT INTO responses "
            "(id, key_name, created, response, input_items, history, upstream) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) "
            "ON CONFLICT (id) DO UPDATE SET key_name = EXCLUDED.key_name, "
            "created = EXCLUDED.created, response = EXCLUDED.response, "
            "input_items = EXCLUDED.input_items, history = EXCLUDED.history, "
            "upstream = EXCLUDED.upstream",
            id,
            key_name,
            time.time(),
            _text(response),
            _text(input_items),
            _text(history),
            upstream,
        )

    async def get_response(
        self, id: str, key_name: str | None, since: float
    ) -> tuple[str, str, str, str | None] | None:
        row = await self._pool.fetchrow(
            "SELECT response, input_items, history, upstream FROM responses "
            "WHERE id = $1 AND key_name IS NOT DISTINCT FROM $2 AND created >= $3",
            id,
            key_name,
            since,
        )
        return None if row is None else (row[0], row[1], row[2], row[3])

    async def delete_response(self, id: str, key_name: str | None) -> bool:
        status = await self._pool.execute(
            "DELETE FROM responses WHERE id = $1 AND key_name IS NOT DISTINCT FROM $2",
            id,
            key_name,
        )
        return bool(status != "DELETE 0")

    async def expire_responses(self, before: float) -> int:
        status = await self._pool.execute("DELETE FROM responses WHERE created < $1", before)
        return int(status.rpartition(" ")[2])
