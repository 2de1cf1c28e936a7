"""The objects a g4f-style provider yields beside text, under g4f's names
(``from g4f.providers.response import ...`` becomes ``from polymux.providers.response import``).

A g4f-style provider (``providers/legacy.py``) may yield these between its text pieces; the
adapter turns each into polymux's own event (``polymux.types.events``). They are matched by
class name there, so g4f's own classes work the same when a provider still imports them.
Native polymux providers yield the typed events directly instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "AudioResponse",
    "BaseConversation",
    "DebugResponse",
    "FinishReason",
    "HiddenResponse",
    "ImageResponse",
    "JsonConversation",
    "MediaResponse",
    "ProviderInfo",
    "Reasoning",
    "ResponseType",
    "Sources",
    "TitleGeneration",
    "ToolCalls",
    "Usage",
    "markdown_images",
]


class ResponseType:
    """Base of everything a g4f-style provider yields that is not plain text."""

    def __str__(self) -> str:
        return ""


class HiddenResponse(ResponseType):
    """Metadata: never part of the answer's text."""


class _Fields:
    """Keyword fields kept as attributes (g4f's JSON-ish response objects)."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def get_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def get(self, key: str, default: Any = None) -> Any:
        return self.__dict__.get(key, default)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_dict()!r})"


class FinishReason(HiddenResponse):
    """Why the answer ended: "stop", "length", "tool_calls" or "content_filter"."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class ToolCalls(HiddenResponse):
    """The answer's tool calls, as OpenAI's ``tool_calls`` list of dicts."""

    def __init__(self, list: Iterable[Mapping[str, Any]]) -> None:
        self.list = [dict(call) for call in list]

    def get_list(self) -> list[dict[str, Any]]:
        return self.list


class Usage(_Fields, HiddenResponse):
    """Token counts: ``prompt_tokens``, ``completion_tokens`` (``total_tokens`` is derived)."""

    def __init__(self, prompt_tokens: int = 0, completion_tokens: int = 0, **fields: Any) -> None:
        fields.setdefault("total_tokens", prompt_tokens + completion_tokens)
        super().__init__(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, **fields)


class Reasoning(ResponseType):
    """A piece of the model's reasoning (``token``); ``label``/``status`` are progress notes."""

    def __init__(
        self,
        token: str | None = None,
        label: str | None = None,
        status: str | None = None,
        is_thinking: str | None = None,
    ) -> None:
        self.token = token
        self.label = label
        self.status = status
        self.is_thinking = is_thinking

    def __str__(self) -> str:
        return self.token or ""


class BaseConversation(ResponseType):
    """State a provider wants back on the next call of the same conversation."""


class JsonConversation(_Fields, BaseConversation):
    """Conversation state as keyword fields (``conversation_id=...``)."""


class ProviderInfo(_Fields, HiddenResponse):
    """Which provider and model answered (``name``, ``model``)."""


class TitleGeneration(HiddenResponse):
    def __init__(self, title: str) -> None:
        self.title = title


class DebugResponse(HiddenResponse):
    def __init__(self, log: str) -> None:
        self.log = log


class Sources(ResponseType):
    """Web sources an answer used: a list of ``{"url": ..., "title": ...}``."""

    def __init__(self, sources: Iterable[Mapping[str, str]]) -> None:
        self.list = [dict(source) for source in sources]


class MediaResponse(ResponseType):
    """Generated media: one URL or a list (http(s) or ``data:`` URIs), with alt text."""

    def __init__(
        self, urls: str | list[str], alt: str = "", options: Mapping[str, Any] | None = None
    ) -> None:
        self.urls = urls
        self.alt = alt
        self.options = dict(options or {})

    def get_list(self) -> list[str]:
        return [self.urls] if isinstance(self.urls, str) else list(self.urls)

    def get(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)


class ImageResponse(MediaResponse):
    """Generated images. Inside a chat answer they read as Markdown images, as in g4f."""

    def __str__(self) -> str:
        return markdown_images(self.get_list(), self.alt)


def markdown_images(urls: Iterable[str], alt: str = "") -> str:
    """Images as Markdown, one a line: how they read inside a chat answer."""
    alt = alt.replace("[", "(").replace("]", ")").replace("\n", " ")
    return "\n".join(f"![{alt}]({url})" for url in urls)


class AudioResponse(ResponseType):
    """Generated speech: ``data`` a ``data:`` URI (or URL), ``transcript`` its text."""

    def __init__(self, data: str, transcript: str | None = None, **options: Any) -> None:
        self.data = data
        self.transcript = transcript
        self.options = options

    def to_uri(self) -> str:
        return self.data
