"""Mistakes in a user's gate configuration are one clear collection error (issue 19).

Each test builds a project as a user has it (a ``pyproject.toml``, an ``inits.py``, a
test file; no conftest, the default Hypothesis profile) and runs pytest on it in a child
process, as the user would.
"""

from __future__ import annotations

import importlib.util

import pytest

INITS = """
import numpy as np


def my_he(shape, dtype=None, seed=None):
    fan_in = int(np.prod(shape[:-1]))
    return np.random.default_rng(seed).normal(0, np.sqrt(2 / fan_in), shape).astype("float32")
"""

USER_TEST = """
def test_something():
    assert True
"""

needs_xdist = pytest.mark.skipif(
    importlib.util.find_spec("xdist") is None, reason="needs pytest-xdist"
)


@pytest.fixture
def project(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
    pytester.makepyfile(inits=INITS, test_user=USER_TEST)
    assert not list(pytester.path.rglob("conftest.py"))
    return pytester


def run(project, pyproject: str, *args: str) -> pytest.RunResult:
    project.makepyprojecttoml(pyproject)
    return project.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=600)


def text(result: pytest.RunResult) -> str:
    return "\n".join(result.outlines + result.errlines)


# ------------------------------------------------------- item 4: unknown tables


@pytest.mark.parametrize(
    ("pyproject", "node", "message"),
    [
        (
            '[tool.initcheck.initializer.ghost]\ntarget = "inits:my_he"\n',
            "tool.initcheck.initializer",
            "unknown table [[]tool.initcheck.initializer[]] in pyproject.toml; "
            "did you mean [[]tool.initcheck.initializers[]]?*",
        ),
        (
            '[tool.initcheck.model.net]\ntarget = "inits:my_he"\n',
            "tool.initcheck.model",
            "*did you mean [[]tool.initcheck.models[]]?*",
        ),
        (
            "[tool.initcheck.ghosts.x]\nalpha = 0.01\n",
            "tool.initcheck.ghosts",
            "*unknown table [[]tool.initcheck.ghosts[]]*; initcheck reads only "
            "[[]tool.initcheck.initializers.NAME[]] and [[]tool.initcheck.models.NAME[]]*",
        ),
        (
            "[tool.initcheck]\ntimeout = 5\n",
            "tool.initcheck.timeout",
            "*unknown key 'timeout' in [[]tool.initcheck[]]*"
            "[[]tool.pytest.ini_options[]] as initcheck_timeout*",
        ),
        (
            "[tool.initcheck]\ninitializers = 3\n",
            "tool.initcheck.initializers",
            "*[[]tool.initcheck.initializers[]] in pyproject.toml must be a table of tables*",
        ),
    ],
    ids=["initializer", "model", "no-close-name", "setting-key", "not-a-table"],
)
def test_an_unknown_gate_table_is_one_collection_error_naming_it(project, pyproject, node, message):
    """A misspelled ``[tool.initcheck.*]`` table used to gate nothing, silently (exit 5)."""
    result = run(project, pyproject)
    assert result.ret == pytest.ExitCode.INTERRUPTED, text(result)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"ERROR initcheck::{node}*"])
    result.stdout.fnmatch_lines([f"*initcheck: {message}"])
    assert "Traceback" not in text(result)


@needs_xdist
def test_an_unknown_gate_table_under_xdist_is_a_collection_error_not_a_crash(project):
    """Under xdist a collection error is reported (exit 1), never an INTERNALERROR."""
    result = run(project, '[tool.initcheck.initializer.ghost]\ntarget = "inits:my_he"\n', "-n", "2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, text(result)
    assert "INTERNALERROR" not in text(result)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*did you mean [[]tool.initcheck.initializers[]]?*"])


def test_known_tables_beside_each_other_collect_normally(project):
    pyproject = '[tool.initcheck.initializers.mine]\ntarget = "inits:my_he"\nvariance = "he"\n'
    result = run(project, pyproject, "--co", "-q")
    assert result.ret == pytest.ExitCode.OK, text(result)
    result.stdout.fnmatch_lines(["initcheck::mine::variance"])


# ------------------------------------------------- item 5: a bad Keras name


def cli_message(name: str, capsys) -> str:
    """What ``initcheck check NAME`` says about an unknown Keras name (after "error: ")."""
    from initcheck.cli import main

    assert main(["check", name]) == 2
    return capsys.readouterr().err.strip().split("error: ", 1)[1]


@pytest.mark.parametrize("where", ["pyproject", "option"])
def test_a_bad_keras_name_is_one_collection_error_with_the_clis_suggestions(project, capsys, where):
    """Formerly one FAILED item per property, each printing its message twice, with
    suggestions of its own; now the CLI's check and wording, before Keras is imported."""
    expected = cli_message("he_normall", capsys)
    assert "did you mean 'he_normal'" in expected
    if where == "pyproject":
        pyproject = '[tool.initcheck.initializers.typo]\ntarget = "he_normall"\nvariance = "he"\n'
        result = run(project, pyproject)
        node = "typo"
    else:
        result = run(project, "", "--initcheck", "he_normall", "--initcheck-variance", "he")
        node = "he_normall"
    output = text(result)
    assert result.ret == pytest.ExitCode.INTERRUPTED, output
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"ERROR initcheck::{node}*"])
    assert f"cannot load initializer {node!r}" in output and expected in output
    assert output.count(expected) == 1, output
    assert "During handling" not in output and "FAILED" not in output


@needs_xdist
def test_a_bad_keras_name_under_xdist_is_one_error(project, capsys):
    expected = cli_message("glorot_unifrom", capsys)
    result = run(project, '[tool.initcheck.initializers.g]\ntarget = "glorot_unifrom"\n', "-n", "2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, text(result)
    result.assert_outcomes(passed=1, errors=1)
    assert expected in text(result) and "INTERNALERROR" not in text(result)


def test_a_target_that_is_not_an_initializer_is_one_collection_error(project):
    result = run(project, '[tool.initcheck.initializers.pi]\ntarget = "math:pi"\n')
    output = text(result)
    assert result.ret == pytest.ExitCode.INTERRUPTED, output
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*'math:pi' (*) is not a usable initializer: An initializer must*"]
    )
    assert "During handling" not in output and "FAILED" not in output


def test_the_library_suggests_the_same_names(capsys):
    from initcheck.initializers import resolve
    from initcheck.keras_names import did_you_mean

    hint = did_you_mean("he_normall")
    assert hint and hint in cli_message("he_normall", capsys)
    with pytest.raises(ValueError, match="Unknown Keras initializer name") as info:
        resolve("he_normall")
    assert hint in str(info.value)
