"""What an op does to a signal, measured on arrays: the adapters' one rule for telling a
normalization, a linear op and a nonlinearity apart, whatever the op is called.

An op ``f`` with ``f(x) = out`` (same shape) is

- a **normalization** when doubling its input leaves its output unchanged — measured at
  :data:`LARGE` times the input's scale, where a norm's ``eps`` no longer matters, and at
  the input's own scale ``f(2x)`` must be nearer ``f(x)`` than ``2f(x)`` (Ioffe & Szegedy
  2015; Ba et al. 2016; Zhang & Sennrich 2019: the norms' scale invariance);
- **linear** when ``f(2x) = 2f(x)`` and ``f(−x) = −f(x)``: it passes the signal through;
- else a **nonlinearity**, with its second-moment :class:`~initcheck.models.graph.Gain`
  measured on a Gaussian reference at the input's RMS: the gain a weight draw's zero-mean
  pre-activation meets on average (the mean-field assumption of Poole et al. 2016), not
  the one draw the model holds. ``f(2x) = 2f(x)`` makes it positively homogeneous (ReLU).

This module is framework-free: the adapters hand it numpy arrays and a numpy function.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from initcheck.models.graph import SMALL, Gain

#: Relative distance below which two outputs count as equal (float32 arithmetic).
CLOSE = 1e-3
#: The scale, relative to the input's, at which a norm's invariance is measured.
LARGE = 64.0
#: Values of the Gaussian reference a nonlinearity's gain is measured on (SE ≈ 1%).
REFERENCE = 1 << 16
#: The fewest values an op's role is probed on: its first samples holding at least
#: these (:func:`first_samples`).
PROBE = 1 << 14

Op = Callable[[np.ndarray], np.ndarray]


def _ms(a: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64)
    return float(np.mean(a * a)) if a.size else math.nan


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """``‖a − b‖/‖b‖`` (inf for other shapes)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return math.inf
    return float(np.linalg.norm(a - b)) / max(float(np.linalg.norm(b)), 1e-30)


def _gaussian_gain(f: Op, x: np.ndarray, scale: float) -> tuple[float, float]:
    """``E[f(σz)²]/σ²`` for z ~ N(0, 1) in an array shaped like ``x`` (repeated along its
    first axis up to :data:`REFERENCE` values), σ = ``scale``; and its standard error."""
    per = max(int(np.prod(x.shape[1:])) if x.ndim else 1, 1)
    reps = max(1, math.ceil(REFERENCE / per))
    rng = np.random.default_rng(20150206)  # He et al.'s arXiv date: any fixed seed
    z = (scale * rng.standard_normal((reps, *x.shape[1:]))).astype(x.dtype)
    y = np.asarray(f(z), dtype=np.float64).reshape(-1) ** 2 / scale**2
    return float(y.mean()), float(y.std()) / math.sqrt(max(y.size, 1))


