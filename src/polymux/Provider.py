"""Provider classes under g4f's names (``from g4f.Provider import ...``)::

    from polymux.Provider import OpenaiChat, Gemini, BingCreateImages, RetryProvider

As in g4f, ``polymux.Provider`` is this module, whichever way it is imported
(``from polymux import Provider`` gives it too), and ``from polymux.Provider.GeminiPro import
GeminiPro`` works as in g4f; the base class for writing a provider is
``polymux.providers.Provider``, and subclassing this module says so. Each name is imported on
first use. Names of g4f providers that use an official API are that polymux provider; names of
g4f providers that scrape a web UI import, and raise an error naming the official alternative
when used (``providers/g4f_names.py``).
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import types
from typing import Any, NoReturn

from .providers.g4f_names import NAMES, g4f_provider

__all__ = [*NAMES, "IterListProvider", "RetryProvider"]  # noqa: F822 (made by __getattr__)


def __getattr__(name: str) -> Any:
    if name in ("RetryProvider", "IterListProvider"):
        from .routing import policy

        value = getattr(policy, name)
    else:
        value = g4f_provider(name) if name in NAMES else None
        if value is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _ProviderModule(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        # Importing polymux.Provider.GeminiPro (g4f's per-provider module path) makes the
        # import system set this module's GeminiPro to that submodule: keep the class instead.
        if isinstance(value, types.ModuleType) and value.__name__ == f"{self.__name__}.{name}":
            return
        super().__setattr__(name, value)

    def __mro_entries__(self, bases: tuple[Any, ...]) -> NoReturn:
        raise TypeError(
            "polymux.Provider is the module of provider classes (as g4f.Provider is); "
            "to write a provider, subclass polymux.providers.Provider (or a g4f base class "
            "from polymux.providers.base_provider)"
        )


sys.modules[__name__].__class__ = _ProviderModule


class _NameModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """g4f's per-provider module paths: ``from polymux.Provider.GeminiPro import GeminiPro``
    imports a module holding just that name. Only names of this module are found."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        package, _, name = fullname.rpartition(".")
        if package != __name__ or name not in __all__:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: Any) -> None:
        return None  # the default module

    def exec_module(self, module: types.ModuleType) -> None:
        name = module.__name__.rpartition(".")[2]
        setattr(module, name, getattr(sys.modules[__name__], name))


# A package to the import system, whose submodules are the finder's alone.
__path__: list[str] = []
if not any(isinstance(finder, _NameModules) for finder in sys.meta_path):
    sys.meta_path.append(_NameModules())
