"""The JSON schemas of the gateway's OpenAPI document (``server/openapi.py``): the request and
answer bodies of its JSON endpoints, the error answers, and the helpers that shape an
operation. Data only; ``openapi.py`` puts the paths and the document together.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CHAT_REQUEST",
    "IMAGE_REQUEST",
    "READINESS",
    "SCHEMAS",
    "UPSTREAM",
    "errors",
    "json_answer",
    "post",
    "ref",
]


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_answer(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


#: GET /ready's answer: each check's name -> "ok" or why it fails.
READINESS: dict[str, Any] = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": {"enum": ["ready", "not_ready"]},
        "checks": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def errors(*statuses: int) -> dict[str, Any]:
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
    return {str(s): json_answer(ref("Error"), text[s]) for s in statuses}


UPSTREAM = (400, 401, 403, 404, 408, 409, 413, 415, 422, 429, 500, 502, 503, 504)

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

CHAT_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["messages"],
    "properties": {
        "model": {"type": "string", "description": "A model id, alias or provider/model"},
        "messages": {"type": "array", "items": ref("Message"), "minItems": 1},
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

IMAGE_REQUEST: dict[str, Any] = {
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

SCHEMAS: dict[str, Any] = {
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
    "ChatCompletionRequest": CHAT_REQUEST,
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
    "ImageRequest": IMAGE_REQUEST,
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
            "data": {"type": "array", "items": ref("Model")},
        },
    },
}


def post(operation: str, request: str, response: dict[str, Any], text: str) -> dict[str, Any]:
    """A POST operation with a JSON body and the upstream error answers."""
    return {
        "post": {
            "operationId": operation,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref(request)}},
            },
            "responses": {"200": json_answer(response, text), **errors(*UPSTREAM)},
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
SCHEMAS.update(_MORE_SCHEMAS)
