"""The checks: each turns :class:`~initcheck.samples.Samples` into a
:class:`~initcheck.results.CheckResult`."""

from initcheck.checks.centering import check_centering
from initcheck.checks.scaling import check_scaling
from initcheck.checks.symmetry import check_symmetry
from initcheck.checks.variance import check_variance

__all__ = ["check_centering", "check_scaling", "check_symmetry", "check_variance"]
