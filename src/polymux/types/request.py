"""The typed, provider-neutral requests that providers receive."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..errors import InvalidRequestError

if TYPE_CHECKING:
    from ..transport.base import Transport

__all__ = [
    "BODY_FIELDS",
    "WEB_SEARCH",
    "CallOptions",
    "ChatRequest",
    "ImageRef",
    "ImageRequest",
    "Message",
    "ModelsRequest",
    "Timeout",
    "content_text",
]

# One message in the OpenAI shape: {"role": ..., "content": str | [parts] | None, ...}.
Message = dict[str, Any]

#: OpenAI request-body fields a ``ChatRequest`` carries under the same names (besides model,
#: messages, stream and stream_options): the OpenAI dialect copies them, the gateway reads them.
BODY_FIELDS = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "n",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "response_format",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "user",
    "reasoning_effort",
)


def content_text(content: Any) -> str:
    """The text of a message's content: the string, or its text parts joined."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "".join(
        str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"
    )


#: Chat Completions' ``web_search_options``, carried in ``extra_body``: the neutral way to ask
#: for a provider's native web search. Providers with one turn it into their own tool
#: (Anthropic's web_search server tool, Gemini's google_search); OpenAI-compatible hosts that
#: search (Perplexity) take it as it is.
WEB_SEARCH = "web_search_options"


def web_search_options(location: Any = None, context_size: Any = None) -> dict[str, Any]:
    """``web_search_options`` from a dialect's approximate user location (city, country,
    region, timezone; Anthropic's and the Responses API's shape) and search context size."""
    options: dict[str, Any] = {}
    if context_size:
        options["search_context_size"] = context_size
    if isinstance(location, dict):
        keys = ("city", "country", "region", "timezone")
        approximate = {k: location[k] for k in keys if location.get(k)}
        options["user_location"] = {"type": "approximate", "approximate": approximate}
    return options


@dataclass(frozen=True, slots=True)
class Timeout:
    """Time limits in seconds; ``None`` means no limit.

    connect: to open a connection; first_byte: from sending the request to the first byte of
    the answer; idle: the longest pause between two pieces of a streamed answer; total: the
    whole call, retries included.
    """

    total: float | None = 600.0
    connect: float | None = 10.0
    first_byte: float | None = None
    idle: float | None = None

    @classmethod
    def coerce(cls, value: Timeout | float | None) -> Timeout:
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls(total=None, connect=None)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise InvalidRequestError(
                f"timeout must be a positive number of seconds or a polymux.Timeout, got {value!r}"
            )
        seconds = float(value)
        return cls(total=seconds, connect=min(10.0, seconds))


@dataclass(frozen=True, slots=True, kw_only=True)
class CallOptions:
    """How to make a call, as opposed to what to ask: limits, retries, proxy, headers."""

    timeout: Timeout = field(default_factory=Timeout)
    max_retries: int = 2
    proxy: str | None = None
    extra_headers: dict[str, str] | None = None
    #: Let image URLs in messages that a provider needs as bytes be downloaded from private,
    #: loopback or link-local addresses (off by default: a URL from untrusted input must not
    #: reach the internal network; see providers/fetch_image.py).
    allow_private_image_urls: bool = False
    #: The client's pooled HTTP transport, which HTTP providers send through (set by the
    #: client; infrastructure of the call, not part of what is asked).
    transport: Transport | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class ImageRef:
    """One input image in its normalized form: an http(s) URL or inline bytes.

    In ``ChatRequest.messages`` every image is an OpenAI ``image_url`` part whose URL is either
    ``http(s)://...`` or a ``data:<type>;base64,...`` URI; ``ImageRef.parse`` reads one back.
    """

    url: str | None = None
    data: bytes | None = None
    media_type: str | None = None

    @property
    def is_remote(self) -> bool:
        return self.data is None

    @classmethod
    def parse(cls, url: str) -> ImageRef:
        if url.startswith("data:"):
            header, sep, payload = url.partition(",")
            if not sep or ";base64" not in header:
                raise InvalidRequestError(
                    "an image data URI must be base64: data:<type>;base64,..."
                )
            media_type = header[5:].split(";", 1)[0] or "application/octet-stream"
            try:
                data = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise InvalidRequestError(f"an image data URI holds invalid base64: {exc}") from exc
            return cls(data=data, media_type=media_type)
        return cls(url=url)

    def to_url(self) -> str:
        if self.data is None:
            assert self.url is not None
            return self.url
        mime = self.media_type or "application/octet-stream"
        return f"data:{mime};base64,{base64.b64encode(self.data).decode('ascii')}"

    def base64(self) -> str:
        if self.data is None:
            raise InvalidRequestError("this image is a URL; download it before asking for base64")
        return base64.b64encode(self.data).decode("ascii")


@dataclass(slots=True, kw_only=True)
class ChatRequest:
    """A validated chat request. ``messages`` are OpenAI-shaped with images normalized."""

    model: str
    messages: list[Message]
    stream: bool = False
    options: CallOptions = field(default_factory=CallOptions)
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stop: list[str] | None = None
    n: int | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    stream_options: dict[str, Any] | None = None
    user: str | None = None
    reasoning_effort: str | None = None
    extra_body: dict[str, Any] = field(default_factory=dict)

    @property
    def token_limit(self) -> int | None:
        """The output token cap, whichever of the two OpenAI names the caller used."""
        return (
            self.max_completion_tokens
            if self.max_completion_tokens is not None
            else self.max_tokens
        )

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.get("include_usage"))

    def images(self) -> Iterator[ImageRef]:
        """Every input image of every message, in order."""
        for message in self.messages:
            content = message.get("content")
            if isinstance(content, list):
                for part in content:
                    if isinstance(part, dict) and part.get("type") == "image_url":
                        yield ImageRef.parse(part["image_url"]["url"])

    @property
    def has_images(self) -> bool:
        # Looks at part types only: decoding every data URI (up to 20 MB each) just to learn
        # whether there is one would cost that much per candidate provider. A plain loop, not
        # any() over a generator: this runs for every call, and most have no list content.
        for message in self.messages:
            content = message.get("content")
            if type(content) is list:
                for part in content:
                    if isinstance(part, dict) and part.get("type") == "image_url":
                        return True
        return False


@dataclass(slots=True, kw_only=True)
class ModelsRequest:
    """A request for a provider's model list."""

    options: CallOptions = field(default_factory=CallOptions)


@dataclass(slots=True, kw_only=True)
class ImageRequest:
    """A validated image generation request."""

    model: str
    prompt: str
    n: int = 1
    size: str | None = None
    quality: str | None = None
    style: str | None = None
    response_format: Literal["url", "b64_json"] = "url"
    user: str | None = None
    extra_body: dict[str, Any] = field(default_factory=dict)
    options: CallOptions = field(default_factory=CallOptions)
    #: Images to edit (``images.edit`` / ``create_variation``); empty for a new image.
    images: tuple[ImageRef, ...] = ()

    @property
    def dimensions(self) -> tuple[int, int] | None:
        """``size`` as (width, height), or None."""
        if not self.size:
            return None
        w, _, h = self.size.lower().partition("x")
        return int(w), int(h)
