"""Signal propagation: do activations and gradients keep their size through a deep net?

Mean and variance of one kernel are necessary, not sufficient: a kernel whose variance is
right for the *wrong nonlinearity* makes every layer shrink or grow the signal by the same
factor, which compounds with depth. This check builds ``networks`` independent deep,
fully connected, bias-free nets of ``depth`` square ``(width, width)`` layers drawn from the
initializer, pushes a Gaussian batch through them (numpy, float64) and backpropagates a
random output gradient.

Measured, per layer ``l = 1 … L``:

- forward: the second moment of the activations ``E[x_l²]`` (post-nonlinearity);
- backward: the second moment of the backpropagated gradient at the pre-activations
  ``E[(∂L/∂h_l)²]``.

Criterion (He et al. 2015 for ReLU, Glorot & Bengio 2010 for tanh/linear; both are the
σ_w² = critical case of the mean-field recursion of Poole et al. 2016 / Schoenholz et
al. 2017): with ``Var(W) = σ_w²/fan_in`` the infinite-width second moments follow
``q_{l+1} = σ_w² E[φ(√q_l z)²]`` forward and ``b_l = σ_w² E[φ'(√q_l z)²] b_{l+1}``
backward. At the critical σ_w² (2 for ReLU, 1 for linear and tanh) ReLU and linear nets
preserve both exactly, and tanh nets decay slowly (∝ 1/l) towards q* = 0. The check
computes that *critical reference trajectory* with Gauss–Hermite quadrature and compares
the measured end-to-end ratios with it:

    forward gain  g_f = ((E[x_L²]/E[x_1²]) / reference) ^ (1/(L-1))
    backward gain g_b = ((b_1/b_L) / reference) ^ (1/(L-1))

each the geometric mean over the ``networks`` nets. An initializer is sound for the
nonlinearity when both per-layer gains are 1; a std that is off by a factor ``s`` gives
``g = s²`` on every layer (e.g. LeCun + ReLU: 0.5; He + linear: 2).

Decision: fail when ``g_f`` or ``g_b`` lies outside ``[(1+tolerance)^-2, (1+tolerance)^2]``
(default ``tolerance = 0.05``: a per-layer std error of 5%, the same tolerance as the
variance check; over 19 layer-to-layer steps that band is a factor 0.156–6.4 end to end).
This is a point decision; its noise is the finite-width fluctuation of the per-layer
gain. With the defaults (depth 20, width 256, batch 256, 4 nets) a simulation of 200
seeds for each of He + ReLU, LeCun + tanh, Glorot + tanh/linear, orthogonal + tanh/linear
and orthogonal(√2) + ReLU (``scripts/calibrate_propagation.py``) gives no failure in 1,400
runs. The noisiest case is He + ReLU: log g_f has mean −0.006 and sd 0.014 (a small
finite-width bias, Hanin & Rolnick 2018), so the band edge is 6.5 sd away, a Gaussian-tail
false-failure estimate of 5e-11; stated: **below 1e-8 per check at the defaults**
(``docs/propagation.md`` has the table). The noise grows as the width shrinks (about
2–3 sd of margin at width 64): recalibrate before using much smaller nets. A per-layer
std error of 10% (``g`` = 0.83 or 1.21) is ≥ 6 sd outside the band; the usual defects
(missing ReLU gain ×0.5, He on linear ×2, a 20% std error ×0.64/×1.44) are tens of sd out.

For tanh the input batch has std 0.1 (``input_std``), the near-linear regime where the
Glorot/LeCun analysis holds (tanh'(0) = 1). Gains tuned for *saturated* tanh nets, such
as PyTorch's ``calculate_gain("tanh") = 5/3`` (σ_w² = 2.78), are in the chaotic phase
(χ₁ > 1; Schoenholz et al. 2017) and fail this criterion by design.

Extra information (not a pass/fail criterion): the singular values of the input–output
Jacobian ``∂x_L/∂x_0`` of one input through the first net (dynamical isometry, Saxe et
al. 2013; Pennington et al. 2017). Orthogonal + tanh/linear keeps them all ≈ 1; Gaussian
weights spread them over orders of magnitude at the same mean square.

References:
    - He, Zhang, Ren, Sun, 2015, "Delving Deep into Rectifiers", arXiv:1502.01852, §2.2.
    - Glorot & Bengio, 2010, "Understanding the difficulty of training deep feedforward
      neural networks", AISTATS, §4.2.
    - Poole et al., 2016, "Exponential expressivity in deep neural networks through
      transient chaos", arXiv:1606.05340.
    - Schoenholz, Gilmer, Ganguli, Sohl-Dickstein, 2017, "Deep Information Propagation",
      arXiv:1611.01232.
    - Saxe, McClelland, Ganguli, 2013, arXiv:1312.6120; Pennington, Schoenholz, Ganguli,
      2017, "Resurrecting the sigmoid in deep learning through dynamical isometry".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from initcheck._threads import single_threaded_blas
from initcheck.checkdef import Check
from initcheck.errors import InitializerError
from initcheck.fans import Layout, check_layout
from initcheck.initializers import Initializer
from initcheck.meanfield import NONLINEARITIES, critical_reference
from initcheck.report.inputs import finite_floats
from initcheck.report.legend import PASS_BAND, REFERENCE
from initcheck.report.svg import SvgPlot, side_by_side
from initcheck.results import MISBEHAVED, CheckResult
from initcheck.settings import Settings

_SEED_TAG = 0x70726F70  # "prop": keeps these draws distinct from the sampler's


@dataclass(frozen=True)
class _Trace:
    forward: np.ndarray  # E[x_l²], l = 1..L
    backward: np.ndarray  # E[(∂L/∂h_l)²], l = 1..L
    overflow_layer: int | None  # first layer with non-finite values (1-based)
    jacobian_sv: np.ndarray | None


def _layer_seed(seed: int, net: int, layer: int) -> int:
    state = np.random.SeedSequence([seed, _SEED_TAG, net, layer]).generate_state(1)[0]
    return int(state >> 1)


def _run_net(
    weights: list[np.ndarray],
    phi: Callable,
    dphi: Callable,
    x0: np.ndarray,
    grad_out: np.ndarray,
    jacobian: bool,
) -> _Trace:
    depth = len(weights)
    fwd = np.full(depth, np.inf)
    bwd = np.full(depth, np.inf)
    slopes: list[np.ndarray] = []
    x = x0
    overflow: int | None = None
    with np.errstate(over="ignore", invalid="ignore"):
        for i, w in enumerate(weights):
            h = x @ w
            x = phi(h)
            m = float(np.mean(x**2))
            if not math.isfinite(m):
                overflow = i + 1
                break
            fwd[i] = m
            slopes.append(dphi(h))
        if overflow is not None:
            return _Trace(fwd, bwd, overflow, None)
        g = grad_out * slopes[-1]  # ∂L/∂h_L
        for i in range(depth - 1, -1, -1):
            m = float(np.mean(g**2))
            if not math.isfinite(m):
                overflow = i + 1
                break
            bwd[i] = m
            if i > 0:
                g = (g @ weights[i].T) * slopes[i - 1]
        sv = None
        if jacobian and overflow is None:
            # J = ∂x_L/∂x_0 for the first input, row-vector convention: Π_l W_l diag(φ'_l)
            jac = np.eye(weights[0].shape[0])
            for w, s in zip(weights, slopes, strict=True):
                jac = (jac @ w) * s[0]
            if np.all(np.isfinite(jac)):
                sv = np.linalg.svd(jac, compute_uv=False)
    return _Trace(fwd, bwd, overflow, sv)


def _validate(
    nonlinearity: str,
    depth: int,
    width: int,
    batch: int,
    networks: int,
    tolerance: float,
    input_std: float | None,
) -> None:
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(
            f"Unknown nonlinearity: expected one of {sorted(NONLINEARITIES)}. "
            f"Received: nonlinearity={nonlinearity!r}"
        )
    for name, value, low in (
        ("depth", depth, 2),
        ("width", width, 1),
        ("batch", batch, 1),
        ("networks", networks, 1),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"`{name}` must be an integer ≥ {low}. Received: {name}={value!r}")
    if not (isinstance(tolerance, int | float) and 0 < tolerance < 1):
        raise ValueError(f"`tolerance` must be in (0, 1). Received: tolerance={tolerance!r}")
    if input_std is not None and not (
        isinstance(input_std, int | float) and math.isfinite(input_std) and input_std > 0
    ):
        raise ValueError(
            f"`input_std` must be a positive number. Received: input_std={input_std!r}"
        )


def _geo_mean(values: list[float]) -> float:
    arr = np.asarray(values, dtype=np.float64)
    if np.any(arr == 0):
        return 0.0
    if np.any(~np.isfinite(arr)):
        return math.inf
    return float(np.exp(np.mean(np.log(arr))))


def _direction(kind: str, gain: float, band: tuple[float, float]) -> str | None:
    if gain < band[0]:
        return f"{kind} vanish"
    if gain > band[1]:
        return f"{kind} explode"
    return None


def check_propagation(
    initializer: Initializer,
    *,
    nonlinearity: str = "relu",
    depth: int = 20,
    width: int = 256,
    batch: int = 256,
    networks: int = 4,
    layout: Layout = "keras",
    tolerance: float | None = None,
    input_std: float | None = None,
    dtype: str = "float32",
    settings: Settings | None = None,
) -> CheckResult:
    """Do activations and gradients keep their size through a deep net of this init?

    Args:
        initializer: a resolved :class:`~initcheck.initializers.Initializer`
            (see :func:`initcheck.initializers.resolve`).
        nonlinearity: ``"relu"``, ``"tanh"`` or ``"linear"``.
        depth: number of layers L (≥ 2).
        width: units per layer; every kernel is ``(width, width)``.
        batch: inputs pushed through each net.
        networks: independent nets (fresh weights, input and output gradient each).
        layout: ``"keras"`` kernels are ``(in, out)``, ``"torch"`` ``(out, in)`` (transposed
            before use).
        tolerance: per-layer std tolerance; the per-layer gains must lie within
            ``[(1+tolerance)^-2, (1+tolerance)^2]`` (default: ``settings.std_tolerance``,
            0.05). The stated false-failure rate holds for 0.05 at the default sizes.
        input_std: std of the Gaussian input (default 1 for ReLU/linear, 0.1 for tanh).
        dtype: the dtype the kernels are drawn in (propagation is computed in float64).
        settings: :class:`~initcheck.settings.Settings`; ``seed`` and ``std_tolerance``
            are used.

    Returns:
        A :class:`~initcheck.results.CheckResult` with ``check="propagation"``;
        ``statistic`` is the worse of the two per-layer gains (``target`` 1),
        ``details`` holds per-layer ``forward`` / ``backward`` ratios (to layer 1 and to
        layer L respectively), their critical references, per-net gains and the Jacobian
        singular-value summary. An initializer that raises or returns a bad tensor gives a
        failed record, never an exception.

    Raises:
        ValueError: a bad argument (echoed in the message).
    """
    settings = Settings.of(settings)
    if tolerance is None:
        tolerance = settings.std_tolerance
    check_layout(layout)
    _validate(nonlinearity, depth, width, batch, networks, tolerance, input_std)
    phi, dphi, _sw2, default_std = NONLINEARITIES[nonlinearity]
    std = float(input_std if input_std is not None else default_std)
    band = ((1 + tolerance) ** -2, (1 + tolerance) ** 2)
    net_name = f"{depth}-layer {nonlinearity} net of width {width}"
    shape = (width, width)
    ref_fwd, ref_bwd = critical_reference(nonlinearity, depth, std**2)
    ref_f = ref_fwd[-1] / ref_fwd[0]
    ref_b = ref_bwd[0] / ref_bwd[-1]
    common = {
        "nonlinearity": nonlinearity,
        "depth": depth,
        "width": width,
        "batch": batch,
        "networks": networks,
        "layout": layout,
        "input_std": std,
        "tolerance": tolerance,
        "band": list(band),
    }

    traces: list[_Trace] = []
    try:
        with single_threaded_blas():
            for k in range(networks):
                weights = []
                for layer in range(depth):
                    seed = _layer_seed(settings.seed, k, layer)
                    w = initializer.draw(shape, seed=seed, dtype=dtype)
                    weights.append(w.T if layout == "torch" else w)
                rng = np.random.default_rng([settings.seed, _SEED_TAG, k])
                x0 = rng.standard_normal((batch, width)) * std
                grad_out = rng.standard_normal((batch, width))
                traces.append(_run_net(weights, phi, dphi, x0, grad_out, jacobian=k == 0))
    except InitializerError as exc:
        return CheckResult(
            check="propagation",
            initializer=initializer.name,
            passed=False,
            message=f"{MISBEHAVED}{exc}",
            shapes=(shape,),
            details={**common, "error": str(exc)},
        )

    fwd_ratios, bwd_ratios = [], []
    overflow = [t.overflow_layer for t in traces if t.overflow_layer is not None]
    for t in traces:
        f1, fl, b1, bl = t.forward[0], t.forward[-1], t.backward[0], t.backward[-1]
        fwd_ratios.append(math.inf if t.overflow_layer else (fl / f1 if f1 > 0 else 0.0))
        bwd_ratios.append(math.inf if t.overflow_layer else (b1 / bl if bl > 0 else 0.0))
    fwd_end = _geo_mean(fwd_ratios)
    bwd_end = _geo_mean(bwd_ratios)
    steps = depth - 1

    def gain(end: float, ref: float) -> float:
        if end == 0 or not math.isfinite(end):
            return end
        return (end / ref) ** (1 / steps)

    g_f, g_b = gain(fwd_end, ref_f), gain(bwd_end, ref_b)

    # per-layer curves for the report: geometric mean over nets, forward relative to
    # layer 1, backward relative to layer L
    with np.errstate(divide="ignore", invalid="ignore"):
        fwd_curve = np.exp(np.mean([np.log(t.forward / t.forward[0]) for t in traces], axis=0))
        bwd_curve = np.exp(np.mean([np.log(t.backward / t.backward[-1]) for t in traces], axis=0))
    jac = traces[0].jacobian_sv
    jac_info = None
    if jac is not None:
        jac_info = {
            "min": float(jac.min()),
            "q05": float(np.quantile(jac, 0.05)),
            "median": float(np.median(jac)),
            "q95": float(np.quantile(jac, 0.95)),
            "max": float(jac.max()),
            "mean_square": float(np.mean(jac**2)),
        }
    details = {
        **common,
        "forward": [float(v) for v in fwd_curve],
        "backward": [float(v) for v in bwd_curve],
        "forward_reference": [float(v) for v in ref_fwd / ref_fwd[0]],
        "backward_reference": [float(v) for v in ref_bwd / ref_bwd[-1]],
        "forward_gain": g_f,
        "backward_gain": g_b,
        "forward_end_to_end": fwd_end,
        "backward_end_to_end": bwd_end,
        "per_network_forward_gain": [gain(r, ref_f) for r in fwd_ratios],
        "per_network_backward_gain": [gain(r, ref_b) for r in bwd_ratios],
        "overflow_layer": min(overflow) if overflow else None,
        "jacobian_singular_values": jac_info,
    }

    problems = []
    fdir = _direction("activations", g_f, band)
    bdir = _direction("gradients", g_b, band)
    if overflow:
        problems.append(
            f"activations or gradients overflow to Inf/NaN at layer {min(overflow)} (they explode)"
        )
    if fdir and not overflow:
        problems.append(
            f"{fdir}: E[x²] at layer {depth} is {fwd_end:.3g} × layer 1 where a sound init "
            f"gives {ref_f:.3g} (×{g_f:.3g} per layer against ×1)"
        )
    if bdir and not overflow:
        problems.append(
            f"{bdir} toward the input: E[g²] at layer 1 is {bwd_end:.3g} × layer {depth} "
            f"where a sound init gives {ref_b:.3g} (×{g_b:.3g} per layer against ×1)"
        )
    worst = max((g_f, g_b), key=lambda g: abs(math.log(g)) if 0 < g < math.inf else math.inf)
    band_text = f"[{band[0]:.3f}, {band[1]:.3f}]"
    if problems:
        hint = {
            "relu": "ReLU needs Var(W) = 2/fan_in (He)",
            "tanh": "tanh needs Var(W) = 1/fan_in (LeCun/Glorot) in its linear regime",
            "linear": "a linear net needs Var(W) = 1/fan_in (LeCun/Glorot)",
        }[nonlinearity]
        msg = (
            f"{'; '.join(problems)} in a {net_name} (mean of {networks} nets; "
            f"per-layer band {band_text}); {hint}."
        )
        passed = False
    else:
        msg = (
            f"activations (×{g_f:.4f} per layer) and gradients (×{g_b:.4f} per layer) keep "
            f"their size through a {net_name} (band {band_text}, {networks} nets)."
        )
        passed = True
    return CheckResult(
        check="propagation",
        initializer=initializer.name,
        passed=passed,
        message=msg,
        statistic=float(worst),
        target=1.0,
        interval=None,
        n=networks * depth * width * width,
        shapes=(shape,),
        details=details,
    )


def _figures(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Per-layer E[x²] (forward) and E[g²] (backward) ratios against the critical reference,
    log scale, with the tolerance band compounded over the layers."""
    details = result.get("details") or {}
    band = finite_floats(details.get("band") or ())
    plots = []
    for key, title, ylabel in (
        ("forward", "activations (forward)", "E[x²] / layer 1"),
        ("backward", "gradients (backward)", "E[g²] / last layer"),
    ):
        measured = finite_floats(details.get(key) or ())
        reference = finite_floats(details.get(f"{key}_reference") or ())
        if len(measured) < 2 or any(v <= 0 for v in measured):
            continue
        layers = list(range(1, len(measured) + 1))
        plot = SvgPlot(width=340, title=title, xlabel="layer", ylabel=ylabel, ylog=True)
        if len(reference) == len(measured) and all(v > 0 for v in reference):
            if len(band) == 2:
                # the band allows a per-layer gain in [band[0], band[1]] from the anchor layer
                steps = [abs(i - (1 if key == "forward" else len(layers))) for i in layers]
                plot.band(
                    layers,
                    [r * band[0] ** k for r, k in zip(reference, steps, strict=True)],
                    [r * band[1] ** k for r, k in zip(reference, steps, strict=True)],
                    color=PASS_BAND,
                    label="tolerance",
                )
            plot.line(layers, reference, color=REFERENCE, dash="5,3", label="sound init")
        plot.line(layers, measured, color="#1f77b4", label="measured")
        plots.append(plot)
    caption = (
        f"Signal through {details.get('depth', '?')} {details.get('nonlinearity', '')} "
        "layers (mean of the nets) against the critical reference of a sound init; "
        "the shaded band is the per-layer tolerance compounded over depth"
    )
    return [(caption, side_by_side(*plots))] if plots else []


CHECK = Check(
    name="propagation",
    run=lambda ctx: check_propagation(
        ctx.initializer,
        nonlinearity=ctx.plan.nonlinearity or "relu",
        layout=ctx.plan.layout.framework,
        settings=ctx.settings,
    ),
    summary="activations and gradients keep their size through a deep net",
    unit="gain per layer",
    when="nonlinearity",
    gate="once",
    order=78,
    figure=_figures,
    choices={"nonlinearity": tuple(NONLINEARITIES)},
)
