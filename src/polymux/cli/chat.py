"""``polymux chat``: one-shot answers and an interactive session, streamed as tokens arrive.

One-shot when a prompt is given as arguments or piped on stdin (both: stdin first, then the
arguments, as in ``git diff | polymux chat "review this"``); interactive when neither is.
The answer text goes to stdout; status lines and errors go to stderr, so output pipes cleanly.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from .app import EXIT_OK, Runner, report, usage_error
from .common import LoopRunner, add_provider_options, make_client

__all__ = ["register"]

#: Largest prompt read from stdin; a larger one is a mistake (a binary file piped by accident).
MAX_STDIN_BYTES = 8 * 1024 * 1024

_REPL_HELP = """\
commands:
  /exit, /quit    end the session (or Ctrl-D)
  /reset          forget the conversation (the --system prompt stays)
  /image PATH     attach an image (file or URL) to your next message
  /help           this text
Ctrl-C stops an answer that is being written."""


def register(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument(
        "prompt",
        nargs="*",
        metavar="PROMPT",
        help="the prompt; without one, read stdin or start an interactive session",
    )
    parser.add_argument("-m", "--model", default="", help="model id (default: the provider's)")
    parser.add_argument("-s", "--system", metavar="TEXT", help="system prompt")
    parser.add_argument(
        "-i",
        "--image",
        action="append",
        default=[],
        metavar="PATH_OR_URL",
        help="an image for a vision model (a file, an http(s) URL or a data: URI); repeatable",
    )
    parser.add_argument("-t", "--temperature", type=float, metavar="T", help="sampling temperature")
    parser.add_argument("--max-tokens", type=int, metavar="N", help="most tokens in the answer")
    parser.add_argument(
        "--json",
        action="store_true",
        help="raw output: one JSON chunk per line (with --no-stream: the whole completion)",
    )
    parser.add_argument(
        "--no-stream", action="store_true", help="wait for the whole answer instead of streaming"
    )
    add_provider_options(parser)
    return run


# -- the conversation ------------------------------------------------------------------------------
@dataclass
class Conversation:
    system: str | None
    messages: list[dict[str, Any]] = field(default_factory=list)

    def reset(self) -> None:
        self.messages = [{"role": "system", "content": self.system}] if self.system else []

    def __post_init__(self) -> None:
        self.reset()


def _user_message(text: str, images: list[str]) -> dict[str, Any]:
    if not images:
        return {"role": "user", "content": text}
    # Read and check each image once, now: the history then holds data: URIs or URLs, so
    # later turns neither re-read files nor fail on one that moved.
    from ..client.vision import image_part

    return {"role": "user", "content": [{"type": "text", "text": text}, *map(image_part, images)]}


@dataclass
class Answer:
    """What one turn produced so far; kept by the caller when the turn is interrupted."""

    text: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    open_line: bool = False  # stdout holds a partial line of the answer

    @property
    def content(self) -> str:
        return "".join(self.text)


def _params(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if args.temperature is not None:
        params["temperature"] = args.temperature
    if args.max_tokens is not None:
        params["max_tokens"] = args.max_tokens
    return params


async def _answer(
    client: Any, args: argparse.Namespace, messages: list[dict[str, Any]], answer: Answer
) -> None:
    out = sys.stdout
    create = client.chat.completions.create
    if args.no_stream:
        completion = await create(
            model=args.model, messages=messages, stream=False, **_params(args)
        )
        choice = completion.choices[0]
        answer.text.append(choice.message.content or choice.message.refusal or "")
        answer.finish_reason = choice.finish_reason
        out.write(completion.model_dump_json() if args.json else answer.content)
        answer.open_line = True
        return
    async with create(model=args.model, messages=messages, stream=True, **_params(args)) as stream:
        async for chunk in stream:
            for choice in chunk.choices:
                if choice.index != 0:
                    continue
                piece = choice.delta.content or choice.delta.refusal
                if piece:
                    answer.text.append(piece)
                if choice.finish_reason:
                    answer.finish_reason = choice.finish_reason
                if piece and not args.json:
                    out.write(piece)
                    answer.open_line = not piece.endswith("\n")
                    out.flush()
            if args.json:
                out.write(chunk.model_dump_json() + "\n")
                out.flush()


def _end_answer(answer: Answer, args: argparse.Namespace) -> None:
    if answer.open_line:
        sys.stdout.write("\n")
        answer.open_line = False
    sys.stdout.flush()
    if answer.finish_reason == "length" and not args.json:
        sys.stderr.write("[the answer was cut: it reached --max-tokens or the model's limit]\n")
    elif answer.finish_reason == "content_filter" and not args.json:
        sys.stderr.write("[the provider's content filter stopped the answer]\n")


def _preflight(client: Any) -> None:
    """Fail before the first prompt when no provider has the key it needs."""
    providers = client.providers
    if providers and not any(p.is_configured for p in providers):
        providers[0].require_api_key()


# -- one-shot --------------------------------------------------------------------------------------
def _read_stdin(stream: TextIO) -> str:
    data = stream.buffer.read(MAX_STDIN_BYTES + 1) if hasattr(stream, "buffer") else b""
    if len(data) > MAX_STDIN_BYTES:
        raise usage_error(f"stdin holds more than {MAX_STDIN_BYTES} bytes; that is no prompt")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise usage_error(
            "stdin is not UTF-8 text", "pipe text, or pass images with --image"
        ) from None


def _one_shot(runner: LoopRunner, client: Any, args: argparse.Namespace, prompt: str) -> int:
    conversation = Conversation(args.system)
    conversation.messages.append(_user_message(prompt, args.image))
    answer = Answer()
    try:
        runner.run(_answer(client, args, conversation.messages, answer))
    finally:
        _end_answer(answer, args)
    return EXIT_OK


# -- interactive -----------------------------------------------------------------------------------
def _repl(runner: LoopRunner, client: Any, args: argparse.Namespace) -> int:
    with contextlib.suppress(ImportError):  # Windows has no readline
        import readline  # noqa: F401  (line editing and history for input())
    err = sys.stderr
    names = ", ".join(p.name for p in client.providers) or "the providers that serve it"
    model = args.model or "the default model"
    err.write(f"polymux chat: {model} via {names}. /help for commands, Ctrl-D to quit.\n")
    err.flush()
    conversation = Conversation(args.system)
    pending_images: list[str] = list(args.image)
    while True:
        try:
            line = input("> ")
        except EOFError:
            err.write("\n")
            return EXIT_OK
        except KeyboardInterrupt:
            err.write("\n(Ctrl-D or /exit to quit)\n")
            continue
        text = line.strip()
        if not text:
            continue
        if text.startswith("/"):
            command, _, rest = text.partition(" ")
            if command in ("/exit", "/quit"):
                return EXIT_OK
            if command == "/reset":
                conversation.reset()
                pending_images.clear()
                err.write("(conversation reset)\n")
            elif command == "/image" and rest.strip():
                pending_images.append(rest.strip())
                err.write(f"(image attached to your next message: {rest.strip()})\n")
            elif command == "/help":
                err.write(_REPL_HELP + "\n")
            else:
                err.write(f"unknown command {command}; /help lists them\n")
            err.flush()
            continue
        _turn(runner, client, args, conversation, text, pending_images)


def _turn(
    runner: LoopRunner,
    client: Any,
    args: argparse.Namespace,
    conversation: Conversation,
    text: str,
    pending_images: list[str],
) -> None:
    """One exchange. Failures are reported and the session goes on without that turn."""
    try:
        message = _user_message(text, pending_images)
    except Exception as exc:
        report(exc, debug=args.debug)
        return
    pending_images.clear()
    conversation.messages.append(message)
    answer = Answer()
    try:
        runner.run(_answer(client, args, conversation.messages, answer))
    except KeyboardInterrupt:
        _end_answer(answer, args)
        sys.stderr.write("[interrupted]\n")
        if answer.content:  # keep what was shown, so the history matches the screen
            conversation.messages.append({"role": "assistant", "content": answer.content})
        else:
            conversation.messages.pop()
        return
    except Exception as exc:
        _end_answer(answer, args)
        report(exc, debug=args.debug)
        conversation.messages.pop()
        return
    _end_answer(answer, args)
    conversation.messages.append({"role": "assistant", "content": answer.content})


# -- entry -----------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    prompt = " ".join(args.prompt)
    interactive = False
    if not sys.stdin.isatty():
        piped = _read_stdin(sys.stdin).strip()
        prompt = f"{piped}\n\n{prompt}" if piped and prompt else (piped or prompt)
        if not prompt:
            raise usage_error("no prompt: stdin was empty", 'pass one: polymux chat "Hello"')
    elif not prompt:
        interactive = True
    client = make_client(args, route_by_model=True)
    _preflight(client)
    with LoopRunner() as runner:
        try:
            if interactive:
                return _repl(runner, client, args)
            return _one_shot(runner, client, args, prompt)
        finally:
            runner.run(client.close())
