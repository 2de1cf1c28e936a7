"""The gateway's database, the same cases on SQLite and on a real PostgreSQL server: keys,
the usage log, stored responses, migrations; the usage writer from several replicas and
through an outage; a gateway on PostgreSQL; the CLI against PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from polymux.errors import ConfigurationError, InvalidRequestError
from polymux.server import create_app, pgstore, usage
from polymux.server.config import parse_config
from polymux.server.database import Database, open_database, redact_url
from polymux.server.prices import Price
from polymux.server.store import MIGRATIONS, USAGE_COLUMNS, KeyLimits, UsageRecord
from polymux.server.usage import UsageLog

from .cli_support import run_cli
from .fakes import FakeServer
from .fakes.openai import CHAT, closed_port, reply
from .server_harness import LiveGateway, asgi_request, fake_config
from .services import PostgresServer

HELLO = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    if request.param == "sqlite":
        return tmp_path / "g.db"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
async def db(target: str | Path) -> AsyncIterator[Database]:
    async with await open_database(target) as opened:
        yield opened


# -- the store suite, on both ----------------------------------------------------------------
async def test_keys_create_change_revoke_and_state(db: Database) -> None:
    limits = KeyLimits(rpm=10, budget=2.5, budget_period="day", models=("a",))
    key = await db.create_key("alice", owner="ops", note="n", expires=2e9, limits=limits)
    assert key.startswith("mm-")
    bob = await db.create_key("bob")
    with pytest.raises(InvalidRequestError, match="active key named 'alice' exists"):
        await db.create_key("alice")
    with pytest.raises(InvalidRequestError, match="1-100 printable"):
        await db.create_key(" ")
    ever, active = await db.key_state()
    assert ever and [(k.name, k.expires, k.limits) for k in active] == [
        ("alice", 2e9, limits),
        ("bob", None, KeyLimits()),
    ]
    assert key not in str(await db.list_keys()) and bob not in str(active)
    assert await db.update_key("bob", note="x", limits=KeyLimits(tpm=5))
    assert await db.update_key("alice", expires=None)
    assert not await db.update_key("nobody", note="x")
    assert await db.update_key("bob")  # nothing to change, but the key exists
    infos = {k.name: k for k in await db.list_keys()}
    assert (infos["bob"].note, infos["bob"].limits.tpm) == ("x", 5)
    assert infos["alice"].expires is None and infos["alice"].owner == "ops"
    assert await db.revoke_key("alice") and not await db.revoke_key("alice")
    ever, active = await db.key_state()
    assert ever and [k.name for k in active] == ["bob"]
    await db.create_key("alice")  # the name is free again once revoked
    assert [k.name for k in await db.list_keys(include_revoked=False)] == ["bob", "alice"]
    assert len(await db.list_keys()) == 3


async def test_no_keys_means_none_ever_created(db: Database) -> None:
    assert await db.key_state() == (False, [])


async def test_usage_rows_round_trip_every_column(db: Database) -> None:
    record = UsageRecord(
        "/v1/chat/completions",
        200,
        ts=1000.5,
        key_name="k",
        model="m",
        provider="p",
        stream=True,
        prompt_tokens=10,
        completion_tokens=5,
        total_tokens=15,
        latency_ms=12.5,
        ttft_ms=3.0,
        request="with a NUL \x00 inside",
        response="ok",
        audio_seconds=1.5,
        images=2,
        request_id="req-1",
        cost=0.0125,
        cached=True,
        cached_tokens=4,
    )
    await db.log_usage([record, UsageRecord("/v1/embeddings", 500, ts=2000.0, error="boom")])
    await db.log_usage([])
    first, second = await db.usage_rows()
    expected = dict(zip(USAGE_COLUMNS, record.row()))
    expected.update(stream=1, cached=1)
    assert {k: first[k] for k in expected if k != "request"} == {
        k: v for k, v in expected.items() if k != "request"
    }
    assert first["request"].startswith("with a NUL ")  # NUL kept on SQLite, replaced on PG
    assert (second["status"], second["error"], second["cost"], second["cached"]) == (
        500,
        "boom",
        None,
        0,
    )
    assert [r["ts"] for r in await db.usage_rows(since=1500.0)] == [2000.0]


async def test_usage_batch_of_mixed_rows_lands_in_order(db: Database) -> None:
    # Rows without the rare values (content, audio, images, speech, cached tokens) and rows
    # with some of them, interleaved in one batch and at one timestamp: each lands once, in
    # the order logged, the values left out as NULL.
    plain = [
        UsageRecord("/v1/chat/completions", 200, ts=5.0, key_name="k", model="m", cost=0.5)
        for _ in range(3)
    ]
    audio = UsageRecord("/v1/audio/transcriptions", 200, ts=5.0, audio_seconds=2.0)
    speech = UsageRecord("/v1/audio/speech", 200, ts=5.0, characters=11, request_id="r")
    batch = [plain[0], audio, plain[1], plain[2], speech]
    await db.log_usage(batch)
    rows = await db.usage_rows()
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert [{k: r[k] for k in USAGE_COLUMNS} for r in rows] == [
        dict(zip(USAGE_COLUMNS, record.row())) for record in batch
    ]
    assert rows[0]["request"] is None and rows[0]["characters"] is None
    assert (rows[1]["audio_seconds"], rows[4]["characters"]) == (2.0, 11)


async def test_stored_responses_per_key_and_expiry(db: Database) -> None:
    await db.put_response("r1", "alice", '{"a": 1}', "[]", "[]")
    await db.put_response("r2", None, "{}", "[]", "[]", upstream="openai")
    assert await db.get_response("r1", "alice", 0.0) == ('{"a": 1}', "[]", "[]", None)
    assert await db.get_response("r1", "bob", 0.0) is None  # another key's
    assert await db.get_response("r1", None, 0.0) is None
    assert await db.get_response("r2", None, 0.0) == ("{}", "[]", "[]", "openai")
    assert await db.get_response("r1", "alice", time.time() + 60) is None  # too old
    await db.put_response("r1", "alice", '{"a": 2}', "[1]", "[2]")  # replaced
    assert await db.get_response("r1", "alice", 0.0) == ('{"a": 2}', "[1]", "[2]", None)
    assert not await db.delete_response("r1", "bob")
    assert await db.delete_response("r1", "alice")
    assert await db.expire_responses(time.time() + 1) == 1
    assert await db.get_response("r2", None, 0.0) is None


async def test_schema_is_at_the_latest_version_and_reopening_keeps_it(
    db: Database, target: str | Path
) -> None:
    assert await db.schema_version() == len(MIGRATIONS)
    await db.create_key("kept")
    async with await open_database(target) as again:
        assert await again.schema_version() == len(MIGRATIONS)
        assert [k.name for k in await again.list_keys()] == ["kept"]


# -- the two schemas are one ------------------------------------------------------------------
async def test_postgres_schema_has_the_sqlite_schemas_tables_and_columns(
    pg_url: str, tmp_path: Path
) -> None:
    assert len(pgstore.MIGRATIONS) == len(MIGRATIONS)
    conn = sqlite3.connect(tmp_path / "s.db")
    try:
        for migration in MIGRATIONS:
            conn.executescript(migration)
        lite = {
            table: [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
            for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    finally:
        conn.close()
    async with await open_database(pg_url):
        pass
    pg = await _connect(pg_url)
    try:
        rows = await pg.fetch(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name <> 'polymux_schema' "
            "ORDER BY table_name, ordinal_position"
        )
    finally:
        await pg.close()
    postgres: dict[str, list[str]] = {}
    for row in rows:
        postgres.setdefault(row["table_name"], []).append(row["column_name"])
    assert postgres == lite


async def _connect(url: str) -> Any:
    import asyncpg

    return await asyncpg.connect(url)


async def test_replicas_starting_together_migrate_once(pg_url: str) -> None:
    opened = await asyncio.gather(*(open_database(pg_url) for _ in range(4)))
    try:
        assert [await db.schema_version() for db in opened] == [len(MIGRATIONS)] * 4
        await opened[0].create_key("one")
        assert [k.name for k in await opened[3].list_keys()] == ["one"]
    finally:
        await asyncio.gather(*(db.close() for db in opened))


async def test_unreachable_postgres_is_a_clear_error_without_the_password() -> None:
    url = f"postgresql://user:s3cret@127.0.0.1:{closed_port()}/db"
    with pytest.raises(ConfigurationError, match="cannot open the gateway database") as info:
        await open_database(url)
    assert "s3cret" not in str(info.value) and "user:***@" in str(info.value)
    assert redact_url("postgresql://u@h/d") == "postgresql://u@h/d"


def test_state_section_of_the_config(tmp_path: Path) -> None:
    config = parse_config({"state": {"database": "postgresql://u@h/d", "database_pool": 8}})
    assert (config.database_url, config.database_pool, config.database) == (
        "postgresql://u@h/d",
        8,
        None,
    )
    config = parse_config({"state": {"database": "state.db"}}, base_dir=tmp_path)
    assert config.database == tmp_path / "state.db" and config.database_url is None
    for bad, message in (
        ({"database": "mysql://h/d"}, "postgresql:// URL or a SQLite path"),
        ({"database_pool": 0}, "1-1000"),
        ({"databse": "x"}, "unknown setting"),
    ):
        with pytest.raises(ConfigurationError, match=message):
            parse_config({"state": bad})


# -- the usage writer ---------------------------------------------------------------------------
def _rows(url: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        async with await open_database(url) as db:
            return await db.usage_rows()

    return asyncio.run(read())


def test_usage_from_three_replicas_lands_once_each(pg_url: str) -> None:
    writers = [UsageLog(pg_url) for _ in range(3)]
    try:
        for i in range(3000):
            writers[i % 3].record(
                UsageRecord("/v1/chat/completions", 200, request_id=f"r{i}", total_tokens=i)
            )
    finally:
        for writer in writers:
            writer.close()
    rows = _rows(pg_url)
    assert sorted(r["request_id"] for r in rows) == sorted(f"r{i}" for i in range(3000))
    assert sum(w.dropped for w in writers) == 0


def test_usage_rows_wait_out_a_postgres_outage(
    pg_url: str, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(usage, "MAX_PENDING", 3)  # rows kept through an outage, at most
    writer = UsageLog(pg_url)
    try:
        writer.record(UsageRecord("/v1/chat/completions", 200, request_id="before"))
        deadline = time.monotonic() + 30
        while not _rows(pg_url) and time.monotonic() < deadline:
            time.sleep(0.05)
        postgres_server.stop()
        try:
            for i in range(5):
                writer.record(UsageRecord("/v1/chat/completions", 200, request_id=f"d{i}"))
            time.sleep(1.0)  # several write attempts fail meanwhile
        finally:
            postgres_server.start()
        writer.record(UsageRecord("/v1/chat/completions", 200, request_id="after"))
    finally:
        writer.close()
    # The oldest rows beyond the bound went, counted; the rest landed once the server was back.
    assert [r["request_id"] for r in _rows(pg_url)] == ["before", "d2", "d3", "d4", "after"]
    assert writer.dropped == 2


def test_a_batch_the_database_refuses_is_dropped_not_retried_forever(pg_url: str) -> None:
    writer = UsageLog(pg_url)
    try:
        # 2**40 images does not fit the INTEGER column: PostgreSQL refuses the row (22003).
        writer.record(UsageRecord("/v1/images/generations", 200, images=2**40))
        deadline = time.monotonic() + 30
        while not writer.dropped and time.monotonic() < deadline:
            time.sleep(0.05)
        writer.record(UsageRecord("/v1/chat/completions", 200, request_id="next"))
    finally:
        writer.close()
    assert writer.dropped == 1
    assert [r["request_id"] for r in _rows(pg_url)] == ["next"]


# -- a gateway on PostgreSQL ----------------------------------------------------------------------
async def test_gateway_on_postgres_keys_usage_cost_and_revocation(
    upstream: FakeServer, pg_url: str
) -> None:
    async with await open_database(pg_url) as admin:
        key = await admin.create_key("team", limits=KeyLimits(models=("m1",)))
        config = fake_config(upstream, database_url=pg_url, prices={"m1": Price(input=1.0)})
        app = create_app(config, key_refresh=0.1)
        try:
            auth = [("Authorization", f"Bearer {key}")]
            status, _, body = await asgi_request(
                app, "POST", "/v1/chat/completions", HELLO, headers=auth
            )
            assert status == 200, body
            status, _, _ = await asgi_request(
                app, "POST", "/v1/chat/completions", {**HELLO, "model": "m2"}, headers=auth
            )
            assert status == 403
            # Stored responses live in PostgreSQL too.
            responses = (await app.database()).put_response
            await responses("resp_1", "team", "{}", "[]", "[]")
            assert await admin.get_response("resp_1", "team", 0.0) is not None
            # Revoked through another connection (another replica, the CLI): refused soon.
            assert await admin.revoke_key("team")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                status, _, body = await asgi_request(
                    app, "POST", "/v1/chat/completions", HELLO, headers=auth
                )
                if status == 401:
                    break
                await asyncio.sleep(0.05)
            assert status == 401 and b"revoked" in body
        finally:
            await app.aclose()
        rows = await admin.usage_rows()
    assert [(r["key_name"], r["status"]) for r in rows[:2]] == [("team", 200), ("team", 403)]
    assert rows[0]["cost"] == pytest.approx(12 / 1e6)  # the fake reports 12 prompt tokens
    assert all(key not in str(r) for r in rows)


def test_served_by_uvicorn_on_postgres_to_the_openai_sdk(pg_url: str, tmp_path: Path) -> None:
    import openai

    async def make_key() -> str:
        async with await open_database(pg_url) as db:
            return await db.create_key("sdk")

    key = asyncio.run(make_key())
    with LiveGateway(tmp_path, lambda up: fake_config(up, database_url=pg_url)) as gw:
        gw.upstream.script("POST", CHAT, reply("from the upstream"))
        # The lifespan startup opened the pool and read the key list: the key works at once.
        with openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0) as client:
            answer = client.chat.completions.create(
                model="m1", messages=[{"role": "user", "content": "hi"}]
            )
            assert answer.choices[0].message.content == "from the upstream"
        wrong = openai.OpenAI(base_url=gw.url + "/v1", api_key="mm-wrong", max_retries=0)
        with wrong, pytest.raises(openai.AuthenticationError):
            wrong.models.list()
    # A clean stop wrote the usage rows out.
    rows = _rows(pg_url)
    assert [(r["key_name"], r["status"]) for r in rows] == [("sdk", 200)]


# -- the CLI against PostgreSQL ------------------------------------------------------------------
def _cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, "--database", url, timeout=60)


def test_cli_keys_usage_and_db_upgrade_against_postgres(pg_url: str) -> None:
    upgraded = _cli("db", "upgrade", url=pg_url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"schema version {len(MIGRATIONS)}" in upgraded.stdout
    created = _cli("keys", "create", "ci", "--rpm", "60", "--owner", "ops", url=pg_url)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("mm-")
    changed = _cli("keys", "set", "ci", "--budget", "3", "--budget-period", "day", url=pg_url)
    assert changed.returncode == 0, changed.stderr
    listed = _cli("keys", "list", "--json", url=pg_url)
    (info,) = orjson.loads(listed.stdout)
    assert info["name"] == "ci" and info["owner"] == "ops" and key not in listed.stdout
    assert (info["limits"]["rpm"], info["limits"]["budget"]) == (60, 3.0)

    async def log() -> None:
        async with await open_database(pg_url) as db:
            await db.log_usage(
                [UsageRecord("/v1/chat/completions", 200, key_name="ci", model="m", cost=0.5)]
            )

    asyncio.run(log())
    report = _cli("usage", "--json", url=pg_url)
    assert report.returncode == 0, report.stderr
    (line,) = orjson.loads(report.stdout)
    assert (line["key"], line["requests"], line["cost"]) == ("ci", 1, 0.5)
    assert _cli("keys", "revoke", "ci", url=pg_url).returncode == 0
    again = _cli("keys", "revoke", "ci", url=pg_url)
    assert again.returncode != 0 and "no active key" in again.stderr
    down = _cli("usage", url=f"postgresql://u:pw@127.0.0.1:{closed_port()}/x")
    assert down.returncode == 3 and "cannot open the gateway database" in down.stderr
    assert "u:***@" in down.stderr and ":pw@" not in down.stderr and "Traceback" not in down.stderr


async def test_gateway_keeps_serving_through_a_postgres_outage(
    upstream: FakeServer, pg_url: str, postgres_server: PostgresServer
) -> None:
    async with await open_database(pg_url) as admin:
        key = await admin.create_key("team")
    auth = [("Authorization", f"Bearer {key}")]
    app = create_app(fake_config(upstream, database_url=pg_url), key_refresh=0.1)
    # A second gateway, made while the database is up, sees its first request in the outage.
    late = create_app(fake_config(upstream, database_url=pg_url), key_refresh=0.1)
    try:
        status, _, _ = await asgi_request(app, "GET", "/v1/responses/resp_x", headers=auth)
        assert status == 404
        status, _, body = await asgi_request(app, "GET", "/ready")
        assert status == 200 and orjson.loads(body)["checks"]["database"] == "ok"
        await asyncio.to_thread(postgres_server.stop)
        try:
            status, headers, body = await asgi_request(
                late, "POST", "/v1/chat/completions", HELLO, headers=auth
            )
            assert status == 503 and headers["retry-after"] == "1"
            assert orjson.loads(body)["error"]["code"] == "database_unavailable"
            # Keys: the last list read stays in force; chat needs no database.
            await asyncio.sleep(0.3)
            status, _, _ = await asgi_request(
                app, "POST", "/v1/chat/completions", HELLO, headers=auth
            )
            assert status == 200
            status, headers, body = await asgi_request(
                app, "GET", "/v1/responses/resp_x", headers=auth
            )
            error = orjson.loads(body)["error"]
            assert status == 503 and error["code"] == "database_unavailable"
            assert headers["retry-after"] == "1"
            status, _, body = await asgi_request(app, "GET", "/ready")
            assert status == 503 and orjson.loads(body)["checks"]["database"] != "ok"
        finally:
            await asyncio.to_thread(postgres_server.start)
        # Back without a restart.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status, _, _ = await asgi_request(app, "GET", "/v1/responses/resp_x", headers=auth)
            if status == 404:
                break
            await asyncio.sleep(0.1)
        assert status == 404
        status, _, _ = await asgi_request(late, "POST", "/v1/chat/completions", HELLO, headers=auth)
        assert status == 200  # started at its next request
    finally:
        await app.aclose()
        await late.aclose()
    async with await open_database(pg_url) as admin:
        statuses = [r["status"] for r in await admin.usage_rows()]
    assert statuses[0] == 404 and 200 in statuses and 503 in statuses
