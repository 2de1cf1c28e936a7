"""The web chat's figures: page weight, time to interactive, and the cost of rendering a long
streamed answer, in Debian's chromium (headless) against a live gateway on 127.0.0.1.

    .venv/bin/python benchmarks/web_page.py [--loads 15] [--tokens 2000]

- Page weight: every file the page loads (the page, its CSS and modules; highlight.js, loaded
  on the first code block, apart), as sent uncompressed and gzipped.
- Time to interactive: navigation start to the page's ready mark (models listed, conversations
  read, the message box focused), the median of fresh-profile loads; the floor, measured in the
  same run, is the load of a bare JSON document from the same gateway (`/health`).
- Streaming: a ``--tokens``-piece markdown answer (paragraphs, lists, code), one piece every
  ``--delay`` seconds; long tasks (>50 ms on the main thread) while it streams are counted with
  a PerformanceObserver. Also the cost of one full render of the finished answer.

The machine's load average is printed first: on a shared machine the timings scale with it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.openai import CHAT, MODELS, models, stream_text
from tests.server_harness import LiveGateway
from tests.web_support import chromium

if TYPE_CHECKING:
    from playwright.sync_api import Page

LONGTASKS = """
window.__longtasks = [];
new PerformanceObserver(list => {
  for (const e of list.getEntries()) window.__longtasks.push([e.startTime, e.duration]);
}).observe({type: 'longtask', buffered: true});
"""

FLOOR = """async (model) => {
    const out = document.createElement('pre');
    document.body.append(out);
    performance.mark('floor-start');
    const res = await fetch('/v1/chat/completions', {
        method: 'POST', headers: {'content-type': 'application/json'},
        body: JSON.stringify({model, stream: true,
                              messages: [{role: 'user', content: 'Write a long answer'}]}),
    });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '', text = '', frame = 0;
    for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\\n\\n')) >= 0) {
            const data = buffer.slice(6, end);
            buffer = buffer.slice(end + 2);
            if (data === '[DONE]') continue;
            text += JSON.parse(data).choices[0]?.delta?.content || '';
            frame ||= requestAnimationFrame(() => { frame = 0; out.textContent = text; });
        }
    }
    performance.mark('floor-end');
    const at = (name) => performance.getEntriesByName(name)[0].startTime;
    return [at('floor-start'), at('floor-end'), window.__longtasks];
}"""

SENTENCE = "The gateway streams each token as it arrives, and the page renders it without blocking."


def long_answer(tokens: int) -> list[str]:
    """About ``tokens`` pieces of mixed markdown, cut the way a model streams (word-sized)."""
    out: list[str] = []
    block = 0
    while len(out) < tokens:
        block += 1
        if block % 5 == 0:
            code = f"```python\ndef step_{block}(x):\n    return x + {block}\n```\n\n"
            out += [code[i : i + 6] for i in range(0, len(code), 6)]
        elif block % 5 == 3:
            out += ["- item ", f"{block} ", "with **bold** ", "text\n"] * 3 + ["\n"]
        else:
            out += [f"{w} " for w in SENTENCE.split()] + ["\n\n"]
    return out[:tokens]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loads", type=int, default=15)
    parser.add_argument("--tokens", type=int, default=2000)
    # 5 ms between tokens: ~200 tokens/s, faster than hosted models stream.
    parser.add_argument("--delay", type=float, default=0.005)
    parser.add_argument("--streams", type=int, default=3)
    args = parser.parse_args()
    pieces = long_answer(args.tokens)
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp, LiveGateway(Path(tmp)) as gw, chromium() as browser:
        gw.upstream.script("GET", MODELS, models("alpha", "beta"))
        gw.upstream.script("POST", CHAT, stream_text(pieces, delay=args.delay))

        # -- page weight ---------------------------------------------------------------------
        context = browser.new_context()
        page = context.new_page()
        loaded: list[str] = []
        page.on("requestfinished", lambda r: loaded.append(r.url))
        page.goto(gw.url + "/")
        page.wait_for_selector("html[data-ready=true]")
        from polymux.server.web import assets

        table = assets()
        initial = sorted(
            {u for u in loaded if u == gw.url + "/" or u.startswith(gw.url + "/static/")}
        )

        def weight(urls: list[str]) -> tuple[int, int]:
            raw = packed = 0
            for url in urls:
                path = url[len(gw.url) :]
                asset = table["index.html" if path in ("/", "/chat") else path[len("/static/") :]]
                raw += len(asset.body)
                packed += len(asset.gzipped() or asset.body)
            return raw, packed

        raw, packed = weight(initial)
        print(
            f"page weight: {len(initial)} files, {raw / 1024:.1f} KiB, {packed / 1024:.1f} KiB gzip"
        )
        hl_raw, hl_packed = weight([gw.url + "/static/vendor/highlight.min.js"])
        print(
            f"  + highlight.js on the first code block: {hl_raw / 1024:.1f} KiB, "
            f"{hl_packed / 1024:.1f} KiB gzip"
        )
        context.close()

        # -- time to interactive -------------------------------------------------------------
        def load_ms(path: str, ready: bool) -> float:
            ctx = browser.new_context()
            p = ctx.new_page()
            p.goto(gw.url + path)
            if ready:
                p.wait_for_selector("html[data-ready=true]")
                value = float(p.evaluate("() => window.polymuxReadyAt"))
            else:
                p.wait_for_load_state("load")
                value = float(
                    p.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd")
                )
            ctx.close()
            return value

        floor = statistics.median(load_ms("/health", False) for _ in range(args.loads))
        tti = statistics.median(load_ms("/", True) for _ in range(args.loads))
        print(
            f"time to interactive: {tti:.0f} ms median of {args.loads} fresh loads "
            f"(floor, a bare JSON document: {floor:.0f} ms; ratio {tti / floor:.1f}x)"
        )

        # -- streaming a long answer ---------------------------------------------------------
        def stream_once() -> tuple[list[float], list[float], str, int, Page]:
            ctx = browser.new_context()
            ctx.add_init_script(LONGTASKS)
            p = ctx.new_page()
            p.goto(gw.url + "/")
            p.wait_for_selector("html[data-ready=true]")
            p.fill("#prompt", "Write a long answer")
            p.keyboard.press("Enter")
            p.wait_for_function(
                "() => document.querySelector('.msg.assistant .meta')?.textContent"
                ".includes('total')",
                timeout=120_000,
            )
            start, end = p.evaluate(
                """() => ['polymux:stream-start', 'polymux:stream-end'].map(
                    name => performance.getEntriesByName(name).at(-1).startTime)"""
            )
            entries = p.evaluate("() => window.__longtasks")
            during = [d for t, d in entries if start <= t < end]
            after = [d for t, d in entries if t >= end]
            meta = p.inner_text(".msg.assistant .meta")
            chars = p.evaluate(
                "() => document.querySelector('.msg.assistant .md').textContent.length"
            )
            return during, after, meta, chars, p

        def floor_once() -> list[float]:
            """The same stream read by a bare loop that shows it as plain text once a frame:
            what showing this stream costs in this browser on this machine right now."""
            ctx = browser.new_context()
            ctx.add_init_script(LONGTASKS)
            p = ctx.new_page()
            p.goto(gw.url + "/")
            p.wait_for_selector("html[data-ready=true]")
            start, end, entries = p.evaluate(FLOOR, model_name)
            ctx.close()
            return [d for t, d in entries if start <= t < end]

        model_name = "alpha"
        for run in range(args.streams):
            floor_tasks = floor_once()
            tasks, after, meta, text, page = stream_once()
            print(
                f"streaming {len(pieces)} tokens, run {run + 1} ({text} characters rendered; "
                f"{meta}): {len(tasks)} long tasks over 50 ms"
                + (f", longest {max(tasks):.0f} ms" if tasks else "")
                + f"; after the stream (final render, highlight.js): {len(after)}; floor (the "
                f"same stream as plain text): {len(floor_tasks)}"
                + (f", longest {max(floor_tasks):.0f} ms" if floor_tasks else "")
            )
            if run < args.streams - 1:
                page.context.close()
        full_ms, step_ms = page.evaluate(
            """async (source) => {
                const { renderMarkdown, renderStreaming } = await import('/static/js/render.js');
                const median = (work) => {
                    const runs = [];
                    for (let i = 0; i < 11; i++) {
                        const t = performance.now();
                        work(i);
                        document.body.offsetHeight;  // the layout it causes, too
                        runs.push(performance.now() - t);
                    }
                    return runs.sort((a, b) => a - b)[5];
                };
                const el = document.createElement('div');
                el.className = 'md';
                document.querySelector('#messages').append(el);
                const full = median(() => renderMarkdown(el, source));
                // One streaming frame near the end: a few more characters of the last block.
                renderStreaming(el, source.slice(0, -40));
                const step = median((i) => renderStreaming(el, source.slice(0, -40 + 3 * (i + 1))));
                el.remove();
                return [full, step];
            }""",
            "".join(pieces),
        )
        print(
            f"  one streaming frame at the end of the answer: {step_ms:.1f} ms; a full render of "
            f"it: {full_ms:.1f} ms (medians of 11, layout included)"
        )
        page.context.close()


if __name__ == "__main__":
    main()
