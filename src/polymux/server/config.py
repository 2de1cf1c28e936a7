"""The gateway's configuration: a TOML (or JSON) file, and flags for the simple case.

The file names providers, where their keys are (environment variables only: a literal key in
a config file is refused, so keys never end up in files, logs or backups), model aliases and
fallback groups. The schema, with an example, is in the README ("Gateway configuration").
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from ..errors import ConfigurationError
from .limits import Limits
from .prices import Price, parse_prices

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PASS_THROUGH",
    "DEFAULT_PORT",
    "GatewayConfig",
    "ProviderConfig",
    "is_loopback_host",
    "load_config",
    "parse_config",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 1337

_SERVER_KEYS = {
    "host",
    "port",
    "media_dir",
    "public_url",
    "cors_origins",
    "log_content",
    "relay_chat",
    "database",
    "shutdown_timeout",
    "allow_unauthenticated",
    "upstream_timeout",
    "max_retries",
    "connect_timeout",
    "first_byte_timeout",
    "idle_timeout",
    "models_timeout",
    "body_timeout",
    "upload_timeout",
    "max_concurrent_requests",
    "trusted_proxies",
    "pass_through",
    "allow_private_image_urls",
    "responses_retention_days",
    "metrics",
    "json_logs",
    "admin_key_env",
}
#: Per-provider limits (the gateway-wide [server] values are their defaults).
_PROVIDER_LIMITS = ("connect_timeout", "first_byte_timeout", "idle_timeout")
_PROVIDER_KEYS = {
    "type",
    "base_url",
    "api_key_env",
    "models",
    "options",
    "max_concurrency",
    *_PROVIDER_LIMITS,
}
#: Request fields beyond the ones the gateway names that reach the upstream unless the
#: operator says otherwise ([server] pass_through): sampling knobs of open-model hosts and
#: per-token details. Not service_tier, store and the like: they change what a call costs.
DEFAULT_PASS_THROUGH = (
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "top_k",
    "min_p",
    "repetition_penalty",
    "background",
    "output_format",
    "output_compression",
    "moderation",
)
# Setting names that hold a credential ("api_key", "token", "client_secret" ...; not "max_tokens").
_SECRET_NAME = re.compile(r"(^|_)(api_?key|key|secret|token|password)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """One upstream: ``type`` is a provider name of the registry (``openai-compatible``,
    ``groq``, ``ollama-openai`` ...); ``models`` are the model ids routed to it by name."""

    name: str
    type: str
    base_url: str | None = None
    api_key_env: str | None = None
    models: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    #: Calls in flight to this provider at once (None: no limit); more wait for a slot.
    max_concurrency: int | None = None
    #: Overrides of the gateway-wide time limits for this provider (None: the gateway's).
    connect_timeout: float | None = None
    first_byte_timeout: float | None = None
    idle_timeout: float | None = None


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    providers: tuple[ProviderConfig, ...] = ()
    #: Providers tried, in order, for a model no alias or provider claims (default: the first).
    default: tuple[str, ...] = ()
    #: alias -> targets tried in order; a target is "provider" or "provider/model".
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    media_dir: Path | None = None
    public_url: str | None = None
    cors_origins: tuple[str, ...] = ()
    log_content: bool = False
    #: ``/v1/chat/completions`` to OpenAI-wire hosts relays the host's answer (chat_relay.py)
    #: instead of translating and folding it; false: every answer takes the general path.
    relay_chat: bool = True
    database: Path | None = None
    shutdown_timeout: float = 30.0
    allow_unauthenticated: bool = False
    upstream_timeout: float = 600.0
    max_retries: int = 2
    #: Upstream time limits (README, "Security and limits"): to connect, from sending a
    #: request to the first byte of its answer, and the longest pause inside a stream. A
    #: provider that accepts and never answers is given up on, and a fallback group moves on.
    connect_timeout: float = 10.0
    first_byte_timeout: float = 120.0
    idle_timeout: float = 60.0
    #: GET /v1/models asks every provider with this limit; one that does not answer in time
    #: is left out of the list.
    models_timeout: float = 5.0
    #: The longest a request body may take to arrive (slow senders hold a connection).
    body_timeout: float = 30.0
    #: The longest a multipart upload (audio, image edits) may take to arrive.
    upload_timeout: float = 300.0
    #: Requests handled at once; more are answered 503 at once.
    max_concurrent_requests: int = 1024
    #: Addresses of reverse proxies whose X-Forwarded-For is believed. Empty: none, and a
    #: request carrying proxy headers is refused while the gateway has no keys.
    trusted_proxies: tuple[str, ...] = ()
    #: Request fields beyond those the gateway names that are passed to the upstream.
    pass_through: tuple[str, ...] = DEFAULT_PASS_THROUGH
    #: Image URLs a provider answers that resolve to private addresses may be downloaded.
    allow_private_image_urls: bool = False
    limits: Limits = field(default_factory=Limits)
    #: How long /v1/responses keeps stored responses (previous_response_id, retrieve); 0: none.
    responses_retention_days: float = 30.0
    #: GET /metrics (Prometheus) and the counting behind it (server/metrics.py).
    metrics: bool = True
    #: One JSON line per API request on stderr (server/request_log.py).
    json_logs: bool = False
    #: [state]: shared state (server/shared/). A Redis URL makes per-key limits (and what
    #: else README "Running several replicas" lists) hold across workers and replicas; None:
    #: in this process. Kept out of the repr: the URL may hold a password.
    redis: str | None = field(default=None, repr=False)
    #: Environment variable holding the Redis password (a config file holds no credential).
    redis_password_env: str | None = None
    #: Prefix of every Redis key the gateway writes (several gateways on one Redis).
    redis_prefix: str = "polymux:"
    #: Per-key limits while Redis cannot be reached: "open" serves uncounted (logged),
    #: "closed" answers 503.
    limits_on_redis_error: str = "open"
    #: [cache]: the response cache (server/shared/cache.py); None: off. Its entries live
    #: this many seconds.
    cache_ttl: float | None = None
    #: Models whose answers are cached without the request asking ("*": all).
    cache_models: tuple[str, ...] = ()
    #: Entries the in-memory cache keeps (the least recently used go first).
    cache_max_entries: int = 1000
    #: The environment variable holding the admin API's key (None: no admin API).
    admin_key_env: str | None = None
    #: [state] database = "postgresql://...": keys, usage and stored responses in PostgreSQL
    #: instead of the SQLite file ``database`` (server/pgstore.py).
    database_url: str | None = None
    #: [state] database_pool: connections per gateway process to PostgreSQL, at most.
    database_pool: int | None = None
    #: [prices]: entries added to (or replacing) the shipped price table (server/prices.py).
    prices: Mapping[str, Price] = field(default_factory=dict)

    def with_flags(self, **flags: Any) -> GatewayConfig:
        """This config with the flags that were given (not None) applied."""
        given = {k: v for k, v in flags.items() if v is not None and v != ()}
        base_url = given.pop("base_url", None)
        api_key_env = given.pop("api_key_env", None)
        names = tuple(given.pop("provider", ()) or ())
        config = replace(self, **given)
        if base_url or names or api_key_env:
            config = replace(config, **_flag_providers(config, names, base_url, api_key_env))
        config.check()
        return config

    def check(self) -> None:
        if not 0 < self.port < 65536:
            raise ConfigurationError(f"port must be 1-65535, got {self.port}")
        names = [p.name for p in self.providers]
        if len(set(names)) != len(names):
            raise ConfigurationError("two providers have the same name")
        for name in self.default:
            if name not in names:
                raise ConfigurationError(f"[routing] default names unknown provider {name!r}")
        for alias, targets in self.aliases.items():
            if not targets:
                raise ConfigurationError(f"alias {alias!r} has no target")
            for target in targets:
                if target.partition("/")[0] not in names:
                    raise ConfigurationError(
                        f"alias {alias!r}: target {target!r} must start with a configured "
                        f"provider name ({', '.join(names) or 'none configured'})"
                    )
        for key in ("connect_timeout", "first_byte_timeout", "idle_timeout", "models_timeout"):
            if getattr(self, key) <= 0:
                raise ConfigurationError(f"[server] {key} must be a positive number of seconds")
        if self.body_timeout <= 0 or self.upload_timeout <= 0 or self.max_concurrent_requests < 1:
            raise ConfigurationError(
                "[server] body_timeout, upload_timeout and max_concurrent_requests must be positive"
            )
        if self.responses_retention_days < 0:
            raise ConfigurationError("responses_retention_days must be 0 or more")
        if self.limits_on_redis_error not in ("open", "closed"):
            raise ConfigurationError('[state] limits_on_redis_error must be "open" or "closed"')
        if self.redis is not None and not self.redis.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ConfigurationError(
                "[state] redis must be a URL: redis://[:password@]host:port/db, rediss:// "
                "(TLS) or unix:///path/to/socket"
            )
        if self.media_dir is not None and self.media_dir.exists() and not self.media_dir.is_dir():
            raise ConfigurationError(f"media_dir {self.media_dir} is not a directory")


def _flag_providers(
    config: GatewayConfig, names: Sequence[str], base_url: str | None, api_key_env: str | None
) -> dict[str, Any]:
    """``--base-url/--api-key-env/--provider`` replace the file's providers with these."""
    if not names:
        names = ("openai-compatible",) if base_url else tuple(p.type for p in config.providers)
    if not names:
        raise ConfigurationError("--api-key-env needs --base-url or --provider")
    providers = tuple(
        ProviderConfig(name=n, type=n, base_url=base_url, api_key_env=api_key_env) for n in names
    )
    return {"providers": providers, "default": tuple(names), "aliases": {}}


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# -- parsing ---------------------------------------------------------------------------------
def load_config(path: str | os.PathLike[str]) -> GatewayConfig:
    """Read a ``.toml`` or ``.json`` config file."""
    path = Path(path).expanduser()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the config file {path}: {exc.strerror}") from None
    if path.suffix.lower() == ".json":
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ConfigurationError(f"{path} is not valid JSON: {exc}") from None
    else:
        data = _toml(raw, path)
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}: the top level must be a table/object")
    return parse_config(data, base_dir=path.parent)


