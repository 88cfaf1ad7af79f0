"""Every file initcheck writes, one format per module, declared once in :data:`FORMATS`.

A format is a module with ``write(path, output) -> Path | None`` plus one :class:`Format`
entry. The CLI (``initcheck check|compare|audit``) and the plugin declare their output
options from the registry with :func:`add_output_options` (one declaration, two front
ends, as pytest-benchmark's ``add_*_options(addoption, prefix)``), and every command path
writes through :func:`write_outputs`:

======== ===================================== =========================================
format   module                                options
======== ===================================== =========================================
json     :mod:`initcheck.output.jsonfile`      ``--json PATH|-``, ``--initcheck-json PATH``
report   :mod:`initcheck.output.htmlfile`      ``--report PATH``, ``--initcheck-report[=PATH]``
======== ===================================== =========================================

A per-test format adds to each test's report instead of writing a file: pytest-html's
extras (:mod:`initcheck.output.pytest_html`, ``add_extras(item, report, records)``; no
option: they show when pytest-html writes its report), through :func:`add_test_extras`.

Standard library only at import; a format's module loads when it writes.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Output:
    """What one command path has to write, as plain data and the objects the page draws.

    Attributes:
        kind: the JSON envelope's kind (``"check"``, ``"compare"``, ``"audit"``,
            ``"session"``).
        payload: the JSON payload.
        results: check results (objects or dicts) for the HTML page.
        comparisons: training comparisons for the HTML page.
        models: model reports (objects or dicts) for the HTML page.
        settings: the settings the page shows for reproduction.
        title: the page's title.
    """

    kind: str
    payload: Mapping[str, Any]
    results: Sequence[Any] | None = None
    comparisons: Sequence[Any] | None = None
    models: Sequence[Any] | None = None
    settings: Mapping[str, Any] | None = None
    title: str | None = None


@dataclass(frozen=True)
class Format:
    """One output format.

    Attributes:
        name: the option's name: ``--NAME`` in the CLI, ``--initcheck-NAME`` in pytest.
        module: the module whose ``write(path, output)`` writes it (imported on use).
        noun: what a written file is called in messages (``"report written to …"``).
        help: the option's help.
        default: where a bare plugin option (``--initcheck-report``) writes, or ``None``
            (the option needs a path).
        per_test: the module adds to each test's report (``add_extras``) instead: no
            option, no file.
    """

    name: str
    module: str
    noun: str
    help: str
    default: str | None = None
    per_test: bool = False

    def writer(self) -> Callable[[str | os.PathLike[str], Output], Path | None]:
        write: Callable[[str | os.PathLike[str], Output], Path | None]
        write = importlib.import_module(self.module).write
        return write


#: Every output format, by option name.
FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "json",
            "initcheck.output.jsonfile",
            "json",
            "write the results as JSON to PATH ('-' for stdout)",
        ),
        Format(
            "report",
            "initcheck.output.htmlfile",
            "report",
            "write a self-contained HTML report to PATH (e.g. reports/x.html)",
            default=str(Path("reports") / "initcheck.html"),
        ),
        Format(
            "pytest-html",
            "initcheck.output.pytest_html",
            "extras",
            "each test's records and figures in pytest-html's report",
            per_test=True,
        ),
    )
}


def add_output_options(addoption: Callable[..., Any], prefix: str = "", *, dest: str = "") -> None:
    """Declare one option per format with ``addoption`` (argparse's ``add_argument`` or
    pytest's ``group.addoption``): ``--{prefix}{name} PATH``, stored as
    ``{dest}{name}``; with a ``prefix`` (the plugin) a format with a ``default`` also
    takes a bare flag (``--initcheck-report``), which writes there.

    Args:
        addoption: the front end's option declaration.
        prefix: the options' prefix (``"initcheck-"`` for the plugin, ``""`` for the CLI).
        dest: the attribute prefix (``"initcheck_"`` for the plugin).
    """
    for f in FORMATS.values():
        if f.per_test:
            continue
        kwargs: dict[str, Any] = {"dest": dest + f.name, "metavar": "PATH", "default": None}
        if prefix and f.default is not None:
            kwargs |= {"nargs": "?", "const": f.default}
            kwargs["help"] = (
                f"{f.help} (default {f.default} under the rootdir; write "
                f"--{prefix}{f.name}=PATH when test paths follow)"
            )
        else:
            kwargs["help"] = f.help
        addoption(f"--{prefix}{f.name}", **kwargs)


def write_outputs(
    output: Output, paths: Mapping[str, str | os.PathLike[str] | None]
) -> list[tuple[Format, Path | None]]:
    """Write ``output`` in every format given a path (``None``: not asked for).

    Args:
        output: what to write.
        paths: a path (or ``"-"``: stdout, where a format allows it) by format name.

    Returns:
        ``(format, path written)`` pairs, in registry order (``None`` for stdout).
    """
    written = []
    for name, f in FORMATS.items():
        path = paths.get(name)
        if path is not None and not f.per_test:
            written.append((f, f.writer()(path, output)))
    return written


def add_test_extras(item: Any, report: Any, records: list[dict[str, Any]]) -> None:
    """Every per-test format's additions to one test's report (pytest-html's extras)."""
    for f in FORMATS.values():
        if f.per_test:
            importlib.import_module(f.module).add_extras(item, report, records)
