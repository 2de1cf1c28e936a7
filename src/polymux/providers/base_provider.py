"""Base classes for g4f-style providers, under g4f's names
(``from g4f.providers.base_provider import ...`` becomes
``from polymux.providers.base_provider import ...``).

A g4f-style provider is a class whose classmethods do the work, in one of three styles:

- ``AsyncGeneratorProvider``: ``create_async_generator(model, messages, stream, **kwargs)``
  is an async generator of text pieces and ``polymux.providers.response`` objects;
- ``AbstractProvider``: ``create_completion(model, messages, stream, **kwargs)`` is a plain
  (synchronous) generator of the same; polymux runs it in a worker thread;
- ``AsyncProvider``: ``create_async(model, messages, **kwargs)`` is a coroutine returning
  the whole text.

Pass such a class as ``provider=`` (or ``image_provider=``); ``providers/legacy.py`` adapts it.
Its class attributes are read as its capabilities: ``working`` (False: refused unless the call
passes ``ignore_working=True``), ``supports_stream``, ``supports_system_message``, ``models``,
``default_model``, ``model_aliases``, ``image_models``, ``vision_models``, ``needs_auth``.
Unlike g4f, ``working`` defaults to True: a provider you wrote is assumed to work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ..errors import NoProviderForModelError

__all__ = [
    "AbstractProvider",
    "AsyncGeneratorProvider",
    "AsyncProvider",
    "BaseProvider",
    "ProviderModelMixin",
]


class BaseProvider:
    """What every g4f-style provider class says about itself (read by the adapter)."""

    url: ClassVar[str | None] = None
    working: ClassVar[bool] = True
    needs_auth: ClassVar[bool] = False
    supports_stream: ClassVar[bool] = False
    supports_message_history: ClassVar[bool] = True
    supports_system_message: ClassVar[bool] = True

    @classmethod
    def get_dict(cls) -> dict[str, Any]:
        return {"name": cls.__name__, "url": cls.url, "label": getattr(cls, "label", None)}


class AbstractProvider(BaseProvider):
    """Override ``create_completion(model, messages, stream, **kwargs)``: a generator."""


class AsyncProvider(AbstractProvider):
    """Override ``create_async(model, messages, **kwargs)``: a coroutine returning text."""


class AsyncGeneratorProvider(AbstractProvider):
    """Override ``create_async_generator(model, messages, stream, **kwargs)``."""

    supports_stream: ClassVar[bool] = True


class ProviderModelMixin:
    """Model lists as class attributes, and ``get_model`` to resolve aliases."""

    default_model: ClassVar[str | None] = None
    models: ClassVar[Sequence[str]] = []
    model_aliases: ClassVar[Mapping[str, str] | None] = None
    image_models: ClassVar[Sequence[str]] = []
    vision_models: ClassVar[Sequence[str]] = []

    @classmethod
    def get_models(cls, **kwargs: Any) -> list[str]:
        return list(dict.fromkeys([*cls.models, *cls.image_models]))

    @classmethod
    def get_model(cls, model: str, **kwargs: Any) -> str:
        """The model id to use: the default for "", an alias resolved, else the name itself
        (a name outside a non-empty ``models`` list is ModelNotFoundError)."""
        if not model:
            return cls.default_model or ""
        aliases = cls.model_aliases or {}
        model = aliases.get(model, model)
        known = cls.get_models()
        if known and model not in known:
            raise NoProviderForModelError(
                f"{cls.__name__} does not serve model {model!r}; it serves {', '.join(known)}",
                model=model,
            )
        return model
