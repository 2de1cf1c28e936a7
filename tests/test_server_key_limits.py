"""Per-key metadata and limits: the caller's KeyLimits reach the request path, expired keys
are refused, allowed models are enforced, and the CLI sets and changes them."""

from __future__ import annotations

import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from polymux.errors import InvalidRequestError
from polymux.server import Gateway
from polymux.server.auth import ANONYMOUS, Caller, KeyRing
from polymux.server.store import KeyLimits, Store

from .cli_support import run_cli
from .fakes import FakeServer
from .fakes.openai import MODELS, models
from .server_harness import asgi_request

HELLO = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}


def bearer(key: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {key}")]


def test_authenticate_gives_the_callers_name_and_limits(tmp_path: Path) -> None:
    limits = KeyLimits(rpm=100, budget=5.0, budget_period="day", models=("a", "b"))
    with Store(tmp_path / "k.db") as store:
        key = store.create_key("team", owner="ops", note="ci runner", limits=limits)
        ring = KeyRing(store, refresh=0)
        caller = ring.authenticate([(b"authorization", f"Bearer {key}".encode())], None)
        assert caller == Caller("team", limits, None)
        # A change reaches the ring at its next refresh, without a restart.
        assert store.update_key("team", limits=KeyLimits(tpm=1000))
        caller = ring.authenticate([(b"x-api-key", key.encode())], None)
        assert caller.limits == KeyLimits(tpm=1000)
        (info,) = store.list_keys()
        assert (info.owner, info.note, info.limits.tpm) == ("ops", "ci runner", 1000)
        assert key not in repr(caller) and key not in repr(info)


def test_anonymous_callers_have_no_limits(tmp_path: Path) -> None:
    with Store(tmp_path / "k.db") as store:
        assert KeyRing(store).authenticate([], ("127.0.0.1", 1)) is ANONYMOUS
    assert ANONYMOUS.limits == KeyLimits() and ANONYMOUS.name is None


def test_limits_are_checked_and_round_trip_through_json() -> None:
    limits = KeyLimits(concurrency=2, budget=1000, budget_unit="tokens", models=("x",))
    assert KeyLimits.from_json(limits.to_json()) == limits
    assert KeyLimits().to_json() is None
    for bad in (
        {"rpm": 0},
        {"tpm": 1.5},
        {"budget": -1},
        {"budget_unit": "eur"},
        {"budget_period": "week"},
        {"models": ("",)},
    ):
        with pytest.raises(InvalidRequestError):
            KeyLimits(**bad)


async def test_expired_key_is_refused_with_a_clear_message(app: Gateway, tmp_path: Path) -> None:
    with Store(tmp_path / "g.db") as store:
        old = store.create_key("old", expires=time.time() - 60)
        fresh = store.create_key("fresh", expires=time.time() + 3600)
    status, headers, body = await asgi_request(
        app, "POST", "/v1/chat/completions", HELLO, headers=bearer(old)
    )
    error = orjson.loads(body)["error"]
    assert status == 401 and error["code"] == "expired_api_key"
    assert "'old' expired at" in error["message"] and old not in error["message"]
    assert headers["www-authenticate"] == "Bearer"
    status, _, _ = await asgi_request(
        app, "POST", "/v1/chat/completions", HELLO, headers=bearer(fresh)
    )
    assert status == 200
    # Extending the expiry lets the key in again.
    with Store(tmp_path / "g.db") as store:
        assert store.update_key("old", expires=None)
    status, _, _ = await asgi_request(
        app, "POST", "/v1/chat/completions", HELLO, headers=bearer(old)
    )
    assert status == 200


async def test_allowed_models_are_enforced_before_any_upstream_call(
    app: Gateway, upstream: FakeServer, tmp_path: Path
) -> None:
    with Store(tmp_path / "g.db") as store:
        key = store.create_key("narrow", limits=KeyLimits(models=("m1", "m2")))
    status, _, body = await asgi_request(
        app,
        "POST",
        "/v1/chat/completions",
        {**HELLO, "model": "gpt-expensive"},
        headers=bearer(key),
    )
    error = orjson.loads(body)["error"]
    assert status == 403 and error["code"] == "model_not_allowed" and error["param"] == "model"
    assert "'gpt-expensive'" in error["message"] and "m1, m2" in error["message"]
    # Without a model name the key cannot fall through to the default model either.
    no_model = {"messages": HELLO["messages"]}
    status, _, body = await asgi_request(
        app, "POST", "/v1/chat/completions", no_model, headers=bearer(key)
    )
    assert status == 403 and "must name its model" in orjson.loads(body)["error"]["message"]
    # Other endpoints too: embeddings and the Anthropic front door.
    status, _, _ = await asgi_request(
        app, "POST", "/v1/embeddings", {"model": "e9", "input": "x"}, headers=bearer(key)
    )
    assert status == 403
    status, _, body = await asgi_request(
        app,
        "POST",
        "/v1/messages",
        {"model": "claude-x", "max_tokens": 5, "messages": HELLO["messages"]},
        headers=bearer(key),
    )
    assert status == 403 and orjson.loads(body)["type"] == "error"
    assert upstream.requests == []
    status, _, _ = await asgi_request(
        app, "POST", "/v1/chat/completions", HELLO, headers=bearer(key)
    )
    assert status == 200 and len(upstream.requests) == 1


def _cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, "--db", str(db), timeout=60)


