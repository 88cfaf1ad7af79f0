"""Two custom He-normal initializers for the initcheck CI-gate example.

Both follow Keras's initializer protocol ``(shape, dtype=None) -> array`` for kernels in
Keras layout ``(*kernel, in, out)`` and accept ``seed=`` so every draw is independent.
"""

from __future__ import annotations

import math

import numpy as np


def sound_he(shape, dtype=None, seed=None):
    """He normal: N(0, 2 / fan_in), fan_in = in * receptive field."""
    fan_in = math.prod(shape[:-1])
    return np.random.default_rng(seed).normal(0.0, math.sqrt(2.0 / fan_in), shape)


def broken_he(shape, dtype=None, seed=None):
    """The classic bug: divides by fan_out (the last axis) instead of fan_in."""
    fan_out = shape[-1] * math.prod(shape[:-2])
    return np.random.default_rng(seed).normal(0.0, math.sqrt(2.0 / fan_out), shape)