def _toml(raw: bytes, path: Path) -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        try:
            import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]
        except ImportError:
            raise ConfigurationError(
                "TOML config files need Python 3.11+ or `pip install polymux[server]` (tomli) "
                "on 3.10; or write the config as JSON"
            ) from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise ConfigurationError(f"{where} must be a string or a list of strings")


def _refuse_literal_secrets(data: Mapping[str, Any], where: str) -> None:
    for key, value in data.items():
        if _SECRET_NAME.search(key):
            raise ConfigurationError(
                f"{where}.{key}: credentials are not read from config files; put the value in "
                f"an environment variable and name it with {where}.api_key_env"
            )
        if isinstance(value, Mapping):
            _refuse_literal_secrets(value, f"{where}.{key}")


def _provider(name: str, data: Any) -> ProviderConfig:
    where = f"[providers.{name}]"
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{where} must be a table")
    _refuse_literal_secrets(data, f"providers.{name}")
    unknown = sorted(set(data) - _PROVIDER_KEYS)
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown setting(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_PROVIDER_KEYS))}"
        )
    if "/" in name or not name:
        raise ConfigurationError(f"{where}: a provider name may not contain '/'")
    for key in ("type", "base_url", "api_key_env"):
        if key in data and not isinstance(data[key], str):
            raise ConfigurationError(f"{where} {key} must be a string")
    options = data.get("options", {})
    if not isinstance(options, Mapping):
        raise ConfigurationError(f"{where} options must be a table")
    limits: dict[str, Any] = {}
    for key in ("max_concurrency", *_PROVIDER_LIMITS):
        if key in data:
            value = data[key]
            kind = int if key == "max_concurrency" else (int, float)
            if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
                raise ConfigurationError(f"{where} {key} must be a positive number")
            limits[key] = value
    return ProviderConfig(
        name=name,
        type=data.get("type", name),
        base_url=data.get("base_url"),
        api_key_env=data.get("api_key_env"),
        models=_strings(data.get("models", []), f"{where} models"),
        options=dict(options),
        **limits,
    )


