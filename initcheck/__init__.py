"""initcheck: is this weight initializer sound?

Checks any initializer (a Keras name, instance or class, or a callable
``(shape, dtype=None) -> array``) for symmetry breaking, zero-centering, variance
against its fan target and the 1/n scaling law, and early training on MNIST.

Importing ``initcheck`` is cheap: numpy, scipy and TensorFlow load on first use of a
function that needs them (the pytest plugin is loaded in every pytest run).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from initcheck._version import __version__
from initcheck.errors import InitCheckFailure, InitializerError

if TYPE_CHECKING:
    from initcheck.api import check
    from initcheck.assertions import (
        assert_breaks_symmetry,
        assert_loss_decreases,
        assert_sound,
        assert_variance,
        assert_variance_scaling,
        assert_zero_centered,
    )
    from initcheck.fans import Fans, KernelLayout, compute_fans
    from initcheck.results import CheckResult, Report
    from initcheck.settings import Settings
    from initcheck.training import Comparison, TrainingRun, compare, train

__all__ = [
    "CheckResult",
    "Comparison",
    "Fans",
    "InitCheckFailure",
    "InitializerError",
    "KernelLayout",
    "Report",
    "Settings",
    "TrainingRun",
    "__version__",
    "assert_breaks_symmetry",
    "assert_loss_decreases",
    "assert_sound",
    "assert_sound_model",
    "assert_variance",
    "assert_variance_scaling",
    "assert_zero_centered",
    "audit",
    "check",
    "compare",
    "compute_fans",
    "train",
]

_LAZY = {
    "check": "initcheck.api",
    "audit": "initcheck.audit",
    "assert_sound_model": "initcheck.audit",
    "assert_breaks_symmetry": "initcheck.assertions",
    "assert_loss_decreases": "initcheck.assertions",
    "assert_sound": "initcheck.assertions",
    "assert_variance": "initcheck.assertions",
    "assert_variance_scaling": "initcheck.assertions",
    "assert_zero_centered": "initcheck.assertions",
    "Fans": "initcheck.fans",
    "compute_fans": "initcheck.fans",
    "KernelLayout": "initcheck.fans",
    "CheckResult": "initcheck.results",
    "Report": "initcheck.results",
    "Settings": "initcheck.settings",
    "Comparison": "initcheck.training",
    "TrainingRun": "initcheck.training",
    "compare": "initcheck.training",
    "train": "initcheck.training",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'initcheck' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
