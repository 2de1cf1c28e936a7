"""The admin HTTP API: off by default, opened only by the admin key, and managing keys,
limits and the usage summary (on SQLite and on a real PostgreSQL server)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from polymux.errors import ConfigurationError
from polymux.server import Gateway, create_app
from polymux.server.prices import Price

from .fakes import FakeServer
from .server_harness import asgi_request, fake_config

ADMIN_KEY = "admin-" + "x" * 32
HELLO = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}
ADMIN = [("Authorization", f"Bearer {ADMIN_KEY}")]
REMOTE = ("203.0.113.9", 40000)


def bearer(key: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {key}")]


@pytest.fixture(params=["sqlite", "postgres"])
async def admin_app(
    request: pytest.FixtureRequest,
    upstream: FakeServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Gateway]:
    monkeypatch.setenv("TEST_ADMIN_KEY", ADMIN_KEY)
    overrides: dict[str, Any] = {"admin_key_env": "TEST_ADMIN_KEY"}
    overrides["prices"] = {"m1": Price(input=1.0, output=2.0)}
    if request.param == "postgres":
        overrides["database_url"] = request.getfixturevalue("pg_url")
        app = create_app(fake_config(upstream, **overrides), key_refresh=0.05)
    else:
        app = create_app(
            fake_config(upstream, **overrides), db_path=tmp_path / "g.db", key_refresh=0
        )
    yield app
    await app.aclose()


async def call(
    app: Gateway, method: str, path: str, body: Any = None, headers: Any = ADMIN
) -> tuple[int, Any]:
    status, _, raw = await asgi_request(app, method, path, body, headers=headers, client=REMOTE)
    return status, orjson.loads(raw) if raw else None


async def until(app: Gateway, key: str, status: int) -> int:
    """Chat with ``key`` until the answer is ``status`` (key changes reach the gateway's
    key list at its next refresh); the last status."""
    deadline = time.monotonic() + 10
    while True:
        got, _ = await call(app, "POST", "/v1/chat/completions", HELLO, bearer(key))
        if got == status or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.02)  # lets the key list's refresh run


async def test_admin_api_is_off_by_default(app: Gateway) -> None:
    for method, path in (("GET", "/admin/keys"), ("POST", "/admin/keys"), ("GET", "/admin/usage")):
        status, _, body = await asgi_request(app, method, path, {"name": "x"}, headers=ADMIN)
        assert status == 404 and orjson.loads(body)["error"]["code"] == "unknown_url"


def test_admin_key_must_be_set_and_long_enough(
    upstream: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = fake_config(upstream, admin_key_env="NO_SUCH_ADMIN_KEY_VAR")
    monkeypatch.delenv("NO_SUCH_ADMIN_KEY_VAR", raising=False)
    with pytest.raises(ConfigurationError, match="at least 16 characters"):
        create_app(config, db_path=tmp_path / "g.db")
    monkeypatch.setenv("NO_SUCH_ADMIN_KEY_VAR", "short")
    with pytest.raises(ConfigurationError, match="NO_SUCH_ADMIN_KEY_VAR"):
        create_app(config, db_path=tmp_path / "g.db")


async def test_only_the_admin_key_opens_it(admin_app: Gateway) -> None:
    status, created = await call(admin_app, "POST", "/admin/keys", {"name": "team"})
    assert status == 201
    for headers, code in (
        ([], "missing_admin_key"),
        (bearer(created["key"]), "invalid_admin_key"),  # a gateway key is not an admin key
        (bearer(ADMIN_KEY + "x"), "invalid_admin_key"),
    ):
        status, body = await call(admin_app, "GET", "/admin/keys", headers=headers)
        assert status == 401 and body["error"]["code"] == code
    # Loopback is no exception.
    status, _, _ = await asgi_request(admin_app, "GET", "/admin/keys", client=("127.0.0.1", 1))
    assert status == 401
    # And the admin key is not a gateway key.
    assert await until(admin_app, created["key"], 200) == 200
    status, _ = await call(admin_app, "POST", "/v1/chat/completions", HELLO, ADMIN)
    assert status == 401


async def test_keys_limits_revocation_and_usage_through_the_admin_api(
    admin_app: Gateway, upstream: FakeServer
) -> None:
    status, created = await call(
        admin_app,
        "POST",
        "/admin/keys",
        {"name": "team", "owner": "ops", "limits": {"rpm": 100, "models": ["m1"]}},
    )
    assert status == 201
    key = created.pop("key")
    assert key.startswith("mm-") and created["owner"] == "ops"
    assert created["limits"]["rpm"] == 100 and created["limits"]["models"] == ["m1"]
    assert await until(admin_app, key, 200) == 200
    status, _ = await call(
        admin_app, "POST", "/v1/chat/completions", {**HELLO, "model": "m9"}, bearer(key)
    )
    assert status == 403  # the allowed models hold
    # PATCH merges limits into the current ones and changes only what it names.
    status, changed = await call(
        admin_app, "PATCH", "/admin/keys/team", {"limits": {"tpm": 5000, "rpm": None}}
    )
    assert status == 200
    assert changed["limits"]["tpm"] == 5000 and changed["limits"]["rpm"] is None
    assert changed["limits"]["models"] == ["m1"] and changed["owner"] == "ops"
    status, listed = await call(admin_app, "GET", "/admin/keys")
    assert status == 200 and [k["name"] for k in listed["data"]] == ["team"]
    assert key not in orjson.dumps(listed).decode()
    # Expiry set in the past: refused.
    status, _ = await call(admin_app, "PATCH", "/admin/keys/team", {"expires": time.time() - 1})
    assert status == 200
    assert await until(admin_app, key, 401) == 401
    await call(admin_app, "PATCH", "/admin/keys/team", {"expires": None})
    assert await until(admin_app, key, 200) == 200
    # Usage summary, with cost (rows reach the database within a quarter second).
    deadline = time.monotonic() + 10
    while True:
        status, usage = await call(admin_app, "GET", "/admin/usage?since=1h&by=key,model")
        lines = {(u["key"], u["model"]): u for u in usage["data"]}
        if ("team", "m9") in lines or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert status == 200
    line = lines["team", "m1"]
    assert line["requests"] >= 2 and line["cost"] > 0
    assert lines["team", "m9"]["errors"] == 1
    # Revocation.
    status, body = await call(admin_app, "DELETE", "/admin/keys/team")
    assert status == 200 and body == {"name": "team", "revoked": True}
    status, body = await call(admin_app, "DELETE", "/admin/keys/team")
    assert status == 404 and body["error"]["code"] == "key_not_found"


async def test_admin_api_refuses_bad_input_clearly(admin_app: Gateway) -> None:
    cases: list[tuple[str, str, Any, int, str]] = [
        ("POST", "/admin/keys", {}, 400, "name is required"),
        ("POST", "/admin/keys", {"name": "a", "colour": "red"}, 400, "unknown field(s) colour"),
        ("POST", "/admin/keys", {"name": "a", "limits": {"rpm": 0}}, 400, "1 or more"),
        ("POST", "/admin/keys", {"name": "a", "limits": {"speed": 1}}, 400, "unknown limit"),
        ("POST", "/admin/keys", {"name": "a", "expires": "soon"}, 400, "UNIX time"),
        ("PATCH", "/admin/keys/ghost", {"note": "x"}, 404, "no active key named 'ghost'"),
        ("PUT", "/admin/keys", {}, 405, "is not allowed here"),
        ("DELETE", "/admin/keys", {}, 405, "use GET, POST"),
        ("GET", "/admin/usage?since=yesterday", None, 400, "duration"),
        ("GET", "/admin/usage?by=colour", None, 400, "key, model and/or provider"),
        ("GET", "/admin/nothing", None, 404, "no admin route"),
    ]
    for method, path, body, status, message in cases:
        got, answer = await call(admin_app, method, path, body)
        assert got == status, (method, path, answer)
        assert message in answer["error"]["message"]
    status, _ = await call(admin_app, "POST", "/admin/keys", {"name": "dup"})
    status, body = await call(admin_app, "POST", "/admin/keys", {"name": "dup"})
    assert status == 400 and "exists" in body["error"]["message"]
