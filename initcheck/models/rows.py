"""One :class:`~initcheck.models.records.WeightRow` per weight piece: the checks run on
its draws, then the model-level reading of the verdicts.

The reading (docs/audit.md, "Rules"):

- **Scale-invariant kernels** (output reaches a norm through pass-through layers): under
  ``"auto"``, a blanket rule or no rule, the variance is reported with its ratio and
  diagnosis and does not fail; a rule given for that layer's path or type still decides.
- **Output heads** under ``"auto"``: their scale sets the initial logits, which no fan
  rule fixes; reported, not failed.
- **Fixed-σ conventions** (:mod:`initcheck.models.conventions`) under ``"auto"`` in a
  normalized model: reported as the convention; the model's signal decides.
- **Residual branches** of a normalized residual model under ``"auto"``: a branch kernel's
  scale sets the branch's share of the stream, not the signal's propagation (pre-LN:
  Xiong et al. 2020; post-LN branches scaled down on purpose: T-Fixup, DeepNet); the
  residual-depth criterion on the stream decides.
- **Identity-at-init**: a zero norm γ closing a residual branch (Goyal et al. 2017), a
  small LayerScale γ (Touvron et al. 2021), a zero ReZero/SkipInit α.
- An error while auditing one weight makes that row an error row; the others stand.
"""

from __future__ import annotations

import dataclasses
import math
import traceback
from collections.abc import Iterable
from typing import Any

from initcheck.api import make_plan, run_checks, select_checks
from initcheck.checks import seeds as _seeds
from initcheck.checks import symmetry as _symmetry
from initcheck.checks import variance as _variance
from initcheck.declared import parse
from initcheck.models.conventions import Measured, declared_sigmas, explain
from initcheck.models.draws import ModelDraws, piece_initializer, piece_values
from initcheck.models.records import WeightPiece, WeightRow
from initcheck.models.rules import (
    auto_band,
    fixed_target,
    is_auto,
    layer_rule,
    matches,
    piece_target,
)
from initcheck.models.value_checks import (
    constant_result,
    deterministic_table,
    orthogonality,
    truncation,
)
from initcheck.models.weightrow import Status
from initcheck.results import CheckResult
from initcheck.sampling import draw_seed
from initcheck.settings import Settings


def _explicit(piece: WeightPiece, variance: Any) -> bool:
    """Whether ``variance`` names a rule for this very layer (a path glob or type key
    whose rule is not ``"auto"``)."""
    matched, rule = layer_rule(piece, variance)
    return matched and not is_auto(rule)


def _is_auto(piece: WeightPiece, variance: Any) -> bool:
    return is_auto(layer_rule(piece, variance)[1])


def _unmeasured(piece: WeightPiece, variance: Any) -> bool:
    """Under ``"auto"``: a kernel whose variance would decide its row, with no gain
    measured for what follows it (its row cannot pass on a name)."""
    return (
        piece.role in ("kernel", "recurrent")
        and piece.fans is not None
        and piece.gain is None
        and not piece.norm
        and not piece.output
        and _is_auto(piece, variance)
    )


def _wide(piece: WeightPiece) -> bool:
    """Whether a table's units hold more than one value (distinct units mean something)."""
    return piece.fans is not None and piece.fans.fan_in > 1


#: roles whose rows run no battery of checks (unknown ones, constants checked for value)
_NO_BATTERY = ("unknown", "constant", "scale", "offset")


