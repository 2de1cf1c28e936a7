"""``images.edit(..., stream=True, partial_images=N)`` (gpt-image's SSE:
``image_edit.partial_image`` events, then ``image_edit.completed``): the client's async
iterator of events that validate as the openai SDK's ``ImageEditStreamEvent``, and the
gateway relaying the upstream's events whole to the official openai SDK, the completed
image and its tokens in the usage row."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import openai
import pytest
from aiohttp import web
from openai.types import ImageEditStreamEvent
from pydantic import TypeAdapter

from polymux import APIResponseValidationError, AsyncClient, InvalidRequestError
from polymux.providers.openai import OpenAI

from .fakes import FakeServer
from .fakes.audio import multipart_fields
from .server_harness import LiveGateway

EDITS = "/v1/images/edits"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
EVENT = TypeAdapter(ImageEditStreamEvent)
_COMMON = {
    "created_at": 1764460800,
    "size": "1024x1024",
    "quality": "high",
    "background": "opaque",
    "output_format": "png",
}
EVENTS: list[dict[str, Any]] = [
    {
        "type": "image_edit.partial_image",
        "b64_json": base64.b64encode(b"partial %d" % i).decode(),
        "partial_image_index": i,
        **_COMMON,
    }
    for i in range(2)
] + [
    {
        "type": "image_edit.completed",
        "b64_json": base64.b64encode(b"the whole image").decode(),
        **_COMMON,
        "usage": {
            "input_tokens": 50,
            "input_tokens_details": {"image_tokens": 40, "text_tokens": 10},
            "output_tokens": 100,
            "total_tokens": 150,
        },
    }
]


def edit_stream(seen: list[list[tuple[str, str]]], events: list[dict[str, Any]]) -> Any:
    """OpenAI's streamed edit: named events, written in pieces that cut them apart."""

    async def act(request: web.Request) -> web.StreamResponse:
        seen.append(await multipart_fields(request))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        data = b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)
        for i in range(0, len(data), 41):
            await response.write(data[i : i + 41])
        await response.write_eof()
        return response

    return act


async def test_the_client_streams_sdk_shaped_edit_events(server: FakeServer) -> None:
    seen: list[list[tuple[str, str]]] = []
    server.script("POST", EDITS, edit_stream(seen, EVENTS))
    provider = OpenAI(api_key="k", base_url=server.url("/v1"))
    async with AsyncClient(provider=provider) as client:
        stream = client.images.edit(
            image=PNG, prompt="add a hat", model="gpt-image-1", stream=True, partial_images=2
        )
        events = [e async for e in stream]
    assert [e.model_dump() for e in events] == EVENTS
    assert [EVENT.validate_python(e.model_dump()).type for e in events] == [
        "image_edit.partial_image",
        "image_edit.partial_image",
        "image_edit.completed",
    ]
    fields = seen[0]
    assert ("stream", "true") in fields and ("partial_images", "2") in fields
    assert ("prompt", "add a hat") in fields and ("image", "<file image.png>") in fields


async def test_a_cut_edit_stream_is_an_error(server: FakeServer) -> None:
    seen: list[list[tuple[str, str]]] = []
    server.script("POST", EDITS, edit_stream(seen, EVENTS[:1]))
    provider = OpenAI(api_key="k", base_url=server.url("/v1"))
    async with AsyncClient(provider=provider) as client:
        stream = client.images.edit(image=PNG, prompt="x", model="gpt-image-1", stream=True)
        with pytest.raises(APIResponseValidationError, match=r"without image_edit\.completed"):
            _ = [e async for e in stream]


def test_bad_partial_images_are_refused() -> None:
    provider = OpenAI(api_key="k", base_url="http://127.0.0.1:9")
    client = AsyncClient(provider=provider)
    with pytest.raises(InvalidRequestError, match="partial_images"):
        _ = client.images.edit(image=PNG, prompt="x", stream=True, partial_images=5)


def test_the_gateway_relays_the_edit_stream_to_the_sdk(tmp_path: Path) -> None:
    seen: list[list[tuple[str, str]]] = []
    with LiveGateway(tmp_path) as gw:
        gw.upstream.script("POST", EDITS, edit_stream(seen, EVENTS))
        with openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0) as client:
            stream = client.images.edit(
                image=("a.png", PNG, "image/png"),
                prompt="add a hat",
                model="gpt-image-1",
                stream=True,
                partial_images=2,
            )
            events = list(stream)
        rows = gw.usage_rows()
    assert [e.model_dump(exclude_none=True) for e in events] == EVENTS
    assert isinstance(events[-1], openai.types.ImageEditCompletedEvent)
    fields = seen[0]
    assert ("stream", "true") in fields and ("partial_images", "2") in fields
    ((row),) = rows
    assert (row["endpoint"], row["status"], row["stream"], row["images"]) == (
        "/v1/images/edits",
        200,
        1,
        1,
    )
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (50, 100, 150)
