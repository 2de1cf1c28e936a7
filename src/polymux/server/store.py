"""The gateway's SQLite file: API keys (hashed), the usage log and stored responses.

One file, opened by the gateway and by the ``keys``/``usage`` commands, possibly at once, so:
WAL mode (readers never wait for the writer), a busy timeout (writers queue instead of
failing), ``BEGIN IMMEDIATE`` for every write. The schema grows by appending to
``MIGRATIONS``; ``PRAGMA user_version`` counts the ones applied. Never edit an old entry.

Keys: only the SHA-256 of a key is stored; the key itself is shown once, at creation. The
keys are 256-bit random strings, so a plain hash is enough (no password-style stretching).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from itertools import groupby
from pathlib import Path
from typing import Any, Literal, NamedTuple, cast

from ..errors import ConfigurationError, InvalidRequestError

__all__ = [
    "KEY_COLUMNS",
    "KEY_PREFIX",
    "MIGRATIONS",
    "UNCHANGED",
    "USAGE_COLUMNS",
    "ActiveKey",
    "BudgetPeriod",
    "BudgetUnit",
    "KeyInfo",
    "KeyLimits",
    "Store",
    "UsageRecord",
    "default_db_path",
    "hash_key",
    "key_digest",
]

KEY_PREFIX = "mm-"
DB_ENV = "POLYMUX_DB"

#: Append only. Entry i moves the schema from version i to i + 1.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE keys (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        created REAL NOT NULL,
        revoked REAL
    );
    CREATE UNIQUE INDEX keys_active_name ON keys(name) WHERE revoked IS NULL;
    """,
    """
    CREATE TABLE usage (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        key_name TEXT,
        endpoint TEXT NOT NULL,
        model TEXT,
        provider TEXT,
        status INTEGER NOT NULL,
        error TEXT,
        stream INTEGER NOT NULL DEFAULT 0,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        total_tokens INTEGER,
        latency_ms REAL,
        ttft_ms REAL,
        request TEXT,
        response TEXT
    );
    CREATE INDEX usage_ts ON usage(ts);
    """,
    # What calls that are not counted in tokens are counted in: seconds of audio
    # transcribed or translated, images made or edited.
    """
    ALTER TABLE usage ADD COLUMN audio_seconds REAL;
    ALTER TABLE usage ADD COLUMN images INTEGER;
    """,
    # /v1/responses: stored responses, per key (server/response_store.py).
    """
    CREATE TABLE responses (
        id TEXT PRIMARY KEY,
        key_name TEXT,
        created REAL NOT NULL,
        response TEXT NOT NULL,
        input_items TEXT NOT NULL,
        history TEXT NOT NULL,
        upstream TEXT
    );
    CREATE INDEX responses_created ON responses(created);
    """,
    # Per key: who owns it, a note, when it expires, and its limits as a JSON object (the
    # limit names are the gateway's; a JSON object lets the set grow without migrations).
    # Per usage row: the request id (x-request-id), the cost in USD from the price table, and
    # whether the answer came from the response cache.
    """
    ALTER TABLE keys ADD COLUMN owner TEXT;
    ALTER TABLE keys ADD COLUMN note TEXT;
    ALTER TABLE keys ADD COLUMN expires REAL;
    ALTER TABLE keys ADD COLUMN limits TEXT;
    ALTER TABLE usage ADD COLUMN request_id TEXT;
    ALTER TABLE usage ADD COLUMN cost REAL;
    ALTER TABLE usage ADD COLUMN cached INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX usage_key_ts ON usage(key_name, ts);
    """,
    # /v1/audio/speech: the characters of the text spoken (text-to-speech is billed by them).
    """
    ALTER TABLE usage ADD COLUMN characters INTEGER;
    """,
    # Input tokens read from the provider's prompt cache (priced as cached input).
    """
    ALTER TABLE usage ADD COLUMN cached_tokens INTEGER;
    """,
)


def default_db_path() -> Path:
    """``$POLYMUX_DB``, else ``gateway.sqlite3`` in the user's data directory."""
    env = os.environ.get(DB_ENV)
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "polymux" / "gateway.sqlite3"


