"""g4f's provider names, mapped onto polymux's official-API providers.

``polymux.Provider`` (the module a g4f script imports names from) and string provider names
(``provider="OpenaiChat"``, matched case-insensitively as g4f does) both read this table:

- a g4f name whose provider uses an official API is that polymux provider (``OpenaiAPI`` is
  OpenAI, ``GeminiPro`` is Gemini, ``Azure`` is Azure OpenAI ...); the seed's ``OpenaiChat``,
  ``Gemini`` and ``BingCreateImages`` are classes of their own with the seed's names;
- a g4f name for a provider that scrapes a web UI (``Copilot``, ``OpenaiAccount``,
  ``Blackbox`` ...) imports, and using it raises ``ConfigurationError`` naming the official
  alternative: polymux calls documented APIs only.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any, NoReturn

from ..errors import ConfigurationError
from .base import Provider

__all__ = ["NAMES", "SCRAPING", "g4f_provider"]

# g4f's names for official APIs -> "module:attribute" (relative to polymux.providers). Every
# built-in provider class is there under its own class name too (_builtin_classes).
_G4F_ALIASES = {
    "Azure": "openai:AzureOpenAI",
    "PollinationsAI": "pollinations:Pollinations",
    "PollinationsImage": "pollinations:Pollinations",
    "Custom": "openai:OpenAICompatible",  # g4f's provider for any OpenAI-compatible server
    "OpenaiTemplate": "openai:OpenAICompatible",
    "xAI": "vendors:XAI",
    "PerplexityApi": "vendors:Perplexity",
    "OpenAIFM": "openai:OpenAI",  # OpenAI's speech models, through OpenAI's own API
    "Cloudflare": "vendors:CloudflareWorkersAI",
    "Nvidia": "vendors:NvidiaNIM",
}


def _builtin_classes() -> dict[str, str]:
    from .registry import BUILTIN_PROVIDERS

    prefix = "polymux.providers."
    return {
        target.rpartition(":")[2]: target.removeprefix(prefix)
        for target in BUILTIN_PROVIDERS.values()
        if target.startswith(prefix)
    }


_PLAIN = {**_builtin_classes(), **_G4F_ALIASES}

# g4f names of providers that scrape a web UI -> the official API to use instead.
SCRAPING: dict[str, str] = {
    **dict.fromkeys(
        ("Copilot", "CopilotAccount", "CopilotApp", "CopilotSession", "GithubCopilot"),
        "AzureOpenAI (Microsoft's official API for the same OpenAI models) or OpenAI",
    ),
    **dict.fromkeys(("OpenaiAccount", "ChatGpt"), "OpenaiChat / OpenAI (OPENAI_API_KEY)"),
    **dict.fromkeys(("Bing", "MicrosoftDesigner"), "BingCreateImages (Azure OpenAI images API)"),
    **dict.fromkeys(("Grok",), "XAI (xAI's official API, XAI_API_KEY)"),
    **dict.fromkeys(
        ("gTTS", "EdgeTTS"),
        'OpenAI\'s speech models: provider=OpenAI, media.generate(text, model="gpt-4o-mini-tts")',
    ),
    **dict.fromkeys(
        ("Microsoft_Phi_4_Multimodal", "HuggingFaceMedia", "HuggingSpace"),
        "HuggingFace (Hugging Face's inference API, HF_TOKEN)",
    ),
    **dict.fromkeys(("Claude",), "Anthropic (ANTHROPIC_API_KEY)"),
    **dict.fromkeys(("GeminiCLI",), "Gemini (GEMINI_API_KEY)"),
    **dict.fromkeys(("HuggingChat",), "HuggingFace (Hugging Face's inference API, HF_TOKEN)"),
    **dict.fromkeys(
        ("MetaAI", "MetaAIAccount"), "Groq or Together (Meta's Llama models through their APIs)"
    ),
    **dict.fromkeys(
        ("Qwen", "QwenCode", "GLM", "Kimi"),
        "OpenRouter, Together or DeepInfra (the same open models through their APIs)",
    ),
    **dict.fromkeys(
        (
            "Blackbox",
            "BlackboxPro",
            "DDG",
            "DuckDuckGo",
            "You",
            "Liaobots",
            "LMArena",
            "PhindAi",
            "Pi",
            "Yqcloud",
            "TeachAnything",
            "Airforce",
            "AIBadgr",
            "CablyAI",
            "FenayAI",
            "WhiteRabbitNeo",
            "GlhfChat",
            "Puter",
            "OperaAria",
            "Free2GPT",
            "LambdaChat",
            "Phind",
            "FreeChatgpt",
            "PuterJS",
        ),
        "Pollinations (free, keyless) or OpenRouter (one key for many models)",
    ),
}


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(f"polymux.providers.{module}"), attr)


def _seed_class(name: str, target: str, doc: str, **attrs: Any) -> type:
    """A subclass of a polymux provider under the seed's name (shown in responses)."""
    base = _load(target)
    return type(name, (base,), {"__module__": "polymux.Provider", "__doc__": doc, **attrs})


