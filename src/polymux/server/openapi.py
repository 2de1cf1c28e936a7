"""The gateway's OpenAPI 3.1 document (``GET /openapi.json``), written as data.

It describes the subset of OpenAI's API the gateway serves, and the error answers each
operation can give; the schemathesis test fuzzes the live gateway against it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import orjson

from .._version import __version__
from ..client.responses import FIELDS, IGNORED
from ..dialects.anthropic import MESSAGES_FIELDS
from .asgi import send_bytes
from .config import DEFAULT_PASS_THROUGH
from .limits import Limits

if TYPE_CHECKING:
    from .app import Call, Gateway

__all__ = ["document", "handle"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


#: GET /ready's answer: each check's name -> "ok" or why it fails.
_READINESS: dict[str, Any] = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": {"enum": ["ready", "not_ready"]},
        "checks": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {
        400: "Invalid request",
        401: "Missing, wrong or revoked API key",
        403: "Refused: without keys, only local callers (loopback client and Host, no foreign "
        "Origin, no proxy headers)",
        404: "Unknown model or route",
        405: "Method not allowed",
        409: "Upstream conflict",
        408: "The request body did not arrive in time",
        413: "Request body or an input image too large",
        415: "Without keys, request bodies must be application/json",
        422: "Upstream could not process the request",
        429: "Upstream rate limit",
        500: "Gateway misconfiguration",
        502: "Upstream failed",
        503: "The gateway is at its limit of concurrent requests, or stopping",
        504: "Upstream timed out",
    }
    return {str(s): _json(_ref("Error"), text[s]) for s in statuses}


_UPSTREAM = (400, 401, 403, 404, 408, 409, 413, 415, 422, 429, 500, 502, 503, 504)

_MESSAGE: dict[str, Any] = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {
            "type": "string",
            "enum": ["system", "developer", "user", "assistant", "tool"],
        },
        "content": {
            "oneOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "object"}},
                {"type": "null"},
            ]
        },
        "name": {"type": "string"},
        "tool_calls": {"type": "array", "items": {"type": "object"}},
        "tool_call_id": {"type": "string"},
    },
    "allOf": [
        {  # a tool result says what the tool returned, and to which call
            "if": {"properties": {"role": {"const": "tool"}}},
            "then": {
                "required": ["content", "tool_call_id"],
                "properties": {
                    "content": {"not": {"type": "null"}},
                    "tool_call_id": {"type": "string", "minLength": 1},
                },
            },
        },
        {  # what the caller says has content
            "if": {"properties": {"role": {"enum": ["system", "developer", "user"]}}},
            "then": {"required": ["content"], "properties": {"content": {"not": {"type": "null"}}}},
        },
    ],
}

_CHAT_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["messages"],
    "properties": {
        "model": {"type": "string", "description": "A model id, alias or provider/model"},
        "messages": {"type": "array", "items": _ref("Message"), "minItems": 1},
        "stream": {"type": "boolean"},
        "stream_options": {
            "type": "object",
            "properties": {"include_usage": {"type": "boolean"}},
        },
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "max_tokens": {"type": "integer", "minimum": 0},
        "max_completion_tokens": {"type": "integer", "minimum": 0},
        "n": {"type": "integer", "minimum": 1},
        "seed": {"type": "integer"},
        "stop": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "presence_penalty": {"type": "number", "minimum": -2, "maximum": 2},
        "frequency_penalty": {"type": "number", "minimum": -2, "maximum": 2},
        "response_format": {"type": "object"},
        "tools": {"type": "array", "items": {"type": "object"}},
        "tool_choice": {"oneOf": [{"type": "string"}, {"type": "object"}]},
        "parallel_tool_calls": {"type": "boolean"},
        "user": {"type": "string"},
        "reasoning_effort": {"type": "string"},
    },
}

_IMAGE_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["prompt"],
    "properties": {
        "prompt": {"type": "string", "minLength": 1},
        "model": {"type": "string"},
        "n": {"type": "integer", "minimum": 1, "maximum": 10},
        "size": {
            "type": "string",
            "pattern": "^[1-9][0-9]*x[1-9][0-9]*$",
            "examples": ["1024x1024"],
        },
        "quality": {"type": "string"},
        "style": {"type": "string"},
        "response_format": {"type": "string", "enum": ["url", "b64_json"]},
        "user": {"type": "string"},
    },
}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "param", "code"],
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": {"type": ["string", "null"]},
                    "code": {"type": ["string", "null"]},
                },
            }
        },
    },
    "Message": _MESSAGE,
    "ChatCompletionRequest": _CHAT_REQUEST,
    "ChatCompletion": {
        "type": "object",
        "required": ["id", "object", "created", "model", "choices"],
        "properties": {
            "id": {"type": "string"},
            "object": {"type": "string", "enum": ["chat.completion"]},
            "created": {"type": "integer"},
            "model": {"type": "string"},
            "choices": {"type": "array", "items": {"type": "object"}},
            "usage": {"type": ["object", "null"]},
            "provider": {"type": "string"},
        },
    },
    "ImageRequest": _IMAGE_REQUEST,
    "ImagesResponse": {
        "type": "object",
        "required": ["created", "data"],
        "properties": {
            "created": {"type": "integer"},
            "data": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Model": {
        "type": "object",
        "required": ["id", "object", "created", "owned_by"],
        "properties": {
            "id": {"type": "string"},
            "object": {"type": "string", "enum": ["model"]},
            "created": {"type": "integer"},
            "owned_by": {"type": "string"},
        },
    },
    "ModelList": {
        "type": "object",
        "required": ["object", "data"],
        "properties": {
            "object": {"type": "string", "enum": ["list"]},
            "data": {"type": "array", "items": _ref("Model")},
        },
    },
}


def _post(operation: str, request: str, response: dict[str, Any], text: str) -> dict[str, Any]:
    """A POST operation with a JSON body and the upstream error answers."""
    return {
        "post": {
            "operationId": operation,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref(request)}},
            },
            "responses": {"200": _json(response, text), **_errors(*_UPSTREAM)},
        }
    }


_TOKENS: dict[str, Any] = {"type": "array", "items": {"type": "integer", "minimum": 0}}

# The endpoints beyond chat and images (issue 17), as OpenAI's spec shapes them.
_MORE_SCHEMAS: dict[str, Any] = {
    "EmbeddingRequest": {
        "type": "object",
        "required": ["input", "model"],
        "properties": {
            "input": {
                "oneOf": [
                    {"type": "string", "minLength": 1},
                    {
                        "type": "array",
                        "items": {"type": "string", "minLength": 1},
                        "minItems": 1,
                        "maxItems": 2048,
                    },
                    {**_TOKENS, "minItems": 1, "maxItems": 2048},
                    {
                        "type": "array",
                        "items": {**_TOKENS, "minItems": 1},
                        "minItems": 1,
                        "maxItems": 2048,
                    },
                ]
            },
            "model": {"type": "string"},
            "encoding_format": {"type": "string", "enum": ["float", "base64"]},
            "dimensions": {"type": "integer", "minimum": 1},
            "user": {"type": "string"},
        },
    },
    "CreateEmbeddingResponse": {
        "type": "object",
        "required": ["object", "data", "model", "usage"],
        "properties": {
            "object": {"type": "string", "enum": ["list"]},
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["object", "index", "embedding"],
                    "properties": {
                        "object": {"type": "string", "enum": ["embedding"]},
                        "index": {"type": "integer"},
                        "embedding": {
                            "oneOf": [
                                {"type": "array", "items": {"type": "number"}},
                                {"type": "string"},
                            ]
                        },
                    },
                },
            },
            "model": {"type": "string"},
            "usage": {
                "type": "object",
                "required": ["prompt_tokens", "total_tokens"],
                "properties": {
                    "prompt_tokens": {"type": "integer"},
                    "total_tokens": {"type": "integer"},
                },
            },
        },
    },
    "CompletionRequest": {
        "type": "object",
        "required": ["model", "prompt"],
        "properties": {
            "model": {"type": "string"},
            "prompt": {
                "oneOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    # Token ids: served by hosts with a native /v1/completions only.
                    {**_TOKENS, "minItems": 1},
                    {"type": "array", "items": {**_TOKENS, "minItems": 1}, "minItems": 1},
                ]
            },
            "stream": {"type": "boolean"},
            "stream_options": {
                "type": "object",
                "properties": {"include_usage": {"type": "boolean"}},
            },
            "max_tokens": {"type": "integer", "minimum": 0},
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
            "top_p": {"type": "number", "minimum": 0, "maximum": 1},
            "n": {"type": "integer", "minimum": 1, "maximum": 128},
            "stop": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
            "seed": {"type": "integer"},
            "presence_penalty": {"type": "number", "minimum": -2, "maximum": 2},
            "frequency_penalty": {"type": "number", "minimum": -2, "maximum": 2},
            "echo": {"type": "boolean"},
            "suffix": {"type": "string"},
            "logprobs": {"type": "integer", "minimum": 0, "maximum": 5},
            "best_of": {"type": "integer", "minimum": 0, "maximum": 20},
            "user": {"type": "string"},
        },
    },
    "Completion": {
        "type": "object",
        "required": ["id", "object", "created", "model", "choices"],
        "properties": {
            "id": {"type": "string"},
            "object": {"type": "string", "enum": ["text_completion"]},
            "created": {"type": "integer"},
            "model": {"type": "string"},
            "choices": {"type": "array", "items": {"type": "object"}},
            "usage": {"type": ["object", "null"]},
        },
    },
    "ModerationRequest": {
        "type": "object",
        "required": ["input"],
        "properties": {
            "input": {
                "oneOf": [
                    {"type": "string", "minLength": 1},
                    {
                        "type": "array",
                        "items": {"type": "string", "minLength": 1},
                        "minItems": 1,
                    },
                    {"type": "array", "items": {"type": "object"}, "minItems": 1},
                ]
            },
            "model": {"type": "string"},
        },
    },
    "ModerationResponse": {
        "type": "object",
        "required": ["id", "model", "results"],
        "properties": {
            "id": {"type": "string"},
            "model": {"type": "string"},
            "results": {"type": "array", "items": {"type": "object"}},
        },
    },
}
_SCHEMAS.update(_MORE_SCHEMAS)

_MORE_PATHS: dict[str, Any] = {
    "/v1/embeddings": _post(
        "createEmbedding", "EmbeddingRequest", _ref("CreateEmbeddingResponse"), "Embeddings"
    ),
    "/v1/completions": _post(
        "createCompletion",
        "CompletionRequest",
        _ref("Completion"),
        "A text completion (legacy API); with stream=true, server-sent text_completion chunks "
        "ending with data: [DONE]",
    ),
}
_BINARY: dict[str, Any] = {"type": "string", "format": "binary"}
_IMAGE_FORM_FIELDS: dict[str, Any] = {
    "image": _BINARY,
    "model": {"type": "string"},
    "n": {"type": "integer", "minimum": 1, "maximum": 10},
    "size": {"type": "string", "examples": ["1024x1024"]},
    "response_format": {"type": "string", "enum": ["url", "b64_json"]},
    "user": {"type": "string"},
}


def _upload(operation: str, schema: dict[str, Any], text: str) -> dict[str, Any]:
    """A POST operation with a multipart/form-data body (files uploaded)."""
    return {
        "post": {
            "operationId": operation,
            "requestBody": {
                "required": True,
                "content": {"multipart/form-data": {"schema": schema}},
            },
            "responses": {
                "200": _json(_ref("ImagesResponse"), text),
                "415": _json(_ref("Error"), "Not a multipart/form-data body"),
                **_errors(*_UPSTREAM),
            },
        }
    }


_MORE_PATHS["/v1/images/edits"] = _upload(
    "createImageEdit",
    {
        "type": "object",
        "required": ["image", "prompt"],
        "properties": {
            **_IMAGE_FORM_FIELDS,
            "prompt": {"type": "string", "minLength": 1},
            "mask": _BINARY,
            "quality": {"type": "string"},
            "background": {"type": "string", "enum": ["transparent", "opaque", "auto"]},
            "input_fidelity": {"type": "string", "enum": ["high", "low"]},
            "output_format": {"type": "string", "enum": ["png", "jpeg", "webp"]},
            "output_compression": {"type": "integer", "minimum": 0, "maximum": 100},
            "partial_images": {"type": "integer", "minimum": 0, "maximum": 3},
            "stream": {
                "description": "true: server-sent image_edit.partial_image events (as many as "
                "partial_images), then image_edit.completed",
                "type": "boolean",
            },
        },
    },
    "Edited images",
)
_MORE_PATHS["/v1/images/edits"]["post"]["responses"]["200"]["content"]["text/event-stream"] = {
    "schema": {"type": "string"}
}
_MORE_PATHS["/v1/images/variations"] = _upload(
    "createImageVariation",
    {"type": "object", "required": ["image"], "properties": _IMAGE_FORM_FIELDS},
    "Image variations",
)
_AUDIO_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["file", "model"],
    "properties": {
        "file": _BINARY,
        "model": {"type": "string"},
        "prompt": {"type": "string"},
        "response_format": {
            "type": "string",
            "enum": ["json", "text", "srt", "verbose_json", "vtt"],
        },
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
    },
}
_TRANSCRIPTION_ANSWER: dict[str, Any] = {
    "description": "The text: a JSON object, or plain text for text, srt and vtt",
    "content": {
        "application/json": {"schema": _ref("Transcription")},
        "text/plain": {"schema": {"type": "string"}},
        "text/vtt": {"schema": {"type": "string"}},
    },
}
_SCHEMAS["Transcription"] = {
    "type": "object",
    "required": ["text"],
    "properties": {"text": {"type": "string"}},
}
_SCHEMAS["SpeechRequest"] = {
    "type": "object",
    "required": ["model", "input", "voice"],
    "properties": {
        "model": {"type": "string"},
        "input": {"type": "string", "minLength": 1, "maxLength": 4096},
        "voice": {"type": "string"},
        "instructions": {"type": "string"},
        "response_format": {"type": "string", "enum": ["mp3", "opus", "aac", "flac", "wav", "pcm"]},
        "speed": {"type": "number", "minimum": 0.25, "maximum": 4},
    },
}


def _audio_upload(operation: str, schema: dict[str, Any]) -> dict[str, Any]:
    operation_doc = _upload(operation, schema, "")
    operation_doc["post"]["responses"]["200"] = _TRANSCRIPTION_ANSWER
    return operation_doc


_STRINGS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
_MORE_PATHS["/v1/audio/transcriptions"] = _audio_upload(
    "createTranscription",
    {
        **_AUDIO_FORM,
        "properties": {
            **_AUDIO_FORM["properties"],
            "language": {"type": "string"},
            "timestamp_granularities[]": {
                "type": "array",
                "items": {"type": "string", "enum": ["word", "segment"]},
            },
            "include[]": _STRINGS,
            "chunking_strategy": {
                "description": '"auto", or a server_vad object as chunking_strategy[type], '
                "chunking_strategy[threshold] ... fields",
                "type": "string",
            },
            "keywords[]": _STRINGS,
            "known_speaker_names[]": _STRINGS,
            "known_speaker_references[]": _STRINGS,
            "languages[]": _STRINGS,
            "stream": {
                "description": "true: the text as server-sent transcript.text.delta events, "
                "then transcript.text.done (models that stream, such as gpt-4o-transcribe)",
                "type": "boolean",
            },
        },
    },
)
_MORE_PATHS["/v1/audio/transcriptions"]["post"]["responses"]["200"] = {
    **_TRANSCRIPTION_ANSWER,
    "content": {
        **_TRANSCRIPTION_ANSWER["content"],
        "text/event-stream": {"schema": {"type": "string"}},
    },
}
_MORE_PATHS["/v1/audio/translations"] = _audio_upload("createTranslation", _AUDIO_FORM)
_MORE_PATHS["/v1/audio/speech"] = _post(
    "createSpeech", "SpeechRequest", {"type": "string", "format": "binary"}, "Audio"
)
_MORE_PATHS["/v1/audio/speech"]["post"]["responses"]["200"] = {
    "description": "The spoken audio, in the asked format",
    "content": {"audio/*": {"schema": {"type": "string", "format": "binary"}}},
}
_MORE_PATHS["/v1/moderations"] = _post(
    "createModeration", "ModerationRequest", _ref("ModerationResponse"), "Moderation results"
)
_MORE_PATHS["/v1/completions"]["post"]["responses"]["200"]["content"]["text/event-stream"] = {
    "schema": {"type": "string"}
}


# The other dialects' front doors: Anthropic's Messages API and OpenAI's Responses API. Their
# bodies are described loosely (the dialect modules check them); the gateway's rule on
# unknown fields (pass_through) applies, and /v1/messages answers errors in Anthropic's shape.
_ANY: dict[str, Any] = {}
_SCHEMAS["MessagesRequest"] = {
    "type": "object",
    "required": ["model", "messages"],
    "properties": {
        # Every field, as dialects/anthropic.py names them (service_tier: only by pass_through).
        **{name: _ANY for name in sorted(MESSAGES_FIELDS - {"service_tier"})},
        "model": {"type": "string", "minLength": 1},
        "messages": {"type": "array", "items": {"type": "object"}},
        "max_tokens": {"type": "integer", "minimum": 1},
        "system": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
        "stop_sequences": {"type": "array", "items": {"type": "string"}},
        "stream": {"type": "boolean"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "top_k": {"type": "integer", "minimum": 0},
    },
}
_SCHEMAS["Message"] = {
    "type": "object",
    "required": ["id", "type", "role", "content"],
    "properties": {
        "id": {"type": "string"},
        "type": {"type": "string", "enum": ["message"]},
        "role": {"type": "string", "enum": ["assistant"]},
        "content": {"type": "array", "items": {"type": "object"}},
        "usage": {"type": "object"},
    },
}
_SCHEMAS["AnthropicError"] = {
    "type": "object",
    "required": ["type", "error"],
    "properties": {
        "type": {"type": "string", "enum": ["error"]},
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}
_SCHEMAS["ResponsesRequest"] = {
    "type": "object",
    "required": ["model", "input"],
    "properties": {
        # Every field, as client/responses.py names them (service_tier: only by pass_through).
        **{name: _ANY for name in sorted((FIELDS | IGNORED) - {"service_tier"})},
        "model": {"type": "string", "minLength": 1},
        "input": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
        "stream": {"type": "boolean"},
        "instructions": {"type": "string"},
        "max_output_tokens": {"type": "integer", "minimum": 1},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "previous_response_id": {"type": "string"},
        "store": {"type": "boolean"},
        "parallel_tool_calls": {"type": "boolean"},
        "user": {"type": "string"},
    },
}
_SCHEMAS["Response"] = {
    "type": "object",
    "required": ["id", "object", "output"],
    "properties": {
        "id": {"type": "string"},
        "object": {"type": "string", "enum": ["response"]},
        "output": {"type": "array", "items": {"type": "object"}},
    },
}
_STREAMED: dict[str, Any] = {"schema": {"type": "string"}}
_MORE_PATHS["/v1/messages"] = _post(
    "createMessage",
    "MessagesRequest",
    _ref("Message"),
    "A Message (Anthropic's Messages API), or with stream=true its server-sent events",
)
_MORE_PATHS["/v1/messages"]["post"]["responses"].update(
    {
        status: _json(_ref("AnthropicError"), answer["description"])
        for status, answer in _errors(*_UPSTREAM).items()
    }
)
_MORE_PATHS["/v1/messages"]["post"]["responses"]["200"]["content"]["text/event-stream"] = _STREAMED
_MORE_PATHS["/v1/responses"] = _post(
    "createResponse",
    "ResponsesRequest",
    _ref("Response"),
    "A Response (OpenAI's Responses API), or with stream=true its server-sent events",
)
_MORE_PATHS["/v1/responses"]["post"]["responses"]["200"]["content"]["text/event-stream"] = _STREAMED
#: The JSON request bodies read under the pass_through rule (limits.passed_through).
_RULED = (
    "EmbeddingRequest",
    "CompletionRequest",
    "ModerationRequest",
    "SpeechRequest",
    "MessagesRequest",
    "ResponsesRequest",
)


def _as_read(
    schema: dict[str, Any], extra: Collection[str], bounds: dict[str, int]
) -> dict[str, Any]:
    """A request schema as the gateway reads it: an optional field may be null (the gateway
    treats null as absent, like OpenAI), ``bounds`` are the gateway's limits (maximum), and
    no field beyond these and the operator's ``extra`` ones (pass_through) is accepted."""
    required = set(schema.get("required", ()))
    properties: dict[str, Any] = {}
    for name, prop in schema["properties"].items():
        if name in bounds:
            prop = {**prop, "maximum": bounds[name]}
        properties[name] = prop if name in required else {"anyOf": [prop, {"type": "null"}]}
    for name in extra:
        properties.setdefault(name, {})
    return {**schema, "properties": properties, "additionalProperties": False}


