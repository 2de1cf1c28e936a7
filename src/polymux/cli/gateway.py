"""``polymux serve``, ``polymux keys`` and ``polymux usage``: register hooks for the CLI's
command table (app.py). Heavy imports (uvicorn, the app, sqlite) happen inside ``run``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .app import EXIT_CONFIG, EXIT_OK, EXIT_USAGE, CLIError, Runner
from .terminal import printable

if TYPE_CHECKING:
    from ..server.database import Database

__all__ = ["register_db", "register_keys", "register_serve", "register_usage"]


def _db_option(parser: argparse.ArgumentParser) -> None:
    # Given on the command or after the action: the action's parser keeps the value only when
    # the flag is given there (SUPPRESS), so it never erases the one given before it.
    parser.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="the gateway's SQLite file (default: $POLYMUX_DB, else in the user data folder)",
    )
    parser.add_argument(
        "--database",
        metavar="URL_OR_PATH",
        default=argparse.SUPPRESS,
        help="the gateway's database: postgresql://user@host/db, or a SQLite file path",
    )


def _target(args: argparse.Namespace) -> Path | str:
    """Where the command reads and writes: --database, --db, else $POLYMUX_DB or the default."""
    from ..errors import ConfigurationError
    from ..server.config import database_setting
    from ..server.database import default_target

    database = getattr(args, "database", None)
    if database:
        try:
            setting = database_setting(database)
        except ConfigurationError as exc:
            raise CLIError(str(exc), code=EXIT_USAGE) from None
        return setting.get("database_url") or setting["database"]  # type: ignore[no-any-return]
    db: Path | None = getattr(args, "db", None)
    return db or default_target()


# -- serve -----------------------------------------------------------------------------------
def register_serve(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("--config", "-c", type=Path, metavar="FILE", help="TOML or JSON config")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 1337)")
    parser.add_argument(
        "--provider",
        action="append",
        metavar="NAME",
        help="front this provider (repeat for a fallback order); replaces the config's",
    )
    parser.add_argument("--base-url", metavar="URL", help="front this OpenAI-compatible server")
    parser.add_argument(
        "--api-key-env", metavar="VAR", help="environment variable holding the upstream's key"
    )
    parser.add_argument("--media-dir", type=Path, metavar="DIR", help="save generated images here")
    parser.add_argument(
        "--cors-origin", action="append", metavar="ORIGIN", help="allow this browser origin"
    )
    parser.add_argument(
        "--log-content", action="store_true", default=None, help="store prompts and answers"
    )
    parser.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        default=None,
        help="serve any client without a key (needed to listen beyond loopback with no keys)",
    )
    parser.add_argument(
        "--shutdown-timeout", type=float, metavar="SECONDS", help="grace period for requests"
    )
    parser.add_argument(
        "--json-logs",
        action="store_true",
        default=None,
        help="log one JSON line per request (request id, status, timings, tokens) on stderr",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes sharing the port (default 1; use [state] redis to share limits)",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="Redis for state shared by workers and replicas (redis://host:6379/0)",
    )
    parser.add_argument(
        "--admin-key-env",
        metavar="VAR",
        help="turn the admin HTTP API (/admin/...) on, with the key held in this variable",
    )
    _db_option(parser)
    return _run_serve


async def _open(target: Path | str) -> Database:
    """The ``Database`` at ``target``; one that cannot be opened is a CLI error with a hint."""
    from ..errors import ConfigurationError
    from ..server.database import open_database

    try:
        return await open_database(target)
    except ConfigurationError as exc:
        raise CLIError(
            str(exc),
            hint="check --database (postgresql://user@host/db, the server reachable) or --db PATH",
            code=EXIT_CONFIG,
        ) from None


def _database_flags(args: argparse.Namespace) -> dict[str, Any]:
    from ..server.config import database_setting

    if getattr(args, "database", None):
        return database_setting(args.database)
    return {"database": getattr(args, "db", None)}


def _run_serve(args: argparse.Namespace) -> int:
    from ..server.config import GatewayConfig, load_config
    from ..server.run import serve

    config = load_config(args.config) if args.config else GatewayConfig()
    config = config.with_flags(
        host=args.host,
        port=args.port,
        provider=tuple(args.provider or ()),
        base_url=args.base_url,
        api_key_env=args.api_key_env,
        media_dir=args.media_dir,
        cors_origins=tuple(args.cors_origin or ()),
        log_content=args.log_content,
        allow_unauthenticated=args.allow_unauthenticated,
        shutdown_timeout=args.shutdown_timeout,
        json_logs=args.json_logs,
        redis=args.redis,
        admin_key_env=args.admin_key_env,
        **_database_flags(args),
    )
    if args.workers < 1:
        raise CLIError("--workers must be 1 or more", code=EXIT_USAGE)
    if not config.providers:
        raise CLIError(
            "no provider to front",
            hint="try 'polymux serve --provider pollinations' (free, no key), "
            "'--base-url http://127.0.0.1:11434/v1' for a local server, or --config FILE",
            code=3,
        )
    serve(config, workers=args.workers)
    return EXIT_OK


# -- keys ------------------------------------------------------------------------------------
_NONE = ("none", "unlimited", "never", "any", "")


def _count(text: str) -> int | None:
    if text.strip().lower() in _NONE:
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (or 'none')") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more (or 'none' for no limit)")
    return value


def _amount(text: str) -> float | None:
    if text.strip().lower() in _NONE:
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (or 'none')") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a number, 0 or more (or 'none')")
    return value


def _models(text: str) -> tuple[str, ...] | None:
    if text.strip().lower() in _NONE:
        return None
    return tuple(part.strip() for part in text.split(",") if part.strip()) or None


def _expiry(text: str) -> float | None:
    """'none', a duration from now (30d, 12h) or a UTC date/time (2027-01-31[T12:00])."""
    text = text.strip()
    if text.lower() in _NONE:
        return None
    from ..server.usage import parse_duration

    seconds = parse_duration(text)
    if seconds is not None:
        return time.time() + seconds
    from datetime import datetime, timezone

    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: use a duration (30d, 12h), a UTC date such as 2027-01-31, or 'none'"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def _text(text: str) -> str | None:
    return None if text.strip().lower() in ("none", "") else text


#: Flags that set a key's limits: name in KeyLimits -> (parser type, help).
_LIMIT_FLAGS: dict[str, tuple[Any, str]] = {
    "rpm": (_count, "requests per minute"),
    "tpm": (_count, "tokens per minute"),
    "concurrency": (_count, "requests in flight at once"),
    "budget": (_amount, "spending limit per period, in --budget-unit"),
    "budget_unit": (str, "what the budget counts: usd (from the price table) or tokens"),
    "budget_period": (str, "when the budget resets: day or month (UTC)"),
    "models": (_models, "the model names this key may use, comma-separated"),
}


def _key_options(parser: argparse.ArgumentParser) -> None:
    # Defaults are SUPPRESSed: a flag not given leaves the namespace without it, so
    # `keys set` changes only what was named.
    for name, (kind, text) in _LIMIT_FLAGS.items():
        flag = "--" + name.replace("_", "-")
        extra: dict[str, Any] = {}
        if name in ("budget_unit", "budget_period"):
            extra["choices"] = ("usd", "tokens") if name == "budget_unit" else ("day", "month")
        else:
            text += " ('none': no limit)"
        parser.add_argument(flag, type=kind, default=argparse.SUPPRESS, help=text, **extra)
    parser.add_argument("--owner", type=_text, default=argparse.SUPPRESS, help="who owns it")
    parser.add_argument("--note", type=_text, default=argparse.SUPPRESS, help="a note")
    parser.add_argument(
        "--expires",
        type=_expiry,
        default=argparse.SUPPRESS,
        metavar="WHEN",
        help="refuse the key after this: a duration (30d), a UTC date (2027-01-31) or 'none'",
    )


def _limits(args: argparse.Namespace, base: Any) -> Any:
    """``base`` (a KeyLimits) with the limit flags that were given applied."""
    from dataclasses import replace

    given = {name: getattr(args, name) for name in _LIMIT_FLAGS if hasattr(args, name)}
    return replace(base, **given) if given else base


def register_keys(parser: argparse.ArgumentParser) -> Runner:
    _db_option(parser)
    sub = parser.add_subparsers(dest="keys_action", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create a key (printed once)")
    create.add_argument("name", help="a name for who uses the key (shown in the usage log)")
    _key_options(create)
    listing = sub.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    revoke = sub.add_parser("revoke", help="revoke the active key with this name")
    revoke.add_argument("name")
    change = sub.add_parser("set", help="change an active key's limits, owner, note or expiry")
    change.add_argument("name")
    _key_options(change)
    for action in (create, listing, revoke, change):
        _db_option(action)
    return _run_keys


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def _limits_text(limits: Any) -> str:
    parts = [f"{name}={getattr(limits, name)}" for name in ("rpm", "tpm", "concurrency")]
    parts = [p for p in parts if not p.endswith("=None")]
    if limits.budget is not None:
        unit = "$" if limits.budget_unit == "usd" else "tokens "
        parts.append(f"budget={unit}{limits.budget:g}/{limits.budget_period}")
    if limits.models is not None:
        parts.append("models=" + ",".join(limits.models))
    return printable(" ".join(parts)) or "-"


def _run_keys(args: argparse.Namespace) -> int:
    import asyncio

    return asyncio.run(_keys(args))


async def _keys(args: argparse.Namespace) -> int:
    from ..server.store import KeyLimits

    metadata = {n: getattr(args, n) for n in ("owner", "note", "expires") if hasattr(args, n)}
    async with await _open(_target(args)) as db:
        if args.keys_action == "create":
            key = await db.create_key(args.name, limits=_limits(args, KeyLimits()), **metadata)
            print(key)
            sys.stderr.write(
                f"created key {args.name!r} (stored hashed in {db.where}); this is the only "
                "time it is shown\n"
            )
        elif args.keys_action == "set":
            active = await db.list_keys(include_revoked=False)
            current = next((k for k in active if k.name == args.name), None)
            changes: dict[str, Any] = dict(metadata)
            if current is not None and _limits(args, current.limits) != current.limits:
                changes["limits"] = _limits(args, current.limits)
            if current is None or not await db.update_key(args.name, **changes):
                raise CLIError(
                    f"no active key named {args.name!r}", hint="'polymux keys list' shows them"
                )
            print(f"updated {args.name}")
        elif args.keys_action == "revoke":
            if not await db.revoke_key(args.name):
                raise CLIError(
                    f"no active key named {args.name!r}", hint="'polymux keys list' shows them"
                )
            print(f"revoked {args.name}")
        else:
            _print_keys(await db.list_keys(), as_json=args.json)
    return EXIT_OK


def _print_keys(keys: list[Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps([k.as_json() for k in keys]))
    elif not keys:
        print("no keys: the gateway serves loopback clients only")
    else:
        print(
            f"{'NAME':<24} {'KEY':<12} {'CREATED':<17} {'REVOKED':<17} "
            f"{'EXPIRES':<17} {'OWNER':<16} LIMITS"
        )
        for k in keys:
            print(
                f"{printable(k.name):<24} {k.prefix + '…':<12} {_when(k.created):<17} "
                f"{_when(k.revoked):<17} {_when(k.expires):<17} "
                f"{printable(k.owner or '-')[:16]:<16} {_limits_text(k.limits)}"
            )


# -- usage -----------------------------------------------------------------------------------
def parse_since(text: str) -> float:
    """ "24h", "7d", "30m" -> a UNIX time that long ago."""
    from ..server.usage import parse_duration

    seconds = parse_duration(text)
    if seconds is None:
        raise CLIError(f"--since {text!r}", hint="use a duration such as 30m, 24h or 7d")
    return time.time() - seconds


def register_usage(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("--since", metavar="DURATION", help="only the last 30m, 24h, 7d ...")
    parser.add_argument(
        "--by",
        default="key,model,provider",
        metavar="FIELDS",
        help="group by these of key,model,provider (default: all three)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    _db_option(parser)
    return _run_usage


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _cost(summary: Any) -> str:
    """The cost of the priced requests; '?' when none had a price, '+' when some had none."""
    if summary.unpriced == summary.requests:
        return "?"
    return f"{summary.cost:.4f}" + ("+" if summary.unpriced else "")


async def _usage_rows(target: Path | str, since: float | None) -> list[dict[str, Any]]:
    async with await _open(target) as db:
        return await db.usage_rows(since=since)


def _run_usage(args: argparse.Namespace) -> int:
    import asyncio

    from ..server.usage import summarize

    by = tuple(part.strip() for part in args.by.split(",") if part.strip())
    if not by or set(by) - {"key", "model", "provider"}:
        raise CLIError(f"--by {args.by!r}", hint="use key, model and/or provider", code=EXIT_USAGE)
    since = parse_since(args.since) if args.since else None
    rows = asyncio.run(_usage_rows(_target(args), since))
    summaries = summarize(rows, by)
    if args.json:
        print(json.dumps([s.as_dict() for s in summaries]))
        return EXIT_OK
    if not summaries:
        print("no requests logged" + (f" in the last {args.since}" if args.since else ""))
        return EXIT_OK
    head = f"{'KEY':<16} {'MODEL':<28} {'PROVIDER':<16} {'REQS':>6} {'ERRS':>5} "
    print(head + f"{'TOKENS':>9} {'COST $':>10} {'P50 MS':>7} {'TTFT MS':>7}")
    for s in summaries:
        # Model names are the callers' choice: escaped, never raw terminal input.
        key, model, provider = printable(s.key), printable(s.model), printable(s.provider)
        print(
            f"{key[:16]:<16} {model[:28]:<28} {provider[:16]:<16} {s.requests:>6} "
            f"{s.errors:>5} {s.total_tokens:>9} {_cost(s):>10} {_fmt(s.p50_latency_ms):>7} "
            f"{_fmt(s.p50_ttft_ms):>7}"
        )
    return EXIT_OK


# -- db --------------------------------------------------------------------------------------
def register_db(parser: argparse.ArgumentParser) -> Runner:
    _db_option(parser)
    sub = parser.add_subparsers(dest="db_action", metavar="ACTION", required=True)
    upgrade = sub.add_parser(
        "upgrade", help="apply the schema migrations this polymux has (the gateway also does)"
    )
    _db_option(upgrade)
    return _run_db


def _run_db(args: argparse.Namespace) -> int:
    import asyncio

    async def upgrade() -> tuple[str, int]:
        # Opening a database applies the migrations it lacks, under a lock, exactly once.
        async with await _open(_target(args)) as db:
            return db.where, await db.schema_version()

    where, version = asyncio.run(upgrade())
    print(f"{where}: schema version {version} (up to date)")
    return EXIT_OK
