"""``client.embeddings.create`` against each provider's wire format on 127.0.0.1: inputs,
batches, order, usage, base64, routing by model name, fallback and bad input. Every answer
is checked with the official SDK's ``CreateEmbeddingResponse``."""

from __future__ import annotations

import asyncio
import base64
import struct
from typing import Any

import pytest
from openai.types import CreateEmbeddingResponse as OpenAIEmbeddings

from polymux import (
    AllProvidersFailedError,
    AsyncClient,
    BadRequestError,
    Client,
    InvalidRequestError,
    UnsupportedCapabilityError,
)
from polymux.providers import Provider
from polymux.providers.gemini import Gemini
from polymux.providers.ollama import Ollama
from polymux.providers.openai import AzureOpenAI, OpenAI, OpenAICompatible
from polymux.providers.vendors import VENDORS, vendor_class
from polymux.routing import InMemoryHealthStore
from polymux.types import EmbeddingBatch, EmbeddingRequest

from .fakes import FakeServer, json
from .fakes.embeddings import (
    OLLAMA,
    OPENAI,
    gemini_embeddings,
    gemini_path,
    ollama_embeddings,
    openai_embeddings,
    vector_for,
)
from .support import Clock

SECRET = "sk-proj-SECRET-embed-4c3b2a"
TEXTS = ["the cat", "sat on", "a mat today"]


def checked(response: Any) -> OpenAIEmbeddings:
    return OpenAIEmbeddings.model_validate(response.model_dump())


def floats_of(b64: str) -> list[float]:
    raw = base64.b64decode(b64)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


async def test_a_compatible_host_embeds_strings_in_order_with_its_usage(
    server: FakeServer,
) -> None:
    server.script("POST", OPENAI, openai_embeddings())
    async with AsyncClient(base_url=server.url("/v1"), api_key=SECRET) as client:
        response = await client.embeddings.create(model="bge-m3", input=TEXTS)
    sdk = checked(response)
    assert [d.embedding for d in sdk.data] == [vector_for(t) for t in TEXTS]
    assert [d.index for d in sdk.data] == [0, 1, 2]
    assert sdk.model == "bge-m3-v1"  # the upstream's own name for what answered
    assert sdk.usage.prompt_tokens == sdk.usage.total_tokens == 7
    assert response.provider == "openai-compatible"
    (sent,) = server.requests
    assert sent.json == {"model": "bge-m3", "input": TEXTS}  # float: the default, not sent
    assert sent.headers["Authorization"] == f"Bearer {SECRET}"


async def test_one_string_and_token_arrays_are_inputs_too(server: FakeServer) -> None:
    server.script("POST", OPENAI, openai_embeddings())
    async with AsyncClient(base_url=server.url("/v1")) as client:
        one = await client.embeddings.create(model="m", input="hello")
        tokens = await client.embeddings.create(model="m", input=[1, 2, 3])
        arrays = await client.embeddings.create(model="m", input=[[5, 6], [7]])
    assert checked(one).data[0].embedding == vector_for("hello")
    assert server.requests[0].json["input"] == ["hello"]
    assert checked(tokens).data[0].embedding == vector_for([1, 2, 3])
    assert server.requests[1].json["input"] == [[1, 2, 3]]
    assert [d.embedding for d in checked(arrays).data] == [vector_for([5, 6]), vector_for([7])]


async def test_openai_is_read_as_base64_and_answers_either_form(server: FakeServer) -> None:
    server.script("POST", OPENAI, openai_embeddings())
    provider = OpenAI(api_key=SECRET, base_url=server.url("/v1"))
    async with AsyncClient(provider=provider) as client:
        floats = await client.embeddings.create(
            model="text-embedding-3-small", input=TEXTS, dimensions=6
        )
        compact = await client.embeddings.create(
            model="text-embedding-3-small", input=TEXTS, encoding_format="base64"
        )
    assert all(r.json["encoding_format"] == "base64" for r in server.requests)
    assert server.requests[0].json["dimensions"] == 6
    assert [d.embedding for d in checked(floats).data] == [vector_for(t, 6) for t in TEXTS]
    assert all(isinstance(d.embedding, str) for d in compact.data)
    assert [floats_of(d.embedding) for d in compact.data] == [vector_for(t) for t in TEXTS]  # type: ignore[arg-type]


async def test_a_float_host_still_answers_base64_to_a_caller_who_asks(server: FakeServer) -> None:
    server.script("POST", OPENAI, openai_embeddings())
    async with AsyncClient(base_url=server.url("/v1")) as client:
        response = await client.embeddings.create(model="m", input=TEXTS, encoding_format="base64")
    assert "encoding_format" not in server.requests[0].json
    assert [floats_of(d.embedding) for d in response.data] == [vector_for(t) for t in TEXTS]  # type: ignore[arg-type]


