"""Benchmark: how fast the command line answers a usage error (issue 11).

``initcheck check he_normall`` (a typo) must exit 2 in well under 1.5 s wall, without
importing TensorFlow. Measures the wall time of the subprocess (best of 3), next to a bare
``python -c pass`` for scale. Not a test: numbers depend on the machine and its load.

Usage (from the repository root):
    PYTHONPATH=$PWD python benchmarks/bench_cli.py
"""

from __future__ import annotations

import subprocess
import sys
import time

__all__ = ["main", "wall"]

REPEATS = 3


def wall(argv: list[str], repeats: int = REPEATS) -> tuple[float, int]:
    """Best wall time of running ``argv`` ``repeats`` times, and its last exit code.

    Args:
        argv: the command.
        repeats: how many runs.

    Returns:
        ``(best seconds, exit code)``.
    """
    best, code = float("inf"), 0
    for _ in range(repeats):
        start = time.perf_counter()
        code = subprocess.run(argv, capture_output=True, check=False).returncode
        best = min(best, time.perf_counter() - start)
    return best, code


def main() -> None:
    bare, _ = wall([sys.executable, "-c", "pass"])
    typo, code = wall([sys.executable, "-m", "initcheck", "check", "he_normall"])
    print(f"python -c pass:               {bare:.3f} s (best of {REPEATS})")
    print(f"initcheck check he_normall:   {typo:.3f} s (best of {REPEATS}), exit {code}")
    print("target: well under 1.5 s, exit 2")


if __name__ == "__main__":
    main()
