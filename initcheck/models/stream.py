"""Where a model's residual stream runs: its points (the blocks' residual merges) split
into the stretches that carry one stream each (:func:`segments`), read from the data flow
between them — a norm on every path, a weighted op alone, blocks side by side on one
input, a sum of branches of one input, a new stack. Pure functions over the traced graph
(:mod:`initcheck.models.graph`); :mod:`initcheck.models.signal` judges each stretch."""

from __future__ import annotations

from collections.abc import Sequence

from initcheck.models.graph import Call

#: One residual block's allowance of growth (:mod:`initcheck.models.signal`'s criterion);
#: a stretch restarts where the second moment drops by more than ÷ 2·KAPPA.
KAPPA = 1.25


def container(path: str) -> str:
    """The stack a block belongs to: its module's parent (``encoder.layers`` for
    ``encoder.layers.3``, and for a merge ``layers.3:add#2`` recorded inside a block)."""
    return path.partition(":")[0].partition("#")[0].rpartition(".")[0]


def _descends(
    c: Call,
    last: Call,
    by_path: dict[str, Call],
    main: bool = True,
    past_norms: bool = True,
    past_weights: bool = True,
    start: Sequence[str] | None = None,
) -> bool:
    """Whether block ``c``'s input (or ``start``) was computed from block ``last``'s
    output (through ops that are not blocks): from its main input only (its first: the
    stream it adds to, not a decoder block's encoder states), or from any; through norms,
    or only on paths that meet none; through weighted ops, or only ops weighing nothing."""
    seen: set[str] = set()
    todo = list(start if start is not None else c.sources[:1] if main else c.sources)
    while todo:
        path = todo.pop()
        if _of(path, last):
            return True
        call = by_path.get(path)
        if path in seen or call is None or call.block:
            continue
        seen.add(path)
        cat = call.category
        if (past_norms or cat != "norm") and (past_weights or cat != "other"):
            todo.extend(call.sources)
    return False


def _forks_at(c: Call, last: Call, by_path: dict[str, Call]) -> bool:
    """Whether merge ``c``'s two inputs part at point ``last``: a projection shortcut's
    ``p(x) + f(x)`` where ``x`` is ``last``, each input computed from ``last`` along its
    own ops (a stage's first block written with merges as points)."""
    if len(c.sources) < 2:
        return False
    parts: list[tuple[bool, set[str]]] = []
    for src in c.sources[:2]:
        hit, mine, todo = False, set[str](), [src]
        while todo and len(mine) < 512:
            path = todo.pop()
            call = by_path.get(path)
            if _of(path, last) or path in mine or call is None or call.block:
                hit = hit or _of(path, last)
                continue
            mine.add(path)
            todo.extend(call.sources)
        parts.append((hit, mine))
    return all(hit for hit, _ in parts) and not parts[0][1] & parts[1][1]


def _of(path: str, point: Call) -> bool:
    """Whether ``path`` is ``point``'s output, or an op inside it (that produced it)."""
    return path == point.path or path.startswith((point.path + ".", point.path + ":"))


def segments(blocks: list[Call], calls: Sequence[Call] = ()) -> list[list[Call]]:
    """The blocks split into the stretches that carry one residual stream each. A new
    stretch starts where every path from the previous point passes a norm (post-norm, a
    BN shortcut); where only a weighted op feeds the point (no identity path, and no
    projection shortcut parting at the previous point: an upsampling conv); where blocks
    run side by side on one input; or where the blocks' stack (a tower, an encoder, a
    stage) changes and the stream restarts: the new stack's input was not computed from
    the previous stack's output (a decoder's own embeddings), or its second moment drops
    by more than one block's allowance, ÷ 2·:data:`KAPPA`. A stream that runs on through
    a stage boundary, growing (an unnormalized ResNet's), stays one stretch."""
    by_path = {c.path: c for c in calls}
    out: list[list[Call]] = []
    for c in blocks:
        if out:
            last = out[-1][-1]
            a, b = last.act_ms, c.act_ms  # second moments
            drop = a is None or b is None or not a > 0 or b / a < 1 / (2 * KAPPA)
            other = bool(by_path) and not _descends(c, last, by_path)
            # every path from the last point passes a norm (post-norm, a BN shortcut)
            renormed = bool(by_path) and not other and not _descends(c, last, by_path, False, False)
            same = container(c.path) == container(last.path)
            # fed only through a weighted op (a vocoder's or codec's upsampling conv)
            linked = _descends(c, last, by_path, main=False, past_weights=False) or _forks_at(
                c, last, by_path
            )
            hop = bool(by_path) and not other and not linked
            # blocks run side by side on one input (HiFi-GAN's resblocks): no chain
            parallel = bool(c.sources) and c.sources[:1] == last.sources[:1]
            # last + a branch not computed from it: one sum of branches of one input (a
            # re-parameterizable conv, Ding et al. 2021), one point, not a block deeper
            branches = [s for s in c.sources if s != last.path]
            if (
                last.path in c.sources
                and branches
                and by_path
                and not any(_descends(c, last, by_path, start=(s,)) for s in branches)
            ):
                out[-1][-1] = c
                continue
            if not (renormed or parallel or hop) and (same or not (drop or other)):
                out[-1].append(c)
                continue
        out.append([c])
    return out
