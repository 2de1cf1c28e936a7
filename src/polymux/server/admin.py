"""The admin HTTP API: keys, their limits and the usage summary, for tools that cannot run the
CLI on the gateway's machine.

Off unless the operator names an environment variable holding an admin key
(``[server] admin_key_env`` / ``--admin-key-env``); while off, ``/admin/...`` does not exist
(404). While on, every ``/admin`` request must carry that key as ``Authorization: Bearer``:
the gateway's own API keys do not open it, and neither does being on loopback. The key is
compared by its SHA-256 with ``hmac.compare_digest``.

    GET    /admin/keys                     the keys (never the keys themselves)
    POST   /admin/keys                     {"name", "owner"?, "note"?, "expires"?, "limits"?}
                                           -> 201 with the new key, shown this once
    PATCH  /admin/keys/{name}              {"owner"?, "note"?, "expires"?, "limits"?}: what is
                                           given changes; limits merge into the current ones
    DELETE /admin/keys/{name}              revoke
    GET    /admin/usage?since=24h&by=key,model   the usage summary (as `polymux usage --json`)

``expires`` is a UNIX time or null; ``limits`` holds KeyLimits' fields (rpm, tpm,
concurrency, budget, budget_unit, budget_period, models), null removing one.
"""

from __future__ import annotations

import hmac
import os
import time
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from ..errors import ConfigurationError, InvalidRequestError
from .asgi import read_json, send_json
from .auth import bearer_token
from .errormap import GatewayHTTPError
from .store import KeyLimits, key_digest
from .usage import parse_duration, summarize

if TYPE_CHECKING:
    from .app import Call, Gateway

__all__ = ["PREFIX", "admin_digest", "handle"]

PREFIX = "/admin/"
_MIN_KEY = 16
_BODY_LIMIT = 64 * 1024
_LIMIT_FIELDS = frozenset(f.name for f in fields(KeyLimits))


