"""Replaying a build's recorded init calls (:mod:`initcheck.models.torch_record`) on one
weight under any seed: the weight alone, drawn as construction drew it, without
rebuilding the model."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from initcheck.models.torch_record import PLUMBING, Ref, Step, Tape, tape_of


def replay_ways(model: Any) -> dict[str, tuple[str, Callable[[int], Any], Any]]:
    """``{parameter: (label, draw, recipe)}`` for every parameter whose construction the
    model's recording can replay: ``draw(seed)`` returns that parameter alone, as a CPU
    tensor, drawn as construction drew it with torch seeded by ``seed`` (salted by its
    name: two parameters' draws are independent). Parameters of equal ``recipe`` (not
    ``None``) are the same calls with the same arguments on the same shapes (the 24
    blocks' talking-heads weights of a CaiT): one distribution, so one's draws may stand
    for another's in its checks (:class:`~initcheck.models.draws.ModelDraws` pools them)."""
    tape = tape_of(model)
    if tape is None or tape.reseeded:
        return {}
    return _replays(tape, tape.params)


def replay_buffers(model: Any) -> dict[str, Callable[[int], Any]]:
    """``{buffer: draw}`` for every buffer the model's recording can replay."""
    tape = tape_of(model)
    return {k: d for k, (_, d, _) in _replays(tape, tape.buffers).items()} if tape else {}


def _replays(
    tape: Tape, named: dict[str, tuple[int, tuple[int, ...]]]
) -> dict[str, tuple[str, Callable[[int], Any], Any]]:
    out: dict[str, tuple[str, Callable[[int], Any], Any]] = {}
    for key, (n, shape) in named.items():
        steps = tape.slice_of(n)
        if not steps:
            continue
        names = [getattr(s.func, "__name__", "?") for s in steps]
        shown = [x for x in dict.fromkeys(names) if x not in PLUMBING]
        label = "the init calls construction made (" + ", ".join(shown) + ")"
        blank = tape.dtypes[n] if tape.blank(steps, n) else None
        draw = _drawer(tape, steps, n, shape, zlib.crc32(key.encode()), blank)
        out[key] = (label, draw, _recipe(tape, steps, n, shape))
    return out


def _recipe(tape: Tape, steps: list[Step], node: int, shape: tuple[int, ...]) -> Any:
    """What a slice does, with its nodes numbered in order of use (so two weights' slices
    compare equal when they make the same calls with the same arguments on the same
    shapes), or ``None`` where an argument cannot be compared (not hashable)."""
    order: dict[int, int] = {}

    def ref(k: int) -> Any:
        number = order.setdefault(k, len(order))
        alias = tape.aliases.get(k)
        if alias is None or alias.base == k:
            return ("node", number)
        return ("view", number, ref(alias.base), alias.shape, alias.stride, alias.offset)

    def plain(v: Any) -> Any:
        if isinstance(v, Ref):
            return ref(v.node)
        if isinstance(v, list | tuple):
            return (type(v).__name__, tuple(plain(x) for x in v))
        return v

    try:
        calls = tuple(
            (
                s.func,
                plain(s.args),
                tuple(sorted((k, plain(v)) for k, v in s.kwargs.items())),
                ref(s.out) if s.out >= 0 else None,
            )
            for s in steps
        )
        key = (calls, ref(node), shape)
        hash(key)
    except TypeError:  # an argument without a value to compare
        return None
    return key


def _dead_after(tape: Tape, steps: list[Step], node: int) -> list[list[int]]:
    """Per step of ``steps``, the nodes no later step reads or makes (a view's base
    counts as read with the view); ``node`` and its base are never dead."""
    last: dict[int, int] = {}
    for i, step in enumerate(steps):
        for n in (*step.reads, step.out):
            alias = tape.aliases.get(n)
            last.update({m: i for m in (n, alias.base if alias else -1) if m >= 0})
    alias = tape.aliases.get(node)
    keep = {node, alias.base if alias else node}
    dead: list[list[int]] = [[] for _ in steps]
    for n, i in last.items():
        if n not in keep:
            dead[i].append(n)
    return dead


def _drawer(
    tape: Tape, steps: list[Step], node: int, shape: tuple[int, ...], salt: int, blank: Any
) -> Any:
    """``seed -> node's values``; ``blank``: the dtype of an empty tensor ``node`` starts
    as (:meth:`Tape.blank`), else ``None``."""
    import torch

    free = _dead_after(tape, steps, node)

    def draw(seed: int) -> Any:
        values: dict[int, Any] = {}
        if blank is not None:
            values[node] = torch.empty(shape, dtype=blank)

        def get(n: int) -> Any:
            if n in values:
                return values[n]
            alias = tape.aliases.get(n)
            if alias is None or alias.base not in values:
                raise LookupError(f"node {n} was not made by the recorded calls")
            base = values[alias.base]
            values[n] = base.as_strided(alias.shape, alias.stride, alias.offset)
            return values[n]

        def arg(v: Any) -> Any:
            if isinstance(v, Ref):
                return get(v.node)
            if isinstance(v, list | tuple):
                return type(v)(arg(x) for x in v)
            return v

        rng = torch.default_generator  # torch.manual_seed also seeds accelerators: slow
        state = rng.get_state()
        try:
            rng.manual_seed((seed * 1_000_003 + salt) % 2**63)  # each weight its own
            with torch.no_grad():  # devices were recorded as the CPU
                for step, dead in zip(steps, free, strict=True):
                    out = step.func(*arg(step.args), **{k: arg(v) for k, v in step.kwargs.items()})
                    if step.out >= 0 and step.out not in values:
                        values[step.out] = out.detach() if isinstance(out, torch.Tensor) else out
                    for n in dead:  # freed as the build freed it, not held to the end
                        values.pop(n, None)
            out = get(node).reshape(shape)
        finally:
            rng.set_state(state)
            values.clear()  # its closures form a cycle: never leave a weight to the gc
        return out

    return draw
