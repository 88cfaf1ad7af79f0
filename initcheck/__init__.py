"""initcheck: is this weight initializer sound?

Checks any initializer (a Keras name, instance or class, or a callable
``(shape, dtype=None) -> array``) for symmetry breaking, zero-centering, variance
against its fan target and the 1/n scaling law, and early training on MNIST.

Importing ``initcheck`` is cheap: numpy, scipy and a framework load on first use of a
function that needs them (the pytest plugin is loaded in every pytest run).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from initcheck._version import __version__ as __version__
from initcheck.errors import InitCheckFailure as InitCheckFailure
from initcheck.errors import InitializerError as InitializerError

if TYPE_CHECKING:  # the lazy names: for type checkers, and read by _lazy_table()
    from initcheck.api import check as check
    from initcheck.assertions import assert_breaks_symmetry as assert_breaks_symmetry
    from initcheck.assertions import assert_loss_decreases as assert_loss_decreases
    from initcheck.assertions import assert_sound as assert_sound
    from initcheck.assertions import assert_variance as assert_variance
    from initcheck.assertions import assert_variance_scaling as assert_variance_scaling
    from initcheck.assertions import assert_zero_centered as assert_zero_centered
    from initcheck.fans import Fans as Fans
    from initcheck.fans import KernelLayout as KernelLayout
    from initcheck.fans import compute_fans as compute_fans
    from initcheck.models import assert_sound_model as assert_sound_model
    from initcheck.models import audit as audit
    from initcheck.models import fix as fix
    from initcheck.results import CheckResult as CheckResult
    from initcheck.results import Report as Report
    from initcheck.settings import Settings as Settings
    from initcheck.training import compare as compare
    from initcheck.training import train as train
    from initcheck.training_runs import Comparison as Comparison
    from initcheck.training_runs import TrainingRun as TrainingRun


def _lazy_table() -> dict[str, str]:
    """``{name: module}`` read from the ``TYPE_CHECKING`` imports above, the one list of
    the lazy names (as ``lazy_loader.attach_stub`` reads a stub, SPEC 1)."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    block = next(
        n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"
    )
    return {
        alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }


_LAZY = _lazy_table()

#: Public names: the lazy table plus the eagerly imported ones.
__all__ = sorted([*_LAZY, "InitCheckFailure", "InitializerError", "__version__"])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'initcheck' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
