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

from initcheck._version import __version__ as __version__
from initcheck.errors import InitCheckFailure as InitCheckFailure
from initcheck.errors import InitializerError as InitializerError

if TYPE_CHECKING:  # the lazy names, for type checkers (``as`` marks a re-export)
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
    from initcheck.results import CheckResult as CheckResult
    from initcheck.results import Report as Report
    from initcheck.settings import Settings as Settings
    from initcheck.training import compare as compare
    from initcheck.training import train as train
    from initcheck.trainrecords import Comparison as Comparison
    from initcheck.trainrecords import TrainingRun as TrainingRun


_LAZY = {
    "check": "initcheck.api",
    "audit": "initcheck.models",
    "assert_sound_model": "initcheck.models",
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
    "Comparison": "initcheck.trainrecords",
    "TrainingRun": "initcheck.trainrecords",
    "compare": "initcheck.training",
    "train": "initcheck.training",
}

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
