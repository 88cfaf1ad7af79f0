"""``initcheck.audit(model)``: every weight of a Keras or PyTorch model, checked where it
sits, and the model's own signal at init."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from initcheck.api import environment, make_plan, run_checks, select_checks
from initcheck.checks import seeds as _seeds
from initcheck.checks import variance as _variance
from initcheck.errors import InitCheckFailure
from initcheck.models.draws import MAX_PIECE_VALUES, ModelDraws, piece_initializer, piece_values
from initcheck.models.records import ModelReport, WeightPiece, WeightRow
from initcheck.models.rules import diagnose, fixed_target, piece_target
from initcheck.models.signal import decide_signal
from initcheck.results import CheckResult
from initcheck.sampling import draw_seed
from initcheck.settings import Settings

__all__ = ["NotAModelError", "assert_sound_model", "audit", "framework_of"]

ORTHO_TOL = 1e-3  # max |G/c - I| of a (semi-)orthogonal matrix in float32


class NotAModelError(TypeError):
    """``audit()`` was given (or a factory returned) something that is not a Keras model or
    a ``torch.nn.Module``."""


def framework_of(obj: Any) -> str | None:
    """``"torch"`` for a ``torch.nn.Module``, ``"keras"`` for a Keras model, else ``None``.

    Args:
        obj: any object.

    Returns:
        The framework's name or ``None``.
    """
    from initcheck.models.torch_model import is_torch_model

    if is_torch_model(obj):
        return "torch"
    if any(c.__module__.startswith(("keras", "tf_keras")) for c in type(obj).__mro__):
        return "keras"
    return None


def _seeded_build(factory: Callable[[], Any], seed: int) -> Any:
    """``factory()`` with the frameworks it uses seeded (those already imported, as a
    factory's module imports its framework first), so the instance the signal runs
    through is the same in every run. torch's RNG state is restored afterwards; Keras's
    ``set_random_seed`` is global (as for every rebuild of a Keras factory)."""
    torch, keras = sys.modules.get("torch"), sys.modules.get("keras")
    if keras is not None:
        keras.utils.set_random_seed(seed)
    if torch is None:
        return factory()
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return factory()
    finally:
        torch.random.set_rng_state(state)


def _adapter(model: Any, seed: int) -> tuple[str, Any, Callable[[], Any] | None]:
    """(framework, instance, factory)."""
    kind = framework_of(model)
    if kind is not None:
        return kind, model, None
    if callable(model):
        built = _seeded_build(model, seed)
        kind = framework_of(built)
        if kind is not None:
            return kind, built, model
        raise NotAModelError(
            "A factory passed to audit() must return a Keras model or a torch.nn.Module. "
            f"Received: factory() -> {type(built).__name__}"
        )
    raise NotAModelError(
        "audit() takes a Keras model, a torch.nn.Module, or a zero-arg factory returning one. "
        f"Received: model={model!r:.80} (type={type(model).__name__})"
    )


def _constant_result(piece: WeightPiece, values: np.ndarray) -> CheckResult:
    base = dict(
        check="constant", initializer=piece.name, n=int(values.size), shapes=(tuple(values.shape),)
    )
    if not np.isfinite(values).all():
        bad = int(values.size - np.isfinite(values).sum())
        return CheckResult(passed=False, message=f"{bad} non-finite value(s).", **base)
    if piece.constant is None:
        return CheckResult(
            passed=True, message="finite (random by the framework's design).", **base
        )
    wrong = values != piece.constant
    if wrong.any():
        return CheckResult(
            passed=False,
            message=(
                f"expected every value = {piece.constant:g} (the framework's intended init); "
                f"{int(wrong.sum())} of {values.size} differ (e.g. {values[wrong].flat[0]:.4g})."
            ),
            statistic=float(np.abs(values - piece.constant).max()),
            target=piece.constant,
            **base,
        )
    return CheckResult(
        passed=True, message=f"all {values.size} values = {piece.constant:g}.", **base
    )


def _orthogonality(piece: WeightPiece, values: np.ndarray, tol: float) -> CheckResult | None:
    """A pass for a (semi-)orthogonal matrix with gain within ×(1+tol); ``None`` if it is not
    orthogonal (the per-gate fan rule then decides)."""
    m = values.reshape(values.shape[0], -1)
    g = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    c = float(np.mean(np.diag(g)))
    if not c > 0 or np.abs(g / c - np.eye(len(g))).max() > ORTHO_TOL:
        return None
    gain = float(np.sqrt(c))
    ok = 1 / (1 + tol) <= gain <= 1 + tol
    return CheckResult(
        check="orthogonality",
        initializer=piece.name,
        passed=ok,
        message=(
            f"{'rows' if m.shape[0] <= m.shape[1] else 'columns'} orthonormal with gain "
            f"{gain:.4g}: the recurrent map keeps the state's norm"
            + ("." if ok else f"; the gain should be 1 (within ×{1 + tol:g}).")
        ),
        statistic=gain,
        target=1.0,
        n=int(values.size),
        shapes=(tuple(values.shape),),
    )


def _audit_piece(
    piece: WeightPiece,
    draws: ModelDraws,
    variance: Any,
    settings: Settings,
    checks: Iterable[str] | None,
    limit: int,
) -> WeightRow:
    seed0 = draw_seed(settings.seed, 0, 0)
    note = draws.frozen.get(piece.key, "") if draws.own is not None else ""
    if piece.role == "unknown":
        return WeightRow(
            piece.layer,
            piece.param,
            piece.piece,
            piece.layer_type,
            piece.role,
            (),
            "",
            None,
            None,
            note=piece.note,
        )
    values = piece_values(draws, piece, seed0, limit)
    fans = (piece.fans.fan_in, piece.fans.fan_out) if piece.fans else None
    layout = str(piece.layout) if piece.layout else ""
    common = (
        piece.layer,
        piece.param,
        piece.piece,
        piece.layer_type,
        piece.role,
        tuple(values.shape),
        layout,
        fans,
    )
    if piece.role == "constant":
        return WeightRow(*common, None, (_constant_result(piece, values),), note=note)
    full = piece.extract(draws.value(piece.key, seed0))
    if values.size < full.size:
        note = "; ".join(
            filter(None, [note, f"checked on the first units: {values.shape} of {full.shape}"])
        )
    rule, why = piece_target(piece, variance)
    notes = [n for n in (note, why) if n]
    extra: list[CheckResult] = []
    if piece.role == "recurrent":
        ortho = _orthogonality(piece, full, settings.std_tolerance)
        if ortho is not None:
            extra.append(ortho)
            rule = None
            notes.append("orthogonal: checked as an orthogonal matrix, not by a fan rule")
    target = fixed_target(rule, piece.fans) if rule is not None and piece.fans else None
    plan = make_plan([tuple(values.shape)], layout=piece.layout or "torch", variance=target)
    names = [
        n
        for n in select_checks(checks, plan)
        if not (n == _seeds.CHECK.name and piece.key in draws.frozen)
    ]
    init = piece_initializer(draws, piece, limit, seed0, settings.timeout)
    results = run_checks(init, plan, settings, names) + extra
    diagnosis = ""
    var_name = _variance.CHECK.name
    for r in results:
        if r.check == var_name and not r.passed and rule is not None and r.statistic:
            diagnosis = diagnose(piece, rule, float(r.statistic))
    return WeightRow(
        *common,
        target.label if target else None,
        tuple(results),
        diagnosis=diagnosis,
        note="; ".join(notes),
    )


def audit(
    model: Any,
    *,
    variance: Any = None,
    inputs: Any = None,
    seed: int = 0,
    checks: Iterable[str] | None = None,
    settings: Settings | None = None,
    max_piece_values: int = MAX_PIECE_VALUES,
    signal: bool = True,
) -> ModelReport:
    """Audit every weight of a model where it sits, and the model's signal at init.

    Args:
        model: a Keras 3 model, a ``torch.nn.Module``, or (preferred) a zero-arg factory
            returning one, called once per seed for independent draws. An instance is
            re-initialized under fresh seeds (Keras: cloned with re-seeded initializers;
            torch: ``reset_parameters()``); a weight the re-initialization does not
            reproduce in scale is audited from the instance's own values.
        variance: ``None`` (structural checks only), one rule for every kernel (``"he"``,
            ``"glorot"``, ``"lecun"``, a number, a callable ``(fan_in, fan_out) -> var``), a
            mapping from layer-path globs or layer type names to rules, or ``"auto"``.
        inputs: a batch for the signal check (default: built from the first layer; MNIST
            images for 784-input models).
        seed: the seed all draws derive from.
        checks: the per-weight checks to run (default: the default battery).
        settings: :class:`~initcheck.settings.Settings` (``seed`` overrides its seed).
        max_piece_values: larger kernels are checked on their first units.
        signal: measure the model's own signal (forward and backward one batch).

    Returns:
        A :class:`~initcheck.models.records.ModelReport`.
    """
    settings = Settings.of(settings, seed=seed)
    framework, instance, factory = _adapter(model, draw_seed(settings.seed, 0, 0))
    if framework == "torch":
        from initcheck.models import torch_model as fw
    else:
        from initcheck.models import keras_model as fw  # type: ignore[no-redef]
    pieces = fw.pieces(instance)
    draws = ModelDraws(snapshot=fw.snapshotter(instance, factory))
    if factory is None:
        draws.own = fw.own_values(instance)
        draws.compare_own(draw_seed(settings.seed, 0, 0))
    rows = tuple(
        _audit_piece(p, draws, variance, settings, checks, max_piece_values) for p in pieces
    )
    verdict = None
    name = type(instance).__name__
    if signal:
        layers = list(dict.fromkeys(p.layer for p in pieces if p.role in ("kernel", "recurrent")))
        recorded, source = fw.signal(instance, layers, inputs, settings.seed)
        verdict = decide_signal(recorded, source, name)
    return ModelReport(
        model=name,
        framework=framework,
        rows=rows,
        signal=verdict,
        settings={
            **settings.to_dict(),
            "variance": variance
            if isinstance(variance, str | int | float | None)
            else repr(variance),
            "factory": factory is not None,
            "rebuilds": draws.rebuilds,
            "max_piece_values": max_piece_values,
            "versions": environment(),
        },
    )


def assert_sound_model(model: Any, **options: Any) -> ModelReport:
    """Audit ``model`` (see :func:`audit`) and raise if any weight or the signal fails.

    Raises:
        InitCheckFailure: carrying the failed results; its message lists the failed rows.
    """
    report = audit(model, **options)
    if not report.passed:
        failure = InitCheckFailure(report.failures)
        failure.args = (str(report),)
        raise failure
    return report
