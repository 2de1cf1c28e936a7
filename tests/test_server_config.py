"""Gateway configuration: the documented TOML example, refusals, flags, aliases and fallback
groups routed through a live fake upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from polymux.errors import ConfigurationError
from polymux.server import GatewayConfig, create_app, load_config
from polymux.server.config import ProviderConfig, parse_config

from .fakes import FakeServer
from .fakes.openai import CHAT, MODELS, error, models, reply
from .server_harness import asgi_request

EXAMPLE = """
[server]
host = "127.0.0.1"
port = 1337
media_dir = "media"
log_content = false

[providers.local]
type = "openai-compatible"
base_url = "{a}"
models = ["llama-3.1-8b"]

[providers.backup]
type = "openai-compatible"
base_url = "{b}"
api_key_env = "BACKUP_KEY"

[routing]
default = ["local"]

[aliases]
fast = "backup/tiny-1"
smart = ["local/big-70b", "backup/big-fallback"]

[limits]
max_messages = 50
"""


@pytest.fixture
async def upstreams() -> AsyncIterator[tuple[FakeServer, FakeServer]]:
    async with FakeServer() as a, FakeServer() as b:
        yield a, b


def write(tmp_path: Path, text: str, name: str = "gateway.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_example_parses(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, EXAMPLE.format(a="http://a/v1", b="http://b/v1")))
    assert [p.name for p in config.providers] == ["local", "backup"]
    assert config.providers[1].api_key_env == "BACKUP_KEY"
    assert config.aliases == {
        "fast": ("backup/tiny-1",),
        "smart": ("local/big-70b", "backup/big-fallback"),
    }
    assert config.media_dir == tmp_path / "media"
    assert config.limits.max_messages == 50


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('[providers.x]\ntype = "openai"\napi_key = "sk-123"', "environment variable"),
        ('[providers.x]\noptions = {token = "abc"}', "environment variable"),
        ("[server]\nport = 99999", "port"),
        ("[server]\nlisten = 1", "unknown setting"),
        ("[routing]\ndefault = ['ghost']", "unknown provider"),
        ("[providers.a]\n[aliases]\nx = 'ghost/m'", "configured provider"),
        ("[limits]\nmax_messages = -1", "positive"),
        ("[wat]", "unknown section"),
        ("not = [toml", "not valid TOML"),
    ],
)
def test_bad_configs_are_refused_with_a_reason(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        load_config(write(tmp_path, text))


def test_literal_keys_never_appear_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_config(write(tmp_path, '[providers.x]\napi_key = "sk-very-secret"'))
    assert "sk-very-secret" not in str(info.value)


def test_json_config(tmp_path: Path) -> None:
    data = {"providers": {"up": {"type": "openai-compatible", "base_url": "http://u/v1"}}}
    config = load_config(write(tmp_path, orjson.dumps(data).decode(), "g.json"))
    assert config.providers[0].name == "up"


def test_flags_front_one_upstream() -> None:
    config = GatewayConfig().with_flags(
        base_url="http://127.0.0.1:8080/v1", api_key_env="LOCAL_KEY", port=9000
    )
    (p,) = config.providers
    assert (p.type, p.base_url, p.api_key_env) == (
        "openai-compatible",
        "http://127.0.0.1:8080/v1",
        "LOCAL_KEY",
    )
    assert config.port == 9000
    named = GatewayConfig().with_flags(provider=("groq", "openai"))
    assert [p.name for p in named.providers] == ["groq", "openai"]
    assert named.default == ("groq", "openai")


async def test_aliases_fallback_groups_and_prefixes_route_upstream(
    upstreams: tuple[FakeServer, FakeServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = upstreams
    monkeypatch.setenv("BACKUP_KEY", "sk-backup-secret")
    text = EXAMPLE.format(a=a.url("/v1"), b=b.url("/v1"))
    app = create_app(load_config(write(tmp_path, text)), db_path=tmp_path / "g.db")
    a.script("POST", CHAT, error(503, "down"))  # retried by the client, then given up
    b.script("POST", CHAT, reply("from b"))
    a.script("GET", MODELS, models("llama-3.1-8b", "big-70b"))
    b.script("GET", MODELS, error(500, "no list"))

    async def ask(model: str) -> dict[str, object]:
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        status, _, raw = await asgi_request(app, "POST", "/v1/chat/completions", body)
        assert status == 200, raw
        return orjson.loads(raw)  # type: ignore[no-any-return]

    try:
        # "smart": local fails with 503 before any content, so backup answers.
        smart = await ask("smart")
        assert smart["provider"] == "backup"
        assert a.requests[-1].json["model"] == "big-70b"
        assert b.requests[-1].json["model"] == "big-fallback"
        assert b.requests[-1].headers["Authorization"] == "Bearer sk-backup-secret"
        a.script("POST", CHAT, reply("from a"))
        fast = await ask("fast")
        assert fast["provider"] == "backup" and b.requests[-1].json["model"] == "tiny-1"
        prefixed = await ask("backup/any-model")
        assert prefixed["provider"] == "backup" and b.requests[-1].json["model"] == "any-model"
        declared = await ask("llama-3.1-8b")
        assert declared["provider"] == "local"
        default = await ask("unknown-model")
        assert default["provider"] == "local" and a.requests[-1].json["model"] == "unknown-model"
        # Models: aliases, then provider/model ids; a failing provider's list is left out
        # (its declared models stay).
        status, _, raw = await asgi_request(app, "GET", "/v1/models")
        ids = [m["id"] for m in orjson.loads(raw)["data"]]
        assert status == 200
        assert ids == ["fast", "smart", "local/llama-3.1-8b", "local/big-70b"]
        status, _, raw = await asgi_request(app, "GET", "/v1/models/local/big-70b")
        assert status == 200 and orjson.loads(raw)["owned_by"] == "local"
    finally:
        await app.aclose()


def test_no_provider_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no provider configured"):
        create_app(GatewayConfig(), db_path=tmp_path / "g.db")
    bad = GatewayConfig(providers=(ProviderConfig("x", "no-such-provider"),))
    with pytest.raises(ConfigurationError, match="no-such-provider"):
        create_app(bad, db_path=tmp_path / "g.db")
    assert parse_config({}).providers == ()


def test_settings_that_merely_mention_tokens_are_not_taken_for_secrets(tmp_path: Path) -> None:
    text = '[providers.x]\ntype = "openai"\napi_key_env = "X_KEY"\noptions = {max_tokens = 5}'
    (p,) = load_config(write(tmp_path, text)).providers
    assert p.options == {"max_tokens": 5} and p.api_key_env == "X_KEY"
