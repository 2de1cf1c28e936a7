"""Provider classes under the names the seed's project uses (``from g4f.Provider import ...``)::

    from polymux.Provider import BingCreateImages, OpenaiChat, Gemini

Each name is imported on first use, so a missing optional module breaks only its own name.
Unlike the seed's project, every one of them calls a documented, official API with your key.
"""

from __future__ import annotations

import importlib
from typing import Any

# Every name is made by __getattr__ on first use (hence no definitions for ruff to see).
__all__ = [  # noqa: F822
    "XAI",
    "Anthropic",
    "AzureOpenAI",
    "BingCreateImages",
    "Cerebras",
    "DeepInfra",
    "DeepSeek",
    "Fireworks",
    "Gemini",
    "GeminiPro",
    "Groq",
    "HuggingFace",
    "Mistral",
    "Ollama",
    "OpenAI",
    "OpenAICompatible",
    "OpenRouter",
    "OpenaiAPI",
    "OpenaiChat",
    "Perplexity",
    "Pollinations",
    "PollinationsAI",
    "Together",
]

# name -> "module:attribute" (relative to polymux.providers)
_PLAIN = {
    "OpenAI": "openai:OpenAI",
    "OpenAICompatible": "openai:OpenAICompatible",
    "AzureOpenAI": "openai:AzureOpenAI",
    "Anthropic": "anthropic:Anthropic",
    "Ollama": "ollama:Ollama",
    "Pollinations": "pollinations:Pollinations",
    "PollinationsAI": "pollinations:Pollinations",  # the seed project's name for it
    **{
        name: f"vendors:{name}"
        for name in (
            "Groq",
            "Together",
            "DeepInfra",
            "OpenRouter",
            "Mistral",
            "Fireworks",
            "Cerebras",
            "XAI",
            "DeepSeek",
            "Perplexity",
            "HuggingFace",
        )
    },
}


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(f"polymux.providers.{module}"), attr)


def _openai_chat() -> type:
    base = _load("openai:OpenAI")

    class OpenaiChat(base):  # type: ignore[valid-type,misc]
        """The seed's ``OpenaiChat`` is polymux's OpenAI provider: OpenAI's official Chat
        Completions API (``providers/openai.py`` ``OpenAI``), with ``OPENAI_API_KEY``."""

        __module__ = __name__

    return OpenaiChat


def _gemini() -> type:
    base = _load("gemini:Gemini")

    class Gemini(base):  # type: ignore[valid-type,misc]
        """The seed's ``Gemini`` is polymux's Gemini provider: Google's official Generative
        Language API (``providers/gemini.py`` ``Gemini``), with ``GEMINI_API_KEY``; its image
        models serve ``images.generate``."""

        __module__ = __name__

    return Gemini


def _bing_create_images() -> type:
    base = _load("openai:AzureOpenAI")

    class BingCreateImages(base):  # type: ignore[valid-type,misc]
        """The seed's ``BingCreateImages``: Microsoft's image generation (the DALL-E models
        behind Bing Image Creator) through the official Azure OpenAI images API,
        ``POST {endpoint}/openai/deployments/{deployment}/images/generations``.

        It serves images only. Needs ``AZURE_OPENAI_ENDPOINT`` and ``AZURE_OPENAI_API_KEY``
        (or ``base_url=`` and ``api_key=``); the model is your image deployment's name
        (``dall-e-3`` by default). One image per call, as DALL-E 3 allows; the client makes
        ``n`` calls concurrently.
        """

        __module__ = __name__
        name = "BingCreateImages"
        image_models = ("dall-e-3", "gpt-image-1")
        default_image_model = "dall-e-3"
        images_per_call = 1

        @property
        def supports_chat(self) -> bool:
            return False

    return BingCreateImages


_MADE = {
    "OpenaiChat": _openai_chat,
    "OpenaiAPI": _openai_chat,
    "Gemini": _gemini,
    "GeminiPro": _gemini,
    "BingCreateImages": _bing_create_images,
}


def __getattr__(name: str) -> Any:
    if name in _MADE:
        value = _MADE[name]()
        for alias, make in _MADE.items():  # aliases share one class
            if make is _MADE[name]:
                globals()[alias] = value
        return value
    target = _PLAIN.get(name)
    if target is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = _load(target)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
