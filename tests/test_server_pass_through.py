"""One rule for fields the gateway does not name, on every JSON endpoint (limits.passed_through,
as chat and images): a field the operator does not let through ([server] pass_through) is a
400 that names it and nothing reaches the upstream; one it lets through reaches the upstream
(in the body sent, native or translated)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from polymux.server.config import GatewayConfig, ProviderConfig

from .fakes import FakeServer, json
from .fakes.audio import SPEECH, speech
from .fakes.embeddings import OPENAI as EMBEDDINGS
from .fakes.embeddings import openai_embeddings
from .fakes.moderations import MODERATIONS, moderations
from .fakes.openai import CHAT, reply, responses_object
from .server_harness import LiveGateway

HI = [{"role": "user", "content": "hi"}]
# (gateway path, request body, upstream path the body is sent to)
ENDPOINTS: list[tuple[str, dict[str, Any], str]] = [
    ("/v1/embeddings", {"model": "text-embedding-3-small", "input": "hi"}, EMBEDDINGS),
    ("/v1/completions", {"model": "gpt-4o-mini", "prompt": "hi"}, CHAT),
    ("/v1/moderations", {"input": "hi"}, MODERATIONS),
    ("/v1/audio/speech", {"model": "tts-1", "input": "hi", "voice": "alloy"}, SPEECH),
    ("/v1/messages", {"model": "gpt-4o-mini", "max_tokens": 9, "messages": HI}, CHAT),
    ("/v1/responses", {"model": "gpt-4o-mini", "input": "hi"}, "/v1/responses"),
    ("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": HI}, CHAT),
]


def _answers(upstream: FakeServer) -> None:
    upstream.script("POST", EMBEDDINGS, openai_embeddings())
    upstream.script("POST", CHAT, reply("hello"))
    upstream.script("POST", MODERATIONS, moderations())
    upstream.script("POST", SPEECH, speech([]))
    upstream.script("POST", "/v1/responses", json(200, responses_object()))


def _config(upstream: FakeServer) -> GatewayConfig:
    # OpenAI itself (it serves every one of these endpoints), at the fake; the operator lets
    # one extra field through.
    provider = ProviderConfig(
        name="openai", type="openai", base_url=upstream.url("/v1"), api_key_env="PT_TEST_KEY"
    )
    return replace(
        GatewayConfig(port=1, providers=(provider,), max_retries=0), pass_through=("x_allowed",)
    )


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PT_TEST_KEY", "sk-pass-through")
        with LiveGateway(tmp_path_factory.mktemp("gw"), _config) as gateway:
            _answers(gateway.upstream)
            yield gateway


@pytest.mark.parametrize(("path", "body", "upstream_path"), ENDPOINTS)
def test_unlisted_fields_are_refused_and_listed_ones_reach_the_upstream(
    gw: LiveGateway, path: str, body: dict[str, Any], upstream_path: str
) -> None:
    before = len(gw.upstream.requests)
    refused = httpx.post(gw.url + path, json={**body, "service_tier": "priority"}, timeout=30)
    assert refused.status_code == 400, refused.text
    assert "'service_tier'" in refused.json()["error"]["message"]
    assert "pass_through" in refused.json()["error"]["message"]
    assert len(gw.upstream.requests) == before  # nothing was sent
    allowed = httpx.post(gw.url + path, json={**body, "x_allowed": "yes"}, timeout=30)
    assert allowed.status_code == 200, allowed.text
    (sent,) = gw.upstream.requests[before:]
    assert sent.path == upstream_path
    assert sent.json["x_allowed"] == "yes"


def test_the_rule_is_the_default_one_without_configuration(tmp_path: Path) -> None:
    """Without [server] pass_through, the documented default list applies (top_k passes)."""
    with LiveGateway(tmp_path) as gw:
        gw.upstream.script("POST", EMBEDDINGS, openai_embeddings())
        ok = httpx.post(
            gw.url + "/v1/embeddings", json={"model": "m", "input": "x", "top_k": 3}, timeout=30
        )
        refused = httpx.post(
            gw.url + "/v1/embeddings", json={"model": "m", "input": "x", "truncate": 1}, timeout=30
        )
    assert ok.status_code == 200 and gw.upstream.requests[0].json["top_k"] == 3
    assert refused.status_code == 400 and "'truncate'" in refused.text


def test_the_openapi_document_states_the_rule_and_the_other_front_doors(gw: LiveGateway) -> None:
    doc = httpx.get(gw.url + "/openapi.json", timeout=30).json()
    assert {"/v1/messages", "/v1/responses"} <= set(doc["paths"])
    schemas = doc["components"]["schemas"]
    for name in ("EmbeddingRequest", "CompletionRequest", "MessagesRequest", "ResponsesRequest"):
        assert schemas[name]["additionalProperties"] is False
        assert "x_allowed" in schemas[name]["properties"]  # the operator's pass_through
        assert "service_tier" not in schemas[name]["properties"]
    error = doc["paths"]["/v1/messages"]["post"]["responses"]["400"]
    assert error["content"]["application/json"]["schema"]["$ref"].endswith("/AnthropicError")
