"""What several commands share: provider options, building the client, running coroutines.

Imported only by commands that talk to providers, so it may import the client package.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

from .app import EXIT_CONFIG, CLIError, config_error, usage_error

__all__ = [
    "LoopRunner",
    "add_provider_options",
    "api_key_from_env",
    "client_options",
    "make_client",
    "provider_spec",
]

T = TypeVar("T")


def add_provider_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("provider")
    group.add_argument(
        "-p",
        "--provider",
        action="append",
        metavar="NAME",
        help="a provider name (see 'polymux providers') or module:Class of a custom "
        "Provider; repeat for a fallback list, tried in order",
    )
    group.add_argument(
        "--base-url",
        metavar="URL",
        help="the provider's base URL; without --provider, any OpenAI-compatible server "
        "(e.g. http://localhost:8000/v1)",
    )
    group.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="read the API key from this environment variable (default: each provider's "
        "own, e.g. OPENAI_API_KEY)",
    )
    group.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="time limit of each provider call"
    )
    group.add_argument(
        "--max-retries",
        type=int,
        metavar="N",
        help="retries of a failed call (429, 5xx, connection errors) before giving up (default 2)",
    )


def api_key_from_env(var: str | None) -> str | None:
    """The key in ``$var``; a clear error when the variable is unset. Never echoes the value."""
    if var is None:
        return None
    value = os.environ.get(var, "")
    if not value:
        raise config_error(f"--api-key-env names {var}, which is not set", f"export {var}=...")
    return value


def _import_class(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise config_error(f"--provider {target!r}: expected module:Class")
    # As uvicorn does for its app argument: modules in the working directory are importable
    # also when polymux runs as an installed script (sys.path[0] is then the script's dir).
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CLIError(
            f"--provider {target!r}: cannot import module {module_name!r}: {exc}",
            hint="check the module name and that its directory is on PYTHONPATH",
            code=EXIT_CONFIG,
        ) from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise config_error(
            f"--provider {target!r}: module {module_name!r} has no {attr!r}"
        ) from None


def provider_spec(values: list[str] | None) -> Any:
    """``--provider`` values -> what ``AsyncClient(provider=...)`` takes (None: none given).

    A value with a colon is ``module:Class`` (a custom provider imported by dotted path);
    any other value is a registered name, resolved by the client.
    """
    if not values:
        return None
    specs = [_import_class(v) if ":" in v else v for v in values]
    return specs[0] if len(specs) == 1 else specs


def make_client(args: argparse.Namespace, *, route_by_model: bool = False) -> Any:
    """The ``AsyncClient`` the provider options describe.

    ``route_by_model``: with no provider and no base URL, a ``--model`` the model registry
    knows is enough (the client picks the usable providers that serve it).
    """
    from ..client import AsyncClient

    spec = provider_spec(args.provider)
    api_key = api_key_from_env(args.api_key_env)
    if spec is None and args.base_url is None and not (route_by_model and args.model):
        model_hint = ", or --model NAME of a known model" if route_by_model else ""
        raise config_error(
            "no provider given",
            "pass --provider NAME (see 'polymux providers') or --base-url URL of an "
            f"OpenAI-compatible server{model_hint}",
        )
    return AsyncClient(
        provider=spec, api_key=api_key, base_url=args.base_url, **client_options(args)
    )


def client_options(args: argparse.Namespace) -> dict[str, Any]:
    """``--timeout`` and ``--max-retries`` as ``AsyncClient`` keyword arguments, when given."""
    options: dict[str, Any] = {}
    if args.timeout is not None:
        if args.timeout <= 0:
            raise usage_error(f"--timeout must be positive, got {args.timeout:g}")
        options["timeout"] = args.timeout
    if args.max_retries is not None:
        if args.max_retries < 0:
            raise usage_error(f"--max-retries must be 0 or more, got {args.max_retries}")
        options["max_retries"] = args.max_retries
    return options


class LoopRunner:
    """One event loop for a whole command, where Ctrl-C cancels the running step only.

    ``asyncio.run`` would make a new loop per call, losing the client's pooled connections
    between the turns of an interactive chat. ``run`` turns SIGINT into cancelling the task
    (so ``finally`` blocks close the upstream stream) and then raises ``KeyboardInterrupt``.
    """

    def __init__(self) -> None:
        import asyncio  # here, not at the top: `polymux chat --help` needs no event loop

        self.loop = asyncio.new_event_loop()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        import asyncio

        task = self.loop.create_task(coro)
        interrupted = False

        def on_sigint() -> None:
            nonlocal interrupted
            interrupted = True
            task.cancel()

        try:
            self.loop.add_signal_handler(signal.SIGINT, on_sigint)
            installed = True
        except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not main thread
            installed = False
        try:
            result = self.loop.run_until_complete(task)
        except asyncio.CancelledError:
            if interrupted:
                raise KeyboardInterrupt from None
            raise
        except KeyboardInterrupt:  # no signal handler: the default one raised here
            task.cancel()
            with contextlib.suppress(BaseException):
                self.loop.run_until_complete(task)
            raise
        finally:
            if installed:
                self.loop.remove_signal_handler(signal.SIGINT)
        if interrupted:  # the task swallowed the cancellation; still report the Ctrl-C
            raise KeyboardInterrupt
        return result

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()

    def __enter__(self) -> LoopRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
