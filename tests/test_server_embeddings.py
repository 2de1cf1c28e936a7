"""``POST /v1/embeddings`` on a live gateway, driven by the official openai SDK (which asks
for base64 by default and decodes it itself) and by LangChain's ``OpenAIEmbeddings``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest

from polymux.server.config import DEFAULT_PASS_THROUGH

from .fakes.embeddings import OPENAI, openai_embeddings, vector_for
from .fakes.openai import error
from .server_harness import LiveGateway, fake_config

TEXTS = ["first text", "second", "the third one"]


@pytest.fixture
def gw(tmp_path: Path) -> Any:
    # The operator lets TEI's and Cohere's ``truncate`` through (pass_through).
    allowing = (*DEFAULT_PASS_THROUGH, "truncate")
    with LiveGateway(tmp_path, lambda up: fake_config(up, pass_through=allowing)) as gateway:
        gateway.upstream.script("POST", OPENAI, openai_embeddings())
        yield gateway


def sdk(gw: LiveGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)


def test_the_sdk_default_base64_round_trips_and_is_logged(gw: LiveGateway) -> None:
    with sdk(gw) as client:
        response = client.embeddings.create(model="bge-m3", input=TEXTS)
    assert [d.embedding for d in response.data] == [vector_for(t) for t in TEXTS]
    assert response.usage.prompt_tokens == 6 and response.model == "bge-m3-v1"
    # The upstream (a plain OpenAI-compatible host) was asked for floats; the gateway
    # answered the SDK's base64 request in base64.
    assert "encoding_format" not in gw.upstream.requests[0].json
    (row,) = gw.usage_rows()
    assert row["endpoint"] == "/v1/embeddings" and row["status"] == 200
    assert row["model"] == "bge-m3" and row["provider"] == "fake"
    assert row["prompt_tokens"] == row["total_tokens"] == 6


def test_floats_dimensions_tokens_and_extra_fields_pass_through(gw: LiveGateway) -> None:
    with sdk(gw) as client:
        floats = client.embeddings.create(
            model="m",
            input="one",
            encoding_format="float",
            dimensions=3,
            user="u-1",
            extra_body={"truncate": "END"},
        )
        tokens = client.embeddings.create(model="m", input=[[1, 2], [3]])
    assert floats.data[0].embedding == vector_for("one", 3)
    sent = gw.upstream.requests[0].json
    assert sent == {
        "model": "m",
        "input": ["one"],
        "dimensions": 3,
        "user": "u-1",
        "truncate": "END",
    }
    assert [d.embedding for d in tokens.data] == [vector_for([1, 2]), vector_for([3])]


def test_bad_input_and_upstream_errors_reach_the_sdk_typed(gw: LiveGateway) -> None:
    with sdk(gw) as client:
        with pytest.raises(openai.BadRequestError, match="non-empty"):
            client.embeddings.create(model="m", input=["ok", ""])
        with pytest.raises(openai.BadRequestError, match="at most 2048"):
            client.embeddings.create(model="m", input=["x"] * 2049)
        gw.upstream.script("POST", OPENAI, error(429, "slow down", type="rate_limit_error"))
        with pytest.raises(openai.RateLimitError):
            client.embeddings.create(model="m", input="x")
    assert len(gw.upstream.requests) == 1  # bad input never left the gateway


def test_langchain_openai_embeddings(gw: LiveGateway) -> None:
    lc = pytest.importorskip("langchain_openai")
    embedder = lc.OpenAIEmbeddings(
        model="text-embedding-3-small",
        base_url=gw.url + "/v1",
        api_key="unused",
        max_retries=0,
        check_embedding_ctx_length=False,  # no tiktoken download: plain strings are sent
    )
    assert embedder.embed_documents(TEXTS) == [vector_for(t) for t in TEXTS]
    assert embedder.embed_query("a question") == vector_for("a question")


def test_an_alias_pins_the_embedding_and_completion_models(tmp_path: Path) -> None:
    from dataclasses import replace

    from .fakes.completions import COMPLETIONS, completions
    from .server_harness import fake_config

    def configure(upstream: Any) -> Any:
        aliases = {"my-embed": ("fake/bge-m3",), "my-text": ("fake/qwen-base",)}
        return replace(fake_config(upstream), aliases=aliases)

    with LiveGateway(tmp_path, configure) as gw:
        gw.upstream.script("POST", OPENAI, openai_embeddings())
        gw.upstream.script("POST", COMPLETIONS, completions())
        with sdk(gw) as client:
            client.embeddings.create(model="my-embed", input="x")
            client.completions.create(model="my-text", prompt="p")
    assert [r.json["model"] for r in gw.upstream.requests] == ["bge-m3", "qwen-base"]
    assert gw.upstream.requests[1].path == COMPLETIONS  # served natively through the alias
