"""The CLI's frame: the command table, the parser, dispatch, error reporting and exit codes.

Commands are rows of ``COMMANDS``: a name, a one-line summary and the ``"module:function"``
of a *register hook*. Only the summary is needed for ``polymux --help``; the hook's module is
imported only when its command is the one being run (or asked for ``--help``). The hook gets
the command's ``argparse`` sub-parser, adds its options, and returns the function that runs
the command: ``run(args: argparse.Namespace) -> int`` (the exit code).

This module imports only the stdlib at import time: nothing of polymux's HTTP stack loads
before a command runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple

from .terminal import printable

__all__ = [
    "COMMANDS",
    "EXIT_API",
    "EXIT_CONFIG",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_IO",
    "EXIT_OK",
    "EXIT_USAGE",
    "CLIError",
    "Command",
    "Runner",
    "main",
]

# -- exit codes (documented in the README's CLI section) -----------------------------------------
EXIT_OK = 0
#: The provider failed: an HTTP error status, connection failure, timeout, malformed answer,
#: or every provider of a fallback list failed.
EXIT_API = 1
#: The command line or the request is wrong (unknown option, bad value, unreadable prompt).
EXIT_USAGE = 2
#: polymux is not set up for this: missing API key, unknown provider, no provider given.
EXIT_CONFIG = 3
#: A local file could not be read or written (an --image input, the -o output ...).
EXIT_IO = 4
#: A bug in polymux or in a custom provider: an exception nobody meant to raise.
EXIT_INTERNAL = 70  # EX_SOFTWARE of sysexits.h
#: Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130
#: stdout was closed early, e.g. ``polymux models | head -1`` (128 + SIGPIPE).
EXIT_BROKEN_PIPE = 141

Runner = Callable[[argparse.Namespace], int]
RegisterHook = Callable[[argparse.ArgumentParser], Runner]


# A NamedTuple, not a dataclass: dataclasses imports inspect, ~5 ms of every --help.
class Command(NamedTuple):
    """One row of the command table."""

    target: str  # "package.module:register_function"
    summary: str  # one line, shown by ``polymux --help`` without importing ``target``


#: name -> command. Add a row to add a command: ``target`` names a function that adds the
#: command's arguments to its parser and returns the function that runs it (a ``Runner``).
COMMANDS: dict[str, Command] = {
    "chat": Command("polymux.cli.chat:register", "chat with a model (one-shot or interactive)"),
    "image": Command("polymux.cli.image:register", "generate images from a prompt into files"),
    "models": Command("polymux.cli.models:register", "list the models providers serve"),
    "providers": Command(
        "polymux.cli.providers:register", "list built-in providers and whether they are usable"
    ),
    "serve": Command("polymux.cli.gateway:register_serve", "run the OpenAI-compatible gateway"),
    "keys": Command("polymux.cli.gateway:register_keys", "create, list or revoke gateway keys"),
    "usage": Command("polymux.cli.gateway:register_usage", "summarize the gateway's usage log"),
    "db": Command("polymux.cli.gateway:register_db", "upgrade the gateway database's schema"),
}


class CLIError(Exception):
    """An error the CLI reports as one line plus an optional hint, with a chosen exit code."""

    def __init__(self, message: str, *, hint: str | None = None, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


# -- parser ----------------------------------------------------------------------------------------
_DESCRIPTION = "polymux: one OpenAI-shaped client for every chat and image model."
_EPILOG = """\
Run 'polymux COMMAND --help' for the options of a command.

exit codes:
  0    ok
  1    provider/API error (HTTP error, connection, timeout, every provider failed)
  2    usage error (bad option or input)
  3    configuration error (missing API key, unknown provider, no provider given)
  4    file error (an input could not be read or an output written)
  70   internal error (a bug: run with --debug and report it)
  130  interrupted (Ctrl-C)"""


def _commands_help() -> str:
    width = max(map(len, COMMANDS))
    rows = [f"  {name:<{width}}  {command.summary}" for name, command in COMMANDS.items()]
    return "\n".join([_DESCRIPTION, "", "commands:", *rows])


def _version() -> str:
    from .._version import __version__

    return f"polymux {__version__}"


def _selected_command(argv: Sequence[str]) -> str | None:
    """The command word of ``argv``: the first argument that is not an option.

    The top-level options take no values, so the first non-option is the command.
    """
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def load_hook(target: str) -> RegisterHook:
    module_name, _, attr = target.partition(":")
    hook: RegisterHook = getattr(importlib.import_module(module_name), attr)
    return hook


def build_parser(selected: str | None) -> argparse.ArgumentParser:
    """The parser, with only ``selected``'s options registered (its module imported)."""
    parser = argparse.ArgumentParser(
        prog="polymux",
        usage="polymux [-h] [--version] [--debug] COMMAND ...",
        description=_commands_help(),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback when something fails"
    )
    # The command list is in the description (aligned, one line each); hide argparse's own.
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", help=argparse.SUPPRESS)
    for name, command in COMMANDS.items():
        cmd_parser = sub.add_parser(name, help=command.summary, description=command.summary)
        # Also accepted after the command word; SUPPRESS keeps the top-level value otherwise.
        cmd_parser.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
        if name == selected:
            cmd_parser.set_defaults(_run=load_hook(command.target)(cmd_parser))
    return parser


