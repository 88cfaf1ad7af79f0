"""PyTorch models built on the meta device: audited without ever holding the model.

A model built under ``with torch.device("meta")`` (or accelerate's
``init_empty_weights``) has shapes but no values; an 8B-parameter model costs nothing
to build that way. Its audit never materializes it:

- each weight is drawn alone, on the CPU, by the first of its ways that runs (the init
  calls its factory's build recorded, replayed, :mod:`initcheck.models.torch_record`;
  else its module's init code on a CPU copy of that module alone), then freed; with no
  values of the model's own to compare, the first way that runs is the model's init
  (:class:`~initcheck.models.draws.Unmaterialized`);
- the signal is a **streamed forward pass**: every module's own parameters are drawn
  just before it runs and freed once the next module starts, so the pass holds one
  module's weights at a time (plus the buffers, drawn once). The backward pass is not
  run: autograd would keep every weight it used until the end, the whole model. The
  signal's verdict is then the forward's alone, and says so.

Peak memory: the largest weight (drawn once for its row, once for the pass), the checked
samples, and the activations of one batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from initcheck._threads import CallTimeout, abandoned
from initcheck.models.draws import Way


def on_meta(model: Any) -> bool:
    """Whether any of ``model``'s parameters is on the meta device."""
    return any(p.is_meta for p in model.parameters())


def first_draw(ways: Sequence[Way], seed: int) -> np.ndarray:
    """The draw of the first way that runs (a meta model has no values to compare)."""
    errors = []
    for way in ways:
        try:
            return way.draw(seed)
        except Exception as exc:  # the next way
            errors.append(f"{way.label}: {type(exc).__name__}: {exc}")
    raise ValueError("no way to draw it ran: " + ("; ".join(errors) or "it has none"))


class Streamed:
    """Draws a meta model's parameters one module at a time under ``seed``, for one
    forward pass (:meth:`running`) or one layer's rule (:meth:`holding`)."""

    def __init__(self, model: Any, ways: Mapping[str, Sequence[Way]], seed: int) -> None:
        self.model = model
        self.ways = ways
        self.seed = seed
        self._keys = {id(p): k for k, p in model.named_parameters()}
        self._pending: list[Any] = []

    def _drawn(self, p: Any) -> Any:
        import torch

        key = self._keys[id(p)]
        values = np.ascontiguousarray(first_draw(self.ways[key], self.seed))
        return torch.from_numpy(values).reshape(p.shape).to(p.dtype)

    def _free(self) -> None:
        for module in self._pending:
            for p in module._parameters.values():
                if p is not None and p.data_ptr() != 0 and p.stride() != _zero(p).stride():
                    p.data = _zero(p)
        self._pending.clear()

    @contextlib.contextmanager
    def holding(self, module: Any) -> Iterator[None]:
        """``module``'s own parameters drawn for the block (a layer's rule reading its
        values: whether a norm's gain is all zeros), the meta ones put back after."""
        import torch

        before = dict(module._parameters)
        with torch._C.DisableTorchFunction():
            for name, p in before.items():
                if p is not None and p.is_meta:
                    module._parameters[name] = torch.nn.Parameter(self._drawn(p), False)
        try:
            yield
        finally:
            module._parameters.update(before)

    @contextlib.contextmanager
    def running(self, buffers: Mapping[str, Any]) -> Iterator[None]:
        """The model with its meta parameters swapped for CPU placeholders that hold no
        memory (a zero broadcast to the shape), and hooks that draw each module's
        parameters into them before it runs and free them when the next module starts
        (the trace's own hooks measure a module's output first); ``buffers``: ``{key:
        draw(seed)}`` for the meta buffers, drawn once up front. Everything is put back
        after."""
        import torch

        swapped: dict[int, Any] = {}
        saved: list[tuple[Any, str, str, Any]] = []
        for _, m in self.model.named_modules():
            for name, p in m._parameters.items():
                if p is not None and p.is_meta:
                    if id(p) not in swapped:
                        swapped[id(p)] = torch.nn.Parameter(_zero(p), p.requires_grad)
                        self._keys[id(swapped[id(p)])] = self._keys[id(p)]
                    saved.append((m, "_parameters", name, p))
                    m._parameters[name] = swapped[id(p)]
        for path, m in self.model.named_modules():
            for name, b in m._buffers.items():
                if b is not None and b.is_meta:
                    key = f"{path}.{name}" if path else name
                    if key not in buffers:
                        raise ValueError(
                            f"buffer {key} is on the meta device and its construction was "
                            "not recorded: pass a factory that builds the meta model"
                        )
                    saved.append((m, "_buffers", name, b))
                    m._buffers[name] = buffers[key](self.seed).reshape(b.shape).to(b.dtype)

        def pre(module: Any, _args: Any) -> None:
            if abandoned():  # the audit's timeout passed: stop drawing, put back
                raise CallTimeout("the streamed pass was given up (timeout)")
            with torch._C.DisableTorchFunction():  # not the model's ops
                self._free()
                for p in module._parameters.values():
                    if p is not None and id(p) in self._keys and p.stride() == _zero(p).stride():
                        p.data = self._drawn(p)

        def post(module: Any, _args: Any, _out: Any) -> None:
            self._pending.append(module)

        handles = []
        for _, m in self.model.named_modules():
            if any(p is not None for p in m._parameters.values()):
                handles.append(m.register_forward_pre_hook(pre))
                handles.append(m.register_forward_hook(post))
        try:
            with torch.no_grad():
                yield
        finally:
            for h in handles:
                h.remove()
            self._pending.clear()
            for m, where, name, t in saved:
                getattr(m, where)[name] = t


def _zero(t: Any) -> Any:
    """A CPU tensor of ``t``'s shape and dtype holding one value (every stride 0)."""
    import torch

    return torch.zeros((), dtype=t.dtype).expand(t.shape)
