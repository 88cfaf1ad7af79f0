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
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - pytest depends on tomli before 3.11
    import tomli as tomllib

from initcheck import registry
from initcheck.inputs import TABLE, InputError, names_for, unknown_keys, validate

if TYPE_CHECKING:
    from initcheck.session import SessionOptions

__all__ = [
    "KERNEL_RANKS",
    "MODEL_KEYS",
    "TABLE_KEYS",
    "GateConfigError",
    "GateSource",
    "ModelSource",
    "TableError",
    "gate_sources",
    "read_pyproject",
]

#: Keys of a ``[tool.initcheck.initializers.NAME]`` table besides the Settings overrides
#: (the table's declarations the gate takes, at import; the gate reads the table per call).
TABLE_KEYS = names_for("initializers", "declaration")
#: Keys of a ``[tool.initcheck.models.NAME]`` table besides the Settings overrides.
MODEL_KEYS = names_for("models", "declaration")
#: The tables initcheck reads under ``[tool.initcheck]``.
SECTIONS = ("initializers", "models")
#: Kernel ranks the gate draws: dense (2) and conv1d/2d/3d (3, 4, 5).
KERNEL_RANKS = (2, 3, 4, 5)


class GateConfigError(ValueError):
    """A ``[tool.initcheck.initializers.NAME]`` table is invalid."""


@dataclass(frozen=True)
class GateSource:
    """One initializer to gate, from a pyproject table or the command line."""

    name: str
    target: str
    origin: str
    variance: Any = None
    layout: str | Mapping[int, str] = "keras"  # a mapping: one layout per kernel rank
    train: bool = False
    shapes: tuple[tuple[int, ...], ...] = ()
    family: str | None = None
    nonlinearity: str | None = None
    deterministic: bool = False
    only_shapes: bool = False
    framework: str | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    extras: Mapping[str, Any] = field(default_factory=dict)  # other inputs of the table
    error: str | None = None

    @property
    def ranks(self) -> tuple[int, ...]:
        """The kernel ranks drawn: those of ``shapes`` with ``only_shapes``, else all (of
        a per-rank layout: the ranks it names)."""
        if not self.only_shapes:
            if isinstance(self.layout, Mapping):
                return tuple(r for r in KERNEL_RANKS if r in self.layout)
            return KERNEL_RANKS
        return tuple(sorted({len(s) for s in self.shapes}))

    def layout_of(self, rank: int) -> str:
        """The layout (``"keras"`` or ``"torch"``) of kernels of ``rank``."""
        if isinstance(self.layout, Mapping):
            return self.layout[rank]
        return self.layout

    @property
    def properties(self) -> tuple[str, ...]:
        """The same checks :func:`initcheck.check` runs for these declarations."""
        return registry.default_names(
            registry.Declared(
                variance=self.variance is not None,
                family=self.family is not None,
                nonlinearity=self.nonlinearity is not None,
                train=self.train,
            )
        )


def _settings_fields() -> set[str]:
    from initcheck.settings import Settings

    return {f.name for f in fields(Settings)}


def _table_target(table: Any, front: str) -> str:
    """Check a table's keys (the inputs of ``front``: ``initializers`` or ``models``) and
    validate each value; return its ``target``."""
    if not isinstance(table, Mapping):
        raise GateConfigError(f"must be a table (got {table!r})")
    error = unknown_keys(table, names_for(front))
    if error is not None:
        raise GateConfigError(str(error))
    for key, value in table.items():
        if key not in ("variance", "layout", "shapes"):  # validated below, with context
            try:
                validate(key, value)
            except InputError as exc:
                raise GateConfigError(str(exc)) from None
    return validate("target", table.get("target"))


def _layout(layout: Any) -> str | dict[int, str]:
    """``"keras"``, ``"torch"``, or a table from kernel rank to either (``layout = { 2 =
    "keras", 4 = "torch" }``: Lasagne, Paddle)."""
    if isinstance(layout, Mapping) and layout:
        by_rank: dict[int, str] = {}
        for rank, each in layout.items():
            if not str(rank).isdigit() or int(rank) not in KERNEL_RANKS:
                raise GateConfigError(
                    f"a layout table maps kernel ranks {list(KERNEL_RANKS)} to 'keras' or "
                    f"'torch'; got layout={dict(layout)!r}"
                )
            by_rank[int(rank)] = _layout(each)  # type: ignore[assignment]
        return by_rank
    if not isinstance(layout, str):
        raise GateConfigError(
            "`layout` must be 'keras', 'torch' or a table from kernel rank to either "
            f'({{ 2 = "keras", 4 = "torch" }}). Received: layout={layout!r}'
        )
    try:
        return validate("layout", layout)
    except InputError as exc:
        raise GateConfigError(str(exc)) from None


