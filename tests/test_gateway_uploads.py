"""The gateway's multipart endpoints: an upload is read once into one buffer and its parts are
handed to the upstream as views of it (server/forms.py), so a large upload costs about its
own size in memory, not two or three times it. The bodies are encoded by httpx (the openai
SDK's encoder), the upstream reads them with aiohttp's multipart reader: neither is ours."""

from __future__ import annotations

import base64
import gc
import hashlib
import io
import tracemalloc
import wave
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiohttp import BodyPartReader, web

from polymux import AsyncClient, InvalidRequestError
from polymux.client.image_edits import image_file
from polymux.providers.gemini import Gemini
from polymux.providers.openai import OpenAI
from polymux.server import Gateway, GatewayConfig, create_app
from polymux.server.config import ProviderConfig
from polymux.server.errormap import GatewayHTTPError
from polymux.server.forms import parse_form
from polymux.server.speech_meter import SpeechMeter
from polymux.server.store import Store
from polymux.transport.multipart import form_fields

from .fakes import FakeServer, json
from .fakes.gemini import generate_path, response
from .fakes.image_edits import PNG
from .server_harness import asgi_request, sdk_on

SIZE = 8 * 1024 * 1024


class _Upstream:
    """OpenAI's multipart endpoints, reading each form as it streams in: text fields as text
    (repeated ones as lists), files as (filename, size, sha256)."""

    def __init__(self) -> None:
        self.forms: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        form: dict[str, Any] = {}
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            assert isinstance(part, BodyPartReader)
            name = str(part.name)
            if part.filename is None:
                value = (await part.read()).decode()
                form[name] = [*form[name], value] if name in form else [value]
                continue
            digest, size = hashlib.sha256(), 0
            while chunk := await part.read_chunk(64 * 1024):
                digest.update(chunk)
                size += len(chunk)
            form[name] = (part.filename, size, digest.hexdigest())
        self.forms.append(form)
        if "/audio/" in request.path:
            return web.json_response({"text": "heard", "usage": {"type": "duration", "seconds": 3}})
        return web.json_response({"created": 1, "data": [{"b64_json": _b64(PNG)}]})


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[_Upstream, str]]:
    fake = _Upstream()
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/audio/transcriptions", fake.handle)
    app.router.add_post("/v1/audio/translations", fake.handle)
    app.router.add_post("/v1/images/edits", fake.handle)
    app.router.add_post("/v1/images/variations", fake.handle)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield fake, f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    finally:
        await runner.cleanup()


def gateway_at(base_url: str, tmp_path: Path, **overrides: Any) -> Gateway:
    config = GatewayConfig(
        port=1,
        providers=(ProviderConfig(name="fake", type="openai-compatible", base_url=base_url),),
        max_retries=0,
        **overrides,
    )
    return create_app(config, db_path=tmp_path / "g.db", key_refresh=0)


def form(
    fields: Mapping[str, str | list[str]], files: list[tuple[str, tuple[str, bytes, str]]]
) -> tuple[bytes, str]:
    """A multipart body as the openai SDK's HTTP library (httpx) encodes it."""
    request = httpx.Request("POST", "http://x/", data=fields, files=files)
    return request.read(), request.headers["content-type"]