def admin_digest(env: str | None) -> bytes | None:
    """The SHA-256 of the admin key in ``$env`` (None: the admin API is off)."""
    if env is None:
        return None
    key = os.environ.get(env, "").strip()
    if len(key) < _MIN_KEY:
        raise ConfigurationError(
            f"admin_key_env names ${env}, which must hold an admin key of at least {_MIN_KEY} "
            "characters (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return key_digest(key)


def _check_admin(gateway: Gateway, call: Call) -> None:
    digest = gateway.admin_digest
    presented = bearer_token(call.scope["headers"])
    if digest is None or presented is None:
        raise GatewayHTTPError(
            401,
            "the admin API needs the admin key: 'Authorization: Bearer <admin key>'",
            code="missing_admin_key",
            headers={"www-authenticate": "Bearer"},
        )
    if not hmac.compare_digest(key_digest(presented), digest):
        raise GatewayHTTPError(
            401,
            "invalid admin key",
            code="invalid_admin_key",
            headers={"www-authenticate": "Bearer"},
        )


async def handle(gateway: Gateway, call: Call) -> None:
    """Every ``/admin/`` route: the admin key is checked here, before anything else."""
    _check_admin(gateway, call)
    path: str = call.scope["path"]
    method: str = call.scope["method"]
    if path == "/admin/keys":
        if method == "GET":
            db = await gateway.database()
            await send_json(call.send, 200, {"data": [k.as_json() for k in await db.list_keys()]})
            return
        if method == "POST":
            await _create(gateway, call)
            return
        raise _not_allowed(method, "GET, POST")
    if path.startswith("/admin/keys/"):
        name = unquote(path[len("/admin/keys/") :])
        if method == "PATCH":
            await _update(gateway, call, name)
            return
        if method == "DELETE":
            db = await gateway.database()
            if not await db.revoke_key(name):
                raise _no_key(name)
            await send_json(call.send, 200, {"name": name, "revoked": True})
            return
        raise _not_allowed(method, "PATCH, DELETE")
    if path == "/admin/usage":
        if method != "GET":
            raise _not_allowed(method, "GET")
        await _usage(gateway, call)
        return
    raise GatewayHTTPError(404, f"no admin route {path}", code="unknown_url")


def _not_allowed(method: str, allow: str) -> GatewayHTTPError:
    return GatewayHTTPError(
        405, f"{method} is not allowed here; use {allow}", headers={"allow": allow}
    )


def _no_key(name: str) -> GatewayHTTPError:
    return GatewayHTTPError(404, f"no active key named {name!r}", code="key_not_found")


async def _body(call: Call, allowed: set[str]) -> dict[str, Any]:
    body = await read_json(call.scope, call.receive, _BODY_LIMIT)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidRequestError(
            f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}"
        )
    for name in ("name", "owner", "note"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise InvalidRequestError(f"{name} must be a string")
    expires = body.get("expires")
    if expires is not None and (isinstance(expires, bool) or not isinstance(expires, (int, float))):
        raise InvalidRequestError("expires must be a UNIX time (seconds) or null")
    return body


def _limits(data: Any, base: KeyLimits) -> KeyLimits:
    """``base`` with the fields of the JSON object ``data`` applied (checked by KeyLimits)."""
    if not isinstance(data, dict):
        raise InvalidRequestError("limits must be an object of KeyLimits fields")
    unknown = sorted(set(data) - _LIMIT_FIELDS)
    if unknown:
        raise InvalidRequestError(
            f"unknown limit(s) {', '.join(unknown)}; known: {', '.join(sorted(_LIMIT_FIELDS))}"
        )
    values = dict(data)
    models = values.get("models")
    if models is not None:
        if not isinstance(models, list):
            raise InvalidRequestError("limits.models must be a list of model names or null")
        values["models"] = tuple(models)
    return replace(base, **values)


async def _create(gateway: Gateway, call: Call) -> None:
    body = await _body(call, {"name", "owner", "note", "expires", "limits"})
    if not isinstance(body.get("name"), str):
        raise InvalidRequestError('name is required: {"name": "team-a"}')
    limits = _limits(body.get("limits") or {}, KeyLimits())
    db = await gateway.database()
    key = await db.create_key(
        body["name"],
        owner=body.get("owner"),
        note=body.get("note"),
        expires=body.get("expires"),
        limits=limits,
    )
    info = next(k for k in await db.list_keys(include_revoked=False) if k.name == body["name"])
    await send_json(call.send, 201, {**info.as_json(), "key": key})


async def _update(gateway: Gateway, call: Call, name: str) -> None:
    body = await _body(call, {"owner", "note", "expires", "limits"})
    db = await gateway.database()
    current = next((k for k in await db.list_keys(include_revoked=False) if k.name == name), None)
    if current is None:
        raise _no_key(name)
    changes: dict[str, Any] = {k: body[k] for k in ("owner", "note", "expires") if k in body}
    if "limits" in body:
        changes["limits"] = _limits(body["limits"], current.limits)
    if not await db.update_key(name, **changes):
        raise _no_key(name)
    info = next(k for k in await db.list_keys(include_revoked=False) if k.name == name)
    await send_json(call.send, 200, info.as_json())


async def _usage(gateway: Gateway, call: Call) -> None:
    query = parse_qs(call.scope.get("query_string", b"").decode("latin-1"))
    since_text = query.get("since", [None])[-1]
    by_text = query.get("by", ["key,model,provider"])[-1] or ""
    by = tuple(part.strip() for part in by_text.split(",") if part.strip())
    if not by or set(by) - {"key", "model", "provider"}:
        raise InvalidRequestError("by must list key, model and/or provider, comma-separated")
    since = None
    if since_text:
        seconds = parse_duration(since_text)
        if seconds is None:
            raise InvalidRequestError("since must be a duration such as 30m, 24h or 7d")
        since = time.time() - seconds
    db = await gateway.database()
    rows = await db.usage_rows(since=since)
    await send_json(call.send, 200, {"data": [s.as_dict() for s in summarize(rows, by)]})
