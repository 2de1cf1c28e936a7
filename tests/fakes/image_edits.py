"""OpenAI's ``POST /v1/images/edits`` and ``/v1/images/variations`` (multipart uploads), for a
FakeServer: the form is parsed as OpenAI's server would and kept in ``forms``; the answer is
one base64 PNG per requested image."""

from __future__ import annotations

import base64
from email import policy
from email.parser import BytesParser
from typing import Any

from aiohttp import web

from .server import Action

EDITS = "/v1/images/edits"
VARIATIONS = "/v1/images/variations"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)


async def read_form(request: web.Request) -> dict[str, Any]:
    """A multipart body as {field: value, file field: [(filename, content type, size)]}.
    The server read the body already; the standard library's MIME parser reads it again."""
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + await request.read())
    assert message.is_multipart() and not message.defects
    form: dict[str, Any] = {}
    for part in message.iter_parts():
        key = str(part.get_param("name", header="content-disposition"))
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        if part.get_filename() is None:
            if key in form:  # a repeated field (timestamp_granularities[])
                form[key] = [
                    *([form[key]] if isinstance(form[key], str) else form[key]),
                    data.decode(),
                ]
            else:
                form[key] = data.decode()
        else:
            entry = (part.get_filename(), part.get_content_type(), len(data))
            form.setdefault(key, []).append(entry)
    return form


def image_edits(forms: list[dict[str, Any]]) -> Action:
    """Each request's form as {field: value or [(filename, content type, size)]}."""

    async def act(request: web.Request) -> web.StreamResponse:
        if not request.content_type.startswith("multipart/form-data"):
            return web.json_response({"error": {"message": "expected multipart"}}, status=400)
        form = await read_form(request)
        forms.append(form)
        n = int(form.get("n", "1"))
        data = [{"b64_json": base64.b64encode(PNG).decode()} for _ in range(n)]
        return web.json_response({"created": 1767225600, "data": data})

    return act