_STATE_KEYS = (
    "redis",
    "redis_password_env",
    "redis_prefix",
    "limits_on_redis_error",
    "database",
    "database_pool",
)


def database_setting(value: str, base_dir: Path | None = None) -> dict[str, Any]:
    """``database`` (a SQLite path) or ``database_url`` (``postgresql://...``) from the
    ``[state] database`` setting or the ``--database`` flag."""
    if value.startswith(("postgresql://", "postgres://")):
        return {"database_url": value}
    if "://" in value:
        raise ConfigurationError(
            f"database {value.split('://')[0]}://...: use a postgresql:// URL or a SQLite path"
        )
    path = Path(value).expanduser()
    return {"database": (base_dir / path) if base_dir and not path.is_absolute() else path}


def _check_table(data: Any, section: str, known: set[str]) -> None:
    """Refuse a section that is not a table or names settings nobody reads (typos)."""
    if not isinstance(data, Mapping) or set(data) - known:
        extra = sorted(set(data) - known) if isinstance(data, Mapping) else []
        raise ConfigurationError(
            f"[{section}]: unknown setting(s) {', '.join(extra) or '(not a table)'}; "
            f"known: {', '.join(sorted(known))}"
        )


def _state(state: Any, base_dir: Path | None = None) -> dict[str, Any]:
    """The [state] section: where shared state (server/shared/) and the database live."""
    _check_table(state, "state", set(_STATE_KEYS))
    out: dict[str, Any] = {}
    for key, value in state.items():
        if key == "database_pool":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
                raise ConfigurationError("[state] database_pool must be a whole number, 1-1000")
            out[key] = value
        elif not isinstance(value, str) or not value:
            raise ConfigurationError(f"[state] {key} must be a non-empty string")
        elif key == "database":
            out.update(database_setting(value, base_dir))
        else:
            out[key] = value
    if "@" in state.get("redis", ""):
        raise ConfigurationError(
            "[state] redis: credentials are not read from config files; give the URL without "
            "them and name the environment variable holding the password in "
            "[state] redis_password_env (or pass the whole URL with --redis)"
        )
    return out


