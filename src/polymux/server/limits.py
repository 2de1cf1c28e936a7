"""Request size limits of the gateway, checked before any provider is called.

A body over ``max_body_bytes`` is refused with 413 while it is being read (the rest is never
buffered); counts over their limit are 400s that name the limit.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeGuard

from ..errors import ConfigurationError, InvalidRequestError
from .errormap import GatewayHTTPError

__all__ = ["Limits", "check_chat", "check_images", "passed_through", "too_large"]


def too_large(message: str) -> GatewayHTTPError:
    return GatewayHTTPError(413, message, "invalid_request_error", "request_too_large")


@dataclass(frozen=True, slots=True)
class Limits:
    max_body_bytes: int = 20 * 1024 * 1024
    max_messages: int = 2000
    #: Input images (``image_url`` parts) in one chat request, and the size of each inline one.
    max_images: int = 20
    max_image_bytes: int = 10 * 1024 * 1024
    #: Image generation: images per request and the longest side in pixels.
    max_generated_images: int = 10
    max_image_side: int = 4096
    #: Chat: choices per request (``n``) and output tokens asked for (``max_tokens`` and
    #: ``max_completion_tokens``): what one call may spend upstream.
    max_n: int = 8
    max_tokens: int = 131072
    #: Nesting of the request's JSON (deeper bodies are refused while being parsed).
    max_json_depth: int = 64
    #: Embeddings: inputs per request (OpenAI's own cap; the client batches larger ones).
    max_embedding_inputs: int = 2048
    #: Audio uploaded for transcription or translation (the APIs' own cap is 25 MB).
    max_audio_bytes: int = 25 * 1024 * 1024

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Limits:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigurationError(
                f"unknown [limits] setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        for name, value in data.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"[limits] {name} must be a positive integer")
        return cls(**data)


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _inline_image_bytes(url: str) -> int:
    # base64 length * 3/4, without decoding: the client's own checks decode it later.
    _, _, payload = url.partition(",")
    return len(payload) * 3 // 4


#: Fields that are integers: JSON's 7.0 is one too (JSON Schema says so; Python says float).
_INTEGERS = ("n", "max_tokens", "max_completion_tokens", "seed")
_INTEGER_NAMES = frozenset(_INTEGERS)


def whole_numbers(body: dict[str, Any]) -> None:
    """Integral floats of integer fields as ints (``"n": 7.0`` -> 7), in place."""
    if _INTEGER_NAMES.isdisjoint(body):  # most bodies name none of them: one check in C
        return
    for name in _INTEGERS:
        value = body.get(name)
        if type(value) is float and value.is_integer() and abs(value) < 2**63:
            body[name] = int(value)


def check_chat(body: dict[str, Any], limits: Limits) -> None:
    """Message and image counts and sizes of a chat completions body."""
    whole_numbers(body)
    n = body.get("n")
    if n is not None and _number(n) and n > limits.max_n:
        raise InvalidRequestError(f"n={n}: this gateway answers at most {limits.max_n} choices")
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and _number(value) and value > limits.max_tokens:
            raise InvalidRequestError(
                f"{name}={value}: this gateway allows at most {limits.max_tokens} output tokens"
            )
    messages = body.get("messages")
    if not isinstance(messages, list):
        return  # the client's validation says what is wrong with it
    if len(messages) > limits.max_messages:
        raise InvalidRequestError(
            f"too many messages: {len(messages)} (this gateway accepts {limits.max_messages})"
        )
    images = 0
    for message in messages:
        # A parsed body's messages are dicts: told apart in C before the ABC's check.
        if type(message) is not dict and not isinstance(message, Mapping):
            continue
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for part in content:
            if not isinstance(part, Mapping) or part.get("type") != "image_url":
                continue
            images += 1
            if images > limits.max_images:
                raise InvalidRequestError(
                    f"too many images: this gateway accepts {limits.max_images} per request"
                )
            ref = part.get("image_url")
            url = ref.get("url") if isinstance(ref, Mapping) else ref
            if isinstance(url, str) and url.startswith("data:"):
                size = _inline_image_bytes(url)
                if size > limits.max_image_bytes:
                    raise too_large(
                        f"an input image is {size} bytes; this gateway accepts "
                        f"{limits.max_image_bytes} bytes per image"
                    )


def check_images(body: dict[str, Any], limits: Limits) -> None:
    """Count and dimensions of an image generation body."""
    whole_numbers(body)
    n = body.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n > limits.max_generated_images:
        raise InvalidRequestError(
            f"n={n}: this gateway generates at most {limits.max_generated_images} images per "
            "request"
        )
    size = body.get("size")
    if isinstance(size, str):
        w, sep, h = size.lower().partition("x")
        if sep and w.isdigit() and h.isdigit():
            if max(int(w), int(h)) > limits.max_image_side:
                raise InvalidRequestError(
                    f"size={size}: this gateway accepts at most {limits.max_image_side} pixels "
                    "per side"
                )
            if min(int(w), int(h)) < 1:
                raise InvalidRequestError(f"size={size}: both sides must be at least 1 pixel")


def passed_through(
    body: Mapping[str, Any], handled: Collection[str], allowed: Collection[str]
) -> dict[str, Any]:
    """The body's fields the gateway does not name, for the upstream's ``extra_body``: only
    those the operator allows ([server] pass_through); any other one is a 400 that says so,
    rather than a silent drop (or a silent ``service_tier = "priority"`` bill)."""
    extra = {k: v for k, v in body.items() if k not in handled}
    for name in extra:
        if name not in allowed:
            raise InvalidRequestError(
                f"unknown or unsupported field {name[:60]!r}: this gateway passes only the "
                "fields it names and those its operator allows ([server] pass_through)"
            )
    return extra
