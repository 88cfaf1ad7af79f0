"""The init calls a PyTorch model's construction made, recorded once and replayed per
weight under any seed.

While a factory builds its model, a ``TorchFunctionMode`` records every torch call
(outermost only: ``kaiming_normal_`` is one call, not the ``normal_`` inside it), with
each tensor argument replaced by a reference. A parameter's **slice** is the calls that
wrote into its storage, and, recursively, those that made what they read: the
``torch.empty`` it started as, ``reset_parameters``'s ``kaiming_uniform_``, an init loop's
``kaiming_normal_(mode="fan_out")`` over every ``Conv2d``, a Hugging Face
``_init_weights``'s ``normal_`` and the ``zero_`` of its padding row, timm's
``trunc_normal_`` written as ``uniform_``, ``erfinv_``, ``mul_``, ``add_``, ``clamp_``.
Replaying the slice on the CPU under a seed draws that parameter alone, as construction
drew it, without rebuilding the model: the cost of one draw is the parameter's own
values. A model built on the meta device (no values at all) is drawn the same way.

A slice is not offered (the parameter falls back to its module's init code, or a
rebuild) when replaying it could differ from a rebuild in more than the seed: it reads a
numpy array or a tensor made outside the build, uses its own ``torch.Generator``, or the
build reset torch's seed (``torch.manual_seed`` inside a factory: every build draws the
same weights, which the seeds check must see).
"""

from __future__ import annotations

import contextlib
import heapq
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

#: A built model's recording (the factory's first build), by the model.
_TAPES: weakref.WeakKeyDictionary[Any, Tape] = weakref.WeakKeyDictionary()
_SEEDERS = ("manual_seed", "set_rng_state", "seed")
#: in-place calls that set every value whatever it held (also any ``*normal_``,
#: ``*uniform_``: ``kaiming_normal_``, ``trunc_normal_``, ``xavier_uniform_``)
_FILLS = {
    "fill_", "zero_", "zeros_", "ones_", "constant_", "eye_", "dirac_", "orthogonal_",
    "sparse_", "random_", "bernoulli_", "exponential_", "cauchy_", "geometric_",
}  # fmt: skip
#: calls a label leaves out: they move or view values, they do not draw them
PLUMBING = {"__get__", "empty", "to", "__getitem__", "as_strided", "view", "detach"}


@dataclass(frozen=True)
class Ref:
    """A tensor argument of a recorded call: node ``node`` of the tape."""

    node: int


@dataclass(frozen=True)
class Alias:
    """A tensor first seen as an argument whose storage an earlier node holds (a
    ``Parameter`` wrapping ``torch.empty``'s result): that node's storage, viewed."""

    base: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    offset: int


@dataclass(frozen=True)
class Step:
    """One recorded call: ``func(*args, **kwargs)`` with tensors as :class:`Ref` s.

    Attributes:
        writes: the storage the call wrote into (an in-place call's first tensor), or -1.
        out: the node of the tensor it returned (-1: none, or not a tensor).
        reads: the nodes among its arguments.
        replayable: whether it can be replayed as recorded (no numpy data, no generator).
    """

    func: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    writes: int
    out: int
    reads: tuple[int, ...]
    replayable: bool


