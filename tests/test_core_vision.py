"""Image inputs in every accepted form reach the provider as normalized ``image_url`` parts."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from polymux import AsyncClient, InvalidRequestError
from polymux.testing import ScriptedProvider

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 24
JPEG = b"\xff\xd8\xff\xe0" + b"\x02" * 24
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()
JPEG_URI = "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()


def image_part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


async def sent_messages(**kwargs: Any) -> list[dict[str, Any]]:
    provider = ScriptedProvider("I see it")
    client = AsyncClient(provider=provider)
    kwargs.setdefault("messages", "What is in this image?")
    response = await client.chat.completions.create(**kwargs)
    assert response.choices[0].message.content == "I see it"
    return provider.requests[0].messages


async def test_image_bytes() -> None:
    assert await sent_messages(image=PNG) == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "What is in this image?"}, image_part(PNG_URI)],
        }
    ]


async def test_image_path_as_str_and_path(tmp_path: Path) -> None:
    file = tmp_path / "photo.jpg"
    file.write_bytes(JPEG)
    for image in (str(file), file):
        messages = await sent_messages(image=image)
        assert messages[0]["content"][1] == image_part(JPEG_URI)


async def test_image_file_object(tmp_path: Path) -> None:
    file = tmp_path / "photo.png"
    file.write_bytes(PNG)
    with file.open("rb") as fh:
        messages = await sent_messages(image=fh)
    assert messages[0]["content"][1] == image_part(PNG_URI)


async def test_image_url_and_data_uri_pass_through() -> None:
    url = "https://example.com/cat.png"
    assert (await sent_messages(image=url))[0]["content"][1] == image_part(url)
    assert (await sent_messages(image=JPEG_URI))[0]["content"][1] == image_part(JPEG_URI)


async def test_data_uri_without_image_type_gets_the_sniffed_one() -> None:
    uri = "data:application/octet-stream;base64," + base64.b64encode(PNG).decode()
    assert (await sent_messages(image=uri))[0]["content"][1] == image_part(PNG_URI)


async def test_g4f_style_pairs_and_several_images(tmp_path: Path) -> None:
    unknown_magic = b"\x00\x01\x02\x03 not sniffable"
    file = tmp_path / "b.png"
    file.write_bytes(PNG)
    messages = await sent_messages(
        images=[[JPEG, "a.jpg"], (unknown_magic, "scan.bmp"), [str(file), "b.png"]]
    )
    content = messages[0]["content"]
    assert content[0] == {"type": "text", "text": "What is in this image?"}
    assert content[1] == image_part(JPEG_URI)
    # bytes of a type the sniffer does not know take it from the name they came with
    assert content[2] == image_part(
        "data:image/bmp;base64," + base64.b64encode(unknown_magic).decode()
    )
    assert content[3] == image_part(PNG_URI)


async def test_image_and_images_together_keep_order() -> None:
    messages = await sent_messages(image=PNG, images=[JPEG])
    assert messages[0]["content"][1:] == [image_part(PNG_URI), image_part(JPEG_URI)]


async def test_images_go_to_the_last_user_message() -> None:
    history = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "and this?"},
    ]
    messages = await sent_messages(messages=history, image=PNG)
    assert messages[1] == {"role": "user", "content": "first"}
    assert messages[3]["content"] == [{"type": "text", "text": "and this?"}, image_part(PNG_URI)]
    # the caller's messages are not modified
    assert history[3] == {"role": "user", "content": "and this?"}


async def test_openai_content_parts_are_normalized() -> None:
    parts = [
        "describe",  # a bare string part becomes a text part
        {"type": "image_url", "image_url": "https://example.com/a.png"},  # the short form
        {"type": "image_url", "image_url": {"url": PNG_URI, "detail": "low"}},
    ]
    messages = await sent_messages(messages=[{"role": "user", "content": parts}])
    assert messages[0]["content"] == [
        {"type": "text", "text": "describe"},
        image_part("https://example.com/a.png"),
        {"type": "image_url", "image_url": {"url": PNG_URI, "detail": "low"}},
    ]


async def test_request_images_reads_them_back() -> None:
    provider = ScriptedProvider("ok")
    client = AsyncClient(provider=provider)
    await client.chat.completions.create(messages="?", images=[PNG, "https://example.com/x.jpg"])
    refs = list(provider.requests[0].images())
    assert refs[0].data == PNG and refs[0].media_type == "image/png"
    assert refs[1].url == "https://example.com/x.jpg" and refs[1].is_remote


async def test_text_file_opened_in_text_mode_is_a_clear_error(tmp_path: Path) -> None:
    file = tmp_path / "photo.png"
    file.write_bytes(PNG)
    provider = ScriptedProvider("x")
    client = AsyncClient(provider=provider)
    with file.open("r", encoding="latin-1") as fh, pytest.raises(InvalidRequestError, match="rb"):
        _ = client.chat.completions.create(messages="?", image=fh)
    assert provider.requests == []


async def test_unreadable_image_file_is_a_clear_error(tmp_path: Path) -> None:
    directory = tmp_path / "dir.png"
    directory.mkdir()
    provider = ScriptedProvider("x")
    client = AsyncClient(provider=provider)
    with pytest.raises(InvalidRequestError, match="image"):
        _ = client.chat.completions.create(messages="?", image=directory)
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_bytes(b"just some text")
    with pytest.raises(InvalidRequestError, match="PNG, JPEG"):
        _ = client.chat.completions.create(messages="?", image=not_an_image)
    with pytest.raises(InvalidRequestError, match="PNG, JPEG"):
        _ = client.chat.completions.create(messages="?", images=[[b"plain text", "fake.jpg"]])
    assert provider.requests == []


async def test_checking_for_vision_does_not_decode_images_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from polymux.types import ImageRef

    provider = ScriptedProvider("ok")
    client = AsyncClient(provider=[ScriptedProvider("x", name="other"), provider])
    parses: list[str] = []
    real_parse = ImageRef.parse

    def counting_parse(url: str) -> ImageRef:
        parses.append(url)
        return real_parse(url)

    monkeypatch.setattr(ImageRef, "parse", staticmethod(counting_parse))
    await client.chat.completions.create(messages="?", image=PNG_URI)
    assert parses == [PNG_URI]  # validated once, when the input was checked
