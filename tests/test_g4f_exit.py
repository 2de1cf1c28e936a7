"""No noise at exit: a client never closed (as every g4f example leaves it) leaves no warning
and no open socket when the program ends. Each case runs as its own interpreter, with
ResourceWarnings shown, against a fake OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap

import pytest

from tests.fakes import FakeServer
from tests.fakes import openai as oai

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="counts sockets through /proc"
)

SOCKETS = """
import os

def sockets():
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return count

before = sockets()
"""

ASYNC_PROGRAM = """
import asyncio
from polymux.client import AsyncClient

async def main():
    client = AsyncClient(base_url=URL, api_key="k")
    response = await client.chat.completions.create(model="m", messages="hi")
    stream = client.chat.completions.create(model="m", messages="hi", stream=True)
    pieces = [c.choices[0].delta.content async for c in stream if c.choices]
    print(response.choices[0].message.content, "".join(p or "" for p in pieces))

asyncio.run(main())
"""

SYNC_PROGRAM = """
from polymux.client import Client

client = Client(base_url=URL, api_key="k")
print(client.chat.completions.create(model="m", messages="hi").choices[0].message.content)
for chunk in client.chat.completions.create(model="m", messages="hi", stream=True):
    pass
"""


async def _run(program: str, url: str) -> tuple[str, str]:
    code = f"URL = {url!r}\n" + textwrap.dedent(SOCKETS) + textwrap.dedent(program)
    code += "\nimport gc; gc.collect()\nprint('open sockets:', sockets() - before)\n"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "default",
        "-c",
        code,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode(), err.decode()


@pytest.mark.parametrize("program", [ASYNC_PROGRAM, SYNC_PROGRAM], ids=["async", "sync"])
async def test_unclosed_client_leaves_no_warning_and_no_socket(
    server: FakeServer, program: str
) -> None:
    hello = oai.reply("Hello")
    server.script("POST", oai.CHAT, hello, oai.stream_text(["Hel", "lo"]), hello)
    out, err = await _run(program, server.url("/v1"))
    assert err == ""
    assert out.startswith("Hello")
    # the async program ends its loop with asyncio.run; the sync one's client is still alive
    if program is ASYNC_PROGRAM:
        assert "open sockets: 0" in out


async def test_from_polymux_import_provider_is_the_module_in_a_fresh_interpreter() -> None:
    code = (
        "from polymux import Provider\n"
        "import polymux.Provider as module\n"
        "from polymux.Provider import OpenaiChat\n"
        "assert Provider is module and OpenaiChat.__module__ == 'polymux.Provider'\n"
        "print('ok')\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert out.decode().strip() == "ok", err.decode()
