"""The Gemini ``generateContent`` dialect (Generative Language API), requests. Pure functions.

``build_generate_body`` turns an OpenAI-shaped ``ChatRequest`` into the JSON body of
``:generateContent`` / ``:streamGenerateContent``; answers are translated in gemini_stream.py.
How model families differ is data (``GeminiModel`` rows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import InvalidRequestError, UnsupportedCapabilityError
from ..types.request import ChatRequest, ImageRef
from .base import Capabilities
from .openai_shape import (
    WEB_SEARCH,
    content_text,
    effort_budget,
    extra_fields,
    merge_turns,
    tool_call_arguments,
)

__all__ = [
    "GEMINI_MODELS",
    "GeminiModel",
    "build_generate_body",
    "gemini_schema",
    "model_for",
]


@dataclass(frozen=True, slots=True)
class GeminiModel:
    """How one Gemini model family behaves. Data, not code."""

    prefix: str
    capabilities: Capabilities
    #: The model takes ``systemInstruction`` (Gemma on the Gemini API does not: the system
    #: text is put in front of the first user turn instead).
    system_instruction: bool = True
    #: The model answers with images (``responseModalities`` IMAGE): it serves images.generate.
    image_output: bool = False
    #: The model takes full JSON Schema (``responseJsonSchema``, ``parametersJsonSchema``,
    #: with ``$ref``): used for schemas Gemini's OpenAPI-subset ``Schema`` cannot hold
    #: (recursive ones).
    json_schema_fields: bool = False
    #: Function calls in the history need a thought signature (Gemini 3); calls polymux did
    #: not make itself (another model's history, a restart) get Google's documented
    #: placeholder, ``SIGNATURE_PLACEHOLDER``.
    needs_signatures: bool = False


_FULL = Capabilities(
    vision=True, tools=True, json_schema=True, json_object=True, multiple_choices=True
)
_IMAGE = Capabilities(vision=True)
GEMINI_MODELS: tuple[GeminiModel, ...] = (
    GeminiModel("", _FULL),
    GeminiModel("gemini-", _FULL, json_schema_fields=True),
    GeminiModel("gemini-3", _FULL, json_schema_fields=True, needs_signatures=True),
    GeminiModel("gemma-", Capabilities(vision=True), system_instruction=False),
    GeminiModel("gemini-2.0-flash-preview-image-generation", _IMAGE, image_output=True),
    GeminiModel("gemini-2.0-flash-exp-image-generation", _IMAGE, image_output=True),
    GeminiModel("gemini-2.5-flash-image", _IMAGE, image_output=True),
    GeminiModel("gemini-3-pro-image", _IMAGE, image_output=True),
)

#: reasoning_effort -> thinkingBudget. low/medium/high as Gemini's own OpenAI-compatible layer
#: maps them; 0 turns thinking off (models that must think, such as 2.5 Pro, refuse it);
#: minimal is 128, the smallest budget every thinking model accepts; xhigh is capped at 24576,
#: the largest Flash accepts.
THINKING_BUDGET: Mapping[str, int] = {
    "none": 0,
    "minimal": 128,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
    "xhigh": 24576,
}

# Gemini's Schema is an OpenAPI subset: keys outside this list (additionalProperties, $schema,
# $defs, const, ...) make the request fail, so they are left out; $ref is inlined.
_SCHEMA_KEYS = frozenset(
    {
        "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
        "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
        "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum",
        "maximum",
    }
)  # fmt: skip
_FORMATS = frozenset({"enum", "date-time", "int32", "int64", "float", "double"})
#: The thought signature Google documents for function calls a Gemini 3 model did not make
#: in this conversation ("skip the validator").
SIGNATURE_PLACEHOLDER = "skip_thought_signature_validator"
_MAX_SCHEMA_DEPTH = 32


def model_for(model: str, rows: Sequence[GeminiModel] = GEMINI_MODELS) -> GeminiModel:
    """The row of the longest prefix ``model`` starts with."""
    name = model.removeprefix("models/")
    best = rows[0]
    for row in rows:
        if name.startswith(row.prefix) and len(row.prefix) > len(best.prefix):
            best = row
    return best


# -- schemas -----------------------------------------------------------------------------------
def gemini_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON schema as Gemini's ``Schema``: refs inlined, unsupported keys dropped, types in
    upper case, ``["x", "null"]`` types as ``nullable``."""
    defs = {**(schema.get("definitions") or {}), **(schema.get("$defs") or {})}
    return _convert(schema, defs, 0)


