"""The JSON format (``--json``, ``--initcheck-json``): every JSON document is one
versioned envelope around its payload (docs/report.md, "JSON output")::

    {"initcheck": "0.1.0", "schema": 1, "kind": "check", "payload": {...}}

``kind`` says what the payload is: ``"check"`` (``Report.to_dict()``), ``"compare"``
(:func:`initcheck.training_runs.comparison_json`), ``"audit"`` (``ModelReport.to_dict()``,
whatever it holds) or ``"session"`` (the plugin's records, settings and summary).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from initcheck._version import __version__
from initcheck.files import write_text_atomic

if TYPE_CHECKING:
    from initcheck.output import Output

#: The envelope's schema version, one for every kind. The plugin's ``--initcheck-json``
#: was the only versioned output before the envelope (``"initcheck": 1``): its version,
#: 1, is the schema's, and its payload is unchanged.
SCHEMA = 1
#: What an envelope's payload can be.
KINDS = ("check", "compare", "audit", "session")


def envelope(kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """``payload`` in the versioned envelope.

    Args:
        kind: one of :data:`KINDS`.
        payload: JSON-safe data (e.g. ``Report.to_dict()``), kept as it is.

    Returns:
        ``{"initcheck": VERSION, "schema": SCHEMA, "kind": kind, "payload": payload}``.

    Raises:
        ValueError: an unknown ``kind``.
    """
    if kind not in KINDS:
        raise ValueError(
            f"kind must be one of {', '.join(map(repr, KINDS))}. Received: kind={kind!r}"
        )

    return {"initcheck": __version__, "schema": SCHEMA, "kind": kind, "payload": dict(payload)}


def without_samples(data: Any) -> Any:
    """``data`` with every result's figure subsample (``details["sample"]``, 2,000 values
    of a centering result) left out: the JSON stays small; the HTML report draws them."""
    if isinstance(data, Mapping):
        out = {k: without_samples(v) for k, v in data.items()}
        details = out.get("details")
        if isinstance(details, dict) and "sample" in details:
            out["details"] = {k: v for k, v in details.items() if k != "sample"}
        return out
    if isinstance(data, list | tuple):
        return [without_samples(v) for v in data]
    return data


def json_text(kind: str, payload: Mapping[str, Any], *, samples: bool = False) -> str:
    """The envelope as JSON text (non-finite floats are an error: payloads are
    :func:`~initcheck.results.jsonable`); ``samples`` keeps the figures' raw subsamples
    (:func:`without_samples`)."""
    data = envelope(kind, payload if samples else without_samples(payload))
    return json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def write_json(
    path: str | os.PathLike[str], kind: str, payload: Mapping[str, Any], *, samples: bool = False
) -> Path | None:
    """Write ``payload`` in its envelope to ``path`` (atomically), or to stdout for ``-``.

    Args:
        path: the file, or ``"-"``.
        kind: one of :data:`KINDS`.
        payload: JSON-safe data.
        samples: keep the figures' raw subsamples (left out by default: a session's JSON
            stays small).

    Returns:
        The path written, or ``None`` for stdout.
    """
    text = json_text(kind, payload, samples=samples)
    if str(path) == "-":
        sys.stdout.write(text)
        return None

    return write_text_atomic(path, text)


def write(path: str | os.PathLike[str], output: Output) -> Path | None:
    """The format's writer (:data:`initcheck.output.FORMATS`): ``output``'s payload."""
    return write_json(path, output.kind, output.payload)
