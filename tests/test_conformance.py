"""The cross-provider conformance matrix: one table of cases, run against every provider that
declares the capability each case needs, each provider behind a fake server that speaks its
own wire format and answers from the request (tests/fakes/brain.py). Besides the answer, each
case checks the upstream request shape of each provider (``SHAPES``).
"""

from __future__ import annotations

import base64
import json as jsonlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from openai.types.chat import ChatCompletion as OpenAICompletion
from openai.types.chat import ChatCompletionChunk as OpenAIChunk

from polymux import AsyncClient
from polymux.providers import Provider
from polymux.providers.anthropic import Anthropic
from polymux.providers.bedrock import Bedrock
from polymux.providers.cohere import Cohere
from polymux.providers.gemini import Gemini
from polymux.providers.ollama import Ollama
from polymux.providers.openai import OpenAICompatible
from polymux.providers.pollinations import Pollinations
from polymux.providers.vertex import VertexGemini
from tests.fakes import FakeServer, smart_native
from tests.fakes import anthropic as fake_anthropic
from tests.fakes import bedrock as fake_bedrock
from tests.fakes import cohere as fake_cohere
from tests.fakes import gemini as fake_gemini
from tests.fakes import ollama as fake_ollama
from tests.fakes import pollinations as fake_openai
from tests.fakes.brain import SAMPLE_STRING
from tests.fakes.server import Recorded, text
from tests.support import WEATHER

PNG = b"\x89PNG\r\n\x1a\n" + b"\x05" * 57
IMAGE_PATH = "/images/cat.png"
CITY_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "city",
        "schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
VERTEX_PATH = "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash"


# -- targets: a provider behind its fake -----------------------------------------------------
@dataclass
class Target:
    name: str
    chat_paths: tuple[str, ...]
    action: Callable[[], Any]
    make: Callable[[FakeServer], Provider]
    vision: bool = True
    tools: bool = True
    json_schema: bool = True


TARGETS = [
    Target(
        "openai-compatible",
        ("/v1/chat/completions",),
        fake_openai.smart_chat,
        lambda s: OpenAICompatible(base_url=s.url("/v1"), api_key="sk-test"),
    ),
    Target(
        "ollama",
        (fake_ollama.CHAT,),
        fake_ollama.smart_chat,
        lambda s: Ollama(base_url=s.url()),
    ),
    Target(
        "pollinations",
        (fake_openai.LEGACY_CHAT,),
        fake_openai.smart_chat,
        lambda s: Pollinations(text_url=s.url(), image_url=s.url()),
    ),
    Target(
        "anthropic",
        (fake_anthropic.MESSAGES,),
        smart_native.anthropic_smart,
        lambda s: Anthropic(api_key="sk-ant-test", base_url=s.url()),
    ),
    Target(
        "gemini",
        (fake_gemini.generate_path(), fake_gemini.stream_path()),
        smart_native.gemini_smart,
        lambda s: Gemini(api_key="gm-test", base_url=s.url("/v1beta")),
    ),
    Target(
        "cohere",
        (fake_cohere.CHAT,),
        fake_cohere.smart_chat,
        lambda s: Cohere(api_key="co-test", base_url=s.url()),
        vision=False,  # only its vision models read images
    ),
    Target(
        "bedrock",
        (f"/model/{BEDROCK_MODEL}/converse", f"/model/{BEDROCK_MODEL}/converse-stream"),
        fake_bedrock.smart_converse,
        lambda s: Bedrock(api_key="bedrock-key", base_url=s.url(), region="us-east-1"),
    ),
    Target(
        "vertex",
        tuple(VERTEX_PATH + m for m in (":generateContent", ":streamGenerateContent")),
        smart_native.gemini_smart,
        lambda s: VertexGemini(api_key="ya29.test", project="p", base_url=s.url()),
    ),
]


# -- cases -----------------------------------------------------------------------------------
@dataclass
class Ctx:
    server: FakeServer
    client: AsyncClient

    @property
    def image_url(self) -> str:
        return self.server.url(IMAGE_PATH)

    def sent(self, target: Target) -> list[dict[str, Any]]:
        return [r.json for r in self.chat_requests(target)]

    def chat_requests(self, target: Target) -> list[Recorded]:
        return [r for r in self.server.requests if r.path in target.chat_paths]