def _content(size: int, head: bytes = b"") -> bytes:
    block = hashlib.sha256(b"upload").digest() * 64
    return head + (block * (size // len(block) + 1))[: size - len(head)]


async def post(gateway: Gateway, path: str, body: bytes, content_type: str) -> tuple[int, Any]:
    status, _, raw = await asgi_request(
        gateway, "POST", path, raw=body, headers=[("content-type", content_type)]
    )
    return status, orjson.loads(raw) if raw.startswith(b"{") else raw


CASES = {
    "transcription": (
        "/v1/audio/transcriptions",
        {"model": "whisper-1"},
        "file",
        ("speech.mp3", _content(SIZE, b"ID3"), "audio/mpeg"),
    ),
    "image edit": (
        "/v1/images/edits",
        {"model": "gpt-image-1", "prompt": "add a hat"},
        "image",
        ("big.png", _content(SIZE, PNG), "image/png"),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_large_upload_is_held_once_not_copied_again(
    upstream: tuple[_Upstream, str], tmp_path: Path, case: str
) -> None:
    fake, base_url = upstream
    path, fields, key, upload = CASES[case]
    body, content_type = form(fields, [(key, upload)])
    gateway = gateway_at(base_url, tmp_path)
    small, small_type = form(fields, [(key, (upload[0], upload[1][:4096], upload[2]))])
    status, _ = await post(gateway, path, small, small_type)  # warm up: pools, caches
    assert status == 200
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        status, answer = await post(gateway, path, body, content_type)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
        await gateway.aclose()
    assert status == 200, answer
    sent = fake.forms[-1][key]
    assert sent[1:] == (SIZE, hashlib.sha256(upload[1]).hexdigest())  # byte for byte
    # The gateway's one buffer of the body (the test's own copy is not traced), plus slack
    # for the request's bookkeeping: a second copy of the upload would be twice SIZE.
    assert peak < 1.4 * SIZE, f"peak {peak / SIZE:.2f}x the upload"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"no boundary here", "boundary is not in it"),
        (b"--B\r\nContent-Disposition: form-data; name=a\r\n\r\nx", "closing boundary"),
        (b"--B\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--B", "line break"),
        (b"--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B--\r\n", "no name"),
        (
            b"--B\r\nContent-Disposition: form-data; name=a\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\neA==\r\n--B--\r\n",
            "Content-Transfer-Encoding",
        ),
        (b"--B\r\nContent-Disposition: form-data; name=a\r\n\r\n\xff\r\n--B--\r\n", "UTF-8"),
    ],
)
def test_malformed_forms_are_clear_400s(body: bytes, message: str) -> None:
    with pytest.raises(GatewayHTTPError, match=message) as caught:
        parse_form(b"multipart/form-data; boundary=B", bytearray(body))
    assert caught.value.status == 400


def test_parts_are_views_of_the_body_and_fields_are_text() -> None:
    data = _content(100_000)
    raw, content_type = form(
        {"model": "whisper-1", "include[]": ["logprobs", "x"]},
        [("file", ("a.wav", data, "audio/wav"))],
    )
    body = bytearray(raw)
    parsed = parse_form(content_type.encode(), body)
    (upload,) = parsed.files["file"]
    assert isinstance(upload.data, memoryview) and upload.data.obj is body
    assert (bytes(upload.data), upload.filename, upload.media_type) == (data, "a.wav", "audio/wav")
    assert parsed.fields == {"model": ["whisper-1"], "include[]": ["logprobs", "x"]}


# -- client.images.edit: paths streamed from disk, nothing through base64 --------------------
async def test_an_edit_streams_a_path_from_disk_and_reads_a_file_object_once(
    upstream: tuple[_Upstream, str], tmp_path: Path
) -> None:
    fake, base_url = upstream
    data = _content(SIZE, PNG)
    picture = tmp_path / "photo.png"
    picture.write_bytes(data)
    mask = _content(50_000, PNG)
    provider = OpenAI(api_key="sk", base_url=base_url)
    async with AsyncClient(provider=provider) as client:
        await client.images.edit(image=PNG, prompt="warm up", model="gpt-image-1")
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            with io.BytesIO(mask) as mask_file:
                result = await client.images.edit(
                    image=picture, mask=mask_file, prompt="add a hat", model="gpt-image-1"
                )
            peak = tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()
    assert result.data
    form = fake.forms[-1]
    assert form["image"] == ("image.png", SIZE, hashlib.sha256(data).hexdigest())
    assert form["mask"] == ("mask.png", len(mask), hashlib.sha256(mask).hexdigest())
    assert form["prompt"] == ["add a hat"]
    # Read from disk in chunks as it was sent: a data URL (4/3 of it) and its decoded bytes
    # would be over twice the file.
    assert peak < SIZE / 4, f"peak {peak / SIZE:.2f}x the file"


def test_image_inputs_are_checked_without_being_read_whole(tmp_path: Path) -> None:
    picture = tmp_path / "p.png"
    picture.write_bytes(PNG)
    part = image_file(picture)
    assert (part.data, part.source, part.size, part.media_type) == (
        b"",
        str(picture),
        len(PNG),
        "image/png",
    )
    view = image_file(("x.png", memoryview(bytearray(PNG))))
    assert isinstance(view.data, memoryview)  # bytes given are sent as they are
    assert image_file(f"data:image/png;base64,{_b64(PNG)}").data == PNG
    text = tmp_path / "notes.png"
    text.write_bytes(b"not an image at all")
    (tmp_path / "empty.png").write_bytes(b"")
    for bad, message in [
        (text, "not PNG, JPEG, GIF or WebP"),
        (tmp_path / "missing.png", "cannot read image file"),
        (str(tmp_path / "missing.png"), "not an existing file"),
        ("https://example.com/a.png", "must be uploaded"),
        (io.StringIO("x"), "binary mode"),
        (tmp_path / "empty.png", "empty"),
    ]:
        with pytest.raises(InvalidRequestError, match=message):
            image_file(bad, "mask")


async def test_gemini_edits_read_a_path_into_its_inline_part(
    server: FakeServer, tmp_path: Path
) -> None:
    model = "gemini-2.5-flash-image"
    image = {"inlineData": {"mimeType": "image/png", "data": _b64(PNG)}}
    server.script("POST", generate_path(model), json(200, response([image])))
    picture = tmp_path / "photo.png"
    data = _content(300_000, PNG)
    picture.write_bytes(data)
    async with AsyncClient(provider=Gemini(api_key="gm", base_url=server.url("/v1beta"))) as c:
        result = await c.images.edit(image=picture, prompt="make it blue", model=model)
    assert result.data
    parts = server.requests[0].json["contents"][0]["parts"]
    assert parts[1]["inlineData"] == {"mimeType": "image/png", "data": _b64(data)}


# -- form fields: OpenAI's spec accepted and forwarded, others by the pass_through rule ------
async def test_every_spec_field_of_a_transcription_reaches_the_upstream(
    upstream: tuple[_Upstream, str], tmp_path: Path
) -> None:
    fake, base_url = upstream
    gateway = gateway_at(base_url, tmp_path)
    async with sdk_on(gateway) as sdk:
        answer = await sdk.audio.transcriptions.create(
            file=("a.mp3", b"ID3" + b"\0" * 100),
            model="gpt-4o-transcribe",
            chunking_strategy={"type": "server_vad", "threshold": 0.5},
            include=["logprobs"],
            known_speaker_names=["ann", "bob"],
            language="en",
            prompt="names",
            stream=False,
        )
    await gateway.aclose()
    assert answer.text == "heard"
    form = fake.forms[-1]
    assert form["chunking_strategy[type]"] == ["server_vad"]
    assert form["chunking_strategy[threshold]"] == ["0.5"]
    assert form["include[]"] == ["logprobs"]
    assert form["known_speaker_names[]"] == ["ann", "bob"]
    assert (form["language"], form["prompt"], form["model"]) == (
        ["en"],
        ["names"],
        ["gpt-4o-transcribe"],
    )
    assert "stream" not in form  # stream=false is the gateway's one way of answering


async def test_every_spec_field_of_an_edit_reaches_the_upstream(
    upstream: tuple[_Upstream, str], tmp_path: Path
) -> None:
    fake, base_url = upstream
    gateway = gateway_at(base_url, tmp_path)
    async with sdk_on(gateway) as sdk:
        result = await sdk.images.edit(
            image=[("a.png", PNG, "image/png"), ("b.png", PNG, "image/png")],
            prompt="put them together",
            model="gpt-image-1",
            background="transparent",
            input_fidelity="high",
            output_format="webp",
            output_compression=50,
            quality="high",
            partial_images=0,
            size="1024x1024",
        )
    await gateway.aclose()
    assert result.data
    form = fake.forms[-1]
    assert len([k for k in form if k.startswith("image")]) == 1
    expected = {
        "background": ["transparent"],
        "input_fidelity": ["high"],
        "output_format": ["webp"],
        "output_compression": ["50"],
        "quality": ["high"],
        "partial_images": ["0"],
        "size": ["1024x1024"],
    }
    assert {k: form[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("path", "call"),
    [
        ("transcriptions", "audio"),
        ("translations", "audio"),
        ("edits", "image"),
        ("variations", "image"),
    ],
)
async def test_unknown_form_fields_are_400s_unless_the_operator_passes_them(
    upstream: tuple[_Upstream, str], tmp_path: Path, path: str, call: str
) -> None:
    fake, base_url = upstream
    url = f"/v1/audio/{path}" if call == "audio" else f"/v1/images/{path}"
    fields: dict[str, Any] = {"model": "whisper-1" if call == "audio" else "dall-e-2"}
    if path == "edits":
        fields["prompt"] = "x"
    upload = ("file", ("a.mp3", b"ID3" + b"\0" * 10, "audio/mpeg"))
    if call == "image":
        upload = ("image", ("a.png", PNG, "image/png"))
    body, content_type = form({**fields, "service_tier": "priority"}, [upload])
    gateway = gateway_at(base_url, tmp_path)
    status, answer = await post(gateway, url, body, content_type)
    assert status == 400
    assert "service_tier" in answer["error"]["message"]
    assert "pass_through" in answer["error"]["message"]
    # A spec field of one endpoint is not one of another's.
    if path in ("translations", "variations"):
        other = {"chunking_strategy": "auto"} if call == "audio" else {"input_fidelity": "high"}
        body, content_type = form({**fields, **other}, [upload])
        status, answer = await post(gateway, url, body, content_type)
        assert status == 400 and str(next(iter(other))) in answer["error"]["message"]
    # stream=true is refused, clearly, rather than answered as JSON, where the endpoint does
    # not stream (transcriptions and edits do: test_audio_stream.py, test_image_edit_stream.py).
    if path == "variations":
        body, content_type = form({**fields, "stream": "true"}, [upload])
        status, answer = await post(gateway, url, body, content_type)
        assert status == 400 and "stream" in answer["error"]["message"]
    # An unexpected file part is refused too.
    body, content_type = form(fields, [upload, ("extra", ("x.bin", b"x", "text/plain"))])
    status, answer = await post(gateway, url, body, content_type)
    assert status == 400 and "unexpected file 'extra'" in answer["error"]["message"]
    await gateway.aclose()
    assert fake.forms == []  # nothing reached the upstream
    allowing = gateway_at(base_url, tmp_path, pass_through=("service_tier",))
    body, content_type = form({**fields, "service_tier": "priority"}, [upload])
    status, answer = await post(allowing, url, body, content_type)
    await allowing.aclose()
    assert status == 200, answer
    assert fake.forms[-1]["service_tier"] == ["priority"]


def test_extra_fields_are_spelled_in_a_form_as_the_sdk_spells_them() -> None:
    fields = form_fields(
        {
            "include": ["logprobs"],
            "known_speaker_names[]": ["ann", "bob"],
            "chunking_strategy": {"type": "server_vad", "threshold": 0.5},
            "stream": False,
            "output_compression": 50,
            "skipped": None,
        }
    )
    assert fields == [
        ("include[]", "logprobs"),
        ("known_speaker_names[]", "ann"),
        ("known_speaker_names[]", "bob"),
        ("chunking_strategy[type]", "server_vad"),
        ("chunking_strategy[threshold]", "0.5"),
        ("stream", "false"),
        ("output_compression", "50"),
    ]


# -- /v1/audio/speech in the usage log ---------------------------------------------------------
def _wav(seconds: float, rate: int = 24_000, channels: int = 1, streamed: bool = False) -> bytes:
    """A WAV file as Python's ``wave`` module writes it; ``streamed``: its lengths unknown,
    as a server that streams WAV writes them."""
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(channels)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(b"\1\0" * int(seconds * rate) * channels)
    data = bytearray(out.getvalue())
    if streamed:
        data[4:8] = data[40:44] = b"\xff\xff\xff\xff"
    return bytes(data)


@pytest.mark.parametrize(
    ("fmt", "media_type", "audio", "seconds"),
    [
        ("pcm", "audio/pcm", b"\0\1" * 24_000 * 3, 3.0),
        ("pcm", "audio/L16;codec=pcm;rate=16000", b"\0\1" * 16_000, 1.0),
        ("wav", "audio/wav", _wav(2.5), 2.5),
        ("wav", "audio/wav", _wav(1.5, rate=44_100, channels=2), 1.5),
        ("wav", "audio/wav", _wav(2.0, streamed=True), 2.0),
        ("wav", "audio/wav", _wav(2.0) + b"LIST\4\0\0\0abcd", 2.0),  # a chunk after the data
        ("wav", "audio/wav", b"RIFF\0\0\0\0WAVEjunk", None),
        ("mp3", "audio/mpeg", b"ID3" + b"\0" * 5000, None),  # its length needs decoding
        ("pcm", "audio/mpeg", b"\0\1" * 100, None),  # not what was asked for: not counted
    ],
)
def test_speech_seconds_are_counted_only_where_exact(
    fmt: str, media_type: str, audio: bytes, seconds: float | None
) -> None:
    meter = SpeechMeter(fmt, media_type)
    for start in range(0, len(audio), 7):  # pieces that split the header anywhere
        meter.feed(audio[start : start + 7])
    assert meter.seconds() == (pytest.approx(seconds) if seconds is not None else None)


@pytest.mark.parametrize(("fmt", "seconds"), [("pcm", 2.0), ("wav", 1.25), ("mp3", None)])
async def test_speech_usage_has_its_characters_and_exact_seconds(
    tmp_path: Path, fmt: str, seconds: float | None
) -> None:
    audio = {"pcm": b"\0\1" * 48_000, "wav": _wav(1.25), "mp3": b"ID3" + b"\0" * 999}[fmt]

    async def speak(request: web.Request) -> web.StreamResponse:
        assert (await request.json())["response_format"] == fmt
        media_type = {"pcm": "audio/pcm", "wav": "audio/wav", "mp3": "audio/mpeg"}[fmt]
        response = web.StreamResponse(headers={"Content-Type": media_type})
        await response.prepare(request)
        for i in range(0, len(audio), 1000):
            await response.write(audio[i : i + 1000])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/audio/speech", speak)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        gateway = gateway_at(f"http://127.0.0.1:{runner.addresses[0][1]}/v1", tmp_path)
        text = "Bonjour, ça va ? 👋"
        body = {"model": "tts-1", "input": text, "voice": "alloy", "response_format": fmt}
        status, _, raw = await asgi_request(gateway, "POST", "/v1/audio/speech", body)
        await gateway.aclose()
    finally:
        await runner.cleanup()
    assert (status, raw) == (200, audio)
    with Store(tmp_path / "g.db") as store:
        (row,) = store.usage_rows()
    assert row["characters"] == len(text) == 18  # characters, not UTF-8 bytes
    assert row["audio_seconds"] == seconds
