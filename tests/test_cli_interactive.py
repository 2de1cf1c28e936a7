"""``polymux chat`` with no prompt, in a pseudo-terminal, typed into as a user does."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from .cli_support import PY, ROOT, ThreadedFakeServer, clean_env
from .fakes import pollinations
from .fakes.openai import CHAT, error
from .fakes.server import stall

pexpect = pytest.importorskip("pexpect")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")

PROMPT = "> "


@pytest.fixture(scope="module")
def fake() -> Iterator[ThreadedFakeServer]:
    server = ThreadedFakeServer()
    yield server
    server.close()


def _spawn(fake: ThreadedFakeServer, *args: str) -> Any:
    child = pexpect.spawn(
        PY,
        ["-m", "polymux", "chat", "--base-url", fake.base_url, *args],
        env=clean_env(TERM="dumb"),
        cwd=str(ROOT),
        encoding="utf-8",
        timeout=20,
    )
    child.expect_exact("Ctrl-D to quit.")
    child.expect_exact(PROMPT)
    return child


def _say(child: Any, line: str, answer: str) -> None:
    child.sendline(line)
    child.expect_exact(answer)
    child.expect_exact(PROMPT)


def test_a_session_keeps_the_conversation_and_resets(fake: ThreadedFakeServer) -> None:
    fake.script("POST", CHAT, pollinations.smart_chat(size=3))
    fake.requests.clear()
    child = _spawn(fake, "--system", "Be brief")
    _say(child, "hello", "echo: hello | system: Be brief | turns: 1")
    _say(child, "and again", "echo: and again | system: Be brief | turns: 2")
    # The second request carried the whole conversation, answers included.
    messages = fake.requests[-1].json["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == "echo: hello | system: Be brief | turns: 1"
    child.sendline("/reset")
    child.expect_exact("(conversation reset)")
    child.expect_exact(PROMPT)
    _say(child, "fresh start", "echo: fresh start | system: Be brief | turns: 1")
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_ctrl_d_ends_the_session(fake: ThreadedFakeServer) -> None:
    fake.script("POST", CHAT, pollinations.smart_chat())
    child = _spawn(fake)
    _say(child, "hi", "echo: hi | turns: 1")
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_ctrl_c_at_the_prompt_does_not_quit(fake: ThreadedFakeServer) -> None:
    fake.script("POST", CHAT, pollinations.smart_chat())
    child = _spawn(fake)
    child.sendintr()
    child.expect_exact("(Ctrl-D or /exit to quit)")
    child.expect_exact(PROMPT)
    _say(child, "still here", "echo: still here | turns: 1")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_ctrl_c_stops_an_answer_and_the_session_goes_on(fake: ThreadedFakeServer) -> None:
    # The first answer never comes; the user gives up on it and asks again.
    fake.script("POST", CHAT, stall(3, pollinations.smart_chat()), pollinations.smart_chat())
    fake.requests.clear()
    child = _spawn(fake)
    child.sendline("slow one")
    while not fake.requests:  # the request is on its way: interrupt it
        child.expect(pexpect.TIMEOUT, timeout=0.05)
    child.sendintr()
    child.expect_exact("[interrupted]")
    child.expect_exact(PROMPT)
    # Nothing was shown for the interrupted turn, so it is not part of the conversation.
    _say(child, "fast one", "echo: fast one | turns: 1")
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_an_error_is_reported_and_the_turn_can_be_retried(fake: ThreadedFakeServer) -> None:
    fake.script("POST", CHAT, error(400, "context too long"), pollinations.smart_chat())
    child = _spawn(fake)
    child.sendline("first try")
    child.expect_exact("error: openai-compatible: HTTP 400: context too long")
    child.expect_exact(PROMPT)
    _say(child, "second try", "echo: second try | turns: 1")
    child.sendline("/help")
    child.expect_exact("/reset")
    child.expect_exact(PROMPT)
    child.sendline("/nope")
    child.expect_exact("unknown command /nope")
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_images_attach_to_the_next_message(fake: ThreadedFakeServer, tmp_path: object) -> None:
    from pathlib import Path

    picture = Path(str(tmp_path)) / "p.png"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 30
    picture.write_bytes(png)
    fake.script("POST", CHAT, pollinations.smart_chat())
    child = _spawn(fake)
    child.sendline(f"/image {picture}")
    child.expect_exact("(image attached to your next message")
    child.expect_exact(PROMPT)
    _say(child, "what is it", f"echo: what is it | images: image/png:{len(png)} | turns: 1")
    # The image stays in the history, sent once with the message it belongs to.
    _say(child, "and now", f"echo: and now | images: image/png:{len(png)} | turns: 2")
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_image_shows_a_spinner_on_a_terminal_while_waiting(
    fake: ThreadedFakeServer, tmp_path: object
) -> None:
    import base64
    from pathlib import Path

    from .fakes.openai import IMAGES
    from .fakes.server import json as json_action

    png = b"\x89PNG\r\n\x1a\n" + b"\x01" * 30
    body = {"created": 1, "data": [{"b64_json": base64.b64encode(png).decode()}]}
    fake.script("POST", IMAGES, stall(0.6, json_action(200, body)))
    out = Path(str(tmp_path)) / "shown.png"
    child = pexpect.spawn(
        PY,
        ["-m", "polymux", "image", "--base-url", fake.base_url, "a", "cat", "-o", str(out)],
        env=clean_env(TERM="dumb"),
        cwd=str(ROOT),
        encoding="utf-8",
        timeout=20,
    )
    child.expect_exact("generating...")
    child.expect_exact(str(out))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert out.read_bytes() == png
