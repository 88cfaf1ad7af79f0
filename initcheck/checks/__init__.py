"""The checks: each turns samples (or an initializer) into a
:class:`~initcheck.results.CheckResult`. One module per check."""

from initcheck.checks.centering import check_centering as check_centering
from initcheck.checks.degeneracy import check_degeneracy as check_degeneracy
from initcheck.checks.distribution import check_distribution as check_distribution
from initcheck.checks.dtypes import check_dtypes as check_dtypes
from initcheck.checks.scaling import check_scaling as check_scaling
from initcheck.checks.seeds import check_seeds as check_seeds
from initcheck.checks.symmetry import check_symmetry as check_symmetry
from initcheck.checks.tails import check_tails as check_tails
from initcheck.checks.variance import check_variance as check_variance
