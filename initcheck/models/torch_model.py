"""The PyTorch :class:`~initcheck.models.adapter.ModelAdapter`: every parameter as
:class:`~initcheck.models.records.WeightPiece` rows (per-type builders in
:mod:`initcheck.models.torch_layers`), fresh draws under a seed, and one traced
forward/backward pass.

Draws: each parameter is drawn by replaying the torch calls the factory's build made
into it (recorded while it built, :mod:`initcheck.models.torch_record`); else by
re-running, on a copy of its own module only, the init code construction ran
(``reset_parameters()``; then a Hugging Face model's ``_init_weights``), under a seed;
where that does not reproduce the model's values, its parents' init code, then a
rebuild of the factory (an instance: its own values). See :mod:`initcheck.models.draws`.
A model on the meta device is drawn and run one module at a time
(:mod:`initcheck.models.torch_meta`).

The traced pass runs on the instance itself: dropout off (``eval()``), BatchNorm on batch
statistics (``train()``) with its running statistics restored afterwards, gradients by
``torch.autograd.grad`` (no parameter's ``.grad`` is touched).
"""

from __future__ import annotations

import collections
import contextlib
import copy
import dataclasses
import zlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from initcheck.fans import KernelLayout
from initcheck.models import torch_fix
from initcheck.models.draws import FACTORY_RESEED, Unmaterialized, Way
from initcheck.models.graph import Trace
from initcheck.models.records import WeightPiece
from initcheck.models.torch_batch import default_batches, describe, signal_mode
from initcheck.models.torch_layers import module_pieces
from initcheck.models.torch_meta import Streamed, on_meta
from initcheck.models.torch_record import recorded
from initcheck.models.torch_replay import replay_buffers, replay_ways
from initcheck.models.torch_trace import trace_pass

CLIMB = 2  # parents whose init code is tried for a weight its own module's does not draw


def _is_module(obj: Any) -> bool:
    return any(
        c.__module__.startswith("torch.nn") and c.__name__ == "Module" for c in type(obj).__mro__
    )


def _params(model: Any) -> dict[str, np.ndarray]:
    _check_materialized(model)
    return {k: _numpy(v) for k, v in model.named_parameters()}


def _check_materialized(model: Any) -> None:
    """A model with lazy layers not yet run has no shapes to audit: one line with the
    remedy (never a raw NotImplementedError). A model on the meta device is audited
    without values (:mod:`initcheck.models.torch_meta`)."""
    from torch.nn.parameter import UninitializedParameter

    from initcheck.models.adapter import NotAModelError

    lazy = [k for k, p in model.named_parameters() if isinstance(p, UninitializedParameter)]
    if lazy:
        raise NotAModelError(
            f"{type(model).__name__} has lazy layers whose shapes are not known yet "
            f"({', '.join(lazy[:4])}{' …' if len(lazy) > 4 else ''}): pass inputs= (a batch "
            "the model takes) so the lazy layers take their real shapes, or run one batch "
            "through the model in its factory."
        )


def _numpy(t: Any) -> np.ndarray:
    """A tensor's values as numpy, sharing memory where numpy has its dtype."""
    t = t.detach().cpu()
    return t.numpy() if t.dtype.is_floating_point and t.element_size() >= 4 else t.double().numpy()


def _mean_square(t: Any) -> float:
    """The mean square of a tensor's values. A float32 norm: torch's elementwise ops on
    small tensors cost milliseconds each on a loaded machine (its thread pool), the
    norm microseconds."""
    import torch

    x = t.detach()
    return float(torch.linalg.vector_norm(x.float())) ** 2 / max(x.numel(), 1)


def _hf_owner(m: Any) -> Any:
    """``m`` if it is a Hugging Face ``PreTrainedModel`` (its ``_init_weights`` initializes
    its submodules after construction), else ``None``."""
    return m if callable(getattr(m, "_init_weights", None)) and hasattr(m, "config") else None


def _shell(m: Any) -> Any:
    """A copy of module ``m`` and its submodules with cloned parameters and buffers; other
    attributes (configs, hooks) are shared, not copied."""
    import torch

    c = copy.copy(m)

    def copied(t: Any) -> Any:  # a meta tensor gets CPU memory for its init code to fill
        return torch.empty_like(t, device="cpu") if t.is_meta else t.detach().clone()

    c._parameters = {
        n: None if p is None else torch.nn.Parameter(copied(p), requires_grad=False)
        for n, p in m._parameters.items()
    }
    c._buffers = {n: None if b is None else copied(b) for n, b in m._buffers.items()}
    c._modules = {n: None if s is None else _shell(s) for n, s in m._modules.items()}
    object.__setattr__(c, "_initcheck_source", m)  # not a submodule: Module.__setattr__ skipped
    return c


