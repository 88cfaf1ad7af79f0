"""The classic notebook's initializers as plain numpy callables.

Each is ``f(shape, dtype=None, seed=None) -> np.ndarray`` drawing from
``np.random.default_rng(seed)``; :data:`CLASSIC` maps the notebook's labels to them in the
notebook's order. ``general_rule`` is U(±1/√n) with n = ``shape[0]`` (the fan-in).

Example:
    >>> from initcheck.classic import CLASSIC, general_rule
    >>> general_rule((784, 256), seed=0).max() < 1 / 28
    True
    >>> list(CLASSIC)[:3]
    ['All Zeros', 'All Ones', 'Uniform [0, 1)']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def _dtype(dtype: Any) -> np.dtype:
    return np.dtype("float32" if dtype is None else getattr(dtype, "name", dtype))


def zeros(shape: tuple[int, ...], dtype: Any = None, seed: int | None = None) -> np.ndarray:
    """All zeros (``tf.zeros``)."""
    return np.zeros(shape, _dtype(dtype))


def ones(shape: tuple[int, ...], dtype: Any = None, seed: int | None = None) -> np.ndarray:
    """All ones (``tf.ones``)."""
    return np.ones(shape, _dtype(dtype))


def uniform_0_1(shape: tuple[int, ...], dtype: Any = None, seed: int | None = None) -> np.ndarray:
    """U[0, 1), the notebook's "Baseline" (``tf.random_uniform`` defaults)."""
    return np.random.default_rng(seed).uniform(0.0, 1.0, shape).astype(_dtype(dtype))


def uniform_pm(limit: float) -> Callable[..., np.ndarray]:
    """An initializer drawing U[-limit, limit).

    Args:
        limit: half-width of the range (> 0).

    Returns:
        ``f(shape, dtype=None, seed=None) -> np.ndarray``.
    """
    if not limit > 0:
        raise ValueError(f"limit must be positive. Received: {limit!r}")

    def init(shape: tuple[int, ...], dtype: Any = None, seed: int | None = None) -> np.ndarray:
        return np.random.default_rng(seed).uniform(-limit, limit, shape).astype(_dtype(dtype))

    init.__name__ = init.__qualname__ = f"uniform_pm_{limit:g}"
    init.__doc__ = f"U[-{limit:g}, {limit:g})."
    return init


uniform_pm_1 = uniform_pm(1.0)
uniform_pm_01 = uniform_pm(0.1)
uniform_pm_001 = uniform_pm(0.01)
uniform_pm_0001 = uniform_pm(0.001)


def general_rule(shape: tuple[int, ...], dtype: Any = None, seed: int | None = None) -> np.ndarray:
    """U[-1/√n, 1/√n) with n = ``shape[0]`` (inputs per neuron), the notebook's general rule."""
    y = 1.0 / np.sqrt(shape[0])
    return np.random.default_rng(seed).uniform(-y, y, shape).astype(_dtype(dtype))


def glorot_uniform(
    shape: tuple[int, ...], dtype: Any = None, seed: int | None = None
) -> np.ndarray:
    """U[-√(6/(n_in+n_out)), √(6/(n_in+n_out))) for an ``(in, out)`` kernel: Glorot &
    Bengio (2010), Keras's default kernel initializer; the training check's reference."""
    y = np.sqrt(6.0 / (shape[0] + shape[-1]))
    return np.random.default_rng(seed).uniform(-y, y, shape).astype(_dtype(dtype))


def normal_01(shape: tuple[int, ...], dtype: Any = None, seed: int | None = None) -> np.ndarray:
    """N(0, 0.1²) (``tf.random_normal(shape, stddev=0.1)``)."""
    return np.random.default_rng(seed).normal(0.0, 0.1, shape).astype(_dtype(dtype))


def truncated_normal_01(
    shape: tuple[int, ...], dtype: Any = None, seed: int | None = None
) -> np.ndarray:
    """N(0, 0.1²) truncated at 2 std, out-of-range values re-drawn (``tf.truncated_normal``)."""
    rng = np.random.default_rng(seed)
    out = rng.normal(0.0, 1.0, shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.normal(0.0, 1.0, int(bad.sum()))
        bad = np.abs(out) > 2.0
    return (0.1 * out).astype(_dtype(dtype))


CLASSIC: dict[str, Callable[..., np.ndarray]] = {
    "All Zeros": zeros,
    "All Ones": ones,
    "Uniform [0, 1)": uniform_0_1,
    "Uniform [-1, 1)": uniform_pm_1,
    "Uniform [-0.1, 0.1)": uniform_pm_01,
    "Uniform [-0.01, 0.01)": uniform_pm_001,
    "Uniform [-0.001, 0.001)": uniform_pm_0001,
    "General Rule": general_rule,
    "Normal stddev 0.1": normal_01,
    "Truncated Normal stddev 0.1": truncated_normal_01,
}
"""The notebook's initializers, by its labels, in its order."""
