"""The guarded image downloader, for providers that need bytes where the caller gave a URL.

Ollama and Gemini take images only inline, so an ``https://`` image in a message has to be
downloaded by polymux. That URL may come from untrusted input (a user of the caller's app),
so the download is guarded:

- only ``http`` and ``https``;
- the host is resolved and every address must be public: private, loopback, link-local,
  multicast, reserved and unspecified addresses are refused unless the caller opted in with
  ``AsyncClient(allow_private_image_urls=True)`` (``CallOptions.allow_private_image_urls``);
- redirects are followed by hand, and each hop is checked the same way;
- at most ``MAX_IMAGE_BYTES`` are read, and the answer must be an image (an ``image/*``
  content type, or bytes whose magic number says so).

The check resolves the name first for a clear error; the download then connects only to
public addresses (``HttpRequest.public_only``; transport/guard.py checks again at connect
time), so a DNS server that answers differently the second time (DNS rebinding) is stopped
too. Through a proxy the proxy resolves the name, so only the first check applies.

Providers call ``await fetch_image(url, request)`` or ``await inline_image(ref, request)``.
"""

from __future__ import annotations

import asyncio
import re
import socket
from dataclasses import replace
from typing import Protocol
from urllib.parse import urljoin, urlsplit

from ..errors import (
    APIConnectionError,
    APIResponseValidationError,
    InvalidRequestError,
)
from ..transport.base import HttpRequest, require_transport
from ..transport.guard import first_refused
from ..types.media import MAX_IMAGE_BYTES, sniff_media_type
from ..types.request import CallOptions, ImageRef

__all__ = ["MAX_REDIRECTS", "check_image_body", "fetch_image", "inline_image"]

MAX_REDIRECTS = 5
_WHO = "image download"


class _Sends(Protocol):
    """Any request that carries call options, the client's transport among them."""

    @property
    def options(self) -> CallOptions: ...


#: A host as a URL may name it: a DNS name or an IPv4 address, or an IPv6 one in brackets
#: (``hostname`` strips them). Anything else (a backslash, a space, ``%``) is refused.
_HOST = re.compile(r"[A-Za-z0-9._-]+|[0-9A-Fa-f:.]+")


def _bad_url(url: str, why: str, from_provider: bool) -> Exception:
    if from_provider:  # not the caller's input: the provider's answer is at fault
        return APIResponseValidationError(
            f"the provider answered an image URL {url[:80]!r} that {why}", provider=_WHO
        )
    return InvalidRequestError(f"image URL {url[:80]!r} {why}")


async def _check_host(url: str, allow_private: bool, from_provider: bool = False) -> None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:  # "http://[::1", a port that is no number ...
        raise _bad_url(url, f"is malformed ({exc})", from_provider) from None
    if parts.scheme not in ("http", "https"):
        raise _bad_url(url, "must be http or https", from_provider)
    if not host:
        raise _bad_url(url, "has no host", from_provider)
    if not _HOST.fullmatch(host):
        raise _bad_url(url, "has an invalid host", from_provider)
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise APIConnectionError(
            f"cannot resolve the image host {host!r}: {exc}", provider=_WHO
        ) from exc
    refused = first_refused(str(info[4][0]) for info in infos)
    if refused is not None:
        address, reason = refused
        if from_provider:
            # A gateway's caller cannot change the client's options: the operator can
            # (allow_private_image_urls in the gateway config).
            raise APIResponseValidationError(
                f"refusing to download the provider's image {url[:80]!r}: {host} resolves to "
                f"a {reason} address ({address}); allow it with allow_private_image_urls=True "
                "(a client option, and a gateway [server] setting)",
                provider=_WHO,
            )
        raise InvalidRequestError(
            f"refusing to download image {url[:80]!r}: {host} resolves to a {reason} address "
            f"({address}). Pass allow_private_image_urls=True to the client to allow it."
        )


def check_image_body(body: bytes, content_type: str, url: str = "") -> str:
    """The media type of a downloaded image, or an error when the body is not an image."""
    declared = content_type.split(";", 1)[0].strip().lower()
    sniffed = sniff_media_type(body)
    if sniffed is not None:
        return sniffed
    if declared.startswith("image/") and body:
        return declared
    where = f" {url[:80]!r}" if url else ""
    raise APIResponseValidationError(
        f"the image URL{where} answered {declared or 'no content type'}, not an image",
        provider=_WHO,
    )


async def fetch_image(
    url: str, request: _Sends, *, max_bytes: int = MAX_IMAGE_BYTES, from_provider: bool = False
) -> ImageRef:
    """Download one image URL under the guard; return it as bytes with its media type.

    The one image downloader: for image inputs that a provider needs inline, and for image
    outputs that a caller wants as base64 or saved files (``from_provider``: a refused URL
    is then the provider's fault, ``APIResponseValidationError``, not the caller's)."""
    transport = require_transport(request.options.transport)
    options = request.options
    allow = options.allow_private_image_urls
    # The caller's extra headers are meant for the provider (often credentials): not sent here.
    options_for_download = replace(options, extra_headers=None)
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        await _check_host(current, allow, from_provider)
        response = await transport.request(
            HttpRequest(
                method="GET",
                url=current,
                headers={"Accept": "image/*"},
                options=options_for_download,
                provider=_WHO,
                follow_redirects=False,
                public_only=not allow,
            ),
            max_bytes=max_bytes,
        )
        if 300 <= response.status < 400:
            location = response.headers.get("Location")
            if not location:
                raise APIResponseValidationError(
                    f"the image URL {current[:80]!r} redirected without a Location", provider=_WHO
                )
            current = urljoin(current, location)
            continue
        media_type = check_image_body(
            response.body, response.headers.get("Content-Type", ""), current
        )
        return ImageRef(data=response.body, media_type=media_type)
    raise APIResponseValidationError(
        f"the image URL {url[:80]!r} redirected more than {MAX_REDIRECTS} times", provider=_WHO
    )


async def inline_image(ref: ImageRef, request: _Sends) -> ImageRef:
    """``ref`` with its bytes: itself when inline, else downloaded under the guard."""
    if ref.data is not None:
        return ref
    assert ref.url is not None
    return await fetch_image(ref.url, request)
