"""The CI gate's pytest nodes: ``initcheck`` (:class:`GateRoot`) →
``initcheck::NAME`` (:class:`InitializerCollector`, loads the target) →
``initcheck::NAME::PROPERTY`` (:class:`GateItem`, decided by the initializer's
:class:`~initcheck.gate.engine.Engine`); models' nodes are in :mod:`initcheck.gate.models`.

Standard library and pytest only at import; the engine loads numpy/Hypothesis when an
item runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from initcheck import listeners
from initcheck._tf import quiet_stderr
from initcheck.errors import InitCheckFailure
from initcheck.gate.config import ModelSource, TableError
from initcheck.gate.engine import Engine
from initcheck.specs import SpecError, check_keras_name, load_spec

if TYPE_CHECKING:
    from initcheck.gate.config import GateSource
    from initcheck.session import SessionOptions


class GateRoot(pytest.Collector):
    """``initcheck``: the collector of all gated initializers."""

    def __init__(
        self,
        *,
        sources: list[GateSource | ModelSource | TableError],
        options: SessionOptions,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sources = sources
        self.options = options

    def collect(self) -> list[pytest.Collector]:
        from initcheck.gate.models import ModelCollector

        nodes: list[pytest.Collector] = []
        for source in self.sources:
            if isinstance(source, TableError):
                nodes.append(TableErrorCollector.from_parent(self, name=source.name, source=source))
            elif isinstance(source, ModelSource):
                nodes.append(
                    ModelCollector.from_parent(
                        self, name=source.name, source=source, options=self.options
                    )
                )
            else:
                nodes.append(
                    InitializerCollector.from_parent(self, name=source.name, source=source)
                )
        return nodes


class TableErrorCollector(pytest.Collector):
    """``initcheck::tool.initcheck.KEY``: an entry initcheck does not read (a collection
    error naming it)."""

    def __init__(self, *, source: TableError, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source

    def collect(self) -> list[pytest.Item]:
        raise GateCollectError(self.source.error)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, GateCollectError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


class InitializerCollector(pytest.Collector):
    """``initcheck::NAME``: loads the target (a clear collection error if it cannot)."""

    def __init__(self, *, source: GateSource, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self._engine: Engine | None = None

    def collect(self) -> list[pytest.Item]:

        if self.source.error:
            raise GateCollectError(
                f"initcheck: initializer {self.source.name!r}: {self.source.error}"
            )
        try:
            with quiet_stderr():  # the user's module may import TensorFlow
                obj = load_spec(self.source.target, root=self.config.rootpath)
            if isinstance(obj, str):  # the CLI's check and wording; Keras is not imported
                check_keras_name(obj)
            self.source.plan()  # a "module:attr" variance target is imported here
        except (SpecError, ValueError, TypeError) as exc:
            raise GateCollectError(
                f"initcheck: cannot load initializer {self.source.name!r} "
                f"({self.source.origin}): {exc}"
            ) from None
        if not isinstance(obj, str) or self.source["framework"]:
            # not an initializer at all, or a framework not installed: one error, not per item
            from initcheck.initializers import resolve
            from initcheck.initializers.resolve import declare

            try:
                obj = declare(obj, self.source["framework"])
                resolve(obj, name=self.source.name)
            except (TypeError, ValueError, ImportError) as exc:
                raise GateCollectError(
                    f"initcheck: {self.source.target!r} ({self.source.origin}) is not a "
                    f"usable initializer: {exc}"
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
            root = self.parent
            assert isinstance(root, GateRoot)
            options = root.options
            self._engine = Engine(self.source, self.obj, options, self.config)
        return self._engine


class GateCollectError(Exception):
    """A gated initializer cannot be collected (bad table or unloadable target)."""


class GateItem(pytest.Item):
    """``initcheck::NAME::PROPERTY``: one property of one initializer."""

    def __init__(self, *, prop: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prop = prop

    @property
    def collector(self) -> InitializerCollector:
        """The initializer this item checks a property of."""
        parent = self.parent
        assert isinstance(parent, InitializerCollector)
        return parent

    def runtest(self) -> None:

        engine = self.collector.engine
        result = engine.result(self.prop)
        if result is None:
            pytest.skip(engine.skip_reason(self.prop))
        listeners.publish(result)
        if not result.passed:
            raise InitCheckFailure([result])

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:

        if isinstance(excinfo.value, InitCheckFailure):
            return self._repr_failure_py(excinfo, style="value")
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        source = self.collector.source
        return self.path, None, f"initcheck {source.name} {self.prop} ({source.origin})"


def collect_gate(
    session: pytest.Session,
    sources: list[GateSource | ModelSource | TableError],
    options: SessionOptions,
) -> list[Any]:
    """Collect the gate's items through pytest's own machinery (so collection errors,
    ``--collect-only`` and the item count behave like any other collector's)."""
    root = GateRoot.from_parent(
        session,
        name="initcheck",
        nodeid="initcheck",
        path=session.config.rootpath,
        sources=sources,
        options=options,
    )
    return list(session.genitems(root))
