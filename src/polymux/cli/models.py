"""``polymux models``: the models the configured providers serve, asked from each of them.

With ``--provider`` (repeatable) or ``--base-url``: those providers. Without: every built-in
provider whose API key is set here (keyless local servers are asked only when named, since
most machines run none). Providers are asked concurrently; one that fails is reported on
stderr and the others are still listed. The exit code is 1 only when every provider failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from .app import EXIT_OK, Runner, config_error, describe
from .common import (
    LoopRunner,
    add_provider_options,
    api_key_from_env,
    client_options,
    provider_spec,
)
from .terminal import printable

__all__ = ["register"]


def register(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("--json", action="store_true", help="print the OpenAI-style model list")
    add_provider_options(parser)
    return run


def _clients(args: argparse.Namespace) -> list[Any]:
    from ..client import AsyncClient

    api_key = api_key_from_env(args.api_key_env)
    spec = provider_spec(args.provider)
    if spec is None and args.base_url is None:
        from ..providers.registry import known_names, load_provider_class

        spec = []
        for name in known_names():
            try:
                cls = load_provider_class(name)
                if cls.requires_api_key and cls().is_configured:
                    spec.append(name)
            except Exception:  # a plugin that cannot load is `polymux providers`' business
                continue
        if not spec:
            raise config_error(
                "no provider has an API key set here",
                "pass --provider NAME or --base-url URL; "
                "'polymux providers' shows what each provider needs",
            )
    specs = spec if isinstance(spec, list) else [spec]
    # One client per provider, so one failing provider does not hide the others' models.
    options = client_options(args)
    return [
        AsyncClient(provider=s, api_key=api_key, base_url=args.base_url, **options) for s in specs
    ]


async def _list(clients: list[Any]) -> list[Any]:
    try:
        return await asyncio.gather(*(c.models.list() for c in clients), return_exceptions=True)
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


def run(args: argparse.Namespace) -> int:
    clients = _clients(args)
    with LoopRunner() as runner:
        results = runner.run(_list(clients))
    models: list[Any] = []
    failures: list[tuple[Any, BaseException]] = []
    for client, result in zip(clients, results):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result
            failures.append((client, result))
        else:
            models.extend(result.data)
    if failures and len(failures) == len(clients):
        raise failures[0][1] if len(failures) == 1 else _all_failed(failures)
    for client, exc in failures:  # some answered: list theirs, warn about the others
        message, _, _ = describe(exc)
        sys.stderr.write(f"warning: {_names(client)}: {printable(message)}\n")
    out = sys.stdout
    if args.json:
        rows = [m.model_dump() for m in models]
        out.write(json.dumps({"object": "list", "data": rows}, indent=2) + "\n")
    else:
        width = max((len(m.provider or m.owned_by) for m in models), default=0)
        for m in models:
            out.write(f"{printable(m.provider or m.owned_by):<{width}}  {printable(m.id)}\n")
    return EXIT_OK


def _names(client: Any) -> str:
    return ", ".join(p.name for p in client.providers)


def _all_failed(failures: list[tuple[Any, BaseException]]) -> BaseException:
    from ..errors import AllProvidersFailedError

    return AllProvidersFailedError([(_names(c), exc) for c, exc in failures])