def document(
    pass_through: Collection[str] = DEFAULT_PASS_THROUGH, limits: Limits | None = None
) -> dict[str, Any]:
    """The OpenAPI document (a fresh copy) for a gateway with these settings."""
    limits = limits or Limits()
    schemas = {
        **_SCHEMAS,
        "ChatCompletionRequest": _as_read(
            _CHAT_REQUEST,
            pass_through,
            {
                "n": limits.max_n,
                "max_tokens": limits.max_tokens,
                "max_completion_tokens": limits.max_tokens,
            },
        ),
        "ImageRequest": _as_read(_IMAGE_REQUEST, pass_through, {"n": limits.max_generated_images}),
        **{name: _as_read(_SCHEMAS[name], pass_through, {}) for name in _RULED},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "polymux gateway",
            "version": __version__,
            "description": "An OpenAI-compatible API in front of polymux's providers. Every "
            "answer carries an x-request-id header: the caller's own (at most 128 letters, "
            "digits and ._:-), else a new one; it is also in the usage log.",
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}, {}],
        "paths": {
            "/v1/chat/completions": {
                "post": {
                    "operationId": "createChatCompletion",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("ChatCompletionRequest")}},
                    },
                    "responses": {
                        "200": {
                            "description": "A completion, or with stream=true server-sent "
                            "chunks ending with data: [DONE]",
                            "content": {
                                "application/json": {"schema": _ref("ChatCompletion")},
                                "text/event-stream": {"schema": {"type": "string"}},
                            },
                        },
                        **_errors(*_UPSTREAM),
                    },
                }
            },
            "/v1/images/generations": {
                "post": {
                    "operationId": "createImage",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("ImageRequest")}},
                    },
                    "responses": {
                        "200": _json(_ref("ImagesResponse"), "Generated images"),
                        **_errors(*_UPSTREAM),
                    },
                }
            },
            "/v1/models": {
                "get": {
                    "operationId": "listModels",
                    "responses": {
                        "200": _json(_ref("ModelList"), "Models and aliases"),
                        **_errors(401, 403, 500, 502, 503, 504),
                    },
                }
            },
            "/v1/models/{model}": {
                "get": {
                    "operationId": "retrieveModel",
                    "parameters": [
                        {
                            "name": "model",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": _json(_ref("Model"), "One model"),
                        **_errors(401, 403, 404, 500, 502, 503, 504),
                    },
                }
            },
            "/health": {
                "get": {
                    "operationId": "health",
                    "security": [],
                    "responses": {"200": _json({"type": "object"}, "The gateway is up")},
                }
            },
            "/ready": {
                "get": {
                    "operationId": "ready",
                    "description": "Readiness: every check (database, upstreams not all "
                    "cooling down, Redis when configured) passes.",
                    "security": [],
                    "responses": {
                        "200": _json(_READINESS, "Ready to serve"),
                        "503": _json(_READINESS, "Not ready: the failing checks say why"),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "description": "Prometheus metrics (text format): requests, errors, "
                    "latency and time to first token, tokens and cost by model, provider and "
                    "key name, upstream cooldowns, requests in flight.",
                    "responses": {
                        "200": {
                            "description": "The metrics",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        **_errors(401, 403, 404),
                    },
                }
            },
            **_MORE_PATHS,
        },
    }


async def handle(gateway: Gateway, call: Call) -> None:
    raw = gateway.openapi
    if raw is None:  # made once per gateway: it depends on its settings
        raw = gateway.openapi = orjson.dumps(document(gateway.pass_through, gateway.limits))
    await send_bytes(call.send, 200, raw, [(b"content-type", b"application/json")])