@functools.cache
def _openai_chat() -> type:
    return _seed_class(
        "OpenaiChat",
        "openai:OpenAI",
        """The seed's ``OpenaiChat`` is polymux's OpenAI provider: OpenAI's official Chat
        Completions API (``providers/openai.py`` ``OpenAI``), with ``OPENAI_API_KEY``.""",
    )


@functools.cache
def _gemini() -> type:
    return _seed_class(
        "Gemini",
        "gemini:Gemini",
        """The seed's ``Gemini`` is polymux's Gemini provider: Google's official Generative
        Language API (``providers/gemini.py`` ``Gemini``), with ``GEMINI_API_KEY``; its image
        models serve ``images.generate``.""",
    )


@functools.cache
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

        __module__ = "polymux.Provider"
        name = "BingCreateImages"
        image_models = ("dall-e-3", "gpt-image-1")
        default_image_model = "dall-e-3"
        images_per_call = 1

        @property
        def supports_chat(self) -> bool:
            return False

    BingCreateImages.__qualname__ = "BingCreateImages"
    return BingCreateImages


_MADE: dict[str, Callable[[], type]] = {
    "OpenaiChat": _openai_chat,
    "OpenaiAPI": _openai_chat,
    "Gemini": _gemini,
    "GeminiPro": _gemini,
    "BingCreateImages": _bing_create_images,
}


@functools.cache
def _scraping(name: str) -> type:
    message = (
        f"{name} is a g4f provider that scrapes a web UI; polymux calls official APIs only. "
        f"Use {SCRAPING[name]} instead."
    )

    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        raise ConfigurationError(message)

    # A Provider subclass, so AsyncClient(provider=Copilot) resolves it and fails at once
    # with the message; calling g4f's entry points on it directly says the same.
    return type(
        name,
        (Provider,),
        {
            "__module__": "polymux.Provider",
            "__doc__": f"Not available: {message}",
            "__init__": refuse,
            "create_async_generator": classmethod(refuse),
            "create_completion": classmethod(refuse),
            "create_async": classmethod(refuse),
        },
    )


#: Every g4f name polymux knows, in its g4f spelling.
NAMES: tuple[str, ...] = tuple(sorted({*_PLAIN, *_MADE, *SCRAPING}))
_BY_LOWER = {name.lower(): name for name in NAMES}


def g4f_provider(name: str) -> type | None:
    """The class a g4f provider name stands for (any case), or None if it is not one."""
    exact = _BY_LOWER.get(name.lower())
    if exact is None:
        return None
    if exact in _MADE:
        return _MADE[exact]()
    if exact in SCRAPING:
        return _scraping(exact)
    return _load(_PLAIN[exact])  # type: ignore[no-any-return]
