"""Issue 16, the library's and the CLI's side: secrets redacted from upstream text, names
encoded into URL paths, linear stream decoders, typed errors for malformed upstream answers,
private files and safe terminal output. (The gateway's side: test_hardening_gateway.py.)"""

from __future__ import annotations

import base64
import os
import stat
import tracemalloc
from pathlib import Path

import orjson
import pytest

from polymux import AsyncClient
from polymux.errors import (
    APIError,
    APIResponseValidationError,
    AuthenticationError,
    BadRequestError,
    InvalidRequestError,
)
from polymux.providers.anthropic import Anthropic
from polymux.providers.fetch_image import fetch_image
from polymux.providers.openai import AzureOpenAI
from polymux.server.store import Store, UsageRecord
from polymux.server.targets import Pinned
from polymux.testing import ScriptedProvider
from polymux.transport import NDJSONDecoder, SSEDecoder
from polymux.transport.redact import redact
from polymux.types import ImageRequest

from .cli_support import clean_env, run_cli
from .fakes import FakeServer, json, stream_bytes
from .fakes.anthropic import message_start
from .fakes.openai import CHAT, IMAGES, reply, stream_text
from .fakes.server import Action

PLAIN_KEY = "plainsecretvalue123"  # shaped like nothing: only knowing it redacts it
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


async def read_stream(client: AsyncClient, model: str) -> None:
    stream = await client.chat.completions.create(model=model, messages="hi", stream=True)
    async for _ in stream:
        pass


# -- 2. secrets in upstream error text ------------------------------------------------------------
def echoing_error(status: int, extra: str = "") -> Action:
    return json(
        status,
        {
            "error": {
                "message": f"bad request; you sent Authorization: Bearer {PLAIN_KEY} {extra}",
                "type": "invalid_request_error",
                "code": "echo",
            },
            "echo": {"headers": {"authorization": f"Bearer {PLAIN_KEY}"}},
        },
    )


async def test_the_providers_own_key_is_redacted_from_status_errors() -> None:
    async with FakeServer() as server:
        server.script("POST", CHAT, echoing_error(400, "and sk-proj-abcdefghijklmnop0123"))
        async with AsyncClient(base_url=server.url("/v1"), api_key=PLAIN_KEY) as client:
            with pytest.raises(BadRequestError) as caught:
                await client.chat.completions.create(model="m", messages="hi")
    exc = caught.value
    seen = str(exc) + exc.message + repr(exc.body) + repr(exc.args)
    assert PLAIN_KEY not in seen
    assert "sk-proj-abcdefghijklmnop0123" not in seen
    assert "[redacted]" in exc.message


async def test_401_bodies_are_not_kept_verbatim() -> None:
    async with FakeServer() as server:
        server.script("POST", CHAT, echoing_error(401))
        async with AsyncClient(base_url=server.url("/v1"), api_key=PLAIN_KEY) as client:
            with pytest.raises(AuthenticationError) as caught:
                await client.chat.completions.create(model="m", messages="hi")
    body = caught.value.body
    assert isinstance(body, dict) and set(body) == {"error"}  # the echoed headers are gone
    assert PLAIN_KEY not in repr(body) + str(caught.value)
    assert body["error"]["code"] == "echo"


async def test_stream_errors_built_from_upstream_text_are_redacted() -> None:
    event = {"error": {"message": "invalid key Bearer abcdefghijklmnop and sk-ant-0123456789abcd"}}
    async with FakeServer() as server:
        server.script("POST", CHAT, stream_bytes([b"data: " + orjson.dumps(event) + b"\n\n"]))
        async with AsyncClient(base_url=server.url("/v1")) as client:
            with pytest.raises(APIError) as caught:
                await read_stream(client, model="m")
    text = str(caught.value) + repr(caught.value.body)
    assert "abcdefghijklmnop" not in text and "sk-ant-0123456789abcd" not in text


@pytest.mark.parametrize("stream", [True, False])
async def test_an_azure_key_echoed_inside_an_answer_is_redacted(stream: bool) -> None:
    """A bare 32-hex-digit Azure key has no recognizable shape: only knowing it redacts it."""
    key = "0123456789abcdef0123456789abcdef"
    event = {"error": {"message": f"upstream failed; api-key was {key}", "code": 500}}
    path = "/openai/deployments/dep/chat/completions"
    async with FakeServer() as server:
        if stream:
            server.script("POST", path, stream_bytes([b"data: " + orjson.dumps(event) + b"\n\n"]))
        else:
            server.script("POST", path, json(200, event))
        provider = AzureOpenAI(base_url=server.url(), api_key=key)
        async with AsyncClient(provider=provider, max_retries=0) as client:
            call = (
                read_stream(client, model="dep")
                if stream
                else client.chat.completions.create(model="dep", messages="hi")
            )
            with pytest.raises(APIError) as caught:
                await call
    assert key not in str(caught.value) + repr(caught.value.body)


