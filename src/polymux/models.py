"""g4f's model objects (``g4f.models.default``, ``g4f.models.gpt_4o`` ...) over polymux's
model registry (``polymux/routing/catalog.py``).

``models.default`` stands for "the provider's own default model". Any other attribute is the
registry model of that name, written as a Python identifier (``gpt_4o`` is ``gpt-4o``,
``llama_3_3_70b`` is ``llama-3.3-70b``); its ``best_provider`` is a ``RetryProvider`` of the
providers the registry lists for it. Pass one wherever a model name goes: the client uses its
``name``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Model", "default"]


@dataclass(frozen=True)
class Model:
    """A model: ``name`` as the client sends it; ``base_provider`` who made it;
    ``best_provider`` the providers that serve it, in routing order."""

    name: str
    base_provider: str = ""
    best_provider: Any = None

    def get_long_name(self) -> str:
        return self.name

    def __str__(self) -> str:
        return self.name


default = Model("")


def _identifier(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def __getattr__(attr: str) -> Model:
    from .routing.catalog import BUILTIN_MODELS
    from .routing.policy import RetryProvider

    for name, entry in BUILTIN_MODELS.items():
        if _identifier(name) == attr:
            providers = list(entry.get("providers") or {})
            return Model(name, providers[0] if providers else "", RetryProvider(providers, False))
    raise AttributeError(f"module {__name__!r} has no model {attr!r}")
