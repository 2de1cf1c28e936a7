"""Structured output: pydantic model classes as ``response_format``, and parsing answers.

``chat.completions.parse(response_format=SomeModel)`` sends ``SomeModel``'s JSON schema as a
``json_schema`` response_format (each provider maps it to its own mechanism), then validates
the answer into ``choices[i].message.parsed``. A refusal leaves ``parsed`` None; an answer that
does not validate (or was cut short) raises ``StructuredOutputError`` carrying the raw text.
pydantic is not a dependency of polymux: the caller's model class brings it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Awaitable
from typing import Any

from .errors import InvalidRequestError, StructuredOutputError
from .types.chat import ChatCompletion

__all__ = ["json_schema_format", "parse_completion", "parsed_format", "strict_schema"]

_NAME = re.compile(r"[^a-zA-Z0-9_-]")


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of a JSON schema that OpenAI's strict mode accepts: every object closed
    (``additionalProperties: false`` unless it says otherwise) with all its properties
    required, and no ``default``
    (strict mode rejects it). Optional fields stay nullable through their ``anyOf`` null."""
    out = copy.deepcopy(schema)
    _make_strict(out)
    return out


def _make_strict(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _make_strict(item)
        return
    if not isinstance(node, dict):
        return
    if "$ref" in node:  # strict mode takes no siblings next to $ref
        for key in [k for k in node if k != "$ref"]:
            del node[key]
        return
    node.pop("default", None)
    if node.get("type") == "object" or "properties" in node:
        # A schema that says what extra keys may hold (a dict[str, int]) keeps saying so.
        node.setdefault("additionalProperties", False)
        if "properties" in node:
            node["required"] = list(node["properties"])
    for key in ("properties", "$defs", "definitions"):
        for sub in (node.get(key) or {}).values():
            _make_strict(sub)
    for key in ("items", "anyOf", "allOf", "oneOf", "prefixItems"):
        if key in node:
            _make_strict(node[key])


def json_schema_format(model: Any, *, strict: bool = False) -> dict[str, Any]:
    """OpenAI's ``json_schema`` response_format for a pydantic model class."""
    schema = model.model_json_schema()
    name = _NAME.sub("_", getattr(model, "__name__", "response"))[:64] or "response"
    return {
        "type": "json_schema",
        "json_schema": {
            "name": name,
            "schema": strict_schema(schema) if strict else schema,
            "strict": strict,
        },
    }


def parsed_format(response_format: Any) -> dict[str, Any]:
    """The strict response_format for ``parse``; the argument must be a pydantic model class."""
    if not (
        isinstance(response_format, type)
        and callable(getattr(response_format, "model_json_schema", None))
        and callable(getattr(response_format, "model_validate_json", None))
    ):
        raise InvalidRequestError(
            "parse() needs response_format=<a pydantic model class>; for a JSON schema dict "
            "use create(response_format={...})"
        )
    return json_schema_format(response_format, strict=True)


def attach_parsed(completion: ChatCompletion, model: Any) -> ChatCompletion:
    """Validate every choice's content into ``message.parsed`` (refusals stay None)."""
    for choice in completion.choices:
        message = choice.message
        if message.refusal:
            continue
        raw = message.content
        if choice.finish_reason == "length":
            raise StructuredOutputError(
                "the answer was cut short (finish_reason='length') before the JSON was complete; "
                "raise max_tokens",
                raw=raw,
                provider=completion.provider,
                completion=completion,
                finish_reason=choice.finish_reason,
            )
        if raw is None:  # a tool call answered instead
            continue
        try:
            message.parsed = model.model_validate_json(raw)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            details = getattr(exc, "errors", None)
            errors = details() if callable(details) else str(exc)
            raise StructuredOutputError(
                f"the answer does not validate as {model.__name__}: {str(exc)[:500]}",
                raw=raw,
                provider=completion.provider,
                errors=errors,
                completion=completion,
                finish_reason=choice.finish_reason,
            ) from exc
    return completion


async def parse_completion(pending: Awaitable[ChatCompletion], model: Any) -> ChatCompletion:
    return attach_parsed(await pending, model)
