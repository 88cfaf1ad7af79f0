"""Run the plugin's statistical self-tests under random Hypothesis seeds.

A throw-away project gates three correct initializers (He, Glorot, LeCun; every property
must pass) and three broken ones (fan_out instead of fan_in, a fixed std of 0.05, a mean
of +0.5 std; the named property must fail), and has a user test exploring shapes with
``@given(kernel_shapes())`` + ``initcheck.assert_variance`` on a correct initializer.
Each run passes ``--hypothesis-seed=S`` (new shapes every run); a run counts as a failure
if any correct check failed or any broken defect went undetected.

    python scripts/selftest_seeds.py [--runs 20] [--seed-of-seeds N]

Expected: 0 failures.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

INITS = """
import math
import numpy as np

def _fans(shape):
    k = math.prod(shape[:-2])
    return shape[-2] * k, shape[-1] * k

def he(shape, dtype=None, seed=None):
    return np.random.default_rng(seed).normal(0, math.sqrt(2 / _fans(shape)[0]), shape)

def glorot(shape, dtype=None, seed=None):
    fan_in, fan_out = _fans(shape)
    limit = math.sqrt(6 / (fan_in + fan_out))
    return np.random.default_rng(seed).uniform(-limit, limit, shape)

def lecun(shape, dtype=None, seed=None):
    return np.random.default_rng(seed).normal(0, math.sqrt(1 / _fans(shape)[0]), shape)

def fan_out_he(shape, dtype=None, seed=None):
    return np.random.default_rng(seed).normal(0, math.sqrt(2 / _fans(shape)[1]), shape)

def fixed_std(shape, dtype=None, seed=None):
    return np.random.default_rng(seed).normal(0, 0.05, shape)

def shifted_he(shape, dtype=None, seed=None):
    std = math.sqrt(2 / _fans(shape)[0])
    return np.random.default_rng(seed).normal(0.5 * std, std, shape)
"""

USER_TEST = """
from hypothesis import given, settings
import initcheck
from initcheck.strategies import kernel_shapes
import inits

@settings(max_examples=5, deadline=None, database=None)
@given(kernel_shapes(max_size=2**15))
def test_he_variance(shape):
    initcheck.assert_variance(inits.he, "he", shape)
"""

PYPROJECT = """
[tool.pytest.ini_options]
pythonpath = ["."]

[tool.initcheck.initializers.he]
target = "inits:he"
variance = "he"

[tool.initcheck.initializers.glorot]
target = "inits:glorot"
variance = "glorot"

[tool.initcheck.initializers.lecun]
target = "inits:lecun"
variance = "lecun"

[tool.initcheck.initializers.fan_out_he]
target = "inits:fan_out_he"
variance = "he"

[tool.initcheck.initializers.fixed_std]
target = "inits:fixed_std"
variance = "he"

[tool.initcheck.initializers.shifted_he]
target = "inits:shifted_he"
variance = "he"
"""

CORRECT = ("he", "glorot", "lecun")
#: broken initializer -> properties that must fail whatever shapes are drawn. (The pooled
#: variance check may pass these two by coincidence: fan_out errors of shapes with
#: in < out and in > out can average out, and a fixed std of 0.05 is right at fan_in = 800;
#: the scaling law, Var·fan constant across shapes, catches both for any shape mix.)
MUST_FAIL = {
    "fan_out_he": ("scaling",),
    "fixed_std": ("scaling",),
    "shifted_he": ("centering",),
}


def one_run(root: Path, seed: int) -> list[str]:
    """Problems of one run (empty: as expected)."""
    out_json = root / f"run-{seed}.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--hypothesis-seed={seed}",
            f"--initcheck-json={out_json}",
        ],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if not out_json.exists():
        return [f"no JSON written (exit {proc.returncode}): {proc.stdout[-2000:]}{proc.stderr}"]
    records = json.loads(out_json.read_text())["records"]
    problems = []
    for r in records:
        if r["initializer"] in CORRECT and not r["passed"]:
            problems.append(f"false failure: {r['nodeid']}: {r['message']}")
    for name, props in MUST_FAIL.items():
        for prop in props:
            hits = [r for r in records if r["initializer"] == name and r["check"] == prop]
            if not hits or all(r["passed"] for r in hits):
                problems.append(f"missed defect: {name} {prop} passed")
    user = [r for r in records if "test_user" in r["nodeid"]]
    if not user:
        problems.append("the user test recorded no results")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed-of-seeds", type=int, default=None)
    args = parser.parse_args()
    rng = random.Random(args.seed_of_seeds)
    seeds = [rng.randrange(2**32) for _ in range(args.runs)]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "inits.py").write_text(INITS)
        (root / "test_user.py").write_text(USER_TEST)
        (root / "pyproject.toml").write_text(PYPROJECT)
        for i, seed in enumerate(seeds, 1):
            problems = one_run(root, seed)
            failures += bool(problems)
            print(f"run {i:2d}  --hypothesis-seed={seed:<10d}  {'FAIL' if problems else 'ok'}")
            for p in problems:
                print(f"        {p}")
            sys.stdout.flush()
    print(f"{failures} failed runs out of {len(seeds)} (expected 0)")
    print("seeds:", " ".join(map(str, seeds)))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