async def complete(ctx: Ctx, **kwargs: Any) -> Any:
    response = await ctx.client.chat.completions.create(model="", **kwargs)
    OpenAICompletion.model_validate(response.model_dump())
    return response


async def stream(ctx: Ctx, **kwargs: Any) -> list[Any]:
    chunks = [c async for c in await ctx.client.chat.completions.create(stream=True, **kwargs)]
    for c in chunks:
        OpenAIChunk.model_validate(c.model_dump())
    return chunks


def content(response: Any) -> str:
    return str(response.choices[0].message.content)


async def plain(ctx: Ctx) -> None:
    assert content(await complete(ctx, messages="hello there")) == "echo: hello there | turns: 1"


async def system_prompt(ctx: Ctx) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert content(await complete(ctx, messages=messages)) == (
        "echo: hi | system: Be brief. | turns: 1"
    )


async def multi_turn(ctx: Ctx) -> None:
    messages = [
        {"role": "user", "content": "my name is Ada"},
        {"role": "assistant", "content": "Hello Ada"},
        {"role": "user", "content": "what is my name?"},
    ]
    assert content(await complete(ctx, messages=messages)) == "echo: what is my name? | turns: 2"


async def vision_url(ctx: Ctx) -> None:
    response = await complete(ctx, messages="what is this?", image=ctx.image_url)
    assert content(response) == f"echo: what is this? | images: image/png:{len(PNG)} | turns: 1"


async def vision_bytes(ctx: Ctx) -> None:
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "and this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64," + b64(PNG)}},
            ],
        }
    ]
    response = await complete(ctx, messages=messages)
    assert content(response) == f"echo: and this? | images: image/png:{len(PNG)} | turns: 1"


async def tools_one_turn(ctx: Ctx) -> None:
    response = await complete(ctx, messages="weather in Paris?", tools=[WEATHER])
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.id and call.type == "function" and call.function.name == "get_weather"
    assert jsonlib.loads(call.function.arguments) == {"city": SAMPLE_STRING}


async def tools_two_turns(ctx: Ctx) -> None:
    first = await complete(ctx, messages="weather in Paris?", tools=[WEATHER])
    call = first.choices[0].message.tool_calls[0]
    messages = [
        {"role": "user", "content": "weather in Paris?"},
        first.choices[0].message,
        {"role": "tool", "tool_call_id": call.id, "content": "11 degrees"},
    ]
    second = await complete(ctx, messages=messages, tools=[WEATHER])
    assert content(second) == "tool said: 11 degrees"
    assert second.choices[0].finish_reason == "stop"


async def streaming_tools(ctx: Ctx) -> None:
    chunks = await stream(ctx, messages="weather in both?", tools=[WEATHER, weather_tool("time")])
    calls: dict[int, dict[str, str]] = {}
    for c in chunks:
        for d in (c.choices[0].delta.tool_calls or ()) if c.choices else ():
            call = calls.setdefault(d.index, {"id": "", "name": "", "arguments": ""})
            call["id"] = call["id"] or d.id or ""
            call["name"] = call["name"] or (d.function.name or "")
            call["arguments"] += d.function.arguments or ""
    assert [c["name"] for c in calls.values()] == ["get_weather", "time"]
    assert all(c["id"] for c in calls.values()) and len({c["id"] for c in calls.values()}) == 2
    assert all(jsonlib.loads(c["arguments"]) == {"city": SAMPLE_STRING} for c in calls.values())
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


async def json_schema(ctx: Ctx) -> None:
    response = await complete(ctx, messages="where?", response_format=CITY_SCHEMA)
    assert jsonlib.loads(content(response)) == {"city": SAMPLE_STRING}


async def stop(ctx: Ctx) -> None:
    response = await complete(ctx, messages="say one two STOP three", stop=["STOP"])
    assert content(response) == "echo: say one two "
    assert response.choices[0].finish_reason == "stop"


