"""llama-index against the live gateway: its default (non-chat) completion mode
(``OpenAILike(is_chat_model=False)`` calls ``/v1/completions``), whole and streamed, and its
``OpenAIEmbedding`` class on ``/v1/embeddings``: clients nobody here wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from .fakes.completions import COMPLETIONS, answer_for, completions
from .fakes.embeddings import OPENAI as EMBEDDINGS
from .fakes.embeddings import openai_embeddings, vector_for
from .server_harness import LiveGateway

openai_like = pytest.importorskip("llama_index.llms.openai_like")
openai_embedding = pytest.importorskip("llama_index.embeddings.openai")


def test_llama_index_completion_mode_and_embeddings(tmp_path: Path) -> None:
    with LiveGateway(tmp_path) as gw:
        gw.upstream.script("POST", COMPLETIONS, completions())
        gw.upstream.script("POST", EMBEDDINGS, openai_embeddings())
        llm = openai_like.OpenAILike(
            model="qwen-base",
            api_base=gw.url + "/v1",
            api_key="unused",
            is_chat_model=False,  # the completion API, as local-model setups use it
            max_retries=0,
            max_tokens=8,
        )
        whole = llm.complete("Once upon a time")
        pieces = [r.delta for r in llm.stream_complete("In a hole")]
        embedder = openai_embedding.OpenAIEmbedding(
            model_name="text-embedding-3-small",
            api_base=gw.url + "/v1",
            api_key="unused",
            max_retries=0,
        )
        vectors = embedder.get_text_embedding_batch(["first", "second"])
        query = embedder.get_query_embedding("a question")
        sent = [(r.path, r.json) for r in gw.upstream.requests]
        rows = gw.usage_rows()
    assert whole.text == answer_for("Once upon a time")
    assert "".join(p or "" for p in pieces) == answer_for("In a hole")
    assert len(pieces) > 1  # it arrived in pieces
    assert vectors == [vector_for("first"), vector_for("second")]
    assert query == vector_for("a question")
    completion_bodies = [body for path, body in sent if path == COMPLETIONS]
    assert [b["prompt"] for b in completion_bodies] == ["Once upon a time", "In a hole"]
    assert all("messages" not in b and b["max_tokens"] == 8 for b in completion_bodies)
    assert [r["endpoint"] for r in rows] == ["/v1/completions"] * 2 + ["/v1/embeddings"] * 2
    assert all(r["status"] == 200 for r in rows)
