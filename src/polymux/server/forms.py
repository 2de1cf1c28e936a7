"""``multipart/form-data`` request bodies (image edits, audio uploads), read with the standard
library's MIME parser. The body was read under the gateway's size limit before it gets here;
files are checked against their own limits by the handler."""

from __future__ import annotations

from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser

from ..types.uploads import FilePart
from .errormap import GatewayHTTPError

__all__ = ["Form", "parse_form"]


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


def parse_form(content_type: bytes | None, body: bytes) -> Form:
    """The fields and files of a multipart body, or a clear 4xx."""
    if content_type is None or not content_type.lower().startswith(b"multipart/form-data"):
        raise GatewayHTTPError(
            415, "this endpoint takes a multipart/form-data body (files are uploaded)"
        )
    head = b"Content-Type: " + content_type + b"\r\nMIME-Version: 1.0\r\n\r\n"
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart() or message.defects:
        raise GatewayHTTPError(400, "the multipart/form-data body is malformed")
    form = Form()
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            raise GatewayHTTPError(400, "a form part has no name")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is None:
            try:
                form.fields.setdefault(name, []).append(data.decode("utf-8"))
            except UnicodeDecodeError:
                raise GatewayHTTPError(400, f"the form field {name!r} is not UTF-8") from None
        else:
            media_type = part.get_content_type() or "application/octet-stream"
            form.files.setdefault(name, []).append(FilePart(data, filename, media_type))
    return form
