"""Deliberately broken initializers, one per defect class, plus correct references.

Each is a plain callable ``(shape, dtype=None, seed=None)`` in Keras layout
``(*kernel, in, out)``; TRUNC is the std of a standard normal truncated to ±2σ.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

TRUNC = float(stats.truncnorm.std(-2, 2))  # 0.8796256610342398


def fans(shape):
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _trunc(rng, std, shape):
    return stats.truncnorm.rvs(-2, 2, scale=std, size=shape, random_state=rng)


def he_normal(shape, dtype=None, seed=None):
    """Correct: N(0, 2/fan_in)."""
    return np.random.default_rng(seed).normal(0, math.sqrt(2 / fans(shape)[0]), shape)


def he_truncated(shape, dtype=None, seed=None):
    """Correct: truncated normal with the 0.8796 correction."""
    return _trunc(np.random.default_rng(seed), math.sqrt(2 / fans(shape)[0]) / TRUNC, shape)


def he_uniform(shape, dtype=None, seed=None):
    """Correct: U(±sqrt(3·2/fan_in))."""
    limit = math.sqrt(6 / fans(shape)[0])
    return np.random.default_rng(seed).uniform(-limit, limit, shape)


def trunc_uncorrected(shape, dtype=None, seed=None):
    """Defect: truncated normal without the 0.8796 correction (std × 0.88)."""
    return _trunc(np.random.default_rng(seed), math.sqrt(2 / fans(shape)[0]), shape)


def trunc_correction_multiplied(shape, dtype=None, seed=None):
    """Defect: correction multiplied instead of divided (std × 0.77)."""
    return _trunc(np.random.default_rng(seed), math.sqrt(2 / fans(shape)[0]) * TRUNC, shape)


def uniform_bound_is_std(shape, dtype=None, seed=None):
    """Defect: uniform bound set to the std (std × 0.58)."""
    limit = math.sqrt(2 / fans(shape)[0])
    return np.random.default_rng(seed).uniform(-limit, limit, shape)


def missing_relu_gain(shape, dtype=None, seed=None):
    """Defect: He declared, LeCun drawn (no √2 gain: std × 0.71)."""
    return np.random.default_rng(seed).normal(0, math.sqrt(1 / fans(shape)[0]), shape)


def variance_as_std(shape, dtype=None, seed=None):
    """Defect: 2/fan_in passed where a std is expected."""
    return np.random.default_rng(seed).normal(0, 2 / fans(shape)[0], shape)


def fans_swapped(shape, dtype=None, seed=None):
    """Defect: fan_out used where fan_in is meant (invisible on square shapes)."""
    return np.random.default_rng(seed).normal(0, math.sqrt(2 / fans(shape)[1]), shape)


def no_receptive_field(shape, dtype=None, seed=None):
    """Defect: fan_in = in channels, the kernel's receptive field left out (invisible at k=1)."""
    return np.random.default_rng(seed).normal(0, math.sqrt(2 / shape[-2]), shape)


def fixed_std(shape, dtype=None, seed=None):
    """Defect: a fixed std (0.05) that ignores the fan."""
    return np.random.default_rng(seed).normal(0, 0.05, shape)


def zeros(shape, dtype=None):
    """Defect: all zeros."""
    return np.zeros(shape)


def constant(shape, dtype=None):
    """Defect: a constant 0.01."""
    return np.full(shape, 0.01)


def identical_units(shape, dtype=None, seed=None):
    """Defect: every output unit gets the same random weight vector."""
    rng = np.random.default_rng(seed)
    column = rng.normal(0, math.sqrt(2 / fans(shape)[0]), (*shape[:-1], 1))
    return np.repeat(column, shape[-1], axis=-1)


def shifted(shape, dtype=None, seed=None):
    """Defect: U[0, b) instead of U(-b, b): mean = √3·std/2."""
    limit = math.sqrt(6 / fans(shape)[0])
    return np.random.default_rng(seed).uniform(0, limit, shape)


def raises(shape, dtype=None, seed=None):
    """Misbehaving: raises on every call."""
    raise RuntimeError("deliberately broken")