def _convert(node: Any, defs: Mapping[str, Any], depth: int) -> dict[str, Any]:
    if depth > _MAX_SCHEMA_DEPTH:
        raise UnsupportedCapabilityError("this JSON schema nests too deeply (or is recursive)")
    if not isinstance(node, Mapping):
        return {}
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = defs.get(ref.rsplit("/", 1)[-1])
        if target is None:
            raise InvalidRequestError(
                f"the JSON schema refers to {ref!r}, which it does not define"
            )
        return _convert(
            {**target, **{k: v for k, v in node.items() if k != "$ref"}}, defs, depth + 1
        )
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "const":
            out["enum"] = [value]
        elif key not in _SCHEMA_KEYS:
            continue
        elif key == "type":
            types = [value] if isinstance(value, str) else list(value)
            if "null" in types and len(types) > 1:
                out["nullable"] = True
                types.remove("null")
            out["type"] = str(types[0]).upper()
        elif key == "properties":
            out[key] = {name: _convert(sub, defs, depth + 1) for name, sub in value.items()}
        elif key == "items":
            out[key] = _convert(value, defs, depth + 1)
        elif key == "anyOf":
            options = [s for s in value if not (isinstance(s, Mapping) and s.get("type") == "null")]
            if len(options) < len(value):
                out["nullable"] = True
            if len(options) == 1:
                out.update(_convert(options[0], defs, depth + 1))
            else:
                out[key] = [_convert(s, defs, depth + 1) for s in options]
        elif key == "format":
            if value in _FORMATS:
                out[key] = value
        else:
            out[key] = value
    return out