async def usage(ctx: Ctx) -> None:
    response = await complete(ctx, messages="count my words please")
    assert response.usage.estimated is None  # the provider's own counts
    assert response.usage.prompt_tokens == 5  # words + 1 per turn, as the fake counts
    assert response.usage.completion_tokens == len(content(response).split())
    chunks = await stream(
        ctx, messages="count my words please", stream_options={"include_usage": True}
    )
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == 5
    assert chunks[-1].usage.estimated is None


def weather_tool(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {**WEATHER["function"], "name": name}}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass
class Case:
    run: Callable[[Ctx], Any]
    needs: tuple[str, ...] = ()
    name: str = field(default="")


CASES = [
    Case(plain),
    Case(system_prompt),
    Case(multi_turn),
    Case(vision_url, ("vision",)),
    Case(vision_bytes, ("vision",)),
    Case(tools_one_turn, ("tools",)),
    Case(tools_two_turns, ("tools",)),
    Case(streaming_tools, ("tools",)),
    Case(json_schema, ("json_schema",)),
    Case(stop),
    Case(usage),
]


# -- upstream request shapes, per provider family --------------------------------------------
def openai_shape(case: str, sent: list[dict[str, Any]], ctx: Ctx) -> None:
    body = sent[0]
    if case == "system_prompt":
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    elif case == "vision_url":  # OpenAI-dialect hosts fetch URLs themselves
        assert body["messages"][0]["content"][1] == {
            "type": "image_url",
            "image_url": {"url": ctx.image_url},
        }
    elif case == "tools_two_turns":
        call = sent[1]["messages"][1]["tool_calls"][0]
        assert isinstance(call["function"]["arguments"], str)
        assert sent[1]["messages"][2]["tool_call_id"] == call["id"]
    elif case == "json_schema":
        assert body["response_format"] == CITY_SCHEMA
    elif case == "stop":
        assert body["stop"] == ["STOP"]
    elif case == "streaming_tools":
        assert body["stream"] is True and body["tools"][0] == WEATHER


def ollama_shape(case: str, sent: list[dict[str, Any]], ctx: Ctx) -> None:
    body = sent[0]
    assert body["stream"] is (case in ("streaming_tools",))
    if case == "system_prompt":
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    elif case in ("vision_url", "vision_bytes"):  # downloaded, sent as bare base64
        assert body["messages"][0]["images"] == [b64(PNG)]
    elif case == "tools_two_turns":
        assistant, tool = sent[1]["messages"][1:3]
        assert assistant["tool_calls"][0]["function"]["arguments"] == {"city": SAMPLE_STRING}
        assert tool["tool_name"] == "get_weather"
    elif case == "json_schema":
        assert body["format"] == CITY_SCHEMA["json_schema"]["schema"]  # type: ignore[index]
    elif case == "stop":
        assert body["options"]["stop"] == ["STOP"]


def anthropic_shape(case: str, sent: list[dict[str, Any]], ctx: Ctx) -> None:
    body = sent[0]
    assert body["max_tokens"] > 0  # required by the Messages API, supplied when not given
    if case == "system_prompt":
        system = body["system"]
        assert (system if isinstance(system, str) else system[0]["text"]) == "Be brief."
        assert [m["role"] for m in body["messages"]] == ["user"]
    elif case == "vision_bytes":
        image = body["messages"][0]["content"][1]
        assert image["source"] == {"type": "base64", "media_type": "image/png", "data": b64(PNG)}
    elif case == "tools_one_turn":
        assert body["tools"][0]["input_schema"] == WEATHER["function"]["parameters"]
    elif case == "tools_two_turns":
        use = sent[1]["messages"][1]["content"][-1]
        result = sent[1]["messages"][2]["content"][0]
        assert use["type"] == "tool_use" and use["input"] == {"city": SAMPLE_STRING}
        assert result["type"] == "tool_result" and result["tool_use_id"] == use["id"]
    elif case == "json_schema":  # forced through a tool
        assert body["tool_choice"]["type"] == "tool"
    elif case == "stop":
        assert body["stop_sequences"] == ["STOP"]


