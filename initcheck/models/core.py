"""``initcheck.audit(model)``: every weight of a Keras, PyTorch or Flax model, checked
where it sits, and the model's own signal at init."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from initcheck._threads import CallTimeout, DaemonWorker, single_threaded_blas
from initcheck.api import environment
from initcheck.checks import symmetry as _symmetry
from initcheck.declared import bound, config_numbers, parse
from initcheck.errors import INPUTS_HINT, InitCheckFailure
from initcheck.inputs import validate
from initcheck.models.adapter import adapter_for, seeded_build
from initcheck.models.attention import with_attention
from initcheck.models.draws import MAX_PIECE_VALUES, ModelDraws, Unmaterialized
from initcheck.models.findings import findings_of
from initcheck.models.fixes import fix_and_audit
from initcheck.models.linen_model import is_linen, linen_factory
from initcheck.models.output_scale import with_output
from initcheck.models.records import ModelReport, WeightPiece
from initcheck.models.rows import audit_rows
from initcheck.models.signal import SIGNAL_CHECK, decide_signal
from initcheck.models.weightrow import Status, WeightRow
from initcheck.results import CheckResult, jsonable
from initcheck.sampling import draw_seed
from initcheck.settings import Settings
from initcheck.targets import TargetSpec, resolve_target
from initcheck.validators import InputError


def zero_at_init(row: WeightRow, learned: bool | None) -> WeightRow:
    """``row`` of a constant kernel, or one with identical units, whose units received
    distinct gradients in the traced pass: its symmetry breaks on the first step, so the
    zero, constant or repeated init is deliberate — a router (uniform routing), deformable
    attention's sampling offsets and weights (Zhu et al. 2021), a gate, a sub-pixel
    upsampler drawn as nearest-neighbour upsampling. Its failing results (symmetry,
    variance, seeds: a deliberate deterministic draw has no spread) are kept as
    information (``details["deferred"]``) and the row passes as ``"zero-at-init"`` (a
    constant) or ``"learns-apart"`` (identical units). Units that got the same gradient
    still fail; a weight the traced pass did not reach is undecided."""
    symmetry = next(
        (r for r in row.results if r.check == _symmetry.CHECK.name and not r.passed), None
    )
    shapes = list((symmetry.details.get("per_shape") or {}).values()) if symmetry else []
    constant = any(v.get("constant") for v in shapes)
    alike = constant or any(v.get("identical") for v in shapes)
    if learned is False or row.status == "accepted" or not alike:
        return row  # measured symmetric, or vouched for by the user: as it stands
    what = "every value equal" if constant else "identical units"
    status = Status.ZERO_AT_INIT if constant else Status.LEARNS_APART
    if learned:
        verdict = "pass"
        why = (
            f"{status}: {what}, but its units received distinct gradients in the traced "
            "pass (measured), so the first step breaks their symmetry"
        )
    else:
        verdict, status = "inconclusive", row.status
        why = (
            f"{what}, and no traced pass reached it, so whether its units learn apart (a "
            "deliberate init) was not measured: pass inputs= that reach it"
        )
    results = tuple(
        dataclasses.replace(
            r,
            verdict=verdict,
            message=f"{why}; not decided: {r.message}",
            details={**r.details, "deferred": str(status)} if learned else r.details,
        )
        if not r.passed  # a deliberate draw says nothing of its spread, seed or mean
        else r
        for r in row.results
    )
    return dataclasses.replace(row, results=results, status=status)


def _signal_points(pieces: list[WeightPiece], trace: Any) -> tuple[list[Any], list[int]]:
    """Weighted layers' calls in forward order, up to the last hidden one (an output
    head's scale sets the logits, and a global pooling before it changes per-example
    norms, neither of which is the signal's propagation); a scale-invariant kernel's
    point is the norm that follows it. Also each point's width (its kernel's fan_out),
    which sets the finite-width fluctuation of the signal (Hanin & Rolnick 2018)."""
    weighted = {p.layer: p for p in pieces if p.role in ("kernel", "recurrent")}
    hidden = [p for p in weighted.values() if not p.output]
    if len(hidden) >= 2:
        weighted = {p.layer: p for p in hidden}
    points: list[Any] = []
    widths: list[int] = []
    for call in trace.calls:
        p = weighted.get(call.path)
        if p is None:
            continue
        if p.norm:
            after = next((c for c in trace.consumers(call.path) if c.kind == p.norm), None)
            call = after or call
        if call not in points:
            points.append(call)
            widths.append(p.fans.fan_out if p.fans is not None else 0)
    return points, widths


class AuditTimeout(RuntimeError):
    """User code the audit ran (a factory, a rebuild, the forward pass) did not return
    within the audit's ``timeout``."""


