"""A route's properties are decided once, from its path or prefix (app.Route): for every
path a prefixed route serves they must be what that path itself would give."""

from __future__ import annotations

from pathlib import Path

import pytest

from polymux.server import create_app
from polymux.server.app import _PUBLIC, _PUBLIC_PREFIXES, _counted
from polymux.server.config import GatewayConfig, ProviderConfig

UPSTREAM = ProviderConfig(name="u", type="openai-compatible", base_url="http://127.0.0.1:9/v1")


def test_a_prefixed_route_holds_for_every_path_below_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTES_TEST_ADMIN_KEY", "a" * 32)  # /admin/ exists only with it
    config = GatewayConfig(port=1, providers=(UPSTREAM,), admin_key_env="ROUTES_TEST_ADMIN_KEY")
    app = create_app(config, db_path=tmp_path / "g.sqlite3")
    prefixes = [prefix for prefix, _ in app._prefixed]
    assert {"/v1/models/", "/media/", "/static/", "/admin/", "/v1/responses/"} <= set(prefixes)
    for prefix in prefixes:
        for path in (prefix + "x", prefix + "resp_1/input_items", prefix + "v1/models/x"):
            route = app._find(path)
            assert route is not None
            assert route.public == (path in _PUBLIC or path.startswith(_PUBLIC_PREFIXES)), path
            assert route.counted == _counted(path), path
            assert route.logged == (path.startswith("/v1/") and not path.startswith("/v1/models"))
            assert route.media == path.startswith("/media/"), path
            assert route.endpoint == prefix + "*" and route.error_shape is None


def test_an_exact_route_is_decided_by_its_path(tmp_path: Path) -> None:
    app = create_app(GatewayConfig(port=1, providers=(UPSTREAM,)), db_path=tmp_path / "g.db")
    chat = app._find("/v1/chat/completions")
    assert chat is not None
    assert (chat.public, chat.counted, chat.logged, chat.media) == (False, True, True, False)
    assert chat.endpoint == "/v1/chat/completions" and chat.error_shape is None
    health = app._find("/health")
    assert health is not None and health.public and not health.counted and not health.logged
    models = app._find("/v1/models")
    assert models is not None and models.counted and not models.logged
    messages = app._find("/v1/messages")
    assert messages is not None and messages.error_shape is not None  # Anthropic's shape
