"""``initcheck.check``: the whole battery on one initializer."""

from __future__ import annotations

import math
import platform
from collections.abc import Iterable, Sequence
from typing import Any

from initcheck import recording
from initcheck._threads import single_threaded_blas
from initcheck._version import __version__
from initcheck.battery import ALL_CHECKS, default_checks
from initcheck.checks import (
    check_centering,
    check_degeneracy,
    check_distribution,
    check_dtypes,
    check_scaling,
    check_seeds,
    check_symmetry,
    check_tails,
    check_variance,
)
from initcheck.checks.tails import check_family
from initcheck.fans import KernelLayout, Layout, as_layout
from initcheck.initializers import Initializer, resolve
from initcheck.results import CheckResult, Report
from initcheck.sampling import collect
from initcheck.settings import Settings
from initcheck.targets import TargetSpec, resolve_target

__all__ = ["ALL_CHECKS", "DEFAULT_SHAPES", "check", "normalize_shapes", "run_checks"]

#: Default kernel shapes: dense with in < out and in > out, small and large fans, and
#: conv1d/2d/3d kernels with kernel size > 1 (Keras layout ``(*kernel, in, out)``).
DEFAULT_SHAPES: tuple[tuple[int, ...], ...] = (
    (3, 5),
    (256, 128),
    (64, 512),
    (5, 16, 32),
    (3, 3, 32, 16),
    (3, 3, 3, 8, 4),
)


def default_shapes(layout: Layout | KernelLayout) -> tuple[tuple[int, ...], ...]:
    """The default shapes in ``layout`` (PyTorch: ``(out, in, *kernel)``); only the conv
    kernels for transposed and depthwise layouts."""
    kind = as_layout(layout)
    shapes = DEFAULT_SHAPES if kind.layer == "standard" else DEFAULT_SHAPES[3:]
    if kind.framework == "torch":
        shapes = tuple((s[-1], s[-2], *s[:-2]) for s in shapes)
    if kind.groups > 1:
        shapes = tuple(s for s in shapes if kind.groups_fit(s))
    return shapes


def normalize_shapes(
    shape: Any, layout: Layout | KernelLayout = "keras"
) -> tuple[tuple[int, ...], ...]:
    """Accept ``None`` (defaults), one shape ``(in, out)`` or a sequence of shapes."""
    if shape is None:
        return default_shapes(layout)
    if isinstance(shape, Sequence) and shape and all(isinstance(s, int) for s in shape):
        shapes: Iterable[Any] = [shape]
    elif isinstance(shape, Iterable) and not isinstance(shape, str | bytes):
        shapes = list(shape)
    else:
        shapes = []
    out = []
    for s in shapes:
        if not (
            isinstance(s, Sequence)
            and len(s) >= 2
            and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in s)
        ):
            raise ValueError(
                "A kernel shape is a tuple of at least 2 positive ints, e.g. (784, 256) or "
                f"(3, 3, 16, 32). Received: shape={shape!r}"
            )
        out.append(tuple(int(d) for d in s))
    if not out:
        raise ValueError(f"No kernel shapes given. Received: shape={shape!r}")
    return tuple(out)


def environment() -> dict[str, str]:
    """Versions that make a run reproducible (only of modules already imported)."""
    import sys

    env = {"initcheck": __version__, "python": platform.python_version()}
    for mod in ("numpy", "scipy", "tensorflow", "keras", "torch", "jax"):
        if mod in sys.modules:
            env[mod] = str(getattr(sys.modules[mod], "__version__", "?"))
    return env


def check(
    init: Any,
    *,
    variance: TargetSpec | None = None,
    layout: Layout | KernelLayout = "keras",
    shapes: Any = None,
    seed: int = 0,
    train: bool = False,
    family: str | None = None,
    nonlinearity: str | None = None,
    deterministic: bool = False,
    checks: Iterable[str] | None = None,
    name: str | None = None,
    settings: Settings | None = None,
    **options: Any,
) -> Report:
    """Run initcheck's battery on one initializer.

    By default: symmetry breaking, zero-centering, seeds, tails and degenerate units;
    variance against the target and the 1/n scaling law when ``variance`` is given; a
    goodness-of-fit test when ``family`` is declared; signal propagation through a deep
    network when ``nonlinearity`` is given; early training on MNIST when ``train=True``.
    ``checks`` picks the checks explicitly (see :data:`ALL_CHECKS`; ``"dtypes"`` runs only
    when asked for).

    Args:
        init: a Keras name (``"he_normal"``), a Keras initializer instance or class, a
            callable ``(shape, dtype=None) -> array`` (optionally accepting ``seed=``), or
            a PyTorch/JAX initializer (with the extras installed).
        variance: the variance target: ``"lecun"``, ``"glorot"``/``"xavier"``,
            ``"he"``/``"kaiming"``, a number, or a callable ``(fan_in, fan_out) -> var``.
        layout: ``"keras"`` for ``(*kernel, in, out)``, ``"torch"`` for ``(out, in, *kernel)``,
            or a :class:`~initcheck.fans.KernelLayout` for transposed, depthwise and grouped
            convolutions.
        shapes: kernel shapes to draw (default: :data:`DEFAULT_SHAPES`).
        seed: the seed all draws derive from; the same seed gives the same report.
        train: also run the MNIST early-training check (a few seconds).
        family: declared distribution family: ``"normal"``, ``"truncated_normal"``,
            ``"uniform"`` (sharpens the tail check, adds a KS test).
        nonlinearity: ``"relu"``, ``"tanh"`` or ``"linear"``: check signal propagation.
        deterministic: the initializer is deterministic by design (identity, ZerO): equal
            tensors for different seeds are then not a failure.
        checks: the checks to run, overriding the defaults.
        name: display name of the initializer.
        settings: statistical :class:`~initcheck.settings.Settings`; ``options`` override
            single fields (``alpha=``, ``std_tolerance=``, …).

    Returns:
        A :class:`~initcheck.results.Report`.

    Example:
        >>> report = initcheck.check("he_normal", variance="he")
        >>> report.passed
        True
    """
    layout = as_layout(layout)
    settings = Settings.of(settings, seed=seed, **options)
    initializer = resolve(init, name=name, timeout=settings.timeout)
    target = resolve_target(variance) if variance is not None else None
    check_family(family)
    kernel_shapes = normalize_shapes(shapes, layout)
    if checks is None:
        names = default_checks(
            variance=target is not None, family=family, nonlinearity=nonlinearity, train=train
        )
    else:
        names = validate_checks(checks, target=target, family=family)
    results = run_checks(
        initializer,
        kernel_shapes,
        layout=layout,
        target=target,
        settings=settings,
        only=names,
        family=family,
        nonlinearity=nonlinearity,
        deterministic=deterministic,
    )
    recording.publish(*results)
    return Report(
        initializer=initializer.name,
        results=tuple(results),
        settings={
            **settings.to_dict(),
            "layout": str(layout),
            "variance": target.label if target else None,
            "family": family,
            "nonlinearity": nonlinearity,
            "shapes": [list(s) for s in kernel_shapes],
            "checks": list(names),
            "versions": environment(),
        },
    )


