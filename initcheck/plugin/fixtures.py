"""The plugin's fixtures and marker: ``initcheck`` (a :class:`Checker` bound to the
session's :class:`~initcheck.plugin.options.SessionOptions` and the test's
``@pytest.mark.initcheck(...)``) and the session-scoped ``mnist``.

Standard library and pytest only at import; the checks load when a method runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from initcheck.inputs import InputError, names_for, unknown_keys, validate
from initcheck.plugin.options import session_options
from initcheck.settings import Settings, settings_in_force

if TYPE_CHECKING:
    from initcheck.results import CheckResult, Report
    from initcheck.settings import Settings

#: Keyword arguments of ``@pytest.mark.initcheck`` that are not :class:`Settings` fields
#: (the table's declarations taken by the marker, at import).
MARKER_EXTRAS = names_for("marker", "declaration")
MARKER_DOC = (
    "initcheck(**settings): settings of initcheck's checks in this test (alpha, "
    f"std_tolerance, seed, batches, ... and {', '.join(MARKER_EXTRAS)}), used by the "
    "`initcheck` fixture. Example: @pytest.mark.initcheck(alpha=1e-3, variance='he')"
)


def _settings_fields() -> set[str]:
    from dataclasses import fields

    return {f.name for f in fields(Settings)}


def _extras() -> set[str]:
    """The marker's keywords that are not :class:`Settings` fields (looked up per call)."""
    return set(names_for("marker")) - _settings_fields()


def marker_options(node: pytest.Item) -> dict[str, Any]:
    """The merged kwargs of the ``initcheck`` markers on ``node`` (closest wins), validated.

    Args:
        node: the test item.

    Returns:
        The keyword arguments, the closest marker's winning.

    Raises:
        pytest.fail.Exception: positional args or an unknown keyword (names the valid ones).
    """
    valid = names_for("marker")
    merged: dict[str, Any] = {}
    for marker in reversed(list(node.iter_markers("initcheck"))):
        if marker.args:
            pytest.fail(
                f"@pytest.mark.initcheck takes keyword arguments only. Received: args="
                f"{marker.args!r}",
                pytrace=False,
            )
        error = unknown_keys(marker.kwargs, valid)
        if error is not None:
            pytest.fail(f"@pytest.mark.initcheck: {error}", pytrace=False)
        merged.update(marker.kwargs)
    return merged


def _bound(node: pytest.Item) -> tuple[Settings, dict[str, Any]]:
    """The session's settings with the marker's settings applied, and the marker's extras."""
    options = session_options(node.config)
    kwargs = marker_options(node)
    extras = {k: kwargs.pop(k) for k in list(kwargs) if k in _extras()}
    try:
        for key, value in extras.items():
            validate(key, value)
        settings = options.settings.updated(**kwargs)
    except (TypeError, ValueError, InputError) as exc:
        pytest.fail(f"@pytest.mark.initcheck: {exc}", pytrace=False)
    return settings, extras


@contextmanager
def settings_for_test(item: pytest.Item) -> Iterator[None]:
    """Inside the block, a call of the library without ``settings=`` (``initcheck.check``,
    ``initcheck.audit``, every module-level ``assert_*``) uses the test's settings: the
    session's with its marker applied (the session's alone if the marker is invalid:
    its setup fails saying why)."""

    try:
        settings = _bound(item)[0]
    except pytest.fail.Exception:
        settings = session_options(item.config).settings
    with settings_in_force(settings):
        yield


def validate_marker(item: pytest.Item) -> None:
    """Fail the test's setup when its ``initcheck`` marker is invalid.

    Args:
        item: the test item about to run.
    """
    if item.get_closest_marker("initcheck") is not None:
        _bound(item)


