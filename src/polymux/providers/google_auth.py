"""OAuth2 access tokens for Google Cloud (Vertex AI), from a service-account key file or the
Application Default Credentials, refreshed before they expire.

Where credentials come from: ``GOOGLE_APPLICATION_CREDENTIALS`` (a service-account or
authorized-user JSON file), else the ADC file gcloud writes
(``~/.config/gcloud/application_default_credentials.json``). A service account signs a JWT
with its RS256 key and trades it for a token (RFC 7523); an authorized user trades its refresh
token. Signing needs ``cryptography``, an optional extra (``pip install polymux[vertex]``)
imported only here, when Vertex is used. Token requests go through the caller's transport
(so they share its proxy, retries and time limits). Keys and tokens never appear in a repr or
an error message.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson

from ..errors import APIResponseValidationError, ConfigurationError
from ..transport.base import HttpRequest, Transport
from ..types.request import CallOptions

__all__ = ["GoogleCredentials", "load_google_credentials"]

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
TOKEN_URI = "https://oauth2.googleapis.com/token"
#: A token is renewed this long before Google says it expires (clocks drift; calls take time).
REFRESH_MARGIN = 300.0
_MAX_FILE = 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign_rs256(private_key_pem: str, message: bytes) -> bytes:
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ConfigurationError(
            "Vertex AI with a service-account key needs the 'cryptography' package: "
            "pip install 'polymux[vertex]'"
        ) from exc
    try:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError("the service-account file's private_key cannot be read") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigurationError("the service-account file's private_key is not an RSA key")
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


class GoogleCredentials:
    """One identity's token, fetched when first needed and renewed before it expires."""

    def __init__(self, info: Mapping[str, Any], clock: Callable[[], float] = time.time) -> None:
        kind = info.get("type")
        if kind not in ("service_account", "authorized_user"):
            raise ConfigurationError(
                f"Google credentials of type {kind!r} are not supported: use a service-account "
                "key file or `gcloud auth application-default login`"
            )
        needed = (
            ("client_email", "private_key")
            if kind == "service_account"
            else ("client_id", "client_secret", "refresh_token")
        )
        missing = [name for name in needed if not info.get(name)]
        if missing:
            raise ConfigurationError(f"the Google credentials file lacks {', '.join(missing)}")
        self._info = dict(info)
        self.kind = str(kind)
        self.project_id: str | None = info.get("project_id") or info.get("quota_project_id")
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        who = self._info.get("client_email") or self._info.get("client_id")
        return f"<GoogleCredentials {self.kind} {who}>"

    @property
    def token(self) -> str | None:
        """The current token, or None when there is none or it is due for renewal."""
        if self._token and self._clock() < self._expires - REFRESH_MARGIN:
            return self._token
        return None

    def _grant(self) -> dict[str, str]:
        info = self._info
        if self.kind == "authorized_user":
            return {
                "grant_type": "refresh_token",
                "client_id": info["client_id"],
                "client_secret": info["client_secret"],
                "refresh_token": info["refresh_token"],
            }
        now = int(self._clock())
        header = {"alg": "RS256", "typ": "JWT"}
        if info.get("private_key_id"):
            header["kid"] = info["private_key_id"]
        claims = {
            "iss": info["client_email"],
            "scope": SCOPE,
            "aud": info.get("token_uri") or TOKEN_URI,
            "iat": now,
            "exp": now + 3600,
        }
        signing_input = f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(claims))}"
        signature = _sign_rs256(info["private_key"], signing_input.encode())
        return {
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": f"{signing_input}.{_b64(signature)}",
        }

    async def access_token(self, transport: Transport, options: CallOptions) -> str:
        """A token valid for a while yet: the cached one, else a fresh one."""
        token = self.token
        if token:
            return token
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one refresh at a time; the others wait and reuse it
            token = self.token
            if token:
                return token
            uri = self._info.get("token_uri") or TOKEN_URI
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            request = HttpRequest(
                method="POST",
                url=uri,
                headers={**form, "Accept": "application/json"},
                body=urlencode(self._grant()).encode(),
                options=options,
                provider="google-oauth",
            )
            payload = (await transport.request(request, max_bytes=64 * 1024)).json()
            token = payload.get("access_token") if isinstance(payload, dict) else None
            if not isinstance(token, str) or not token:
                raise APIResponseValidationError(
                    "Google's token endpoint answered without an access_token",
                    provider="google-oauth",
                )
            expires_in = payload.get("expires_in")
            lifetime = float(expires_in) if isinstance(expires_in, (int, float)) else 3600.0
            self._token, self._expires = token, self._clock() + lifetime
            return token


def load_google_credentials(path: str | os.PathLike[str] | None = None) -> GoogleCredentials:
    """Credentials from ``path``, else ``GOOGLE_APPLICATION_CREDENTIALS``, else gcloud's ADC
    file; a ConfigurationError saying how to get some when there are none."""
    candidates = [path, os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")]
    config = os.environ.get("CLOUDSDK_CONFIG") or Path.home() / ".config" / "gcloud"
    candidates.append(Path(config) / "application_default_credentials.json")
    for candidate in candidates:
        if not candidate:
            continue
        file = Path(candidate).expanduser()
        if not file.is_file():
            if candidate is not candidates[-1]:
                raise ConfigurationError(f"Google credentials file {file} does not exist")
            continue
        if file.stat().st_size > _MAX_FILE:
            raise ConfigurationError(f"{file} is larger than a credentials file can be")
        try:
            info = orjson.loads(file.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ConfigurationError(f"cannot read Google credentials from {file}") from exc
        if not isinstance(info, dict):
            raise ConfigurationError(f"{file} does not hold a credentials object")
        return GoogleCredentials(info)
    raise ConfigurationError(
        "Vertex AI needs Google credentials: set GOOGLE_APPLICATION_CREDENTIALS to a "
        "service-account key file, or run `gcloud auth application-default login`"
    )