def first_samples(f: Op, x: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x`` cut to its first samples (at least :data:`PROBE` values) and ``f`` of them:
    what :func:`measured_role` probes, so its probes cost the cut's values, not the
    batch's. What an op is does not depend on the batch's size: an op that maps each
    sample alone gives the cut of ``out``; a batch norm on batch statistics normalizes
    the cut on its own statistics, still a norm. The whole batch where ``f`` cannot take
    the cut (it raises, or gives another shape: a batch norm of one value per channel)."""
    if x.ndim < 2 or x.shape != out.shape:
        return x, out
    keep = math.ceil(PROBE / max(x.size // max(x.shape[0], 1), 1))
    if keep >= x.shape[0]:
        return x, out
    try:
        alone = np.asarray(f(x[:keep]))
    except Exception:  # an op that needs the whole batch
        return x, out
    return (x[:keep], alone) if alone.shape == out[:keep].shape else (x, out)


def measured_role(f: Op, x: np.ndarray, out: np.ndarray) -> tuple[str, Gain | None]:
    """What the op ``f`` (with ``f(x) = out``) does to a signal, measured (quietly: a
    probe at a large scale may overflow to inf, which then matches nothing).

    Args:
        f: the op on arrays shaped like ``x``.
        x: its input on the traced batch.
        out: its output there.

    Returns:
        ``("norm", None)``, ``("pass", None)`` (linear), ``("activation", gain)``, or
        ``("other", None)`` where the values are not finite.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return _measured_role(f, x, out)


def _measured_role(f: Op, x: np.ndarray, out: np.ndarray) -> tuple[str, Gain | None]:
    whole = np.asarray(x)
    if not np.issubdtype(whole.dtype, np.floating):
        whole = whole.astype(np.float32)
    x, out = first_samples(f, whole, np.asarray(out))
    y = np.asarray(out, dtype=np.float64)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return "other", None  # nothing to measure on: the chain stops here
    twice = f(2 * x)
    if (
        _distance(twice, y) < _distance(twice, 2 * y)
        and _distance(f(2 * LARGE * x), f(LARGE * x)) <= CLOSE
    ):
        return "norm", None
    homogeneous = _distance(twice, 2 * y) <= CLOSE
    if homogeneous and _distance(f(-x), -y) <= CLOSE:
        return "pass", None
    flat = whole.reshape(-1)  # the scale the op meets: the whole batch's RMS
    sigma = math.sqrt(float(np.dot(flat, flat)) / max(flat.size, 1))
    if not sigma > 0:
        return "activation", None
    g, se = _gaussian_gain(f, x, sigma)
    small = g if homogeneous else _gaussian_gain(f, x, SMALL * sigma)[0]
    if not (math.isfinite(g) and g > 0 and math.isfinite(small)):
        return "activation", None
    return "activation", Gain(at_scale=g, small=small, se=se, homogeneous=homogeneous)


def function_gain(f: Op, dtype: str = "float32") -> Gain | None:
    """The :class:`Gain` of an activation function applied elementwise (a layer's own
    ``activation=``), measured at unit scale; ``None`` for a linear one."""
    x = np.random.default_rng(1).standard_normal((64, 64)).astype(dtype)
    role, gain = measured_role(f, x, f(x))
    return gain if role == "activation" else None


def scale_invariant(f: Op, x: np.ndarray) -> bool:
    """Whether ``f``'s output is unchanged when its input, at :data:`LARGE` times its
    scale, is doubled: a normalization, even where its ``eps`` dominates the input's own
    scale (a norm after a small embedding at init), so its parameters are a norm's."""
    with np.errstate(over="ignore", invalid="ignore"):
        x = np.asarray(x)
        return _distance(f(2 * LARGE * x), f(LARGE * x)) <= CLOSE


#: A normalized output's mean square with its gain at 1 (a zero gain gives 0).
UNIT_MS = (0.25, 4.0)


def parameter_effect(base: np.ndarray, bumped: np.ndarray) -> str | None:
    """What a normalization's per-channel parameter does to its output, measured: from
    the output as it is (``base``) and with 1 added to every value of the parameter
    (``bumped``). ``"offset"`` when the output moved by 1 everywhere (a shift, meant 0);
    ``"gain"`` when it moved by a varying signal (the normalized input: a scale, meant 1);
    else ``None``."""
    d = np.asarray(bumped, dtype=np.float64) - np.asarray(base, dtype=np.float64)
    if not d.size or not np.isfinite(d).all():
        return None
    if float(np.abs(d - 1.0).max()) <= CLOSE * max(1.0, float(np.abs(base).max())):
        return "offset"
    rms = math.sqrt(_ms(d))
    return "gain" if rms > 0 and float(d.std()) >= 0.5 * rms else None


def norm_value(
    effect: str | None, by_name: float | None, values: np.ndarray, out_ms: float | None
) -> tuple[float | None, str]:
    """The value a normalization's parameter is meant to hold, and a note: a shift 0; a
    gain 1, or 0 when every value is 0 and the norm's output still has a unit mean square
    (a gain stored as an offset from 1, ``x̂·(1 + w)``: Gemma's); ``by_name`` (the
    framework's parameter naming) where the effect was not measured."""
    if effect == "offset":
        return 0.0, "measured: adding 1 to it moves the norm's output by 1 (a shift, meant 0)"
    if effect == "gain":
        unit = out_ms is not None and UNIT_MS[0] <= out_ms <= UNIT_MS[1]
        if unit and values.size and not np.any(values):
            return 0.0, (
                f"measured: with every value 0 the norm's output has mean square "
                f"{out_ms:.3g}, so its gain is 1 + w (an offset from 1, as Gemma's)"
            )
        return 1.0, "measured: it scales the normalized signal (a gain, meant 1)"
    return by_name, ""