def _row(
    piece: WeightPiece,
    draws: ModelDraws,
    variance: Any,
    settings: Settings,
    checks: Iterable[str] | None,
    limit: int,
    family: int = 1,
) -> tuple[WeightRow, Any]:
    """The row of one piece, and its rule (for the model-level reading); ``family``: the
    model's rows that run the battery (:func:`~initcheck.api.run_checks`)."""
    seed0 = draw_seed(settings.seed, 0, 0)
    head = (piece.layer, piece.param, piece.piece, piece.layer_type, piece.role)
    if piece.role == "unknown":
        return WeightRow(*head, (), "", None, None, note=piece.note), None
    full, bad = draws.own_piece(piece)
    if full.size == 0:  # a layer sized 0 by its config: nothing to initialize, nothing wrong
        empty = CheckResult(
            check="empty",
            initializer=piece.name,
            passed=True,
            message=f"an empty weight {tuple(full.shape)}: no values to initialize",
            shapes=(tuple(full.shape),),
        )
        return WeightRow(*head, tuple(full.shape), "", None, None, (empty,), size=0), None
    if bad:  # the model's own values first: nothing is compared or redrawn past a NaN
        result = CheckResult(
            check="finite",
            initializer=piece.name,
            passed=False,
            message=(
                f"{bad:,} of {full.size:,} values of the model's own {piece.name} "
                f"{tuple(full.shape)} are NaN or Inf: nothing else about it can be judged"
            ),
            statistic=float(bad),
            target=0.0,
            n=int(full.size),
            shapes=(tuple(full.shape),),
        )
        return WeightRow(*head, tuple(full.shape), "", None, None, (result,), size=full.size), None
    note = draws.frozen.get(piece.key, "")
    values = piece_values(draws, piece, seed0, limit)
    fans = (piece.fans.fan_in, piece.fans.fan_out) if piece.fans else None
    layout = str(piece.layout) if piece.layout else ""
    common = (*head, tuple(values.shape), layout, fans)
    if piece.role in _NO_BATTERY:
        result, status = constant_result(piece, values)
        both = "; ".join(n for n in (note, piece.note) if n)
        return WeightRow(*common, None, (result,), note=both, status=status, size=full.size), None
    if piece.role == "embedding" and piece.key not in draws.frozen:
        table = deterministic_table(piece, values, draws, settings, limit)
        if table is not None:
            return WeightRow(
                *common, None, (table,), note=note, status=Status.DETERMINISTIC, size=full.size
            ), None
    if values.size < full.size:
        note = "; ".join(
            filter(None, [note, f"checked on the first units: {values.shape} of {full.shape}"])
        )
    rule, why = piece_target(piece, variance)
    notes = [n for n in (note, piece.note, why) if n]
    extra: list[CheckResult] = []
    declared = parse(layer_rule(piece, variance)[1])  # "trunc_normal(std=0.02, at=2)"
    if declared is not None and declared.at is not None:
        extra.append(truncation(piece, values, declared))
    if piece.role == "recurrent":
        own = piece.extract(draws.model_values(piece.key))  # its values, not a stand-in
        ortho = orthogonality(piece, own, settings.std_tolerance)
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
    if piece.unmeasured and piece.role == "embedding":  # a parameter the pass never used
        names = [n for n in names if n == _symmetry.CHECK.name and _wide(piece)]
        if not names and not extra:  # units of one value: an offset's finiteness, no more
            finite = f"finite; {piece.unmeasured}: no check that presumes a role applies"
            result = CheckResult(
                check="finite", initializer=piece.name, passed=True, message=finite
            )
            both = "; ".join(n for n in (note, piece.note) if n)
            return WeightRow(*common, None, (result,), note=both, size=full.size), None
    init = piece_initializer(draws, piece, limit, settings.seed, settings.timeout)
    results = tuple(run_checks(init, plan, settings, names, family) + extra)
    if rule is not None and _is_auto(piece, variance):
        results = tuple(_within_auto_band(r, piece, settings) for r in results)
    elif (checks is None or _variance.CHECK.name in checks) and _unmeasured(piece, variance):
        results += (
            CheckResult(
                check=_variance.CHECK.name,
                initializer=piece.name,
                verdict="inconclusive",
                message=f"inconclusive: {why}",
                n=int(values.size),
                shapes=(tuple(values.shape),),
            ),
        )
    status, follows = Status.NONE, ""
    if piece.norm and not _explicit(piece, variance):
        status, follows = Status.SCALE_INVARIANT, piece.norm
        notes.append(
            f"scale-invariant (followed by {piece.norm}): the norm removes the kernel's "
            "scale from the forward signal (Ioffe & Szegedy 2015)"
        )
    elif piece.output and _is_auto(piece, variance):
        status = Status.OUTPUT_HEAD
        notes.append(
            "output head: its scale sets the initial outputs' scale, which no fan rule "
            "fixes; 'auto' reports it, a rule for its path or type decides it"
        )
    row = WeightRow(
        *common,
        target.label if target else None,
        results,
        note="; ".join(notes),
        status=status,
        size=full.size,
        rule=rule.label if rule is not None and target else "",
        target_variance=target.value if target else None,
        follows=follows,
        init_fans=(piece.init_fans.fan_in, piece.init_fans.fan_out) if piece.init_fans else None,
    )
    return row, rule


def _within_auto_band(result: CheckResult, piece: WeightPiece, settings: Settings) -> CheckResult:
    """A failing variance result under ``"auto"`` whose ratio lies in the range the
    measured gain admits (:func:`~initcheck.models.rules.auto_band`, widened by the
    variance check's own tolerance) passes, saying so."""
    band = auto_band(piece)
    ratio = result.statistic
    if (
        band is None
        or result.check != _variance.CHECK.name
        or result.passed
        or ratio is None
        or not math.isfinite(ratio)
    ):
        return result
    widen = (1 + settings.std_tolerance) ** 2
    lo, hi = band[0] / widen, band[1] * widen
    if not lo <= ratio <= hi:
        return dataclasses.replace(
            result,
            message=(
                f"{result.message}; the measured gain {piece.gain} of the "
                f"{piece.activation or 'nonlinearity'} that follows admits ×{lo:.3g}–×{hi:.3g}"
            ),
        )
    return dataclasses.replace(
        result,
        verdict="pass",
        message=(
            f"Var ×{ratio:.3g} of the forward target 1/(gain·fan_in), within ×{lo:.3g}–"
            f"×{hi:.3g}: the range between the forward and backward targets (Glorot & "
            f"Bengio 2010) that the measured gain {piece.gain} of the "
            f"{piece.activation or 'nonlinearity'} admits"
        ),
    )


