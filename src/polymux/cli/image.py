"""``polymux image PROMPT -o FILE``: generate images and write them to files.

With ``-n`` above 1 the files are numbered: ``-o cat.png -n 3`` writes cat-1.png, cat-2.png
and cat-3.png. A FILE without a suffix gets one from the image's type. The written paths are
printed on stdout, one per line; a spinner shows on stderr while waiting, if it is a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
import time
from pathlib import Path
from typing import Any

from .app import EXIT_IO, EXIT_OK, CLIError, Runner, usage_error
from .common import LoopRunner, add_provider_options, make_client

__all__ = ["output_paths", "register"]

_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
}
_FRAMES = "|/-\\"


def register(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("prompt", nargs="+", metavar="PROMPT", help="what the image shows")
    parser.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="where to write the image"
    )
    parser.add_argument("-m", "--model", default="", help="image model (default: the provider's)")
    parser.add_argument("--size", metavar="WxH", help="image size, e.g. 1024x1024")
    parser.add_argument(
        "-n", type=int, default=1, metavar="N", help="how many images (files get numbered)"
    )
    add_provider_options(parser)
    return run


def output_paths(output: str, n: int) -> list[Path]:
    """``cat.png`` -> [cat.png] for one image, [cat-1.png, cat-2.png, ...] for several."""
    path = Path(output)
    if n == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{i}{path.suffix}") for i in range(1, n + 1)]


def _with_suffix(path: Path, data: bytes) -> Path:
    if path.suffix:
        return path
    from ..client.vision import sniff_media_type

    return path.with_suffix(_EXTENSIONS.get(sniff_media_type(data) or "", ".png"))


async def _spinner(started: float) -> None:
    err = sys.stderr
    frame = 0
    try:
        while True:
            elapsed = time.monotonic() - started
            err.write(f"\r{_FRAMES[frame % len(_FRAMES)]} generating... {elapsed:4.1f}s")
            err.flush()
            frame += 1
            await asyncio.sleep(0.1)
    finally:
        err.write("\r\x1b[K")  # clear the spinner's line
        err.flush()


async def _generate(client: Any, args: argparse.Namespace) -> Any:
    params: dict[str, Any] = {"n": args.n, "response_format": "b64_json"}
    if args.size:
        params["size"] = args.size
    spinner = None
    if sys.stderr.isatty():
        spinner = asyncio.create_task(_spinner(time.monotonic()))
    try:
        return await client.images.generate(
            prompt=" ".join(args.prompt), model=args.model, **params
        )
    finally:
        if spinner is not None:
            spinner.cancel()
            await asyncio.gather(spinner, return_exceptions=True)


def run(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise usage_error(f"-n must be at least 1, got {args.n}")
    paths = output_paths(args.output, args.n)
    # Check where the files go before a (slow, maybe paid) generation runs.
    parent = paths[0].parent
    if not parent.is_dir():
        raise CLIError(f"cannot write {paths[0]}: no directory {parent}", code=EXIT_IO)
    client = make_client(args)
    with LoopRunner() as runner:
        try:
            response = runner.run(_generate(client, args))
        finally:
            runner.run(client.close())
    for path, image in zip(paths, response.data):
        data = base64.b64decode(image.b64_json or "")
        path = _with_suffix(path, data)
        path.write_bytes(data)
        sys.stdout.write(f"{path}\n")
    if len(response.data) < args.n:
        sys.stderr.write(f"note: the provider returned {len(response.data)} of {args.n} images\n")
    return EXIT_OK
