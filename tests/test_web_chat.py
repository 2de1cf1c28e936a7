"""The web chat in a real browser (Debian's chromium via Playwright) against a live gateway whose
upstream is a fake OpenAI-wire server on 127.0.0.1: what a person does on the page, and what
reaches the upstream as a result. Screenshots of the main states go to tests/artifacts/.
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web

from polymux.server.limits import Limits
from polymux.server.store import Store

from .fakes import FakeServer
from .fakes.openai import CHAT, IMAGES, MODELS, chunk, error, models, stream_text
from .fakes.server import json as json_action
from .fakes.server import sse_data, stream_bytes
from .server_harness import LiveGateway, fake_config
from .web_support import chromium, require_browser, screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, FilePayload, Page

MARKDOWN = (
    "## Plan\n\nSome **bold** text, `inline code` and a [link](https://example.com/docs).\n\n"
    "- first\n- second\n\n| name | value |\n|------|-------|\n| a | 1 |\n\n"
    "```python\ndef double(x):\n    return x * 2\n```\n"
)
CODE = "def double(x):\n    return x * 2\n"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG (large enough to be seen in the screenshots)."""
    row = b"\0" + bytes(rgb) * width
    raw = zlib.compress(row * height)

    def part(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + part(b"IHDR", header) + part(b"IDAT", raw) + part(b"IEND", b"")


PICTURE = png(96, 64, (46, 110, 220))


def pieces(text: str, size: int = 6) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def wait_until(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_browser()
    with chromium() as b:
        yield b


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[LiveGateway]:
    with LiveGateway(tmp_path) as gateway:
        gateway.upstream.script("GET", MODELS, models("alpha", "beta"))
        yield gateway


class Session:
    """One browser context (fresh storage) on the gateway, with its page."""

    def __init__(self, browser: Browser, gw: LiveGateway, **options: Any) -> None:
        self.gw = gw
        self.context: BrowserContext = browser.new_context(
            accept_downloads=True, viewport={"width": 1180, "height": 780}, **options
        )
        self.context.set_default_timeout(10_000)
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=gw.url)
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page: Page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("request", lambda request: self.requests.append(request.url))

    def open(self) -> Page:
        self.page.goto(self.gw.url + "/")
        self.page.wait_for_selector("html[data-ready=true]")
        return self.page

    def send(self, text: str) -> None:
        self.page.fill("#prompt", text)
        self.page.keyboard.press("Enter")

    def wait_answer(self, count: int = 1) -> None:
        """Until ``count`` answers are finished (their meta line shows the total time)."""
        self.page.wait_for_function(
            "n => [...document.querySelectorAll('.msg.assistant .meta')]"
            ".filter(e => e.textContent.includes('total')).length >= n",
            arg=count,
        )

    def chat_bodies(self) -> list[dict[str, Any]]:
        return [r.json for r in self.gw.upstream.requests if r.path == CHAT]

    def close(self) -> None:
        self.context.close()
        assert not self.errors, self.errors
        # Nothing from a CDN or any other host: the page works with no internet.
        elsewhere = [u for u in self.requests if not u.startswith((self.gw.url, "data:", "blob:"))]
        assert not elsewhere, elsewhere


@pytest.fixture
def session(browser: Browser, gw: LiveGateway) -> Iterator[Session]:
    s = Session(browser, gw)
    yield s
    s.close()


def test_an_answer_streams_and_renders_markdown_with_code_copy(session: Session) -> None:
    session.gw.upstream.script("POST", CHAT, stream_text(pieces(MARKDOWN, 3), delay=0.03))
    page = session.open()
    screenshot(page, "01-empty")
    session.send("Make a plan")
    # Mid-stream: part of the answer is on the page while the stop button is up.
    page.wait_for_selector(".msg.assistant .md h2")
    assert page.is_visible("#stop-btn")
    assert "total" not in page.inner_text(".msg.assistant .meta")
    session.wait_answer()
    answer = page.locator(".msg.assistant")
    assert answer.locator(".md h2").inner_text() == "Plan"
    assert answer.locator(".md strong").inner_text() == "bold"
    assert answer.locator(".md li").all_inner_texts() == ["first", "second"]
    assert answer.locator(".md td").all_inner_texts() == ["a", "1"]
    link = answer.locator(".md a")
    assert link.get_attribute("href") == "https://example.com/docs"
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert link.get_attribute("target") == "_blank"
    assert answer.locator(".code-lang").inner_text() == "python"
    assert answer.locator("pre code").inner_text() == CODE
    page.wait_for_selector(".msg.assistant pre code.hljs")  # highlighted once finished
    answer.locator(".copy-code").click()
    assert page.evaluate("navigator.clipboard.readText()") == CODE
    meta = answer.locator(".meta").inner_text()
    # From the stream: model and provider; usage: 9 prompt tokens, one per piece; timings.
    assert "fake-model" in meta and "via fake" in meta
    assert f"9 → {len(pieces(MARKDOWN, 3))} tokens" in meta
    assert "first token" in meta and "total" in meta
    assert page.is_visible("#send-btn") and not page.is_visible("#stop-btn")
    body = session.chat_bodies()[0]
    assert body["messages"] == [{"role": "user", "content": "Make a plan"}]
    assert body["stream"] is True
    screenshot(page, "02-answer")


def test_stop_aborts_and_the_gateway_cancels_the_upstream(session: Session) -> None:
    upstream = session.gw.upstream
    upstream.script("POST", CHAT, stream_text(["word "] * 400, delay=0.05))
    page = session.open()
    session.send("Talk for a long time")
    page.wait_for_function(
        "() => document.querySelector('.msg.assistant .md')?.textContent.length > 20"
    )
    page.keyboard.press("Escape")
    session.wait_answer()
    assert "stopped" in page.inner_text(".msg.assistant .meta")
    # The browser closed its request; the gateway closed its own to the upstream.
    assert wait_until(lambda: upstream.disconnects >= 1)
    assert session.gw.usage_rows()[0]["status"] == 499
    assert page.is_visible("#send-btn")
    screenshot(page, "03-stopped")


def test_switching_model_is_sent_and_remembered(browser: Browser, tmp_path: Path) -> None:
    def configure(upstream: FakeServer) -> Any:
        return replace(fake_config(upstream), aliases={"smart": ("fake/beta",)})

    with LiveGateway(tmp_path, configure) as gw:
        gw.upstream.script("GET", MODELS, models("alpha", "beta"))
        gw.upstream.script("POST", CHAT, stream_text(["ok"]))
        s = Session(browser, gw)
        page = s.open()
        groups = page.eval_on_selector_all("#model-select optgroup", "gs => gs.map(g => g.label)")
        assert groups[0] == "Aliases and fallback groups"
        options = page.eval_on_selector_all("#model-select option", "os => os.map(o => o.value)")
        assert options == ["smart", "alpha", "beta"]
        page.fill("#model-search", "bet")
        assert page.eval_on_selector_all("#model-select option", "os => os.map(o => o.value)") == [
            "beta"
        ]
        page.fill("#model-search", "")
        page.select_option("#model-select", "beta")
        s.send("hi")
        s.wait_answer()
        assert s.chat_bodies()[-1]["model"] == "beta"
        page.reload()
        page.wait_for_selector("html[data-ready=true]")
        assert page.input_value("#model-select") == "beta"
        page.select_option("#model-select", "smart")
        s.send("again")
        s.wait_answer(2)
        # The alias is resolved by the gateway: the upstream gets its target model.
        assert s.chat_bodies()[-1]["model"] == "beta"
        s.close()


@pytest.fixture
def small_images(browser: Browser, tmp_path: Path) -> Iterator[Session]:
    """A session on a gateway that accepts images of up to 64 KiB."""

    def configure(upstream: FakeServer) -> Any:
        return replace(fake_config(upstream), limits=Limits(max_image_bytes=64 * 1024))

    with LiveGateway(tmp_path, configure) as gw:
        gw.upstream.script("GET", MODELS, models("alpha"))
        s = Session(browser, gw)
        yield s
        s.close()


def test_an_attached_image_reaches_the_upstream_as_an_image_part(small_images: Session) -> None:
    session = small_images
    session.gw.upstream.script("POST", CHAT, stream_text(["A red pixel."]))
    page = session.open()
    blue: FilePayload = {"name": "blue.png", "mimeType": "image/png", "buffer": PICTURE}
    page.set_input_files("#attach-file", files=[blue])
    # The page reads the file before it lists it: wait for the list, do not sample it.
    page.wait_for_function("() => document.querySelectorAll('#attachments li').length === 1")
    drop = """([name, b64, size]) => {
        const bytes = b64 ? Uint8Array.from(atob(b64), c => c.charCodeAt(0)) : new Uint8Array(size);
        const data = new DataTransfer();
        data.items.add(new File([bytes], name, {type: 'image/png'}));
        const drop = new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true});
        document.querySelector('.main').dispatchEvent(drop);
    }"""
    # Over this gateway's limit (which the gateway put in the page): refused before upload.
    page.evaluate(drop, ["huge.png", "", 100 * 1024])
    page.wait_for_selector("#alert:not([hidden])")
    assert "huge.png is 100 KB; this gateway accepts images up to 64 KB" in page.inner_text(
        "#alert"
    )
    assert page.locator("#attachments li").count() == 1
    # Dropped and pasted files attach too.
    page.evaluate(drop, ["dropped.png", base64.b64encode(PICTURE).decode(), 0])
    page.wait_for_function("() => document.querySelectorAll('#attachments li').length === 2")
    page.evaluate(
        """b64 => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const data = new DataTransfer();
            data.items.add(new File([bytes], 'pasted.png', {type: 'image/png'}));
            const paste = new ClipboardEvent('paste', {clipboardData: data, bubbles: true});
            document.querySelector('#prompt').dispatchEvent(paste);
        }""",
        base64.b64encode(PICTURE).decode(),
    )
    page.wait_for_function("() => document.querySelectorAll('#attachments li').length === 3")
    screenshot(page, "04-attached")
    session.send("What is in these?")
    session.wait_answer()
    content = session.chat_bodies()[0]["messages"][-1]["content"]
    url = "data:image/png;base64," + base64.b64encode(PICTURE).decode()
    assert content == [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": url}},
        {"type": "image_url", "image_url": {"url": url}},
        {"type": "image_url", "image_url": {"url": url}},
    ]
    assert page.locator(".msg.user .thumbs img").count() == 3


def test_image_mode_generates_and_downloads(session: Session) -> None:
    b64 = base64.b64encode(PICTURE).decode()
    session.gw.upstream.script(
        "POST", IMAGES, json_action(200, {"created": 1, "data": [{"b64_json": b64}]})
    )
    page = session.open()
    page.click("label:has(input[value=image])")
    session.send("a lighthouse at dusk")
    page.wait_for_selector(".generated img")
    assert page.get_attribute(".generated img", "src") == f"data:image/png;base64,{b64}"
    sent = [r.json for r in session.gw.upstream.requests if r.path == IMAGES]
    assert sent[0]["prompt"] == "a lighthouse at dusk"
    with page.expect_download() as download:
        page.click(".generated a:has-text('Download')")
    assert Path(download.value.path()).read_bytes() == PICTURE
    assert download.value.suggested_filename == "polymux-image-1.png"
    assert not session.chat_bodies()  # image mode never calls chat
    screenshot(page, "05-image")


async def held_until_closed(request: web.Request) -> web.StreamResponse:
    """An upstream that never answers, and stops waiting once its client hangs up."""
    for _ in range(3000):
        transport = request.transport
        if transport is None or transport.is_closing():
            break
        await asyncio.sleep(0.01)
    return web.json_response({})


def test_stopping_an_image_cancels_it_at_the_gateway(session: Session) -> None:
    session.gw.upstream.script("POST", IMAGES, held_until_closed)
    page = session.open()
    page.click("label:has(input[value=image])")
    session.send("a slow painting")
    assert wait_until(lambda: any(r.path == IMAGES for r in session.gw.upstream.requests))
    page.keyboard.press("Escape")
    page.wait_for_selector(".msg.assistant .meta:has-text('stopped')")
    [row] = [r for r in session.gw.usage_rows() if r["endpoint"] == "/v1/images/generations"]
    assert row["status"] == 499  # the gateway saw the page go and dropped the upstream call


def test_conversations_survive_reload_and_export_import(
    browser: Browser, session: Session, tmp_path: Path
) -> None:
    session.gw.upstream.script("POST", CHAT, stream_text(["Paris."]))
    page = session.open()
    session.send("Capital of France?")
    session.wait_answer()
    page.reload()
    page.wait_for_selector("html[data-ready=true]")
    assert page.locator(".conv-open").all_inner_texts() == ["Capital of France?"]
    assert page.locator(".msg.assistant .md").inner_text() == "Paris."
    # Rename, then search.
    page.click(".conv [data-action=rename]")
    page.fill("#rename-input", "Geography")
    page.click("#rename-dialog button[value=ok]")
    page.wait_for_function(
        "() => document.querySelector('.conv-open')?.textContent === 'Geography'"
    )
    page.fill("#conv-search", "paris")  # matches the answer's text
    assert page.locator(".conv-open").count() == 1
    page.fill("#conv-search", "tokyo")
    assert page.locator(".conv-open").count() == 0
    page.fill("#conv-search", "")
    with page.expect_download() as download:
        page.click("#export-btn")
    exported = tmp_path / "export.json"
    download.value.save_as(exported)
    data = json.loads(exported.read_text())
    assert data["format"] == "polymux-conversations"
    [conv] = data["conversations"]
    assert conv["title"] == "Geography"
    assert [m["content"] for m in conv["messages"]] == ["Capital of France?", "Paris."]
    # Another browser profile (empty storage) imports the file.
    other = Session(browser, session.gw)
    page2 = other.open()
    assert page2.locator(".conv-open").count() == 0
    page2.set_input_files("#import-file", str(exported))
    page2.wait_for_selector(".conv-open:has-text('Geography')")
    assert page2.locator(".msg.assistant .md").inner_text() == "Paris."
    other.close()
    # Delete (after confirming).
    page.on("dialog", lambda dialog: dialog.accept())
    page.click(".conv [data-action=delete]")
    page.wait_for_selector(".conv-none")
    page.reload()
    page.wait_for_selector("html[data-ready=true]")
    assert page.locator(".conv-open").count() == 0


def test_a_401_asks_for_the_key_and_retries(browser: Browser, tmp_path: Path) -> None:
    with Store(tmp_path / "gateway.sqlite3") as store:
        key = store.create_key("browser")
    with LiveGateway(tmp_path) as gw:
        gw.upstream.script("GET", MODELS, models("alpha"))
        gw.upstream.script("POST", CHAT, stream_text(["signed in"]))
        s = Session(browser, gw)
        page = s.page
        page.goto(gw.url + "/")
        page.wait_for_selector("#key-dialog[open]")
        assert "missing API key" in page.inner_text("#key-reason")
        screenshot(page, "06-key")
        page.fill("#key-input", key)
        page.click("#key-dialog button[value=ok]")
        page.wait_for_selector("html[data-ready=true]")
        # The models call was retried with the key.
        assert page.eval_on_selector_all("#model-select option", "os => os.map(o => o.value)") == [
            "alpha"
        ]
        s.send("hello")
        s.wait_answer()
        assert page.inner_text(".msg.assistant .md") == "signed in"
        assert page.evaluate("localStorage.getItem('polymux.key')") == key
        # Sign out forgets it; the next call asks again.
        page.click("#settings-btn")
        page.click("#sign-out")
        page.click("#settings-dialog button[value=cancel]")
        assert page.evaluate("localStorage.getItem('polymux.key')") is None
        s.send("again")
        page.wait_for_selector("#key-dialog[open]")
        page.click("#key-dialog button[value=cancel]")
        page.wait_for_selector(".msg-error:not([hidden])")
        assert "needs an API key" in page.inner_text(".msg-error:not([hidden])")
        assert [row["key_name"] for row in gw.usage_rows() if row["status"] == 200] == ["browser"]
        s.close()


XSS = (
    "<script>window.__xss = 'script'</script>\n\n"
    "<img src=x onerror=\"window.__xss = 'img'\">\n\n"
    "[click me](javascript:window.__xss='link')\n\n"
    "[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)\n\n"
    "**<svg onload=\"window.__xss = 'svg'\"></svg>** and _<a href=\"javascript:window.__xss='a'\">"
    "raw</a>_\n\n"
    "> <iframe src=\"javascript:window.__xss = 'iframe'\"></iframe>\n\n"
    "![tracker](https://tracker.invalid/pixel.png)\n\n"
    "[x](https://ok.invalid/\" onmouseover=\"window.__xss='attr')\n"
)


@pytest.mark.parametrize("csp", ["enforced", "bypassed"])
def test_untrusted_output_executes_nothing(browser: Browser, gw: LiveGateway, csp: str) -> None:
    # With the CSP bypassed, the sanitizer alone must hold.
    s = Session(browser, gw, bypass_csp=csp == "bypassed")
    gw.upstream.script("POST", CHAT, stream_text(pieces(XSS, 5)))
    page = s.page
    response = page.goto(gw.url + "/")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "connect-src 'self'" in policy and "unsafe" not in policy
    page.wait_for_selector("html[data-ready=true]")
    s.send("show me")
    s.wait_answer()
    md = page.locator(".msg.assistant .md")
    for text in md.locator("a").all():
        text.click()
    page.hover(".msg.assistant .md")
    page.wait_for_timeout(200)
    assert page.evaluate("window.__xss") is None
    dangerous = "script, iframe, svg, [onerror], [onload], [onmouseover], img:not([src^='data:'])"
    assert md.locator(dangerous).count() == 0
    hrefs = md.locator("a[href]").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert all(h.startswith("https://") for h in hrefs), hrefs
    # The raw HTML is shown as text, not dropped silently.
    assert "<script>window.__xss = 'script'</script>" in md.inner_text()
    assert not [u for u in s.requests if not u.startswith(gw.url)], s.requests
    assert page.url == gw.url + "/"
    screenshot(page, f"07-xss-{csp}")
    s.close()


def test_regenerate_and_edit_resend(session: Session) -> None:
    upstream = session.gw.upstream
    upstream.script(
        "POST",
        CHAT,
        stream_text(["first answer"]),
        stream_text(["second answer"]),
        stream_text(["third answer"]),
    )
    page = session.open()
    session.send("question one")
    session.wait_answer()
    page.click(".msg.assistant [data-action=regenerate]")
    page.wait_for_selector(".msg.assistant .md:has-text('second answer')")
    session.wait_answer()
    bodies = session.chat_bodies()
    assert bodies[0]["messages"] == bodies[1]["messages"]
    assert page.locator(".msg.assistant").count() == 1
    page.click(".msg.user [data-action=edit]")
    assert page.input_value("#prompt") == "question one"
    page.fill("#prompt", "question two")
    page.keyboard.press("Enter")
    page.wait_for_selector(".msg.assistant .md:has-text('third answer')")
    session.wait_answer()
    assert session.chat_bodies()[2]["messages"] == [{"role": "user", "content": "question two"}]
    assert page.locator(".msg.user .text").all_inner_texts() == ["question two"]


REASONING = "Let me think about it. The city is Paris, so I ask for its weather."


def test_reasoning_is_collapsed_and_tool_calls_are_shown(session: Session) -> None:
    call = {"index": 0, "id": "call_1", "type": "function"}
    stream = [
        chunk({"role": "assistant", "content": ""}),
        *[chunk({"reasoning_content": p}) for p in pieces(REASONING, 4)],
        chunk({"content": "Checking the weather."}),
        chunk({"tool_calls": [call | {"function": {"name": "get_weather", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Paris"}'}}]}),
        chunk({}, "tool_calls"),
    ]
    session.gw.upstream.script("POST", CHAT, sse_data(stream, delay=0.1))
    page = session.open()
    session.send("weather?")
    # While it streams: collapsed, and it can be opened.
    details = page.locator(".msg.assistant details.reasoning")
    details.locator("summary:has-text('Reasoning…')").wait_for()
    assert details.get_attribute("open") is None
    details.locator("summary").click()
    details.locator(".reasoning-text:has-text('Let me')").wait_for()
    session.wait_answer()
    assert details.locator(".reasoning-text").inner_text() == REASONING
    assert details.get_attribute("open") is not None  # still open, as the person left it
    tool = page.locator(".tool-call")
    assert tool.locator(".tool-name").inner_text() == "Tool call: get_weather"
    assert tool.locator("pre").inner_text() == '{"city": "Paris"}'
    screenshot(page, "08-reasoning-tools")


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (error(429, "slow down", headers={"Retry-After": "7"}), "try again in"),
        (error(500, "upstream broke"), "The provider failed to answer"),
        (error(408, "took too long"), "The provider took too long"),
        # A provider's 401 is not about the page's key (the gateway answers 502): no key
        # dialog, a clear message.
        (error(401, "bad upstream key"), "refused the gateway's credentials"),
    ],
    ids=["429", "502", "504", "upstream-401"],
)
def test_errors_are_explained(session: Session, action: Any, expected: str) -> None:
    session.gw.upstream.script("POST", CHAT, action)
    page = session.open()
    session.send("hi")
    page.wait_for_selector("#alert:not([hidden])")
    assert expected in page.inner_text("#alert")
    assert expected in page.inner_text(".msg-error")
    assert not page.is_visible("#key-dialog")
    # The keyboard stays in the message box, ready for the next try.
    assert page.evaluate("() => document.activeElement.id") == "prompt"


def test_a_stream_failing_midway_keeps_the_text_and_says_why(session: Session) -> None:
    head = [chunk({"role": "assistant", "content": ""})]
    head += [chunk({"content": word}) for word in ("Half ", "an ", "answer")]
    events = [f"data: {json.dumps(c)}\n\n".encode() for c in head]
    session.gw.upstream.script("POST", CHAT, stream_bytes(events, reset_after=4, delay=0.05))
    page = session.open()
    session.send("hi")
    page.wait_for_selector(".msg-error:not([hidden])")
    assert page.inner_text(".msg.assistant .md") == "Half an answer"
    assert "The provider failed to answer" in page.inner_text(".msg-error")


def test_settings_shape_the_request(session: Session) -> None:
    session.gw.upstream.script("POST", CHAT, stream_text(["Ahoy."]))
    page = session.open()
    page.click("#settings-btn")
    page.fill("#set-system", "Answer like a pirate.")
    page.fill("#set-temperature", "0.3")
    page.fill("#set-max-tokens", "77")
    screenshot(page, "11-settings")
    page.click("#settings-save")
    session.send("hello")
    session.wait_answer()
    body = session.chat_bodies()[0]
    assert body["messages"] == [
        {"role": "system", "content": "Answer like a pirate."},
        {"role": "user", "content": "hello"},
    ]
    assert body["temperature"] == 0.3
    assert body["max_tokens"] == 77
    page.reload()  # kept in the browser
    page.wait_for_selector("html[data-ready=true]")
    page.click("#settings-btn")
    assert page.input_value("#set-system") == "Answer like a pirate."


def test_too_large_is_explained(browser: Browser, tmp_path: Path) -> None:
    def configure(upstream: FakeServer) -> Any:
        return replace(fake_config(upstream), limits=Limits(max_body_bytes=2000))

    with LiveGateway(tmp_path, configure) as gw:
        gw.upstream.script("GET", MODELS, models("alpha"))
        s = Session(browser, gw)
        page = s.open()
        s.send("x" * 3000)
        page.wait_for_selector("#alert:not([hidden])")
        assert "Too large for this gateway" in page.inner_text("#alert")
        assert not s.chat_bodies()
        s.close()


def test_phone_layout_keyboard_and_dark_theme(browser: Browser, gw: LiveGateway) -> None:
    gw.upstream.script("POST", CHAT, stream_text(pieces(MARKDOWN)))
    s = Session(browser, gw, color_scheme="dark")
    page = s.page
    page.set_viewport_size({"width": 390, "height": 780})
    s.open()
    assert not page.is_visible("#new-chat")  # the conversation list is a closed drawer
    page.focus("#prompt")
    page.keyboard.type("line one")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("line two")
    assert page.input_value("#prompt") == "line one\nline two"
    page.keyboard.press("Enter")
    s.wait_answer()
    assert page.inner_text(".msg.user .text") == "line one\nline two"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(22, 24, 29)"  # the dark theme, from the system's setting
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing wider than the phone
    screenshot(page, "09-phone-dark")
    page.click("#open-sidebar")
    page.wait_for_function(
        "() => document.querySelector('#sidebar').getBoundingClientRect().x >= 0"
    )
    assert page.get_attribute("#open-sidebar", "aria-expanded") == "true"
    screenshot(page, "10-phone-sidebar")
    page.keyboard.press("Escape")
    assert page.get_attribute("#open-sidebar", "aria-expanded") == "false"
    s.close()


def test_every_control_has_a_name_and_tab_reaches_the_message_box(session: Session) -> None:
    session.gw.upstream.script("POST", CHAT, stream_text(["Done."]))
    page = session.open()
    session.send("hi")
    session.wait_answer()
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('button, input, select, textarea, a[href]')]
            .filter(e => e.offsetParent !== null && e.type !== 'radio')
            .filter(e => !(e.labels?.length || e.getAttribute('aria-label')
                           || e.textContent.trim()))
            .map(e => e.outerHTML)"""
    )
    assert not unnamed, unnamed
    for region in ("#messages[role=log]", "#status[role=status]", "#alert[role=alert]"):
        assert page.locator(region).count() == 1
    # Tab from the message box goes round the page: the skip link, the sidebar, the model
    # picker, the answer's actions, back to the message box.
    page.focus("#prompt")
    names: list[str] = []
    for _ in range(40):
        page.keyboard.press("Tab")
        names.append(
            page.evaluate(
                "() => document.activeElement.id || document.activeElement.textContent.trim()"
            )
        )
        if names[-1] == "prompt":
            break
    assert names[-1] == "prompt", names
    cycle = names[names.index("Skip to the message box") :]
    assert cycle.index("new-chat") < cycle.index("model-select") < cycle.index("Regenerate")


STREAMED = (
    MARKDOWN
    + "\n1. one\n2. two\n\n   still two\n3. three\n\n> quoted\n> more\n\nTitle\n=====\n\n"
    + "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n\n```js\nlet x = 1;\n\nx++;\n```\n\nThe end.\n"
)


def test_streamed_rendering_matches_a_whole_render_at_every_step(session: Session) -> None:
    # The streaming renderer re-renders only the blocks that changed: after every piece, what
    # it shows must be what rendering the text so far in one go shows.
    page = session.open()
    mismatches = page.evaluate(
        """async ([text, size]) => {
            const { renderMarkdown, renderStreaming } = await import('/static/js/render.js');
            const live = document.createElement('div');
            const whole = document.createElement('div');
            const bad = [];
            for (let end = size; end < text.length + size; end += size) {
                const part = text.slice(0, end);
                renderStreaming(live, part);
                renderMarkdown(whole, part);
                if (live.innerHTML !== whole.innerHTML) bad.push(part.length);
            }
            return bad;
        }""",
        [STREAMED, 3],
    )
    assert mismatches == []