def key_digest(key: str) -> bytes:
    """The SHA-256 of a key, as the gateway compares it (``hash_key`` stores it as hex)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def hash_key(key: str) -> str:
    return key_digest(key).hex()


BudgetUnit = Literal["usd", "tokens"]
BudgetPeriod = Literal["day", "month"]


@dataclass(frozen=True, slots=True)
class KeyLimits:
    """What one key may do; None means unlimited. Stored as a JSON object in ``keys.limits``.

    ``budget`` is spent in ``budget_unit`` (USD from the price table, or tokens) per calendar
    ``budget_period`` (UTC), and resets at the period's start. ``models`` lists the model
    names the key may ask for (None: any)."""

    rpm: int | None = None  # requests per minute
    tpm: int | None = None  # tokens per minute
    concurrency: int | None = None  # requests in flight at once
    budget: float | None = None
    budget_unit: BudgetUnit = "usd"
    budget_period: BudgetPeriod = "month"
    models: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        # Checked here, so a limit set from the CLI, the admin API or a stored row is one
        # the enforcement can rely on.
        for name in ("rpm", "tpm", "concurrency"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise InvalidRequestError(f"key limit {name} must be a whole number")
            if value is not None and value < 1:
                raise InvalidRequestError(f"key limit {name} must be 1 or more (or unset)")
        budget = self.budget
        if budget is not None and (
            isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget < 0
        ):
            raise InvalidRequestError("key limit budget must be a number, 0 or more")
        if self.budget_unit not in ("usd", "tokens"):
            raise InvalidRequestError("budget unit must be 'usd' or 'tokens'")
        if self.budget_period not in ("day", "month"):
            raise InvalidRequestError("budget period must be 'day' or 'month'")
        if self.models is not None and not all(isinstance(m, str) and m for m in self.models):
            raise InvalidRequestError("allowed models must be non-empty model names")

    def to_json(self) -> str | None:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data = {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}
        return None if self == KeyLimits() else json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> KeyLimits:
        if not text:
            return cls()
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}  # a newer gateway's extra names
        if values.get("models") is not None:
            values["models"] = tuple(values["models"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    name: str
    prefix: str  # the first characters of the key, to tell keys apart in listings
    created: float
    revoked: float | None
    owner: str | None = None
    note: str | None = None
    expires: float | None = None  # unix time after which the key is refused
    limits: KeyLimits = KeyLimits()

    def as_json(self) -> dict[str, Any]:
        """As ``polymux keys list --json`` and the admin API show it."""
        limits = {f.name: getattr(self.limits, f.name) for f in fields(KeyLimits)}
        if limits["models"] is not None:
            limits["models"] = list(limits["models"])
        return {
            "name": self.name,
            "prefix": self.prefix,
            "created": self.created,
            "revoked": self.revoked,
            "owner": self.owner,
            "note": self.note,
            "expires": self.expires,
            "limits": limits,
        }


class ActiveKey(NamedTuple):
    """What the gateway keeps in memory of one active key (server/auth.py)."""

    name: str
    digest: str  # SHA-256 of the key, hex
    expires: float | None
    limits: KeyLimits


#: ``update_key``'s default: leave this field as it is.
UNCHANGED: Any = object()


#: The columns ``new_key_row`` fills, in its order.
KEY_COLUMNS = ("name", "hash", "prefix", "created", "owner", "note", "expires", "limits")


def new_key_row(
    name: str, owner: str | None, note: str | None, expires: float | None, limits: KeyLimits
) -> tuple[str, tuple[Any, ...]]:
    """(a new key, the checked ``keys`` row that stores it, hashed, in ``KEY_COLUMNS``)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = (
        check_key_name(name),
        hash_key(key),
        key[: len(KEY_PREFIX) + 6],
        time.time(),
        check_key_text("owner", owner),
        check_key_text("note", note),
        expires,
        limits.to_json(),
    )
    return key, row


def name_taken(name: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"an active key named {name.strip()!r} exists; revoke it first or pick another name"
    )


def key_changes(
    owner: str | None, note: str | None, expires: float | None, limits: KeyLimits
) -> dict[str, Any]:
    """The columns ``update_key`` sets, checked, from its arguments (``UNCHANGED`` left out)."""
    changes: dict[str, Any] = {}
    if owner is not UNCHANGED:
        changes["owner"] = check_key_text("owner", owner)
    if note is not UNCHANGED:
        changes["note"] = check_key_text("note", note)
    if expires is not UNCHANGED:
        changes["expires"] = expires
    if limits is not UNCHANGED:
        changes["limits"] = limits.to_json()
    return changes


def check_key_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise InvalidRequestError("a key name must be 1-100 printable characters")
    return name


def check_key_text(what: str, value: str | None) -> str | None:
    if value is not None and (len(value) > 1000 or not value.isprintable()):
        raise InvalidRequestError(f"a key's {what} must be at most 1000 printable characters")
    return value


