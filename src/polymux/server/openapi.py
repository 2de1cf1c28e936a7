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
from .openapi_schemas import (
    CHAT_REQUEST,
    IMAGE_REQUEST,
    READINESS,
    SCHEMAS,
    UPSTREAM,
    errors,
    json_answer,
    post,
    ref,
)

if TYPE_CHECKING:
    from .app import Call, Gateway

__all__ = ["document", "handle"]

#: The shared body schemas, and (below) those of the uploads and the other dialects' doors.
_SCHEMAS: dict[str, Any] = dict(SCHEMAS)


_MORE_PATHS: dict[str, Any] = {
    "/v1/embeddings": post(
        "createEmbedding", "EmbeddingRequest", ref("CreateEmbeddingResponse"), "Embeddings"
    ),
    "/v1/completions": post(
        "createCompletion",
        "CompletionRequest",
        ref("Completion"),
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
                "200": json_answer(ref("ImagesResponse"), text),
                "415": json_answer(ref("Error"), "Not a multipart/form-data body"),
                **errors(*UPSTREAM),
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
        "application/json": {"schema": ref("Transcription")},
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
_MORE_PATHS["/v1/audio/speech"] = post(
    "createSpeech", "SpeechRequest", {"type": "string", "format": "binary"}, "Audio"
)
_MORE_PATHS["/v1/audio/speech"]["post"]["responses"]["200"] = {
    "description": "The spoken audio, in the asked format",
    "content": {"audio/*": {"schema": {"type": "string", "format": "binary"}}},
}
_MORE_PATHS["/v1/moderations"] = post(
    "createModeration", "ModerationRequest", ref("ModerationResponse"), "Moderation results"
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
_MORE_PATHS["/v1/messages"] = post(
    "createMessage",
    "MessagesRequest",
    ref("Message"),
    "A Message (Anthropic's Messages API), or with stream=true its server-sent events",
)
_MORE_PATHS["/v1/messages"]["post"]["responses"].update(
    {
        status: json_answer(ref("AnthropicError"), answer["description"])
        for status, answer in errors(*UPSTREAM).items()
    }
)
_MORE_PATHS["/v1/messages"]["post"]["responses"]["200"]["content"]["text/event-stream"] = _STREAMED
_MORE_PATHS["/v1/responses"] = post(
    "createResponse",
    "ResponsesRequest",
    ref("Response"),
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
            CHAT_REQUEST,
            pass_through,
            {
                "n": limits.max_n,
                "max_tokens": limits.max_tokens,
                "max_completion_tokens": limits.max_tokens,
            },
        ),
        "ImageRequest": _as_read(IMAGE_REQUEST, pass_through, {"n": limits.max_generated_images}),
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
                        "content": {"application/json": {"schema": ref("ChatCompletionRequest")}},
                    },
                    "responses": {
                        "200": {
                            "description": "A completion, or with stream=true server-sent "
                            "chunks ending with data: [DONE]",
                            "content": {
                                "application/json": {"schema": ref("ChatCompletion")},
                                "text/event-stream": {"schema": {"type": "string"}},
                            },
                        },
                        **errors(*UPSTREAM),
                    },
                }
            },
            "/v1/images/generations": {
                "post": {
                    "operationId": "createImage",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": ref("ImageRequest")}},
                    },
                    "responses": {
                        "200": json_answer(ref("ImagesResponse"), "Generated images"),
                        **errors(*UPSTREAM),
                    },
                }
            },
            "/v1/models": {
                "get": {
                    "operationId": "listModels",
                    "responses": {
                        "200": json_answer(ref("ModelList"), "Models and aliases"),
                        **errors(401, 403, 500, 502, 503, 504),
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
                        "200": json_answer(ref("Model"), "One model"),
                        **errors(401, 403, 404, 500, 502, 503, 504),
                    },
                }
            },
            "/health": {
                "get": {
                    "operationId": "health",
                    "security": [],
                    "responses": {"200": json_answer({"type": "object"}, "The gateway is up")},
                }
            },
            "/ready": {
                "get": {
                    "operationId": "ready",
                    "description": "Readiness: every check (database, upstreams not all "
                    "cooling down, Redis when configured) passes.",
                    "security": [],
                    "responses": {
                        "200": json_answer(READINESS, "Ready to serve"),
                        "503": json_answer(READINESS, "Not ready: the failing checks say why"),
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
                        **errors(401, 403, 404),
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
