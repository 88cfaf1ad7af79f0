"""Re-run the classic notebook's comparisons through ``initcheck.compare()``.

Usage (from the repository root)::

    python scripts/classic_table.py                 # 2 epochs of the bundled subset
    python scripts/classic_table.py --batches 858   # the notebook's number of updates
    python scripts/classic_table.py --seeds 0 1 2 3 4

Trains all ten of the notebook's initializers (:data:`initcheck.classic.CLASSIC`) side by
side on the same batches, prints the table for the first seed, and checks the notebook's
qualitative ordering on validation accuracy for every seed:

- All Zeros and All Ones stay at chance (accuracy <= 15%);
- U[0, 1) < U[-1, 1) < each of the 1/√n-scaled ranges (U[-0.1, 0.1), the general rule)
  and N(0, 0.1) / truncated N(0, 0.1).

Exits non-zero if the ordering fails for any seed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOOD = ["Uniform [-0.1, 0.1)", "General Rule", "Normal stddev 0.1", "Truncated Normal stddev 0.1"]


def ordering_problems(acc: dict[str, float]) -> list[str]:
    """The notebook's qualitative claims that ``acc`` (name → val accuracy) violates."""
    problems = []
    for name in ("All Zeros", "All Ones"):
        if acc[name] > 0.15:
            problems.append(f"{name} at {acc[name]:.3f}, not at chance")
    if not acc["Uniform [0, 1)"] < acc["Uniform [-1, 1)"]:
        problems.append("U[0, 1) is not below U[-1, 1)")
    for name in GOOD:
        if not acc["Uniform [-1, 1)"] < acc[name]:
            problems.append(f"U[-1, 1) is not below {name}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Print the table and the ordering verdict; return 1 if the ordering fails."""
    from initcheck import compare
    from initcheck.classic import CLASSIC

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--batches", type=int, default=None, help="overrides --epochs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args(argv)

    failed = False
    for i, seed in enumerate(args.seeds):
        cmp = compare(CLASSIC, epochs=args.epochs, batches=args.batches, seed=seed)
        if i == 0:
            print(cmp)
            print()
        acc = {name: run.val_accuracy for name, run in cmp.runs.items()}
        problems = ordering_problems(acc)
        failed |= bool(problems)
        summary = ", ".join(f"{n.split(' stddev')[0]} {100 * a:.1f}" for n, a in acc.items())
        print(f"seed {seed}: {'ordering OK' if not problems else '; '.join(problems)}")
        print(f"  val acc %: {summary}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
