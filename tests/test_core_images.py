"""images.generate: url / b64_json conversions, splitting large n, save_to."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from polymux import (
    AllProvidersFailedError,
    APIResponseValidationError,
    AsyncClient,
    GeneratedImage,
    InvalidRequestError,
    RateLimitError,
)
from polymux.testing import ScriptedProvider
from tests.fakes.server import FakeServer, text

PNG = b"\x89PNG\r\n\x1a\n" + b"\x03" * 24
JPEG = b"\xff\xd8\xff\xe0" + b"\x04" * 24
PNG_B64 = base64.b64encode(PNG).decode()


async def test_bytes_as_url_is_a_data_uri() -> None:
    client = AsyncClient(image_provider=ScriptedProvider(images=[PNG]))
    response = await client.images.generate(model="dall-e-3", prompt="a white siamese cat")
    assert response.data[0].url == "data:image/png;base64," + PNG_B64
    assert response.data[0].b64_json is None
    assert response.provider == "scripted"


async def test_bytes_and_data_uri_as_b64() -> None:
    data_uri = "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()
    client = AsyncClient(image_provider=ScriptedProvider(images=[PNG, data_uri]))
    response = await client.images.generate(prompt="cat", n=2, response_format="b64_json")
    assert [base64.b64decode(d.b64_json or "") for d in response.data] == [PNG, JPEG]
    assert all(d.url is None for d in response.data)


async def test_url_stays_a_url_and_revised_prompt_is_kept() -> None:
    images = [GeneratedImage(url="https://img.example/1.png", revised_prompt="a fluffy cat")]
    client = AsyncClient(image_provider=ScriptedProvider(images=images))
    response = await client.images.generate(prompt="cat")
    assert response.data[0].url == "https://img.example/1.png"
    assert response.data[0].revised_prompt == "a fluffy cat"


async def test_url_as_b64_is_downloaded() -> None:
    async with FakeServer() as server:
        server.script("GET", "/img.png", text(200, PNG, content_type="image/png"))
        server.script(
            "GET", "/page", text(200, "<html>not an image</html>", content_type="text/html")
        )
        provider = ScriptedProvider(images=[server.url("/img.png")])
        # The fake is on loopback, which the guarded downloader refuses unless allowed.
        async with AsyncClient(image_provider=provider, allow_private_image_urls=True) as client:
            response = await client.images.generate(prompt="cat", response_format="b64_json")
            assert response.data[0].b64_json == PNG_B64
            client_bad = AsyncClient(
                image_provider=ScriptedProvider(images=[server.url("/page")]),
                allow_private_image_urls=True,
            )
            with pytest.raises(APIResponseValidationError, match="not an image"):
                await client_bad.images.generate(prompt="cat", response_format="b64_json")
            await client_bad.close()
        assert await server.wait_idle()


async def test_provider_image_urls_on_private_addresses_are_refused_by_default() -> None:
    async with FakeServer() as server:
        server.script("GET", "/img.png", text(200, PNG, content_type="image/png"))
        provider = ScriptedProvider(images=[server.url("/img.png")])
        async with AsyncClient(image_provider=provider) as client:
            # The provider's answer is at fault, not the caller's input (a gateway answers 502).
            with pytest.raises(APIResponseValidationError, match="loopback"):
                await client.images.generate(prompt="cat", response_format="b64_json")
        assert server.requests == []


async def test_n_larger_than_images_per_call_is_split_into_calls() -> None:
    provider = ScriptedProvider(images=[PNG, JPEG])
    provider.images_per_call = 2
    client = AsyncClient(image_provider=provider)
    response = await client.images.generate(prompt="cat", n=5, response_format="b64_json")
    assert len(response.data) == 5
    assert sorted(r.n for r in provider.image_requests) == [1, 2, 2]
    assert {r.prompt for r in provider.image_requests} == {"cat"}


async def test_image_model_defaults_to_the_providers_first_image_model() -> None:
    provider = ScriptedProvider(images=[PNG], image_models=["img-1", "img-2"])
    client = AsyncClient(image_provider=provider)
    await client.images.generate(prompt="cat")
    await client.images.generate(prompt="cat", model="img-2")
    assert [r.model for r in provider.image_requests] == ["img-1", "img-2"]


async def test_params_reach_the_image_provider() -> None:
    provider = ScriptedProvider(images=[PNG])
    client = AsyncClient(image_provider=provider)
    await client.images.generate(
        prompt="cat", size="512x256", quality="hd", style="vivid", extra_body={"steps": 4}
    )
    request = provider.image_requests[0]
    assert request.dimensions == (512, 256)
    assert (request.quality, request.style, request.extra_body) == ("hd", "vivid", {"steps": 4})


async def test_save_to_writes_files_with_generated_names(tmp_path: Path) -> None:
    provider = ScriptedProvider(images=[PNG, JPEG])
    client = AsyncClient(image_provider=provider)
    response = await client.images.generate(
        prompt="../../etc/evil name", n=2, save_to=tmp_path, response_format="b64_json"
    )
    paths = [Path(d.path or "") for d in response.data]
    assert [p.parent for p in paths] == [tmp_path, tmp_path]
    assert [p.suffix for p in paths] == [".png", ".jpg"]
    assert [p.read_bytes() for p in paths] == [PNG, JPEG]
    assert all("evil" not in p.name for p in paths)
    assert len(set(paths)) == 2
    # str works as well as Path, and a second call never overwrites the first
    again = await client.images.generate(prompt="cat", save_to=str(tmp_path))
    assert len(os.listdir(tmp_path)) == 3
    assert again.data[0].url is not None and again.data[0].path is not None


async def test_save_to_a_missing_directory_fails_before_generating(tmp_path: Path) -> None:
    provider = ScriptedProvider(images=[PNG])
    client = AsyncClient(image_provider=provider)
    with pytest.raises(InvalidRequestError, match="save_to"):
        await client.images.generate(prompt="cat", save_to=tmp_path / "missing")
    file = tmp_path / "a-file"
    file.write_text("x")
    with pytest.raises(InvalidRequestError, match="save_to"):
        await client.images.generate(prompt="cat", save_to=file)
    assert provider.image_requests == []


async def test_image_provider_defaults_to_provider_and_falls_back() -> None:
    both = ScriptedProvider("text", images=[PNG], name="both")
    client = AsyncClient(provider=both)
    assert (await client.images.generate(prompt="cat")).provider == "both"

    class Busy(ScriptedProvider):
        async def generate_images(self, request):  # type: ignore[no-untyped-def]
            self.image_requests.append(request)
            raise RateLimitError("busy", status_code=429)

    busy = Busy(images=[PNG], name="busy")
    client = AsyncClient(image_provider=[busy, ScriptedProvider(images=[JPEG], name="spare")])
    response = await client.images.generate(prompt="cat", response_format="b64_json")
    assert response.provider == "spare"
    assert base64.b64decode(response.data[0].b64_json or "") == JPEG
    client = AsyncClient(image_provider=[busy, Busy(images=[PNG], name="busy2")])
    with pytest.raises(AllProvidersFailedError) as info:
        await client.images.generate(prompt="cat")
    assert [name for name, _ in info.value.errors] == ["busy", "busy2"]


async def test_images_create_is_an_alias() -> None:
    client = AsyncClient(image_provider=ScriptedProvider(images=[PNG]))
    response = await client.images.create(prompt="cat")
    assert response.data[0].url is not None
