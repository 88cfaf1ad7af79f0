"""Overhead of initcheck's pytest plugin on a suite that does not use it.

Runs 50 trivial tests with the plugin (installed entry point) and with
``-p no:initcheck``, several times each, alternating, and compares the median wall time
of the whole ``python -m pytest`` process. Target: at most 50 ms or 10% slower.

    python benchmarks/bench_plugin_overhead.py [--repeat 15] [--tests 50]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_suite(root: Path, n: int) -> None:
    body = "\n\n".join(f"def test_{i}():\n    assert {i} + 1 == {i + 1}" for i in range(n))
    (root / "test_trivial.py").write_text(body + "\n")
    (root / "pytest.ini").write_text("[pytest]\n")


def run_once(root: Path, extra: list[str]) -> float:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra]
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"pytest failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--tests", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_suite(root, args.tests)
        variants = {"with initcheck": [], "-p no:initcheck": ["-p", "no:initcheck"]}
        times: dict[str, list[float]] = {k: [] for k in variants}
        for extra in variants.values():  # warm-up (bytecode caches, disk)
            run_once(root, extra)
        for _ in range(args.repeat):
            for name, extra in variants.items():
                times[name].append(run_once(root, extra))
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["-p no:initcheck"]
    print(f"{args.tests} trivial tests, {args.repeat} runs each (median wall time of pytest)")
    print(f"{'variant':<18} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, values in times.items():
        print(f"{name:<18} {med[name]:>9.3f} {min(values):>7.3f} {max(values):>7.3f}")
    diff = med["with initcheck"] - base
    ok = diff <= 0.050 or diff <= 0.10 * base
    print(
        f"overhead: {diff * 1000:+.1f} ms ({diff / base:+.1%}); target <= 50 ms or <= 10%: "
        f"{'met' if ok else 'NOT met'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
