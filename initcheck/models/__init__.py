"""Model audits (:func:`initcheck.audit`): every weight checked where it sits (layer type,
layout, fans, packed gates and projections), and the model's own signal at init.

See :func:`initcheck.models.core.audit` and docs/audit.md.
"""

from __future__ import annotations

from initcheck.models.core import assert_sound_model, audit, fix
from initcheck.models.records import ModelReport, WeightPiece, WeightRow

__all__ = ["ModelReport", "WeightPiece", "WeightRow", "assert_sound_model", "audit", "fix"]
