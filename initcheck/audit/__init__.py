"""Audit a whole model: every weight checked where it sits (layer type, layout, fans,
packed gates and projections), and the model's own signal at init.

See :func:`initcheck.audit.core.audit` and docs/audit.md.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from initcheck.audit.core import assert_sound_model, audit
from initcheck.audit.records import ModelReport, WeightPiece, WeightRow

__all__ = ["ModelReport", "WeightPiece", "WeightRow", "assert_sound_model", "audit"]


class _CallableModule(types.ModuleType):
    """``initcheck.audit`` is both this package and the function: importing a submodule
    (``initcheck.audit.core``) rebinds the attribute ``initcheck.audit`` to the package, so
    the package itself calls :func:`audit`."""

    def __call__(self, *args: Any, **kwargs: Any) -> ModelReport:
        return audit(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
