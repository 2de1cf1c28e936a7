"""Node clients against the live gateway: the official ``openai`` package
(``responses.create``, streamed and not, ``retrieve``), the official ``@anthropic-ai/sdk``
(``messages.create`` and its stream helper) and Vercel's AI SDK (``@ai-sdk/openai``, whose
default model speaks the Responses API). The packages are pinned in tests/node/package.json
and installed by ``make venv`` (``npm ci``); skipped where Node.js or the packages are missing."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .fakes import openai as fo
from .fakes import pollinations as smart_openai
from .server_harness import LiveGateway

NODE_DIR = Path(__file__).parent / "node"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None or not (NODE_DIR / "node_modules" / "@anthropic-ai").is_dir(),
    reason="Node.js or tests/node/node_modules missing (make venv runs npm ci)",
)


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[LiveGateway]:
    with LiveGateway(tmp_path) as gateway:
        gateway.upstream.script("POST", fo.CHAT, smart_openai.smart_chat())
        yield gateway


def run(gw: LiveGateway, case: str) -> dict[str, Any]:
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(NODE_DIR / "clients.mjs"), gw.url, case],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_node_openai_responses(gw: LiveGateway) -> None:
    got = run(gw, "openai-responses")
    assert got["text"] == "echo: hi | system: Be brief | turns: 1"
    assert got["streamed"] == "echo: again | turns: 1"
    assert got["types"][0] == "response.created" and got["types"][-1] == "response.completed"
    assert got["retrieved"] is True


def test_node_anthropic_messages(gw: LiveGateway) -> None:
    got = run(gw, "anthropic-messages")
    assert got == {
        "text": "echo: hi | turns: 1",
        "stop": "end_turn",
        "streamed": "echo: again | turns: 1",
        "final": "end_turn",
    }


def test_vercel_ai_sdk(gw: LiveGateway) -> None:
    got = run(gw, "ai-sdk")
    assert got["text"] == "echo: hi | turns: 1" and got["streamed"] == "echo: again | turns: 1"
    assert got["finish"] == "stop"
    assert {r["endpoint"] for r in gw.usage_rows()} == {"/v1/responses"}
