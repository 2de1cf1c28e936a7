"""``images.edit`` and ``images.create_variation``: multipart uploads to OpenAI's wire format,
Gemini's image models given input images, and ``/v1/images/edits`` and
``/v1/images/variations`` on a live gateway, driven by the official openai SDK."""

from __future__ import annotations

import base64
import warnings
from pathlib import Path
from typing import Any

import openai
import pytest
from aiohttp import web
from openai.types import ImagesResponse as OpenAIImages

from polymux import AsyncClient, InvalidRequestError
from polymux.providers.gemini import Gemini
from polymux.providers.openai import OpenAI

from .fakes import FakeServer, json
from .fakes.gemini import generate_path, response
from .fakes.image_edits import EDITS, PNG, VARIATIONS, image_edits
from .server_harness import LiveGateway


def checked(result: Any) -> OpenAIImages:
    return OpenAIImages.model_validate(result.model_dump())


async def test_an_edit_uploads_the_image_mask_and_fields(
    server: FakeServer, tmp_path: Path
) -> None:
    forms: list[dict[str, Any]] = []
    server.script("POST", EDITS, image_edits(forms))
    mask = tmp_path / "mask.png"
    mask.write_bytes(PNG)
    provider = OpenAI(api_key="sk-edit", base_url=server.url("/v1"))
    async with AsyncClient(provider=provider) as client:
        result = await client.images.edit(
            image=PNG,
            mask=mask,
            prompt="add a hat",
            model="dall-e-2",
            n=2,
            size="256x256",
            response_format="b64_json",
        )
    sdk = checked(result)
    assert [base64.b64decode(d.b64_json or "") for d in sdk.data or ()] == [PNG, PNG]
    (form,) = forms
    assert form["image"] == [("image.png", "image/png", len(PNG))]
    assert form["mask"] == [("mask.png", "image/png", len(PNG))]
    assert (form["prompt"], form["model"], form["n"], form["size"]) == (
        "add a hat",
        "dall-e-2",
        "2",
        "256x256",
    )
    assert form["response_format"] == "b64_json"
    assert server.requests[0].headers["Authorization"] == "Bearer sk-edit"


async def test_several_images_go_as_image_brackets_and_gpt_image_gets_no_format(
    server: FakeServer,
) -> None:
    forms: list[dict[str, Any]] = []
    server.script("POST", EDITS, image_edits(forms))
    provider = OpenAI(api_key="k", base_url=server.url("/v1"))
    async with AsyncClient(provider=provider) as client:
        await client.images.edit(
            image=[PNG, ("b.png", PNG)],
            prompt="merge",
            model="gpt-image-1",
            response_format="b64_json",
            extra_body={"input_fidelity": "high"},
        )
    (form,) = forms
    assert len(form["image[]"]) == 2 and "image" not in form
    assert "response_format" not in form and form["input_fidelity"] == "high"


async def test_a_variation_has_no_prompt(server: FakeServer) -> None:
    forms: list[dict[str, Any]] = []
    server.script("POST", VARIATIONS, image_edits(forms))
    async with AsyncClient(provider=OpenAI(api_key="k", base_url=server.url("/v1"))) as client:
        result = await client.images.create_variation(image=PNG, model="dall-e-2")
    assert result.data[0].url is not None and result.data[0].url.startswith("data:image/png")
    assert "prompt" not in forms[0] and forms[0]["model"] == "dall-e-2"


async def test_gemini_edits_with_inline_images(server: FakeServer) -> None:
    model = "gemini-2.5-flash-image"
    image = {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}}
    server.script("POST", generate_path(model), json(200, response([image])))
    provider = Gemini(api_key="gm", base_url=server.url("/v1beta"))
    async with AsyncClient(provider=provider) as client:
        result = await client.images.edit(image=PNG, prompt="make it blue", size="1024x768")
        with pytest.raises(InvalidRequestError, match="no mask"):
            await client.images.edit(image=PNG, mask=PNG, prompt="x")
        with pytest.raises(InvalidRequestError, match="no image variations"):
            await client.images.create_variation(image=PNG)
    assert result.data[0].url is not None
    body = server.requests[0].json
    parts = body["contents"][0]["parts"]
    assert parts[0] == {"text": "make it blue"}  # the prompt first, as in Google's examples
    assert parts[1]["inlineData"]["data"] == base64.b64encode(PNG).decode()
    assert body["generationConfig"]["imageConfig"] == {"aspectRatio": "4:3"}