def gemini_shape(case: str, sent: list[dict[str, Any]], ctx: Ctx) -> None:
    body = sent[0]
    if case == "system_prompt":
        assert body["systemInstruction"]["parts"][0]["text"] == "Be brief."
    elif case in ("vision_url", "vision_bytes"):  # Gemini takes images inline only
        parts = body["contents"][0]["parts"]
        assert {"inlineData": {"mimeType": "image/png", "data": b64(PNG)}} in parts
    elif case == "tools_two_turns":
        parts = [p for c in sent[1]["contents"] for p in c["parts"]]
        assert any(p.get("functionCall", {}).get("args") == {"city": SAMPLE_STRING} for p in parts)
        assert any(p.get("functionResponse", {}).get("name") == "get_weather" for p in parts)
    elif case == "json_schema":
        config = body["generationConfig"]
        assert config["responseMimeType"] == "application/json"
    elif case == "stop":
        assert body["generationConfig"]["stopSequences"] == ["STOP"]


def cohere_shape(case: str, sent: list[dict[str, Any]], ctx: Ctx) -> None:
    body = sent[0]
    if case == "system_prompt":
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    elif case == "tools_two_turns":
        assistant, tool = sent[1]["messages"][1:3]
        call = assistant["tool_calls"][0]
        assert jsonlib.loads(call["function"]["arguments"]) == {"city": SAMPLE_STRING}
        assert tool == {"role": "tool", "tool_call_id": call["id"], "content": tool["content"]}
    elif case == "json_schema":
        assert body["response_format"] == {
            "type": "json_object",
            "json_schema": CITY_SCHEMA["json_schema"]["schema"],  # type: ignore[index]
        }
    elif case == "stop":
        assert body["stop_sequences"] == ["STOP"]


def bedrock_shape(case: str, sent: list[dict[str, Any]], ctx: Ctx) -> None:
    body = sent[0]
    if case == "system_prompt":
        assert body["system"] == [{"text": "Be brief."}]
    elif case in ("vision_url", "vision_bytes"):  # downloaded, sent as bytes
        image = body["messages"][0]["content"][1]
        assert image == {"image": {"format": "png", "source": {"bytes": b64(PNG)}}}
    elif case == "tools_two_turns":
        use = sent[1]["messages"][1]["content"][-1]["toolUse"]
        result = sent[1]["messages"][2]["content"][0]["toolResult"]
        assert use["input"] == {"city": SAMPLE_STRING}
        assert result["toolUseId"] == use["toolUseId"]
    elif case == "json_schema":  # forced through a tool, as for Anthropic
        assert body["toolConfig"]["toolChoice"] == {"tool": {"name": "json_response"}}
    elif case == "stop":
        assert body["inferenceConfig"]["stopSequences"] == ["STOP"]


SHAPES: dict[str, Callable[[str, list[dict[str, Any]], Ctx], None]] = {
    "openai-compatible": openai_shape,
    "ollama": ollama_shape,
    "pollinations": openai_shape,
    "anthropic": anthropic_shape,
    "gemini": gemini_shape,
    "cohere": cohere_shape,
    "bedrock": bedrock_shape,
    "vertex": gemini_shape,
}


def _params() -> list[Any]:
    out = []
    for target in TARGETS:
        for case in CASES:
            missing = [need for need in case.needs if not getattr(target, need)]
            marks = [pytest.mark.skip(reason=f"{target.name} lacks {missing}")] if missing else []
            out.append(
                pytest.param(target, case, id=f"{target.name}-{case.run.__name__}", marks=marks)
            )
    return out


@pytest.mark.parametrize(("target", "case"), _params())
async def test_conformance(target: Target, case: Case) -> None:
    async with FakeServer() as server:
        for path in target.chat_paths:
            server.script("POST", path, target.action())
        server.script("GET", IMAGE_PATH, text(200, PNG, content_type="image/png"))
        provider = target.make(server)
        caps = provider.capabilities_for(provider.resolve_model(""))
        for need in case.needs:  # the table's flags must match what the provider declares
            assert getattr(caps, need), f"{target.name} does not declare {need}"
        async with AsyncClient(
            provider=provider, max_retries=0, timeout=10, allow_private_image_urls=True
        ) as client:
            ctx = Ctx(server, client)
            await case.run(ctx)
        SHAPES[target.name](case.run.__name__, ctx.sent(target), ctx)
