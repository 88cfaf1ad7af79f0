"""The CI gate's configuration: which initializers to gate, read from ``pyproject.toml``
(``[tool.initcheck.initializers.NAME]`` tables) and ``--initcheck SPEC`` options, each
validated into a :class:`GateSource` (an invalid table becomes a source carrying its
error, reported as a collection error of its item).

Standard library, pytest and the registry only.
"""

from __future__ import annotations

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

if TYPE_CHECKING:
    from initcheck.plugin.options import SessionOptions

__all__ = [
    "TABLE_KEYS",
    "GateConfigError",
    "GateSource",
    "gate_sources",
    "read_pyproject",
]

TABLE_KEYS = (
    "target",
    "variance",
    "layout",
    "train",
    "shapes",
    "family",
    "nonlinearity",
    "deterministic",
)
#: Cap on the weights of one explored shape (keeps a gate item well under a second).
MAX_SHAPE_SIZE = 2**16


class GateConfigError(ValueError):
    """A ``[tool.initcheck.initializers.NAME]`` table is invalid."""


@dataclass(frozen=True)
class GateSource:
    """One initializer to gate, from a pyproject table or the command line."""

    name: str
    target: str
    origin: str
    variance: Any = None
    layout: str = "keras"
    train: bool = False
    shapes: tuple[tuple[int, ...], ...] = ()
    family: str | None = None
    nonlinearity: str | None = None
    deterministic: bool = False
    overrides: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None

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


def _source(name: str, table: Any, origin: str) -> GateSource:
    """Validate one table; an invalid table becomes a source carrying its error."""
    try:
        if not isinstance(table, Mapping):
            raise GateConfigError(f"must be a table (got {table!r})")
        valid = set(TABLE_KEYS) | _settings_fields()
        unknown = sorted(set(table) - valid)
        if unknown:
            raise GateConfigError(f"unknown key(s) {unknown}; valid keys: {sorted(valid)}")
        target = table.get("target")
        if not isinstance(target, str) or not target.strip():
            raise GateConfigError(
                f'needs target = "SPEC" (a Keras name, module:attr or path/file.py:attr); '
                f"got target={target!r}"
            )
        layout = table.get("layout", "keras")
        if layout not in ("keras", "torch"):
            raise GateConfigError(f"layout must be 'keras' or 'torch'; got layout={layout!r}")
        train = table.get("train", False)
        deterministic = table.get("deterministic", False)
        for key, value in (("train", train), ("deterministic", deterministic)):
            if not isinstance(value, bool):
                raise GateConfigError(f"{key} must be true or false; got {key}={value!r}")
        family = table.get("family")
        nonlinearity = table.get("nonlinearity")
        for key, value in (("family", family), ("nonlinearity", nonlinearity)):
            choices = registry.option_choices(key)
            if value is not None and value not in choices:
                raise GateConfigError(f"{key} must be one of {choices}; got {key}={value!r}")
        variance = table.get("variance")
        if variance is not None:
            from initcheck.targets import resolve_target

            try:
                resolve_target(variance)
            except (TypeError, ValueError) as exc:
                raise GateConfigError(f"variance={variance!r}: {exc}") from None
        shapes: tuple[tuple[int, ...], ...] = ()
        if "shapes" in table:
            from initcheck.api import normalize_shapes

            try:
                shapes = normalize_shapes(table["shapes"], layout)
            except ValueError as exc:
                raise GateConfigError(str(exc)) from None
        overrides = {k: table[k] for k in table if k not in TABLE_KEYS}
        if overrides:
            from initcheck.settings import Settings

            try:
                Settings.of(**overrides)
            except (TypeError, ValueError) as exc:
                raise GateConfigError(str(exc)) from None
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
            overrides=overrides,
        )
    except GateConfigError as exc:
        return GateSource(name=name, target="", origin=origin, error=f"{origin}: {exc}")


def read_pyproject(path: Path) -> list[GateSource]:
    """The ``[tool.initcheck.initializers.*]`` tables of ``path``, in file order."""
    if not path.is_file():
        return []
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise pytest.UsageError(f"initcheck: cannot parse {path}: {exc}") from None
    tables = data.get("tool", {}).get("initcheck", {}).get("initializers", {})
    if not isinstance(tables, Mapping):
        raise pytest.UsageError(
            f"initcheck: [tool.initcheck.initializers] in {path} must be a table of tables"
        )
    return [
        _source(str(name), table, f"{path.name} [tool.initcheck.initializers.{name}]")
        for name, table in tables.items()
    ]


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


def gate_sources(config: pytest.Config, options: SessionOptions) -> list[GateSource]:
    """Initializers to gate: pyproject tables (see :func:`_wants_pyproject`), then
    ``--initcheck SPEC`` options (with ``--initcheck-variance``).

    Args:
        config: the pytest config (rootdir and the paths pytest was given).
        options: the session's options (``specs`` and ``variance``).

    Returns:
        The sources, pyproject tables first.
    """
    sources = []
    if _wants_pyproject(config):
        sources.extend(read_pyproject(config.rootpath / "pyproject.toml"))
    for spec in options.specs:
        sources.append(
            GateSource(
                name=spec, target=spec, origin=f"--initcheck {spec}", variance=options.variance
            )
        )
    return sources
