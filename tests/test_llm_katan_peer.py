"""llm-katan (PyPI, Apache-2.0), an independent test server that speaks the OpenAI,
Anthropic, Gemini / Vertex AI and Bedrock formats, as a second peer beside the fakes written
here. Its echo backend (no model weights) answers with what it understood of each request
(``max_tokens=...``, the user's text), so a request polymux shaped wrongly shows in the answer.

Not used for Bedrock's ConverseStream: llm-katan writes it as SSE text under the event-stream
content type, not in AWS's binary framing (the Bedrock tests check that framing against
botocore instead). Nor for the Gemini API's own endpoint: llm-katan wants the key in an
Authorization header or the URL, where Google documents ``x-goog-api-key`` (which polymux
sends, never putting a key in a URL); the Gemini dialect is checked through Vertex here.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from polymux import AsyncClient
from polymux.providers.bedrock import Bedrock
from polymux.providers.vertex import VertexGemini

pytest.importorskip("llm_katan", reason="llm-katan is not installed (pip install -e '.[dev]')")

MODEL = "echo-model"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def katan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    folder = tmp_path_factory.mktemp("katan")
    log_file = (folder / "log.txt").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from llm_katan.cli import main; main()",
            "--model",
            MODEL,
            "--backend",
            "echo",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--providers",
            "openai,anthropic,vertexai,bedrock",
            "--stats-file",
            str(folder / "stats.json"),
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = Path(folder / "log.txt").read_text()[-2000:]
                    pytest.fail(f"llm-katan did not start: {log}")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log_file.close()


async def _ask(client: AsyncClient, **kwargs: Any) -> tuple[str, str, Any]:
    """(text of the whole answer, text of the streamed one, the whole answer's usage)."""
    whole = await client.chat.completions.create(model=MODEL, **kwargs)
    streamed = "".join(
        [
            chunk.choices[0].delta.content or ""
            async for chunk in client.chat.completions.create(model=MODEL, stream=True, **kwargs)
            if chunk.choices
        ]
    )
    assert whole.choices[0].finish_reason == "stop"
    return whole.choices[0].message.content or "", streamed, whole.usage


@pytest.mark.parametrize("provider", ["openai-compatible", "anthropic"])
async def test_each_dialect_is_understood(katan: str, provider: str) -> None:
    base = {"openai-compatible": "/v1", "anthropic": ""}[provider]
    async with AsyncClient(
        provider=provider, api_key="katan-key", base_url=katan + base, max_retries=0
    ) as client:
        whole, streamed, usage = await _ask(
            client,
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "what is the capital of Peru?"},
            ],
            max_tokens=37,
        )
    for text in (whole, streamed):
        assert "User: what is the capital of Peru?" in text
        assert "max_tokens=37" in text
    assert usage is not None and not usage.estimated and usage.total_tokens > 0


async def test_gemini_on_vertex_is_understood(katan: str) -> None:
    provider = VertexGemini(api_key="ya29.katan", project="proj", base_url=katan)
    async with AsyncClient(provider=provider, max_retries=0) as client:
        whole, streamed, _ = await _ask(client, messages="hello Vertex", max_tokens=21)
    assert "User: hello Vertex" in whole and "User: hello Vertex" in streamed
    assert "max_tokens=21" in whole


async def test_bedrock_converse_is_understood(katan: str) -> None:
    provider = Bedrock(api_key="bedrock-key", base_url=katan, region="us-east-1")
    async with AsyncClient(provider=provider, max_retries=0) as client:
        result = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "system", "content": "S"}, {"role": "user", "content": "hi AWS"}],
            max_tokens=19,
        )
    text = result.choices[0].message.content or ""
    assert "User: hi AWS" in text and "max_tokens=19" in text
    assert result.choices[0].finish_reason == "stop"
