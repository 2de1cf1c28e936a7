"""The seed's programs (g4f's AsyncClient docs, ``g4f`` -> ``polymux`` only) against the REAL
provider classes the seed names, ``OpenaiChat`` and ``Gemini``, talking to fake servers on
127.0.0.1 that speak OpenAI's and Gemini's wire formats. Credentials and addresses come from
the providers' own environment variables, as a user's would."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from typing import Any

import pytest

from polymux import AsyncClient
from tests.fakes import FakeServer
from tests.fakes import gemini as gem
from tests.fakes import openai as oai
from tests.fakes.server import json as json_reply
from tests.test_core_seed import (
    GATHER,
    IMAGE_GENERATION,
    STREAMING,
    TEXT_COMPLETION,
    adapt,
    run_async_snippet,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x07" * 24
IMAGE_MODEL = "gemini-2.5-flash-image"


def _gemini_image() -> Any:
    part = {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}}
    return json_reply(200, gem.response([{"text": "Here is the cat."}, part]))


@pytest.fixture
async def servers(monkeypatch: pytest.MonkeyPatch) -> Any:
    async with FakeServer() as openai, FakeServer() as gemini:
        openai.script("POST", oai.CHAT, oai.reply("This is a test"))
        gemini.script("POST", gem.generate_path(IMAGE_MODEL), _gemini_image())
        env = {
            "OPENAI_API_KEY": "sk-seed",
            "OPENAI_BASE_URL": openai.url("/v1"),
            "GEMINI_API_KEY": "gm-seed",
            "GOOGLE_GEMINI_BASE_URL": gemini.url(),
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        yield openai, gemini, env


def _seed_client() -> AsyncClient:
    from polymux.Provider import Gemini, OpenaiChat

    return AsyncClient(provider=OpenaiChat, image_provider=Gemini)


async def test_text_completion_against_openai_wire(servers: Any) -> None:
    openai, _, _ = servers
    printed, _ = await run_async_snippet(TEXT_COMPLETION, _seed_client())
    assert printed == "This is a test\n"
    sent = openai.requests[0]
    assert sent.json["model"] == "gpt-3.5-turbo"
    assert sent.headers["Authorization"] == "Bearer sk-seed"


async def test_streaming_against_openai_wire(servers: Any) -> None:
    openai, _, _ = servers
    openai.script("POST", oai.CHAT, oai.stream_text(["This ", "is ", "a test"]))
    printed, _ = await run_async_snippet(STREAMING, _seed_client())
    assert printed == "This is a test"
    assert openai.requests[0].json["stream"] is True


async def test_image_generation_with_gemini_answers_with_its_image_model(
    servers: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _, gemini, _ = servers
    _, names = await run_async_snippet(IMAGE_GENERATION, _seed_client())
    assert names["image_url"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    response = names["response"]
    # Gemini does not make dall-e-3 images: it answers with its own image model and says so.
    assert response.model == IMAGE_MODEL and response.provider == "Gemini"
    assert "does not make images with 'dall-e-3'" in caplog.text
    assert gemini.requests[0].path == gem.generate_path(IMAGE_MODEL)
    assert gemini.requests[0].headers["x-goog-api-key"] == "gm-seed"


async def test_gather_program_runs_as_a_script(servers: Any) -> None:
    openai, gemini, env = servers
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error::ResourceWarning",
        "-c",
        adapt(GATHER),
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    printed = out.decode()
    assert "This is a test" in printed and "ImagesResponse(" in printed
    assert f"model='{IMAGE_MODEL}'" in printed
    # The warning says what was replaced; nothing else reaches stderr (no unclosed session).
    lines = [line for line in err.decode().splitlines() if line.strip()]
    assert len(lines) == 1 and "dall-e-3" in lines[0], lines
    assert openai.requests[0].json["model"] == "gpt-3.5-turbo"
    assert len(gemini.requests) == 1