async def test_quoted_pieces_of_malformed_answers_are_redacted() -> None:
    """A message quoting a bad chunk, and an Anthropic error event, are upstream text too."""
    secret = "sk-ant-api03-0123456789abcdef"
    bad_chunk = f"data: {{not json, Authorization: Bearer {secret}\n\n".encode()
    error_event = (
        b"event: error\ndata: "
        + orjson.dumps({"type": "error", "error": {"type": "x", "message": f"key {secret}"}})
        + b"\n\n"
    )
    async with FakeServer() as server:
        server.script("POST", CHAT, stream_bytes([bad_chunk]))
        server.script("POST", "/v1/messages", stream_bytes([error_event]))
        async with AsyncClient(base_url=server.url("/v1")) as client:
            with pytest.raises(APIResponseValidationError) as first:
                await read_stream(client, model="m")
        provider = Anthropic(base_url=server.url(), api_key="k" * 20)
        async with AsyncClient(provider=provider) as client:
            with pytest.raises(APIError) as second:
                await read_stream(client, model="claude-x")
    for caught in (first, second):
        assert secret not in str(caught.value) + repr(caught.value.body)
        assert "[redacted]" in str(caught.value)


def test_redaction_shapes() -> None:
    assert redact("Authorization: Bearer abc.def-ghi") == "Authorization: Bearer [redacted]"
    assert redact('{"api-key": "0123456789abcdef"}') == '{"api-key": "[redacted]"}'
    assert redact("key AIzaSyA0123456789abcdefghijklmnopqrs") == "key [redacted]"
    assert redact("x my-own-secret y", ["my-own-secret"]) == "x [redacted] y"
    assert redact("max_tokens is too large for this model") == (
        "max_tokens is too large for this model"
    )


# -- 3. values in URL paths -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "deployment", ["../../../any/path?x=", "a/b", "dep?api-version=1", "dep#x", "..", "a%2fb"]
)
async def test_azure_deployment_names_cannot_leave_their_path_segment(deployment: str) -> None:
    async with FakeServer() as server:
        server.script("POST", "/any/path", json(200, {"leaked": True}))
        provider = AzureOpenAI(base_url=server.url(), api_key=PLAIN_KEY)
        async with AsyncClient(provider=provider) as client:
            with pytest.raises(InvalidRequestError, match="deployment name"):
                await client.chat.completions.create(model=deployment, messages="hi")
        assert server.requests == []


async def test_an_azure_deployment_name_is_one_encoded_segment() -> None:
    async with FakeServer() as server:
        path = "/openai/deployments/my dep/chat/completions"
        server.script("POST", path, reply("ok"))
        provider = AzureOpenAI(base_url=server.url(), api_key=PLAIN_KEY)
        async with AsyncClient(provider=provider) as client:
            answer = await client.chat.completions.create(model="my dep", messages="hi")
        assert answer.choices[0].message.content == "ok"
        assert server.requests[0].path == path  # sent as my%20dep, decoded by the server


# -- 5. files and terminals -----------------------------------------------------------------------
def test_the_database_is_private(tmp_path: Path) -> None:
    db = tmp_path / "new" / "gateway.sqlite3"
    with Store(db) as store:
        store.log_usage([UsageRecord("/v1/chat/completions", 200)])
        files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    loose = tmp_path / "old.sqlite3"
    loose.touch(mode=0o644)
    os.chmod(loose, 0o644)
    Store(loose).close()
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600


