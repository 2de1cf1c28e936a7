"""Uploads are streamed, not buffered (transport/multipart.py): a file given as a path or a
file object is read in chunks as it is sent, bytes are sent as the caller's own bytes, the
body has its exact Content-Length, and an upstream on 127.0.0.1 reading it with aiohttp's
multipart parser (not ours) gets every field and the file byte for byte, on a retry too."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import BodyPartReader, web

from polymux import AsyncClient, InvalidRequestError
from polymux.client import audio as audio_module
from polymux.client.audio import audio_file
from polymux.providers.openai import OpenAI
from polymux.transport.multipart import CHUNK, encode_multipart
from polymux.types.uploads import FilePart

SIZE = 9 * 1024 * 1024 + 123  # several chunks, and not a multiple of one


def _content(size: int) -> bytes:
    block = hashlib.sha256(b"polymux").digest() * 64  # 2 KiB that is not all one byte
    return (block * (size // len(block) + 1))[:size]


class _Upstream:
    """OpenAI's transcription endpoint, reading the form as it streams in (aiohttp's
    ``MultipartReader``): each request's fields, file name, size and sha256."""

    def __init__(self, fail_first: bool = False) -> None:
        self.forms: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._fail_first = fail_first

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.headers.append(dict(request.headers))
        form: dict[str, Any] = {}
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            assert isinstance(part, BodyPartReader)
            if part.filename is None:
                form[str(part.name)] = (await part.read()).decode()
                continue
            digest, size = hashlib.sha256(), 0
            while chunk := await part.read_chunk(64 * 1024):
                digest.update(chunk)
                size += len(chunk)
            form[str(part.name)] = (part.filename, size, digest.hexdigest())
        self.forms.append(form)
        if self._fail_first and len(self.forms) == 1:
            return web.json_response({"error": {"message": "busy"}}, status=503)
        return web.json_response({"text": "ok"})


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[_Upstream, str]]:
    fake = _Upstream(fail_first=True)
    app = web.Application()
    app.router.add_post("/v1/audio/transcriptions", fake.handle)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield fake, f"http://127.0.0.1:{port}/v1"
    finally:
        await runner.cleanup()


class _CountingFile(io.FileIO):
    """A binary file that remembers the largest single read asked of it."""

    largest = 0

    def read(self, size: int | None = -1, /) -> bytes:
        asked = 1 << 62 if size is None or size < 0 else size  # the whole file
        self.largest = max(self.largest, asked)
        return super().read(size)


async def test_a_large_file_is_streamed_in_chunks_and_a_retry_resends_it_whole(
    upstream: tuple[_Upstream, str], tmp_path: Path
) -> None:
    fake, base_url = upstream
    data = _content(SIZE)
    clip = tmp_path / "long.wav"
    clip.write_bytes(data)
    want = ("long.wav", SIZE, hashlib.sha256(data).hexdigest())
    provider = OpenAI(api_key="sk-up", base_url=base_url)
    async with AsyncClient(provider=provider, max_retries=1) as client:
        # A path: opened and read when sent (the first attempt gets a 503, the retry 200).
        answer = await client.audio.transcriptions.create(file=clip, model="whisper-1")
        assert answer.text == "ok"  # type: ignore[union-attr]
        assert [f["file"] for f in fake.forms] == [want, want]
        assert fake.forms[1]["model"] == "whisper-1"
        # A file object, part way in: streamed from where it stands, never read whole.
        with _CountingFile(clip) as file:
            file.seek(100)
            await client.audio.transcriptions.create(file=file, model="whisper-1")
            assert 0 < file.largest <= CHUNK
            assert file.tell() == SIZE  # read to its end, from the offset it was at
    tail = ("long.wav", SIZE - 100, hashlib.sha256(data[100:]).hexdigest())
    assert fake.forms[2]["file"] == tail
    for headers in fake.headers:
        assert "Transfer-Encoding" not in headers  # an exact length, as upstreams expect
        assert int(headers["Content-Length"]) > SIZE - 100


async def test_bytes_are_sent_without_a_copy_and_the_length_is_exact() -> None:
    data = _content(3 * CHUNK + 7)
    body = encode_multipart([("model", "whisper-1")], [("file", FilePart(data, "a.mp3"))])
    pieces = [piece async for piece in body.chunks()]
    views = [p for p in pieces if isinstance(p, memoryview)]
    assert views and all(v.obj is data for v in views)  # slices of the caller's bytes
    assert max(len(p) for p in pieces) <= CHUNK
    sent = b"".join(bytes(p) for p in pieces)
    assert len(sent) == body.size
    assert sent.count(data) == 1
    again = b"".join([bytes(p) async for p in body.chunks()])  # each attempt reads afresh
    assert again == sent


async def test_a_file_that_changes_size_while_queued_is_a_clear_error(
    upstream: tuple[_Upstream, str], tmp_path: Path
) -> None:
    _, base_url = upstream
    clip = tmp_path / "clip.mp3"
    clip.write_bytes(_content(CHUNK * 2))
    async with AsyncClient(provider=OpenAI(api_key="k", base_url=base_url)) as client:
        work = client.audio.transcriptions.create(file=clip, model="whisper-1")
        clip.write_bytes(b"short")  # after the size was taken, before it is sent
        with pytest.raises(InvalidRequestError, match="changed size"):
            await work


def test_size_caps_are_checked_before_anything_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(audio_module, "MAX_AUDIO_BYTES", 1000)
    clip = tmp_path / "big.ogg"
    clip.write_bytes(b"\0" * 1001)
    with pytest.raises(InvalidRequestError, match="larger than 1000 bytes"):
        audio_file(clip)
    with _CountingFile(clip) as file, pytest.raises(InvalidRequestError, match="larger than"):
        audio_file(file)
    assert file.largest == 0  # only its size was asked
    with pytest.raises(InvalidRequestError, match="binary mode"):
        audio_file(io.StringIO("text"))
    unnamed = audio_file(io.BytesIO(b"OggS" + b"\0" * 50))
    assert (unnamed.filename, unnamed.size, unnamed.data) == ("audio.ogg", 54, b"")
