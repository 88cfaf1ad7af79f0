"""What the plugin was told for a session, validated: one frozen :class:`SessionOptions`.

The plugin (:mod:`initcheck.plugin.options`) builds it from its options and ini keys; the
fixtures, the outputs and the CI gate (:mod:`initcheck.gate`) read it. It lives outside
the plugin package so the gate does not import plugin internals.

Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from initcheck.inputs import TABLE

if TYPE_CHECKING:
    from initcheck.settings import Settings

DEFAULT_MAX_EXAMPLES: int = TABLE["max_examples"].default


@dataclass(frozen=True)
class SessionOptions:
    """Everything the plugin was told for this session, validated.

    Attributes:
        settings: the checks' settings (statistics, ``seed``, ``timeout``, ``batches``,
            ``mnist`` as an absolute path or ``None``).
        max_examples: shapes the gate draws with Hypothesis per initializer.
        variance: ``--initcheck-variance`` (a target name, or a number), or ``None``.
        specs: the ``--initcheck SPEC`` initializers to gate.
        outputs: where each output format asked for writes (``--initcheck-json PATH``,
            ``--initcheck-report``), by format name.
        summary: the terminal summary mode (one of :data:`SUMMARY_MODES`).
        extras: every other option of :data:`initcheck.inputs.TABLE` given, by name.
    """

    settings: Settings
    max_examples: int = DEFAULT_MAX_EXAMPLES
    variance: str | float | None = None
    specs: tuple[str, ...] = ()
    outputs: Mapping[str, Path] = field(default_factory=dict)
    summary: str = "auto"
    extras: Mapping[str, Any] = field(default_factory=dict)

    def settings_dict(self) -> dict[str, Any]:
        """The settings as written to ``--initcheck-json`` and the HTML report."""
        return {**self.settings.to_dict(), "max_examples": self.max_examples}
