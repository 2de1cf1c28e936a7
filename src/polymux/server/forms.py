"""``multipart/form-data`` request bodies (image edits, audio uploads).

The body was read once, under the gateway's size limit, into one buffer (asgi.read_upload).
Parts are found in it by their boundary and handed on as views of it: a file's bytes are
never copied again on their way to the upstream (transport/multipart.py sends views as they
are). Only each part's few header lines go through the standard library's header parser.
Files are checked against their own limits by the handler.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser

from ..types.uploads import FilePart
from .errormap import GatewayHTTPError
from .limits import passed_through

__all__ = ["MAX_PARTS", "Form", "form_extra", "parse_form"]

#: Parts one form may have (OpenAI's largest forms have a few dozen fields and 16 images).
MAX_PARTS = 1000
#: Bytes of one part's header lines.
_MAX_HEAD = 16 * 1024
_IDENTITY = frozenset({"7bit", "8bit", "binary"})


@dataclass(slots=True)
class Form:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[FilePart]] = field(default_factory=dict)

    def field(self, name: str) -> str | None:
        """The one value of a text field, or None; a repeated field is a 400."""
        values = self.fields.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise GatewayHTTPError(400, f"the form field {name!r} is given more than once")
        return values[0]


def _in(name: str, names: Collection[str], members: bool = True) -> bool:
    """Whether a form field is one of ``names``, as the OpenAI SDK spells them in a form:
    ``include[]`` for an array, ``chunking_strategy[type]`` for an object's member (only
    with ``members``)."""
    if name in names or (name.endswith("[]") and name[:-2] in names):
        return True
    return members and name.partition("[")[0] in names


def form_extra(
    form: Form,
    *,
    named: Collection[str],
    spec: Collection[str],
    files: Collection[str],
    allowed: Collection[str],
    streams: bool = False,
) -> dict[str, str | list[str]]:
    """The form's text fields the handler does not take by name (``named``), for the
    upstream's ``extra_body``: those of OpenAI's spec for the endpoint (``spec``) always,
    any other only if the operator allows it, else a 400 that names it: the one rule of JSON
    bodies (limits.passed_through). An array field goes on as a list of its values. Files
    other than ``files`` are a 400 too. ``stream`` is left to a handler that ``streams``;
    elsewhere stream=true is a 400."""
    for name in form.files:
        if name not in files:
            raise GatewayHTTPError(
                400, f"unexpected file {name[:60]!r}: this endpoint takes {', '.join(files)}"
            )
    extra: dict[str, str | list[str]] = {
        name: values if name.endswith("[]") or len(values) > 1 else values[0]
        for name, values in form.fields.items()
        if not _in(name, named, members=False)
    }
    passed_through({k: v for k, v in extra.items() if not _in(k, spec)}, (), allowed)
    stream = None if streams else extra.pop("stream", None)
    if stream is not None and str(stream).lower() not in ("false", "0"):
        raise GatewayHTTPError(
            400,
            "stream=true is not served on this endpoint by this gateway: leave stream out "
            "for the whole answer at once",
        )
    return extra


def _malformed(why: str) -> GatewayHTTPError:
    return GatewayHTTPError(400, f"the multipart/form-data body is malformed: {why}")


def _boundary(content_type: bytes | None) -> bytes:
    if content_type is None or not content_type.lower().startswith(b"multipart/form-data"):
        raise GatewayHTTPError(
            415, "this endpoint takes a multipart/form-data body (files are uploaded)"
        )
    message = EmailMessage(policy=policy.HTTP)
    message["Content-Type"] = content_type.decode("latin-1")
    boundary = message.get_boundary()
    if not boundary or len(boundary) > 70:  # RFC 2046: 1 to 70 characters
        raise _malformed("its Content-Type has no valid boundary")
    return boundary.encode("latin-1")


def parse_form(content_type: bytes | None, body: bytes | bytearray) -> Form:
    """The fields and files of a multipart body (files as views of ``body``), or a clear
    4xx. ``body`` must not be resized while the files are in use."""
    dash = b"--" + _boundary(content_type)
    delimiter = b"\r\n" + dash
    if body.startswith(dash):
        pos = 0
    else:  # a preamble before the first boundary is allowed, and ignored
        pos = body.find(delimiter)
        if pos < 0:
            raise _malformed("its boundary is not in it")
        pos += 2
    view = memoryview(body)
    form = Form()
    parts = 0
    while True:
        pos += len(dash)
        if body[pos : pos + 2] == b"--":  # the closing delimiter
            return form
        eol = body.find(b"\r\n", pos)
        if eol < 0 or eol - pos > 80 or body[pos:eol].strip(b" \t"):
            raise _malformed("a boundary line is not followed by a line break")
        start = eol + 2
        end = body.find(delimiter, start)
        if end < 0:
            raise _malformed("it does not end with its closing boundary")
        parts += 1
        if parts > MAX_PARTS:
            raise GatewayHTTPError(400, f"the form has more than {MAX_PARTS} parts")
        _add_part(form, body, view, start, end)
        pos = end + 2


def _add_part(form: Form, body: bytes | bytearray, view: memoryview, start: int, end: int) -> None:
    if body.startswith(b"\r\n", start):  # no header lines at all
        head_end, content = start, start + 2
    else:
        head_end = body.find(b"\r\n\r\n", start, end)
        if head_end < 0:
            raise _malformed("a part's header lines do not end")
        content = head_end + 4
    if head_end - start > _MAX_HEAD:
        raise _malformed(f"a part's header lines are over {_MAX_HEAD} bytes")
    lines = bytes(body[start:head_end]) + b"\r\n\r\n"
    head = BytesHeaderParser(policy=policy.HTTP).parsebytes(lines)
    if head.defects:
        raise _malformed("a part's header lines are not valid")
    name = head.get_param("name", header="content-disposition")
    if not isinstance(name, str) or not name:
        raise GatewayHTTPError(400, "a form part has no name")
    encoding = str(head.get("content-transfer-encoding", "binary")).strip().lower()
    if encoding not in _IDENTITY:
        raise GatewayHTTPError(
            400,
            f"the form part {name!r} has Content-Transfer-Encoding {encoding}; send it as "
            "binary (RFC 7578 form data has no transfer encodings)",
        )
    data = view[content:end]
    filename = head.get_filename()
    if filename is None:
        try:
            form.fields.setdefault(name, []).append(str(data, "utf-8"))
        except UnicodeDecodeError:
            raise GatewayHTTPError(400, f"the form field {name!r} is not UTF-8") from None
    else:
        media_type = head.get_content_type() or "application/octet-stream"
        form.files.setdefault(name, []).append(FilePart(data, filename, media_type))
