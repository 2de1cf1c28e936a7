"""Gateway access: keys (missing, wrong, revoked), loopback-only without keys, the bind
check, CORS, media traversal, and the SQLite file under concurrent writers."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from polymux.errors import ConfigurationError
from polymux.server import Gateway, create_app
from polymux.server.run import check_bind
from polymux.server.store import MIGRATIONS, Store, UsageRecord
from polymux.server.usage import summarize

from .fakes import FakeServer
from .server_harness import asgi_request, fake_config

HELLO = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}
REMOTE = ("203.0.113.9", 40000)


def usage(tmp_path: Path) -> list[dict[str, Any]]:
    with Store(tmp_path / "g.db") as store:
        return store.usage_rows()


def bearer(key: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {key}")]


async def test_without_keys_only_loopback_clients_are_served(app: Gateway) -> None:
    status, _, _ = await asgi_request(app, "POST", "/v1/chat/completions", HELLO)
    assert status == 200
    for client in (REMOTE, ("::ffff:8.8.8.8", 1), None):
        status, _, body = await asgi_request(
            app, "POST", "/v1/chat/completions", HELLO, client=client
        )
        assert status == 403
        assert orjson.loads(body)["error"]["code"] == "loopback_only"
    status, _, _ = await asgi_request(app, "GET", "/v1/models", client=REMOTE)
    assert status == 403
    status, _, _ = await asgi_request(app, "POST", "/v1/chat/completions", HELLO, client=("::1", 5))
    assert status == 200


async def test_keys_missing_wrong_revoked_and_valid(
    app: Gateway, upstream: FakeServer, tmp_path: Path
) -> None:
    with Store(tmp_path / "g.db") as store:
        alice = store.create_key("alice")
        bob = store.create_key("bob")
    cases = [
        ([], 401, "missing_api_key"),
        (bearer("mm-wrong"), 401, "invalid_api_key"),
        ([("Authorization", "Basic abc")], 401, "missing_api_key"),
    ]
    for headers, status, code in cases:
        got, out_headers, body = await asgi_request(
            app, "POST", "/v1/chat/completions", HELLO, headers=headers
        )
        assert got == status and orjson.loads(body)["error"]["code"] == code
        assert out_headers["www-authenticate"] == "Bearer"
    # Keys work from anywhere, loopback or not; Azure-style api-key header too.
    status, _, _ = await asgi_request(
        app, "POST", "/v1/chat/completions", HELLO, headers=bearer(alice), client=REMOTE
    )
    assert status == 200
    status, _, _ = await asgi_request(
        app, "POST", "/v1/chat/completions", HELLO, headers=[("api-key", bob)]
    )
    assert status == 200
    with Store(tmp_path / "g.db") as store:
        assert store.revoke_key("alice")
    status, _, body = await asgi_request(
        app, "POST", "/v1/chat/completions", HELLO, headers=bearer(alice)
    )
    assert status == 401 and b"revoked" in body
    with Store(tmp_path / "g.db") as store:
        assert store.revoke_key("bob")
    # Every key revoked: the gateway stays locked, even for loopback clients.
    status, _, _ = await asgi_request(app, "POST", "/v1/chat/completions", HELLO)
    assert status == 401
    assert len(upstream.requests) == 2
    await app.aclose()
    rows = usage(tmp_path)
    assert [(r["key_name"], r["status"]) for r in rows] == [
        (None, 401),
        (None, 401),
        (None, 401),
        ("alice", 200),
        ("bob", 200),
        (None, 401),
        (None, 401),
    ]
    assert all(alice not in str(r) for r in rows)


async def test_health_and_openapi_need_no_key(app: Gateway, tmp_path: Path) -> None:
    with Store(tmp_path / "g.db") as store:
        store.create_key("k")
    for path in ("/health", "/openapi.json"):
        status, _, _ = await asgi_request(app, "GET", path, client=REMOTE)
        assert status == 200


def test_refuses_to_bind_beyond_loopback_without_keys(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    config = replace(fake_config_offline(), host="0.0.0.0")
    with pytest.raises(ConfigurationError, match="without API keys"):
        check_bind(config, db)
    check_bind(replace(config, allow_unauthenticated=True), db)
    check_bind(replace(config, host="127.0.0.1"), db)
    with Store(db) as store:
        store.create_key("ops")
    check_bind(config, db)


def fake_config_offline() -> Any:
    from polymux.server.config import GatewayConfig, ProviderConfig

    return GatewayConfig(
        providers=(ProviderConfig("x", "openai-compatible", base_url="http://127.0.0.1:9/v1"),)
    )


async def test_allow_unauthenticated_serves_remote_clients(
    upstream: FakeServer, tmp_path: Path
) -> None:
    config = replace(fake_config(upstream), allow_unauthenticated=True)
    app = create_app(config, db_path=tmp_path / "g.db")
    try:
        status, _, _ = await asgi_request(app, "POST", "/v1/chat/completions", HELLO, client=REMOTE)
        assert status == 200
    finally:
        await app.aclose()


async def test_cors_is_off_unless_configured(upstream: FakeServer, tmp_path: Path) -> None:
    origin = [("Origin", "http://app.example")]
    plain = create_app(fake_config(upstream), db_path=tmp_path / "a.db")
    allowed = create_app(
        replace(fake_config(upstream), cors_origins=("http://app.example",)),
        db_path=tmp_path / "b.db",
    )
    try:
        _, headers, _ = await asgi_request(plain, "GET", "/health", headers=origin)
        assert "access-control-allow-origin" not in headers
        status, _, _ = await asgi_request(plain, "OPTIONS", "/v1/chat/completions", headers=origin)
        assert status == 405
        _, headers, _ = await asgi_request(allowed, "GET", "/health", headers=origin)
        assert headers["access-control-allow-origin"] == "http://app.example"
        status, headers, _ = await asgi_request(
            allowed, "OPTIONS", "/v1/chat/completions", headers=origin
        )
        assert status == 204 and "POST" in headers["access-control-allow-methods"]
        _, headers, _ = await asgi_request(
            allowed, "GET", "/health", headers=[("Origin", "http://evil.example")]
        )
        assert "access-control-allow-origin" not in headers
    finally:
        await plain.aclose()
        await allowed.aclose()


@pytest.mark.parametrize(
    "path",
    [
        "/media/../g.db",
        "/media/..%2Fg.db",
        "/media/%2e%2e/g.db",
        "/media/../../etc/passwd",
        "/media//etc/passwd",
        "/media/secret.png/../../g.db",
        "/media/.hidden.png",
        "/media/a.png\x00.txt",
        "/media/C:\\windows\\win.ini",
        "/media/link.png",
        "/media/nothere.png",
    ],
)
async def test_media_route_never_serves_paths_from_requests(
    upstream: FakeServer, tmp_path: Path, path: str
) -> None:
    media = tmp_path / "media"
    media.mkdir()
    (tmp_path / "secret.png").write_bytes(b"secret")
    (media / "link.png").symlink_to(tmp_path / "secret.png")
    (media / "image_0123456789abcdef.png").write_bytes(b"\x89PNGok")
    app = create_app(replace(fake_config(upstream), media_dir=media), db_path=tmp_path / "g.db")
    try:
        status, _, body = await asgi_request(app, "GET", path)
        assert status == 404 and b"secret" not in body
        status, _, body = await asgi_request(app, "GET", "/media/image_0123456789abcdef.png")
        assert status == 200 and body == b"\x89PNGok"
    finally:
        await app.aclose()


# -- the SQLite file ----------------------------------------------------------------------
def _write_many(db: str, worker: int, count: int) -> None:
    with Store(db, busy_timeout=30) as store:
        for i in range(count):
            store.log_usage([UsageRecord(endpoint="/v1/x", status=200, model=f"w{worker}-{i}")])


def test_concurrent_writers_threads_and_processes(tmp_path: Path) -> None:
    db = str(tmp_path / "g.db")
    Store(db).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(db, w, 40)) for w in range(3)]
    threads = [threading.Thread(target=_write_many, args=(db, 10 + w, 40)) for w in range(3)]
    for p in procs:
        p.start()
    for t in threads:
        t.start()
    with Store(db) as store:  # keys are written meanwhile too
        for i in range(10):
            store.create_key(f"k{i}")
    for t in threads:
        t.join()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with Store(db) as store:
        rows = store.usage_rows()
        assert len(rows) == 240 and len({r["model"] for r in rows}) == 240
        assert len(store.list_keys()) == 10
        assert store.schema_version == len(MIGRATIONS)


def test_key_storage_is_hashed_and_names_reusable_after_revoke(tmp_path: Path) -> None:
    with Store(tmp_path / "g.db") as store:
        key = store.create_key("ci")
        with pytest.raises(ValueError, match="active key"):
            store.create_key("ci")
        assert store.revoke_key("ci") and not store.revoke_key("ci")
        store.create_key("ci")
        assert [k.revoked is None for k in store.list_keys()] == [False, True]
    raw = (tmp_path / "g.db").read_bytes()
    assert key.encode() not in raw and key.startswith("mm-") and len(key) > 40


def test_usage_summary_groups_counts_errors_and_p50() -> None:
    rows = [
        {
            "key_name": "a",
            "model": "m",
            "provider": "p",
            "status": 200,
            "latency_ms": ms,
            "ttft_ms": None,
            "prompt_tokens": 1,
            "completion_tokens": 2,
            "total_tokens": 3,
        }
        for ms in (10.0, 20.0, 30.0)
    ]
    rows.append({**rows[0], "status": 502, "latency_ms": 999.0, "total_tokens": None})
    rows.append({**rows[0], "key_name": None})
    (a, anon) = summarize(rows)
    assert (a.key, a.requests, a.errors, a.total_tokens, a.p50_latency_ms) == ("a", 4, 1, 9, 20.0)
    assert anon.key == "-" and anon.requests == 1
    (by_model,) = summarize(rows, by=("model",))
    assert by_model.key == "*" and by_model.requests == 5


def _cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "polymux", *args, "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_keys_and_usage_commands(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    created = _cli("keys", "create", "laptop", db=db)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("mm-") and "only time" in created.stderr
    listed = _cli("keys", "list", "--json", db=db)
    (info,) = orjson.loads(listed.stdout)
    assert info["name"] == "laptop" and info["revoked"] is None and key not in listed.stdout
    assert _cli("keys", "revoke", "laptop", db=db).returncode == 0
    again = _cli("keys", "revoke", "laptop", db=db)
    assert again.returncode != 0 and "no active key" in again.stderr
    with Store(db) as store:
        store.log_usage(
            [
                UsageRecord(
                    "/v1/chat/completions",
                    200,
                    key_name="laptop",
                    model="m",
                    provider="p",
                    total_tokens=5,
                    latency_ms=12.0,
                ),
                UsageRecord(
                    "/v1/chat/completions",
                    429,
                    key_name="laptop",
                    model="m",
                    provider="p",
                    latency_ms=3.0,
                ),
            ]
        )
    report = _cli("usage", "--json", "--since", "1h", db=db)
    assert report.returncode == 0, report.stderr
    (line,) = orjson.loads(report.stdout)
    assert (line["requests"], line["errors"], line["total_tokens"]) == (2, 1, 5)
    assert line["p50_latency_ms"] == 12.0
    table = _cli("usage", db=db)
    assert "laptop" in table.stdout and "REQS" in table.stdout
    bad = _cli("usage", "--since", "yesterday", db=db)
    assert bad.returncode == 2 and "hint:" in bad.stderr
