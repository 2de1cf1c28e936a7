"""Text from outside (model names callers chose, upstream messages, model ids) made safe to
print: a terminal obeys control characters, so an escape sequence in a logged model name
could rewrite the operator's screen, set the window title or worse. Non-printable
characters are shown escaped (``\\x1b``), the rest as is.
"""

from __future__ import annotations

__all__ = ["printable"]


def printable(text: str) -> str:
    """``text`` with every non-printable character escaped, as ``repr`` would show it."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
