"""Mean-field signal propagation in deep fully connected nets (infinite width).

With ``Var(W) = σ_w²/fan_in`` the second moments of a deep net follow
``q_{l+1} = σ_w² E[φ(√q_l z)²]`` forward and ``b_l = σ_w² E[φ'(√q_l z)²] b_{l+1}``
backward; :func:`critical_reference` computes them at the critical σ_w² of each
nonlinearity with Gauss–Hermite quadrature (used by :mod:`initcheck.checks.propagation`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import special

#: nonlinearity -> (φ, φ', critical σ_w² = fan_in · Var(W), default input std)
NONLINEARITIES: dict[str, tuple[Callable, Callable, float, float]] = {
    "relu": (lambda h: np.maximum(h, 0.0), lambda h: (h > 0).astype(np.float64), 2.0, 1.0),
    "tanh": (np.tanh, lambda h: 1.0 / np.cosh(h) ** 2, 1.0, 0.1),
    "linear": (lambda h: h, np.ones_like, 1.0, 1.0),
}


def critical_reference(
    nonlinearity: str, depth: int, input_second_moment: float
) -> tuple[np.ndarray, np.ndarray]:
    """Infinite-width second moments of a net at the critical σ_w² for ``nonlinearity``.

    Args:
        nonlinearity: ``"relu"``, ``"tanh"`` or ``"linear"``.
        depth: number of layers L.
        input_second_moment: ``E[x_0²]`` of the input.

    Returns:
        ``(forward, backward)``: ``E[x_l²]`` and the backpropagated ``E[(∂L/∂h_l)²]``
        (relative to ``E[(∂L/∂x_L)²] = 1``) for ``l = 1..L``.

    References:
        Poole et al. 2016 (arXiv:1606.05340), eq. 3; Schoenholz et al. 2017
        (arXiv:1611.01232), eq. 5 and §3.
    """
    phi, dphi, sw2, _ = NONLINEARITIES[nonlinearity]
    z, w = special.roots_hermitenorm(80)
    w = w / w.sum()  # expectations over z ~ N(0, 1)
    fwd = np.empty(depth)
    slope = np.empty(depth)  # E[φ'(h_l)²]
    x2 = input_second_moment
    for i in range(depth):
        q = sw2 * x2
        h = math.sqrt(q) * z
        x2 = float(w @ phi(h) ** 2)
        fwd[i] = x2
        slope[i] = float(w @ dphi(h) ** 2)
    bwd = np.empty(depth)
    b = slope[-1]
    bwd[-1] = b
    for i in range(depth - 2, -1, -1):
        b = sw2 * slope[i] * b
        bwd[i] = b
    return fwd, bwd
