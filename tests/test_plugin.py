"""Self-tests of initcheck's pytest plugin (``pytester``), each feature with and without
``-n 2`` (the syrupy pattern: the ``plugin_args`` fixture).

The test projects use fast numpy initializers; TensorFlow is never imported here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# In-process pytester runs restore sys.modules afterwards; C extensions (numpy) cannot be
# imported twice per process, so everything the inner runs need is imported here first.
# (TensorFlow is not among them: no test here trains.)
import initcheck.api
import initcheck.assertions
import initcheck.gate
import initcheck.mnist
import initcheck.strategies  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]

INITS = """
import math
import numpy as np


def sound_he(shape, dtype=None, seed=None):
    fan_in = math.prod(shape[:-1])
    return np.random.default_rng(seed).normal(0.0, math.sqrt(2.0 / fan_in), shape)


def broken_he(shape, dtype=None, seed=None):
    fan_out = shape[-1] * math.prod(shape[:-2])
    return np.random.default_rng(seed).normal(0.0, math.sqrt(2.0 / fan_out), shape)


def fixed_std(shape, dtype=None, seed=None):
    return np.random.default_rng(seed).normal(0.0, 0.05, shape)
"""

PYPROJECT = """
[tool.pytest.ini_options]
pythonpath = ["."]
initcheck_max_examples = "4"
{extra_ini}
{tables}
"""


def table(name: str, target: str, variance: str | None = "he", **extra: object) -> str:
    lines = [f"[tool.initcheck.initializers.{name}]", f'target = "{target}"']
    if variance is not None:
        lines.append(f'variance = "{variance}"')
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def make_project(pytester: pytest.Pytester, *tables: str, extra_ini: str = "") -> None:
    pytester.makepyfile(myinits=INITS)
    pytester.makefile(
        ".toml", pyproject=PYPROJECT.format(extra_ini=extra_ini, tables="\n".join(tables))
    )


# ----------------------------------------------------------------- registration


def test_import_is_light() -> None:
    """Loading the plugin imports no numpy, scipy, TensorFlow, Keras, matplotlib."""
    code = (
        "import sys, time; import pytest; t = time.perf_counter(); import initcheck.plugin; "
        "dt = time.perf_counter() - t; "
        "heavy = [m for m in ('numpy', 'scipy', 'tensorflow', 'keras', 'matplotlib', "
        "'hypothesis') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_entry_point_loads_plugin(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--trace-config", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*initcheck.plugin*"])


def test_disabled_with_no_initcheck(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_uses(initcheck):\n    pass\n")
    result = pytester.runpytest("-p", "no:initcheck", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'initcheck' not found*"])
    usage = pytester.runpytest("-p", "no:initcheck", "--initcheck-json", "x.json")
    assert usage.ret == pytest.ExitCode.USAGE_ERROR


def test_help_lists_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "initcheck: weight-initializer checks:",
            "*--initcheck-alpha=P*",
            "*--initcheck-std-tolerance=X*",
            "*--initcheck-seed=N*",
            "*--initcheck=SPEC*",
            "*--initcheck-variance=TARGET*",
            "*--initcheck-mnist=PATH*",
            "*--initcheck-batches=N*",
            "*--initcheck-json=PATH*",
            "*--initcheck-report*PATH*",
            "*initcheck_alpha (string)*",
        ]
    )


def test_marker_and_fixtures_documented(pytester: pytest.Pytester) -> None:
    markers = pytester.runpytest("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.initcheck(**settings): *"])
    fixtures = pytester.runpytest("--fixtures")
    fixtures.stdout.fnmatch_lines(
        [
            "initcheck -- *",
            "*checker bound to the session*",
            "*Example: ``initcheck.assert_variance(*",
            "mnist [[]session scope[]] -- *",
            "*Example:*",
        ]
    )
    verbose = pytester.runpytest("--fixtures", "-v")
    verbose.stdout.fnmatch_lines(["*@pytest.mark.initcheck(variance=*"])


# ----------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--initcheck-alpha", "2"],
            "*--initcheck-alpha: `alpha` must be a number strictly between*alpha=2",
        ),
        (["--initcheck-alpha", "abc"], "*--initcheck-alpha: `alpha` must be a number*alpha='abc'"),
        (
            ["--initcheck-batches", "0"],
            "*--initcheck-batches: `batches` must be a positive integer*=0",
        ),
        (
            ["--initcheck-seed", "-3"],
            "*--initcheck-seed: `seed` must be a non-negative integer. Received: seed=-3*",
        ),
        (
            ["--initcheck-std-detect", "0.01"],
            "*`std_detect` must be larger than `std_tolerance`*std_detect=0.01*",
        ),
        (["--initcheck-variance", "hee"], "*--initcheck-variance: Unknown variance target 'hee'*"),
    ],
)
def test_invalid_option_values(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_invalid_ini_value(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ninitcheck_alpha = often\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*initcheck_alpha = 'often'*`alpha` must be a number*"])


def test_ini_and_options_reach_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ninitcheck_alpha = 0.001\ninitcheck_seed = 7\n")
    pytester.makepyfile(
        """
        def test_settings(initcheck):
            assert initcheck.settings.alpha == 0.001
            assert initcheck.settings.seed == 11       # the option wins over the ini
            assert initcheck.settings.std_tolerance == 0.05
        """
    )
    pytester.runpytest("--initcheck-seed", "11").assert_outcomes(passed=1)


# ----------------------------------------------------------------- marker and fixture


def test_marker_kwargs_respected(
    run_plugin, pytester: pytest.Pytester, plugin_args: list[str]
) -> None:
    pytester.makepyfile(myinits=INITS)
    pytester.makepyfile(
        test_marked="""
        import pytest
        import myinits

        @pytest.mark.initcheck(alpha=0.001, seed=5, variance="he")
        def test_marked(initcheck):
            assert initcheck.settings.alpha == 0.001
            assert initcheck.settings.seed == 5
            result = initcheck.assert_variance(myinits.sound_he, shape=(64, 32))
            assert result.alpha == 0.001

        @pytest.mark.initcheck(alhpa=0.001)
        def test_typo(initcheck):
            pass
        """
    )
    result = run_plugin(plugin_args)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*unknown key(s) [[]'alhpa'[]]. Did you mean 'alpha'? Valid keys:*"]
    )


def test_assertions_work_without_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(myinits=INITS)
    pytester.makepyfile(
        """
        import initcheck
        import myinits

        def test_plain():
            initcheck.assert_variance(myinits.fixed_std, "he", (256, 128))
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*variance too small*(256, 128)*"])


