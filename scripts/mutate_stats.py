"""Mutation check of the statistical tests: does the suite catch a weakened decision?

Each mutation below is applied to a fresh temporary copy of the repository (the files git
tracks, as they are in the working tree); the tests named for it then run in the copy
(``cwd`` and ``PYTHONPATH`` point at the copy, so the mutated package is the one
imported). A mutation is *caught* when those tests fail. The unmutated copy runs the
union of the tests first and must pass, so a catch is never a suite that fails anyway.

    python scripts/mutate_stats.py [--only NAME ...] [--keep]

Exit status 0 when the baseline passes and every mutation is caught, else 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutation:
    name: str
    what: str
    edits: tuple[tuple[str, str, str], ...]  # (file, old text, new text); old must occur
    tests: tuple[str, ...]  # pytest arguments


THRESHOLDS = "tests/test_thresholds.py"
CALIBRATION = "tests/test_calibration.py"

MUTATIONS = (
    Mutation(
        "std-band",
        "std band widened: std_tolerance 0.12, std_detect 0.20 (the documented ×1.10 passes)",
        (
            ("initcheck/settings.py", "std_tolerance: float = 0.05", "std_tolerance: float = 0.12"),
            ("initcheck/settings.py", "std_detect: float = 0.10", "std_detect: float = 0.20"),
        ),
        (THRESHOLDS,),
    ),
    Mutation(
        "power",
        "power 0.999 -> 0.5",
        (("initcheck/settings.py", "power: float = 0.999", "power: float = 0.5"),),
        (THRESHOLDS,),
    ),
    Mutation(
        "mean-band",
        "mean band widened: mean_tolerance 0.12, mean_detect 0.20 (0.10σ passes)",
        (
            (
                "initcheck/settings.py",
                "mean_tolerance: float = 0.05",
                "mean_tolerance: float = 0.12",
            ),
            ("initcheck/settings.py", "mean_detect: float = 0.10", "mean_detect: float = 0.20"),
        ),
        (THRESHOLDS,),
    ),
    Mutation(
        "ratio-rule",
        "the training check's 20× rule removed",
        (
            ("initcheck/checks/training.py", "elif stat > MAX_RATIO * ref:", "elif False:"),
            (
                "initcheck/checks/training.py",
                "limit = min(MAX_LOSS, MAX_RATIO * ref)",
                "limit = MAX_LOSS",
            ),
        ),
        ("tests/test_training.py", "-k", "20x or verdict"),
    ),
    Mutation(
        "alpha",
        "alpha ignored: every interval at a fixed 0.05",
        (
            (
                "initcheck/stats.py",
                "return float(stats.norm.isf(alpha / 2))",
                "return float(stats.norm.isf(0.05 / 2))",
            ),
            (
                "initcheck/stats.py",
                "float(stats.t.isf(alpha / 2, m.n - 1))",
                "float(stats.t.isf(0.05 / 2, m.n - 1))",
            ),
        ),
        (THRESHOLDS, CALIBRATION),
    ),
    Mutation(
        "square-shapes",
        "the strategies allowed to return in == out",
        (("initcheck/strategies.py", "return shape[-2] != shape[-1]", "return True"),),
        ("tests/test_strategies.py",),
    ),
)


def copy_repo(dest: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = ROOT / os.fsdecode(name)
        if src.is_file():
            (dest / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / os.fsdecode(name))


def apply(copy: Path, mutation: Mutation) -> None:
    for file, old, new in mutation.edits:
        path = copy / file
        text = path.read_text()
        if text.count(old) != 1:
            raise SystemExit(
                f"mutation {mutation.name}: {old!r} occurs {text.count(old)} times in {file} "
                "(expected once); update scripts/mutate_stats.py"
            )
        path.write_text(text.replace(old, new))


def run_tests(copy: Path, args: tuple[str, ...]) -> tuple[bool, float, str, list[str]]:
    """(passed, seconds, pytest's last line, the failed tests' names) of ``args`` in ``copy``."""
    env = {**os.environ, "PYTHONPATH": str(copy)}
    start = time.perf_counter()
    pytest = [sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:randomly"]
    proc = subprocess.run(
        [*pytest, "-p", "no:cacheprovider", *args],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    failed = [
        ln.split()[1].split("::", 1)[-1] for ln in lines if ln.startswith(("FAILED ", "ERROR "))
    ]
    tail = lines[-1].strip("= ") if lines else ""
    return proc.returncode == 0, time.perf_counter() - start, tail, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="mutation names to run (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copies")
    args = parser.parse_args()
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only]
    with tempfile.TemporaryDirectory(prefix="initcheck-mutants-") as tmp:
        base = Path(tmp) / "baseline"
        copy_repo(base)
        files = sorted({t for m in chosen for t in m.tests if t.startswith("tests/")})
        ok, secs, tail, _ = run_tests(base, tuple(files))
        print(
            f"baseline (unmutated, {' '.join(files)}): {'pass' if ok else 'FAIL'} "
            f"in {secs:.0f} s — {tail}"
        )
        if not ok:
            print("the unmutated suite fails: no mutation can be judged")
            return 1
        caught = 0
        print()
        print("| mutation | what | tests run | caught: failing tests | time |")
        print("|---|---|---|---|---|")
        for m in chosen:
            copy = Path(tmp) / m.name
            copy_repo(copy)
            apply(copy, m)
            passed, secs, tail, failed = run_tests(copy, m.tests)
            caught += not passed
            groups = Counter(n.split("[", 1)[0] for n in failed)  # per test function
            names = ", ".join(f"`{n}` ×{k}" if k > 1 else f"`{n}`" for n, k in groups.items())
            verdict = f"yes, {tail}: {names}" if not passed else "**NO** (tests pass)"
            print(
                f"| {m.name} | {m.what} | `{' '.join(m.tests)}` | {verdict} | {secs:.0f} s |",
                flush=True,
            )
            if args.keep:
                shutil.copytree(copy, ROOT / "reports" / "mutants" / m.name, dirs_exist_ok=True)
        print()
        print(f"{caught} of {len(chosen)} mutations caught")
        return 0 if caught == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
