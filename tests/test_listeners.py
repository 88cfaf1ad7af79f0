import initcheck
from initcheck.listeners import publish, recording
from initcheck.results import CheckResult


def _result(name: str) -> CheckResult:
    return CheckResult(check="symmetry", initializer=name, passed=True, message="ok")


def test_nested_recorders_are_removed_by_identity():
    with recording() as outer:
        with recording() as inner:  # both empty: equal lists, distinct recorders
            pass
        publish(_result("a"))
    assert [r.initializer for r in outer] == ["a"]
    assert inner == []


def test_only_the_innermost_of_innermost_recorders_receives():
    with recording() as plain, recording(innermost=True) as outer:
        with recording(innermost=True) as inner:
            publish(_result("inner"))
        publish(_result("outer"))
    assert [r.initializer for r in inner] == ["inner"]
    assert [r.initializer for r in outer] == ["outer"]
    assert [r.initializer for r in plain] == ["inner", "outer"]


def test_assertions_publish_their_results():
    with recording() as rec:
        initcheck.assert_breaks_symmetry(
            lambda shape, dtype=None: __import__("numpy").eye(*shape), (4, 4)
        )
    assert [r.check for r in rec] == ["symmetry"]