def test_mnist_fixture_is_session_scoped(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        seen = []

        def test_one(mnist):
            seen.append(id(mnist))

        def test_two(mnist):
            seen.append(id(mnist))
            assert len(set(seen)) == 1
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


# ----------------------------------------------------------------- the gate


def test_gate_passes(run_plugin, pytester: pytest.Pytester, plugin_args: list[str]) -> None:
    make_project(pytester, table("sound_he", "myinits:sound_he"))
    result = run_plugin(plugin_args, "-v")
    result.assert_outcomes(passed=7)
    assert result.ret == pytest.ExitCode.OK
    assert any(
        "initcheck::sound_he::variance" in ln and "PASSED" in ln for ln in result.stdout.lines
    )


def test_gate_declared_family_and_nonlinearity_add_properties(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        table("he_relu", "myinits:sound_he", family="normal", nonlinearity="relu"),
        table("he_tanh", "myinits:sound_he", nonlinearity="tanh"),
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=8 + 8, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*initcheck::he_relu::distribution PASSED*",
            "*initcheck::he_relu::propagation PASSED*",
            "*[[]he_tanh[]] propagation FAILED: activations explode*",
        ]
    )


def test_gate_rejects_bad_declarations(pytester: pytest.Pytester) -> None:
    make_project(pytester, table("odd", "myinits:sound_he", family="gaussian"))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*`family` must be one of*Received: family='gaussian'*"])


