"""``python -m modelmux``: the same as the ``modelmux`` command."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