@dataclass(slots=True)
class UsageRecord:
    """One line of the usage log. ``request``/``response`` stay None unless content logging
    is enabled."""

    endpoint: str
    status: int
    ts: float = 0.0
    key_name: str | None = None
    model: str | None = None
    provider: str | None = None
    error: str | None = None
    stream: bool = False
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    request: str | None = None
    response: str | None = None
    audio_seconds: float | None = None
    images: int | None = None
    request_id: str | None = None
    cost: float | None = None  # USD, from the price table; None when the model has no price
    cached: bool = False  # answered from the response cache
    characters: int | None = None  # of the text spoken (/v1/audio/speech)
    cached_tokens: int | None = None  # of prompt_tokens, read from the provider's prompt cache

    def row(self) -> tuple[Any, ...]:
        """The values of ``USAGE_COLUMNS``, in its order."""
        return self._common() + self._rare()

    def sqlite_row(self) -> tuple[Any, ...]:
        """``row()``, or, when the rare values are all None (most requests), only the common
        ones: the INSERT of ``COMMON_USAGE_COLUMNS`` leaves the rest NULL."""
        rare = self._rare()
        return self._common() if rare == _NO_RARE_USAGE else self._common() + rare

    def _common(self) -> tuple[Any, ...]:
        return (
            self.ts or time.time(),
            self.key_name,
            self.endpoint,
            self.model,
            self.provider,
            self.status,
            self.error,
            int(self.stream),
            self.prompt_tokens,
            self.completion_tokens,
            self.total_tokens,
            self.latency_ms,
            self.ttft_ms,
            self.request_id,
            self.cost,
            int(self.cached),
        )

    def _rare(self) -> tuple[Any, ...]:
        return (
            self.request,
            self.response,
            self.audio_seconds,
            self.images,
            self.characters,
            self.cached_tokens,
        )


#: The usage columns most requests fill (``UsageRecord._common``), in its order.
COMMON_USAGE_COLUMNS = (
    "ts",
    "key_name",
    "endpoint",
    "model",
    "provider",
    "status",
    "error",
    "stream",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "latency_ms",
    "ttft_ms",
    "request_id",
    "cost",
    "cached",
)
#: The usage table's columns ``UsageRecord.row`` fills, in its order: the common ones, then
#: those only content logging (request, response) or some endpoints fill.
USAGE_COLUMNS = (
    *COMMON_USAGE_COLUMNS,
    "request",
    "response",
    "audio_seconds",
    "images",
    "characters",
    "cached_tokens",
)
_NO_RARE_USAGE = (None,) * (len(USAGE_COLUMNS) - len(COMMON_USAGE_COLUMNS))

# None is not among the types sqlite3 binds directly: without an adapter of its own, every
# None parameter (about nine a usage row) goes through the adapter lookup, which fails
# through two attribute lookups and a formatted AttributeError (~3k instructions each, 2-3 %
# of a gateway request). This one is found at once and returns None, bound as NULL. It is a
# C callable ({}.get(None) is None), so no Python frame runs per value either.
sqlite3.register_adapter(type(None), cast("Callable[[None], None]", {}.get))


def _insert(columns: Sequence[str]) -> str:
    return f"INSERT INTO usage ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


# A request's row leaves six columns None (content logging off, not audio or images, no
# cached tokens); binding each None costs sqlite3 an adapter lookup and a bind (~1.5 k
# instructions), so such rows are inserted without them, as NULL, by a second statement.
_INSERT_BY_WIDTH = {
    len(USAGE_COLUMNS): _insert(USAGE_COLUMNS),
    len(COMMON_USAGE_COLUMNS): _insert(COMMON_USAGE_COLUMNS),
}