def _error_row(piece: WeightPiece, exc: BaseException) -> WeightRow:
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno})" if where else ""
    result = CheckResult(
        check="error",
        initializer=piece.name,
        passed=False,
        message=f"auditing this weight raised {type(exc).__name__}: {exc}{at}",
    )
    head = (piece.layer, piece.param, piece.piece, piece.layer_type, piece.role)
    return WeightRow(*head, (), "", None, None, results=(result,))


def _defer(row: WeightRow, status: Status, extra: str = "") -> WeightRow:
    """``row`` with its failing variance result kept as information (passed, marked)."""
    var_name = _variance.CHECK.name
    results = tuple(
        dataclasses.replace(
            r,
            verdict="pass",  # replace() passes the old verdict too: both are given
            message=f"{status}, not decided: {r.message}",
            details={**r.details, "deferred": status},
        )
        if r.check == var_name and not r.passed
        else r
        for r in row.results
    )
    note = "; ".join(filter(None, [row.note, extra]))
    return dataclasses.replace(row, results=results, status=status, note=note)


def audit_rows(
    pieces: list[WeightPiece],
    draws: ModelDraws,
    variance: Any,
    settings: Settings,
    checks: Iterable[str] | None,
    limit: int,
    *,
    instance: Any,
    normalized: bool,
    residual: bool = False,
    accept: Iterable[tuple[str, str]] = (),
) -> tuple[WeightRow, ...]:
    """Every piece's row, then the model-level reading (module docstring), then the
    rows the user vouches for (``accept``: ``(pattern, reason)`` pairs)."""
    rows: list[WeightRow] = []
    rules: list[Any] = []
    # the rows a by-chance check runs on decide the model's verdict together: alpha/family
    family = max(1, sum(p.role not in _NO_BATTERY for p in pieces))
    for p in pieces:
        try:
            row, rule = _row(p, draws, variance, settings, checks, limit, family)
        except Exception as exc:  # one weight's error must not discard the others
            row, rule = _error_row(p, exc), None
        draws.done(p)
        if p.key in draws.method:
            row = dataclasses.replace(row, drawn=draws.method[p.key])
        rows.append(row)
        rules.append(rule)
    var_name = _variance.CHECK.name
    measured: list[tuple[int, Measured]] = []
    for i, (p, row, rule) in enumerate(zip(pieces, rows, rules, strict=True)):
        res = next((r for r in row.results if r.check == var_name), None)
        if rule is not None and res is not None and res.statistic and p.fans is not None:
            measured.append((i, Measured(p, rule, float(res.statistic))))
    found = explain([m for _, m in measured], declared_sigmas(instance))
    for (i, m), why in zip(measured, found, strict=True):
        row = rows[i]
        failed = any(r.check == var_name and not r.passed for r in row.results)
        if why is not None and (failed or row.status):
            row = dataclasses.replace(row, explanation=why)
        if row.status in (Status.SCALE_INVARIANT, Status.OUTPUT_HEAD):
            row = _defer(row, row.status)
        elif (
            failed
            and why is not None
            and why.convention
            and normalized
            and _is_auto(m.piece, variance)
        ):
            row = _defer(
                row,
                Status.CONVENTION,
                "a fixed-σ convention in a normalized model: 'auto' reports it, the model's "
                "signal decides",
            )
        elif failed and residual and m.piece.branch_end and _is_auto(m.piece, variance):
            row = _defer(
                row,
                Status.RESIDUAL_BRANCH,
                "on a residual branch: its scale sets the branch's share of the stream "
                "(Fixup, Zhang et al. 2019; SkipInit, De & Smith 2020); 'auto' reports it, "
                "the stream's depth criterion decides",
            )
        rows[i] = row
    return tuple(_accepted(row, accept) for row in rows)


def _accepted(row: WeightRow, accept: Iterable[tuple[str, str]]) -> WeightRow:
    """``row`` marked accepted when the user vouches for it (the first pattern that is its
    layer type or a glob of its path) and it did not pass on its own: not audited, failed
    or undecided. Its results stay as measured; the model's verdict leaves it out."""
    if row.audited and row.passed:
        return row
    for pattern, reason in accept:
        if matches(pattern, row.layer_type, row.layer, row.param):
            why = f"accepted: {reason}" if reason else "accepted (accept=)"
            return dataclasses.replace(
                row,
                status=Status.ACCEPTED,
                note="; ".join(filter(None, [row.note, why])),
                acceptance=why,
            )
    return row
