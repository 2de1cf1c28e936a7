"""The ``polymux`` command line. ``main()`` is the console-script entry point.

Importing this package loads only the stdlib parser machinery; each command's module is
imported when that command runs (see ``app.COMMANDS``), so ``polymux --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    from .app import main as _main

    return _main(argv)
