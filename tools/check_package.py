"""Check the built distributions the way a new user meets them.

Run by `make package` (part of `make test`) after `python -m build` has written ``dist/``:

- the wheel holds the package, its ``py.typed`` and its run-time data files (the web chat's
  page, scripts and npm libraries included), and no tests;
- the wheel and the sdist each install into a fresh virtualenv, and from that install alone
  (working directory outside the checkout, so the source tree is not on the path)
  ``import polymux``, ``polymux --help`` and ``polymux serve --help`` work.

Exits non-zero with a message naming what failed.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import venv
import zipfile
from pathlib import Path

PACKAGE = "polymux"
# Files the package reads at run time: they must ship inside the wheel.
REQUIRED = (
    f"{PACKAGE}/py.typed",
    f"{PACKAGE}/__init__.py",
    f"{PACKAGE}/__main__.py",
    f"{PACKAGE}/server/static/index.html",
    f"{PACKAGE}/server/static/app.css",
    f"{PACKAGE}/server/static/js/main.js",
    f"{PACKAGE}/server/static/vendor/marked.esm.js",
    f"{PACKAGE}/server/static/vendor/purify.es.mjs",
    f"{PACKAGE}/server/static/vendor/highlight.min.js",
)
# The web chat's files, as the installed gateway finds them (the sdist must carry them too).
WEB_CHECK = (
    "from polymux.server import web; files = web.assets(); "
    "missing = [n for n in ('index.html', *web.VENDOR) if n not in files]; "
    "assert not missing, missing"
)


def fail(message: str) -> None:
    sys.exit(f"check_package: {message}")


def check_wheel_contents(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for required in REQUIRED:
        if required not in names:
            fail(f"{wheel.name} lacks {required}")
    stray = [n for n in names if not n.startswith((f"{PACKAGE}/", f"{PACKAGE}-"))]
    if stray:
        fail(f"{wheel.name} holds files outside the package: {stray[:5]}")
    tests = [n for n in names if "/tests/" in n or n.split("/")[-1].startswith("test_")]
    if tests:
        fail(f"{wheel.name} ships tests: {tests[:5]}")


def run(argv: list[str], cwd: Path) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        fail(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def check_install(dist: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="polymux-install-") as tmp:
        home = Path(tmp)
        venv.EnvBuilder(with_pip=True).create(home / "venv")
        bin_dir = home / "venv" / ("Scripts" if sys.platform == "win32" else "bin")
        python = str(bin_dir / "python")
        run([python, "-m", "pip", "install", "-q", f"{dist}[server]"], cwd=home)
        where = run([python, "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)"], cwd=home)
        if str(Path.cwd()) in where:
            fail(f"{dist.name}: `import {PACKAGE}` found the checkout, not the install: {where}")
        cli = str(bin_dir / PACKAGE)
        if "serve" not in run([cli, "--help"], cwd=home):
            fail(f"{dist.name}: `{PACKAGE} --help` does not list `serve`")
        if "--port" not in run([cli, "serve", "--help"], cwd=home):
            fail(f"{dist.name}: `{PACKAGE} serve --help` does not list `--port`")
        run([python, "-m", PACKAGE, "--help"], cwd=home)
        run([python, "-c", WEB_CHECK], cwd=home)
    print(f"check_package: {dist.name} installs and runs in a fresh virtualenv")


def main() -> None:
    dist_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "dist").resolve()
    wheels = sorted(dist_dir.glob(f"{PACKAGE}-*.whl"))
    sdists = sorted(dist_dir.glob(f"{PACKAGE}-*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        fail(f"expected one wheel and one sdist in {dist_dir}, found {wheels + sdists}")
    check_wheel_contents(wheels[0])
    for dist in (wheels[0], sdists[0]):
        check_install(dist)


if __name__ == "__main__":
    main()