class Limited:
    """Runs the user's code under the audit's ``timeout`` (``settings.timeout``) on the
    daemon worker the initializer checks use; once a call has hung, no call of that
    model's code is made again (a hung factory is not rebuilt for the next weight)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.hung = ""
        self._worker: DaemonWorker | None = None

    def __call__(self, what: str, fn: Any, *args: Any) -> Any:
        if self.hung:
            raise AuditTimeout(f"{what}: not called, since {self.hung}")
        if self._worker is None:
            self._worker = DaemonWorker("initcheck-audit")
        try:
            return self._worker.run(fn, *args, timeout=self.timeout)
        except CallTimeout:
            self._worker = None  # abandoned: the hung call keeps it
            self.hung = f"{what} did not return within {self.timeout:g} s"
            raise AuditTimeout(
                f"{self.hung} (timeout={self.timeout:g}; a call that hangs is not made again)"
            ) from None


#: The fewest values a weight is checked on (``max_piece_values``): below it the checks'
#: sample sizes lose their stated power (docs/statistics.md).
MIN_PIECE_VALUES = 1024


def _checked_arguments(
    variance: Any,
    inputs: Any,
    seed: Any,
    checks: Any,
    settings: Any,
    max_piece_values: Any,
    signal: Any,
    accept: Any,
) -> tuple[Any, tuple[tuple[str, str], ...]]:
    """Every argument of :func:`audit` through the input table's validators (as the CLI
    and the gate check them), before any work; returns ``variance`` and ``accept`` as the
    validators return them (``accept``: ``(pattern, reason)`` pairs). Raises
    ``ValueError``/``TypeError`` naming the argument."""
    variance = validate("variance", variance, "audit")
    for rule in variance.values() if isinstance(variance, Mapping) else [variance]:
        if not (rule is None or rule == "auto"):  # the validator spells it "auto"
            try:  # a "module:attr" rule is imported here, once, before any work
                parse(rule) or resolve_target(rule)  # a declared one's names: any number
            except (TypeError, ValueError) as exc:
                raise InputError(str(exc)) from None
    if isinstance(inputs, str | bytes):
        raise InputError(
            "`inputs` must be a batch the model's forward takes (an array or tensor), not "
            f"text; on the command line and in the gate it is a SPEC. Received: inputs={inputs!r}"
        )
    if seed is not None:
        validate("seed", seed)
    validate("checks", checks)
    validate("signal", signal)
    if settings is not None and not isinstance(settings, Settings):
        raise TypeError(
            "`settings` must be an initcheck.Settings (e.g. initcheck.Settings(alpha=1e-3)) "
            f"or None. Received: settings={settings!r:.80} (type={type(settings).__name__})"
        )
    if isinstance(max_piece_values, bool) or not (
        isinstance(max_piece_values, int) and max_piece_values >= MIN_PIECE_VALUES
    ):
        raise InputError(
            f"`max_piece_values` must be an integer of at least {MIN_PIECE_VALUES:,} (the "
            f"checks' sample sizes need them). Received: max_piece_values={max_piece_values!r}"
        )
    return variance, validate("accept", accept, "audit")


def _plain(rule: Any) -> Any:
    """A validated variance as JSON keeps it (a mapping per layer; a callable's repr)."""
    if isinstance(rule, Mapping):
        return {str(k): _plain(v) for k, v in rule.items()}
    return rule if isinstance(rule, str | int | float | None) else repr(rule)


def audit(
    model: Any,
    *,
    variance: TargetSpec | Mapping[str, TargetSpec] | None = None,
    inputs: Any = None,
    seed: int | None = None,
    checks: Iterable[str] | None = None,
    settings: Settings | None = None,
    max_piece_values: int = MAX_PIECE_VALUES,
    signal: bool = True,
    accept: Iterable[str | tuple[str, str] | Mapping[str, str]] = (),
) -> ModelReport:
    """Audit every weight of a model where it sits, and the model's signal at init.

    Args:
        model: a Keras 3 model, a ``torch.nn.Module``, a Flax NNX module, or (preferred)
            a factory returning one; or a Flax Linen module with ``inputs=``, initialized
            on them under a fresh key per draw. Each weight is drawn afresh on its own: from its
            layer's initializer object (Keras) or its module's own init code (torch,
            incl. a Hugging Face model's ``_init_weights``); where that does not
            reproduce the model, a factory is rebuilt per seed and an instance is audited
            from its own values (one draw). Each row's ``drawn`` says which
            (:mod:`initcheck.models.draws`).
        variance: ``None`` (structural checks only), one rule for every kernel (``"he"``,
            ``"glorot"``, ``"lecun"``, a number, a callable ``(fan_in, fan_out) -> var`` or
            ``"module:attr"`` naming one), ``"auto"`` (from each weight's measured gain),
            or a mapping from layer-path globs or layer type names to rules (the first key
            that matches a weight decides it: ``{"attn.proj": 2.0, "*": "auto"}``).
        inputs: a batch for the signal (default: built from the model: token ids sized
            from its vocabulary, images at its declared resolution or one that keeps every
            feature map wider than 1, MNIST images for 784-input models).
        seed: the seed all draws derive from (default: ``settings.seed``, which defaults
            to 0).
        checks: the per-weight checks to run (default: the default battery).
        settings: :class:`~initcheck.settings.Settings` (``seed``, if given, overrides
            its seed).
        max_piece_values: larger kernels are checked on their first units.
        signal: measure the model's own signal (forward and backward one batch).
        accept: weights you vouch for: layer path globs or layer type names, each alone
            or with a reason (``"attn.proj=gated by gamma"``, ``("attn.proj", "gated by
            gamma")`` or ``{"path": "attn.proj", "reason": "gated by gamma"}``). An
            accepted weight that was not audited does not make the verdict "incomplete";
            one that fails is shown as accepted, with the reason, and does not fail the
            model.

    Returns:
        A :class:`~initcheck.models.records.ModelReport`.
    """
    if isinstance(checks, Iterator):  # read once: validated, run and recorded
        checks = tuple(checks)
    variance, accept = _checked_arguments(
        variance, inputs, seed, checks, settings, max_piece_values, signal, accept
    )
    settings = Settings.of(settings, **({} if seed is None else {"seed": seed}))
    first, second = draw_seed(settings.seed, 0, 0), draw_seed(settings.seed, 0, 1)
    if is_linen(model):  # a definition: initialized on the inputs under each draw's key
        model = linen_factory(model, inputs)
    limited = Limited(settings.timeout)
    adapter, instance, factory = limited("building the model", adapter_for, model, first)
    config = config_numbers(instance)  # what a declared std may name: the config's promise
    try:
        bound(variance, 1, config)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    trace: Any = None
    trace_error = ""
    batch_doubt = False  # whether the default batch may be why the pass failed
    try:  # its probes' numpy norms on one BLAS thread: a pool fights the framework's
        with single_threaded_blas():
            pass_ = adapter.trace, instance, inputs, settings.seed
            trace = limited("the forward/backward pass", *pass_)
    except Exception as exc:  # the rows are still audited; the signal says why it is missing
        trace_error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        # a hang, or a pass the framework cannot trace (NotImplementedError), is not the batch
        batch_doubt = inputs is None and not isinstance(exc, AuditTimeout | NotImplementedError)
    pieces = adapter.pieces(instance, trace)
    rebuild = None
    if factory is not None:

        def rebuild(s: int, f: Any = factory) -> Any:
            return limited("rebuilding the model", lambda: adapter.own_values(seeded_build(f, s)))

    draws = ModelDraws(
        ways=adapter.ways(instance),
        own=adapter.own_values(instance),
        rebuild=rebuild,
        pieces=pieces,
        limit=max_piece_values,
        own_seed=first,
        reseed=adapter.reseed,
    )
    normalized = trace is not None and any(c.category == "norm" for c in trace.calls)
    depth = len(trace.blocks) if trace is not None and len(trace.blocks) >= 2 else None
    with single_threaded_blas():  # the fidelity tests' and the checks' small arrays
        # each way is compared with the model's own values (the first draw) on a draw
        # that then serves as the second; a model without values is drawn at the first
        draws.decide(first if isinstance(draws.own, Unmaterialized) else second)
        rows = audit_rows(
            pieces,
            draws,
            bound(variance, depth, config),  # L at the measured depth, the config's names
            settings,
            checks,
            max_piece_values,
            instance=instance,
            normalized=normalized,
            residual=trace is not None and len(trace.blocks) >= 2,
            accept=accept,
        )
    if adapter.measures_learning:  # whether each constant's units learn apart
        learns = trace.learns if trace is not None else {}
        unknown = None if trace is None else False  # no pass, or units not alike by rows
        rows = tuple(zero_at_init(row, learns.get(row.name, unknown)) for row in rows)
    name = type(instance).__name__
    verdict = None
    if signal and trace is not None:
        points, widths = _signal_points(pieces, trace)
        verdict = decide_signal(
            points,
            trace.blocks,
            trace.source,
            name,
            saturating=trace.saturating,
            calls=trace.calls,
            widths=widths,
            forward_only=trace.forward_only,
        )
        verdict = with_attention(with_output(verdict, pieces, trace), trace.attention)
    elif signal:
        reason = (
            f"could not build a batch: {trace_error}; {INPUTS_HINT}"
            if batch_doubt
            else f"the signal could not be measured: {trace_error}"
        )
        verdict = CheckResult(
            check=SIGNAL_CHECK, initializer=name, verdict="inconclusive", message=reason
        )
    if verdict is not None:  # plain data, as it reads back from JSON
        verdict = dataclasses.replace(verdict, details=jsonable(verdict.details))
    return ModelReport(
        model=name,
        framework=adapter.name,
        rows=rows,
        signal=verdict,
        findings=findings_of(rows, adapter.write_fix),
        settings={
            **settings.to_dict(),
            "variance": _plain(variance),
            "variance_replayable": _plain(variance) == variance,
            "checks": None if checks is None else list(checks),
            "signal": signal,
            "factory": factory is not None,
            "rebuilds": draws.rebuilds,
            "max_piece_values": max_piece_values,
            "accept": [{"path": p, "reason": r} if r else p for p, r in accept],
            "versions": environment(),
        },
    )


def fix(report: ModelReport, model: Any, **options: Any) -> ModelReport:
    """``report`` with :attr:`~ModelReport.after_fix` set: exactly the findings' fixes
    applied to a copy of ``model`` (or to what a factory builds), on the failing layers
    only, re-audited under the report's recorded settings (``variance``, ``seed``,
    ``checks``, ``accept``, ``signal``, ``max_piece_values``); ``options`` override them.
    A report does not record its ``inputs=``: pass them again.

    Args:
        report: the audit of ``model`` (or its JSON round trip).
        model: the model or factory that was audited.
        **options: :func:`audit` options (``inputs=``, or a ``variance=`` the report
            recorded only as text).

    Returns:
        ``report`` with ``after_fix`` (``None`` when no finding has a fix); its text then
        says "after the suggested fix: passes" or what still fails.

    Example:
        >>> initcheck.fix(initcheck.audit(build), build).after_fix.passed  # doctest: +SKIP
        True
    """
    if not report.settings.get("variance_replayable", True) and "variance" not in options:
        raise ValueError(
            f"This report was audited with variance={report.settings.get('variance')}, "
            "which a report records as text only: pass it again, "
            "fix(report, model, variance=...)."
        )
    return fix_and_audit(report, model, audit, **options)


def assert_sound_model(model: Any, **options: Any) -> ModelReport:
    """Audit ``model`` (see :func:`audit`) and raise if any weight or the signal fails,
    or if some weights could not be audited (verdict ``"incomplete"``).

    Raises:
        InitCheckFailure: carrying the failed results; its message lists the failed rows.
    """
    report = audit(model, **options)
    if not report.passed:
        failure = InitCheckFailure(report.failures)
        detail = "\n".join("  " + r.describe() for r in report.failed_rows)
        failure.args = (str(report) + (f"\nfailed rows in full:\n{detail}" if detail else ""),)
        raise failure
    return report
