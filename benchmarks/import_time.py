"""Median wall time of ``python -c "import polymux"`` against bare ``python -c pass``.

The two commands alternate so that machine noise hits both alike. Target: within 40 ms.

    python benchmarks/import_time.py [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

TARGET_MS = 40.0


def wall_time(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each command (default 20)")
    args = parser.parse_args()

    wall_time("import polymux")  # warm the file cache and compile bytecode once
    bare: list[float] = []
    imported: list[float] = []
    for _ in range(args.runs):
        bare.append(wall_time("pass"))
        imported.append(wall_time("import polymux"))

    bare_ms = statistics.median(bare) * 1000
    import_ms = statistics.median(imported) * 1000
    diff = import_ms - bare_ms
    print(f"python -c pass:            median {bare_ms:7.1f} ms over {args.runs} runs")
    print(f'python -c "import polymux": median {import_ms:7.1f} ms over {args.runs} runs')
    verdict = "within" if diff <= TARGET_MS else "OVER"
    print(f"difference:                {diff:7.1f} ms ({verdict} the {TARGET_MS:.0f} ms target)")
    return 0 if diff <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