async def test_a_key_limited_to_some_models_lists_those_only(
    app: Gateway, upstream: FakeServer, tmp_path: Path
) -> None:
    upstream.script("GET", MODELS, models("m1", "m2", "m3"))
    with Store(tmp_path / "g.db") as store:
        narrow = store.create_key("narrow", limits=KeyLimits(models=("m1", "m3")))
        wide = store.create_key("wide")
    listed = {}
    for name, key in (("narrow", narrow), ("wide", wide)):
        status, _, body = await asgi_request(app, "GET", "/v1/models", headers=bearer(key))
        assert status == 200
        listed[name] = {m["id"] for m in orjson.loads(body)["data"]}
    assert listed == {"narrow": {"m1", "m3"}, "wide": {"m1", "m2", "m3"}}


def _listed(db: Path) -> dict[str, Any]:
    out = _cli("keys", "list", "--json", db=db)
    assert out.returncode == 0, out.stderr
    return {k["name"]: k for k in orjson.loads(out.stdout)}


def test_cli_creates_and_changes_limits_and_metadata(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    created = _cli(
        "keys",
        "create",
        "team",
        "--rpm",
        "100",
        "--budget",
        "5",
        "--budget-period",
        "day",
        "--models",
        "a,b",
        "--owner",
        "ops",
        "--expires",
        "2099-01-31",
        db=db,
    )
    assert created.returncode == 0, created.stderr
    info = _listed(db)["team"]
    assert (
        info["owner"] == "ops"
        and info["expires"] == datetime(2099, 1, 31, tzinfo=timezone.utc).timestamp()
    )
    assert info["limits"] == {
        "rpm": 100,
        "tpm": None,
        "concurrency": None,
        "budget": 5.0,
        "budget_unit": "usd",
        "budget_period": "day",
        "models": ["a", "b"],
    }
    # `set` changes what it names and keeps the rest.
    changed = _cli("keys", "set", "team", "--tpm", "5000", "--rpm", "none", "--note", "x", db=db)
    assert changed.returncode == 0, changed.stderr
    info = _listed(db)["team"]
    assert info["limits"]["rpm"] is None and info["limits"]["tpm"] == 5000
    assert info["limits"]["models"] == ["a", "b"] and info["limits"]["budget"] == 5.0
    assert (info["owner"], info["note"]) == ("ops", "x")
    table = _cli("keys", "list", db=db)
    assert "tpm=5000" in table.stdout and "budget=$5/day" in table.stdout and "ops" in table.stdout
    missing = _cli("keys", "set", "nobody", "--rpm", "1", db=db)
    assert missing.returncode != 0 and "no active key named 'nobody'" in missing.stderr
    bad = _cli("keys", "set", "team", "--rpm", "0", db=db)
    assert bad.returncode == 2 and "1 or more" in bad.stderr
    bad_date = _cli("keys", "create", "x", "--expires", "soonish", db=db)
    assert bad_date.returncode == 2 and "duration" in bad_date.stderr