def test_usage_escapes_terminal_control_characters(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    hostile = "gpt\x1b]0;owned\x07\x1b[2J"
    with Store(db) as store:
        store.log_usage([UsageRecord("/v1/chat/completions", 200, model=hostile, provider="p")])
    result = run_cli("usage", "--db", str(db), env=clean_env())
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "gpt\\x1b]0;owned\\x07" in result.stdout


def test_providers_masks_a_base_url_password_and_refuses_it_with_a_key() -> None:
    url = "http://user:hunter2pass@127.0.0.1:9/v1"
    result = run_cli("providers", "--json", env=clean_env(OPENAI_BASE_URL=url))
    assert result.returncode == 0, result.stderr
    assert "hunter2pass" not in result.stdout
    (row,) = [r for r in orjson.loads(result.stdout) if r["name"] == "openai"]
    assert row["base_url"] in (None, "http://user:***@127.0.0.1:9/v1")
    keyed = run_cli(
        "providers", "--json", env=clean_env(OPENAI_BASE_URL=url, OPENAI_API_KEY="sk-x-12345678")
    )
    (row,) = [r for r in orjson.loads(keyed.stdout) if r["name"] == "openai"]
    assert not row["usable"] and "credentials" in row["reason"]
    assert "hunter2pass" not in keyed.stdout


def test_a_base_url_with_credentials_and_a_key_is_a_configuration_error() -> None:
    url = "http://user:hunter2pass@127.0.0.1:9/v1"
    result = run_cli(
        "chat", "--base-url", url, "--api-key-env", "MY_KEY", "hi", env=clean_env(MY_KEY="k" * 20)
    )
    assert result.returncode == 3, result.stderr  # EXIT_CONFIG, not 70 (internal error)
    assert "credentials" in result.stderr and "hunter2pass" not in result.stderr


# -- 7. decoders: linear in the length of a line --------------------------------------------------
@pytest.mark.parametrize("decoder", [SSEDecoder, NDJSONDecoder])
def test_a_long_line_in_small_pieces_costs_linear_work(decoder: type) -> None:
    """Each piece of a line without a line break allocates about its own size, not the
    whole line so far (which made 16 MB in 4 KiB pieces cost 34 GB of copying)."""
    piece = b"x" * 4096
    d = decoder()
    d.feed(b"data: " if decoder is SSEDecoder else b'"')
    worst = 0
    tracemalloc.start()
    try:
        for _ in range(512):  # 2 MiB
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            d.feed(piece)
            worst = max(worst, tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()
    assert worst < 64 * 1024, f"one 4 KiB piece allocated {worst} bytes"
    out = d.feed(b"\n\n" if decoder is SSEDecoder else b'"\n')
    assert len(out) == 1
    value = out[0].data if decoder is SSEDecoder else out[0]
    assert len(value) == 512 * 4096


@pytest.mark.parametrize("decoder", [SSEDecoder, NDJSONDecoder])
def test_a_line_over_the_cap_fails_while_held_in_pieces(decoder: type) -> None:
    d = decoder(1000)
    d.feed(b"data: " if decoder is SSEDecoder else b"{")
    with pytest.raises(APIResponseValidationError, match="exceeds 1000 bytes"):
        [d.feed(b"y" * 100) for _ in range(20)]


# -- 11. image URLs -------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["http://[::1", "http://a\\b/x.png", "http://exa mple.com/x"])
async def test_malformed_image_urls_are_invalid_requests(url: str) -> None:
    async with AsyncClient() as client:
        request = ImageRequest(prompt="x", model="", options=client.options)
        with pytest.raises(InvalidRequestError):
            await fetch_image(url, request)


async def test_a_providers_private_image_url_is_its_fault_not_the_callers() -> None:
    async with FakeServer() as server:
        provider = ScriptedProvider(images=[server.url("/img.png")])
        async with AsyncClient(image_provider=provider) as client:
            with pytest.raises(APIResponseValidationError, match="allow_private_image_urls"):
                await client.images.generate(prompt="cat", response_format="b64_json")


# -- 13. what providers send and accept -----------------------------------------------------------
async def test_streamed_calls_ask_for_an_event_stream() -> None:
    async with FakeServer() as server:
        server.script("POST", CHAT, stream_text(["ok"]), reply("ok"))
        async with AsyncClient(base_url=server.url("/v1")) as client:
            await read_stream(client, model="m")
            await client.chat.completions.create(model="m", messages="hi", stream=False)
        assert server.requests[0].headers["Accept"] == "text/event-stream"
        assert server.requests[1].headers["Accept"] == "application/json"


async def test_an_images_answer_without_data_holds_no_image() -> None:
    async with FakeServer() as server:
        server.script("POST", IMAGES, json(200, {"created": 1}))
        async with AsyncClient(base_url=server.url("/v1")) as client:
            response = await client.images.generate(prompt="cat", model="dall-e-3")
    assert response.data == []


# -- 14. malformed Anthropic events; aliases ------------------------------------------------------
@pytest.mark.parametrize(
    "bad",
    [
        {"type": "content_block_delta", "index": 0, "delta": "not an object"},
        {"type": "message_start", "message": ["not", "an", "object"]},
        [1, 2, 3],
    ],
)
async def test_a_malformed_anthropic_event_is_a_validation_error(bad: object) -> None:
    start = message_start()
    pieces = [
        f"event: {start[0]}\ndata: {orjson.dumps(start[1]).decode()}\n\n".encode(),
        b"event: x\ndata: " + orjson.dumps(bad) + b"\n\n",
    ]
    async with FakeServer() as server:
        server.script("POST", "/v1/messages", stream_bytes(pieces))
        provider = Anthropic(base_url=server.url(), api_key="k" * 20)
        async with AsyncClient(provider=provider) as client:
            with pytest.raises(APIResponseValidationError, match="unexpected shape"):
                await read_stream(client, model="claude-x")
        assert server.requests[0].headers["Accept"] == "text/event-stream"


async def test_an_alias_to_a_one_image_per_call_provider_honours_n() -> None:
    inner = ScriptedProvider(images=[PNG])
    inner.images_per_call = 1
    async with AsyncClient(image_provider=Pinned(inner, "img-model")) as client:
        response = await client.images.generate(prompt="cat", n=3, response_format="b64_json")
    assert len(response.data) == 3
    assert [r.n for r in inner.image_requests] == [1, 1, 1]
    assert {r.model for r in inner.image_requests} == {"img-model"}
    assert base64.b64decode(response.data[0].b64_json or "") == PNG
