"""AWS's binary event-stream framing written out, and a Bedrock Converse fake that checks
each request's SigV4 signature with botocore (AWS's own signer) before answering."""

from __future__ import annotations

import json as jsonlib
import struct
import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from unittest import mock

from aiohttp import web

from .server import Action, stream_bytes

#: Header value types of the framing (the ones these tests write).
STRING, BYTES, INT32, BOOL_TRUE = 7, 6, 4, 0


def header(name: str, value: Any, kind: int = STRING) -> bytes:
    raw = name.encode()
    out = bytes([len(raw)]) + raw + bytes([kind])
    if kind in (STRING, BYTES):
        data = value.encode() if isinstance(value, str) else value
        return out + struct.pack(">H", len(data)) + data
    if kind == INT32:
        return out + struct.pack(">i", value)
    return out  # booleans carry no value bytes


def message(headers: Sequence[bytes], payload: bytes) -> bytes:
    head = b"".join(headers)
    total = 12 + len(head) + len(payload) + 4
    prelude = struct.pack(">II", total, len(head))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + head + payload
    return body + struct.pack(">I", zlib.crc32(body))


def event(kind: str, payload: Mapping[str, Any]) -> bytes:
    return message(
        [
            header(":event-type", kind),
            header(":content-type", "application/json"),
            header(":message-type", "event"),
        ],
        jsonlib.dumps({**payload, "p": "abcdefgh"}).encode(),  # AWS pads events with "p"
    )


def exception(kind: str, text: str) -> bytes:
    return message(
        [
            header(":exception-type", kind),
            header(":content-type", "application/json"),
            header(":message-type", "exception"),
        ],
        jsonlib.dumps({"message": text}).encode(),
    )


def text_stream(text: str, *, stop: str = "end_turn") -> list[bytes]:
    return [
        event("messageStart", {"role": "assistant"}),
        *(
            event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": text[i : i + 4]}})
            for i in range(0, len(text), 4)
        ),
        event("contentBlockStop", {"contentBlockIndex": 0}),
        event("messageStop", {"stopReason": stop}),
        event(
            "metadata",
            {
                "usage": {"inputTokens": 11, "outputTokens": 7, "totalTokens": 18},
                "metrics": {"latencyMs": 120},
            },
        ),
    ]


def pieces(frames: Sequence[bytes], size: int = 7) -> list[bytes]:
    raw = b"".join(frames)
    return [raw[i : i + size] for i in range(0, len(raw), size)]


def binary_stream(frames: Sequence[bytes], size: int = 7) -> Action:
    return stream_bytes(pieces(frames, size), content_type="application/vnd.amazon.eventstream")


def botocore_signature(
    request_headers: Mapping[str, str], method: str, url: str, body: bytes, *,
    key: str, secret: str, token: str | None, region: str,
) -> str:  # fmt: skip
    """The Authorization header botocore computes for this request at its X-Amz-Date."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    when = datetime.strptime(request_headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    signed = {"Content-Type": request_headers["Content-Type"]}
    request = AWSRequest(method, url, data=body, headers=signed)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        SigV4Auth(Credentials(key, secret, token), "bedrock", region).add_auth(request)
    return str(request.headers["Authorization"])


def signed_by(key: str, secret: str, token: str | None, region: str, then: Action) -> Action:
    """Answer with ``then`` only when the request's signature is the one botocore makes."""

    async def act(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        url = f"http://{request.host}{request.raw_path}"
        want = botocore_signature(
            request.headers, request.method, url, body,
            key=key, secret=secret, token=token, region=region,
        )  # fmt: skip
        if request.headers.get("Authorization") != want:
            mismatch = "The request signature we calculated does not match the signature"
            return web.json_response({"message": mismatch}, status=403)
        return await then(request)

    return act


# -- a smart Converse fake for the conformance matrix ------------------------------------------
def converse_view(body: dict[str, Any]) -> Any:
    import base64

    from .brain import Image, Tool, Turn, View

    view = View(
        system="".join(b.get("text", "") for b in body.get("system") or ()),
        stop=list((body.get("inferenceConfig") or {}).get("stopSequences") or ()),
    )
    for message in body["messages"]:
        texts, images, results = [], [], []
        for block in message["content"]:
            if "text" in block:
                texts.append(block["text"])
            elif "image" in block:
                raw = base64.b64decode(block["image"]["source"]["bytes"])
                kind = "image/png" if raw.startswith(b"\x89PNG") else "unknown"
                images.append(Image(kind, len(raw)))
            elif "toolResult" in block:
                parts = block["toolResult"]["content"]
                results.append("".join(p.get("text", "") for p in parts))
        if results:
            view.turns.append(Turn("tool", "\n".join(results)))
        else:
            view.turns.append(Turn(message["role"], "\n".join(texts), images))
    for tool in (body.get("toolConfig") or {}).get("tools") or ():
        spec = tool["toolSpec"]
        view.tools.append(Tool(spec["name"], spec["inputSchema"]["json"]))
    return view


def smart_converse() -> Action:
    from .brain import View, think

    async def act(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        view = converse_view(body)
        full = think(View(view.system, view.turns, view.tools))
        answer = think(view)
        stop = "tool_use" if answer.calls else "end_turn"
        if answer.text != full.text:
            stop = "stop_sequence"
        usage = {"inputTokens": answer.prompt_tokens, "outputTokens": answer.completion_tokens,
                 "totalTokens": answer.prompt_tokens + answer.completion_tokens}  # fmt: skip
        if request.path.endswith("/converse-stream"):
            frames = [event("messageStart", {"role": "assistant"})]
            for i in range(0, len(answer.text), 3):
                delta = {"contentBlockIndex": 0, "delta": {"text": answer.text[i : i + 3]}}
                frames.append(event("contentBlockDelta", delta))
            for n, call in enumerate(answer.calls, start=1):
                start = {"toolUse": {"toolUseId": f"tooluse_{n}", "name": call.name}}
                frames.append(event("contentBlockStart", {"contentBlockIndex": n, "start": start}))
                args = jsonlib.dumps(call.arguments)
                for piece in (args[:4], args[4:]):
                    delta = {"contentBlockIndex": n, "delta": {"toolUse": {"input": piece}}}
                    frames.append(event("contentBlockDelta", delta))
            frames += [
                event("messageStop", {"stopReason": stop}),
                event("metadata", {"usage": usage}),
            ]
            return await binary_stream(frames, size=5)(request)
        content: list[dict[str, Any]] = [{"text": answer.text}] if answer.text else []
        content += [
            {"toolUse": {"toolUseId": f"tooluse_{n}", "name": c.name, "input": c.arguments}}
            for n, c in enumerate(answer.calls, start=1)
        ]
        return web.json_response({
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop, "usage": usage, "metrics": {"latencyMs": 1},
        })  # fmt: skip

    return act
