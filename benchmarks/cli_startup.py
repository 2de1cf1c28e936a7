"""How long ``polymux --help`` takes, wall clock, against a bare ``python -c pass``.

Run: ``.venv/bin/python benchmarks/cli_startup.py [--runs 15]``. Prints the median of each
and the difference (what polymux adds). Target: ``polymux --help`` under 150 ms.
Each run is a fresh interpreter, as a user's shell starts one.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def median_ms(cmd: list[str], runs: int) -> float:
    subprocess.run(cmd, check=True, capture_output=True)  # warm the OS file cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    py = sys.executable
    cases = {
        "python -c pass": [py, "-c", "pass"],
        "polymux --help": [py, "-m", "polymux", "--help"],
        "polymux chat --help": [py, "-m", "polymux", "chat", "--help"],
        "polymux providers": [py, "-m", "polymux", "providers"],
    }
    results = {name: median_ms(cmd, runs) for name, cmd in cases.items()}
    base = results["python -c pass"]
    print(f"median of {runs} runs (wall clock)")
    for name, ms in results.items():
        extra = "" if name == "python -c pass" else f"  (+{ms - base:.1f} ms over python)"
        print(f"  {name:<22} {ms:7.1f} ms{extra}")
    help_ms = results["polymux --help"]
    verdict = "OK" if help_ms < 150 else "OVER"
    print(f"polymux --help: {help_ms:.1f} ms, target < 150 ms: {verdict}")


if __name__ == "__main__":
    main()
