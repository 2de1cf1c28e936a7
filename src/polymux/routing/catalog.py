"""The built-in model registry, as data (the same shape users pass in ``models={...}``).

Each canonical name maps to its aliases and to the providers that serve it, in order of
preference, with each provider's own model id. The order is the routing order when a caller
names a model and no provider: the model maker's own API first, then other direct hosts,
then aggregators (OpenRouter), then local servers (Ollama).

Only providers known to serve *that very model* are listed: a host's look-alike (a distilled
variant, a differently sized model, a name that has pointed at different models over time,
such as Pollinations' ``openai``) is left out, because routing must never swap one model for
another. Provider names that are not registered in this installation are skipped at routing
time. Ids as published by each provider in 2025; extend or override them with
``AsyncClient(models=...)``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AUDIO_MODELS", "BUILTIN_MODELS", "EMBEDDING_MODELS", "MODERATION_MODELS"]


def _openai(model: str, *aliases: str) -> dict[str, Any]:
    return {
        "aliases": [*aliases, f"openai/{model}"],
        "providers": {"openai": model, "azure": model, "openrouter": f"openai/{model}"},
    }


def _openai_only(model: str) -> dict[str, Any]:
    """An OpenAI model that only OpenAI and Azure serve (no aggregator in between)."""
    return {"aliases": [f"openai/{model}"], "providers": {"openai": model, "azure": model}}


def _gemini(model: str, openrouter: str) -> dict[str, Any]:
    return {
        "aliases": [f"google/{model}", f"models/{model}"],
        # Native API first; the OpenAI-compatible endpoint (same key) when that is installed.
        "providers": {
            "gemini": model,
            "gemini-openai": model,
            "vertex": model,
            "openrouter": openrouter,
        },
    }


#: Embedding models, routed by name like chat models (merged into the registry by registry.py).
EMBEDDING_MODELS: dict[str, Any] = {
    "text-embedding-3-small": _openai_only("text-embedding-3-small"),
    "text-embedding-3-large": _openai_only("text-embedding-3-large"),
    "text-embedding-ada-002": _openai_only("text-embedding-ada-002"),
    "gemini-embedding-001": {
        "aliases": ["google/gemini-embedding-001", "models/gemini-embedding-001"],
        "providers": {"gemini": "gemini-embedding-001", "gemini-openai": "gemini-embedding-001"},
    },
    "text-embedding-004": {
        "aliases": ["models/text-embedding-004"],
        "providers": {"gemini": "text-embedding-004", "gemini-openai": "text-embedding-004"},
    },
    "mistral-embed": {"providers": {"mistral": "mistral-embed"}},
    "nomic-embed-text": {
        "providers": {"ollama": "nomic-embed-text", "ollama-openai": "nomic-embed-text"}
    },
    "mxbai-embed-large": {
        "providers": {"ollama": "mxbai-embed-large", "ollama-openai": "mxbai-embed-large"}
    },
}

#: Moderation models (OpenAI's).
MODERATION_MODELS: dict[str, Any] = {
    "omni-moderation-latest": {"providers": {"openai": "omni-moderation-latest"}},
    "text-moderation-latest": {"providers": {"openai": "text-moderation-latest"}},
}

#: Speech-to-text and text-to-speech models.
AUDIO_MODELS: dict[str, Any] = {
    "whisper-1": _openai_only("whisper-1"),
    "gpt-4o-transcribe": _openai_only("gpt-4o-transcribe"),
    "gpt-4o-mini-transcribe": _openai_only("gpt-4o-mini-transcribe"),
    "tts-1": _openai_only("tts-1"),
    "tts-1-hd": _openai_only("tts-1-hd"),
    "gpt-4o-mini-tts": _openai_only("gpt-4o-mini-tts"),
    "whisper-large-v3": {"providers": {"groq": "whisper-large-v3"}},
    "whisper-large-v3-turbo": {"providers": {"groq": "whisper-large-v3-turbo"}},
    "gemini-2.5-flash-preview-tts": {"providers": {"gemini": "gemini-2.5-flash-preview-tts"}},
    "gemini-2.5-pro-preview-tts": {"providers": {"gemini": "gemini-2.5-pro-preview-tts"}},
}

BUILTIN_MODELS: dict[str, Any] = {
    # -- OpenAI (Azure: the deployment is assumed to carry the model's name) -----------------------
    "gpt-4o": _openai("gpt-4o", "gpt4o"),
    "gpt-4o-mini": _openai("gpt-4o-mini", "gpt4o-mini"),
    "gpt-4.1": _openai("gpt-4.1", "gpt4.1"),
    "gpt-4.1-mini": _openai("gpt-4.1-mini", "gpt4.1-mini"),
    "gpt-4.1-nano": _openai("gpt-4.1-nano", "gpt4.1-nano"),
    # Older ids OpenAI still serves (the g4f docs' examples name them).
    "gpt-4": _openai("gpt-4"),
    "gpt-4-turbo": _openai("gpt-4-turbo"),
    "gpt-3.5-turbo": _openai("gpt-3.5-turbo"),
    "o3": _openai("o3"),
    "o3-mini": _openai("o3-mini"),
    "o4-mini": _openai("o4-mini"),
    # -- Anthropic ---------------------------------------------------------------------------------
    "claude-sonnet-4": {
        "aliases": [
            "claude-sonnet-4-0",
            "claude-sonnet-4-20250514",
            "claude-4-sonnet",
            "anthropic/claude-sonnet-4",
        ],
        "providers": {
            "anthropic": "claude-sonnet-4-20250514",
            "bedrock": "us.anthropic.claude-sonnet-4-20250514-v1:0",
            "vertex-anthropic": "claude-sonnet-4@20250514",
            "openrouter": "anthropic/claude-sonnet-4",
        },
    },
    "claude-opus-4": {
        "aliases": ["claude-opus-4-0", "claude-opus-4-20250514", "anthropic/claude-opus-4"],
        "providers": {
            "anthropic": "claude-opus-4-20250514",
            "bedrock": "us.anthropic.claude-opus-4-20250514-v1:0",
            "vertex-anthropic": "claude-opus-4@20250514",
            "openrouter": "anthropic/claude-opus-4",
        },
    },
    "claude-3-7-sonnet": {
        "aliases": [
            "claude-3.7-sonnet",
            "claude-3-7-sonnet-latest",
            "claude-3-7-sonnet-20250219",
            "anthropic/claude-3.7-sonnet",
        ],
        "providers": {
            "anthropic": "claude-3-7-sonnet-20250219",
            "bedrock": "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
            "vertex-anthropic": "claude-3-7-sonnet@20250219",
            "openrouter": "anthropic/claude-3.7-sonnet",
        },
    },
    "claude-3-5-haiku": {
        "aliases": [
            "claude-3.5-haiku",
            "claude-3-5-haiku-latest",
            "claude-3-5-haiku-20241022",
            "anthropic/claude-3.5-haiku",
        ],
        "providers": {
            "anthropic": "claude-3-5-haiku-20241022",
            "bedrock": "us.anthropic.claude-3-5-haiku-20241022-v1:0",
            "vertex-anthropic": "claude-3-5-haiku@20241022",
            "openrouter": "anthropic/claude-3.5-haiku",
        },
    },
    # -- Google ------------------------------------------------------------------------------------
    "gemini-2.5-flash": _gemini("gemini-2.5-flash", "google/gemini-2.5-flash"),
    "gemini-2.5-pro": _gemini("gemini-2.5-pro", "google/gemini-2.5-pro"),
    "gemini-2.0-flash": _gemini("gemini-2.0-flash", "google/gemini-2.0-flash-001"),
    # -- Meta Llama (open weights: many hosts) -----------------------------------------------------
    "llama-3.3-70b": {
        "aliases": ["llama3.3-70b", "llama-3.3-70b-instruct", "meta-llama/llama-3.3-70b-instruct"],
        "providers": {
            "groq": "llama-3.3-70b-versatile",
            "cerebras": "llama-3.3-70b",
            "bedrock": "us.meta.llama3-3-70b-instruct-v1:0",
            "together": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
            "deepinfra": "meta-llama/Llama-3.3-70B-Instruct",
            "fireworks": "accounts/fireworks/models/llama-v3p3-70b-instruct",
            "openrouter": "meta-llama/llama-3.3-70b-instruct",
            "ollama": "llama3.3:70b",
            "ollama-openai": "llama3.3:70b",
        },
    },
    "llama-3.1-8b": {
        "aliases": ["llama3.1-8b", "llama-3.1-8b-instruct", "meta-llama/llama-3.1-8b-instruct"],
        "providers": {
            "groq": "llama-3.1-8b-instant",
            "cerebras": "llama3.1-8b",
            "together": "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
            "deepinfra": "meta-llama/Meta-Llama-3.1-8B-Instruct",
            "openrouter": "meta-llama/llama-3.1-8b-instruct",
            "ollama": "llama3.1:8b",
            "ollama-openai": "llama3.1:8b",
        },
    },
    "llama-4-scout": {
        "aliases": ["llama-4-scout-17b-16e-instruct", "meta-llama/llama-4-scout"],
        "providers": {
            "groq": "meta-llama/llama-4-scout-17b-16e-instruct",
            "together": "meta-llama/Llama-4-Scout-17B-16E-Instruct",
            "deepinfra": "meta-llama/Llama-4-Scout-17B-16E-Instruct",
            "openrouter": "meta-llama/llama-4-scout",
        },
    },
    # -- DeepSeek (deepseek-chat / deepseek-reasoner are the vendor's moving names) ----------------
    "deepseek-chat": {
        "aliases": ["deepseek/deepseek-chat"],
        "providers": {"deepseek": "deepseek-chat"},
    },
    "deepseek-reasoner": {"aliases": [], "providers": {"deepseek": "deepseek-reasoner"}},
    "deepseek-r1": {
        "aliases": ["deepseek-ai/deepseek-r1", "deepseek/deepseek-r1"],
        "providers": {
            "together": "deepseek-ai/DeepSeek-R1",
            "deepinfra": "deepseek-ai/DeepSeek-R1",
            "openrouter": "deepseek/deepseek-r1",
        },
    },
    # -- Mistral -----------------------------------------------------------------------------------
    "mistral-large": {
        "aliases": ["mistral-large-latest", "mistralai/mistral-large"],
        "providers": {"mistral": "mistral-large-latest", "openrouter": "mistralai/mistral-large"},
    },
    "mistral-small": {
        "aliases": ["mistral-small-latest"],
        "providers": {"mistral": "mistral-small-latest"},
    },
    "codestral": {"aliases": ["codestral-latest"], "providers": {"mistral": "codestral-latest"}},
    # -- xAI ---------------------------------------------------------------------------------------
    "grok-3": {
        "aliases": ["x-ai/grok-3"],
        "providers": {"xai": "grok-3", "openrouter": "x-ai/grok-3"},
    },
    "grok-3-mini": {
        "aliases": ["x-ai/grok-3-mini"],
        "providers": {"xai": "grok-3-mini", "openrouter": "x-ai/grok-3-mini"},
    },
    # -- OpenRouter's free routes (":free": the same model at no cost, rate-limited; which
    # models have one changes over time, so only long-lived ones are listed) -------------------
    "llama-3.3-70b:free": {
        "aliases": ["meta-llama/llama-3.3-70b-instruct:free"],
        "providers": {"openrouter": "meta-llama/llama-3.3-70b-instruct:free"},
    },
    "deepseek-r1:free": {
        "aliases": ["deepseek/deepseek-r1:free"],
        "providers": {"openrouter": "deepseek/deepseek-r1:free"},
    },
    "gemini-2.0-flash-exp:free": {
        "aliases": ["google/gemini-2.0-flash-exp:free"],
        "providers": {"openrouter": "google/gemini-2.0-flash-exp:free"},
    },
    # -- Cohere ------------------------------------------------------------------------------------
    "command-a": {
        "aliases": ["command-a-03-2025", "cohere/command-a"],
        "providers": {"cohere": "command-a-03-2025", "openrouter": "cohere/command-a"},
    },
    "command-r-plus": {
        "aliases": ["command-r-plus-08-2024", "cohere/command-r-plus-08-2024"],
        "providers": {
            "cohere": "command-r-plus-08-2024",
            "openrouter": "cohere/command-r-plus-08-2024",
        },
    },
    # -- Qwen --------------------------------------------------------------------------------------
    "qwen3-32b": {
        "aliases": ["qwen/qwen3-32b"],
        "providers": {
            "groq": "qwen/qwen3-32b",
            "openrouter": "qwen/qwen3-32b",
            "ollama": "qwen3:32b",
            "ollama-openai": "qwen3:32b",
        },
    },
}