@dataclass
class Tape:
    """A build's recorded calls; ``storage`` maps each node to its storage's number."""

    steps: list[Step] = field(default_factory=list)
    storage: list[int] = field(default_factory=list)
    aliases: dict[int, Alias] = field(default_factory=dict)
    reseeded: bool = False
    params: dict[str, tuple[int, tuple[int, ...]]] = field(default_factory=dict)
    buffers: dict[str, tuple[int, tuple[int, ...]]] = field(default_factory=dict)
    #: while recording: id(tensor) -> (its holder, node); storage key -> (holder, number)
    node_of: dict[int, tuple[Callable[[], Any], int]] = field(default_factory=dict)
    storage_of: dict[int, tuple[Callable[[], Any], int]] = field(default_factory=dict)
    first_node: dict[int, int] = field(default_factory=dict)  # storage number -> node
    numel: list[int] = field(default_factory=list)  # node -> its number of values
    storage_numel: dict[int, int] = field(default_factory=dict)  # the most any view has
    touching: dict[int, list[int]] = field(default_factory=dict)  # storage -> its steps
    dtypes: dict[int, Any] = field(default_factory=dict)  # a parameter's node -> dtype

    def bind(self, model: Any, node: Callable[[Any], int]) -> None:
        """Name the node of each of ``model``'s parameters (before :meth:`finish`)."""
        from torch.nn.parameter import is_lazy

        for key, p in model.named_parameters():
            if not is_lazy(p):  # a lazy layer is drawn at its first call, not here
                self.params[key] = (node(p), tuple(p.shape))
                self.dtypes[node(p)] = p.dtype
        for key, b in model.named_buffers():
            if not is_lazy(b):  # a meta model's forward needs them (rotary frequencies)
                self.buffers[key] = (node(b), tuple(b.shape))

    def _fills(self, step: Step) -> bool:
        """Whether ``step`` sets every value of its target's storage regardless of what
        it held (a random or constant fill of the whole tensor)."""
        name = getattr(step.func, "__name__", "")
        target = step.reads[0]
        whole = self.numel[target] == self.storage_numel.get(step.writes, -1)
        return whole and (name in _FILLS or name.endswith(("normal_", "uniform_")))

    def finish(self) -> None:
        for i, step in enumerate(self.steps):  # the steps that write or make each storage
            made = self.storage[step.out] if step.out >= 0 else -1
            for s in {step.writes, made} - {-1}:
                self.touching.setdefault(s, []).append(i)
        self.node_of.clear()
        self.storage_of.clear()

    def slice_of(self, node: int) -> list[Step] | None:
        """The steps that made ``node``'s storage, in order, or ``None`` if one of them
        cannot be replayed (or none wrote it). Walks back from the last step, visiting
        only the steps that write or make a storage needed so far: a model's thousands
        of parameters each cost their own slice, not the tape."""
        touching, mine = self.touching, self.storage[node]
        needed, overwritten = {mine}, set[int]()  # overwritten: a later picked step fills it
        picked: list[Step] = []
        todo = [-i for i in touching.get(mine, ())]  # a max-heap of step indices
        heapq.heapify(todo)
        seen: set[int] = set()
        while todo:
            i = -heapq.heappop(todo)
            if i in seen:
                continue
            seen.add(i)
            step = self.steps[i]
            if step.writes in overwritten:  # a dead write: a later fill discards it
                continue
            if not step.replayable:
                return None
            picked.append(step)
            read = {self.storage[r] for r in step.reads[1 if step.writes >= 0 else 0 :]}
            for s in {self.storage[r] for r in step.reads} - needed:
                needed.add(s)
                for j in touching.get(s, ()):  # only earlier steps are still to visit
                    if j < i:
                        heapq.heappush(todo, -j)
            overwritten -= read
            if step.writes >= 0 and self._fills(step):
                overwritten.add(step.writes)
        wrote = (s.writes == mine or (s.out >= 0 and self.storage[s.out] == mine) for s in picked)
        if not any(wrote):
            return None
        return picked[::-1]

    def blank(self, steps: list[Step], node: int) -> bool:
        """Whether ``node`` (a parameter) starts as values no recorded call made, which
        the first of ``steps`` to touch them fills whole: ``nn.Parameter(torch.Tensor(2,
        32))`` then ``xavier_uniform_``. Its replay starts from ``torch.empty``."""
        mine = self.storage[node]
        if self.first_node.get(mine) != node or node not in self.dtypes:
            return False
        for step in steps:
            if any(self.storage[r] == mine for r in step.reads):
                return step.writes == mine and self._fills(step)
            if step.out >= 0 and self.storage[step.out] == mine:  # a call made them
                return False
        return False


def _storage_of(t: Any) -> tuple[int, Any]:
    """The key of ``t``'s storage and the Python object that lives as long as it does
    (torch keeps one per storage), or ``t``'s own id and ``t`` (no storage)."""
    try:
        storage = t.untyped_storage()
        return int(storage._cdata), storage
    except Exception:  # a tensor without storage (a functional wrapper): its own
        return id(t), t


def _holder(obj: Any, weak: bool) -> Callable[[], Any]:
    """A call that returns ``obj`` while it lives, then ``None``: a weak reference, so a
    build's temporaries are freed as they would be unrecorded (where torch keeps no
    object per storage, or ``obj`` takes none: a strong one)."""
    if weak:
        with contextlib.suppress(TypeError):
            return weakref.ref(obj)
    return lambda: obj


def _inplace(func: Any) -> bool:
    name = getattr(func, "__name__", "")
    dunder = name.startswith("__") and name.endswith("__")
    writers = ("__setitem__", "__set__")  # w[i] = v; w.data = t
    return (name.endswith("_") and not dunder) or name in writers or name.startswith("__i")


def _is_device(v: Any) -> bool:
    import torch

    return isinstance(v, torch.device) or (isinstance(v, str) and v in ("meta", "cpu", "cuda"))


