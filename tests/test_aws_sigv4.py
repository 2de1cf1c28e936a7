"""SigV4 request signing and AWS credentials (providers/aws.py): AWS's published SigV4 test
suite vectors, botocore's signer on Bedrock-shaped requests, and where credentials and the
region are read from."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from polymux.providers.aws import Credentials, load_credentials, load_region, sign_v4

from .fakes.bedrock import botocore_signature

# The suite's fixed credentials, time, region and service (aws-sig-v4-test-suite).
SUITE = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SUITE_TIME = datetime(2015, 8, 30, 12, 36, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("case", "method", "url", "signature"),
    [
        ("get-vanilla", "GET", "https://example.amazonaws.com/",
         "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        ("post-vanilla", "POST", "https://example.amazonaws.com/",
         "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
        ("get-vanilla-query-order-key-case", "GET",
         "https://example.amazonaws.com/?Param2=value2&Param1=value1",
         "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    ],
)  # fmt: skip
def test_aws_sigv4_test_suite(case: str, method: str, url: str, signature: str) -> None:
    added = sign_v4(method, url, {}, b"", SUITE, region="us-east-1", service="service",
                    now=SUITE_TIME)  # fmt: skip
    assert added["X-Amz-Date"] == "20150830T123600Z"
    assert added["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={signature}"
    )


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEJr//session+token="])
@pytest.mark.parametrize(
    "url",
    [
        # Model ids hold ':' (sent as %3A, signed as %253A); ARNs hold '/' too.
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
        "anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
        "https://bedrock-runtime.eu-west-3.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aeu-west-3"
        "%3A123456789012%3Ainference-profile%2Feu.amazon.nova-pro-v1%3A0/converse-stream",
        "http://127.0.0.1:8123/model/us.meta.llama3-3-70b-instruct-v1%3A0/converse?a=b%20c&z=1",
    ],
)
def test_signatures_match_botocore(url: str, token: str | None) -> None:
    region = url.split(".")[1] if "amazonaws" in url else "us-west-2"
    body = '{"messages":[{"role":"user","content":[{"text":"Grüße"}]}]}'.encode()
    creds = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", token)
    headers = {"Content-Type": "application/json"}
    added = sign_v4("POST", url, headers, body, creds, region=region, service="bedrock")
    want = botocore_signature(
        {**headers, **added}, "POST", url, body,
        key=creds.access_key, secret=creds.secret_key, token=token, region=region,
    )  # fmt: skip
    assert added["Authorization"] == want
    assert added.get("X-Amz-Security-Token") == token


def test_a_secret_never_shows_in_a_repr() -> None:
    creds = Credentials("AKIDEXAMPLE", "very-secret", "session-secret")
    assert "secret" not in repr(creds) and "AKIDEXAMPLE" in repr(creds)


# -- where credentials come from ---------------------------------------------------------------
@pytest.fixture
def aws_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in (
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "credentials").write_text(
        "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s1\n\n"
        "[work]\naws_access_key_id = AKIDWORK\naws_secret_access_key = s2\n"
        "aws_session_token = t2\n"
    )
    (tmp_path / "config").write_text(
        "[default]\nregion = us-east-2\n\n[profile work]\nregion = eu-central-1\n\n"
        "[profile sso]\nregion = ap-south-1\naws_access_key_id = AKIDCONF\n"
        "aws_secret_access_key = s3\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    return tmp_path


def test_credentials_from_the_shared_file_and_profiles(
    aws_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_credentials() == Credentials("AKIDDEFAULT", "s1")
    assert load_region() == "us-east-2"
    monkeypatch.setenv("AWS_PROFILE", "work")
    assert load_credentials() == Credentials("AKIDWORK", "s2", "t2")
    assert load_region() == "eu-central-1"
    assert load_credentials("sso") == Credentials("AKIDCONF", "s3")  # from the config file
    assert load_region("sso") == "ap-south-1"
    assert load_credentials("nobody") is None


def test_environment_credentials_win(aws_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s-env")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "t-env")
    monkeypatch.setenv("AWS_REGION", "us-west-1")
    assert load_credentials() == Credentials("AKIDENV", "s-env", "t-env")
    assert load_region() == "us-west-1"
    # A profile named in code still reads that profile.
    assert load_credentials("work") == Credentials("AKIDWORK", "s2", "t2")
