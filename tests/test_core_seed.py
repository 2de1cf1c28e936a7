"""The seed document's snippets (the g4f AsyncClient docs), run as written with ``g4f`` ->
``polymux`` against providers from ``polymux.testing``.

The snippets are copied verbatim; the only edits are the package name and dropping the
``...`` lines that stand for "other arguments" (they are not valid Python). The seed's
``from g4f.Provider import BingCreateImages, OpenaiChat, Gemini`` names providers of another
issue; here those names are bound to test doubles instead.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import textwrap
from typing import Any

from polymux import AsyncClient
from polymux.testing import ScriptedProvider

PNG = b"\x89PNG\r\n\x1a\n" + b"\x05" * 24
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()

TEXT_COMPLETION = """
response = await client.chat.completions.create(
    model="gpt-3.5-turbo",
    messages=[{"role": "user", "content": "Say this is a test"}],
    ...
)
print(response.choices[0].message.content)
"""

STREAMING = """
stream = client.chat.completions.create(
    model="gpt-4",
    messages=[{"role": "user", "content": "Say this is a test"}],
    stream=True,
    ...
)
async for chunk in stream:
    if chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content or "", end="")
"""

IMAGE_GENERATION = """
response = await client.images.generate(
    model="dall-e-3",
    prompt="a white siamese cat",
    ...
)

image_url = response.data[0].url
"""

GATHER = """
import asyncio

from g4f.client import AsyncClient
from g4f.Provider import BingCreateImages, OpenaiChat, Gemini

async def main():
    client = AsyncClient(
        provider=OpenaiChat,
        image_provider=Gemini,
        # other parameters...
    )

    task1 = client.chat.completions.create(
        model="gpt-3.5-turbo",
        messages=[{"role": "user", "content": "Say this is a test"}],
    )
    task2 = client.images.generate(
        model="dall-e-3",
        prompt="a white siamese cat",
    )
    responses = await asyncio.gather(task1, task2)

    print(responses)

asyncio.run(main())
"""

PROVIDER_IMPORT = "from polymux.Provider import BingCreateImages, OpenaiChat, Gemini"


def adapt(snippet: str) -> str:
    """Only the package name changes; the "..." placeholder lines go."""
    lines = [line for line in snippet.splitlines() if line.strip() != "..."]
    return "\n".join(lines).replace("g4f", "polymux")


async def run_async_snippet(snippet: str, client: AsyncClient) -> tuple[str, dict[str, Any]]:
    """Run a snippet that uses top-level ``await`` with ``client`` in scope."""
    body = textwrap.indent(adapt(snippet), "    ")
    scope: dict[str, Any] = {}
    exec(f"async def __snippet(client):\n{body}\n    return locals()", scope)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        names = await scope["__snippet"](client)
    return out.getvalue(), names


async def test_text_completion_snippet() -> None:
    provider = ScriptedProvider(["This is ", "a test."])
    printed, _ = await run_async_snippet(TEXT_COMPLETION, AsyncClient(provider=provider))
    assert printed == "This is a test.\n"
    request = provider.requests[0]
    assert request.model == "gpt-3.5-turbo"
    assert request.messages == [{"role": "user", "content": "Say this is a test"}]


async def test_streaming_snippet() -> None:
    provider = ScriptedProvider(["This ", "is ", "a ", "test."])
    printed, _ = await run_async_snippet(STREAMING, AsyncClient(provider=provider))
    assert printed == "This is a test."
    assert provider.requests[0].model == "gpt-4"
    assert provider.requests[0].stream is True
    assert provider.active == 0


async def test_image_generation_snippet() -> None:
    provider = ScriptedProvider(images=[PNG])
    _, names = await run_async_snippet(IMAGE_GENERATION, AsyncClient(image_provider=provider))
    assert names["image_url"] == PNG_URL
    assert provider.image_requests[0].model == "dall-e-3"
    assert provider.image_requests[0].prompt == "a white siamese cat"


def test_gather_snippet_runs_as_a_program() -> None:
    code = adapt(GATHER)
    assert PROVIDER_IMPORT in code
    chat = ScriptedProvider("This is a test", name="OpenaiChat")
    images = ScriptedProvider(images=[PNG], name="Gemini")
    code = code.replace(PROVIDER_IMPORT, "# providers bound by the test")
    scope: dict[str, Any] = {
        "__name__": "__main__",
        "OpenaiChat": chat,
        "Gemini": images,
        "BingCreateImages": ScriptedProvider(images=[PNG], name="BingCreateImages"),
    }
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "seed-gather", "exec"), scope)  # runs asyncio.run(main())
    printed = out.getvalue()
    assert "This is a test" in printed
    assert "ChatCompletion(" in printed and "ImagesResponse(" in printed
    assert PNG_URL in printed
    assert chat.requests[0].model == "gpt-3.5-turbo"
    assert images.image_requests[0].model == "dall-e-3"


async def test_gather_of_chat_and_image_in_a_running_loop() -> None:
    """The same as the gather snippet, with the coroutines really running concurrently."""
    chat = ScriptedProvider(["This is ", "a test"], delay=0.01)
    images = ScriptedProvider(images=[PNG])
    client = AsyncClient(provider=chat, image_provider=images)
    completion, generated = await asyncio.gather(
        client.chat.completions.create(model="gpt-3.5-turbo", messages="Say this is a test"),
        client.images.generate(model="dall-e-3", prompt="a white siamese cat"),
    )
    assert completion.choices[0].message.content == "This is a test"
    assert generated.data[0].url == PNG_URL