# -- request -----------------------------------------------------------------------------------
def _parts(content: Any, images: Mapping[str, ImageRef]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts: list[dict[str, Any]] = []
    for part in content or ():
        kind = part.get("type")
        if kind in ("text", "refusal"):
            text = part.get("text") or part.get("refusal") or ""
            if text:
                parts.append({"text": text})
        elif kind == "image_url":
            url = part["image_url"]["url"]
            ref = ImageRef.parse(url)
            if ref.is_remote:
                ref = images.get(url, ref)
            if ref.is_remote:
                raise UnsupportedCapabilityError(
                    "Gemini takes images inline: this image URL must be downloaded first"
                )
            mime = ref.media_type or "application/octet-stream"
            parts.append({"inlineData": {"mimeType": mime, "data": ref.base64()}})
        else:
            raise UnsupportedCapabilityError(f"Gemini provider does not accept {kind} parts")
    return parts


def _function_call(call: Mapping[str, Any], signatures: Mapping[str, str]) -> dict[str, Any]:
    fn = call.get("function") or {}
    args = tool_call_arguments(call, "Gemini")
    part: dict[str, Any] = {"functionCall": {"name": fn.get("name"), "args": args}}
    signature = signatures.get(str(call.get("id")))
    if signature:  # Gemini 2.5/3 want the model's signature back on its function calls
        part["thoughtSignature"] = signature
    return part


def _sign_foreign_calls(contents: list[dict[str, Any]]) -> None:
    """Gemini 3 refuses a model turn whose function calls carry no thought signature (the
    first call of a turn holds it). A turn polymux has no signature for gets the placeholder."""
    for content in contents:
        if content["role"] != "model":
            continue
        calls = [p for p in content["parts"] if "functionCall" in p]
        if calls and not any("thoughtSignature" in p for p in calls):
            calls[0]["thoughtSignature"] = SIGNATURE_PLACEHOLDER


def _function_response(message: Mapping[str, Any], name: str) -> dict[str, Any]:
    text = content_text(message.get("content"))
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = None
    # ``response`` must be an object: a JSON object result goes as is, anything else wrapped.
    response = value if isinstance(value, dict) else {"result": text}
    return {"functionResponse": {"name": name, "response": response}}


def _contents(
    request: ChatRequest, images: Mapping[str, ImageRef], signatures: Mapping[str, str]
) -> tuple[list[str], list[dict[str, Any]]]:
    """(system texts, contents) with consecutive same-role turns merged."""
    names: dict[str, str] = {}  # tool_call_id -> function name, from earlier assistant turns

    def turn(index: int, message: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        role = message.get("role")
        if role == "assistant":
            parts = _parts(message.get("content"), images)
            for call in message.get("tool_calls") or ():
                names[str(call.get("id"))] = (call.get("function") or {}).get("name") or ""
                parts.append(_function_call(call, signatures))
            return "model", parts
        if role == "tool":
            call_id = str(message.get("tool_call_id"))
            name = names.get(call_id)
            if not name:
                raise InvalidRequestError(
                    f"messages[{index}] answers tool call {call_id!r}, but no earlier assistant "
                    "message made that call; Gemini needs the function's name"
                )
            return "user", [_function_response(message, name)]
        if role == "user":
            return "user", _parts(message.get("content"), images)
        raise UnsupportedCapabilityError(f"Gemini provider does not accept {role} messages")

    system, contents = merge_turns(request.messages, turn, "parts")
    if not contents and any(m.get("role") == "user" for m in request.messages):
        # Only empty user text (with a system instruction, say): the API answers it.
        contents.append({"role": "user", "parts": [{"text": ""}]})
    return system, contents


def _schema_field(
    schema: Mapping[str, Any], name: str, json_name: str, row: GeminiModel
) -> dict[str, Any]:
    """``{name: Gemini Schema}``; a schema that Schema cannot hold (a recursive one) goes
    whole as ``{json_name: JSON Schema}`` where the model takes full JSON Schema."""
    try:
        return {name: gemini_schema(schema)}
    except UnsupportedCapabilityError:
        if not row.json_schema_fields:
            raise
        return {json_name: dict(schema)}


def _tools(request: ChatRequest, row: GeminiModel) -> list[dict[str, Any]]:
    declarations = []
    for tool in request.tools or ():
        fn = tool["function"]
        out: dict[str, Any] = {"name": fn["name"]}
        if fn.get("description"):
            out["description"] = fn["description"]
        params = fn.get("parameters")
        # An OBJECT without properties is rejected: a function without arguments has none.
        if params and (params.get("properties") or "$ref" in params):
            out.update(_schema_field(params, "parameters", "parametersJsonSchema", row))
        declarations.append(out)
    return [{"functionDeclarations": declarations}] if declarations else []


def _tool_config(choice: Any) -> dict[str, Any] | None:
    if choice is None:
        return None
    if isinstance(choice, str):
        mode = {"auto": "AUTO", "none": "NONE", "required": "ANY"}[choice]
        return {"functionCallingConfig": {"mode": mode}}
    name = choice["function"]["name"]
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}


def _generation_config(request: ChatRequest, row: GeminiModel) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for field, key in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("n", "candidateCount"),
        ("seed", "seed"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ):
        value = getattr(request, field)
        if value is not None:
            config[key] = value
    if request.token_limit is not None:
        config["maxOutputTokens"] = request.token_limit
    if request.stop:
        config["stopSequences"] = list(request.stop)
    fmt = request.response_format
    if fmt is not None:
        config["responseMimeType"] = "application/json"
        if fmt["type"] == "json_schema":
            schema = fmt["json_schema"]["schema"]
            config.update(_schema_field(schema, "responseSchema", "responseJsonSchema", row))
    effort = request.reasoning_effort
    if effort is not None:
        budget = effort_budget(effort, THINKING_BUDGET)
        config["thinkingConfig"] = {"thinkingBudget": budget, "includeThoughts": budget > 0}
    return config


def build_generate_body(
    request: ChatRequest,
    *,
    images: Mapping[str, ImageRef] | None = None,
    signatures: Mapping[str, str] | None = None,
    rows: Sequence[GeminiModel] = GEMINI_MODELS,
) -> dict[str, Any]:
    """The JSON body of ``:generateContent`` for this request. ``images`` holds the downloaded
    bytes of remote image URLs; ``signatures`` the thought signatures of earlier tool calls."""
    row = model_for(request.model, rows)
    system, contents = _contents(request, images or {}, signatures or {})
    if not contents:
        raise InvalidRequestError("Gemini needs at least one user or assistant message")
    if row.needs_signatures:
        _sign_foreign_calls(contents)
    body: dict[str, Any] = {"contents": contents}
    if system and row.system_instruction:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    elif system:
        first = next((c for c in contents if c["role"] == "user"), contents[0])
        first["parts"].insert(0, {"text": "\n\n".join(system)})
    tools = _tools(request, row)
    if tools:
        config = _tool_config(request.tool_choice)
        if config is not None:
            body["toolConfig"] = config
    if request.extra_body.get(WEB_SEARCH) is not None:
        tools.append({"google_search": {}})  # grounding with Google Search
    if tools:
        body["tools"] = tools
    generation = _generation_config(request, row)
    if generation:
        body["generationConfig"] = generation
    body.update(extra_fields(request.extra_body))
    return body
