"""g4f's debug switches (``import g4f.debug; g4f.debug.logging = True``).

``logging = True`` shows polymux's debug log on stderr (which providers were tried and why
each was left: the ``polymux`` loggers); False turns it off again. ``version_check`` is
accepted and ignored: polymux never checks for new versions over the network.
"""

from __future__ import annotations

import logging as _logging
import sys
import types
from typing import Any

__all__ = ["version_check"]  # and the `logging` switch (a property of this module)

version_check = False
_handler = _logging.StreamHandler()
_handler.setFormatter(_logging.Formatter("%(name)s: %(message)s"))


class _DebugModule(types.ModuleType):
    @property
    def logging(self) -> bool:
        return _handler in _logging.getLogger("polymux").handlers

    @logging.setter
    def logging(self, on: Any) -> None:
        logger = _logging.getLogger("polymux")
        if on:
            logger.setLevel(_logging.DEBUG)
            if _handler not in logger.handlers:
                logger.addHandler(_handler)
        else:
            logger.setLevel(_logging.NOTSET)
            logger.removeHandler(_handler)


sys.modules[__name__].__class__ = _DebugModule
