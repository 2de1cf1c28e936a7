"""Provider names -> provider classes, and the resolution of what a caller passed as a provider.

Built-in names are a table, imported lazily on first use; plugins add names through the
``polymux.providers`` entry-point group. There is no global mutable registry: a caller who
wants their own provider passes its class or instance.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import ConfigurationError, UnknownProviderError
from .base import Provider
from .legacy import LegacyProvider, is_legacy_provider

__all__ = [
    "BUILTIN_PROVIDERS",
    "ProviderSpec",
    "known_names",
    "load_provider_class",
    "resolve_providers",
]

ProviderSpec = Any  # a name, a Provider class or instance, a g4f-style class, or a list of them

#: name -> "module:attribute". Names are matched case-insensitively.
BUILTIN_PROVIDERS: Mapping[str, str] = {
    "openai": "polymux.providers.openai:OpenAI",
    "azure": "polymux.providers.openai:AzureOpenAI",
    "openai-compatible": "polymux.providers.openai:OpenAICompatible",
    "ollama": "polymux.providers.ollama:Ollama",
    "pollinations": "polymux.providers.pollinations:Pollinations",
    # OpenAI-compatible hosts: rows of providers/vendors.py
    "groq": "polymux.providers.vendors:Groq",
    "together": "polymux.providers.vendors:Together",
    "deepinfra": "polymux.providers.vendors:DeepInfra",
    "openrouter": "polymux.providers.vendors:OpenRouter",
    "mistral": "polymux.providers.vendors:Mistral",
    "fireworks": "polymux.providers.vendors:Fireworks",
    "cerebras": "polymux.providers.vendors:Cerebras",
    "xai": "polymux.providers.vendors:XAI",
    "deepseek": "polymux.providers.vendors:DeepSeek",
    "perplexity": "polymux.providers.vendors:Perplexity",
    "huggingface": "polymux.providers.vendors:HuggingFace",
    "gemini-openai": "polymux.providers.vendors:GeminiOpenAI",
    "github": "polymux.providers.vendors:GitHubModels",
    "cloudflare": "polymux.providers.vendors:CloudflareWorkersAI",
    "nvidia": "polymux.providers.vendors:NvidiaNIM",
    "sambanova": "polymux.providers.vendors:SambaNova",
    "nebius": "polymux.providers.vendors:Nebius",
    "novita": "polymux.providers.vendors:Novita",
    "hyperbolic": "polymux.providers.vendors:Hyperbolic",
    "scaleway": "polymux.providers.vendors:Scaleway",
    "ollama-openai": "polymux.providers.vendors:OllamaOpenAI",
    "vllm": "polymux.providers.vendors:VLLM",
    "llamacpp": "polymux.providers.vendors:LlamaCpp",
    "lmstudio": "polymux.providers.vendors:LMStudio",
    "anthropic": "polymux.providers.anthropic:Anthropic",
    "gemini": "polymux.providers.gemini:Gemini",
    "cohere": "polymux.providers.cohere:Cohere",
    "bedrock": "polymux.providers.bedrock:Bedrock",
    "vertex": "polymux.providers.vertex:VertexGemini",
    "vertex-anthropic": "polymux.providers.vertex:VertexAnthropic",
}


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name.lower(): ep for ep in entry_points(group="polymux.providers")}


def known_names() -> list[str]:
    return sorted({*BUILTIN_PROVIDERS, *_entry_points()})


def load_provider_class(name: str) -> type[Provider]:
    key = name.lower()
    target = BUILTIN_PROVIDERS.get(key)
    if target is not None:
        module, _, attr = target.partition(":")
        cls = getattr(importlib.import_module(module), attr)
    else:
        ep = _entry_points().get(key)
        if ep is None:
            raise UnknownProviderError(name, known_names())
        cls = ep.load()
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise ConfigurationError(f"provider {name!r} does not name a polymux Provider class")
    return cls


def _instantiate(cls: type[Provider], api_key: str | None, base_url: str | None) -> Provider:
    kwargs: dict[str, Any] = {}
    if api_key is not None:
        kwargs["api_key"] = api_key
    if base_url is not None:
        kwargs["base_url"] = base_url
    return cls(**kwargs)


def resolve_one(
    spec: ProviderSpec, *, api_key: str | None = None, base_url: str | None = None
) -> Provider:
    if isinstance(spec, Provider):
        return spec
    if isinstance(spec, str):
        return _instantiate(_class_for_name(spec), api_key, base_url)
    if isinstance(spec, type) and issubclass(spec, Provider):
        return _instantiate(spec, api_key, base_url)
    if is_legacy_provider(spec):
        return LegacyProvider(spec, api_key=api_key, base_url=base_url)
    raise ConfigurationError(
        f"cannot use {spec!r} as a provider: pass a provider name, a polymux Provider class or "
        "instance, or a class with create_async_generator()"
    )


def _class_for_name(name: str) -> type[Provider]:
    """A registered name, else one of g4f's provider names (any case, as g4f matches them)."""
    try:
        return load_provider_class(name)
    except UnknownProviderError:
        from .g4f_names import g4f_provider

        cls = g4f_provider(name)
        if cls is None:
            raise
        return cls


class ResolvedProviders(list[Provider]):
    """Provider instances resolved once, to be passed as ``provider=`` on many calls (the
    gateway's routes): a call takes them as they are, without resolving every entry and
    checking it serves chat again each time. Not to be changed after it is made."""

    def __init__(self, providers: Iterable[Provider]) -> None:
        super().__init__(providers)
        #: Every one serves chat (a plain chat call needs no capability check).
        self.chat_ready = all(p.supports_chat for p in self)


def resolve_providers(
    spec: ProviderSpec, *, api_key: str | None = None, base_url: str | None = None
) -> list[Provider]:
    """What the caller passed as ``provider=`` -> provider instances, in order. A string of
    several names separated by spaces (``"OpenaiChat Gemini"``) is a list, as in g4f."""
    if type(spec) is ResolvedProviders:
        return spec
    if isinstance(spec, str) and " " in spec.strip():
        spec = spec.split()
    if isinstance(spec, Sequence) and not isinstance(spec, str):
        if not spec:
            raise ConfigurationError("provider is an empty list; name at least one provider")
        return [resolve_one(s, api_key=api_key, base_url=base_url) for s in spec]
    return [resolve_one(spec, api_key=api_key, base_url=base_url)]