def _private_file(path: Path) -> None:
    """Create the database file (and its folder, if missing) readable by its owner only:
    0600 in 0700. SQLite gives the -wal and -shm files the mode of the database file. A file
    made earlier with looser permissions is tightened."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if sys.platform != "win32" and os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
            for suffix in ("-wal", "-shm"):
                side = path.with_name(path.name + suffix)
                if side.exists():
                    side.chmod(0o600)
    finally:
        os.close(fd)


class Store:
    """One connection to the gateway database. Not shared between threads: each thread
    (the event loop, the usage writer) opens its own ``Store``."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        try:
            _private_file(self.path)
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise ConfigurationError(
                f"cannot open the gateway database {self.path}: {exc}"
            ) from exc
        self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; fsync at checkpoints
        self._migrate()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so concurrent writers wait (busy_timeout)
        # instead of failing halfway through with SQLITE_BUSY on lock upgrade.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version >= len(MIGRATIONS):
            return
        with self._write() as db:
            # Read again under the lock: another process may have migrated meanwhile.
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for i in range(version, len(MIGRATIONS)):
                for statement in MIGRATIONS[i].split(";"):
                    if statement.strip():
                        db.execute(statement)
            db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    # -- keys --------------------------------------------------------------------------------
    def create_key(
        self,
        name: str,
        *,
        owner: str | None = None,
        note: str | None = None,
        expires: float | None = None,
        limits: KeyLimits = KeyLimits(),
    ) -> str:
        """Create a key named ``name``; return the key itself (it is not stored)."""
        key, row = new_key_row(name, owner, note, expires, limits)
        try:
            with self._write() as db:
                db.execute(
                    f"INSERT INTO keys ({', '.join(KEY_COLUMNS)}) "
                    f"VALUES ({', '.join('?' for _ in KEY_COLUMNS)})",
                    row,
                )
        except sqlite3.IntegrityError:
            raise name_taken(name) from None
        return key

    def update_key(
        self,
        name: str,
        *,
        owner: str | None = UNCHANGED,
        note: str | None = UNCHANGED,
        expires: float | None = UNCHANGED,
        limits: KeyLimits = UNCHANGED,
    ) -> bool:
        """Change the metadata or limits of the active key ``name`` (arguments not given stay
        as they are); False when there is no such key."""
        changes = key_changes(owner, note, expires, limits)
        if not changes:
            return any(k.name == name for k in self.list_keys(include_revoked=False))
        assignments = ", ".join(f"{column} = ?" for column in changes)  # names from the code
        with self._write() as db:
            cur = db.execute(
                f"UPDATE keys SET {assignments} WHERE name = ? AND revoked IS NULL",
                (*changes.values(), name),
            )
        return cur.rowcount > 0

    def list_keys(self, *, include_revoked: bool = True) -> list[KeyInfo]:
        sql = "SELECT name, prefix, created, revoked, owner, note, expires, limits FROM keys"
        if not include_revoked:
            sql += " WHERE revoked IS NULL"
        return [
            KeyInfo(name, prefix, created, revoked, owner, note, expires, KeyLimits.from_json(lim))
            for name, prefix, created, revoked, owner, note, expires, lim in self._db.execute(
                sql + " ORDER BY created, id"
            )
        ]

    def revoke_key(self, name: str) -> bool:
        """Revoke the active key named ``name``; False when there is none."""
        with self._write() as db:
            cur = db.execute(
                "UPDATE keys SET revoked = ? WHERE name = ? AND revoked IS NULL",
                (time.time(), name),
            )
        return cur.rowcount > 0

    def key_state(self) -> tuple[bool, list[ActiveKey]]:
        """(whether any key was ever created, the active keys)."""
        rows = self._db.execute("SELECT name, hash, revoked, expires, limits FROM keys").fetchall()
        return bool(rows), [
            ActiveKey(name, digest, expires, KeyLimits.from_json(limits))
            for name, digest, revoked, expires, limits in rows
            if revoked is None
        ]

    # -- usage -------------------------------------------------------------------------------
    def log_usage(self, records: Sequence[UsageRecord]) -> None:
        """Append records in one transaction."""
        if not records:
            return
        rows = [r.sqlite_row() for r in records]
        with self._write() as db:
            # Each run of rows of one width is one executemany; the rows keep their order.
            for width, run in groupby(rows, len):
                db.executemany(_INSERT_BY_WIDTH[width], run)

    def usage_rows(self, *, since: float | None = None) -> list[dict[str, Any]]:
        cur = self._db.execute("SELECT * FROM usage WHERE ts >= ? ORDER BY ts, id", (since or 0.0,))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur]

    # -- stored responses (/v1/responses) --------------------------------------------------
    # Each belongs to the key that created it (NULL: served without a key); a key sees only
    # its own. Bodies are JSON text, as the API returns them. ``upstream`` names the provider
    # that keeps a response passed through natively (only its id and owner are kept here).
    def put_response(
        self,
        id: str,
        key_name: str | None,
        response: str,
        input_items: str,
        history: str,
        upstream: str | None = None,
    ) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO responses "
                "(id, key_name, created, response, input_items, history, upstream) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (id, key_name, time.time(), response, input_items, history, upstream),
            )

    def get_response(
        self, id: str, key_name: str | None, since: float
    ) -> tuple[str, str, str, str | None] | None:
        """(response, input_items, history, upstream) of a response stored since ``since``."""
        row = self._db.execute(
            "SELECT response, input_items, history, upstream FROM responses "
            "WHERE id = ? AND key_name IS ? AND created >= ?",
            (id, key_name, since),
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2], row[3])

    def delete_response(self, id: str, key_name: str | None) -> bool:
        with self._write() as db:
            cur = db.execute("DELETE FROM responses WHERE id = ? AND key_name IS ?", (id, key_name))
        return cur.rowcount > 0

    def expire_responses(self, before: float) -> int:
        """Delete responses stored before ``before``; how many went."""
        with self._write() as db:
            cur = db.execute("DELETE FROM responses WHERE created < ?", (before,))
        return cur.rowcount
