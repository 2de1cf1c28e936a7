"""The official openai Node SDK against a live gateway, for every endpoint it serves
(tests/node/gateway_check.mjs). The gateway fronts a fake OpenAI upstream through the
``openai`` provider, which serves them all. Skipped where Node or the SDK is not installed
(``make venv`` installs the SDK with npm when npm is present)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from polymux.server.config import ProviderConfig

from .fakes import FakeServer
from .fakes.audio import AUDIO, SPEECH, TRANSCRIPTIONS, TRANSLATIONS, heard, speech, transcriptions
from .fakes.completions import COMPLETIONS, answer_for, completions
from .fakes.embeddings import OPENAI as EMBEDDINGS
from .fakes.embeddings import openai_embeddings, vector_for
from .fakes.image_edits import EDITS, PNG, VARIATIONS, image_edits
from .fakes.moderations import MODERATIONS, moderations
from .fakes.openai import CHAT
from .server_harness import LiveGateway, fake_config

NODE_DIR = Path(__file__).parent / "node"
NODE = shutil.which("node")


def chat_either_way() -> Any:
    from .fakes.openai import reply, stream_text

    streamed, whole = stream_text(["Hel", "lo"]), reply("Hello")

    async def act(request: Any) -> Any:
        body = await request.json()
        return await (streamed if body.get("stream") else whole)(request)

    return act


@pytest.mark.skipif(
    NODE is None or not (NODE_DIR / "node_modules" / "openai").is_dir(),
    reason="needs node and tests/node/node_modules (npm install --prefix tests/node)",
)
def test_the_node_sdk_reaches_every_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NODE_CHECK_KEY", "sk-node")

    def configure(upstream: FakeServer) -> Any:
        row = ProviderConfig(
            name="openai", type="openai", base_url=upstream.url("/v1"), api_key_env="NODE_CHECK_KEY"
        )
        return replace(fake_config(upstream), providers=(row,))

    forms: list[dict[str, Any]] = []
    bodies: list[dict[str, Any]] = []
    with LiveGateway(tmp_path, configure) as gw:
        up = gw.upstream
        up.script("POST", CHAT, chat_either_way())
        up.script("POST", EMBEDDINGS, openai_embeddings())
        up.script("POST", COMPLETIONS, completions())
        up.script("POST", MODERATIONS, moderations())
        up.script("POST", EDITS, image_edits(forms))
        up.script("POST", VARIATIONS, image_edits(forms))
        up.script("POST", TRANSCRIPTIONS, transcriptions(forms))
        up.script("POST", TRANSLATIONS, transcriptions(forms))
        up.script("POST", SPEECH, speech(bodies))
        args = [base64.b64encode(PNG).decode(), base64.b64encode(AUDIO).decode()]
        proc = subprocess.run(
            [str(NODE), "gateway_check.mjs", gw.url + "/v1", *args],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        rows = gw.usage_rows()
    out = json.loads(proc.stdout)
    assert out["chat"] == "Hello" and out["chat_stream"] == "Hello"
    assert out["embeddings"] == [vector_for("one"), vector_for("two words")]
    assert out["completion"] == answer_for("Once") and out["completion_stream"] == answer_for("Go")
    assert out["moderation"] is True
    assert base64.b64decode(out["image_edit"]) == PNG and out["image_variations"] == 2
    assert out["transcription"] == out["translation"] == heard("clip.mp3", len(AUDIO))
    assert out["speech_bytes"] == len(AUDIO)
    assert all(row["status"] == 200 for row in rows) and len(rows) == 11