async def test_inputs_over_the_batch_cap_become_batches_and_keep_their_order(
    server: FakeServer,
) -> None:
    sizes: list[int] = []
    server.script("POST", OPENAI, openai_embeddings(cap=4, calls=sizes))
    vllm = vendor_class(next(r for r in VENDORS if r.name == "vllm"))(base_url=server.url("/v1"))
    vllm.embeddings_per_call = 4
    texts = [f"input number {i} " + "x" * i for i in range(11)]
    async with AsyncClient(provider=vllm) as client:
        response = await client.embeddings.create(model="e5", input=texts)
    assert sorted(sizes) == [3, 4, 4]
    sdk = checked(response)
    assert [d.embedding for d in sdk.data] == [vector_for(t) for t in texts]
    assert [d.index for d in sdk.data] == list(range(11))
    assert sdk.usage.prompt_tokens == sum(len(t.split()) for t in texts)  # summed over batches


class Gate(Provider):
    """An embedding provider whose calls wait until ``expected`` are in flight at once, so
    batches sent one after another would never finish (the test's wait_for fails)."""

    embeddings_per_call = 2

    def __init__(self, expected: int, fail_on: str | None = None) -> None:
        super().__init__()
        self.name = "gate"
        self.expected = expected
        self.fail_on = fail_on
        self.arrived = 0
        self.cancelled = 0
        self.all_in = asyncio.Event()

    async def embed(self, request: EmbeddingRequest) -> EmbeddingBatch:
        self.arrived += 1
        if self.arrived == self.expected:
            self.all_in.set()
        try:
            if self.fail_on in request.inputs:
                raise BadRequestError("refused", status_code=400, provider=self.name)
            await self.all_in.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return EmbeddingBatch(vectors=[vector_for(t) for t in request.inputs])