# -- errors ----------------------------------------------------------------------------------------
def _secrets() -> list[str]:
    """Values of credential-looking environment variables, to scrub from anything printed.

    polymux's errors never contain keys by design; this guards against a custom provider or
    an upstream echoing one back.
    """
    words = ("KEY", "TOKEN", "SECRET", "PASSWORD")
    return sorted(
        (v for k, v in os.environ.items() if len(v) >= 8 and any(w in k.upper() for w in words)),
        key=len,
        reverse=True,
    )


def redact(text: str) -> str:
    for secret in _secrets():
        text = text.replace(secret, "***")
    return text


def _one_line(text: str) -> str:
    return " ".join(text.split())


def describe(exc: BaseException) -> tuple[str, str | None, int]:
    """An exception -> (one-line message, hint or None, exit code)."""
    if isinstance(exc, CLIError):
        return exc.message, exc.hint, exc.code
    if isinstance(exc, OSError) and not _is_polymux_error(exc):
        name = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{name}", None, EXIT_IO
    if not _is_polymux_error(exc):
        hint = "this is a bug; run again with --debug and report the traceback"
        return f"internal error: {type(exc).__name__}: {exc}", hint, EXIT_INTERNAL
    return _describe_polymux(exc)


def _is_polymux_error(exc: BaseException) -> bool:
    # Loaded only if a command already imported it: an error before that cannot be one.
    errors = sys.modules.get("polymux.errors")
    return errors is not None and isinstance(exc, errors.PolymuxError)


def _describe_polymux(exc: BaseException) -> tuple[str, str | None, int]:
    from .. import errors as e

    message = str(exc)
    hint: str | None = None
    code = EXIT_API
    if isinstance(exc, e.MissingCredentialsError):
        code = EXIT_CONFIG
        hint = (
            f"export {exc.env[0]}=..." if exc.env else "pass --api-key-env VAR naming the variable"
        )
    elif isinstance(exc, e.UnknownProviderError):
        code = EXIT_CONFIG
        message = f"unknown provider {exc.name!r}"
        hint = "run 'polymux providers' for the known names, or pass --provider module:Class"
    elif isinstance(exc, e.NoProviderForModelError):
        code = EXIT_CONFIG
        needs = "; ".join(f"{p}: {why}" for p, why in exc.candidates.items())
        if needs:  # the message lists them too; say it once, as the hint
            message = f"no usable provider serves model {exc.model!r}"
        hint = needs or "pass --provider NAME (see 'polymux providers')"
    elif isinstance(exc, e.ConfigurationError):
        code = EXIT_CONFIG
        hint = "run 'polymux providers' to see which providers are usable here"
    elif isinstance(exc, e.InvalidRequestError):
        code = EXIT_USAGE
    elif isinstance(exc, e.AuthenticationError):
        hint = "check the API key (--api-key-env VAR, or the provider's variable)"
    elif isinstance(exc, e.NotFoundError):
        hint = "check --model and --base-url; 'polymux models' lists what a provider serves"
    elif isinstance(exc, e.RateLimitError):
        after = f" (the provider asks for {exc.retry_after:g} s)" if exc.retry_after else ""
        hint = f"wait and retry{after}, or add a fallback with another --provider"
    elif isinstance(exc, e.APITimeoutError):
        hint = "the provider was too slow; retry, or try another --provider"
    elif isinstance(exc, e.APIConnectionError):
        hint = "check --base-url and that the provider is reachable from here"
    elif isinstance(exc, e.AllProvidersFailedError):
        parts = [f"{name}: {_one_line(str(err))}" for name, err in exc.errors]
        message = f"all {len(exc.errors)} providers failed: " + "; ".join(parts)
    return message, hint, code


def report(exc: BaseException, *, debug: bool) -> int:
    message, hint, code = describe(exc)
    if debug:
        import traceback

        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        sys.stderr.write(redact(text))
    sys.stderr.write(f"error: {printable(redact(_one_line(message)))}\n")
    if hint:
        sys.stderr.write(f"hint: {printable(redact(hint))}\n")
    sys.stderr.flush()
    return code


# -- main ------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        parser = build_parser(_selected_command(args_list))
        args = parser.parse_args(args_list)
        debug = bool(args.debug)
        run: Runner | None = getattr(args, "_run", None)
        if run is None:
            parser.print_help()
            return EXIT_USAGE
        return run(args)
    except SystemExit as exc:  # argparse: --help/--version (0) and usage errors (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        return report(exc, debug=debug)


def _silence_stdout() -> None:
    # Python would otherwise complain again when flushing the closed pipe at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def usage_error(message: str, hint: str | None = None) -> CLIError:
    return CLIError(message, hint=hint, code=EXIT_USAGE)


def config_error(message: str, hint: str | None = None) -> CLIError:
    return CLIError(message, hint=hint, code=EXIT_CONFIG)
