"""The OpenAI Agents SDK (``openai-agents``) running a one-tool agent against the gateway's
``/v1/responses``, in front of an OpenAI-compatible fake: the agent calls the tool, the
gateway carries the call and its output back and forth, and the agent gets the final text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import agents
import pytest
from openai import AsyncOpenAI

from .fakes import openai as fo
from .fakes import pollinations as smart_openai
from .server_harness import LiveGateway


@pytest.fixture
def gw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveGateway]:
    monkeypatch.setenv("OPENAI_AGENTS_DISABLE_TRACING", "1")  # tracing would call OpenAI
    with LiveGateway(tmp_path) as gateway:
        gateway.upstream.script("POST", fo.CHAT, smart_openai.smart_chat())
        yield gateway


@pytest.mark.parametrize("streamed", [False, True])
async def test_one_tool_agent(gw: LiveGateway, streamed: bool) -> None:
    calls: list[str] = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        calls.append(city)
        return f"18C in {city}"

    client = AsyncOpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)
    agent = agents.Agent(
        name="weather",
        instructions="Answer with the tool.",
        tools=[get_weather],
        model=agents.OpenAIResponsesModel(model="m1", openai_client=client),
    )
    config = agents.RunConfig(tracing_disabled=True)
    result: Any
    if streamed:
        run = agents.Runner.run_streamed(agent, "weather in Paris?", run_config=config)
        async for _ in run.stream_events():
            pass
        result = run
    else:
        result = await agents.Runner.run(agent, "weather in Paris?", run_config=config)
    await client.close()
    assert calls == ["Paris"]
    assert result.final_output == "tool said: 18C in Paris"
    rows = gw.usage_rows()
    assert [r["endpoint"] for r in rows] == ["/v1/responses"] * 2
    assert all(r["status"] == 200 for r in rows)
