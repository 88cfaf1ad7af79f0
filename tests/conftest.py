"""Fixtures the test modules share: running the plugin in a pytester project, with and
without pytest-xdist."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture(params=[[], ["-n", "2"]], ids=["inprocess", "xdist"])
def plugin_args(request: pytest.FixtureRequest) -> list[str]:
    """Run each feature without and with pytest-xdist (two workers)."""
    return list(request.param)


@pytest.fixture
def run_plugin(pytester: pytest.Pytester) -> Callable[..., pytest.RunResult]:
    """``run_plugin(args, *more)``: pytest on the pytester project, in-process without
    xdist (fast), in a subprocess with it (xdist spawns workers); no cache provider."""

    def run(args: list[str], *more: str) -> pytest.RunResult:
        full = [*args, "-p", "no:cacheprovider", *more]
        if "-n" in args:
            return pytester.runpytest_subprocess(*full)
        return pytester.runpytest(*full)

    return run
