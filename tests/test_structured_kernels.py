"""Grouped and structured kernels in the unit-level checks (issue 18, items 2 and 3).

Symmetry and degeneracy compare units only where they read the same inputs (within a
group of a grouped convolution) and on the units' common support (a delta-orthogonal
kernel lives in its centre taps); centering, tails and the family test do not apply to a
deterministic identity-like kernel. Each "passes" case is paired with a defect of the
same layout that still fails.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import initcheck
from initcheck import KernelLayout
from initcheck.errors import InitCheckFailure

torch = pytest.importorskip("torch")
from initcheck.initializers import torch_initializer  # noqa: E402

GROUPED = KernelLayout("torch", groups=2)
dirac_groups_2 = torch_initializer(functools.partial(torch.nn.init.dirac_, groups=2))


def test_grouped_dirac_passes_in_its_grouped_layout():
    report = initcheck.check(
        dirac_groups_2, layout=GROUPED, shapes=[(16, 8, 3, 3)], deterministic=True
    )
    assert report.passed, str(report)
    assert report["symmetry"].details["per_shape"]["(16, 8, 3, 3)"]["unit_groups"] == 2


def test_grouped_dirac_read_without_groups_has_identical_units():
    # the pair: without the groups, units 7 and 15 (one per group) read the same inputs
    with pytest.raises(InitCheckFailure, match="identical units: units 7 and 15"):
        initcheck.assert_breaks_symmetry(dirac_groups_2, (16, 8, 3, 3), layout="torch")


def _grouped_random(duplicate: float | None):
    """A random grouped kernel; unit 1 copies unit 0 (same group) up to ``duplicate``."""

    def init(shape, dtype=None, seed=None):
        w = np.random.default_rng(seed).normal(0, 0.1, shape)
        if duplicate is not None:
            w[1] = w[0] + duplicate * np.random.default_rng(1).normal(0, 0.1, w[0].shape)
        return w.astype(np.float32)

    return init


def test_duplicate_units_within_a_group_still_fail():
    shape = [(16, 8, 3, 3)]
    exact = initcheck.check(_grouped_random(0.0), layout=GROUPED, shapes=shape)
    assert "identical units: units 0 and 1" in exact["symmetry"].message
    near = initcheck.check(_grouped_random(0.05), layout=GROUPED, shapes=shape)
    assert "near-duplicate units 0 and 1" in near["degeneracy"].message
    assert initcheck.check(_grouped_random(None), layout=GROUPED, shapes=shape).passed


def test_dirac_with_in_equal_out_passes_declared_deterministic():
    report = initcheck.check(
        torch.nn.init.dirac_, layout="torch", shapes=[(16, 16, 3, 3)], deterministic=True
    )
    assert report.passed, str(report)
    assert report["centering"].message.startswith("not applicable: a deterministic structured")
    assert "8 of 9 taps zero" in report["centering"].message


def test_dirac_with_out_greater_than_in_fails_naming_its_zero_units():
    with pytest.raises(InitCheckFailure) as info:
        initcheck.assert_breaks_symmetry(torch.nn.init.dirac_, (32, 16, 3, 3), layout="torch")
    msg = info.value.results[0].message
    assert "16 of 32 units of shape (32, 16, 3, 3) are zero units" in msg, msg
    assert "units 16, 17, 18" in msg, msg


def test_random_sparse_kernel_is_still_checked_for_centering():
    def shifted_sparse(shape, dtype=None, seed=None):
        rng = np.random.default_rng(seed)
        w = rng.normal(0.5, 1.0, shape) * (rng.random(shape) < 0.3)
        return w.astype(np.float32)

    result = initcheck.check(shifted_sparse, shapes=[(256, 128)], checks=["centering"])
    assert not result["centering"].passed and "not applicable" not in result["centering"].message


def test_jax_delta_orthogonal_passes_degeneracy_with_out_greater_than_in():
    jax = pytest.importorskip("jax")
    init = jax.nn.initializers.delta_orthogonal()
    result = initcheck.check(init, shapes=[(3, 3, 16, 32)])["degeneracy"]
    assert result.passed, result.message
    assert result.details["per_shape"]["(3, 3, 16, 32)"]["effective_dimension"] == 16


def test_near_duplicate_units_in_the_centre_taps_still_fail():
    def centre_only(shape, dtype=None, seed=None):
        w = np.zeros(shape, np.float32)
        centre = np.random.default_rng(seed).normal(0, 0.25, shape[2:])
        centre[:, 1] = centre[:, 0] + 0.05 * centre[:, 2]
        w[1, 1] = centre
        return w

    result = initcheck.check(centre_only, shapes=[(3, 3, 16, 32)], checks=["degeneracy"])
    assert "near-duplicate units 0 and 1" in result["degeneracy"].message