@pytest.mark.parametrize(
    ("image", "message"),
    [(b"not an image", "image"), ("https://example.com/a.png", "uploaded"), ([], "image")],
)
async def test_bad_images_are_refused_before_any_call(image: Any, message: str) -> None:
    client = AsyncClient(provider=OpenAI(api_key="k", base_url="http://127.0.0.1:9"))
    with pytest.raises(InvalidRequestError, match=message):
        await client.images.edit(image=image, prompt="x")


def test_the_gateway_takes_edits_and_variations_as_uploads(tmp_path: Path) -> None:
    forms: list[dict[str, Any]] = []
    with LiveGateway(tmp_path) as gw:
        gw.upstream.script("POST", EDITS, image_edits(forms))
        gw.upstream.script("POST", VARIATIONS, image_edits(forms))
        with openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0) as client:
            edited = client.images.edit(
                image=("cat.png", PNG, "image/png"),
                prompt="add a hat",
                model="dall-e-2",
                response_format="b64_json",
            )
            with warnings.catch_warnings():  # this SDK marks variations deprecated
                warnings.simplefilter("ignore", DeprecationWarning)
                varied = client.images.create_variation(image=PNG, n=2, response_format="b64_json")
            with pytest.raises(openai.BadRequestError, match="image"):
                client.images.edit(image=("x.png", b"plain text"), prompt="x")
            with pytest.raises(openai.APIStatusError) as info:
                client.post("/images/edits", body={"prompt": "x"}, cast_to=object)
        rows = gw.usage_rows()
    assert edited.data is not None and varied.data is not None
    assert base64.b64decode(edited.data[0].b64_json or "") == PNG
    assert len(varied.data) == 2
    assert forms[0]["prompt"] == "add a hat" and forms[0]["image"][0][2] == len(PNG)
    assert info.value.status_code == 415
    assert [(r["endpoint"], r["status"]) for r in rows][:3] == [
        ("/v1/images/edits", 200),
        ("/v1/images/variations", 200),
        ("/v1/images/edits", 400),
    ]
    assert [r["images"] for r in rows][:2] == [1, 2]


async def test_an_images_answer_without_data_is_valid_and_empty(server: FakeServer) -> None:
    server.script("POST", "/v1/images/generations", json(200, {"created": 1767225600}))
    async with AsyncClient(provider=OpenAI(api_key="k", base_url=server.url("/v1"))) as client:
        result = await client.images.generate(prompt="a cat", model="gpt-image-1")
    assert checked(result).data == []


async def test_the_sdks_gpt_image_fields_are_named_parameters_sent_as_given(
    server: FakeServer,
) -> None:
    # images.generate/edit take the openai SDK's keywords (background, output_format ...),
    # not a TypeError asking for extra_body; they reach OpenAI's wire as the SDK sends them.
    forms: list[dict[str, Any]] = []
    server.script("POST", EDITS, image_edits(forms))
    bodies: list[Any] = []

    async def generations(request: web.Request) -> web.StreamResponse:
        bodies.append(await request.json())
        answer = {"created": 1, "data": [{"b64_json": base64.b64encode(PNG).decode()}]}
        return web.json_response(answer)

    server.script("POST", "/v1/images/generations", generations)
    provider = OpenAI(api_key="sk-edit", base_url=server.url("/v1"))
    async with AsyncClient(provider=provider) as client:
        await client.images.generate(
            prompt="a fox",
            model="gpt-image-1",
            background="transparent",
            output_format="webp",
            output_compression=80,
            moderation="low",
        )
        await client.images.edit(
            image=PNG,
            prompt="add a hat",
            model="gpt-image-1",
            input_fidelity="high",
            output_format="png",
        )
    (body,) = bodies
    assert (body["background"], body["output_format"]) == ("transparent", "webp")
    assert (body["output_compression"], body["moderation"]) == (80, "low")
    (form,) = forms
    assert (form["input_fidelity"], form["output_format"]) == ("high", "png")
