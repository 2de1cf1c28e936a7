"""OpenAI-compatible hosts as rows of data. Each row becomes a provider class on first use::

    from polymux.providers.vendors import Groq      # a class, like any other provider
    AsyncClient(provider="groq")                      # or by name

A row says where the host is, which variable holds its key, and how it departs from
OpenAI's API (``Quirks``). Adding a host is adding a row. A base URL may name environment
variables in braces (``{CLOUDFLARE_ACCOUNT_ID}``): their values are filled in, URL-encoded.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ..errors import ConfigurationError
from .base import Capabilities
from .openai import OpenAICompatible
from .openai_wire import Quirks

__all__ = ["VENDORS", "VendorRow", "vendor_class"]

_ALL = Capabilities(
    vision=True, tools=True, json_schema=True, json_object=True, multiple_choices=True
)
_PLAIN = Quirks()
_SINGLE = Capabilities(vision=True, tools=True, json_schema=True, json_object=True)


@dataclass(frozen=True, slots=True)
class VendorRow:
    name: str
    class_name: str
    base_url: str
    api_key_env: tuple[str, ...] = ()
    requires_api_key: bool = True
    quirks: Quirks = _PLAIN
    capabilities: Capabilities = _ALL
    header_env: dict[str, str] = field(default_factory=dict)
    base_url_env: str | None = None
    default_model: str | None = None
    #: Model ids the host names as its own: sent as written, never mapped by the registry.
    models: tuple[str, ...] = ()
    serves_images: bool = False
    #: What the host gives at no cost (see ``Provider.free_tier``).
    free_tier: str = ""
    #: Whether the host serves ``/embeddings`` (OpenAI's shape), and its batch cap.
    serves_embeddings: bool = False
    embeddings_per_call: int = 2048
    #: Whether the host serves the legacy ``/completions`` (else it is translated onto chat).
    serves_completions: bool = False
    #: Whether the host serves ``/audio/transcriptions`` (and translations), ``/audio/speech``.
    serves_transcriptions: bool = False
    serves_speech: bool = False
    #: Which of OpenAI's further transcription fields (``TRANSCRIPTION_FIELDS``: include,
    #: chunking_strategy, stream ...) the host documents taking: none unless a row says so.
    transcription_fields: frozenset[str] = frozenset()
    doc: str = ""


VENDORS: tuple[VendorRow, ...] = (
    VendorRow(
        "groq",
        "Groq",
        "https://api.groq.com/openai/v1",
        ("GROQ_API_KEY",),
        quirks=Quirks(
            unsupported_params=frozenset({"logprobs", "logit_bias", "top_logprobs", "n"}),
            strip_message_names=True,
        ),
        capabilities=_SINGLE,
        default_model="llama-3.3-70b-versatile",
        free_tier="free plan with per-model rate limits",
        serves_transcriptions=True,
        serves_speech=True,
        doc="Groq (n must be 1; rejects logprobs, logit_bias and message names).",
    ),
    VendorRow(
        "together",
        "Together",
        "https://api.together.xyz/v1",
        ("TOGETHER_API_KEY",),
        default_model="meta-llama/Llama-3.3-70B-Instruct-Turbo",
        serves_images=True,
        serves_embeddings=True,
        serves_completions=True,
        doc="Together AI.",
    ),
    VendorRow(
        "deepinfra",
        "DeepInfra",
        "https://api.deepinfra.com/v1/openai",
        ("DEEPINFRA_API_KEY",),
        default_model="meta-llama/Llama-3.3-70B-Instruct",
        serves_embeddings=True,
        serves_completions=True,
        doc="DeepInfra (its OpenAI API lives under /v1/openai).",
    ),
    VendorRow(
        "openrouter",
        "OpenRouter",
        "https://openrouter.ai/api/v1",
        ("OPENROUTER_API_KEY",),
        header_env={"HTTP-Referer": "OPENROUTER_APP_URL", "X-Title": "OPENROUTER_APP_NAME"},
        default_model="openrouter/auto",
        free_tier="models with a ':free' suffix, rate-limited",
        doc="OpenRouter; attribution headers from OPENROUTER_APP_URL / OPENROUTER_APP_NAME.",
    ),
    VendorRow(
        "mistral",
        "Mistral",
        "https://api.mistral.ai/v1",
        ("MISTRAL_API_KEY",),
        quirks=Quirks(nine_char_tool_ids=True, seed_field="random_seed"),
        capabilities=_SINGLE,
        default_model="mistral-large-latest",
        free_tier="free 'Experiment' plan, rate-limited",
        serves_embeddings=True,
        doc="Mistral (tool-call ids rewritten to its 9-character rule; seed sent as random_seed).",
    ),
    VendorRow(
        "fireworks",
        "Fireworks",
        "https://api.fireworks.ai/inference/v1",
        ("FIREWORKS_API_KEY",),
        default_model="accounts/fireworks/models/llama-v3p3-70b-instruct",
        serves_embeddings=True,
        serves_completions=True,
        doc="Fireworks AI.",
    ),
    VendorRow(
        "cerebras",
        "Cerebras",
        "https://api.cerebras.ai/v1",
        ("CEREBRAS_API_KEY",),
        quirks=Quirks(
            unsupported_params=frozenset(
                {"frequency_penalty", "presence_penalty", "logit_bias", "parallel_tool_calls"}
            )
        ),
        capabilities=_SINGLE,
        default_model="llama-3.3-70b",
        # llama3.3-70b: its older spelling of the same model, still answered (recorded traffic).
        models=("llama-3.3-70b", "llama3.3-70b", "llama3.1-8b", "qwen-3-32b", "gpt-oss-120b"),
        free_tier="free plan with daily token limits",
        doc="Cerebras (rejects penalties, logit_bias and parallel_tool_calls).",
    ),
    VendorRow(
        "xai",
        "XAI",
        "https://api.x.ai/v1",
        ("XAI_API_KEY",),
        default_model="grok-3-mini",
        serves_images=True,
        doc="xAI (Grok).",
    ),
    VendorRow(
        "deepseek",
        "DeepSeek",
        "https://api.deepseek.com/v1",
        ("DEEPSEEK_API_KEY",),
        capabilities=Capabilities(tools=True, json_object=True),
        default_model="deepseek-chat",
        doc="DeepSeek (text only; reasoning arrives as reasoning_content).",
    ),
    VendorRow(
        "perplexity",
        "Perplexity",
        "https://api.perplexity.ai",
        ("PERPLEXITY_API_KEY",),
        capabilities=Capabilities(vision=True, json_schema=True),
        default_model="sonar",
        doc="Perplexity (Sonar models).",
    ),
    VendorRow(
        "huggingface",
        "HuggingFace",
        "https://router.huggingface.co/v1",
        ("HF_TOKEN", "HUGGINGFACE_API_KEY"),
        doc="Hugging Face inference router (model ids may carry a :provider suffix).",
    ),
    VendorRow(
        "gemini-openai",
        "GeminiOpenAI",
        "https://generativelanguage.googleapis.com/v1beta/openai",
        ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        capabilities=_SINGLE,
        default_model="gemini-2.5-flash",
        free_tier="free tier of the Gemini API, rate-limited",
        serves_embeddings=True,
        doc="Gemini through Google's OpenAI-compatible endpoint (the native one is 'gemini').",
    ),
    # Free tiers people use instead of keyless proxies (each host's documented endpoint).
    VendorRow(
        "github",
        "GitHubModels",
        "https://models.github.ai/inference",
        ("GITHUB_TOKEN",),
        default_model="openai/gpt-4.1-mini",
        capabilities=_SINGLE,
        serves_images=False,
        free_tier="free for GitHub accounts, rate-limited by model tier",
        doc="GitHub Models (a token with models:read; ids are publisher/model).",
    ),
    VendorRow(
        "cloudflare",
        "CloudflareWorkersAI",
        "https://api.cloudflare.com/client/v4/accounts/{CLOUDFLARE_ACCOUNT_ID}/ai/v1",
        ("CLOUDFLARE_API_TOKEN",),
        default_model="@cf/meta/llama-3.3-70b-instruct-fp8-fast",
        capabilities=_SINGLE,
        serves_images=False,
        free_tier="a daily free allocation of Workers AI neurons",
        doc="Cloudflare Workers AI (CLOUDFLARE_ACCOUNT_ID names the account in the URL).",
    ),
    VendorRow(
        "nvidia",
        "NvidiaNIM",
        "https://integrate.api.nvidia.com/v1",
        ("NVIDIA_API_KEY",),
        default_model="meta/llama-3.3-70b-instruct",
        capabilities=_SINGLE,
        serves_images=False,
        free_tier="free API access for NVIDIA Developer Program members, rate-limited",
        doc="NVIDIA NIM hosted API (build.nvidia.com).",
    ),
    VendorRow(
        "sambanova",
        "SambaNova",
        "https://api.sambanova.ai/v1",
        ("SAMBANOVA_API_KEY",),
        default_model="Meta-Llama-3.3-70B-Instruct",
        capabilities=_SINGLE,
        serves_images=False,
        free_tier="free tier, rate-limited",
        doc="SambaNova Cloud.",
    ),
    VendorRow(
        "nebius",
        "Nebius",
        "https://api.studio.nebius.com/v1",
        ("NEBIUS_API_KEY",),
        default_model="meta-llama/Llama-3.3-70B-Instruct",
        serves_images=True,
        free_tier="trial credits for new accounts",
        doc="Nebius AI Studio.",
    ),
    VendorRow(
        "novita",
        "Novita",
        "https://api.novita.ai/v3/openai",
        ("NOVITA_API_KEY",),
        default_model="meta-llama/llama-3.3-70b-instruct",
        serves_images=False,
        free_tier="trial credits for new accounts",
        doc="Novita AI (its OpenAI API lives under /v3/openai).",
    ),
    VendorRow(
        "hyperbolic",
        "Hyperbolic",
        "https://api.hyperbolic.xyz/v1",
        ("HYPERBOLIC_API_KEY",),
        default_model="meta-llama/Llama-3.3-70B-Instruct",
        serves_images=False,
        free_tier="trial credits for new accounts",
        doc="Hyperbolic.",
    ),
    VendorRow(
        "scaleway",
        "Scaleway",
        "https://api.scaleway.ai/v1",
        ("SCW_SECRET_KEY",),
        default_model="llama-3.3-70b-instruct",
        capabilities=_SINGLE,
        serves_images=False,
        free_tier="a free allowance of tokens per month",
        doc="Scaleway Generative APIs (SCW_SECRET_KEY is an IAM secret key).",
    ),
    # Local servers: no key needed, default local ports, a *_BASE_URL variable to move them.
    VendorRow(
        "ollama-openai",
        "OllamaOpenAI",
        "http://127.0.0.1:11434/v1",
        ("OLLAMA_API_KEY",),
        requires_api_key=False,
        base_url_env="OLLAMA_OPENAI_BASE_URL",
        serves_embeddings=True,
        serves_completions=True,
        doc="Ollama's OpenAI-compatible /v1 endpoint (the native API is 'ollama').",
    ),
    VendorRow(
        "vllm",
        "VLLM",
        "http://127.0.0.1:8000/v1",
        ("VLLM_API_KEY",),
        requires_api_key=False,
        base_url_env="VLLM_BASE_URL",
        serves_embeddings=True,
        serves_completions=True,
        serves_transcriptions=True,
        doc="A vLLM server.",
    ),
    VendorRow(
        "llamacpp",
        "LlamaCpp",
        "http://127.0.0.1:8080/v1",
        ("LLAMACPP_API_KEY",),
        requires_api_key=False,
        base_url_env="LLAMACPP_BASE_URL",
        capabilities=_SINGLE,
        serves_embeddings=True,
        serves_completions=True,
        doc="A llama.cpp llama-server.",
    ),
    VendorRow(
        "lmstudio",
        "LMStudio",
        "http://127.0.0.1:1234/v1",
        ("LMSTUDIO_API_KEY",),
        requires_api_key=False,
        base_url_env="LMSTUDIO_BASE_URL",
        serves_embeddings=True,
        serves_completions=True,
        doc="An LM Studio server.",
    ),
)

_PLACEHOLDER = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")


class _TemplatedHost(OpenAICompatible):
    """A host whose default base URL names environment variables (an account id)."""

    @property
    def resolved_base_url(self) -> str | None:
        url = super().resolved_base_url
        if not url or self.base_url:  # an explicit base_url is taken as given
            return url

        def value(match: re.Match[str]) -> str:
            found = os.environ.get(match.group(1))
            if not found:
                raise ConfigurationError(
                    f"{self.name} needs {match.group(1)} set (it is part of the API's URL), "
                    "or pass base_url="
                )
            return quote(found, safe="")

        return _PLACEHOLDER.sub(value, url)

    @property
    def is_configured(self) -> bool:
        return super().is_configured and all(
            os.environ.get(var) for var in _PLACEHOLDER.findall(self.default_base_url or "")
        )


_BY_CLASS = {row.class_name: row for row in VENDORS}
_CLASSES: dict[str, type[OpenAICompatible]] = {}


def vendor_class(row: VendorRow) -> type[OpenAICompatible]:
    """The provider class of one row (made once, then reused)."""
    cls = _CLASSES.get(row.class_name)
    if cls is None:
        attrs: dict[str, Any] = {
            "__doc__": row.doc,
            "__module__": __name__,
            "name": row.name,
            "default_base_url": row.base_url,
            "base_url_env": row.base_url_env,
            "api_key_env": row.api_key_env,
            "requires_api_key": row.requires_api_key,
            "quirks": row.quirks,
            "capabilities": row.capabilities,
            "header_env": row.header_env,
            "default_model": row.default_model,
            "models": row.models,
            "serves_images": row.serves_images,
            "free_tier": row.free_tier,
            "serves_embeddings": row.serves_embeddings,
            "embeddings_per_call": row.embeddings_per_call,
            "serves_completions": row.serves_completions,
            "serves_transcriptions": row.serves_transcriptions,
            "serves_speech": row.serves_speech,
            "transcription_fields": row.transcription_fields,
        }
        base: type[OpenAICompatible] = (
            _TemplatedHost if _PLACEHOLDER.search(row.base_url) else OpenAICompatible
        )
        cls = _CLASSES[row.class_name] = type(row.class_name, (base,), attrs)
    return cls


def __getattr__(name: str) -> type[OpenAICompatible]:
    row = _BY_CLASS.get(name)
    if row is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return vendor_class(row)