def validate_checks(checks: Iterable[str], *, target: Any, family: str | None) -> tuple[str, ...]:
    """Validate a user-given list of check names."""
    if isinstance(checks, str):
        checks = [checks]
    names = tuple(dict.fromkeys(checks))
    unknown = [c for c in names if c not in ALL_CHECKS]
    if unknown:
        raise ValueError(f"Unknown check(s) {unknown}. Valid checks: {list(ALL_CHECKS)}.")
    if "variance" in names and target is None:
        raise ValueError("The 'variance' check needs a target: pass variance='he' (or another).")
    if "distribution" in names and family is None:
        raise ValueError(
            "The 'distribution' check needs a declared family: pass family='normal', "
            "'truncated_normal' or 'uniform'."
        )
    return names


def _seed_shape(shapes: tuple[tuple[int, ...], ...]) -> tuple[int, ...]:
    """A shape for the per-initializer checks: the largest one up to 2**16 weights."""
    small = [s for s in shapes if math.prod(s) <= 2**16] or [min(shapes, key=math.prod)]
    return max(small, key=math.prod)


@single_threaded_blas()  # the checks' small matrix products: one BLAS thread
def run_checks(
    initializer: Initializer,
    shapes: tuple[tuple[int, ...], ...],
    *,
    layout: KernelLayout,
    target: Any,
    settings: Settings,
    only: Iterable[str] = ("symmetry", "centering", "variance", "scaling"),
    family: str | None = None,
    nonlinearity: str | None = None,
    deterministic: bool = False,
) -> list[CheckResult]:
    """Draw once for the sample-based checks, then run the requested checks in order."""
    only = list(dict.fromkeys(only))
    if target is None and "variance" in only:
        only.remove("variance")
    if "scaling" in only and len({layout.fans(s) for s in shapes}) < 2:
        only.remove("scaling")
    needs = {need for name in only for need in NEEDS.get(name, ())}
    samples = None
    if needs or any(name in SAMPLE_CHECKS for name in only):
        samples = collect(
            initializer, shapes, layout=layout, target=target, settings=settings, needs=needs
        )
    results = []
    for name in only:
        if name in SAMPLE_CHECKS:
            assert samples is not None
            if name == "tails":
                results.append(check_tails(samples, settings, family))
            elif name == "distribution":
                results.append(check_distribution(samples, settings, family or "normal"))
            else:
                results.append(SAMPLE_CHECKS[name](samples, settings))
        elif name == "seeds":
            results.append(
                check_seeds(initializer, _seed_shape(shapes), settings, deterministic=deterministic)
            )
        elif name == "dtypes":
            results.append(
                check_dtypes(
                    initializer, _seed_shape(shapes), settings, layout=layout, target=target
                )
            )
        elif name == "propagation":
            from initcheck.checks.propagation import check_propagation

            results.append(
                check_propagation(
                    initializer,
                    nonlinearity=nonlinearity or "relu",
                    layout=layout.framework,
                    settings=settings,
                )
            )
        elif name == "training":
            from initcheck.training import check_training

            results.append(check_training(initializer, seed=settings.seed))
    return results


# what each sample-based check needs from the draws (see initcheck.sampling.collect)
NEEDS: dict[str, tuple[str, ...]] = {
    "symmetry": ("heads",),
    "centering": ("mean",),
    "variance": ("variance",),
    "scaling": ("per_shape",),
    "tails": ("mean",),
    "distribution": ("mean",),
}
SAMPLE_CHECKS: dict[str, Any] = {
    "symmetry": check_symmetry,
    "centering": check_centering,
    "variance": check_variance,
    "scaling": check_scaling,
    "tails": check_tails,
    "distribution": check_distribution,
    "degeneracy": check_degeneracy,
}
