"""Vertex AI against fakes on 127.0.0.1: Google's OAuth2 token endpoint (which checks the
service account's RS256-signed JWT with its public key) and the Vertex endpoints of Gemini
(generateContent) and Claude (rawPredict / streamRawPredict), which check the token."""

from __future__ import annotations

import base64
import json as jsonlib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from polymux import AsyncClient
from polymux.errors import ConfigurationError
from polymux.providers.google_auth import GoogleCredentials, load_google_credentials
from polymux.providers.vertex import VertexAnthropic, VertexGemini

from .fakes import FakeServer, json
from .fakes import anthropic as fa
from .fakes import gemini as fg
from .fakes.server import Action
from .support import read_chunks

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
EMAIL = "bot@proj-1.iam.gserviceaccount.com"
GEMINI_PATH = "/v1/projects/proj-1/locations/us-central1/publishers/google/models/gemini-2.5-flash"
CLAUDE_PATH = (
    "/v1/projects/proj-1/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929"
)


@pytest.fixture(autouse=True)
def no_google_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT",
        "GOOGLE_CLOUD_LOCATION", "CLOUD_ML_REGION",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))


def service_account(server: FakeServer, tmp_path: Path) -> Path:
    path = tmp_path / "sa.json"
    path.write_text(
        jsonlib.dumps(
            {
                "type": "service_account",
                "project_id": "proj-1",
                "private_key_id": "kid-1",
                "private_key": PEM,
                "client_email": EMAIL,
                "token_uri": server.url("/token"),
            }
        )
    )
    return path


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_endpoint(issued: list[str]) -> Action:
    """Google's token endpoint: checks the JWT's signature and claims, issues a token."""

    async def act(request: web.Request) -> web.StreamResponse:
        form = parse_qs((await request.read()).decode())
        if form["grant_type"] == ["refresh_token"]:
            assert form["refresh_token"] == ["1//refresh"]
        else:
            assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
            head, claims, signature = form["assertion"][0].split(".")
            KEY.public_key().verify(  # raises InvalidSignature on a bad signature
                _unb64(signature), f"{head}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
            header, body = jsonlib.loads(_unb64(head)), jsonlib.loads(_unb64(claims))
            assert header == {"alg": "RS256", "typ": "JWT", "kid": "kid-1"}
            assert body["iss"] == EMAIL and body["aud"] == str(request.url)
            assert body["scope"] == "https://www.googleapis.com/auth/cloud-platform"
            assert body["exp"] - body["iat"] == 3600
        issued.append(f"ya29.token-{len(issued) + 1}")
        return web.json_response({"access_token": issued[-1], "expires_in": 3599})

    return act


def bearer(issued: list[str], then: Action) -> Action:
    async def act(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {issued[-1]}":
            return web.json_response({"error": {"code": 401, "message": "bad token"}}, status=401)
        return await then(request)

    return act


# -- Gemini on Vertex --------------------------------------------------------------------------
async def test_gemini_on_vertex_with_a_service_account(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued: list[str] = []
    server.script("POST", "/token", token_endpoint(issued))
    server.script(
        "POST", f"{GEMINI_PATH}:generateContent",
        bearer(issued, json(200, fg.response([{"text": "Hi from Vertex"}], usage_meta=fg.usage()))),
    )  # fmt: skip
    server.script(
        "POST", f"{GEMINI_PATH}:streamGenerateContent",
        bearer(issued, fg.stream(fg.text_pieces(["Str", "eamed"]))),
    )  # fmt: skip
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(service_account(server, tmp_path)))
    async with AsyncClient(provider="vertex", base_url=server.url(), max_retries=0) as client:
        result = await client.chat.completions.create(
            model="gemini-2.5-flash", messages=[{"role": "system", "content": "Be brief."},
                                                 {"role": "user", "content": "hi"}],
        )  # fmt: skip
        chunks = await read_chunks(
            client.chat.completions.create(model="gemini-2.5-flash", messages="hi", stream=True)
        )
    assert result.choices[0].message.content == "Hi from Vertex"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Streamed"
    assert issued == ["ya29.token-1"]  # fetched once, reused while valid
    sent = [r for r in server.requests if r.path.startswith("/v1/")]
    assert sent[0].json["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert sent[1].query == {"alt": "sse"}
    assert "x-goog-api-key" not in {k.lower() for k in sent[0].headers}


async def test_a_token_is_renewed_before_it_expires(server: FakeServer, tmp_path: Path) -> None:
    issued: list[str] = []
    server.script("POST", "/token", token_endpoint(issued))
    answer = json(200, fg.response([{"text": "ok"}]))
    server.script("POST", f"{GEMINI_PATH}:generateContent", bearer(issued, answer))
    now = [1_000_000.0]
    info = jsonlib.loads(service_account(server, tmp_path).read_text())
    credentials = GoogleCredentials(info, clock=lambda: now[0])
    provider = VertexGemini(credentials=credentials, base_url=server.url())
    async with AsyncClient(provider=provider, max_retries=0) as client:
        for advance in (0, 3298, 1, 1):  # the token lives 3599 s and is renewed 300 s early
            now[0] += advance
            await client.chat.completions.create(model="gemini-2.5-flash", messages="hi")
    used = [r.headers["Authorization"] for r in server.requests if r.path.startswith("/v1/")]
    assert used == ["Bearer ya29.token-1"] * 2 + ["Bearer ya29.token-2"] * 2


# -- Claude on Vertex --------------------------------------------------------------------------
async def test_claude_on_vertex_raw_predict_and_stream(server: FakeServer, tmp_path: Path) -> None:
    issued: list[str] = []
    server.script("POST", "/token", token_endpoint(issued))
    server.script("POST", f"{CLAUDE_PATH}:rawPredict", bearer(issued, fa.reply("Bonjour")))
    server.script(
        "POST", f"{CLAUDE_PATH}:streamRawPredict",
        bearer(issued, fa.stream(fa.text_stream(["Sal", "ut"]))),
    )  # fmt: skip
    provider = VertexAnthropic(
        credentials_file=str(service_account(server, tmp_path)), base_url=server.url()
    )
    async with AsyncClient(provider=provider, max_retries=0) as client:
        result = await client.chat.completions.create(
            model="claude-sonnet-4-5@20250929", messages="hi", max_tokens=50
        )
        chunks = await read_chunks(
            client.chat.completions.create(
                model="claude-sonnet-4-5@20250929", messages="hi", stream=True
            )
        )
    assert result.choices[0].message.content == "Bonjour"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Salut"
    bodies = [r.json for r in server.requests if r.path.startswith("/v1/")]
    for body in bodies:
        assert body["anthropic_version"] == "vertex-2023-10-16" and "model" not in body
    assert bodies[0]["max_tokens"] == 50 and bodies[1]["stream"] is True


# -- credentials -------------------------------------------------------------------------------
async def test_application_default_credentials_of_a_user(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued: list[str] = []
    server.script("POST", "/token", token_endpoint(issued))
    server.script(
        "POST", f"{GEMINI_PATH}:generateContent", bearer(issued, json(200, fg.response([])))
    )
    adc = tmp_path / "gcloud" / "application_default_credentials.json"
    adc.parent.mkdir()
    adc.write_text(jsonlib.dumps({
        "type": "authorized_user", "client_id": "cid", "client_secret": "cs",
        "refresh_token": "1//refresh", "quota_project_id": "proj-1",
        "token_uri": server.url("/token"),
    }))  # fmt: skip
    async with AsyncClient(provider="vertex", base_url=server.url(), max_retries=0) as client:
        await client.chat.completions.create(model="gemini-2.5-flash", messages="hi")
    assert issued == ["ya29.token-1"]


def test_missing_or_unusable_credentials_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        load_google_credentials()
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_google_credentials(tmp_path / "missing.json")
    with pytest.raises(ConfigurationError, match="external_account"):
        GoogleCredentials({"type": "external_account"})
    with pytest.raises(ConfigurationError, match="private_key"):
        GoogleCredentials({"type": "service_account", "client_email": EMAIL})
    credentials = GoogleCredentials({"type": "service_account", "client_email": EMAIL,
                                     "private_key": PEM})  # fmt: skip
    assert "PRIVATE KEY" not in repr(credentials) and EMAIL in repr(credentials)


def test_urls_name_the_project_location_and_publisher() -> None:
    gemini = VertexGemini(api_key="ya29.static", project="p 1", location="global")
    assert gemini.model_url("gemini-2.5-pro", "generateContent") == (
        "https://aiplatform.googleapis.com/v1/projects/p%201/locations/global/publishers/"
        "google/models/gemini-2.5-pro:generateContent"
    )
    claude = VertexAnthropic(api_key="ya29.static", project="p", location="europe-west1")
    assert claude.vertex_url("claude-opus-4-1@20250805", "rawPredict").startswith(
        "https://europe-west1-aiplatform.googleapis.com/v1/projects/p/locations/europe-west1/"
        "publishers/anthropic/models/claude-opus-4-1@20250805:rawPredict"
    )


async def test_an_access_token_given_as_api_key(server: FakeServer) -> None:
    answer: dict[str, Any] = fg.response([{"text": "ok"}])
    server.script(
        "POST", f"{GEMINI_PATH}:generateContent", bearer(["ya29.given"], json(200, answer))
    )
    provider = VertexGemini(api_key="ya29.given", project="proj-1", base_url=server.url())
    async with AsyncClient(provider=provider, max_retries=0) as client:
        result = await client.chat.completions.create(model="gemini-2.5-flash", messages="hi")
    assert result.choices[0].message.content == "ok"
