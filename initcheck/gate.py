"""The zero-code CI gate: initializers named in ``pyproject.toml`` (or ``--initcheck SPEC``)
become pytest items ``initcheck::NAME::PROPERTY``.

.. code-block:: toml

    [tool.initcheck.initializers.my_he]
    target = "mypkg.inits:my_he"   # a Keras name, module:attr or path/file.py:attr
    variance = "he"                # lecun | glorot | he | a number (enables variance, scaling)
    layout = "keras"               # or "torch"
    train = true                   # also the MNIST early-training check
    shapes = [[784, 256], [3, 3, 16, 32]]   # optional shapes always included
    alpha = 1e-4                   # optional Settings overrides

Properties, as :func:`initcheck.check` would run them: ``symmetry``, ``centering``,
``seeds``, ``tails`` and ``degeneracy`` always; ``variance`` and ``scaling`` with a
``variance`` target; ``distribution`` with ``family = "normal" | "truncated_normal" |
"uniform"``; ``propagation`` with ``nonlinearity = "relu" | "tanh" | "linear"``;
``training`` with ``train = true``. ``deterministic = true`` declares an initializer that
is deterministic by design (identity, ZerO) for the seeds check.

How an item decides, fast and with a stated error rate:

1. Hypothesis draws ``max_examples`` kernel shapes (derandomized, so every xdist worker and
   every run sees the same ones; ``--hypothesis-seed`` picks others).
2. One pooled :func:`~initcheck.api.run_checks` over those shapes decides all statistical
   properties of the initializer at once (one decision per property at ``alpha``); the
   items of one initializer share it (per process).
3. Only when a property fails does Hypothesis search single shapes for that property and
   shrink to the smallest failing one (at most ``2 * max_examples`` evaluations), which the
   failure then shows. A passing property never pays for the search.

This module is imported by the plugin at collection; it imports numpy/Hypothesis only
when an item runs.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - pytest depends on tomli before 3.11
    import tomli as tomllib

if TYPE_CHECKING:
    from initcheck.plugin import _State
    from initcheck.results import CheckResult

from initcheck import registry

__all__ = ["GateSource", "collect_gate", "gate_sources", "read_pyproject"]

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


def gate_sources(config: pytest.Config) -> list[GateSource]:
    """Initializers to gate: pyproject tables (see :func:`_wants_pyproject`), then
    ``--initcheck SPEC`` options (with ``--initcheck-variance``)."""
    sources = []
    if _wants_pyproject(config):
        sources.extend(read_pyproject(config.rootpath / "pyproject.toml"))
    variance = config.getoption("initcheck_variance", None)
    if variance is not None:
        with contextlib.suppress(ValueError):
            variance = float(variance)
    for spec in config.getoption("initcheck_specs", None) or []:
        sources.append(
            GateSource(name=spec, target=spec, origin=f"--initcheck {spec}", variance=variance)
        )
    return sources


# ----------------------------------------------------------------- collection


class GateRoot(pytest.Collector):
    """``initcheck``: the collector of all gated initializers."""

    def __init__(self, *, sources: list[GateSource], state: _State, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sources = sources
        self.state = state

    def collect(self) -> list[pytest.Collector]:
        return [
            InitializerCollector.from_parent(self, name=source.name, source=source)
            for source in self.sources
        ]


class InitializerCollector(pytest.Collector):
    """``initcheck::NAME``: loads the target (a clear collection error if it cannot)."""

    def __init__(self, *, source: GateSource, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self._engine: Engine | None = None

    def collect(self) -> list[pytest.Item]:
        from initcheck.specs import SpecError, load_spec

        if self.source.error:
            raise GateCollectError(
                f"initcheck: initializer {self.source.name!r}: {self.source.error}"
            )
        try:
            obj = load_spec(self.source.target, root=self.config.rootpath)
        except SpecError as exc:
            raise GateCollectError(
                f"initcheck: cannot load initializer {self.source.name!r} "
                f"({self.source.origin}): {exc}"
            ) from None
        self.obj = obj
        return [GateItem.from_parent(self, name=prop, prop=prop) for prop in self.source.properties]

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, GateCollectError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            state = self.parent.state  # type: ignore[attr-defined]
            self._engine = Engine(self.source, self.obj, state, self.config)
        return self._engine


class GateCollectError(Exception):
    """A gated initializer cannot be collected (bad table or unloadable target)."""


class GateItem(pytest.Item):
    """``initcheck::NAME::PROPERTY``: one property of one initializer."""

    def __init__(self, *, prop: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prop = prop

    def runtest(self) -> None:
        from initcheck import recording
        from initcheck.errors import InitCheckFailure

        engine = self.parent.engine  # type: ignore[attr-defined]
        result = engine.result(self.prop)
        if result is None:
            pytest.skip(engine.skip_reason(self.prop))
        recording.publish(result)
        if not result.passed:
            raise InitCheckFailure([result])

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        from initcheck.errors import InitCheckFailure

        if isinstance(excinfo.value, InitCheckFailure):
            return self._repr_failure_py(excinfo, style="value")
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        source = self.parent.source  # type: ignore[attr-defined]
        return self.path, None, f"initcheck {source.name} {self.prop} ({source.origin})"


def collect_gate(session: pytest.Session, sources: list[GateSource], state: _State) -> list[Any]:
    """Collect the gate's items through pytest's own machinery (so collection errors,
    ``--collect-only`` and the item count behave like any other collector's)."""
    root = GateRoot.from_parent(
        session,
        name="initcheck",
        nodeid="initcheck",
        path=session.config.rootpath,
        sources=sources,
        state=state,
    )
    return list(session.genitems(root))


# ----------------------------------------------------------------- deciding


class Engine:
    """The checks of one initializer, shared by its items (per process)."""

    def __init__(self, source: GateSource, obj: Any, state: _State, config: pytest.Config):
        self.source = source
        self.obj = obj
        self.config = config
        self.settings = state.settings.of(state.settings, **dict(source.overrides))
        self.max_examples = state.max_examples
        self._pooled: dict[str, CheckResult] | None = None
        self._shapes: tuple[tuple[int, ...], ...] | None = None
        self._initializer: Any = None
        self._skip: dict[str, str] = {}

    def skip_reason(self, prop: str) -> str:
        return self._skip.get(prop, f"{prop} not applicable")

    # -- plumbing

    @property
    def initializer(self) -> Any:
        if self._initializer is None:
            from initcheck.initializers import resolve

            try:
                self._initializer = resolve(
                    self.obj, name=self.source.name, timeout=self.settings.timeout
                )
            except (TypeError, ValueError) as exc:
                pytest.fail(
                    f"initcheck: {self.source.target!r} ({self.source.origin}) is not a usable "
                    f"initializer: {exc}",
                    pytrace=False,
                )
        return self._initializer

    def _run(self, shapes: tuple[tuple[int, ...], ...], only: list[str]) -> list[CheckResult]:
        from initcheck.api import make_plan, run_checks

        plan = make_plan(
            shapes,
            layout=self.source.layout,
            variance=self.source.variance,
            family=self.source.family,
            nonlinearity=self.source.nonlinearity,
            deterministic=self.source.deterministic,
            train=self.source.train,
        )
        return run_checks(self.initializer, plan, self.settings, only)

    def _hypothesis_settings(self, *, max_examples: int, shrink: bool) -> Any:
        from hypothesis import HealthCheck, Phase, settings

        phases = [Phase.generate, Phase.shrink] if shrink else [Phase.generate]
        return settings(
            settings(),  # the active profile (e.g. the suite's "ci" profile)
            max_examples=max_examples,
            derandomize=self._forced_seed() is None,
            database=None,
            deadline=None,
            phases=phases,
            print_blob=False,
            suppress_health_check=[HealthCheck.too_slow],
        )

    def _forced_seed(self) -> int | None:
        seed = self.config.getoption("hypothesis_seed", None)
        if seed is None:
            return None
        return stable_seed(seed)

    def _given(self, test: Any, *, max_examples: int, shrink: bool) -> Any:
        from hypothesis import given, seed

        from initcheck.strategies import kernel_shapes

        wrapped = self._hypothesis_settings(max_examples=max_examples, shrink=shrink)(
            given(kernel_shapes(max_size=MAX_SHAPE_SIZE, layout=self.source.layout))(test)
        )
        forced = self._forced_seed()
        return seed(forced)(wrapped) if forced is not None else wrapped

    # -- shapes and pooled decision

    def shapes(self) -> tuple[tuple[int, ...], ...]:
        """The pyproject's shapes plus ``max_examples`` shapes drawn by Hypothesis."""
        if self._shapes is None:
            drawn: list[tuple[int, ...]] = []

            def draw(shape: tuple[int, ...]) -> None:
                drawn.append(tuple(shape))

            self._given(draw, max_examples=self.max_examples, shrink=False)()
            self._shapes = tuple(dict.fromkeys([*self.source.shapes, *drawn]))
        return self._shapes

    def pooled(self) -> dict[str, CheckResult]:
        if self._pooled is None:
            names = [p for p in self.source.properties if registry.check_named(p).gate != "alone"]
            self._pooled = {r.check: r for r in self._run(self.shapes(), names)}
        return self._pooled

    def result(self, prop: str) -> CheckResult | None:
        """The record of ``prop`` (``None``: skipped, see :meth:`skip_reason`)."""
        mode = registry.check_named(prop).gate
        if mode == "alone":
            results = self._run(self.shapes(), [prop])
            return results[0] if results else None
        pooled = self.pooled().get(prop)
        if pooled is None:
            self._skip[prop] = (
                f"{prop}: the drawn shapes {list(self.shapes())} do not allow this check"
            )
            return None
        if pooled.passed or mode == "once":
            return pooled
        return self._smallest_failing(prop, pooled)

    def _check_one(self, prop: str, shape: tuple[int, ...]) -> CheckResult | None:
        search_shapes = registry.check_named(prop).search_shapes
        shapes = search_shapes(shape) if search_shapes is not None else (shape,)
        results = self._run(shapes, [prop])
        return results[0] if results else None

    def _smallest_failing(self, prop: str, pooled: CheckResult) -> CheckResult:
        """Hypothesis searches single shapes for ``prop`` and shrinks a failure."""
        memo: dict[tuple[int, ...], CheckResult | None] = {}
        budget = 2 * self.max_examples

        class Found(Exception):
            def __init__(self, result: CheckResult) -> None:
                super().__init__(result.message)
                self.result = result

        def search(shape: tuple[int, ...]) -> None:
            shape = tuple(shape)
            if shape not in memo:
                if len(memo) >= budget:
                    return  # budget spent: unexplored shapes count as passing
                memo[shape] = self._check_one(prop, shape)
            result = memo[shape]
            if result is not None and not result.passed:
                raise Found(result)

        try:
            self._given(search, max_examples=self.max_examples, shrink=True)()
        except Found as found:
            smallest = found.result
            shape = smallest.shapes[-1] if smallest.shapes else None
            return replace(
                smallest,
                message=(
                    f"{smallest.message} [smallest failing shape found by Hypothesis: "
                    f"{shape}; pooled over {len(pooled.shapes)} shapes: "
                    f"{'passed' if pooled.passed else 'failed'}]"
                ),
                details={
                    **dict(smallest.details),
                    "smallest_failing_shape": list(shape) if shape else None,
                    "pooled": pooled.to_dict(),
                    "evaluated_shapes": [list(s) for s in memo],
                },
            )
        except Exception as exc:  # an ExceptionGroup of several failures, etc.
            found = _first_found(exc, Found)
            if found is not None:
                return found.result  # type: ignore[no-any-return]
            raise
        return replace(
            pooled,
            details={
                **dict(pooled.details),
                "search": f"no single failing shape among {len(memo)} shapes searched",
            },
        )


def stable_seed(text: Any) -> int:
    """``--hypothesis-seed`` as an int: integers as given, other text by a stable hash
    (never the process-salted ``hash()``, so every xdist worker and rerun agree)."""
    try:
        return int(text)
    except ValueError:
        import hashlib

        return int.from_bytes(hashlib.sha256(str(text).encode()).digest()[:8], "big")


def _first_found(exc: BaseException, kind: type) -> Any:
    if isinstance(exc, kind):
        return exc
    for sub in getattr(exc, "exceptions", ()):
        found = _first_found(sub, kind)
        if found is not None:
            return found
    return None
