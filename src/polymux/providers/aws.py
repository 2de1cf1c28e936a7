"""AWS credentials and Signature Version 4 request signing, for Bedrock.

Credentials come from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``,
else the shared credentials file (``AWS_SHARED_CREDENTIALS_FILE``, default
``~/.aws/credentials``) under the profile ``AWS_PROFILE`` (default ``default``); the region
from ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, else the profile in the config file
(``AWS_CONFIG_FILE``, default ``~/.aws/config``). Signing follows AWS's published SigV4
algorithm (checked against its test suite and botocore in tests/test_aws_sigv4.py).

A secret key never appears in a repr, an error or a log line.
"""

from __future__ import annotations

import configparser
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from ..errors import ConfigurationError

__all__ = ["Credentials", "load_credentials", "load_region", "sign_v4"]

_MAX_FILE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key: str
    secret_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


def _read_ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        if path.stat().st_size > _MAX_FILE:
            raise ConfigurationError(f"{path} is larger than an AWS config file can be")
        parser.read_string(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        pass
    except (OSError, configparser.Error, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read {path}: {type(exc).__name__}") from exc
    return parser


def _aws_file(variable: str, default: str) -> Path:
    return Path(os.environ.get(variable) or Path.home() / ".aws" / default).expanduser()


def _profile() -> str:
    return os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE") or "default"


def load_credentials(profile: str | None = None) -> Credentials | None:
    """Credentials from the environment, else from the shared credentials file (the profile
    given, else ``AWS_PROFILE``); None when neither has any."""
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret and profile is None:
        return Credentials(key, secret, os.environ.get("AWS_SESSION_TOKEN") or None)
    name = profile or _profile()
    for path, section in (
        (_aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials"), name),
        (_aws_file("AWS_CONFIG_FILE", "config"), name if name == "default" else f"profile {name}"),
    ):
        parser = _read_ini(path)
        if parser.has_section(section):
            values = parser[section]
            key, secret = values.get("aws_access_key_id"), values.get("aws_secret_access_key")
            if key and secret:
                return Credentials(key, secret, values.get("aws_session_token") or None)
    return None


def load_region(profile: str | None = None) -> str | None:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region and profile is None:
        return region
    name = profile or _profile()
    parser = _read_ini(_aws_file("AWS_CONFIG_FILE", "config"))
    section = name if name == "default" else f"profile {name}"
    if parser.has_section(section):
        return parser[section].get("region") or region
    return region


# -- Signature Version 4 -----------------------------------------------------------------------
def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _canonical_query(query: str) -> str:
    pairs = []
    for item in query.split("&") if query else ():
        name, _, value = item.partition("=")
        pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def sign_v4(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    credentials: Credentials,
    *,
    region: str,
    service: str,
    now: datetime | None = None,
) -> dict[str, str]:
    """The headers to add to this request so AWS accepts it: ``X-Amz-Date``, the session
    token when there is one, and ``Authorization``. ``headers`` are the request's own (all of
    them are signed, with ``Host``); the URL's path is taken as sent (already encoded) and
    encoded once more, as SigV4 asks of every service but S3."""
    when = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    day = when[:8]
    parts = urlsplit(url)
    added = {"X-Amz-Date": when}
    if credentials.session_token:
        added["X-Amz-Security-Token"] = credentials.session_token
    signed: dict[str, str] = {"host": parts.netloc}
    for name, value in {**headers, **added}.items():
        signed[name.lower()] = " ".join(str(value).strip().split())
    names = sorted(signed)
    canonical = "\n".join(
        [
            method.upper(),
            quote(parts.path or "/", safe="/-_.~"),
            _canonical_query(parts.query),
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", when, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(("AWS4" + credentials.secret_key).encode(), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    added["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return added