def _cache(cache: Any) -> dict[str, Any]:
    """The [cache] section: its presence turns the response cache on."""
    _check_table(cache, "cache", {"ttl", "models", "max_entries"})
    ttl = cache.get("ttl", 300)
    entries = cache.get("max_entries", 1000)
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
        raise ConfigurationError("[cache] ttl must be a positive number of seconds")
    if isinstance(entries, bool) or not isinstance(entries, int) or entries < 1:
        raise ConfigurationError("[cache] max_entries must be a positive integer")
    models = cache.get("models", [])
    return {
        "cache_ttl": float(ttl),
        "cache_models": () if models == [] else _strings(models, "[cache] models"),
        "cache_max_entries": entries,
    }


def parse_config(data: Mapping[str, Any], *, base_dir: Path | None = None) -> GatewayConfig:
    """A config from parsed TOML/JSON data; relative paths are relative to ``base_dir``."""
    sections = {"server", "providers", "routing", "aliases", "limits", "state", "cache", "prices"}
    unknown = sorted(set(data) - sections)
    if unknown:
        raise ConfigurationError(
            f"unknown section(s) {', '.join(unknown)}; known: {', '.join(sorted(sections))}"
        )
    server = data.get("server", {})
    _check_table(server, "server", _SERVER_KEYS)
    kwargs: dict[str, Any] = {}
    for key, kind in (
        ("host", str),
        ("port", int),
        ("public_url", str),
        ("admin_key_env", str),
        ("log_content", bool),
        ("relay_chat", bool),
        ("allow_unauthenticated", bool),
        ("shutdown_timeout", (int, float)),
        ("upstream_timeout", (int, float)),
        ("max_retries", int),
        ("connect_timeout", (int, float)),
        ("first_byte_timeout", (int, float)),
        ("idle_timeout", (int, float)),
        ("models_timeout", (int, float)),
        ("body_timeout", (int, float)),
        ("upload_timeout", (int, float)),
        ("max_concurrent_requests", int),
        ("allow_private_image_urls", bool),
        ("responses_retention_days", (int, float)),
        ("metrics", bool),
        ("json_logs", bool),
    ):
        if key in server:
            value = server[key]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ConfigurationError(f"[server] {key} has the wrong type")
            kwargs[key] = value
    for key in ("media_dir", "database"):
        if key in server:
            if not isinstance(server[key], str):
                raise ConfigurationError(f"[server] {key} must be a path string")
            path = Path(server[key]).expanduser()
            kwargs[key] = (base_dir / path) if base_dir and not path.is_absolute() else path
    for key in ("cors_origins", "trusted_proxies", "pass_through"):
        if key in server:
            value = server[key]
            kwargs[key] = () if value == [] else _strings(value, f"[server] {key}")
    kwargs.update(_state(data.get("state", {}), base_dir))
    providers_data = data.get("providers", {})
    if not isinstance(providers_data, Mapping):
        raise ConfigurationError("[providers] must be a table of tables")
    providers = tuple(_provider(name, p) for name, p in providers_data.items())
    routing = data.get("routing", {})
    if not isinstance(routing, Mapping) or set(routing) - {"default"}:
        raise ConfigurationError("[routing] accepts only default = [provider names]")
    aliases_data = data.get("aliases", {})
    if not isinstance(aliases_data, Mapping):
        raise ConfigurationError("[aliases] must be a table of alias = target(s)")
    if "cache" in data:
        kwargs.update(_cache(data["cache"]))
    config = GatewayConfig(
        providers=providers,
        default=_strings(routing.get("default", []), "[routing] default"),
        aliases={k: _strings(v, f"[aliases] {k}") for k, v in aliases_data.items()},
        limits=Limits.from_mapping(data.get("limits", {})),
        prices=parse_prices(data.get("prices", {})),
        **kwargs,
    )
    config.check()
    return config
