"""PyTorch in-place initializers ``fn(tensor, ...) -> tensor`` (extra ``initcheck[torch]``).

Recognized by the object itself: a function of ``torch.nn.init`` (``kaiming_normal_``,
``xavier_uniform_``, ``trunc_normal_`` …; any function whose ``__module__`` is a ``torch.``
module), or a ``functools.partial`` of one at any depth
(``partial(kaiming_normal_, nonlinearity="relu")``). A function of your own is adapted
when declared with :func:`torch_initializer`. Each draw fills a fresh
``torch.empty(shape, dtype=...)``; the seed goes to ``generator=`` when the function
accepts it, else to ``torch.manual_seed`` inside ``torch.random.fork_rng()`` so the
caller's global torch RNG state is left as it was.

The adapter calls with the shape as given: PyTorch weights are ``(out, in, *kernel)``, so
check them with ``layout="torch"``. This module does not import torch; the adapter
imports it when it is built.

References:
    - ``torch/nn/init.py`` (PyTorch ≥ 2.1: every random initializer takes ``generator=``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from initcheck.initializers.base import (
    DeclaredInitializer,
    Initializer,
    accepts,
    call_text,
    describe,
    framework_module,
    unwrap_partial,
)


def _torch() -> Any:
    return framework_module("torch", "PyTorch", "torch")


def torch_initializer(fn: Callable[..., Any], name: str | None = None) -> DeclaredInitializer:
    """Declare ``fn`` a PyTorch in-place initializer ``fn(tensor, ...) -> tensor | None``.

    Args:
        fn: the function; it fills the tensor it is given (returning it or ``None``).
        name: a display name (default: the function's qualified name).

    Returns:
        A wrapper that :func:`~initcheck.initializers.resolve` (and so every check)
        adapts as a PyTorch initializer; calling it calls ``fn``.

    Example:
        >>> def mine(tensor):
        ...     return tensor.normal_(0.0, 0.1)
        >>> initcheck.check(torch_initializer(mine), variance=0.01, layout="torch")
    """
    return DeclaredInitializer(fn=fn, framework="torch", name=name)


def is_torch_initializer(init: Any) -> bool:
    """Whether ``init`` is a PyTorch initializer function, judged by the object itself.

    Args:
        init: any object.

    Returns:
        ``True`` for a function whose ``__module__`` is ``torch`` or a ``torch.`` module
        (e.g. ``torch.nn.init.kaiming_normal_``), or a ``functools.partial`` of one that
        leaves the tensor (the first positional argument) unbound.
    """
    if isinstance(init, type) or not callable(init):
        return False
    base, args, _ = unwrap_partial(init)
    if args or not inspect.isroutine(base):  # the tensor cannot be pre-bound
        return False
    module = getattr(base, "__module__", None) or ""
    return module == "torch" or module.startswith("torch.")


def _torch_name(init: Any) -> str:
    base, args, kwargs = unwrap_partial(init)
    if getattr(base, "__module__", None) == "torch.nn.init":
        label = f"torch.nn.init.{base.__name__}"
    else:
        label = describe(base)
    return call_text(label, args, kwargs)


def _torch_dtype(torch: Any, dtype: str) -> Any:
    value = getattr(torch, str(dtype), None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"{dtype!r} is not a PyTorch dtype (e.g. 'float32', 'bfloat16').")
    return value


def _torch_to_numpy(tensor: Any) -> Any:
    """A torch tensor as numpy, keeping bfloat16 (which ``Tensor.numpy()`` rejects)."""
    torch = _torch()
    if not isinstance(tensor, torch.Tensor):
        return tensor  # let the sampler's validation name what came back
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:
        import ml_dtypes

        return tensor.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return tensor.numpy()


def from_torch(init: Callable[..., Any], name: str | None = None) -> Initializer:
    """An :class:`~initcheck.initializers.base.Initializer` for a PyTorch initializer.

    Args:
        init: ``fn(tensor, ...)``, or a ``functools.partial`` of one.
        name: a display name (default: e.g. ``torch.nn.init.kaiming_normal_(mode='fan_out')``).

    Returns:
        The adapted initializer (``kind="torch"``).
    """
    torch = _torch()
    takes_generator = accepts(init, "generator")

    def call(shape: tuple[int, ...], seed: int, dtype: str) -> Any:
        tensor = torch.empty(shape, dtype=_torch_dtype(torch, dtype))
        with torch.no_grad():
            if takes_generator:
                out = init(tensor, generator=torch.Generator().manual_seed(seed))
            else:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    out = init(tensor)
        return _torch_to_numpy(tensor if out is None else out)

    return Initializer(name=name or _torch_name(init), kind="torch", seedable=True, call=call)