def test_gate_fails_naming_initializer_and_defect(
    run_plugin, pytester: pytest.Pytester, plugin_args: list[str]
) -> None:
    make_project(pytester, table("broken_he", "myinits:broken_he"))
    result = run_plugin(plugin_args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=5, failed=2)
    # under xdist the failures come in completion order: match each line on its own
    for pattern in (
        "*[[]broken_he[]] variance FAILED: variance too *target Var = 2/fan_in*"
        "smallest failing shape found by Hypothesis: (*",
        "*[[]broken_he[]] scaling FAILED: scaling law broken*variance follows*fan_out*",
        "FAILED initcheck::broken_he::variance*",
    ):
        result.stdout.fnmatch_lines([pattern])
    assert "Traceback" not in result.stdout.str()


def test_gate_bad_target_is_collection_error(
    run_plugin, pytester: pytest.Pytester, plugin_args: list[str]
) -> None:
    make_project(pytester, table("ghost", "no_such_module:ghost_init"))
    result = run_plugin(plugin_args)
    # pytest interrupts on collection errors (2); xdist reports them as failures (1).
    xdist = "-n" in plugin_args
    assert result.ret == (pytest.ExitCode.TESTS_FAILED if xdist else pytest.ExitCode.INTERRUPTED)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*cannot load initializer 'ghost'*cannot import module 'no_such_module'*"]
    )


def test_gate_bad_table_is_collection_error(pytester: pytest.Pytester) -> None:
    make_project(pytester, table("typo", "myinits:sound_he", varience="he"))
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*initializer 'typo'*unknown key(s) [[]'varience'[]]*"])


