"""The CI gate's configuration: which initializers and models to gate, read from
``pyproject.toml`` (``[tool.initcheck.initializers.NAME]`` and
``[tool.initcheck.models.NAME]`` tables) and ``--initcheck SPEC`` options, each validated
into a :class:`GateSource` or :class:`ModelSource` (an invalid table becomes a source
carrying its error, reported as a collection error of its item). Any other entry under
``[tool.initcheck]`` (a misspelled ``[tool.initcheck.initializer.NAME]``) becomes a
:class:`TableError`, one collection error naming it with a did-you-mean, so a typo cannot
silently gate nothing.

Standard library, pytest and the registry only.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - pytest depends on tomli before 3.11
    import tomli as tomllib

from initcheck import registry
from initcheck.inputs import TABLE, InputError, names_for, read, unknown_keys
from initcheck.settings import SETTING_INPUTS, Settings

if TYPE_CHECKING:
    from initcheck.context import Plan
    from initcheck.fans import Layout
    from initcheck.session import SessionOptions

#: The Settings fields a table can override.
SETTING_NAMES = frozenset(i.name for i in SETTING_INPUTS)
#: The tables initcheck reads under ``[tool.initcheck]``.
SECTIONS = ("initializers", "models")
#: Kernel ranks the gate draws: dense (2) and conv1d/2d/3d (3, 4, 5).
KERNEL_RANKS = (2, 3, 4, 5)


class GateConfigError(ValueError):
    """A ``[tool.initcheck.initializers.NAME]`` table is invalid."""


@dataclass(frozen=True)
class TableSource:
    """One table to gate (or one ``--initcheck SPEC``): its target, and its inputs as the
    table's validators returned them. ``source["layout"]`` is a declared input's value,
    or its default from :data:`initcheck.inputs.TABLE`."""

    name: str
    target: str
    origin: str
    declared: Mapping[str, Any] = field(default_factory=dict)  # validated declarations
    overrides: Mapping[str, Any] = field(default_factory=dict)  # Settings fields
    error: str | None = None

    def __getitem__(self, name: str) -> Any:
        return self.declared[name] if name in self.declared else TABLE[name].default


@dataclass(frozen=True)
class GateSource(TableSource):
    """One initializer to gate, from a pyproject table or the command line."""

    @property
    def ranks(self) -> tuple[int, ...]:
        """The kernel ranks drawn: those of ``shapes`` with ``only_shapes``, else all (of
        a per-rank layout: the ranks it names)."""
        if not self["only_shapes"]:
            if isinstance(self["layout"], Mapping):
                return tuple(r for r in KERNEL_RANKS if r in self["layout"])
            return KERNEL_RANKS
        return tuple(sorted({len(s) for s in self.shapes}))

    @property
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        """The table's kernel shapes (none: only drawn ones)."""
        return tuple(tuple(s) for s in self["shapes"] or ())

    def layout_of(self, rank: int) -> Layout:
        """The layout (``"keras"`` or ``"torch"``) of kernels of ``rank``."""
        layout = self["layout"]
        return layout[rank] if isinstance(layout, Mapping) else layout

    def plan(self, shapes: Any = None) -> Plan:
        """The declarations as :func:`initcheck.check` takes them, for ``shapes`` (a
        ``"module:attr"`` variance target is imported here)."""
        from initcheck.api import make_plan

        return make_plan(
            shapes,
            **{k: self[k] for k in ("layout", "variance", "family", "nonlinearity")},
            deterministic=self["deterministic"],
            train=self["train"],
        )

    @property
    def properties(self) -> tuple[str, ...]:
        """The same checks :func:`initcheck.check` runs for these declarations."""
        return registry.default_names(
            registry.Declared(
                variance=self["variance"] is not None,
                family=self["family"] is not None,
                nonlinearity=self["nonlinearity"] is not None,
                train=self["train"],
            )
        )


@dataclass(frozen=True)
class ModelSource(TableSource):
    """One model to gate, from a ``[tool.initcheck.models.NAME]`` table."""


def _read(table: Any, front: str, pyproject: Path) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A table's target, its declarations and its Settings overrides, each value read by
    the input table's validator for ``front`` (``initializers`` or ``models``)."""
    if not isinstance(table, Mapping):
        raise GateConfigError(f"must be a table (got {table!r})")
    error = unknown_keys(table, names_for(front))
    if error is not None:
        raise GateConfigError(str(error))
    values: dict[str, Any] = {}
    for key, value in {"target": None, **table}.items():
        if key == "variance":  # a path relative to the pyproject, not the current directory
            value = _rooted(value, pyproject)
        try:
            values[key] = read(key, value, front)
        except InputError as exc:
            raise GateConfigError(str(exc)) from None
    target = values.pop("target")
    overrides = {k: values.pop(k) for k in list(values) if k in SETTING_NAMES}
    if overrides:
        try:
            Settings().updated(**overrides)
        except (TypeError, ValueError) as exc:
            raise GateConfigError(str(exc)) from None
    return target, values, overrides


def _rooted(value: Any, pyproject: Path) -> Any:
    """A ``path/file.py:attr`` rule (alone or in a mapping) made absolute against the
    pyproject's folder, as the gate's targets are."""
    if isinstance(value, Mapping):
        return {k: _rooted(v, pyproject) for k, v in value.items()}
    if isinstance(value, str) and ":" in value:
        path, _, attr = value.rpartition(":")
        if (path.endswith(".py") or "/" in path) and not Path(path).is_absolute():
            return f"{pyproject.parent / path}:{attr}"
    return value