def _initialize(m: Any, owner: Any) -> None:
    """Run on ``m`` (a copy) the init code construction ran, children first: each module's
    ``reset_parameters()`` (or ``_reset_parameters()``), then, under a Hugging Face model
    (``owner``, or ``m`` itself), its ``_init_weights`` as ``post_init`` runs it. A module
    the ``_init_weights`` sets in full skips its reset (whose draws it overwrites)."""
    import torch

    def reset(x: Any) -> None:
        for name in ("reset_parameters", "_reset_parameters"):
            if callable(getattr(x, name, None)):
                getattr(x, name)()
                return

    def visit(x: Any, hf: Any) -> None:
        hf = _hf_owner(x) or hf
        for child in x.children():
            visit(child, hf)
        if hf is None:
            reset(x)
            return
        source = x.__dict__.get("_initcheck_source")
        hf._init_weights(x)
        before = source._parameters if source is not None else {}
        if any(
            p is not None
            and b is not None
            and not b.is_meta
            and p.numel() > 1
            and torch.equal(b, p)
            and b.min() != b.max()
            for n, p in x._parameters.items()
            for b in [before.get(n)]
        ):
            reset(x)  # a parameter _init_weights leaves alone keeps its reset's draw
            hf._init_weights(x)

    visit(m, owner)


def _ways(model: Any) -> dict[str, list[Way]]:
    """For every parameter, the init code of its own module, then of each parent up to
    :data:`CLIMB` levels (a parent's init may set a child's weight, as GPT-2's does for
    ``c_proj``), each run on a copy of that module alone under a seed salted by its path."""
    import torch

    modules = dict(model.named_modules())
    owners: dict[str, Any] = {}
    for path, m in modules.items():
        parent = owners.get(path.rpartition(".")[0]) if path else None
        owners[path] = _hf_owner(m) or parent
    last: dict[tuple[str, int], Any] = {}

    def drawn(level: str, seed: int) -> Any:
        if (level, seed) not in last:
            last.clear()
            work = _shell(modules[level])
            rng = torch.default_generator  # torch.manual_seed also seeds accelerators: slow
            state = rng.get_state()
            try:
                rng.manual_seed((seed * 1_000_003 + zlib.crc32(level.encode())) % 2**63)
                with torch.no_grad():
                    _initialize(work, owners[level.rpartition(".")[0]] if level else None)
            finally:
                rng.set_state(state)
            last[(level, seed)] = work
        return last[(level, seed)]

    def way(level: str, name: str, depth: int) -> Way:
        def draw(seed: int) -> np.ndarray:
            return _numpy(drawn(level, seed).get_parameter(name))

        kind = type(modules[level]).__name__
        return Way(f"init code of {level} ({kind})", draw, kind=f"{depth}:{kind}")

    replays = replay_ways(model)
    out: dict[str, list[Way]] = {}
    for key, _ in model.named_parameters():
        recorded = []
        if key in replays:  # the calls construction made, replayed: its own kind each
            label, replay, recipe = replays[key]
            recorded = [
                Way(label, _replayed(replay), kind=f"replay:{key}", pool=recipe, fresh=True)
            ]
        levels: list[str] = []
        at = key.rpartition(".")[0]
        while at and len(levels) <= CLIMB:  # the whole model is the rebuild's job
            levels.append(at)
            at = at.rpartition(".")[0]
        out[key] = recorded + [way(lv, key[len(lv) + 1 :], d) for d, lv in enumerate(levels)]
    return out


def _replayed(replay: Callable[[int], Any]) -> Callable[[int], np.ndarray]:
    return lambda seed: _numpy(replay(seed))


def _blocks(model: Any) -> set[str]:
    """Paths of repeated blocks: children of a ``ModuleList``/``Sequential`` of which at
    least two are alike, with submodules of their own: the same class (a generic
    ``Sequential``/``ModuleList`` child only with the same sequence of child types)."""
    import torch.nn as nn

    generic = (nn.Sequential, nn.ModuleList, nn.ModuleDict)

    def signature(c: Any) -> tuple:
        if isinstance(c, generic):
            return (type(c), tuple(type(g).__name__ for g in c.children()))
        return (type(c),)

    out: set[str] = set()
    for path, m in model.named_modules():
        if not isinstance(m, nn.ModuleList | nn.Sequential):
            continue
        kids = [(n, c) for n, c in m.named_children() if list(c.children())]
        counts: dict[tuple, int] = {}
        for _, c in kids:
            counts[signature(c)] = counts.get(signature(c), 0) + 1
        for name, c in kids:
            if counts[signature(c)] >= 2:
                out.add(f"{path}.{name}" if path else name)
    return out


def _is_number_list(x: Any) -> bool:
    """A (nested) list of numbers: one batch written as a list, not several inputs."""
    return all(isinstance(v, int | float | list) for v in x)


def _as_tensor(model: Any, x: Any) -> Any:
    import torch

    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x))
    if x.is_floating_point():
        first = next(model.parameters(), None)
        if first is not None:
            x = x.to(first.dtype)
    return x


