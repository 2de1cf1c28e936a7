"""Providers: the base class custom providers subclass, and the built-in ones.

The public names are those below (``__all__``); the built-in providers are reached by name
(``AsyncClient(provider="anthropic")``) or from ``polymux.Provider``. The modules (one per
provider and dialect: base, openai, anthropic, gemini, ollama, pollinations, vendors, their
``*_wire`` and ``*_stream`` translations, registry, fetch_image, legacy, memory) are the
implementation: import from ``polymux.providers``, not from them.
"""

from .base import Capabilities, GeneratedImage, Provider

__all__ = ["Capabilities", "GeneratedImage", "Provider"]
