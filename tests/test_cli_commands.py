"""The ``polymux`` command run as a user runs it: ``python -m polymux`` in a subprocess,
against a fake OpenAI-compatible upstream on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from polymux.cli.app import COMMANDS

from .cli_support import PY, ROOT, SECRET, ThreadedFakeServer, clean_env, run_cli
from .fakes.openai import CHAT, IMAGES, MODELS, closed_port, error, models, text_chunks
from .fakes.server import json as json_action
from .fakes.server import sse_data, stall

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 60


@pytest.fixture(scope="module")
def fake() -> Iterator[ThreadedFakeServer]:
    server = ThreadedFakeServer()
    yield server
    server.close()


@pytest.fixture
def upstream(fake: ThreadedFakeServer) -> ThreadedFakeServer:
    fake.requests.clear()
    fake.smart_chat()
    return fake


def _lines(text: str) -> list[str]:
    return text.splitlines()


# -- help, version, usage errors -------------------------------------------------------------------
def test_help_lists_every_command_and_the_exit_codes() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for name, command in COMMANDS.items():
        assert f"{name}  " in result.stdout and command.summary in result.stdout
    assert "130" in result.stdout and "exit codes" in result.stdout


def test_help_loads_no_command_module_and_no_http_stack() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from polymux.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['--help']) == 0\n"
        "heavy = [m for m in ('aiohttp', 'asyncio', 'polymux.client', 'polymux.cli.chat',\n"
        "         'polymux.server', 'polymux.providers.registry') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run([PY, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_version_and_command_help() -> None:
    assert run_cli("--version").stdout.startswith("polymux ")
    result = run_cli("chat", "--help")
    assert result.returncode == 0
    for option in ("--model", "--provider", "--base-url", "--api-key-env", "--system", "--image"):
        assert option in result.stdout
    for option in ("--json", "--temperature", "--max-tokens"):
        assert option in result.stdout


@pytest.mark.parametrize(
    "args",
    [("nope",), ("chat", "--temperature", "warm", "hi"), ("image", "a cat"), ("chat", "--bogus")],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert "usage:" in result.stderr or "error:" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_command_prints_help_and_exits_2() -> None:
    result = run_cli()
    assert result.returncode == 2
    assert "commands:" in result.stdout


# -- chat one-shot ---------------------------------------------------------------------------------
def test_one_shot_prompt_streams_the_answer_to_stdout(upstream: ThreadedFakeServer) -> None:
    result = run_cli("chat", "--base-url", upstream.base_url, "hello", "there")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "echo: hello there | turns: 1\n"
    assert result.stderr == ""
    body = upstream.requests[-1].json
    assert body["stream"] is True
    assert body["messages"] == [{"role": "user", "content": "hello there"}]


def test_prompt_from_stdin_and_arguments_together(upstream: ThreadedFakeServer) -> None:
    result = run_cli(
        "chat", "--base-url", upstream.base_url, "-s", "Be brief", "summarize", input="a b c\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "echo: a b c\n\nsummarize | system: Be brief | turns: 1\n"
    messages = upstream.requests[-1].json["messages"]
    assert messages[0] == {"role": "system", "content": "Be brief"}


def test_prompt_from_stdin_alone(upstream: ThreadedFakeServer) -> None:
    result = run_cli("chat", "--base-url", upstream.base_url, input="from a pipe")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "echo: from a pipe | turns: 1\n"


def test_empty_stdin_is_a_usage_error(upstream: ThreadedFakeServer) -> None:
    result = run_cli("chat", "--base-url", upstream.base_url, input="  \n")
    assert result.returncode == 2
    assert _lines(result.stderr)[0] == "error: no prompt: stdin was empty"
    assert upstream.requests == []


def test_model_temperature_and_max_tokens_reach_the_request(
    upstream: ThreadedFakeServer,
) -> None:
    result = run_cli(
        "chat", "--base-url", upstream.base_url, "-m", "m-7", "-t", "0.3", "--max-tokens", "9", "x"
    )
    assert result.returncode == 0, result.stderr
    body = upstream.requests[-1].json
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("m-7", 0.3, 9)


def test_json_prints_one_chunk_per_line(upstream: ThreadedFakeServer) -> None:
    result = run_cli("chat", "--base-url", upstream.base_url, "--json", "hi")
    assert result.returncode == 0, result.stderr
    chunks = [json.loads(line) for line in _lines(result.stdout)]
    assert len(chunks) > 2
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "echo: hi | turns: 1"
    assert any(c["choices"] and c["choices"][0]["finish_reason"] == "stop" for c in chunks)


def test_json_no_stream_prints_the_whole_completion(upstream: ThreadedFakeServer) -> None:
    result = run_cli("chat", "--base-url", upstream.base_url, "--json", "--no-stream", "hi")
    assert result.returncode == 0, result.stderr
    completion = json.loads(result.stdout)
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["message"]["content"] == "echo: hi | turns: 1"
    assert upstream.requests[-1].json.get("stream") in (None, False)


def test_image_files_are_sent_to_vision_models(
    upstream: ThreadedFakeServer, tmp_path: Path
) -> None:
    picture = tmp_path / "pic.png"
    picture.write_bytes(PNG)
    result = run_cli(
        "chat", "--base-url", upstream.base_url, "-i", str(picture), "-i", str(picture), "what?"
    )
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout == f"echo: what? | images: image/png:{len(PNG)},image/png:{len(PNG)}"
        " | turns: 1\n"
    )
    parts = upstream.requests[-1].json["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "what?"}
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_missing_image_file_is_reported_before_any_call(upstream: ThreadedFakeServer) -> None:
    result = run_cli("chat", "--base-url", upstream.base_url, "-i", "/no/such.png", "what?")
    assert result.returncode == 2
    assert "/no/such.png" in _lines(result.stderr)[0]
    assert upstream.requests == []


# -- providers by name, by dotted path, fallback -------------------------------------------------
def test_custom_provider_by_dotted_path() -> None:
    result = run_cli("chat", "--provider", "tests.cli_support:Echo", "-m", "e-2", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "echo(e-2): hi\n"


def test_repeated_provider_is_a_fallback_list() -> None:
    result = run_cli("chat", "-p", "tests.cli_support:Broken", "-p", "tests.cli_support:Echo", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "echo(echo-1): hi\n"


def test_every_provider_failing_is_one_line_naming_each() -> None:
    result = run_cli(
        "chat", "-p", "tests.cli_support:Broken", "-p", "tests.cli_support:Broken", "x"
    )
    assert result.returncode == 1
    first = _lines(result.stderr)[0]
    assert first.startswith("error: all 2 providers failed: Broken: ")
    assert "upstream is down" in first


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("no_such_module_xyz:Thing", "cannot import module 'no_such_module_xyz'"),
        ("tests.cli_support:Missing", "has no 'Missing'"),
        ("tests.cli_support:NOT_A_PROVIDER", "cannot use 42 as a provider"),
        ("nosuchprovider", "unknown provider 'nosuchprovider'"),
    ],
)
def test_bad_provider_is_a_configuration_error(spec: str, needle: str) -> None:
    result = run_cli("chat", "-p", spec, "hi")
    assert result.returncode == 3
    lines = _lines(result.stderr)
    assert needle in lines[0] and lines[0].startswith("error: ")
    assert len(lines) <= 2 and "Traceback" not in result.stderr


# -- errors: one line, a hint, exit codes, no secrets --------------------------------------------
def test_missing_api_key_names_the_variable() -> None:
    result = run_cli("chat", "--provider", "openai", "hi")
    assert result.returncode == 3
    assert _lines(result.stderr) == [
        "error: openai needs an API key: pass api_key=... or set OPENAI_API_KEY",
        "hint: export OPENAI_API_KEY=...",
    ]


def test_no_provider_at_all_says_how_to_give_one() -> None:
    result = run_cli("chat", "hi")
    assert result.returncode == 3
    assert _lines(result.stderr)[0] == "error: no provider given"
    assert _lines(result.stderr)[1].startswith("hint: pass --provider NAME")


def test_api_key_env_that_is_unset() -> None:
    result = run_cli("chat", "--base-url", "http://127.0.0.1:9/v1", "--api-key-env", "MY_KEY", "x")
    assert result.returncode == 3
    assert _lines(result.stderr) == [
        "error: --api-key-env names MY_KEY, which is not set",
        "hint: export MY_KEY=...",
    ]


def test_api_key_env_is_sent_as_a_header(upstream: ThreadedFakeServer) -> None:
    env = clean_env(MY_KEY=SECRET)
    result = run_cli(
        "chat", "--base-url", upstream.base_url, "--api-key-env", "MY_KEY", "x", env=env
    )
    assert result.returncode == 0, result.stderr
    assert upstream.requests[-1].headers["Authorization"] == f"Bearer {SECRET}"
    assert SECRET not in upstream.requests[-1].path + str(upstream.requests[-1].query)


@pytest.mark.parametrize("debug", [False, True])
def test_an_upstream_echoing_the_key_does_not_get_it_printed(
    fake: ThreadedFakeServer, debug: bool
) -> None:
    fake.script("POST", CHAT, error(401, f"Incorrect API key provided: {SECRET}"))
    env = clean_env(MY_KEY=SECRET)
    extra = ["--debug"] if debug else []
    result = run_cli(
        *extra, "chat", "--base-url", fake.base_url, "--api-key-env", "MY_KEY", "x", env=env
    )
    assert result.returncode == 1
    assert SECRET not in result.stderr + result.stdout
    assert "Incorrect API key provided: [redacted]" in result.stderr
    assert ("Traceback" in result.stderr) is debug
    assert _lines(result.stderr)[-1].startswith("hint: check the API key")


def test_http_error_is_one_line_with_a_hint_and_debug_adds_the_traceback(
    fake: ThreadedFakeServer,
) -> None:
    fake.script("POST", CHAT, error(404, "The model `gpt-9` does not exist"))
    result = run_cli("chat", "--base-url", fake.base_url, "-m", "gpt-9", "x")
    assert result.returncode == 1
    assert _lines(result.stderr) == [
        "error: openai-compatible: HTTP 404: The model `gpt-9` does not exist",
        "hint: check --model and --base-url; 'polymux models' lists what a provider serves",
    ]
    debug = run_cli("chat", "--base-url", fake.base_url, "-m", "gpt-9", "x", "--debug")
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert "NotFoundError" in debug.stderr


def test_max_retries_and_timeout_options(fake: ThreadedFakeServer) -> None:
    fake.requests.clear()
    fake.script("POST", CHAT, error(500, "overloaded"))
    result = run_cli("chat", "--base-url", fake.base_url, "--max-retries", "1", "x")
    assert result.returncode == 1
    assert len(fake.requests) == 2  # the call and one retry
    fake.script("POST", CHAT, stall(2))
    slow = run_cli(
        "chat", "--base-url", fake.base_url, "--timeout", "0.2", "--max-retries", "0", "x"
    )
    assert slow.returncode == 1
    assert (
        _lines(slow.stderr)[-1]
        == "hint: the provider was too slow; retry, or try another --provider"
    )
    bad = run_cli("chat", "--base-url", fake.base_url, "--timeout", "0", "x")
    assert (bad.returncode, _lines(bad.stderr)[0]) == (
        2,
        "error: --timeout must be positive, got 0",
    )


def test_connection_refused_exits_1_with_a_hint() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    result = run_cli("chat", "--base-url", url, "--max-retries", "0", "x")
    assert result.returncode == 1
    lines = _lines(result.stderr)
    assert lines[0].startswith("error: ") and len(lines) == 2
    assert lines[1] == "hint: check --base-url and that the provider is reachable from here"


def test_a_stream_cut_midway_keeps_the_text_and_reports_on_a_new_line(
    fake: ThreadedFakeServer,
) -> None:
    fake.script("POST", CHAT, sse_data(text_chunks(["partial ", "answer"]), reset_after=3))
    result = run_cli("chat", "--base-url", fake.base_url, "x")
    assert result.returncode == 1
    assert result.stdout == "partial answer\n"
    assert _lines(result.stderr)[0].startswith("error: ")


def test_ctrl_c_exits_130(fake: ThreadedFakeServer) -> None:
    fake.requests.clear()
    fake.script("POST", CHAT, stall(3))
    proc = subprocess.Popen(
        [PY, "-m", "polymux", "chat", "--base-url", fake.base_url, "x"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 20
        while not fake.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert fake.requests, "the CLI never reached the upstream"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err.strip() == "interrupted"


# -- image -----------------------------------------------------------------------------------------
def _b64_images(*blobs: bytes) -> dict[str, object]:
    return {"created": 1, "data": [{"b64_json": base64.b64encode(b).decode()} for b in blobs]}


def test_image_writes_the_file_and_prints_its_path(
    fake: ThreadedFakeServer, tmp_path: Path
) -> None:
    fake.requests.clear()
    fake.script("POST", IMAGES, json_action(200, _b64_images(PNG)))
    out = tmp_path / "cat.png"
    result = run_cli(
        "image", "--base-url", fake.base_url, "a", "cat", "-o", str(out), "--size", "256x256"
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == PNG
    assert result.stdout == f"{out}\n"
    assert result.stderr == ""  # no spinner: stderr is not a terminal
    body = fake.requests[-1].json
    assert (body["prompt"], body["size"], body["n"]) == ("a cat", "256x256", 1)


def test_image_n_numbers_the_files_and_adds_a_missing_suffix(
    fake: ThreadedFakeServer, tmp_path: Path
) -> None:
    jpeg = b"\xff\xd8\xff" + b"\x01" * 40
    fake.script("POST", IMAGES, json_action(200, _b64_images(PNG, jpeg)))
    result = run_cli(
        "image", "--base-url", fake.base_url, "two", "-n", "2", "-o", str(tmp_path / "pic")
    )
    assert result.returncode == 0, result.stderr
    assert _lines(result.stdout) == [str(tmp_path / "pic-1.png"), str(tmp_path / "pic-2.jpg")]
    assert (tmp_path / "pic-1.png").read_bytes() == PNG
    assert (tmp_path / "pic-2.jpg").read_bytes() == jpeg


def test_image_into_a_missing_directory_fails_before_calling(fake: ThreadedFakeServer) -> None:
    fake.requests.clear()
    result = run_cli("image", "--base-url", fake.base_url, "x", "-o", "/no/such/dir/x.png")
    assert result.returncode == 4
    assert (
        _lines(result.stderr)[0]
        == "error: cannot write /no/such/dir/x.png: no directory /no/such/dir"
    )
    assert fake.requests == []


def test_image_provider_error(fake: ThreadedFakeServer, tmp_path: Path) -> None:
    fake.script("POST", IMAGES, error(400, "prompt rejected by the safety system"))
    result = run_cli("image", "--base-url", fake.base_url, "x", "-o", str(tmp_path / "x.png"))
    assert result.returncode == 1
    assert "prompt rejected by the safety system" in _lines(result.stderr)[0]
    assert not (tmp_path / "x.png").exists()


# -- models and providers ------------------------------------------------------------------------
def test_models_lists_the_upstreams_models(fake: ThreadedFakeServer) -> None:
    fake.script("GET", MODELS, models("m-small", "m-large"))
    result = run_cli("models", "--base-url", fake.base_url)
    assert result.returncode == 0, result.stderr
    assert _lines(result.stdout) == ["openai-compatible  m-small", "openai-compatible  m-large"]
    as_json = json.loads(run_cli("models", "--base-url", fake.base_url, "--json").stdout)
    assert [m["id"] for m in as_json["data"]] == ["m-small", "m-large"]


def test_models_warns_about_a_failing_provider_and_lists_the_others(
    fake: ThreadedFakeServer,
) -> None:
    fake.script("GET", MODELS, error(500, "models are down"))
    result = run_cli(
        "models",
        "-p",
        "tests.cli_support:Echo",
        "-p",
        "openai-compatible",
        "--base-url",
        fake.base_url,
        "--max-retries",
        "0",
    )
    assert result.returncode == 0, result.stderr
    assert _lines(result.stdout) == ["Echo  echo-1"]
    assert _lines(result.stderr)[0].startswith("warning: openai-compatible: ")
    alone = run_cli("models", "--base-url", fake.base_url, "--max-retries", "0")
    assert alone.returncode == 1
    assert "models are down" in _lines(alone.stderr)[0]


def test_models_without_any_key_says_what_to_do() -> None:
    result = run_cli("models")
    assert result.returncode == 3
    assert _lines(result.stderr)[0] == "error: no provider has an API key set here"


def test_providers_says_which_are_usable_and_why_not() -> None:
    from polymux.providers.registry import BUILTIN_PROVIDERS

    plain = run_cli("providers")
    assert plain.returncode == 0, plain.stderr
    rows = {line.split()[0]: line for line in _lines(plain.stdout)[1:]}
    assert set(BUILTIN_PROVIDERS) <= set(rows)
    assert rows["groq"].split()[1] == "no" and "GROQ_API_KEY" in rows["groq"]

    keyed = run_cli("providers", "--json", env=clean_env(GROQ_API_KEY=SECRET))
    assert SECRET not in keyed.stdout
    table = {row["name"]: row for row in json.loads(keyed.stdout)}
    assert table["groq"]["usable"] is True and table["groq"]["reason"] is None
    assert table["groq"]["base_url"].startswith("https://")
    assert table["openai"]["usable"] is False and "OPENAI_API_KEY" in table["openai"]["reason"]
    assert "chat" in table["openai"]["serves"]

    usable = run_cli("providers", "--usable", env=clean_env(GROQ_API_KEY=SECRET))
    assert "groq" in usable.stdout and "\nopenai " not in usable.stdout


def test_closing_stdout_early_is_not_an_error() -> None:
    # `polymux providers | head -1` where the reader is gone before the first write: the
    # read end is closed right after the start, long before the interpreter is up.
    with subprocess.Popen(
        [PY, "-m", "polymux", "providers"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**clean_env(), "PYTHONUNBUFFERED": "1"},
        cwd=ROOT,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        err = proc.stderr.read()
        proc.wait(timeout=20)
    assert err == b""
    assert proc.returncode == 141
