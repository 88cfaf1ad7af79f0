"""``initcheck.check``: the whole battery on one initializer."""

from __future__ import annotations

import platform
from collections.abc import Iterable, Sequence
from typing import Any

from initcheck import recording
from initcheck._version import __version__
from initcheck.checks import check_centering, check_scaling, check_symmetry, check_variance
from initcheck.fans import KernelLayout, Layout, as_layout
from initcheck.results import CheckResult, Report
from initcheck.samples import collect
from initcheck.sampling import Initializer, resolve
from initcheck.settings import Settings
from initcheck.targets import TargetSpec, resolve_target

__all__ = ["DEFAULT_SHAPES", "check", "normalize_shapes"]

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
    name: str | None = None,
    settings: Settings | None = None,
    **options: Any,
) -> Report:
    """Run initcheck's battery on one initializer.

    Checks symmetry breaking and zero-centering always; variance against the target and
    the 1/n scaling law across shapes when ``variance`` is given (without a target the
    scaling law is tested against the best-fitting fan rule); early training on MNIST when
    ``train=True``.

    Args:
        init: a Keras name (``"he_normal"``), a Keras initializer instance or class, or a
            callable ``(shape, dtype=None) -> array`` (optionally accepting ``seed=``).
        variance: the variance target: ``"lecun"``, ``"glorot"``/``"xavier"``,
            ``"he"``/``"kaiming"``, a number, or a callable ``(fan_in, fan_out) -> var``.
        layout: ``"keras"`` for ``(*kernel, in, out)``, ``"torch"`` for ``(out, in, *kernel)``,
            or a :class:`~initcheck.fans.KernelLayout` for transposed, depthwise and grouped
            convolutions.
        shapes: kernel shapes to draw (default: :data:`DEFAULT_SHAPES`).
        seed: the seed all draws derive from; the same seed gives the same report.
        train: also run the MNIST early-training check (a few seconds).
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
    kernel_shapes = normalize_shapes(shapes, layout)
    results = list(
        run_checks(initializer, kernel_shapes, layout=layout, target=target, settings=settings)
    )
    if train:
        from initcheck.training import check_training

        results.append(check_training(initializer, seed=seed))
    recording.publish(*results)
    return Report(
        initializer=initializer.name,
        results=tuple(results),
        settings={
            **settings.to_dict(),
            "layout": str(layout),
            "variance": target.label if target else None,
            "shapes": [list(s) for s in kernel_shapes],
            "train": train,
            "versions": environment(),
        },
    )


def run_checks(
    initializer: Initializer,
    shapes: tuple[tuple[int, ...], ...],
    *,
    layout: KernelLayout,
    target: Any,
    settings: Settings,
    only: Iterable[str] = ("symmetry", "centering", "variance", "scaling"),
) -> list[CheckResult]:
    """Draw once, then run the requested checks on the same samples."""
    only = set(only)
    distinct_fans = len({layout.fans(s) for s in shapes}) >= 2
    if target is None:
        only.discard("variance")
    if not distinct_fans:
        only.discard("scaling")
    needs = set()
    if "symmetry" in only:
        needs.add("heads")
    if "centering" in only:
        needs.add("mean")
    if "variance" in only:
        needs.add("variance")
    if "scaling" in only:
        needs.add("per_shape")
    samples = collect(
        initializer, shapes, layout=layout, target=target, settings=settings, needs=needs
    )
    order = [
        ("symmetry", check_symmetry),
        ("centering", check_centering),
        ("variance", check_variance),
        ("scaling", check_scaling),
    ]
    return [fn(samples, settings) for key, fn in order if key in only]