class _Recorder:
    """The ``TorchFunctionMode`` that fills a :class:`Tape` (built lazily: torch is
    imported on first use)."""

    def __new__(cls, tape: Tape) -> Any:
        import numpy as np
        import torch
        from torch.nn.parameter import is_lazy
        from torch.overrides import TorchFunctionMode

        probe = torch.empty(0)  # torch >= 2.1 keeps one Python object per storage
        weak = probe.untyped_storage() is probe.untyped_storage()

        def known(t: Any) -> int | None:
            """``t``'s node, if ``t`` was seen (an id is reused once its tensor dies)."""
            hit = tape.node_of.get(id(t))
            return hit[1] if hit is not None and hit[0]() is t else None

        def node(t: Any, new: bool = False) -> int:
            seen = None if new else known(t)
            if seen is not None:
                return seen
            key, storage = _storage_of(t)
            hit = tape.storage_of.get(key)  # a freed storage's address is reused too
            if hit is not None and hit[0]() is storage:
                number = hit[1]
            else:
                number = len(tape.storage_numel)  # one entry per storage number
                tape.storage_of[key] = (_holder(storage, weak), number)
            n = len(tape.storage)
            tape.storage.append(number)
            lazy = is_lazy(t)  # an uninitialized parameter: no shape yet
            size = -1 if lazy else t.numel()
            tape.numel.append(size)
            tape.storage_numel[number] = max(tape.storage_numel.get(number, 0), size)
            tape.node_of[id(t)] = (_holder(t, weak), n)
            if number in tape.first_node and not new and not lazy:
                tape.aliases[n] = Alias(
                    tape.first_node[number], tuple(t.shape), tuple(t.stride()), t.storage_offset()
                )
            tape.first_node.setdefault(number, n)
            return n

        quiet = [0]  # inside a recorded nn.init call: its own ops are not recorded

        def record(func: Any, args: Any, kwargs: dict[str, Any], out: Any) -> None:
            ok = True
            reads: list[int] = []

            def ref(v: Any) -> Any:
                nonlocal ok
                if isinstance(v, torch.Tensor):
                    n = node(v)
                    reads.append(n)
                    return Ref(n)
                if isinstance(v, torch.Generator | np.ndarray):
                    ok = False
                if isinstance(v, list | tuple):
                    return type(v)(ref(x) for x in v)
                if _is_device(v):
                    return torch.device("cpu")
                return v

            a = tuple(ref(v) for v in args)
            k = {name: ref(v) for name, v in kwargs.items()}
            target = next(iter(reads), -1) if _inplace(func) else -1
            if isinstance(kwargs.get("out"), torch.Tensor):
                target = node(kwargs["out"])
            made = -1
            if isinstance(out, torch.Tensor) and not out.is_sparse:
                made = node(out, new=known(out) is None)
            writes = tape.storage[target] if target >= 0 else -1
            tape.steps.append(Step(func, a, k, writes, made, tuple(reads), ok))

        def init_call(func: Any) -> Any:
            """``torch.nn.init``'s ``func``, recorded as one call even where it does
            nothing on the meta device (``trunc_normal_`` returns early there)."""

            def call(*args: Any, **kwargs: Any) -> Any:
                if quiet[0]:
                    return func(*args, **kwargs)
                quiet[0] += 1
                try:
                    out = func(*args, **kwargs)
                finally:
                    quiet[0] -= 1
                record(func, args, kwargs, out)
                return out

            return call

        class Mode(TorchFunctionMode):
            def __torch_function__(
                self, func: Any, types: Any, args: Any = (), kwargs: Any = None
            ) -> Any:
                kwargs = kwargs or {}
                out = func(*args, **kwargs)
                if not quiet[0]:
                    record(func, args, kwargs, out)
                return out

        mode = Mode()
        mode.node = node
        mode.init_call = init_call
        return mode


def recorded(factory: Callable[[], Any]) -> Any:
    """``factory()``, with its construction's calls kept as the built model's tape (see
    :func:`~initcheck.models.torch_replay.replay_ways`)."""
    with _recording() as (tape, node):
        model = factory()
        if _on_meta(model) and callable(getattr(model, "init_weights", None)):
            model.init_weights()  # what materializing it runs (Hugging Face, torchtitan)
        if callable(getattr(model, "named_parameters", None)):
            tape.bind(model, node)
            with contextlib.suppress(TypeError):
                _TAPES[model] = tape
    return model


def _on_meta(model: Any) -> bool:
    """Whether ``model`` is a torch module whose parameters are on the meta device."""
    params = getattr(model, "parameters", None)
    first = next(iter(params()), None) if callable(params) else None
    return bool(getattr(first, "is_meta", False))


@contextlib.contextmanager
def _recording() -> Iterator[tuple[Tape, Callable[[Any], int]]]:
    """Record the torch calls made inside the block; torch's seed being reset inside it
    marks the tape :attr:`~Tape.reseeded`."""
    import torch

    tape = Tape()
    patched = []
    for owner in (torch, torch.random):
        for name in _SEEDERS:
            original = getattr(owner, name, None)
            if original is None:
                continue

            def wrapper(*a: Any, _f: Any = original, **k: Any) -> Any:
                tape.reseeded = True
                return _f(*a, **k)

            setattr(owner, name, wrapper)
            patched.append((owner, name, original))
    mode = _Recorder(tape)
    init = torch.nn.init
    for name in dir(init):  # kaiming_normal_, trunc_normal_, …: each one recorded call
        original = getattr(init, name)
        if name.endswith("_") and not name.startswith("_") and callable(original):
            setattr(init, name, mode.init_call(original))
            patched.append((init, name, original))
    try:
        with mode:
            yield tape, mode.node
    finally:
        for owner, name, original in patched:
            setattr(owner, name, original)
        tape.finish()


def tape_of(model: Any) -> Tape | None:
    """The recording of ``model``'s build (by :func:`recorded`), if it has one."""
    return _TAPES.get(model)