def _source(name: str, table: Any, origin: str) -> GateSource:
    """Validate one table; an invalid table becomes a source carrying its error."""
    try:
        target = _table_target(table, "initializers")
        layout = _layout(table.get("layout", "keras"))
        train = table.get("train", False)
        deterministic = table.get("deterministic", False)
        only_shapes = table.get("only_shapes", False)
        family = table.get("family")
        nonlinearity = table.get("nonlinearity")
        framework = table.get("framework")
        variance = table.get("variance")
        if variance is not None:
            from initcheck.targets import resolve_target

            try:
                resolve_target(variance)
            except (TypeError, ValueError) as exc:
                raise GateConfigError(str(exc)) from None
        shapes: tuple[tuple[int, ...], ...] = ()
        if "shapes" in table:
            from initcheck.api import normalize_shapes

            try:
                shapes = normalize_shapes(table["shapes"], layout)
            except ValueError as exc:
                raise GateConfigError(str(exc)) from None
            odd = [list(s) for s in shapes if len(s) not in KERNEL_RANKS]
            if only_shapes and odd:
                raise GateConfigError(
                    "only_shapes = true draws dense (2-D) and conv1d/2d/3d (3-D to 5-D) "
                    f"kernels; got shapes {odd}"
                )
        if only_shapes and not shapes:
            raise GateConfigError(
                "only_shapes = true needs shapes = [...] naming the kernel kinds to draw, "
                f"e.g. shapes = [[3, 3, 16, 32]]; got shapes={table.get('shapes')!r}"
            )
        overrides, extras = _overrides(table, TABLE_KEYS)
        return GateSource(
            name=name,
            target=target.strip(),
            origin=origin,
            variance=variance,
            layout=layout,
            train=train,
            shapes=shapes,
            family=family,
            nonlinearity=nonlinearity,
            deterministic=deterministic,
            only_shapes=only_shapes,
            framework=framework,
            overrides=overrides,
            extras=extras,
        )
    except GateConfigError as exc:
        return GateSource(name=name, target="", origin=origin, error=f"{origin}: {exc}")


def _overrides(
    table: Mapping[str, Any], keys: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The table's Settings overrides (validated together), and any other input of the
    table that is not one of ``keys``."""
    from initcheck.settings import Settings

    names = {f.name for f in fields(Settings)}
    overrides = {k: table[k] for k in table if k not in keys and k in names}
    if overrides:
        try:
            Settings().updated(**overrides)
        except (TypeError, ValueError) as exc:
            raise GateConfigError(str(exc)) from None
    others = {k: table[k] for k in table if k not in keys and k not in names and k in TABLE}
    return overrides, others


@dataclass(frozen=True)
class ModelSource:
    """One model to gate, from a ``[tool.initcheck.models.NAME]`` table."""

    name: str
    target: str
    origin: str
    variance: Any = None
    signal: bool = True
    inputs: str | None = None
    accept: tuple[str, ...] = ()
    overrides: Mapping[str, Any] = field(default_factory=dict)
    extras: Mapping[str, Any] = field(default_factory=dict)  # other inputs of the table
    error: str | None = None


def _model_source(name: str, table: Any, origin: str) -> ModelSource:
    """Validate one model table; an invalid table becomes a source carrying its error."""
    try:
        target = _table_target(table, "models")
        signal = table.get("signal", True)
        variance = table.get("variance")
        from initcheck.models.rules import is_auto

        if variance is not None and not is_auto(variance):
            from initcheck.targets import resolve_target

            try:
                resolve_target(variance)
            except (TypeError, ValueError) as exc:
                raise GateConfigError(f'{exc} Or "auto": from each layer\'s activation.') from None
        inputs = validate("inputs", table.get("inputs"))
        accept = validate("accept", table.get("accept", []))
        overrides, others = _overrides(table, MODEL_KEYS)
        return ModelSource(
            name=name,
            target=target.strip(),
            origin=origin,
            variance=variance,
            signal=signal,
            inputs=inputs,
            accept=tuple(accept),
            overrides=overrides,
            extras=others,
        )
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
    if key in _settings_fields() | {"max_examples", "summary"}:  # initcheck_* ini keys
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
            make(str(name), table, f"{path.name} [tool.initcheck.{kind}.{name}]")
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
        sources.append(
            GateSource(
                name=spec, target=spec, origin=f"--initcheck {spec}", variance=options.variance
            )
        )
    return sources