class TorchAdapter:
    """PyTorch models (``torch.nn.Module``)."""

    name = "torch"
    reseed = FACTORY_RESEED
    measures_learning = True  # the backward records whether each constant's units learn apart
    write_fix = staticmethod(torch_fix.write_fix)
    fixed = staticmethod(torch_fix.fixed)

    def detects(self, obj: Any) -> bool:
        return _is_module(obj)

    def build(self, factory: Callable[[], Any], seed: int) -> Any:
        import torch

        state = torch.random.get_rng_state()
        try:
            torch.manual_seed(seed)
            return recorded(factory)
        finally:
            torch.random.set_rng_state(state)

    def pieces(self, model: Any, trace: Trace | None) -> list[WeightPiece]:
        _check_materialized(model)
        out: list[WeightPiece] = []
        keys = {id(p): k for k, p in model.named_parameters()}  # tied weights: first name
        meta = Streamed(model, _ways(model), 0) if on_meta(model) else None
        for path, m in model.named_modules():
            own = {
                n
                for n, p in m.named_parameters(recurse=False)
                if keys.get(id(p)) == (f"{path}.{n}" if path else n)
            }
            if not own:
                continue
            try:
                found = module_pieces(path, m, trace)
            except (RuntimeError, NotImplementedError):
                if meta is None:
                    raise
                with meta.holding(m):  # its rule reads values a meta tensor lacks
                    found = module_pieces(path, m, trace)
            out.extend(p for p in found if p.param in own)
        return _with_init_fans(model, out)

    def own_values(self, model: Any) -> Mapping[str, np.ndarray]:
        if on_meta(model):
            return Unmaterialized([k for k, _ in model.named_parameters()])
        return _params(model)

    def ways(self, model: Any) -> dict[str, list[Way]]:
        return _ways(model)

    def trace(self, model: Any, inputs: Any, seed: int) -> Trace:
        if inputs is not None:
            return _trace(model, inputs, seed, "the given inputs")
        _check_materialized(model)  # never materialize lazy layers at a made-up width
        errors: list[Exception] = []
        for batch in default_batches(model, seed):  # the first the model takes
            try:
                return _trace(model, batch, seed, describe(batch))
            except Exception as exc:  # the next candidate; the first error explains best
                errors.append(exc)
        raise errors[0]


def _required_inputs(model: Any) -> int:
    """How many positional inputs ``model.forward`` requires (at least 1): attention's
    ``(query, key, value)`` takes the batch three times."""
    import inspect

    try:
        params = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):
        return 1
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return max(1, sum(1 for p in params if p.kind in kinds and p.default is p.empty))


def _with_init_fans(model: Any, pieces: list[WeightPiece]) -> list[WeightPiece]:
    """Each kernel piece with the fans PyTorch's init functions read from the tensor a fix
    draws into: the parameter, or its ``chunk(n)[i]`` slice for a packed one."""
    params = dict(model.named_parameters())
    count = collections.Counter(p.key for p in pieces)
    out = []
    for p in pieces:
        param = params.get(p.key)
        if p.role in ("kernel", "recurrent") and param is not None and param.dim() >= 2:
            shape = (param.shape[0] // count[p.key], *param.shape[1:])
            p = dataclasses.replace(p, init_fans=KernelLayout("torch").fans(tuple(shape)))
        out.append(p)
    return out


def _trace(model: Any, x: Any, seed: int, what: str) -> Trace:
    """One traced forward/backward pass of ``model`` on ``x``: a tensor, a tuple of
    positional inputs, or a mapping of keyword inputs. A meta-device model runs streamed,
    forward only (:mod:`initcheck.models.torch_meta`)."""
    trace = Trace(source=what)
    blocks = _blocks(model)
    if isinstance(x, Mapping):  # keyword inputs: input_ids, pixel_values, attention_mask…
        kwargs = {k: _as_tensor(model, v) for k, v in x.items()}
        first = next(iter(kwargs.values()), None)
        if first is None:
            raise ValueError("inputs= is an empty mapping: give the forward's arguments.")

        def run(batch: Any) -> Any:
            return model(**kwargs)

    elif isinstance(x, tuple | list) and x and not _is_number_list(x):  # positional inputs
        args = [_as_tensor(model, v) for v in x]
        first = args[0]

        def run(batch: Any) -> Any:
            return model(*args)

    else:
        first = _as_tensor(model, x)
        takes = _required_inputs(model)

        def run(batch: Any) -> Any:  # one tensor for each input the forward requires
            return model(*[batch] * takes)

    meta = on_meta(model)
    streamed = (
        Streamed(model, _ways(model), seed).running(replay_buffers(model))
        if meta
        else contextlib.nullcontext()
    )
    with signal_mode(model), streamed:
        trace_pass(model, first, seed, blocks, run, trace, backward=not meta)
    return trace


TORCH = TorchAdapter()
