"""The battery: which checks exist and which run by default. Standard library only, so the
pytest plugin and the CI gate can use it at collection without importing numpy."""

from __future__ import annotations

__all__ = ["ALL_CHECKS", "FAMILY_NAMES", "NONLINEARITIES", "default_checks"]

ALL_CHECKS: tuple[str, ...] = (
    "symmetry",
    "centering",
    "variance",
    "scaling",
    "seeds",
    "tails",
    "distribution",
    "degeneracy",
    "dtypes",
    "propagation",
    "training",
)
#: Distribution families a user can declare (``family=``).
FAMILY_NAMES: tuple[str, ...] = ("normal", "truncated_normal", "uniform")
#: Nonlinearities of the signal-propagation check (``nonlinearity=``).
NONLINEARITIES: tuple[str, ...] = ("relu", "tanh", "linear")


def default_checks(
    *, variance: bool, family: str | None, nonlinearity: str | None, train: bool
) -> tuple[str, ...]:
    """The checks :func:`initcheck.check` (and the CI gate) run when none are named:
    symmetry, centering, seeds, tails, degeneracy; variance and scaling with a variance
    target; distribution with a declared family; propagation with a nonlinearity;
    training when asked."""
    names = ["symmetry", "centering"]
    if variance:
        names += ["variance", "scaling"]
    names += ["seeds", "tails", "degeneracy"]
    if family is not None:
        names.append("distribution")
    if nonlinearity is not None:
        names.append("propagation")
    if train:
        names.append("training")
    return tuple(names)