def test_gate_from_command_line(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    result = pytester.runpytest(
        "--initcheck", "myinits.py:fixed_std", "--initcheck-variance", "he", "--co", "-q"
    )
    result.stdout.fnmatch_lines(
        [
            "initcheck::myinits.py:fixed_std::symmetry",
            "initcheck::myinits.py:fixed_std::centering",
            "initcheck::myinits.py:fixed_std::variance",
            "initcheck::myinits.py:fixed_std::scaling",
        ]
    )


def test_gate_only_when_whole_project_runs(pytester: pytest.Pytester) -> None:
    make_project(pytester, table("sound_he", "myinits:sound_he"))
    pytester.makepyfile(test_other="def test_ok():\n    pass\n")
    assert "initcheck::sound_he" in pytester.runpytest("--co", "-q").stdout.str()
    only_file = pytester.runpytest("--co", "-q", "test_other.py").stdout.str()
    assert "initcheck::" not in only_file


def test_gate_training_property_collected(pytester: pytest.Pytester) -> None:
    make_project(pytester, table("sound_he", "myinits:sound_he", train=True))
    result = pytester.runpytest("--co", "-q")
    result.stdout.fnmatch_lines(["initcheck::sound_he::training"])


# ----------------------------------------------------------------- results travel


USER_TEST = """
import initcheck
import myinits

def test_user_assertions():
    initcheck.assert_variance(myinits.sound_he, "he", (128, 64))
    initcheck.assert_zero_centered(myinits.sound_he, (3, 3, 8, 16))
"""


def test_json_and_summary_have_all_results(
    run_plugin, pytester: pytest.Pytester, plugin_args: list[str]
) -> None:
    make_project(pytester, table("sound_he", "myinits:sound_he"))
    pytester.makepyfile(test_user=USER_TEST)
    result = run_plugin(plugin_args, "--initcheck-json", "out/initcheck.json")
    result.assert_outcomes(passed=8)
    data = json.loads((pytester.path / "out" / "initcheck.json").read_text())["payload"]
    records = data["records"]
    assert [(r["nodeid"], r["check"]) for r in records] == [
        ("initcheck::sound_he::centering", "centering"),
        ("initcheck::sound_he::degeneracy", "degeneracy"),
        ("initcheck::sound_he::scaling", "scaling"),
        ("initcheck::sound_he::seeds", "seeds"),
        ("initcheck::sound_he::symmetry", "symmetry"),
        ("initcheck::sound_he::tails", "tails"),
        ("initcheck::sound_he::variance", "variance"),
        ("test_user.py::test_user_assertions", "variance"),
        ("test_user.py::test_user_assertions", "centering"),
    ]
    user = records[7]
    assert user["initializer"] == "sound_he"
    assert user["passed"] is True
    assert user["shapes"] == [[128, 64]]
    assert data["settings"]["alpha"] == 1e-4
    assert data["summary"] == {
        "records": 9,
        "passed": 9,
        "failed": 0,
        "inconclusive": 0,
        "expected": 0,
    }
    result.stdout.fnmatch_lines(
        [
            "*initcheck summary*",
            "initializer*property*verdict*measured*target*test",
            "sound_he*variance*passed*test_user.py::test_user_assertions",
            "9 initcheck results, 0 failed",
            "*initcheck json written to*initcheck.json*",
        ]
    )
    assert not list(pytester.path.glob("out/.initcheck.json.*"))  # atomic: no temp left


def test_failed_assertion_recorded(
    run_plugin, pytester: pytest.Pytester, plugin_args: list[str]
) -> None:
    pytester.makepyfile(myinits=INITS)
    pytester.makepyfile(
        test_fail="""
        import initcheck
        import myinits

        def test_fixed():
            initcheck.assert_variance(myinits.fixed_std, "he", (512, 256))
        """
    )
    result = run_plugin(plugin_args, "--initcheck-json", "r.json")
    result.assert_outcomes(failed=1)
    (record,) = json.loads((pytester.path / "r.json").read_text())["payload"]["records"]
    assert record["passed"] is False
    assert record["check"] == "variance"
    assert "variance too" in record["message"]
    result.stdout.fnmatch_lines(["fixed_std*variance*FAILED*", "1 initcheck results, 1 failed"])


def test_no_summary_without_results(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "initcheck summary" not in result.stdout.str()


def test_html_report_written_by_controller(
    run_plugin, pytester: pytest.Pytester, plugin_args: list[str]
) -> None:
    import jinja2  # noqa: F401 - a hard dependency (the report): imported, never skipped

    make_project(pytester)
    pytester.makepyfile(test_user=USER_TEST)
    result = run_plugin(plugin_args, "--initcheck-report=rep/initcheck.html")
    result.assert_outcomes(passed=1)
    html = (pytester.path / "rep" / "initcheck.html").read_text()
    assert "sound_he" in html
    result.stdout.fnmatch_lines(["*initcheck report written to*initcheck.html*"])


def test_pytest_html_extras(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_html")
    make_project(pytester)
    pytester.makepyfile(test_user=USER_TEST)
    result = pytester.runpytest("--html", "h.html", "--self-contained-html")
    result.assert_outcomes(passed=1)
    html = (pytester.path / "h.html").read_text()
    assert "initializer" in html
    assert "sound_he" in html
    assert "svg" in html and "figcaption" in html  # the figures ride along as inline SVG


# ----------------------------------------------------------------- the example project


def test_examples_project_fails_naming_broken_he() -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        cwd=ROOT / "examples",
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    text = out.stdout
    assert "FAILED initcheck::broken_he::variance" in text
    assert "FAILED initcheck::broken_he::scaling" in text
    assert "variance follows" in text and "fan_out" in text
    assert "sound_he" in text and "FAILED initcheck::sound_he" not in text
    assert "12 passed" in text


@pytest.mark.parametrize(
    ("mode", "present", "absent"),
    [
        # test_fixed expects its failure (pytest.raises): shown as expected, not FAILED
        ("all", ["fixed_std*expected*", "sound_he*passed*"], ["*FAILED*"]),
        ("failed", ["*0 failed, 1 expected by their tests*"], ["sound_he*", "fixed_std*"]),
        ("none", [], ["*initcheck summary*"]),
    ],
)
def test_summary_modes(
    pytester: pytest.Pytester, mode: str, present: list[str], absent: list[str]
) -> None:
    pytester.makepyfile(myinits=INITS)
    pytester.makepyfile(
        test_modes="""
        import pytest
        import initcheck
        import myinits

        def test_sound():
            initcheck.assert_variance(myinits.sound_he, "he", (64, 32))

        def test_fixed():
            with pytest.raises(AssertionError):
                initcheck.assert_variance(myinits.fixed_std, "he", (512, 256))
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", f"--initcheck-summary={mode}")
    result.assert_outcomes(passed=2)
    if present:
        result.stdout.fnmatch_lines(present)
    for pattern in absent:
        result.stdout.no_fnmatch_line(pattern)