class Checker:
    """``initcheck``'s checks bound to the session's settings and the test's marker.

    Every method forwards to the library function of the same name with the bound
    settings (``alpha``, tolerances, ``seed``, ``timeout``, ``batches``, ``mnist``) and
    defaults (``variance``, ``layout``, ``shapes``); keyword arguments of the call win.
    """

    def __init__(self, settings: Settings, defaults: dict[str, Any]):
        self.settings = settings
        self.defaults = dict(defaults)

    def __repr__(self) -> str:
        return f"Checker(settings={self.settings!r}, defaults={self.defaults!r})"

    @property
    def batches(self) -> int | None:
        """Training batches of the MNIST check (``settings.batches``)."""
        return self.settings.batches

    def _settings(self, kwargs: dict[str, Any]) -> Settings:
        """The bound settings, updated by the call's own (``settings=`` and fields)."""
        names = _settings_fields()
        fields = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
        return (kwargs.pop("settings", None) or self.settings).updated(**fields)

    def check(self, init: Any, **kwargs: Any) -> Report:
        """:func:`initcheck.check` with the bound settings."""
        __tracebackhide__ = True
        from initcheck.api import check

        for key in MARKER_EXTRAS:
            if key in self.defaults:
                kwargs.setdefault(key, self.defaults[key])
        return check(init, settings=self._settings(kwargs), **kwargs)

    def assert_breaks_symmetry(self, init: Any, shape: Any = None, **kwargs: Any) -> CheckResult:
        """:func:`initcheck.assert_breaks_symmetry` with the bound settings."""
        __tracebackhide__ = True
        from initcheck.assertions import assert_breaks_symmetry

        return assert_breaks_symmetry(init, self._shape(shape), **self._call(kwargs))

    def assert_zero_centered(self, init: Any, shape: Any = None, **kwargs: Any) -> CheckResult:
        """:func:`initcheck.assert_zero_centered` with the bound settings."""
        __tracebackhide__ = True
        from initcheck.assertions import assert_zero_centered

        if "variance" in self.defaults:
            kwargs.setdefault("variance", self.defaults["variance"])
        return assert_zero_centered(init, self._shape(shape), **self._call(kwargs))

    def assert_variance(
        self, init: Any, target: Any = None, shape: Any = None, **kwargs: Any
    ) -> CheckResult:
        """:func:`initcheck.assert_variance` (``target`` defaults to the marker's
        ``variance``)."""
        __tracebackhide__ = True
        from initcheck.assertions import assert_variance

        target = self.defaults.get("variance") if target is None else target
        if target is None:
            raise TypeError(
                "assert_variance needs a target: pass one (e.g. 'he') or set "
                "@pytest.mark.initcheck(variance=...). Received: target=None"
            )
        return assert_variance(init, target, self._shape(shape), **self._call(kwargs))

    def assert_variance_scaling(self, init: Any, target: Any = None, **kwargs: Any) -> CheckResult:
        """:func:`initcheck.assert_variance_scaling` with the bound settings."""
        __tracebackhide__ = True
        from initcheck.assertions import assert_variance_scaling

        target = self.defaults.get("variance") if target is None else target
        if "shapes" in self.defaults:
            kwargs.setdefault("shapes", self.defaults["shapes"])
        return assert_variance_scaling(init, target, **self._call(kwargs))

    def assert_loss_decreases(self, init: Any, **kwargs: Any) -> CheckResult:
        """:func:`initcheck.assert_loss_decreases` with the bound batches, seed and MNIST."""
        __tracebackhide__ = True
        from initcheck.assertions import assert_loss_decreases

        if self.settings.batches is not None:
            kwargs.setdefault("batches", self.settings.batches)
        kwargs.setdefault("seed", self.settings.seed)
        if self.settings.mnist is not None and "data" not in kwargs:
            from initcheck.mnist import load_mnist

            kwargs["data"] = load_mnist(self.settings.mnist)
        return assert_loss_decreases(init, **kwargs)

    def _shape(self, shape: Any) -> Any:
        return self.defaults.get("shapes") if shape is None else shape

    def _call(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if "layout" in self.defaults:
            kwargs.setdefault("layout", self.defaults["layout"])
        kwargs["settings"] = self._settings(kwargs)
        return kwargs


@pytest.fixture
def initcheck(request: pytest.FixtureRequest) -> Checker:
    """A checker bound to the session's initcheck settings (``--initcheck-*`` options,
    ``initcheck_*`` ini keys) and this test's ``@pytest.mark.initcheck(...)`` kwargs.
    Example: ``initcheck.assert_variance(my_he, "he", shape=(784, 256))`` (more: -v).

    Methods: ``check``, ``assert_breaks_symmetry``, ``assert_zero_centered``,
    ``assert_variance``, ``assert_variance_scaling``, ``assert_loss_decreases``; each
    result appears in the terminal summary, ``--initcheck-json`` and the HTML report.

    .. code-block:: python

        @pytest.mark.initcheck(variance="he", alpha=1e-3)
        def test_my_he(initcheck):
            initcheck.assert_variance(my_he, shape=(784, 256))
            initcheck.assert_variance_scaling(my_he, shapes=[(3, 5), (256, 128)])
            assert initcheck.check(my_he).passed
    """
    if isinstance(request.node, pytest.Item):
        settings, extras = _bound(request.node)
    else:
        settings, extras = session_options(request.config).settings, {}
    return Checker(settings, extras)


@pytest.fixture(scope="session")
def mnist(pytestconfig: pytest.Config) -> Any:
    """The MNIST dataset (``initcheck.mnist.load_mnist``), loaded once per session (per
    xdist worker) from ``--initcheck-mnist PATH`` / ``initcheck_mnist`` /
    ``$INITCHECK_MNIST``, else the bundled subset. Example:
    ``def test_data(mnist): assert mnist.x_train.shape[1:] == (784,)``.
    """
    from initcheck.mnist import load_mnist

    return load_mnist(session_options(pytestconfig).settings.mnist)
