"""The checks: each turns samples (or an initializer) into a
:class:`~initcheck.results.CheckResult`. One module per check."""

from initcheck.checks.centering import check_centering
from initcheck.checks.degeneracy import check_degeneracy
from initcheck.checks.distribution import check_distribution
from initcheck.checks.dtypes import check_dtypes
from initcheck.checks.scaling import check_scaling
from initcheck.checks.seeds import check_seeds
from initcheck.checks.symmetry import check_symmetry
from initcheck.checks.tails import check_tails
from initcheck.checks.variance import check_variance

__all__ = [
    "check_centering",
    "check_degeneracy",
    "check_distribution",
    "check_dtypes",
    "check_scaling",
    "check_seeds",
    "check_symmetry",
    "check_tails",
    "check_variance",
]