async def test_batches_run_concurrently() -> None:
    gate = Gate(expected=3)
    async with AsyncClient(provider=gate) as client:
        texts = ["a", "bb", "ccc", "dddd", "eeeee"]
        response = await asyncio.wait_for(client.embeddings.create(model="m", input=texts), 5)
    assert [d.embedding for d in response.data] == [vector_for(t) for t in texts]
    # No counts from the provider: text is estimated (about four characters a token).
    assert response.usage.estimated is True
    assert response.usage.prompt_tokens == sum((len(t) + 3) // 4 for t in texts)


async def test_a_failing_batch_fails_the_call_and_cancels_the_others() -> None:
    gate = Gate(expected=99, fail_on="bad")
    async with AsyncClient(provider=gate) as client:
        with pytest.raises(BadRequestError):
            await asyncio.wait_for(
                client.embeddings.create(model="m", input=["a", "b", "c", "d", "bad", "e"]), 5
            )
    assert gate.cancelled == 2  # the two batches still waiting were not left running


async def test_token_arrays_count_exactly_when_the_provider_counts_nothing() -> None:
    gate = Gate(expected=1)
    async with AsyncClient(provider=gate) as client:
        response = await client.embeddings.create(model="m", input=[[1, 2, 3], [4]])
    assert response.usage.prompt_tokens == 4 and response.usage.estimated is None


async def test_gemini_batches_by_100_with_output_dimensionality(server: FakeServer) -> None:
    server.script("POST", gemini_path(), gemini_embeddings())
    texts = [f"text {i}" for i in range(150)]
    provider = Gemini(api_key=SECRET, base_url=server.url("/v1beta"))
    async with AsyncClient(provider=provider) as client:
        response = await client.embeddings.create(input=texts, dimensions=8)
    sdk = checked(response)
    assert [d.embedding for d in sdk.data] == [vector_for(t, 8) for t in texts]
    assert sorted(len(r.json["requests"]) for r in server.requests) == [50, 100]
    first = server.requests[0].json["requests"][0]
    assert first["outputDimensionality"] == 8 and first["model"] == "models/gemini-embedding-001"
    assert all(r.headers["x-goog-api-key"] == SECRET for r in server.requests)
    assert all("key=" not in r.path + str(r.query) for r in server.requests)
    assert response.usage.estimated is True and response.usage.prompt_tokens > 0


async def test_gemini_refuses_token_arrays_before_sending() -> None:
    async with AsyncClient(provider=Gemini(api_key="k", base_url="http://127.0.0.1:9")) as c:
        with pytest.raises(InvalidRequestError, match="text only"):
            await c.embeddings.create(input=[1, 2])


async def test_ollama_embeds_through_api_embed(server: FakeServer) -> None:
    server.script("POST", OLLAMA, ollama_embeddings())
    async with AsyncClient(provider=Ollama(base_url=server.url())) as client:
        response = await client.embeddings.create(model="nomic-embed-text", input=TEXTS)
        with pytest.raises(InvalidRequestError, match="no default embedding model"):
            await client.embeddings.create(input=TEXTS)
    sdk = checked(response)
    assert [d.embedding for d in sdk.data] == [vector_for(t) for t in TEXTS]
    assert sdk.usage.prompt_tokens == 7 and response.usage.estimated is None
    assert server.requests[0].json == {"model": "nomic-embed-text", "input": TEXTS}


async def test_azure_embeds_on_its_deployment(server: FakeServer) -> None:
    path = "/openai/deployments/embed-prod/embeddings"
    server.script("POST", path, openai_embeddings())
    azure = AzureOpenAI(
        api_key=SECRET, base_url=server.url(), deployments={"text-embedding-3-large": "embed-prod"}
    )
    async with AsyncClient(provider=azure) as client:
        response = await client.embeddings.create(model="text-embedding-3-large", input=TEXTS)
    assert checked(response).data[2].embedding == vector_for(TEXTS[2])
    (sent,) = server.requests
    assert sent.query == {"api-version": azure.api_version}
    assert sent.headers["api-key"] == SECRET and "Authorization" not in sent.headers


async def test_the_registry_routes_an_embedding_model_by_name(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.script("POST", OPENAI, openai_embeddings())
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url("/v1"))
    async with AsyncClient() as client:
        response = await client.embeddings.create(model="openai/text-embedding-3-small", input="x")
    assert response.provider == "openai"
    assert server.requests[0].json["model"] == "text-embedding-3-small"


async def test_a_failing_provider_falls_back_and_cools_down(server: FakeServer) -> None:
    busy = {"error": {"message": "slow down", "type": "rate_limit_error"}}
    server.script("POST", "/a/v1/embeddings", json(429, busy, headers={"retry-after": "30"}))
    server.script("POST", "/b/v1/embeddings", openai_embeddings())
    a = OpenAICompatible(base_url=server.url("/a/v1"), name="a")
    b = OpenAICompatible(base_url=server.url("/b/v1"), name="b")
    health = InMemoryHealthStore(clock=Clock())
    async with AsyncClient(provider=[a, b], health=health, max_retries=0) as client:
        first = await client.embeddings.create(model="m", input=TEXTS)
        second = await client.embeddings.create(model="m", input=TEXTS)
    assert first.provider == second.provider == "b"
    paths = [r.path for r in server.requests]
    assert paths == ["/a/v1/embeddings", "/b/v1/embeddings", "/b/v1/embeddings"]  # a cooled


async def test_every_provider_failing_is_one_error_naming_each(server: FakeServer) -> None:
    server.script("POST", "/a/v1/embeddings", json(500, {"error": {"message": "down"}}))
    a = OpenAICompatible(base_url=server.url("/a/v1"), name="a")
    b = OpenAICompatible(base_url=server.url("/a/v1"), name="b")
    async with AsyncClient(provider=[a, b], max_retries=0) as client:
        with pytest.raises(AllProvidersFailedError) as info:
            await client.embeddings.create(model="m", input="x")
    assert [name for name, _ in info.value.errors] == ["a", "b"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input": ""}, "input"),
        ({"input": []}, "input"),
        ({"input": ["ok", ""]}, r"input\[1\]"),
        ({"input": ["ok", 3]}, r"input\[1\]"),
        ({"input": [[1, 2], "x"]}, r"input\[1\]"),
        ({"input": [[1, -2]]}, r"input\[0\]"),
        ({"input": b"bytes"}, "input"),
        ({"input": "x", "dimensions": 0}, "dimensions"),
        ({"input": "x", "dimensions": True}, "dimensions"),
        ({"input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({"input": "x", "model": 5}, "model"),
    ],
)
def test_bad_input_is_refused_before_any_call(kwargs: dict[str, Any], message: str) -> None:
    client = AsyncClient(base_url="http://127.0.0.1:9")
    with pytest.raises(InvalidRequestError, match=message):
        _ = client.embeddings.create(**{"model": "m", **kwargs})


def test_unknown_arguments_and_providers_without_embeddings_are_refused() -> None:
    client = AsyncClient(base_url="http://127.0.0.1:9")
    with pytest.raises(TypeError, match="'colour'"):
        _ = client.embeddings.create(model="m", input="x", colour="red")  # type: ignore[call-arg]
    groq = vendor_class(next(r for r in VENDORS if r.name == "groq"))(api_key="k")
    with pytest.raises(UnsupportedCapabilityError, match="serves embeddings"):
        _ = AsyncClient(provider=groq).embeddings.create(model="m", input="x")


def test_the_sync_client_embeds(server_thread: str) -> None:
    with Client(base_url=server_thread) as client:
        response = client.embeddings.create(model="m", input=TEXTS)
    assert [d.embedding for d in checked(response).data] == [vector_for(t) for t in TEXTS]


@pytest.fixture
def server_thread() -> Any:
    """A FakeServer on its own loop in a thread, for the sync client."""
    import threading

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()
    holder: dict[str, str] = {}

    async def main() -> None:
        async with FakeServer() as fake:
            fake.script("POST", OPENAI, openai_embeddings())
            holder["url"] = fake.url("/v1")
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    ready.wait(10)
    yield holder["url"]
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    loop.close()
