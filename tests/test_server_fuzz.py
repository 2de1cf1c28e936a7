"""The gateway's OpenAPI document fuzzed with schemathesis against a live gateway: valid and
invalid bodies alike, and stateful sequences (list the models, then fetch one by its id),
never give a 5xx, and every error is in OpenAI's format.

Bounded (about 30 examples per operation, 20 short sequences) to keep the suite fast.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from .fakes.completions import COMPLETIONS, completions
from .fakes.embeddings import OPENAI as EMBEDDINGS
from .fakes.embeddings import openai_embeddings
from .fakes.openai import CHAT, IMAGES, MODELS, models, reply, stream_text
from .fakes.server import json
from .server_harness import LiveGateway

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def chat_either_way() -> Any:
    """The fake upstream answers SSE when asked to stream, JSON otherwise."""
    streamed, whole = stream_text(["fuzz"]), reply("fuzz")

    async def act(request: Any) -> Any:
        body = await request.json()
        return await (streamed if isinstance(body, dict) and body.get("stream") else whole)(request)

    return act


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    with LiveGateway(tmp_path_factory.mktemp("fuzz")) as gw:
        gw.upstream.script("POST", CHAT, chat_either_way())
        gw.upstream.script(
            "POST",
            IMAGES,
            json(200, {"created": 1, "data": [{"b64_json": base64.b64encode(PNG).decode()}]}),
        )
        gw.upstream.script("GET", MODELS, models("m1", "m2"))
        gw.upstream.script("POST", EMBEDDINGS, openai_embeddings())
        gw.upstream.script("POST", COMPLETIONS, completions())
        yield gw


def openai_error_format(response: Any, path: str = "") -> None:
    """Every 4xx/5xx answer is {"error": {"message", "type", "param", "code"}}; on
    /v1/messages, Anthropic's {"type": "error", "error": {"type", "message"}}."""
    if response.status_code < 400:
        return
    body = response.json()
    if path.startswith("/v1/messages"):
        assert body["type"] == "error" and set(body["error"]) == {"type", "message"}, body
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]
        return
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict), f"not an OpenAI error body: {body!r}"
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors_and_openai_shaped_errors(live: LiveGateway, mode: Any) -> None:
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations() if isinstance(r, Ok)]
    assert len(operations) == 17
    if mode == GenerationMode.NEGATIVE:  # only bodies can be invalid (any path string is valid)
        operations = [op for op in operations if op.method.upper() == "POST"]
    seen: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            response = case.call(timeout=10)
            seen.append(response.status_code)
            case.validate_response(
                response,
                checks=[not_a_server_error, status_code_conformance, content_type_conformance],
            )
            openai_error_format(response, case.path)

        run()
    assert seen and max(seen) < 500


def test_stateful_sequences_give_no_server_errors(live: LiveGateway) -> None:
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json")
    machine = schema.as_state_machine()
    seen: list[int] = []

    class Checked(machine):  # type: ignore[misc,valid-type]
        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            seen.append(response.status_code)
            case.validate_response(
                response,
                checks=[not_a_server_error, status_code_conformance, content_type_conformance],
            )
            openai_error_format(response, case.path)

    Checked.run(
        settings=settings(
            max_examples=20,
            stateful_step_count=4,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )
    assert seen and max(seen) < 500
