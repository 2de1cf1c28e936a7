"""The OpenAI dialect beyond chat: request bodies out, results in, for ``/embeddings`` and
the legacy ``/completions``. Pure functions, shared by every OpenAI-compatible host (openai.py)
and so by the gateway.

A legacy completion travels as a ``ChatRequest`` whose one user message is the prompt (so
the chat path's routing, fallback and fold serve it unchanged); its answer comes back as the
same events a chat answer gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import APIResponseValidationError
from ..types.embeddings import EmbeddingBatch, EmbeddingRequest, Vector
from ..types.events import ChatEvent, Finish, ResponseInfo, TextDelta
from ..types.moderations import Moderation, ModerationCreateResponse
from ..types.request import ChatRequest
from .openai_wire import map_finish_reason, usage_event

__all__ = [
    "completion_body",
    "embedding_batch",
    "embedding_body",
    "moderation_response",
    "text_completion_events",
]

#: ChatRequest fields a ``/completions`` body carries under the same names.
_COMPLETION_FIELDS = (
    "temperature",
    "top_p",
    "max_tokens",
    "n",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "user",
)


def embedding_body(request: EmbeddingRequest, *, base64: bool) -> dict[str, Any]:
    """The ``POST /embeddings`` body. ``base64``: ask for the compact form (hosts known to
    serve it), whatever the caller wants back; the client converts."""
    body: dict[str, Any] = {"model": request.model, "input": request.inputs}
    if base64:  # float is every host's default: not sent, for hosts that know no other
        body["encoding_format"] = "base64"
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    if request.user is not None:
        body["user"] = request.user
    body.update(request.extra_body)
    return body


def embedding_batch(payload: Any, expected: int, provider: str) -> EmbeddingBatch:
    """An embeddings answer -> one vector per input, in input order (the items carry their
    index; nothing promises they arrive sorted)."""
    data = payload.get("data") if isinstance(payload, Mapping) else None
    if not isinstance(data, list) or len(data) != expected:
        got = len(data) if isinstance(data, list) else "no"
        raise APIResponseValidationError(
            f"expected {expected} embeddings, got {got}", provider=provider
        )
    vectors: list[Vector | None] = [None] * expected
    for position, item in enumerate(data):
        index = item.get("index", position) if isinstance(item, Mapping) else None
        vector = item.get("embedding") if isinstance(item, Mapping) else None
        if (
            type(index) is not int
            or not 0 <= index < expected
            or vectors[index] is not None
            or not isinstance(vector, (list, str))
        ):
            raise APIResponseValidationError(
                f"embeddings item {position} has no valid index and embedding", provider=provider
            )
        vectors[index] = vector
    usage = payload.get("usage")
    tokens = usage.get("prompt_tokens") if isinstance(usage, Mapping) else None
    model = payload.get("model")
    return EmbeddingBatch(
        vectors=vectors,  # type: ignore[arg-type]  # every slot was filled above
        prompt_tokens=tokens if type(tokens) is int else None,
        model=model if isinstance(model, str) else None,
    )


def completion_body(request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    """The ``POST /completions`` body of a legacy completion (its prompt is the request's
    one message; legacy-only fields such as ``echo`` or ``suffix`` ride in extra_body)."""
    body: dict[str, Any] = {
        "model": request.model,
        "prompt": request.messages[0]["content"],
        "stream": stream,
    }
    for name in _COMPLETION_FIELDS:
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if request.stop:
        body["stop"] = request.stop
    if stream and request.stream_options:
        body["stream_options"] = request.stream_options
    body.update(request.extra_body)
    return body


def text_completion_events(payload: Any, provider: str) -> list[ChatEvent]:
    """A ``text_completion`` object (whole, or one streamed chunk: they share the shape) ->
    the chat events the fold reads."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("choices", []), list):
        raise APIResponseValidationError("expected a text_completion object", provider=provider)
    events: list[ChatEvent] = [
        ResponseInfo(payload.get("id"), payload.get("model"), payload.get("created"))
    ]
    for choice in payload.get("choices") or ():
        if not isinstance(choice, Mapping):
            raise APIResponseValidationError(
                "a completion choice is not an object", provider=provider
            )
        index = choice.get("index", 0)
        text = choice.get("text")
        if text:
            events.append(TextDelta(str(text), index))
        if choice.get("finish_reason"):
            events.append(Finish(map_finish_reason(choice["finish_reason"]), index))
    usage = payload.get("usage")
    if isinstance(usage, Mapping):
        events.append(usage_event(usage))
    return events


def moderation_response(payload: Any, expected: int, provider: str) -> ModerationCreateResponse:
    """A ``/moderations`` answer, checked: one result per input item."""
    results = payload.get("results") if isinstance(payload, Mapping) else None
    if not isinstance(results, list) or len(results) != expected:
        raise APIResponseValidationError(
            f"expected {expected} moderation results", provider=provider
        )
    out = []
    for item in results:
        if (
            not isinstance(item, Mapping)
            or not isinstance(item.get("flagged"), bool)
            or not isinstance(item.get("categories"), Mapping)
            or not isinstance(item.get("category_scores"), Mapping)
        ):
            raise APIResponseValidationError(
                "a moderation result without flagged, categories and scores", provider=provider
            )
        applied = item.get("category_applied_input_types")
        out.append(
            Moderation(
                flagged=item["flagged"],
                categories=dict(item["categories"]),
                category_scores=dict(item["category_scores"]),
                category_applied_input_types=dict(applied)
                if isinstance(applied, Mapping)
                else None,
            )
        )
    return ModerationCreateResponse(
        id=str(payload.get("id") or "modr-polymux"),
        model=str(payload.get("model") or ""),
        results=out,
    )