def _source(name: str, table: Any, origin: str, pyproject: Path) -> GateSource:
    """Validate one initializer table; an invalid table becomes a source carrying its error."""
    try:
        target, declared, overrides = _read(table, "initializers", pyproject)
        source = GateSource(name, target, origin, declared, overrides)
        odd = [list(s) for s in source.shapes if len(s) not in KERNEL_RANKS]
        if source["only_shapes"] and odd:
            raise GateConfigError(
                "only_shapes = true draws dense (2-D) and conv1d/2d/3d (3-D to 5-D) "
                f"kernels; got shapes {odd}"
            )
        if source["only_shapes"] and not source.shapes:
            raise GateConfigError(
                "only_shapes = true needs shapes = [...] naming the kernel kinds to draw, "
                f"e.g. shapes = [[3, 3, 16, 32]]; got shapes={table.get('shapes')!r}"
            )
        layout = source["layout"]
        if isinstance(layout, Mapping) and any(r not in KERNEL_RANKS for r in layout):
            raise GateConfigError(
                f"a layout table maps kernel ranks {list(KERNEL_RANKS)} to 'keras' or "
                f"'torch'; got layout={dict(layout)!r}"
            )
        return source
    except GateConfigError as exc:
        return GateSource(name=name, target="", origin=origin, error=f"{origin}: {exc}")


def _model_source(name: str, table: Any, origin: str, pyproject: Path) -> ModelSource:
    """Validate one model table; an invalid table becomes a source carrying its error."""
    try:
        target, declared, overrides = _read(table, "models", pyproject)
        return ModelSource(name, target, origin, declared, overrides)
    except GateConfigError as exc:
        return ModelSource(name=name, target="", origin=origin, error=f"{origin}: {exc}")


@dataclass(frozen=True)
class TableError:
    """An entry under ``[tool.initcheck]`` that initcheck does not read, or a section that
    is not a table of tables: collected as one error named ``name``."""

    name: str
    error: str


def _unknown_entry(key: str, value: Any, path: Path) -> TableError:
    """The error of ``[tool.initcheck.KEY]``: what it is, a did-you-mean, what is read."""
    if isinstance(value, Mapping):
        what = f"table [tool.initcheck.{key}]"
    else:
        what = f"key {key!r} in [tool.initcheck]"
    close = difflib.get_close_matches(key, SECTIONS, n=1, cutoff=0.5)
    hint = f"did you mean [tool.initcheck.{close[0]}]? " if close else ""
    note = ""
    if key in TABLE and TABLE[key].kind != "declaration":  # initcheck_* ini keys
        note = f" (a session setting goes in [tool.pytest.ini_options] as initcheck_{key})"
    return TableError(
        name=f"tool.initcheck.{key}",
        error=(
            f"initcheck: unknown {what} in {path.name}; {hint}initcheck reads only "
            f"[tool.initcheck.initializers.NAME] and [tool.initcheck.models.NAME] tables{note}."
        ),
    )


def read_pyproject(path: Path) -> list[GateSource | ModelSource | TableError]:
    """The ``[tool.initcheck.initializers.*]`` then ``[tool.initcheck.models.*]`` tables of
    ``path``, each in file order, after a :class:`TableError` for every other entry under
    ``[tool.initcheck]``.

    Args:
        path: the ``pyproject.toml`` (a missing file gates nothing).

    Returns:
        One source per table (an invalid table's source carries its error).

    Raises:
        pytest.UsageError: the file cannot be parsed.
    """
    if not path.is_file():
        return []
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise pytest.UsageError(f"initcheck: cannot parse {path}: {exc}") from None
    section = data.get("tool", {}).get("initcheck", {})
    if not isinstance(section, Mapping):
        return [
            TableError(
                "tool.initcheck",
                f"initcheck: [tool.initcheck] in {path.name} must be a table (got {section!r:.60})",
            )
        ]
    sources: list[GateSource | ModelSource | TableError] = [
        _unknown_entry(str(key), value, path)
        for key, value in section.items()
        if key not in SECTIONS
    ]
    for kind, make in (("initializers", _source), ("models", _model_source)):
        tables = section.get(kind, {})
        if not isinstance(tables, Mapping):
            sources.append(
                TableError(
                    f"tool.initcheck.{kind}",
                    f"initcheck: [tool.initcheck.{kind}] in {path.name} must be a table of "
                    f"tables ([tool.initcheck.{kind}.NAME]); got {tables!r:.60}",
                )
            )
            continue
        sources.extend(
            make(str(name), table, f"{path.name} [tool.initcheck.{kind}.{name}]", path)
            for name, table in tables.items()
        )
    return sources


def _wants_pyproject(config: pytest.Config) -> bool:
    """Gate the pyproject's initializers when pytest runs the whole project: no explicit
    paths (testpaths or the current directory), or the rootdir / pyproject.toml given."""
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        return True
    root = config.rootpath.resolve()
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
        if path == root or path == root / "pyproject.toml":
            return True
    return False


def gate_sources(
    config: pytest.Config, options: SessionOptions
) -> list[GateSource | ModelSource | TableError]:
    """Initializers to gate: pyproject tables (see :func:`_wants_pyproject`), then
    ``--initcheck SPEC`` options (with ``--initcheck-variance``).

    Args:
        config: the pytest config (rootdir and the paths pytest was given).
        options: the session's options (``specs`` and ``variance``).

    Returns:
        The sources, pyproject tables first (and entries initcheck does not read, as
        :class:`TableError`).
    """
    sources: list[GateSource | ModelSource | TableError] = []
    if _wants_pyproject(config):
        sources.extend(read_pyproject(config.rootpath / "pyproject.toml"))
    for spec in options.specs:
        declared = {} if options.variance is None else {"variance": options.variance}
        sources.append(GateSource(spec, spec, f"--initcheck {spec}", declared))
    return sources
